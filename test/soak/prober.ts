/**
 * Postfix's own DANE client as the soak's judge: `posttls-finger -l dane DOMAIN` (MX lookup,
 * TLSA lookup through the lab's validating Unbound, handshake, DANE match) every half second
 * per domain, for as long as the soak runs. Anything but Verified is a failure: the moment a
 * remote DANE MTA would have deferred mail (RFC 7672 §2.2).
 */
import { posttlsFinger } from '../lab/reference.js';
import type { Netns } from '../lab/netns.js';

export interface ProbeFailure {
  at: string;
  domain: string;
  verdict: string;
  why: string;
  output: string;
}

export interface Prober {
  readonly probes: number;
  readonly failures: ProbeFailure[];
  /** the mean duration of one posttls-finger run, ms */
  readonly meanMs: number;
  /** half-second slots skipped because `maxInFlight` probes of that domain were still running */
  readonly skipped: number;
  /** Probes `domain` from now on. */
  add(domain: string): void;
  /** Starts no more probes and waits for those in flight. */
  stop(): Promise<void>;
}

/**
 * A probe starts every `intervalMs` per domain whether or not the previous one has ended (a
 * slow handshake must not thin the sampling), with at most `maxInFlight` per domain at once.
 */
export function startProber(ns: Netns, intervalMs = 500, maxInFlight = 3): Prober {
  let probes = 0;
  let totalMs = 0;
  let skipped = 0;
  const failures: ProbeFailure[] = [];
  const inFlight = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  const one = async (domain: string) => {
    const t0 = Date.now();
    const f = await posttlsFinger(ns, domain, { timeoutS: 10 });
    probes++;
    totalMs += f.ms;
    if (f.verdict !== 'verified') {
      failures.push({
        at: new Date(t0).toISOString(),
        domain,
        verdict: f.verdict,
        why: f.why,
        output: f.output,
      });
      if (process.env.DK_SHOW)
        process.stderr.write(`soak probe FAILED ${domain} ${f.verdict}: ${f.why}\n`);
    }
  };
  return {
    get probes() {
      return probes;
    },
    get meanMs() {
      return probes ? Math.round(totalMs / probes) : 0;
    },
    get skipped() {
      return skipped;
    },
    failures,
    add(domain) {
      const mine = new Set<Promise<void>>();
      const tick = () => {
        if (mine.size >= maxInFlight) {
          skipped++;
          return;
        }
        const p = one(domain).finally(() => {
          mine.delete(p);
          inFlight.delete(p);
        });
        mine.add(p);
        inFlight.add(p);
      };
      tick();
      timers.push(setInterval(tick, intervalMs));
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.all([...inFlight]);
    },
  };
}
