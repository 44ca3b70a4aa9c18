/**
 * What `serve` knows after each pass, as Prometheus metrics (issue 10 item 4; text exposition
 * format 0.0.4). Per domain: the rollover phase (a state set: one series per phase, 1 for the
 * current one), the installed certificate's notAfter, whether each endpoint address presented
 * a chain matching a CONFIRMED record at the last pass (DESIGN.md "The one invariant": a
 * record merely published does not count), when the domain was last passed over and how long
 * that took; failures counted by domain and error code. Public facts only.
 */
import {
  chainMatches,
  plan,
  summarize,
  type Observations,
  type Phase,
  type RolloverPolicy,
  type RolloverState,
} from '../core/rollover/index.js';
import type { DomainOutcome } from './pass.js';

export const PHASES: readonly Phase[] = [
  'idle',
  'generating-key',
  'publishing',
  'propagating',
  'confirming',
  'ordering',
  'installing',
  'verifying',
  'rolling-back',
  'removing-stale',
  'backing-off',
];

export interface EndpointFacts {
  endpoint: string;
  address: string;
  /** presented a chain that matches a record every server has served long enough */
  match: boolean;
}

export interface DomainFacts {
  domain: string;
  phase: Phase | null;
  /** unix seconds; null while nothing is installed */
  certNotAfter: number | null;
  endpoints: EndpointFacts[];
  /** unix seconds of the end of this domain's part of the last pass */
  lastPassAt: number;
  lastPassSeconds: number;
  /** the last pass found it at rest (rest.ts) and did not observe it: `endpoints` are older */
  atRest: boolean;
}

/** An open monitor finding as /metrics exports it (src/store/monitor.ts StoredFinding). */
export interface MetricFinding {
  domain: string;
  code: string;
  subject: string;
  severity: string;
}

/**
 * A domain the pass left at rest: phase and certificate from the state it stored, the live
 * matches as last observed by this process (none after a restart: nothing is claimed about
 * chains nobody looked at; the monitor's findings say what it saw).
 */
export function restingFacts(
  r: Pick<DomainOutcome, 'domain' | 'phase'>,
  state: RolloverState | null,
  before: DomainFacts | undefined,
  end: Date,
): DomainFacts {
  const na = state?.installed ? Date.parse(state.installed.notAfter) : NaN;
  return {
    domain: r.domain,
    phase: r.phase,
    certNotAfter: Number.isFinite(na) ? Math.floor(na / 1000) : (before?.certNotAfter ?? null),
    endpoints: before?.endpoints ?? [],
    lastPassAt: Math.floor(end.getTime() / 1000),
    lastPassSeconds: 0,
    atRest: true,
  };
}

/** The facts of one domain from the last observation of a pass and the state it left. */
export function domainFacts(
  state: RolloverState | null,
  obs: Omit<Observations, 'request'>,
  policy: RolloverPolicy,
  now: Date,
): Pick<DomainFacts, 'phase' | 'certNotAfter' | 'endpoints'> {
  const dec = plan(state, obs, now.toISOString(), policy);
  const sum = summarize(dec, obs, policy);
  const endpoints: EndpointFacts[] = [];
  for (const owner of policy.owners) {
    const confirmed = sum.tlsa
      .filter((t) => t.owner === owner && t.published && t.confirmedAt !== null)
      .map((t) => t.rdata);
    for (const a of obs.live[owner] ?? []) {
      endpoints.push({
        endpoint: owner,
        address: a.address,
        match: !('error' in a) && confirmed.some((r) => chainMatches(a, r)),
      });
    }
  }
  const na = sum.certificate ? Date.parse(sum.certificate.notAfter) : NaN;
  return {
    phase: sum.phase,
    certNotAfter: Number.isFinite(na) ? Math.floor(na / 1000) : null,
    endpoints,
  };
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Metrics of the daemon; updated by the pass job, read by /metrics. */
export class DaemonMetrics {
  private domains = new Map<string, DomainFacts>();
  private failures = new Map<string, { domain: string; code: string; n: number }>();
  private passes = 0;
  private last: { at: number; seconds: number } | null = null;
  private monitorLast: { at: number; seconds: number } | null = null;

  constructor(private readonly findings?: () => MetricFinding[]) {}

  facts(domain: string): DomainFacts | undefined {
    return this.domains.get(domain);
  }

  /** a monitoring pass ended (the findings themselves are read from the store per scrape) */
  recordMonitor(endedAt: Date, seconds: number): void {
    this.monitorLast = { at: endedAt.getTime() / 1000, seconds };
  }

  recordPass(o: {
    endedAt: Date;
    seconds: number;
    facts: DomainFacts[];
    outcomes: DomainOutcome[];
    /** every managed domain now: a removed one's series go away */
    managed: string[];
  }): void {
    this.passes++;
    this.last = { at: o.endedAt.getTime() / 1000, seconds: o.seconds };
    for (const f of o.facts) this.domains.set(f.domain, f);
    const keep = new Set(o.managed);
    for (const d of [...this.domains.keys()]) if (!keep.has(d)) this.domains.delete(d);
    for (const r of o.outcomes) {
      if (r.result !== 'failed') continue;
      this.countFailure(r.domain, r.error?.code ?? 'E_UNKNOWN');
    }
  }

  /** a pass that failed as a whole (the store unreadable, the world not built) */
  countFailure(domain: string, code: string): void {
    const k = `${domain}\u0000${code}`;
    const f = this.failures.get(k) ?? { domain, code, n: 0 };
    f.n++;
    this.failures.set(k, f);
  }

  render(): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, rows: [string, number][]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [l, v] of rows) out.push(`${name}${l} ${Number.isFinite(v) ? v : 'NaN'}`);
    };
    const ds = [...this.domains.values()].sort((a, b) => a.domain.localeCompare(b.domain));
    metric('danekeeper_passes_total', 'counter', 'Keep-secured passes run by this process.', [
      ['', this.passes],
    ]);
    metric(
      'danekeeper_pass_last_timestamp_seconds',
      'gauge',
      'When the last keep-secured pass ended (unix time; 0: none yet).',
      [['', this.last?.at ?? 0]],
    );
    metric(
      'danekeeper_pass_last_duration_seconds',
      'gauge',
      'How long the last keep-secured pass took.',
      [['', this.last?.seconds ?? 0]],
    );
    metric(
      'danekeeper_rollover_phase',
      'gauge',
      'Rollover phase of each domain at the last pass (1 for the current phase).',
      ds.flatMap((d) =>
        PHASES.map((p): [string, number] => [
          labels({ domain: d.domain, phase: p }),
          d.phase === p ? 1 : 0,
        ]),
      ),
    );
    metric(
      'danekeeper_certificate_not_after_timestamp_seconds',
      'gauge',
      'notAfter of the installed certificate (unix time).',
      ds
        .filter((d) => d.certNotAfter !== null)
        .map((d): [string, number] => [labels({ domain: d.domain }), d.certNotAfter!]),
    );
    metric(
      'danekeeper_endpoint_live_match',
      'gauge',
      'Whether the chain the endpoint address presented at the last pass matched a confirmed TLSA record (1) or not (0).',
      ds.flatMap((d) =>
        d.endpoints.map((e): [string, number] => [
          labels({ domain: d.domain, endpoint: e.endpoint, address: e.address }),
          e.match ? 1 : 0,
        ]),
      ),
    );
    metric(
      'danekeeper_domain_last_pass_timestamp_seconds',
      'gauge',
      'When the last pass over the domain ended (unix time).',
      ds.map((d): [string, number] => [labels({ domain: d.domain }), d.lastPassAt]),
    );
    metric(
      'danekeeper_domain_last_pass_duration_seconds',
      'gauge',
      'How long the last pass over the domain took.',
      ds.map((d): [string, number] => [labels({ domain: d.domain }), d.lastPassSeconds]),
    );
    metric(
      'danekeeper_domain_at_rest',
      'gauge',
      'Whether the last pass left the domain at rest, unobserved until its re-check (1) or observed it (0).',
      ds.map((d): [string, number] => [labels({ domain: d.domain }), d.atRest ? 1 : 0]),
    );
    metric(
      'danekeeper_monitor_last_pass_timestamp_seconds',
      'gauge',
      'When the last monitoring pass of this process ended (unix time; 0: none yet).',
      [['', this.monitorLast?.at ?? 0]],
    );
    metric(
      'danekeeper_monitor_last_pass_duration_seconds',
      'gauge',
      'How long the last monitoring pass took.',
      [['', this.monitorLast?.seconds ?? 0]],
    );
    let open: MetricFinding[] = [];
    try {
      open = this.findings?.() ?? [];
    } catch {
      // the store unreadable: /healthz says so; the findings are left out rather than guessed
      open = [];
    }
    const rows = new Map<string, [string, number]>();
    for (const f of open) {
      const l = labels({
        domain: f.domain,
        kind: f.code,
        severity: f.severity,
        subject: f.subject,
      });
      rows.set(l, [l, 1]);
    }
    metric(
      'danekeeper_monitor_finding',
      'gauge',
      'An open monitoring finding (1 while the problem is seen; the series goes away on recovery).',
      [...rows.values()].sort((a, b) => a[0].localeCompare(b[0])),
    );
    metric(
      'danekeeper_failures_total',
      'counter',
      'Failed pass steps by domain and error code.',
      [...this.failures.values()]
        .sort((a, b) => (a.domain + a.code).localeCompare(b.domain + b.code))
        .map((f): [string, number] => [labels({ domain: f.domain, code: f.code }), f.n]),
    );
    return `${out.join('\n')}\n`;
  }
}
