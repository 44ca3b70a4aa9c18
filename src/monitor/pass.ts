/**
 * One monitor pass (issue 10): every domain danekeeper manages and every watched domain is
 * looked at the way `check` does (src/check), every authoritative server of its zones is asked
 * directly (RD=0, as src/publish/propagation.ts does) for its SOA serial, TLSA RRset and the
 * RRSIGs of the TLSA, MX and DNSKEY RRsets; the findings go into the store with first- and
 * last-seen times, and the notifier (src/notify) tells people about new, lasting and recovered
 * problems. `serve` calls `runMonitorPass` on its schedule; `danekeeper watch check` runs one.
 */
import { checkDomain, checkService, type CheckDeps } from '../check/check.js';
import type { CheckReport } from '../check/report.js';
import { isDkError } from '../core/errors.js';
import { mapLimit } from '../io/dns/authoritative.js';
import { queryDirect, rrsigsIn, type DirectOptions } from '../io/dns/direct.js';
import type { RecordType, Resolver } from '../io/dns/types.js';
import { defaultStarttls, type ProbeOptions, type ProbeResult } from '../io/probe/index.js';
import {
  runNotifyPass,
  type Channels,
  type NotifyResult,
  type NotifySettings,
} from '../notify/notifier.js';
import type { NotifyKind, Problem } from '../notify/policy.js';
import { checkPropagation, type PropagationReport } from '../publish/propagation.js';
import type { MonitorStore, StoredFinding } from '../store/monitor.js';
import type { StateStore } from '../store/state.js';
import {
  domainFindings,
  type DomainObservations,
  type MonitorTarget,
  type RrsigObservation,
} from './rules.js';

export interface MonitorSettings {
  /** warn when an RRSIG of the TLSA, MX or DNSKEY RRset expires within this many days; default 7 */
  rrsigDays?: number;
  /** warn when a matched certificate expires within this many days; default 14 */
  certDays?: number;
  /** per network step; default 10 s */
  timeoutMs?: number;
  /** domains looked at at once; default 4 */
  concurrency?: number;
}

export interface MonitorDeps {
  state: Pick<StateStore, 'domains' | 'events' | 'rollover'>;
  monitor: MonitorStore;
  resolver: Resolver;
  validating: { validating: boolean; summary: string };
  probe: (o: ProbeOptions) => Promise<ProbeResult>;
  now: () => Date;
  settings?: MonitorSettings;
  /** notifications; left out (or no channel in it): findings are stored, nobody is told */
  notify?: NotifySettings;
  /** swapped in tests */
  channels?: Channels;
  /** direct queries to authoritative servers (tests map addresses to ports) */
  direct?: DirectOptions;
  /** only this domain (a `watch check DOMAIN`) */
  only?: string;
  /** swapped in tests: what the rules look at for one domain (default observeDomain) */
  observe?: (
    t: MonitorTarget,
    endpoints: { host: string; port: number }[],
  ) => Promise<DomainObservations>;
}

export interface TargetOutcome extends MonitorTarget {
  /** the domain's `check` verdict; null when the pass could not look */
  verdict: string | null;
  error?: string;
}

export interface MonitorResult {
  checkedAt: string;
  targets: TargetOutcome[];
  /** every open finding after this pass (first- and last-seen times) */
  findings: StoredFinding[];
  opened: StoredFinding[];
  recovered: StoredFinding[];
  notify: NotifyResult | null;
}

const KIND: Record<string, NotifyKind> = {
  'live-mismatch': 'live-mismatch',
  'dane-missing': 'live-mismatch',
  'tlsa-unusable': 'live-mismatch',
  'dnssec-failure': 'dnssec-problem',
  'dns-indeterminate': 'dnssec-problem',
  'serial-behind': 'servers-out-of-step',
  'tlsa-differs': 'servers-out-of-step',
  'server-unreachable': 'servers-out-of-step',
  'server-lame': 'servers-out-of-step',
  'rrsig-expiry': 'rrsig-expiry',
  'certificate-expiry': 'certificate-expiry',
  unreachable: 'unreachable',
};

const TITLE: Record<NotifyKind, string> = {
  'live-mismatch': 'Live certificate does not match the TLSA records',
  'dnssec-problem': 'DNSSEC problem',
  'servers-out-of-step': 'Authoritative servers out of step',
  'rrsig-expiry': 'DNSSEC signatures about to expire',
  'certificate-expiry': 'Certificate about to expire',
  unreachable: 'Mail server unreachable',
  'dane-warning': 'DANE warning',
  'step-failed': 'A keep-secured step failed',
  'rollover-stalled': 'Rollover waiting longer than expected',
  'certificate-issued': 'Certificate issued',
  'certificate-renewed': 'Certificate renewed',
  'key-rotated': 'Key rotated',
};

/** A stored finding as a problem for the notifier. */
export function findingProblem(f: StoredFinding): Problem {
  const kind = KIND[f.code] ?? 'dane-warning';
  return {
    key: f.key,
    domain: f.domain,
    kind,
    title: `${TITLE[kind]}: ${f.subject}`,
    text: f.message,
    ...(f.fix ? { fix: f.fix } : {}),
    since: f.firstSeen,
  };
}

/** Managed domains first, then watched ones (a domain both managed and watched once). */
export function monitorTargets(
  state: Pick<StateStore, 'domains'>,
  monitor: MonitorStore,
): MonitorTarget[] {
  const out: MonitorTarget[] = state.domains
    .list()
    .map((d) => ({ domain: d.name, source: 'managed', dane: d.dane }));
  const seen = new Set(out.map((t) => t.domain));
  for (const w of monitor.watched()) {
    if (!seen.has(w.name)) out.push({ domain: w.name, source: 'watched', dane: false });
  }
  return out;
}

const bare = (n: string) => n.replace(/\.$/, '').toLowerCase();

/** The zone holding `name`: the closest enclosing name that owns an SOA RRset. */
async function zoneOf(resolver: Resolver, name: string, cache: Map<string, Promise<string>>) {
  const n = bare(name);
  let p = cache.get(n);
  if (!p) {
    p = (async () => {
      const labels = n.split('.');
      for (let i = 0; i < labels.length - 1; i++) {
        const candidate = labels.slice(i).join('.');
        const r = await resolver.lookup(candidate, 'SOA');
        if (r.records.length > 0 && bare(r.canonicalName) === candidate) return candidate;
      }
      return labels.slice(-2).join('.');
    })();
    cache.set(n, p);
  }
  return p;
}

/** The earliest RRSIG over name/type among the servers (RD=0, DO=1 to each). */
async function rrsigOf(
  name: string,
  type: RecordType,
  servers: { name: string; address: string }[],
  o: DirectOptions,
): Promise<RrsigObservation | null> {
  let best: RrsigObservation | null = null;
  await Promise.all(
    servers.map(async (s) => {
      const r = await queryDirect(s.address, name, type, o);
      if (r.outcome !== 'answer' || !r.message) return;
      for (const sig of rrsigsIn(r.message, 'answer', name, type)) {
        if (!best || best.expiration === null || sig.expiration < best.expiration) {
          best = {
            rrset: `${bare(name)}/${type}`,
            expiration: sig.expiration,
            server: `${s.name} ${s.address}`,
          };
        }
      }
    }),
  );
  return best;
}

/** Everything the rules look at for one domain. */
export async function observeDomain(
  t: MonitorTarget,
  d: MonitorDeps,
  endpoints: { host: string; port: number }[],
  zones: Map<string, Promise<string>>,
): Promise<DomainObservations> {
  const s = d.settings ?? {};
  const timeoutMs = s.timeoutMs ?? 10_000;
  const deps: CheckDeps = {
    resolver: d.resolver,
    probe: d.probe,
    now: d.now,
    validating: d.validating,
  };
  const days = s.certDays ?? 14;
  const checks: CheckReport[] = [
    await checkDomain(t.domain, deps, { port: 25, starttls: 'smtp', days, timeoutMs }),
  ];
  for (const e of endpoints) {
    checks.push(
      await checkService(e.host, deps, {
        port: e.port,
        starttls: defaultStarttls(e.port),
        days,
        timeoutMs,
      }),
    );
  }
  // TLSA owners that DANE applies to (RFC 7672 §2.2: only behind secure address records)
  const owners = new Set<string>();
  for (const c of checks)
    for (const h of c.hosts)
      if (h.tlsa && h.tlsa.status === 'secure') owners.add(bare(h.tlsa.owner));
  const domainZone = await zoneOf(d.resolver, t.domain, zones);
  const pairs = new Map<string, { zone: string; owner: string }>();
  for (const o of owners) {
    const zone = await zoneOf(d.resolver, o.replace(/^_\d+\._[a-z]+\./, ''), zones);
    pairs.set(`${zone} ${o}`, { zone, owner: o });
  }
  if (![...pairs.values()].some((p) => p.zone === domainZone)) {
    // serials only, at the apex (no TLSA RRset there)
    pairs.set(`${domainZone} ${domainZone}`, { zone: domainZone, owner: domainZone });
  }
  const direct: DirectOptions = { timeoutMs: Math.min(timeoutMs, 3000), ...d.direct };
  const propagation: PropagationReport[] = [];
  for (const p of pairs.values()) {
    try {
      propagation.push(
        await checkPropagation({
          zone: p.zone,
          owner: p.owner,
          resolver: d.resolver,
          ...direct,
          now: d.now,
        }),
      );
    } catch (e) {
      if (!isDkError(e)) throw e;
      // the primary could not be read: the serial rule has no reference; the rest still runs
    }
  }
  const serversOf = (zone: string) => {
    const r = propagation.find((p) => bare(p.zone) === zone);
    return (r?.servers ?? []).flatMap((x) =>
      x.address ? [{ name: x.name, address: x.address }] : [],
    );
  };
  const rrsigs: RrsigObservation[] = [];
  const ask = async (name: string, type: RecordType, zone: string) => {
    const r = await rrsigOf(name, type, serversOf(zone), direct);
    if (r) rrsigs.push(r);
  };
  const jobs: Promise<void>[] = [
    ask(t.domain, 'MX', domainZone),
    ask(domainZone, 'DNSKEY', domainZone),
  ];
  for (const p of pairs.values()) {
    if (p.owner !== p.zone) jobs.push(ask(p.owner, 'TLSA', p.zone));
    if (p.zone !== domainZone) jobs.push(ask(p.zone, 'DNSKEY', p.zone));
  }
  await Promise.all(jobs);
  return { checks, propagation, rrsigs };
}

export async function runMonitorPass(d: MonitorDeps): Promise<MonitorResult> {
  const s = d.settings ?? {};
  const started = d.now();
  let targets = monitorTargets(d.state, d.monitor);
  if (d.only !== undefined) targets = targets.filter((t) => t.domain === bare(d.only!));
  const zones = new Map<string, Promise<string>>();
  const outcomes: TargetOutcome[] = [];
  const findings = await mapLimit(targets, s.concurrency ?? 4, async (t) => {
    const managed = t.source === 'managed' ? d.state.domains.get(t.domain) : undefined;
    const endpoints = (managed?.endpoints ?? []).filter((e) => e.port !== 25 && e.proto === 'tcp');
    try {
      const obs = d.observe
        ? await d.observe(t, endpoints)
        : await observeDomain(t, d, endpoints, zones);
      outcomes.push({ ...t, verdict: obs.checks[0]!.verdict });
      return domainFindings(t, obs, { rrsigDays: s.rrsigDays ?? 7, now: d.now() });
    } catch (e) {
      outcomes.push({ ...t, verdict: null, error: isDkError(e) ? e.message : String(e) });
      return null;
    }
  });
  const checked = new Set(outcomes.filter((o) => o.verdict !== null).map((o) => o.domain));
  const unknown = new Set(outcomes.filter((o) => o.verdict === null).map((o) => o.domain));
  // With `only`, every other domain is out of this pass's sight: nothing of theirs recovers.
  const inScope = (domain: string) => d.only === undefined || domain === bare(d.only);
  const rec = d.monitor.record(
    findings.flatMap((f) => f ?? []),
    checked,
    d.now(),
  );
  let notify: NotifyResult | null = null;
  if (d.notify) {
    notify = await runNotifyPass(
      {
        state: d.state,
        monitor: d.monitor,
        settings: d.notify,
        now: d.now,
        ...(d.channels ? { channels: d.channels } : {}),
      },
      rec.open.filter((f) => inScope(f.domain)).map(findingProblem),
      (domain) => inScope(domain) && !unknown.has(domain),
    );
  }
  return {
    checkedAt: started.toISOString(),
    targets: targets.map((t) => outcomes.find((o) => o.domain === t.domain)!),
    findings: rec.open,
    opened: rec.opened,
    recovered: rec.recovered,
    notify,
  };
}
