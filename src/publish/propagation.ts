/**
 * Has a TLSA RRset reached every authoritative server of its zone? DESIGN.md: the confirmation
 * wait of a rollover counts from the moment every authoritative nameserver, each asked directly
 * with RD=0, serves the new RRset. A resolver's answer proves nothing here (it may come from a
 * cache or from one server of several), so each address of each NS name is asked itself.
 *
 * Servers come from both the zone's NS RRset and the parent's delegation (RFC 1034 §4.2.2: the
 * two should agree, and resolvers use whichever they meet first). Secondaries pick up a change
 * when NOTIFY reaches them (RFC 1996 §3) or when their SOA REFRESH timer fires (RFC 1034
 * §4.3.5), comparing serials in RFC 1982 arithmetic: a server can lag by up to REFRESH (plus
 * RETRY on failures) and still be healthy, so `old` is a state to wait out, not an error.
 */
import { DkError } from '../core/errors.js';
import { formatRdata } from '../core/tlsa/format.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import {
  findAuthoritativeServers,
  mapLimit,
  resolveAddresses,
  type DiscoverOptions,
  type NsSource,
} from '../io/dns/authoritative.js';
import { queryDirect, rrsetIn, type DirectResult } from '../io/dns/direct.js';
import { queryName, sameName } from '../io/dns/name.js';
import type { DnssecStatus, Rcode, Resolver } from '../io/dns/types.js';

export interface PropagationOptions extends DiscoverOptions {
  /** the zone holding the owner: `example.org` */
  zone: string;
  /** the TLSA owner: `_25._tcp.mail.example.org` (final dot optional) */
  owner: string;
  /**
   * The set every server must serve ([] = no TLSA RRset). Left out: whatever the primary
   * serves — `primary` if given, else the SOA MNAME (RFC 1996 §2.1: the primary master).
   * Callers holding a Publisher pass `(await publisher.read(owner)).records`.
   */
  expected?: TlsaRecord[];
  /**
   * Where `expected` came from, for the report: `published` (what the backend holds; the
   * default) or `expect-flag` (records the user named). Ignored without `expected`.
   */
  expectedFrom?: 'published' | 'expect-flag';
  /** the primary's address, when `expected` is left out and the SOA MNAME is not it */
  primary?: string;
  /** the resolver for the NS, SOA, A and AAAA lookups (a StubResolver in real use) */
  resolver: Resolver;
  /** clock for `checkedAt`; default `new Date()` */
  now?: () => Date;
}

/**
 * in-step: serves exactly the expected set, authoritatively.
 * old: serves another set (see missing/extra).
 * unreachable: no answer (timeout, port closed, no address), see `why`.
 * lame: answers, but not as an authority for the zone (REFUSED, SERVFAIL, no AA).
 */
export type ServerState = 'in-step' | 'old' | 'unreachable' | 'lame';

export interface ServerPropagation {
  /** the NS name */
  name: string;
  /** null when the name has no address */
  address: string | null;
  /** where the NS name was found */
  source: NsSource;
  /** where the address came from */
  addressFrom: ('glue' | 'resolver')[];
  state: ServerState;
  /** the zone's SOA serial this server serves; null when it gave none */
  serial: number | null;
  /**
   * The serial is older (RFC 1982 §3.2) than the report's `serialReference`: the primary's
   * when it was read, else the newest serial any server of the zone serves. null when this
   * server or every server gave no serial.
   */
  serialBehind: boolean | null;
  /** TLSA records served, `U S M hex`; null when the server gave no authoritative answer */
  served: string[] | null;
  /** expected records it does not serve */
  missing: string[];
  /** records it serves that are not expected */
  extra: string[];
  /** TTL of the served RRset (null when empty) */
  ttl: number | null;
  rcode: Rcode | null;
  transport: 'udp' | 'tcp' | null;
  why?: string;
}

export interface PropagationFinding {
  severity: 'warning' | 'note';
  code: string;
  subject: string;
  message: string;
  fix?: string;
}

export interface PropagationReport {
  zone: string;
  owner: string;
  /** the set compared against, `U S M hex` */
  expected: string[];
  /**
   * Where `expected` came from: `published` (what the backend holds), `expect-flag` (records
   * the user named), `primary` (what the zone's primary serves).
   */
  expectedFrom: 'published' | 'expect-flag' | 'primary';
  /** the server the expected set and serial were read from (when from the primary) */
  primary: { name: string; address: string; serial: number | null } | null;
  /** the serial `serialBehind` compares against, and whose it is; null when no server gave one */
  serialReference: { serial: number; from: 'primary' | 'newest-served' } | null;
  servers: ServerPropagation[];
  /** every server (at least one) is in step: the confirmation wait may start now */
  allInStep: boolean;
  counts: Record<ServerState, number>;
  /** the largest TTL served by any server: the rollover wait is never under twice this */
  maxTtl: number | null;
  nsRrset: { names: string[]; status: DnssecStatus; why?: string };
  delegation: { parent: string | null; names: string[]; why?: string };
  /** NS names only in the zone's NS RRset / only in the parent's delegation */
  onlyInZone: string[];
  onlyInParent: string[];
  findings: PropagationFinding[];
  /** ISO 8601, when the check ran */
  checkedAt: string;
}

/** RFC 1982 §3.2: is serial a strictly older than b? */
export function serialOlder(a: number, b: number): boolean {
  const d = (b - a + 2 ** 32) % 2 ** 32;
  return d !== 0 && d < 2 ** 31;
}

/** What the primary serves: MNAME of the SOA (or `primary`), asked directly. */
async function readPrimary(
  o: PropagationOptions,
  zone: string,
  owner: string,
): Promise<{ name: string; address: string; records: TlsaRecord[]; serial: number | null }> {
  let candidates: { name: string; address: string }[];
  if (o.primary) {
    candidates = [{ name: o.primary, address: o.primary }];
  } else {
    const soa = await o.resolver.lookup(zone, 'SOA', o.signal ? { signal: o.signal } : {});
    const mname = soa.records[0]?.mname;
    if (!mname) {
      throw new DkError(
        'unavailable',
        'E_PROPAGATION_PRIMARY',
        `Cannot find the primary server of ${zone}: its SOA lookup failed (${soa.why ?? soa.rcode ?? soa.status})`,
      );
    }
    const r = await resolveAddresses(mname, o.resolver, o.signal);
    if (r.addresses.length === 0) {
      throw new DkError(
        'unavailable',
        'E_PROPAGATION_PRIMARY',
        `Cannot reach the primary server ${mname} of ${zone}: ${r.why}`,
      );
    }
    candidates = r.addresses.map((address) => ({ name: mname, address }));
  }
  const whys: string[] = [];
  for (const c of candidates) {
    const [t, s] = await Promise.all([
      queryDirect(c.address, owner, 'TLSA', o),
      queryDirect(c.address, zone, 'SOA', o),
    ]);
    if (t.outcome === 'answer' && t.message) {
      const rr = rrsetIn(t.message, 'answer', owner, 'TLSA');
      const serial =
        s.outcome === 'answer' && s.message
          ? (rrsetIn(s.message, 'answer', zone, 'SOA').records[0]?.serial ?? null)
          : null;
      return { ...c, records: rr.records, serial };
    }
    whys.push(t.why ?? `${t.server}: ${t.outcome}`);
  }
  throw new DkError(
    'unavailable',
    'E_PROPAGATION_PRIMARY',
    `Cannot read ${owner}/TLSA from the primary server of ${zone}: ${whys.join('; ')}`,
  );
}

/** `1 record`, `2 records` */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * RFC 1982 §3.2: the newest of the serials, by pairwise comparison. Serials exactly 2^31 apart
 * are not comparable; the first seen is kept then, which only makes `serialBehind` false.
 */
function newestSerial(serials: number[]): number | null {
  let best: number | null = null;
  for (const s of serials) if (best === null || serialOlder(best, s)) best = s;
  return best;
}

/**
 * Sets `serialBehind` against the primary's serial when it was read, else against the newest
 * serial any server serves: with `expected` from the caller no primary is asked, but a server
 * whose serial is older than another's has not yet transferred the zone (RFC 1996 §3, RFC 1034
 * §4.3.5) whatever the primary is.
 */
function withSerialReference(
  servers: ServerPropagation[],
  primarySerial: number | null,
): { servers: ServerPropagation[]; reference: PropagationReport['serialReference'] } {
  const newest = newestSerial(servers.flatMap((s) => (s.serial === null ? [] : [s.serial])));
  const reference =
    primarySerial !== null
      ? { serial: primarySerial, from: 'primary' as const }
      : newest !== null
        ? { serial: newest, from: 'newest-served' as const }
        : null;
  const whose = reference?.from === 'primary' ? "the primary's" : 'the newest served,';
  return {
    reference,
    servers: servers.map((s) => {
      if (s.serial === null || reference === null) return { ...s, serialBehind: null };
      const behind = serialOlder(s.serial, reference.serial);
      const why =
        behind && s.state === 'old' && s.why
          ? `${s.why}, serial ${s.serial} behind ${whose} ${reference.serial}`
          : s.why;
      return { ...s, serialBehind: behind, ...(why ? { why } : {}) };
    }),
  };
}

function compare(
  expected: TlsaRecord[],
  served: TlsaRecord[],
): { missing: string[]; extra: string[] } {
  return {
    missing: expected.filter((e) => !served.some((s) => sameRecord(e, s))).map(formatRdata),
    extra: served.filter((s) => !expected.some((e) => sameRecord(e, s))).map(formatRdata),
  };
}

function judge(
  t: DirectResult,
  s: DirectResult,
  zone: string,
  owner: string,
  expected: TlsaRecord[],
): Omit<ServerPropagation, 'name' | 'address' | 'source' | 'addressFrom'> {
  const serial =
    s.outcome === 'answer' && s.message
      ? (rrsetIn(s.message, 'answer', zone, 'SOA').records[0]?.serial ?? null)
      : null;
  const base = {
    serial,
    // decided once every server's serial is known (withSerialReference)
    serialBehind: null,
    rcode: t.rcode,
    transport: t.transport,
  };
  if (t.outcome !== 'answer' || !t.message) {
    return {
      ...base,
      state: t.outcome === 'lame' ? 'lame' : 'unreachable',
      served: null,
      missing: [],
      extra: [],
      ttl: null,
      ...(t.why ? { why: t.why } : {}),
    };
  }
  const rr = rrsetIn(t.message, 'answer', owner, 'TLSA');
  const diff = compare(expected, rr.records);
  const inStep = diff.missing.length === 0 && diff.extra.length === 0 && rr.skipped === 0;
  let why: string | undefined;
  if (!inStep) {
    const parts: string[] = [];
    if (diff.missing.length) parts.push(`${count(diff.missing.length, 'expected record')} missing`);
    if (diff.extra.length) parts.push(`${count(diff.extra.length, 'other record')} served`);
    if (rr.skipped) parts.push(count(rr.skipped, 'undecodable record'));
    why = `${t.server} serves an older TLSA RRset: ${parts.join(', ')}`;
  }
  return {
    ...base,
    state: inStep ? 'in-step' : 'old',
    served: rr.records.map(formatRdata),
    ...diff,
    ttl: rr.ttl,
    ...(why ? { why } : {}),
  };
}

/**
 * Checks every authoritative server of `zone` for the TLSA RRset at `owner`. Never throws for
 * servers that misbehave (that is what the report is for); throws DkError E_PROPAGATION_PRIMARY
 * only when `expected` is left out and the primary cannot be read, and usage errors for bad
 * names. Every question is bounded by `timeoutMs` x `tries` (+1 TCP try); up to `concurrency`
 * run at once.
 */
export async function checkPropagation(o: PropagationOptions): Promise<PropagationReport> {
  const zone = queryName(o.zone);
  const owner = queryName(o.owner);
  if (!sameName(owner, zone) && !owner.toLowerCase().endsWith(`.${zone.toLowerCase()}`)) {
    throw new DkError('usage', 'E_PROPAGATION_OWNER', `Owner ${owner} is not inside zone ${zone}`);
  }
  const [auth, primary] = await Promise.all([
    findAuthoritativeServers(zone, o.resolver, o),
    o.expected ? Promise.resolve(null) : readPrimary(o, zone, owner),
  ]);
  const expected = o.expected ?? primary!.records;
  const primarySerial = primary?.serial ?? null;

  const targets = auth.hosts.flatMap((h) =>
    h.addresses.length === 0
      ? [{ host: h, address: null as string | null, from: [] as ('glue' | 'resolver')[] }]
      : h.addresses.map((a) => ({ host: h, address: a.address as string | null, from: a.from })),
  );
  const judged: ServerPropagation[] = await mapLimit(
    targets,
    Math.max(1, (o.concurrency ?? 16) >> 1),
    async (t) => {
      const head = {
        name: t.host.name,
        address: t.address,
        source: t.host.source,
        addressFrom: t.from,
      };
      if (t.address === null) {
        return {
          ...head,
          state: 'unreachable' as const,
          serial: null,
          serialBehind: null,
          served: null,
          missing: [],
          extra: [],
          ttl: null,
          rcode: null,
          transport: null,
          why: t.host.why ?? `${t.host.name} has no address`,
        };
      }
      // The two questions of one server go out together; servers are bounded by mapLimit.
      const [tr, sr] = await Promise.all([
        queryDirect(t.address, owner, 'TLSA', o),
        queryDirect(t.address, zone, 'SOA', o),
      ]);
      return { ...head, ...judge(tr, sr, zone, owner, expected) };
    },
  );
  const { servers, reference } = withSerialReference(judged, primarySerial);

  const counts: Record<ServerState, number> = { 'in-step': 0, old: 0, unreachable: 0, lame: 0 };
  for (const s of servers) counts[s.state]++;
  const ttls = servers.map((s) => s.ttl).filter((t): t is number => t !== null);
  return {
    zone,
    owner,
    expected: expected.map(formatRdata),
    expectedFrom: o.expected ? (o.expectedFrom ?? 'published') : 'primary',
    primary: primary
      ? { name: primary.name, address: primary.address, serial: primary.serial }
      : null,
    serialReference: reference,
    servers,
    allInStep: servers.length > 0 && servers.every((s) => s.state === 'in-step'),
    counts,
    maxTtl: ttls.length ? Math.max(...ttls) : null,
    nsRrset: auth.nsRrset,
    delegation: {
      parent: auth.delegation.parent,
      names: auth.delegation.ns,
      ...(auth.delegation.why ? { why: auth.delegation.why } : {}),
    },
    onlyInZone: auth.onlyInZone,
    onlyInParent: auth.onlyInParent,
    findings: propagationFindings(auth, servers, zone, reference),
    checkedAt: (o.now ? o.now() : new Date()).toISOString(),
  };
}

function propagationFindings(
  auth: Awaited<ReturnType<typeof findAuthoritativeServers>>,
  servers: ServerPropagation[],
  zone: string,
  reference: PropagationReport['serialReference'],
): PropagationFinding[] {
  const out: PropagationFinding[] = [];
  const parent = auth.delegation.parent ?? 'the parent zone';
  if (servers.length === 0) {
    out.push({
      severity: 'warning',
      code: 'no-servers',
      subject: zone,
      message: `No authoritative server of ${zone} was found (no NS RRset, no delegation): nothing can be confirmed.`,
      fix: 'Check the zone name and its delegation at the registrar.',
    });
  }
  for (const n of auth.onlyInZone) {
    out.push({
      severity: 'warning',
      code: 'ns-only-in-zone',
      subject: n,
      message: `${n} is in the NS RRset of ${zone} but ${parent} does not delegate to it (RFC 1034 §4.2.2: the two must match).`,
      fix: `Ask the registrar to add ${n} to the delegation, or remove it from the zone's NS RRset.`,
    });
  }
  for (const n of auth.onlyInParent) {
    out.push({
      severity: 'warning',
      code: 'ns-only-in-parent',
      subject: n,
      message: `${parent} delegates ${zone} to ${n}, which is not in the zone's own NS RRset (RFC 1034 §4.2.2: the two must match).`,
      fix: `Add ${n} to the zone's NS RRset, or ask the registrar to remove it from the delegation.`,
    });
  }
  if (auth.delegation.why) {
    out.push({
      severity: 'warning',
      code: 'delegation-unknown',
      subject: zone,
      message: `The delegation of ${zone} could not be read from ${parent}: ${auth.delegation.why}.`,
    });
  }
  if (auth.nsRrset.status === 'bogus' || auth.nsRrset.status === 'indeterminate') {
    out.push({
      severity: 'warning',
      code: 'ns-rrset-' + auth.nsRrset.status,
      subject: zone,
      message: `The NS RRset of ${zone} is ${auth.nsRrset.status} at the resolver${auth.nsRrset.why ? `: ${auth.nsRrset.why}` : ''}.`,
    });
  }
  for (const h of auth.hosts) {
    const glue = h.addresses.filter((a) => a.from.includes('glue') && !a.from.includes('resolver'));
    const own = h.addresses.filter((a) => a.from.includes('resolver') && !a.from.includes('glue'));
    if (glue.length > 0 && own.length > 0) {
      out.push({
        severity: 'warning',
        code: 'glue-mismatch',
        subject: h.name,
        message: `The glue for ${h.name} at ${parent} (${glue.map((a) => a.address).join(', ')}) differs from its own address records (${own.map((a) => a.address).join(', ')}).`,
        fix: 'Update the glue at the registrar to the addresses the server really has.',
      });
    }
  }
  for (const s of servers) {
    const who = s.address ? `${s.name} (${s.address})` : s.name;
    if (s.state === 'unreachable') {
      out.push({
        severity: 'warning',
        code: 'server-unreachable',
        subject: who,
        message: `${who} did not answer: ${s.why ?? 'no answer'}. Until it does, the new records cannot be confirmed.`,
        fix: 'Check that the server runs and that port 53 (UDP and TCP) is open to it, or remove it from the NS records.',
      });
    } else if (s.state === 'lame') {
      out.push({
        severity: 'warning',
        code: 'server-lame',
        subject: who,
        message: `${who} is listed as a nameserver of ${zone} but is not authoritative for it: ${s.why ?? ''}`,
        fix: 'Configure the zone on that server (as a secondary of the primary), or remove it from the NS records.',
      });
    } else if (s.state === 'old' && s.serialBehind) {
      out.push({
        severity: 'note',
        code: 'serial-behind',
        subject: who,
        message: `${who} serves serial ${s.serial}, older than ${reference?.from === 'primary' ? "the primary's" : 'the newest any server serves,'} ${reference?.serial}: it has not transferred the zone since the change. Secondaries fetch it on NOTIFY (RFC 1996) or after the SOA refresh interval.`,
      });
    }
  }
  return out;
}

export interface ConfirmationWait {
  /** ISO 8601: when every server was seen serving the set (the check's time); the wait counts from here */
  from: string;
  /** ISO 8601: when the wait is over */
  until: string;
  /** the wait: the longer of the two below */
  seconds: number;
  /** the confirmation interval (`dane-confirmation-interval-in-hours`) */
  intervalSeconds: number;
  /** twice the largest TTL any server gave the RRset */
  twiceTtlSeconds: number;
  /** which of the two set the length */
  boundBy: 'interval' | 'ttl';
}

/**
 * DESIGN.md, the confirmation rule: a record may be relied on (a certificate with that key
 * installed) only once every authoritative server serves it and then the longer of the
 * confirmation interval and 2 x the RRset's TTL has passed: until then a resolver may still
 * hand out the old RRset from its cache (RFC 7671 §8.1, RFC 2181 §8). null when there is
 * nothing to confirm: not every server is in step, or the expected set is empty (a removal).
 */
export function confirmationWait(
  r: PropagationReport,
  intervalSeconds: number,
): ConfirmationWait | null {
  if (!r.allInStep || r.expected.length === 0 || r.maxTtl === null) return null;
  const interval = Math.ceil(intervalSeconds);
  const twiceTtl = 2 * r.maxTtl;
  const seconds = Math.max(interval, twiceTtl);
  const from = new Date(r.checkedAt);
  return {
    from: from.toISOString(),
    until: new Date(from.getTime() + seconds * 1000).toISOString(),
    seconds,
    intervalSeconds: interval,
    twiceTtlSeconds: twiceTtl,
    boundBy: interval >= twiceTtl ? 'interval' : 'ttl',
  };
}
