/**
 * `check`: look at a mail domain (or any TLS service) the way a DANE-enabled MTA does —
 * RFC 7672 §2.2 for the DNS part, a STARTTLS probe of every address, RFC 7671/7672 §3 for the
 * match — and say what it saw at each step. The network is reached only through the Resolver
 * and the probe function handed in, so tests can swap either.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import {
  assessDelivery,
  inUseDepth,
  monitoringStatus,
  rrsetWarnings,
  worst,
  type CheckVerdict,
  type CheckWarning,
} from '../core/checks/index.js';
import { verifyDane, type DaneInput } from '../core/dane/index.js';
import { isDkError } from '../core/errors.js';
import { formatRdata, tlsaOwner, type TlsaRecord } from '../core/tlsa/index.js';
import { certFromDer, certLabel, type Cert } from '../core/x509/index.js';
import { daneGate, referenceNames } from '../io/dns/dane-gate.js';
import type { LookupResult, RecordTypes, Resolver } from '../io/dns/index.js';
import type { ProbeOptions, ProbeResult, StarttlsProto } from '../io/probe/index.js';
import type { AddressReport, ChainEntry, CheckReport, DnsEntry, HostReport } from './report.js';

export interface CheckDeps {
  resolver: Resolver;
  probe: (o: ProbeOptions) => Promise<ProbeResult>;
  now: () => Date;
  validating: { validating: boolean; summary: string };
  /** PKIX trust anchors, for usages 0/1 outside SMTP */
  trustStore?: Cert[];
  /**
   * Reads a presented certificate; default certFromDer. `check --file` hands one probe result
   * to many domains and reads each certificate once (bulk.ts, sharedCertReader).
   */
  parseCert?: (der: Buffer, label: string) => Cert;
  /**
   * Judges a presented chain against a TLSA RRset; default judgeChain. `check --file` hands
   * one probe result and one RRset to many domains and judges each combination once
   * (verify-memo.ts).
   */
  judgeChain?: (input: DaneInput) => ChainJudgement;
}

export interface CheckOptions {
  port: number;
  starttls: StarttlsProto;
  /** warn when a matched certificate expires within this many days */
  days: number;
  timeoutMs: number;
}

/**
 * One entry per lookup result: a bulk run's shared cache hands the same result (an MX host's
 * A, AAAA and TLSA answers) to thousands of domains, and each report shows it alike.
 */
const dnsEntries = new WeakMap<LookupResult<unknown>, DnsEntry>();

function dnsEntry(r: LookupResult<unknown>, fmt: (x: never) => string): DnsEntry {
  let e = dnsEntries.get(r);
  if (e === undefined) {
    e = makeDnsEntry(r, fmt);
    dnsEntries.set(r, e);
  }
  return e;
}

function makeDnsEntry(r: LookupResult<unknown>, fmt: (x: never) => string): DnsEntry {
  const e: DnsEntry = {
    name: r.name,
    type: r.type,
    status: r.status,
    rcode: r.rcode,
    ttl: r.ttl,
    // RFC 2181 §5: an RRset has no order (Unbound rotates it); sorted, two runs print the same
    records: (r.records as never[]).map(fmt).sort(),
    cnameChain: r.cnameChain,
  };
  if (r.why) e.why = r.why;
  return e;
}

const asText = (x: never) => String(x);
const mxText = (x: never) => {
  const m = x as { preference: number; exchange: string };
  return `${m.preference} ${m.exchange}`;
};
const tlsaText = (x: never) => formatRdata(x as TlsaRecord);

/** SHA-256 of each certificate's SPKI, hashed once however many reports show the certificate. */
const spkiDigests = new WeakMap<Cert, string>();
function spkiSha256(c: Cert): string {
  let d = spkiDigests.get(c);
  if (d === undefined) {
    d = createHash('sha256').update(c.spki).digest('hex');
    spkiDigests.set(c, d);
  }
  return d;
}

function chainEntries(
  chain: Cert[],
  matched: { record: string; depth: number } | null,
): ChainEntry[] {
  return chain.map((c, depth) => ({
    depth,
    subject: c.subject,
    issuer: c.issuer,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    keyType: c.keyType,
    spkiSha256: spkiSha256(c),
    match: matched && matched.depth === depth ? matched.record : null,
  }));
}

/** What a presented chain means against a TLSA RRset: the part of an address's report made from it. */
export interface ChainJudgement {
  verdict: AddressReport['verdict'];
  matched: AddressReport['matched'];
  chain: ChainEntry[];
  inUse: AddressReport['inUse'];
  reasons: string[];
}

/**
 * The DANE verdict on one presented chain (verifyDane), with the chain and the records in use
 * as the report shows them. Pure: the same input gives an equal judgement.
 */
export function judgeChain(input: DaneInput): ChainJudgement {
  const { records, chain } = input;
  const r = verifyDane(input);
  const matched = r.matched
    ? { record: formatRdata(r.matched.record), depth: r.matched.depth }
    : null;
  // A record the verifier accepted is in use even where in-use.ts would not look (a PKIX-TA
  // root from the trust store, outside SMTP).
  const inUse = records
    .flatMap((rec, i) => {
      const d = inUseDepth(rec, chain) ?? (r.records[i]!.matched ? r.records[i]!.depth : null);
      return d === null ? [] : [{ record: formatRdata(rec), depth: d }];
    })
    // by depth, then text: not the RRset's order of the moment (RFC 2181 §5)
    .sort((x, y) => x.depth - y.depth || cmp(x.record, y.record));
  return {
    verdict: r.verdict === 'no-dane' ? 'no-dane' : r.verdict,
    matched,
    chain: chainEntries(chain, matched),
    inUse,
    reasons: r.reasons,
  };
}

interface HostInput {
  name: string;
  preference: number | null;
}

/** One host's TLSA RRset, kept until every host is probed (see `rrsetFindings`). */
interface RrsetSeen {
  host: HostReport;
  records: TlsaRecord[];
  /** the owner the RRset really lives at, after CNAMEs (RFC 7672 §2.2.3) */
  canonical: string;
}

/** Where one host's (or the MX lookup's) DNS answers go: a slot per question, in asking order. */
type DnsLog = (DnsEntry | undefined)[];

class Checker {
  /**
   * The report's DNS answers in a fixed order — the MX lookup, then each host in MX preference
   * order, each host's questions in the order they are asked — not the order answers happen to
   * arrive in (hosts and A/AAAA are looked up at once), so two runs print the same list.
   */
  private readonly logs: DnsLog[] = [];
  private readonly rrsets: RrsetSeen[] = [];

  constructor(
    private readonly deps: CheckDeps,
    private readonly opts: CheckOptions,
  ) {}

  get dns(): DnsEntry[] {
    return this.logs.flat().filter((e): e is DnsEntry => e !== undefined);
  }

  /** A new log, placed after every log opened before it. */
  log(): DnsLog {
    const l: DnsLog = [];
    this.logs.push(l);
    return l;
  }

  private async look<K extends 'A' | 'AAAA' | 'MX' | 'TLSA' | 'CNAME'>(
    name: string,
    type: K,
    log: DnsLog,
  ): Promise<LookupResult<RecordTypes[K]>> {
    // the slot is taken when the question is asked, filled when the answer comes
    const slot = log.length;
    log.push(undefined);
    const r = await this.deps.resolver.lookup(name, type);
    log[slot] = dnsEntry(r, type === 'MX' ? mxText : type === 'TLSA' ? tlsaText : asText);
    return r;
  }

  /**
   * RFC 7672 §2.2.3: TLSA records at each base domain the gate gave (the expanded name, then the
   * original, for a chain secure end to end; the original only otherwise). A later base is
   * tried only when the earlier one securely has none. Returns the base domain and its answer.
   */
  private async tlsaFor(
    bases: string[],
    log: DnsLog,
  ): Promise<{ base: string; tlsa: LookupResult<TlsaRecord> }> {
    const proto = 'tcp';
    for (const [i, base] of bases.entries()) {
      const t = await this.look(tlsaOwner(base, this.opts.port, proto), 'TLSA', log);
      const last = i === bases.length - 1;
      if (last || t.status !== 'secure' || t.records.length > 0 || t.skipped > 0) {
        return { base, tlsa: t };
      }
    }
    throw new Error('tlsaFor: no base domain');
  }

  async host(h: HostInput, domain: string | null, mxSecure: boolean): Promise<HostReport> {
    // opened before the first await: hosts started in order get their logs in that order
    const log = this.log();
    const name = h.name.replace(/\.$/, '');
    const report: HostReport = {
      name,
      preference: h.preference,
      verdict: 'no-dane',
      tlsaBase: name,
      tlsa: null,
      addresses: [],
      reasons: [],
    };
    if (isIP(name)) {
      // A literal address has no DNS to secure: no DANE, but the TLS can still be shown.
      report.reasons.push('an address literal has no TLSA records (RFC 7672 §2.2)');
      report.addresses = [
        await this.address(name, isIP(name) as 4 | 6, 'insecure', undefined, null, [], report),
      ];
      report.verdict = worst(
        report.addresses.map((a) => a.verdict),
        'unreachable',
      );
      return report;
    }
    const [a, aaaa] = await Promise.all([this.look(name, 'A', log), this.look(name, 'AAAA', log)]);
    const lookups = [a, aaaa];
    // RFC 7672 §2.2.3: an insecure answer through a CNAME chain may still start with a signed
    // alias; only a CNAME lookup at the name itself tells (the AD bit covers the whole chain).
    const viaInsecureChain = lookups.some(
      (r) => r.status === 'insecure' && r.cnameChain.length > 0,
    );
    const alias =
      viaInsecureChain && lookups.every((r) => r.status === 'secure' || r.status === 'insecure')
        ? await this.look(name, 'CNAME', log)
        : undefined;
    const gate = daneGate({ addresses: lookups, ...(alias ? { alias } : {}) });
    if (gate.decision === 'dnssec-failure') {
      const bad = gate.lookup!;
      if (bad.status === 'bogus') {
        report.verdict = 'dnssec-failure';
        report.reasons.push(
          `${name}/${bad.type} is bogus (${bad.why ?? 'validation failed'}): a DANE sender will not deliver to this host (RFC 7672 §2.1.1)`,
        );
      } else {
        report.verdict = 'indeterminate';
        report.reasons.push(`${name}/${bad.type} could not be resolved: ${bad.why ?? 'no answer'}`);
      }
      return report;
    }
    const addrs: { address: string; family: 4 | 6; status: string }[] = [
      ...a.records.map((x) => ({ address: x, family: 4 as const, status: a.status })),
      ...aaaa.records.map((x) => ({ address: x, family: 6 as const, status: aaaa.status })),
    ];
    if (addrs.length === 0) {
      report.verdict = 'unreachable';
      report.reasons.push(`${name} has no A or AAAA records`);
      return report;
    }
    let records: TlsaRecord[] | null = null;
    let tlsaCanonical: string | undefined;
    if (gate.decision === 'no-dane') {
      report.reasons.push(
        `${name}'s address records are insecure: no TLSA lookup, no DANE (RFC 7672 §2.2.2)`,
      );
    } else {
      if (alias) report.reasons.push(gate.why);
      const { base, tlsa } = await this.tlsaFor(gate.bases!, log);
      report.tlsaBase = base;
      tlsaCanonical = tlsa.canonicalName;
      report.tlsa = {
        owner: tlsa.name,
        status: tlsa.status,
        ttl: tlsa.ttl,
        // RFC 2181 §5: an RRset has no order (resolvers rotate it); listed sorted, so two runs
        // print the same (the records are verified in the order they came, as before)
        records: tlsa.records.map(formatRdata).sort(),
      };
      const after = daneGate({ addresses: lookups, ...(alias ? { alias } : {}), tlsa });
      if (after.decision === 'dnssec-failure') {
        report.verdict = tlsa.status === 'bogus' ? 'dnssec-failure' : 'indeterminate';
        report.reasons.push(
          `TLSA lookup at ${tlsa.name} is ${tlsa.status} (${tlsa.why ?? tlsa.rcode ?? 'no answer'}): a DANE sender treats the host as unreachable (RFC 7672 §2.2.3)`,
        );
        return report;
      }
      if (after.decision === 'dane') {
        records = tlsa.records;
      } else if (tlsa.status === 'insecure') {
        report.reasons.push(`TLSA RRset at ${tlsa.name} is insecure: DANE does not apply`);
      } else {
        report.reasons.push(`no TLSA records at ${tlsa.name}: DANE does not apply`);
      }
    }
    const names = referenceNames({
      tlsaBase: report.tlsaBase,
      host: name,
      nextHop: domain,
      mxSecure,
    });
    report.addresses = await Promise.all(
      addrs.map((x) =>
        this.address(
          x.address,
          x.family,
          x.status,
          records ?? undefined,
          report.tlsaBase,
          names,
          report,
        ),
      ),
    );
    report.verdict = worst(
      report.addresses.map((x) => x.verdict),
      'unreachable',
    );
    if (records && report.tlsa) {
      this.rrsets.push({ host: report, records, canonical: tlsaCanonical!.toLowerCase() });
    }
    return report;
  }

  private async address(
    address: string,
    family: 4 | 6,
    status: string,
    records: TlsaRecord[] | undefined,
    servername: string | null,
    names: string[],
    host: HostReport,
  ): Promise<AddressReport> {
    const out: AddressReport = {
      address,
      family,
      status,
      verdict: 'no-dane',
      tls: null,
      chain: [],
      matched: null,
      inUse: [],
      reasons: [],
    };
    let res: ProbeResult;
    try {
      res = await this.deps.probe({
        host: host.name,
        address,
        port: this.opts.port,
        starttls: this.opts.starttls,
        // RFC 7672 §8.1: SNI carries the TLSA base domain.
        servername: servername ?? undefined,
        connectTimeoutMs: this.opts.timeoutMs,
        readTimeoutMs: this.opts.timeoutMs,
        totalTimeoutMs: this.opts.timeoutMs * 4,
      });
    } catch (e) {
      const msg = isDkError(e) ? e.message : String(e);
      if (isDkError(e) && e.kind === 'protocol' && records) {
        // With usable or unusable TLSA records, TLS is mandatory (RFC 7672 §2.2): a server that
        // refuses or botches it fails, it is not merely unreachable.
        out.verdict = 'failed';
      } else if (isDkError(e) && e.kind === 'protocol') {
        out.verdict = 'no-dane';
      } else {
        out.verdict = 'unreachable';
      }
      out.reasons.push(msg);
      return out;
    }
    out.tls = { protocol: res.protocol, cipher: res.cipher, servername: res.servername ?? null };
    let chain: Cert[];
    try {
      const parse = this.deps.parseCert ?? certFromDer;
      chain = res.chain.map((der, i) => parse(der, `${address} certificate ${i + 1}`));
    } catch (e) {
      out.verdict = records ? 'failed' : 'no-dane';
      out.reasons.push(isDkError(e) ? e.message : String(e));
      return out;
    }
    if (!records) {
      out.chain = chainEntries(chain, null);
      out.verdict = 'no-dane';
      return out;
    }
    const j = (this.deps.judgeChain ?? judgeChain)({
      records,
      chain,
      names,
      time: this.deps.now(),
      mode: this.opts.port === 25 ? 'smtp' : 'generic',
      trustStore: this.deps.trustStore,
    });
    out.matched = j.matched;
    out.chain = j.chain;
    out.inUse = j.inUse;
    out.verdict = j.verdict;
    out.reasons.push(...j.reasons);
    return out;
  }

  /**
   * Warnings about each TLSA RRset, once every host is probed: a record is in use when any
   * address serving that RRset presents what it names. Hosts whose TLSA names lead (through
   * CNAMEs) to one shared RRset count together, so one host's key is not "stale" at another's.
   */
  rrsetFindings(order: readonly HostReport[]): CheckWarning[] {
    // hosts finish probing in any order; warnings follow the report's (preference) order
    const rank = (h: HostReport) => order.indexOf(h);
    const sorted = [...this.rrsets].sort((a, b) => rank(a.host) - rank(b.host));
    return sorted.flatMap(({ host, records, canonical }) => {
      const serving = this.rrsets
        .filter((x) => x.canonical === canonical)
        .flatMap((x) => x.host.addresses);
      const used = new Set(serving.flatMap((a) => a.inUse.map((u) => u.record)));
      const expiries = host.addresses.flatMap((x) =>
        x.chain
          .filter((c) => c.match)
          .map((c) => ({
            subject: `${certLabel(c)} at ${x.address}`,
            notAfter: new Date(c.notAfter),
          })),
      );
      return rrsetWarnings({
        owner: host.tlsa!.owner,
        records,
        ttl: host.tlsa!.ttl,
        inUse: records.filter((r) => used.has(formatRdata(r))),
        unseen: serving.filter((a) => a.chain.length === 0).map((a) => a.address),
        expiries,
        now: this.deps.now(),
        days: this.opts.days,
      });
    });
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** RFC 7672 §2.2.1 and RFC 5321 §5.1: MX hosts in preference order, or the domain itself. */
export async function checkDomain(
  domain: string,
  deps: CheckDeps,
  opts: CheckOptions,
): Promise<CheckReport> {
  const c = new Checker(deps, opts);
  const d = domain.replace(/\.$/, '').toLowerCase();
  const base = baseReport(d, deps, opts);
  const top = c.log();
  const mx = await deps.resolver.lookup(d, 'MX');
  top.push(dnsEntry(mx, mxText));
  base.mx = {
    status: mx.status,
    implicit: false,
    // RFC 2181 §5: no order in the RRset; listed by preference, then name, so runs agree
    records: [...mx.records].sort(
      (x, y) =>
        x.preference - y.preference || cmp(x.exchange.toLowerCase(), y.exchange.toLowerCase()),
    ),
  };
  // No host to try: nothing a sender can fall back to.
  const done = (verdict: CheckVerdict, reason: string): CheckReport => ({
    ...base,
    verdict,
    delivery: {
      ok: false,
      via: [],
      failingHosts: [],
      preferredFails: false,
      summary: `mail cannot be delivered: ${reason}`,
    },
    reasons: [reason],
    dns: c.dns,
  });
  if (daneGate({ mx, addresses: [] }).stage === 'mx') {
    if (mx.status === 'bogus') {
      return done(
        'dnssec-failure',
        `${d}/MX is bogus (${mx.why ?? 'validation failed'}): a DANE sender defers all mail (RFC 7672 §2.1.1)`,
      );
    }
    return done('indeterminate', `${d}/MX could not be resolved: ${mx.why ?? 'no answer'}`);
  }
  if (mx.rcode === 'NXDOMAIN') return done('failed', `${d} does not exist (NXDOMAIN)`);
  if (mx.records.length === 1 && mx.records[0]!.exchange === '.') {
    return done('no-dane', `${d} publishes a null MX (RFC 7505): it accepts no mail`);
  }
  let hosts: HostInput[];
  if (mx.records.length === 0) {
    base.mx.implicit = true;
    hosts = [{ name: d, preference: null }];
  } else {
    // RFC 5321 §5.1: senders pick among equal preferences at random; the report lists them by
    // name, so that its hosts (and their DNS answers) come in the same order every run
    hosts = [...base.mx.records]
      .filter(
        (m, i, all) =>
          all.findIndex((n) => n.exchange.toLowerCase() === m.exchange.toLowerCase()) === i,
      )
      .map((m) => ({ name: m.exchange, preference: m.preference }));
  }
  if (mx.status !== 'secure') {
    base.reasons.push(
      `${d}/MX is ${mx.status}: the next-hop domain is not a reference identifier (RFC 7672 §2.2.1)`,
    );
  }
  const reports = await Promise.all(hosts.map((h) => c.host(h, d, mx.status === 'secure')));
  const r = finish(base, reports, c);
  // RFC 5321 §5.1: a sender falls back to the next MX host; the verdict (worst host) cannot say
  // whether mail gets through, so the report says it separately.
  r.delivery = assessDelivery(
    reports.map((h) => ({
      name: h.name,
      preference: h.preference,
      verdict: h.verdict,
      addresses: h.addresses.map((a) => ({ address: a.address, verdict: a.verdict })),
    })),
  );
  return r;
}

/** `check --host H --port P`: one service, PKIX-aware outside SMTP. */
export async function checkService(
  host: string,
  deps: CheckDeps,
  opts: CheckOptions,
): Promise<CheckReport> {
  const c = new Checker(deps, opts);
  const base = baseReport(null, deps, opts);
  const report = await c.host({ name: host, preference: null }, null, false);
  return finish(base, [report], c);
}

function baseReport(domain: string | null, deps: CheckDeps, opts: CheckOptions): CheckReport {
  return {
    domain,
    service: {
      port: opts.port,
      starttls: opts.starttls,
      mode: opts.port === 25 ? 'smtp' : 'generic',
    },
    verdict: 'no-dane',
    resolver: {
      servers: [...deps.resolver.servers],
      validating: deps.validating.validating,
      summary: deps.validating.summary,
    },
    mx: null,
    hosts: [],
    delivery: null,
    warnings: [],
    dns: [],
    reasons: [],
    checkedAt: deps.now().toISOString(),
  };
}

function finish(base: CheckReport, hosts: HostReport[], c: Checker): CheckReport {
  const warnings = c.rrsetFindings(hosts);
  if (!base.resolver.validating) {
    warnings.unshift({
      severity: 'warning',
      code: 'resolver-not-validating',
      subject: base.resolver.servers.join(' '),
      message: base.resolver.summary,
    });
  }
  return {
    ...base,
    hosts,
    verdict: worst(
      hosts.map((h) => h.verdict),
      'unreachable',
    ),
    warnings,
    dns: c.dns,
  };
}

export function exitStatus(r: CheckReport): number {
  return monitoringStatus(r.verdict, r.warnings.filter((w) => w.severity === 'warning').length);
}
