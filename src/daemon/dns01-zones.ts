/**
 * ACME DNS-01 (RFC 8555 §8.4) across zones: each `_acme-challenge.NAME` value is published in
 * the zone that holds that owner (RFC 1034 §4.3.2, the closest enclosing SOA; zone-cut.ts),
 * not in one configured zone. A certificate for example.org and mail.example.org, with
 * mail.example.org delegated, needs two backends' updates and each zone's servers to serve
 * its values before the CA is told. One Dns01Solver per zone does the publishing, the wait and
 * the cleanup; this groups the names and refuses, before anything is published, a zone the
 * backend does not serve.
 */
import { DkError } from '../core/errors.js';
import type { ChallengeItem, ChallengeSolver } from '../io/acme/solver.js';
import { Dns01Solver, dns01Owner, type Dns01Options } from '../publish/acme-dns01.js';
import { absName } from '../publish/tlsa-set.js';
import type { Publisher } from '../publish/types.js';
import { findZone } from '../publish/zone-cut.js';

export interface ZonedDns01Options extends Omit<Dns01Options, 'publisher'> {
  /** the backend for a zone (absolute); null when no backend is configured */
  publisher: (zone: string) => Publisher | null;
  /**
   * The zone that holds an owner. Default: findZone through `resolver`, provably unsigned
   * answers taken (a domain may use DNS-01 without DANE; the CA reads the value by plain DNS).
   */
  zoneOf?: (owner: string) => Promise<string>;
  /** one zone's solver; default a Dns01Solver */
  solver?: (o: Dns01Options) => ChallengeSolver;
}

export class ZonedDns01Solver implements ChallengeSolver {
  readonly type = 'dns-01';
  /** the per-zone solvers prepare() started whose cleanup has not yet succeeded */
  #parts: ChallengeSolver[] = [];

  constructor(private readonly o: ZonedDns01Options) {}

  async prepare(items: ChallengeItem[]): Promise<void> {
    const { publisher, zoneOf, solver, ...rest } = this.o;
    const find =
      zoneOf ??
      ((owner: string) => findZone(owner, rest.resolver, { rrtype: 'TXT', insecureOk: true }));
    const byZone = new Map<string, ChallengeItem[]>();
    for (const it of items) {
      const zone = absName(await find(dns01Owner(it.name)));
      byZone.set(zone, [...(byZone.get(zone) ?? []), it]);
    }
    // every zone resolved to its backend before anything is published: a refusal leaves nothing
    const parts: [ChallengeSolver, ChallengeItem[]][] = [];
    for (const [zone, its] of byZone) {
      const owners = [...new Set(its.map((i) => dns01Owner(i.name)))].join(', ');
      const pub = publisher(zone);
      if (!pub) {
        throw new DkError(
          'config',
          'E_DAEMON_NO_BACKEND',
          `DNS-01 at ${owners} needs a [dns] backend for ${zone}`,
        );
      }
      if (absName(pub.zone) !== zone) {
        throw new DkError(
          'config',
          'E_DAEMON_ZONE',
          `${owners} is in the zone ${zone} (the closest enclosing SOA), but the [dns] backend serves ${absName(pub.zone)}: configure a backend for ${zone}`,
        );
      }
      const o: Dns01Options = { ...rest, publisher: pub };
      parts.push([solver ? solver(o) : new Dns01Solver(o), its]);
    }
    this.#parts.push(...parts.map(([s]) => s));
    // the zones' servers are waited on together: the slowest zone sets the pace, not the sum
    const res = await Promise.allSettled(parts.map(([s, its]) => s.prepare(its)));
    const failed = res.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async cleanup(): Promise<void> {
    const parts = this.#parts;
    const res = await Promise.allSettled(parts.map((s) => s.cleanup()));
    this.#parts = parts.filter((_, i) => res[i]!.status === 'rejected');
    const failed = res.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
