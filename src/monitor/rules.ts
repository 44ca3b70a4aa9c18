/**
 * The monitor's rules (issue 10): observations of one domain -> findings. Each rule is a small
 * function over one kind of observation, run by `domainFindings`; pure (the clock comes in).
 * Observations: the `check` report (src/check: the live chain against the TLSA RRset, DNSSEC,
 * certificate expiry), what every authoritative server serves (src/publish/propagation.ts,
 * RD=0 to each) and the RRSIG expiry of the TLSA, MX and DNSKEY RRsets as each server serves them.
 */
import type { CheckReport } from '../check/report.js';
import type { PropagationReport } from '../publish/propagation.js';
import type { Finding } from '../store/monitor.js';

/** The earliest RRSIG expiration of one RRset, over the servers asked. */
export interface RrsigObservation {
  /** `_25._tcp.mx.example.org/TLSA` */
  rrset: string;
  /** seconds since the epoch (RFC 4034 §3.1.5), or null when no server gave a signature */
  expiration: number | null;
  /** the server that serves the earliest one */
  server: string;
}

export interface MonitorTarget {
  domain: string;
  /** managed by danekeeper (store domains), or only watched */
  source: 'managed' | 'watched';
  /** managed with DANE on: a missing TLSA RRset is a problem, not a choice */
  dane: boolean;
}

export interface DomainObservations {
  checks: CheckReport[];
  propagation: PropagationReport[];
  rrsigs: RrsigObservation[];
}

export interface RuleOptions {
  /** warn when an RRSIG expires within this many days */
  rrsigDays: number;
  now: Date;
}

type Emit = Omit<Finding, 'domain'>;

const MISMATCH_FIX =
  'install the certificate whose key the TLSA records name, or publish a record for the new key first and switch only after 2 x TTL (RFC 7671 §8.1); "danekeeper check DOMAIN" shows the chain and the records';

const bare = (n: string) => n.replace(/\.$/, '').toLowerCase();

/** RFC 7672 §3: every address of every DANE host must present a chain that matches. */
export function liveRules(r: CheckReport, t: MonitorTarget): Emit[] {
  const out: Emit[] = [];
  const port = r.service.port;
  if (r.hosts.length === 0 && (r.verdict === 'dnssec-failure' || r.verdict === 'indeterminate')) {
    const bogus = r.verdict === 'dnssec-failure';
    out.push({
      code: bogus ? 'dnssec-failure' : 'dns-indeterminate',
      subject: `${r.domain ?? ''}/MX`,
      severity: bogus ? 'critical' : 'warning',
      message: r.reasons[0] ?? r.verdict,
    });
  }
  for (const h of r.hosts) {
    if (h.verdict === 'dnssec-failure') {
      out.push({
        code: 'dnssec-failure',
        subject: h.name,
        severity: 'critical',
        message: h.reasons[0] ?? `${h.name}: DNSSEC validation fails`,
        fix: 'check the zone signatures and the DS at the parent ("danekeeper dnssec status ZONE")',
      });
      continue;
    }
    if (h.verdict === 'indeterminate') {
      out.push({
        code: 'dns-indeterminate',
        subject: h.name,
        severity: 'warning',
        message: h.reasons[0] ?? `${h.name} could not be resolved`,
      });
      continue;
    }
    if (t.dane && h.verdict === 'no-dane') {
      out.push({
        code: 'dane-missing',
        subject: `${h.name}:${port}`,
        severity: 'critical',
        message: h.reasons[0] ?? `${h.name} has no usable TLSA RRset`,
        fix: 'run "danekeeper run" to publish the records again, and check the zone is signed',
      });
    }
    for (const a of h.addresses) {
      const subject = `${h.name}:${port} ${a.address}`;
      if (a.verdict === 'failed') {
        out.push({
          code: 'live-mismatch',
          subject,
          severity: 'critical',
          message: `${h.name} (${a.address}) presents a chain that matches no TLSA record at ${h.tlsa?.owner ?? 'its TLSA owner'}: DANE senders defer mail to it`,
          fix: MISMATCH_FIX,
        });
      } else if (a.verdict === 'unusable') {
        out.push({
          code: 'tlsa-unusable',
          subject,
          severity: 'warning',
          message: `every TLSA record of ${h.name} is unusable: mail is encrypted but not authenticated (RFC 7672 §2.2)`,
        });
      } else if (a.verdict === 'unreachable') {
        out.push({
          code: 'unreachable',
          subject,
          severity: 'warning',
          message: `${h.name} (${a.address}) port ${port}: ${a.reasons[0] ?? 'no answer'}`,
        });
      }
    }
  }
  // Of check's warnings, the monitor keeps those that change over time and need action: a
  // certificate running out, and a resolver that does not validate (the monitor is blind then).
  // Record-set advice (one 3 x x record only, long TTLs) is for the `check` report, not alerts.
  for (const w of r.warnings) {
    if (w.severity !== 'warning') continue;
    if (w.code === 'expires-soon') {
      out.push({
        code: 'certificate-expiry',
        subject: w.subject,
        severity: 'warning',
        message: w.message,
        fix: 'renew the certificate (managed domains: "danekeeper renew DOMAIN")',
      });
    } else if (w.code === 'resolver-not-validating') {
      out.push({
        code: 'resolver-not-validating',
        subject: w.subject,
        severity: 'warning',
        message: w.message,
        fix: 'point [dns] resolver (or --resolver) at a validating resolver',
      });
    }
  }
  return out;
}

/**
 * Every authoritative server in step (DESIGN.md, the confirmation rule; RFC 1996, RFC 1034
 * §4.3.5): the same SOA serial as the primary and the same TLSA RRset. A report whose owner is
 * the zone apex checks serials only (a zone with no TLSA owner of the domain's in it).
 */
export function serverRules(p: PropagationReport): Emit[] {
  const out: Emit[] = [];
  const withTlsa = bare(p.owner) !== bare(p.zone);
  const zone = bare(p.zone);
  const ref = p.serialReference;
  for (const s of p.servers) {
    const who = `${s.name} ${s.address ?? '(no address)'}`;
    if (s.state === 'unreachable' || s.state === 'lame') {
      out.push({
        code: `server-${s.state}`,
        subject: `${zone} ${who}`,
        severity: 'warning',
        message: `${s.name} (${s.address ?? 'no address'}) is ${s.state} for ${zone}: ${s.why ?? 'no authoritative answer'}`,
      });
      continue;
    }
    if (s.serialBehind && ref) {
      out.push({
        code: 'serial-behind',
        subject: `${zone} ${who}`,
        severity: 'warning',
        message: `${s.name} (${s.address}) serves ${zone} with SOA serial ${s.serial}, behind ${ref.serial} (${ref.from === 'primary' ? 'the primary' : 'the newest served'}): it no longer transfers the zone`,
        fix: "check zone transfers (NOTIFY, allow-transfer, the secondary's log), then retransfer on the secondary",
      });
    }
    if (withTlsa && s.state === 'old') {
      const diff = [
        ...s.missing.map((x) => `missing ${x.slice(0, 20)}…`),
        ...s.extra.map((x) => `extra ${x.slice(0, 20)}…`),
      ].join(', ');
      out.push({
        code: 'tlsa-differs',
        subject: `${bare(p.owner)} ${who}`,
        severity: 'critical',
        message: `${s.name} (${s.address}) serves another TLSA RRset at ${bare(p.owner)} than the primary (${diff}): senders that ask it see other records`,
        fix: 'let the secondary catch up (zone transfer) before the certificate changes',
      });
    }
  }
  return out;
}

/** RFC 4034 §3.1.5: past the expiration a validator treats the RRset as bogus. */
export function rrsigRules(o: RrsigObservation, opt: RuleOptions): Emit[] {
  if (o.expiration === null) return [];
  const left = o.expiration * 1000 - opt.now.getTime();
  const days = left / 86_400_000;
  if (days >= opt.rrsigDays) return [];
  const when = new Date(o.expiration * 1000).toISOString();
  return [
    {
      code: 'rrsig-expiry',
      subject: o.rrset,
      severity: days < 1 ? 'critical' : 'warning',
      message:
        left <= 0
          ? `the RRSIG over ${o.rrset} served by ${o.server} expired at ${when}: validators treat the RRset as bogus`
          : `the RRSIG over ${o.rrset} served by ${o.server} expires in ${days.toFixed(1)} day(s), at ${when}`,
      fix: 'make sure the zone is re-signed (the signer runs, the secondaries transfer the re-signed zone)',
    },
  ];
}

export function domainFindings(
  t: MonitorTarget,
  obs: DomainObservations,
  opt: RuleOptions,
): Finding[] {
  const emitted: Emit[] = [
    ...obs.checks.flatMap((c) => liveRules(c, t)),
    ...obs.propagation.flatMap(serverRules),
    ...obs.rrsigs.flatMap((o) => rrsigRules(o, opt)),
  ];
  return emitted.map((e) => ({ domain: t.domain, ...e }));
}
