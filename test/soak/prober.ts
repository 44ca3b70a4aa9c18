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
  /** Probes `domain` from now on. */
  add(domain: string): void;
  /** Ends every loop after its probe in flight. */
  stop(): Promise<void>;
}

export function startProber(ns: Netns, intervalMs = 500): Prober {
  let probes = 0;
  const failures: ProbeFailure[] = [];
  const loops: Promise<void>[] = [];
  let running = true;
  const loop = async (domain: string) => {
    while (running) {
      const t0 = Date.now();
      const f = await posttlsFinger(ns, domain, { timeoutS: 10 });
      probes++;
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
      const rest = intervalMs - (Date.now() - t0);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  };
  return {
    get probes() {
      return probes;
    },
    failures,
    add(domain) {
      loops.push(loop(domain));
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}
