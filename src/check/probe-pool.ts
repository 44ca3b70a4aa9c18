/**
 * The TLS probe as many checks in one run share it (`check --file`): hosting providers put
 * thousands of domains behind a few MX hosts, so each MX address is probed once per run and
 * the result (or the failure) handed to every domain that names it, and no address ever sees
 * more than a few connections from us at once (a receiving MTA counts them per client and
 * starts refusing, e.g. Postfix's smtpd_client_connection_count_limit).
 */
import type { ProbeOptions, ProbeResult } from '../io/probe/index.js';

export interface ProbePoolOptions {
  /** connections at once to one address; default 2 */
  perAddress?: number;
  /** aborts every probe of the run (Ctrl-C) */
  signal?: AbortSignal;
}

export interface ProbePoolStats {
  /** probes asked for */
  asked: number;
  /** connections actually made */
  connections: number;
  /** most connections open at once to any one address */
  peakPerAddress: number;
}

/** A counting semaphore: at most `limit` holders at once, the others wait in order. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  get held(): number {
    return this.active;
  }

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // the slot passes straight to the next waiter: the count stays the same
    if (next) next();
    else this.active--;
  }

  get idle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }
}

export interface ProbePool {
  probe(o: ProbeOptions): Promise<ProbeResult>;
  readonly stats: ProbePoolStats;
}

/**
 * Wraps `probe`. Two probes are the same when everything the server could answer differently
 * on is the same: address, port, STARTTLS dialogue, SNI (RFC 7672 §8.1: the TLSA base domain,
 * a server may choose its certificate by it) and the host name the messages use.
 */
export function probePool(
  probe: (o: ProbeOptions) => Promise<ProbeResult>,
  opts: ProbePoolOptions = {},
): ProbePool {
  const perAddress = Math.max(1, opts.perAddress ?? 2);
  const results = new Map<string, Promise<ProbeResult>>();
  const gates = new Map<string, Gate>();
  const stats: ProbePoolStats = { asked: 0, connections: 0, peakPerAddress: 0 };

  const run = async (o: ProbeOptions, address: string): Promise<ProbeResult> => {
    let gate = gates.get(address);
    if (!gate) {
      gate = new Gate(perAddress);
      gates.set(address, gate);
    }
    await gate.acquire();
    stats.connections++;
    stats.peakPerAddress = Math.max(stats.peakPerAddress, gate.held);
    try {
      const { signal: _caller, ...rest } = o;
      void _caller;
      return await probe(opts.signal ? { ...rest, signal: opts.signal } : rest);
    } finally {
      gate.release();
      if (gate.idle) gates.delete(address);
    }
  };

  return {
    stats,
    probe(o) {
      stats.asked++;
      const address = o.address ?? o.host;
      const key = [address, o.port, o.starttls, o.servername ?? '', o.host].join('|');
      let p = results.get(key);
      if (!p) {
        p = run(o, address);
        // a failure is kept too: the same address refuses every domain alike in one run
        p.catch(() => undefined);
        results.set(key, p);
      }
      return p;
    },
  };
}
