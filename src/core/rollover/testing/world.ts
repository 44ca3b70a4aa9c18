/**
 * A model of the world the planner acts on, for its tests (and for anyone who wants to see the
 * planner run without servers): a DNS backend (the primary) and authoritative servers that copy
 * it when told to (lagging, frozen), endpoints whose addresses present the installed pair or an
 * older one (a reload that did not take), a CA that can fail. Pure and deterministic.
 *
 * `truth` is the ground truth of the confirmation rule, kept from the servers' copies at every
 * change, independent of the planner: the property test checks the invariant against it.
 */
import { chainMatches, eeRecord } from '../records.js';
import type {
  Action,
  AddressObservation,
  CertFacts,
  KeyFacts,
  Observations,
  Rdata,
  RolloverPolicy,
} from '../types.js';

const DAY = 86_400_000;

export interface SimServer {
  name: string;
  zone: Record<string, Rdata[]>;
  /** does not copy from the primary while frozen */
  frozen: boolean;
  /**
   * owners it does not copy (their zone's transfer to it is stuck) while the rest of its copy
   * moves on: owners in different zones (an MX host in another domain) lag independently
   */
  frozenOwners?: string[];
  /** gives no answer (the planner sees null); keeps its copy */
  down: boolean;
}

export interface SimAddress {
  address: string;
  /** certificate id presented; null: the files that were there before danekeeper */
  presents: string | null;
  /** what it presented before the last change (a service restarted from old files goes back) */
  previous?: string | null;
  /** an address whose service does not reload keeps presenting what it had */
  stuck: boolean;
  unreachable: boolean;
}

export interface SimFaults {
  caFails?: boolean;
  dnsRefuses?: boolean;
  reloadFails?: boolean;
}

export type ActResult = { ok: true } | { ok: false; code: string; message: string };

export class World {
  now: number;
  primary: Record<string, Rdata[]> = {};
  backendDown = false;
  servers: SimServer[];
  addresses: Record<string, SimAddress[]>;
  keys = new Map<string, KeyFacts>();
  certs = new Map<string, CertFacts>();
  deployed: string | null = null;
  /** the issuer the CA signs with now */
  issuer: string;
  /** per owner, per record: since when every server has served it, unbroken */
  truth: Record<string, Record<Rdata, number>> = {};
  faults: SimFaults = {};
  serial = 0;
  /**
   * What each answering server served, per owner, at every change of its copy (taken just before
   * and just after each sync): a sender may hold any of these RRsets for TTL after it was served
   * (RFC 7671 §8.1). `senderCacheViolations` checks against it.
   */
  served: { at: number; owner: string; rrset: Rdata[] }[] = [];

  constructor(
    readonly policy: RolloverPolicy,
    opts: { start: number; servers: number; addressesPerOwner: number; ttl: number },
    readonly ttl = opts.ttl,
  ) {
    this.now = opts.start;
    this.issuer = policy.issuerSpkis[0] ?? 'e1'.repeat(32);
    this.servers = Array.from({ length: opts.servers }, (_, i) => ({
      name: `ns${i + 1}.example.net`,
      zone: {},
      frozen: false,
      down: false,
    }));
    this.addresses = {};
    for (const o of policy.owners) {
      this.primary[o] = [];
      this.addresses[o] = Array.from({ length: opts.addressesPerOwner }, (_, i) => ({
        address: `192.0.2.${i + 1}`,
        presents: null,
        stuck: false,
        unreachable: false,
      }));
    }
    this.updateTruth();
    this.noteServed();
  }

  /** A deep copy: the same world, to try two futures from one moment. */
  clone(): World {
    const w = Object.create(World.prototype) as World;
    Object.assign(w, structuredClone({ ...this }));
    (w as { policy: RolloverPolicy }).policy = this.policy;
    return w;
  }

  static spkiOf(id: string): string {
    let h = '';
    for (const ch of id) h += ch.charCodeAt(0).toString(16).padStart(2, '0');
    return h.padEnd(64, '0').slice(-64);
  }

  iso(): string {
    return new Date(this.now).toISOString();
  }

  /** Servers that are not frozen copy the primary (all of them, or those in `which`). */
  sync(which?: (i: number) => boolean) {
    this.noteServed();
    this.servers.forEach((s, i) => {
      if (s.frozen || (which && !which(i))) return;
      const keep = Object.fromEntries((s.frozenOwners ?? []).map((o) => [o, s.zone[o] ?? []]));
      s.zone = { ...structuredClone(this.primary), ...keep };
    });
    this.updateTruth();
    this.noteServed();
  }

  /** Records what every answering server serves now (a server that is down serves nothing). */
  noteServed() {
    const keep = this.now - this.ttl * 1000;
    this.served = this.served.filter((v) => v.at > keep);
    for (const o of this.policy.owners) {
      for (const x of this.servers) {
        if (!x.down) this.served.push({ at: this.now, owner: o, rrset: [...(x.zone[o] ?? [])] });
      }
    }
  }

  advance(ms: number) {
    this.now += ms;
  }

  updateTruth() {
    for (const o of this.policy.owners) {
      const prev = this.truth[o] ?? {};
      const next: Record<Rdata, number> = {};
      const all = new Set(this.servers.flatMap((s) => s.zone[o] ?? []));
      for (const r of all) {
        if (this.servers.every((s) => (s.zone[o] ?? []).includes(r))) next[r] = prev[r] ?? this.now;
      }
      this.truth[o] = next;
    }
  }

  present(a: SimAddress): AddressObservation {
    if (a.unreachable) return { address: a.address, error: 'connection refused' };
    if (a.presents === null) {
      return {
        address: a.address,
        leafSpki: 'ff'.repeat(32),
        leafSerial: '00',
        chainSpkis: ['ff'.repeat(32)],
      };
    }
    const c = this.certs.get(a.presents)!;
    const k = this.keys.get(c.keyId)!;
    return {
      address: a.address,
      leafSpki: k.spki,
      leafSerial: c.serial,
      chainSpkis: [k.spki, ...c.issuerSpkis],
    };
  }

  observe(random = 0.5, request: Observations['request'] = null): Observations {
    const dns: Observations['dns'] = {};
    const live: Observations['live'] = {};
    for (const o of this.policy.owners) {
      dns[o] = {
        published: this.backendDown ? null : [...(this.primary[o] ?? [])],
        ...(this.backendDown ? { readError: 'no answer from 192.0.2.53:53 (timed out)' } : {}),
        servers: this.servers.map((s) => ({
          name: s.name,
          served: s.down ? null : [...(s.zone[o] ?? [])],
          ttl: s.down || (s.zone[o] ?? []).length === 0 ? null : this.ttl,
        })),
      };
      live[o] = (this.addresses[o] ?? []).map((a) => this.present(a));
    }
    return {
      dns,
      live,
      keys: [...this.keys.values()],
      certificates: [...this.certs.values()],
      deployed: this.deployed,
      random,
      request,
    };
  }

  /** Carry out an action as the real executors would: exactly what is asked, idempotently. */
  act(a: Action): ActResult {
    switch (a.kind) {
      case 'generateKey':
        if (!this.keys.has(a.keyId)) {
          this.keys.set(a.keyId, { id: a.keyId, keyType: a.keyType, spki: World.spkiOf(a.keyId) });
        }
        return { ok: true };
      case 'publishRecords': {
        if (this.backendDown || this.faults.dnsRefuses) {
          return { ok: false, code: 'E_PUBLISH_REFUSED', message: 'The server refused the update' };
        }
        const cur = this.primary[a.owner] ?? [];
        this.primary[a.owner] = [...new Set([...cur, ...a.add])].filter(
          (r) => !a.remove.includes(r),
        );
        return { ok: true };
      }
      case 'orderCertificate': {
        if (this.faults.caFails) {
          return { ok: false, code: 'E_ACME_RATE_LIMIT', message: 'The CA refused the order' };
        }
        if (!this.certs.has(a.certId)) {
          this.serial += 1;
          this.certs.set(a.certId, {
            id: a.certId,
            keyId: a.keyId,
            notBefore: new Date(this.now).toISOString(),
            notAfter: new Date(this.now + 90 * DAY).toISOString(),
            serial: this.serial.toString(16),
            ariCertId: `aki.${this.serial}`,
            issuerSpkis: [this.issuer],
          });
        }
        return { ok: true };
      }
      case 'install':
      case 'rollback': {
        this.deployed = a.certId;
        let failed = false;
        for (const o of this.policy.owners) {
          for (const ad of this.addresses[o] ?? []) {
            if (a.kind === 'install' && (ad.stuck || this.faults.reloadFails)) failed = true;
            else if (ad.presents !== a.certId) {
              ad.previous = ad.presents;
              ad.presents = a.certId;
            }
          }
        }
        return failed
          ? { ok: false, code: 'E_DEPLOY_RELOAD', message: 'The reload command failed' }
          : { ok: true };
      }
    }
  }

  /**
   * THE invariant (DESIGN.md): every address presents a chain that matches a record served by
   * every server for at least max(interval, 2 x TTL). Returns the violations.
   */
  violations(): string[] {
    const wait = Math.max(this.policy.confirmationIntervalHours * 3_600_000, 2 * this.ttl * 1000);
    const out: string[] = [];
    for (const o of this.policy.owners) {
      for (const a of this.addresses[o] ?? []) {
        const p = this.present({ ...a, unreachable: false });
        if ('error' in p) continue;
        const ok = Object.entries(this.truth[o] ?? {}).some(([r, since]) => {
          if (this.now < since + wait) return false;
          const [u, , , data] = r.split(' ');
          return u === '3' ? data === p.leafSpki : p.chainSpkis.slice(1).includes(data!);
        });
        if (!ok) out.push(`${o} ${a.address} presents ${a.presents ?? 'pre-danekeeper files'}`);
      }
    }
    return out;
  }

  /**
   * The invariant as a sender sees it, DANE on or off: whatever an address presents must match a
   * record of every non-empty TLSA RRset some server served within the last TTL, since a sender
   * may have cached that one (RFC 7671 §8.1; RFC 7672 §3.1.1: no match, no delivery). An empty
   * RRset means no DANE for that sender (RFC 7672 §2.2). Addresses still presenting the files
   * from before danekeeper, and ones that cannot be reached, are not judged.
   */
  senderCacheViolations(): string[] {
    const out: string[] = [];
    for (const o of this.policy.owners) {
      for (const a of this.addresses[o] ?? []) {
        if (a.presents === null) continue;
        const p = this.present({ ...a, unreachable: false });
        for (const v of this.served) {
          if (v.owner !== o || v.at + this.ttl * 1000 <= this.now || v.rrset.length === 0) continue;
          if (!v.rrset.some((r) => chainMatches(p, r))) {
            out.push(
              `${o} ${a.address} presents ${a.presents}, matching none of [${v.rrset.join(', ')}] served at ${new Date(v.at).toISOString()}`,
            );
            break;
          }
        }
      }
    }
    return out;
  }

  /** Does what the address presents match a record the primary still holds? */
  matchesPrimary(owner: string, a: SimAddress): boolean {
    const p = this.present({ ...a, unreachable: false });
    return (this.primary[owner] ?? []).some((r) => chainMatches(p, r));
  }

  /** Records at the primary that are not the ones asked for. */
  staleAt(owner: string, desired: Rdata[]): Rdata[] {
    return (this.primary[owner] ?? []).filter((r) => !desired.includes(r));
  }

  eeFor(keyId: string): Rdata {
    return eeRecord(World.spkiOf(keyId));
  }
}
