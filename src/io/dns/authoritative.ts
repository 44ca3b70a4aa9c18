/**
 * Who serves a zone: the NS RRset the zone publishes (through the resolver, with its DNSSEC
 * status) and the delegation its parent holds (asked of the parent's own servers with RD=0:
 * the referral's authority section and glue). RFC 1034 §4.2.2 wants the two to agree; when
 * they do not, resolvers use either, so every name in either is a server to check.
 */
import { isIP } from 'node:net';
import { canonicalKey, queryName, sameName } from './name.js';
import {
  queryDirect,
  recordsIn,
  rrsetIn,
  type DirectOptions,
  type DirectResult,
} from './direct.js';
import type { DnssecStatus, Resolver } from './types.js';

export type NsSource = 'ns-rrset' | 'parent' | 'both';

export interface NsAddress {
  address: string;
  /** glue: from the parent's referral; resolver: the name's own A/AAAA RRset */
  from: ('glue' | 'resolver')[];
}

export interface NsHost {
  /** presentation form without the final dot */
  name: string;
  source: NsSource;
  addresses: NsAddress[];
  /** why the host has no address (or fewer than expected), when the lookups failed */
  why?: string;
}

export interface ParentServer {
  name: string;
  address: string;
  outcome: 'referral' | 'answer' | 'lame' | 'unreachable';
  why?: string;
}

export interface Delegation {
  /** the parent zone; null for the root or when it could not be found */
  parent: string | null;
  /** NS names of the delegation (union over the parent's servers that answered) */
  ns: string[];
  /** in-bailiwick glue: NS name -> addresses */
  glue: Record<string, string[]>;
  /** every parent server asked, with what it did */
  servers: ParentServer[];
  why?: string;
}

export interface AuthoritativeServers {
  zone: string;
  nsRrset: { names: string[]; status: DnssecStatus; why?: string };
  delegation: Delegation;
  hosts: NsHost[];
  /** names in the zone's NS RRset that the parent does not delegate to */
  onlyInZone: string[];
  /** names the parent delegates to that the zone's NS RRset lacks */
  onlyInParent: string[];
}

export interface DiscoverOptions extends DirectOptions {
  /** the parent zone, when the caller knows it (saves the walk up the tree) */
  parent?: string;
  /** at most this many questions in flight at once; default 16 */
  concurrency?: number;
}

/** Runs `f` over `items` with at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  f: (t: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

function parentNames(zone: string): string[] {
  if (zone === '.') return [];
  const labels = zone.split('.');
  const out: string[] = [];
  for (let i = 1; i < labels.length; i++) out.push(labels.slice(i).join('.'));
  out.push('.');
  return out;
}

/**
 * The zone that delegates `zone`: the nearest ancestor with an NS RRset of its own (a zone cut,
 * RFC 1034 §4.2.1). Asked of the resolver, which knows the cuts it walked.
 */
export async function findParentZone(
  zone: string,
  resolver: Resolver,
  signal?: AbortSignal,
): Promise<{ parent: string | null; ns: string[]; why?: string }> {
  for (const cand of parentNames(zone)) {
    const r = await resolver.lookup(cand, 'NS', signal ? { signal } : {});
    if (r.status === 'indeterminate') {
      return { parent: null, ns: [], why: `the NS lookup of ${cand} failed: ${r.why ?? r.rcode}` };
    }
    if (r.records.length > 0 && r.cnameChain.length === 0) return { parent: cand, ns: r.records };
  }
  return { parent: null, ns: [], why: `no ancestor of ${zone} has an NS RRset` };
}

/** A and AAAA of `name` through the resolver (any status: the addresses are only dialled). */
export async function resolveAddresses(
  name: string,
  resolver: Resolver,
  signal?: AbortSignal,
): Promise<{ addresses: string[]; why?: string }> {
  const opts = signal ? { signal } : {};
  const [a, aaaa] = await Promise.all([
    resolver.lookup(name, 'A', opts),
    resolver.lookup(name, 'AAAA', opts),
  ]);
  const addresses = [...a.records, ...aaaa.records];
  if (addresses.length > 0) return { addresses };
  const fails = [a, aaaa].filter((r) => r.status === 'indeterminate' || r.status === 'bogus');
  return {
    addresses,
    why:
      fails.length > 0
        ? `the address lookups of ${name} failed: ${fails.map((f) => f.why ?? f.status).join('; ')}`
        : `${name} has no A or AAAA record`,
  };
}

/**
 * Asks every server of the parent zone, RD=0, for `zone`/NS and reads the delegation: a
 * referral (RFC 1034 §4.3.2 step 3.b: NS in the authority section, glue in the additional) or,
 * where the parent's server also serves the child, the child's own authoritative NS RRset.
 */
export async function findDelegation(
  zone: string,
  resolver: Resolver,
  o: DiscoverOptions = {},
): Promise<Delegation> {
  const z = queryName(zone);
  if (z === '.')
    return { parent: null, ns: [], glue: {}, servers: [], why: 'the root has no parent' };
  const p = o.parent
    ? {
        parent: queryName(o.parent),
        ns: (await resolver.lookup(o.parent, 'NS', o.signal ? { signal: o.signal } : {})).records,
      }
    : await findParentZone(z, resolver, o.signal);
  if (p.parent === null)
    return { parent: null, ns: [], glue: {}, servers: [], ...(p.why ? { why: p.why } : {}) };
  const limit = o.concurrency ?? 16;
  const hosts = await mapLimit(p.ns, limit, async (n) => ({
    name: n,
    ...(await resolveAddresses(n, resolver, o.signal)),
  }));
  const targets = hosts.flatMap((h) => h.addresses.map((address) => ({ name: h.name, address })));
  const answers = await mapLimit(targets, limit, async (t) => ({
    ...t,
    r: await queryDirect(t.address, z, 'NS', o),
  }));
  const ns = new Map<string, string>();
  const glue = new Map<string, Set<string>>();
  const servers: ParentServer[] = [];
  for (const { name, address, r } of answers) {
    const got = readDelegation(r, z);
    servers.push({ name, address, outcome: got.outcome, ...(got.why ? { why: got.why } : {}) });
    for (const n of got.ns) if (!ns.has(canonicalKey(n))) ns.set(canonicalKey(n), n);
    for (const [n, addrs] of Object.entries(got.glue)) {
      const set = glue.get(canonicalKey(n)) ?? new Set<string>();
      for (const a of addrs) set.add(a);
      glue.set(canonicalKey(n), set);
    }
  }
  const noServer = hosts.filter((h) => h.addresses.length === 0).map((h) => h.why);
  const why = servers.every((s) => s.outcome === 'lame' || s.outcome === 'unreachable')
    ? `no server of ${p.parent} gave the delegation of ${z}` +
      (servers.length
        ? `: ${servers.map((s) => s.why).join('; ')}`
        : noServer.length
          ? `: ${noServer.join('; ')}`
          : '')
    : undefined;
  return {
    parent: p.parent,
    ns: [...ns.values()],
    glue: Object.fromEntries([...glue].map(([k, v]) => [k, [...v]])),
    servers,
    ...(why ? { why } : {}),
  };
}

function readDelegation(
  r: DirectResult,
  zone: string,
): {
  outcome: ParentServer['outcome'];
  ns: string[];
  glue: Record<string, string[]>;
  why?: string;
} {
  if (!r.message || r.outcome === 'unreachable') {
    return { outcome: 'unreachable', ns: [], glue: {}, ...(r.why ? { why: r.why } : {}) };
  }
  const m = r.message;
  let ns: string[] = [];
  let outcome: ParentServer['outcome'] = 'lame';
  if (r.outcome === 'answer') {
    // The parent's server is authoritative for the child too: its answer is the child's NS.
    ns = rrsetIn(m, 'answer', zone, 'NS').records;
    if (ns.length > 0) outcome = 'answer';
  } else if (r.rcode === 'NOERROR' && !r.authoritative) {
    ns = rrsetIn(m, 'authority', zone, 'NS').records;
    if (ns.length > 0) outcome = 'referral';
  }
  if (ns.length === 0) {
    return {
      outcome,
      ns,
      glue: {},
      why: r.why ?? `${r.server} gave no delegation for ${zone} (${r.rcode})`,
    };
  }
  // RFC 1034 §4.2.1 / RFC 9471: glue is only meaningful for NS names at or below the cut.
  const glue: Record<string, string[]> = {};
  for (const t of ['A', 'AAAA'] as const) {
    for (const g of recordsIn(m, 'additional', t)) {
      if (!ns.some((n) => sameName(n, g.owner))) continue;
      if (!inBailiwick(g.owner, zone)) continue;
      (glue[canonicalKey(g.owner)] ??= []).push(g.data);
    }
  }
  return { outcome, ns, glue };
}

function inBailiwick(name: string, zone: string): boolean {
  const n = canonicalKey(name);
  const z = canonicalKey(zone);
  return z === '.' || n === z || n.endsWith(`.${z}`);
}

/**
 * The zone's authoritative servers: the union of its NS RRset and the parent's delegation,
 * each name with its addresses (glue and the resolver's A/AAAA, also united).
 */
export async function findAuthoritativeServers(
  zone: string,
  resolver: Resolver,
  o: DiscoverOptions = {},
): Promise<AuthoritativeServers> {
  const z = queryName(zone);
  const [nsr, delegation] = await Promise.all([
    resolver.lookup(z, 'NS', o.signal ? { signal: o.signal } : {}),
    findDelegation(z, resolver, o),
  ]);
  const zoneNames = nsr.cnameChain.length === 0 ? nsr.records : [];
  const byKey = new Map<string, { name: string; inZone: boolean; inParent: boolean }>();
  for (const n of zoneNames) byKey.set(canonicalKey(n), { name: n, inZone: true, inParent: false });
  for (const n of delegation.ns) {
    const e = byKey.get(canonicalKey(n));
    if (e) e.inParent = true;
    else byKey.set(canonicalKey(n), { name: n, inZone: false, inParent: true });
  }
  const hosts = await mapLimit([...byKey.values()], o.concurrency ?? 16, async (e) => {
    const glue = delegation.glue[canonicalKey(e.name)] ?? [];
    // A name that is itself an address is a broken NS record (RFC 1035 §3.3.11 wants a name).
    const resolved = isIP(e.name)
      ? { addresses: [], why: `${e.name} is an address, not a host name` }
      : await resolveAddresses(e.name, resolver, o.signal);
    const addresses: NsAddress[] = [];
    for (const a of glue) addresses.push({ address: a, from: ['glue'] });
    for (const a of resolved.addresses) {
      const have = addresses.find((x) => x.address === a);
      if (have) have.from.push('resolver');
      else addresses.push({ address: a, from: ['resolver'] });
    }
    const source: NsSource = e.inZone && e.inParent ? 'both' : e.inZone ? 'ns-rrset' : 'parent';
    const host: NsHost = { name: e.name, source, addresses };
    if (addresses.length === 0 && resolved.why) host.why = resolved.why;
    return host;
  });
  const delegationRead = delegation.servers.some(
    (s) => s.outcome === 'referral' || s.outcome === 'answer',
  );
  return {
    zone: z,
    nsRrset: {
      names: zoneNames,
      status: nsr.status,
      ...(nsr.why ? { why: nsr.why } : {}),
    },
    delegation,
    hosts,
    // Without a delegation read from the parent (or an NS RRset from the zone) there is
    // nothing to compare with.
    onlyInZone: delegationRead
      ? hosts.filter((h) => h.source === 'ns-rrset').map((h) => h.name)
      : [],
    onlyInParent:
      zoneNames.length > 0 ? hosts.filter((h) => h.source === 'parent').map((h) => h.name) : [],
  };
}
