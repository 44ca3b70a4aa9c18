/**
 * Is a zone ready for DANE as far as DNSSEC goes? Three questions (RFC 4035 §5, RFC 6698 §4.1):
 * is it signed (each authoritative server, asked with RD=0 and DO=1, serves a DNSKEY RRset and
 * signs its SOA), does the parent hold a DS that matches one of its keys (asked of the parent's
 * own servers, and through the resolver), and does the chain validate (the resolver's AD bit on
 * the zone's SOA and DNSKEY). The rules that turn these observations into findings, fix hints
 * and the DS to give the registrar are pure (core/dnssec/readiness.ts); this module gathers.
 */
import {
  assessDnssec,
  type AlgorithmUse,
  type ChainStatus,
  type DigestUse,
  type DnssecFinding,
  type DsMatchReport,
  type ServerSoftware,
  type SignatureObservation,
} from '../core/dnssec/readiness.js';
import { algorithmName } from '../core/dnssec/algorithms.js';
import { FLAG_SEP, keyTagOf, type DnskeyData, type DsData } from '../core/dnssec/ds.js';
import { formatDnskey, formatDs, type RegistrarDs } from '../core/dnssec/present.js';
import {
  findAuthoritativeServers,
  mapLimit,
  type DiscoverOptions,
  type NsSource,
} from '../io/dns/authoritative.js';
import { queryDirect, rrsetIn, rrsigsIn } from '../io/dns/direct.js';
import { queryName } from '../io/dns/name.js';
import type { DnssecStatus, Resolver } from '../io/dns/types.js';

export interface DnssecStatusOptions extends DiscoverOptions {
  /** `example.org` */
  zone: string;
  /** a validating resolver (StubResolver on a trusted, validating server) */
  resolver: Resolver;
  /**
   * What serves the zone, to pick the fix hint for an unsigned zone: `powerdns` when the zone
   * is published through the PowerDNS backend, `bind`/`knot` when known; default unknown.
   */
  software?: ServerSoftware;
  now?: () => Date;
}

export interface ServerDnssec {
  name: string;
  /** null when the name has no address */
  address: string | null;
  source: NsSource;
  /** signed: DNSKEY RRset served and SOA signed; unsigned: answers without either */
  state: 'signed' | 'unsigned' | 'lame' | 'unreachable';
  keyTags: number[];
  soaSigned: boolean;
  dnskeySigned: boolean;
  serial: number | null;
  why?: string;
}

export interface KeyReport {
  keyTag: number;
  flags: number;
  /** ksk: SEP flag (257); zsk: zone key without SEP (256); other: anything else */
  role: 'ksk' | 'zsk' | 'other';
  algorithm: number;
  algorithmName: string;
  /** presentation form */
  dnskey: string;
}

export interface SignatureReport {
  covered: string;
  keyTag: number;
  algorithm: number;
  /** ISO 8601; the earliest over every server */
  expires: string;
  inception: string;
}

export interface DnssecReport {
  zone: string;
  parent: string | null;
  signing: 'signed' | 'unsigned' | 'partly' | 'unknown';
  keys: KeyReport[];
  algorithms: AlgorithmUse[];
  signatures: SignatureReport[];
  servers: ServerDnssec[];
  /** the DS RRset at the parent's servers (RD=0), presentation form; null: none answered */
  parentDs: string[] | null;
  /** parent servers asked for the DS, with what they did */
  parentServers: { name: string; address: string; outcome: string; why?: string }[];
  /** the DS RRset through the resolver, with its status */
  resolverDs: { records: string[]; status: DnssecStatus; why?: string };
  digests: DigestUse[];
  dsMatches: DsMatchReport[];
  chain: { status: ChainStatus; soa: DnssecStatus; dnskey: DnssecStatus; why?: string };
  /** SHA-256 DS and DNSKEY of each key-signing key: what to give the registrar */
  registrar: RegistrarDs[];
  /** signed, a DS at the parent matches a key, and the resolver validates the zone */
  ready: boolean;
  findings: DnssecFinding[];
  checkedAt: string;
}

const TYPE_NAMES: Record<number, string> = { 6: 'SOA', 48: 'DNSKEY' };

function sameKey(a: DnskeyData, b: DnskeyData): boolean {
  return (
    a.flags === b.flags &&
    a.protocol === b.protocol &&
    a.algorithm === b.algorithm &&
    a.key.equals(b.key)
  );
}

/** RFC 4035 §5 as a stub sees it: the weakest of the two answers decides. */
function chainOf(soa: DnssecStatus, dnskey: DnssecStatus): ChainStatus {
  const all = [soa, dnskey];
  if (all.includes('bogus')) return 'bogus';
  if (all.includes('indeterminate')) return 'indeterminate';
  if (all.every((s) => s === 'secure')) return 'secure';
  return 'insecure';
}

function isoOf(t: number, now: Date): string {
  // RFC 4034 §3.1.5: 32-bit times are read relative to now (serial arithmetic).
  const nowS = Math.floor(now.getTime() / 1000);
  let d = (t - nowS) % 2 ** 32;
  if (d < 0) d += 2 ** 32;
  if (d >= 2 ** 31) d -= 2 ** 32;
  return new Date((nowS + d) * 1000).toISOString();
}

/**
 * Gathers the zone's DNSSEC state and assesses it. Never throws for servers or resolvers that
 * misbehave (that is in the report); throws only usage errors (a bad zone name).
 */
export async function dnssecStatus(o: DnssecStatusOptions): Promise<DnssecReport> {
  const zone = queryName(o.zone);
  const now = o.now ? o.now() : new Date();
  const sig = o.signal ? { signal: o.signal } : {};
  const limit = o.concurrency ?? 16;

  const [auth, soaR, dnskeyR, dsR] = await Promise.all([
    findAuthoritativeServers(zone, o.resolver, o),
    o.resolver.lookup(zone, 'SOA', sig),
    o.resolver.lookup(zone, 'DNSKEY', sig),
    o.resolver.lookup(zone, 'DS', sig),
  ]);

  // The zone's own servers: DNSKEY and SOA, with their signatures.
  const targets = auth.hosts.flatMap((h) =>
    h.addresses.length === 0
      ? [{ host: h, address: null as string | null }]
      : h.addresses.map((a) => ({ host: h, address: a.address as string | null })),
  );
  const keys: DnskeyData[] = [];
  const signatures: SignatureObservation[] = [];
  const servers = await mapLimit(targets, Math.max(1, limit >> 1), async (t) => {
    const head = { name: t.host.name, address: t.address, source: t.host.source };
    const none = { keyTags: [], soaSigned: false, dnskeySigned: false, serial: null };
    if (t.address === null) {
      return {
        ...head,
        ...none,
        state: 'unreachable' as const,
        why: t.host.why ?? `${t.host.name} has no address`,
      };
    }
    const [k, s] = await Promise.all([
      queryDirect(t.address, zone, 'DNSKEY', o),
      queryDirect(t.address, zone, 'SOA', o),
    ]);
    const bad = k.outcome !== 'answer' ? k : s.outcome !== 'answer' ? s : null;
    if (bad || !k.message || !s.message) {
      return {
        ...head,
        ...none,
        state: (bad?.outcome === 'lame' ? 'lame' : 'unreachable') as 'lame' | 'unreachable',
        why: bad?.why ?? 'no answer',
      };
    }
    const served = rrsetIn(k.message, 'answer', zone, 'DNSKEY').records;
    for (const key of served) if (!keys.some((x) => sameKey(x, key))) keys.push(key);
    const label = `${t.host.name} (${t.address})`;
    const soaSigs = rrsigsIn(s.message, 'answer', zone, 'SOA');
    const keySigs = rrsigsIn(k.message, 'answer', zone, 'DNSKEY');
    for (const r of [...soaSigs, ...keySigs]) {
      signatures.push({
        server: label,
        covered: TYPE_NAMES[r.typeCovered] ?? `TYPE${r.typeCovered}`,
        algorithm: r.algorithm,
        keyTag: r.keyTag,
        inception: r.inception,
        expiration: r.expiration,
      });
    }
    const soaSigned = soaSigs.length > 0;
    return {
      ...head,
      state: (served.length > 0 && soaSigned ? 'signed' : 'unsigned') as 'signed' | 'unsigned',
      keyTags: served.map(keyTagOf),
      soaSigned,
      dnskeySigned: keySigs.length > 0,
      serial: rrsetIn(s.message, 'answer', zone, 'SOA').records[0]?.serial ?? null,
    };
  });

  // The parent's DS RRset from its own servers (RFC 4035 §3.1.4.1: a server authoritative for
  // both sides answers DS from the parent side, so any of them will do).
  const parentTargets = auth.delegation.servers.filter((s) => s.outcome !== 'unreachable');
  const parentAnswers = await mapLimit(parentTargets, limit, async (p) => ({
    p,
    r: await queryDirect(p.address, zone, 'DS', o),
  }));
  let parentDs: DsData[] | null = null;
  const parentServers = parentAnswers.map(({ p, r }) => {
    if (r.outcome === 'answer' && r.message) {
      parentDs ??= [];
      for (const d of rrsetIn(r.message, 'answer', zone, 'DS').records) {
        if (!parentDs.some((x) => x.digest.equals(d.digest) && x.keyTag === d.keyTag)) {
          parentDs.push(d);
        }
      }
    }
    return {
      name: p.name,
      address: p.address,
      outcome: r.outcome,
      ...(r.why ? { why: r.why } : {}),
    };
  });

  const chain = chainOf(soaR.status, dnskeyR.status);
  const chainWhy = [soaR, dnskeyR]
    .filter((r) => r.why)
    .map((r) => `${r.type}: ${r.why}`)
    .join('; ');
  const resolverDs = dsR.status === 'indeterminate' || dsR.status === 'bogus' ? null : dsR.records;

  const a = assessDnssec({
    zone,
    parent: auth.delegation.parent,
    keys,
    servers: servers.map((s) => ({
      server: s.address ? `${s.name} (${s.address})` : s.name,
      answered: s.state === 'signed' || s.state === 'unsigned',
      dnskeys: s.keyTags.length,
      soaSigned: s.soaSigned,
    })),
    signatures,
    parentDs,
    resolverDs,
    chain,
    ...(chainWhy ? { chainWhy } : {}),
    zoneMissing: soaR.rcode === 'NXDOMAIN',
    ...(o.software ? { software: o.software } : {}),
    now,
  });

  const sigReport: SignatureReport[] = [];
  for (const s of signatures) {
    const have = sigReport.find((x) => x.covered === s.covered && x.keyTag === s.keyTag);
    const expires = isoOf(s.expiration, now);
    if (!have) {
      sigReport.push({
        covered: s.covered,
        keyTag: s.keyTag,
        algorithm: s.algorithm,
        expires,
        inception: isoOf(s.inception, now),
      });
    } else if (expires < have.expires) {
      have.expires = expires;
    }
  }

  return {
    zone,
    parent: auth.delegation.parent,
    signing: a.signing,
    keys: keys.map((k) => ({
      keyTag: keyTagOf(k),
      flags: k.flags,
      role: (k.flags & 0x0100) === 0 ? 'other' : (k.flags & FLAG_SEP) !== 0 ? 'ksk' : 'zsk',
      algorithm: k.algorithm,
      algorithmName: algorithmName(k.algorithm),
      dnskey: formatDnskey(zone, k),
    })),
    algorithms: a.algorithms,
    signatures: sigReport,
    servers,
    parentDs: parentDs === null ? null : (parentDs as DsData[]).map((d) => formatDs(zone, d)),
    parentServers,
    resolverDs: {
      records: dsR.records.map((d) => formatDs(zone, d)),
      status: dsR.status,
      ...(dsR.why ? { why: dsR.why } : {}),
    },
    digests: a.digests,
    dsMatches: a.dsMatches,
    chain: {
      status: chain,
      soa: soaR.status,
      dnskey: dnskeyR.status,
      ...(chainWhy ? { why: chainWhy } : {}),
    },
    registrar: a.registrar,
    ready: a.ready,
    findings: a.findings,
    checkedAt: now.toISOString(),
  };
}
