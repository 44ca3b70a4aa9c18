/**
 * `check --file`: many mail domains checked in one process. Each domain gets exactly the check
 * `check DOMAIN` runs (checkDomain); what is shared is the network underneath — one DNS cache
 * with in-flight de-duplication (io/dns/cache.ts) and one probe per MX address (probe-pool.ts)
 * — so the verdicts are the single checks' and the work is what the domains have in common
 * only once. Library code: results go to a callback, nothing is printed here.
 */
import { isIP } from 'node:net';
import { DkError, isDkError } from '../core/errors.js';
import { certFromDer, type Cert } from '../core/x509/index.js';
import type { CheckVerdict } from '../core/checks/index.js';
import type { LookupOptions, RecordType, Resolver } from '../io/dns/index.js';
import type { ProbeOptions, ProbeResult } from '../io/probe/index.js';
import { checkDomain, exitStatus, type CheckDeps, type CheckOptions } from './check.js';
import type { CheckReport } from './report.js';

/**
 * certFromDer once per presented certificate: the probe pool hands the same result (the same
 * DER buffers) to every domain on that MX host, and reading X.509 is most of a check's CPU.
 * Certificates are also kept by their bytes: one server presents the same chain to every probe
 * (each SNI name, each address it listens on), and equal bytes are the same certificate.
 * A certificate that cannot be read is not kept, so each domain gets its own error.
 */
export function sharedCertReader(maxKept = 10_000): (der: Buffer, label: string) => Cert {
  const seen = new WeakMap<Buffer, Cert>();
  const byBytes = new Map<string, Cert>();
  return (der, label) => {
    let c = seen.get(der);
    if (c) return c;
    const key = der.toString('base64');
    c = byBytes.get(key);
    if (!c) {
      c = certFromDer(der, label);
      if (byBytes.size >= maxKept) byBytes.clear();
      byBytes.set(key, c);
    }
    seen.set(der, c);
    return c;
  };
}

/** One line of the domain list. */
export interface BulkEntry {
  /** 1-based line number in the file */
  line: number;
  /** the name as written (trimmed, comment removed) */
  text: string;
  /** why the line is not a domain, or undefined */
  error?: DkError;
}

/** A domain name as `check DOMAIN` accepts it (src/cli/check.ts does the same test). */
export function domainProblem(text: string): string | null {
  // the pattern first: isIP costs several microseconds a call, thousands of times per list
  if (!/^[A-Za-z0-9_.-]+\.?$/.test(text) && isIP(text) === 0)
    return `"${text}" is not a domain name`;
  return null;
}

/**
 * The list: one domain per line; `#` starts a comment (to the end of the line); blank lines
 * are skipped. A line that is not one domain name becomes an entry with its error, reported
 * in its place; a name given again (in any case, with or without the final dot) is checked
 * once. Returns the entries and how many duplicates were dropped.
 */
export function parseDomainList(text: string): { entries: BulkEntry[]; duplicates: number } {
  const entries: BulkEntry[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const body = raw.replace(/#.*$/, '').trim();
    if (body === '') return;
    const line = i + 1;
    const shown = printable(body);
    if (/\s/.test(body)) {
      entries.push({
        line,
        text: shown,
        error: new DkError(
          'usage',
          'E_BULK_LINE',
          `line ${line}: "${shown}" is more than one word; give one domain per line`,
        ),
      });
      return;
    }
    const why = domainProblem(body);
    if (why !== null) {
      entries.push({
        line,
        text: shown,
        error: new DkError('usage', 'E_BULK_LINE', `line ${line}: ${printable(why)}`),
      });
      return;
    }
    const key = body.replace(/\.$/, '').toLowerCase();
    if (seen.has(key)) {
      duplicates++;
      return;
    }
    seen.add(key);
    entries.push({ line, text: body });
  });
  return { entries, duplicates };
}

function printable(s: string): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > 120 ? t.slice(0, 117) + '...' : t;
}

/** A domain that could not be checked: the line it came from and why. */
export interface BulkError {
  domain: string;
  line: number;
  error: { code: string; message: string };
}

export type BulkResult =
  | { kind: 'report'; entry: BulkEntry; report: CheckReport; status: number }
  | { kind: 'error'; entry: BulkEntry; error: BulkError; status: number };

/** What `check DOMAIN` would exit with for an error of this kind, on the 0..3 scale. */
const ERROR_STATUS = 3;

export interface BulkOptions {
  /** domains checked at once */
  concurrency: number;
  /** time limit of one domain's whole check, ms */
  domainTimeoutMs: number;
  check: CheckOptions;
  /** stops the run: nothing new starts, unfinished domains are dropped (Ctrl-C) */
  signal?: AbortSignal;
}

export interface BulkSummary {
  total: number;
  done: number;
  /** domains per verdict; `error` for lines that could not be checked */
  counts: Partial<Record<CheckVerdict | 'error', number>>;
  /** the worst single-domain status, 0..3 (monitoring convention) */
  status: number;
  interrupted: boolean;
  elapsedMs: number;
}

/**
 * Why one domain's check ended early (its time limit, or the run stopped), once it has. A plain
 * object rather than an AbortController per domain: nothing listens to it (see scopedResolver),
 * and Node's AbortSignal and EventTarget cost more than the check of a domain on a shared host.
 */
interface Stop {
  reason: DkError | undefined;
}

/**
 * A Resolver that asks nothing more once one domain's time is up or the run stops. A lookup
 * already asked is not stopped for the domain: it is shared with other domains and goes on
 * for them anyway, and the domain's own wait ends at its time limit in runBulk; a listener per
 * lookup on each domain's signal (thousands) cost more CPU than the lookups' answers.
 */
function scopedResolver(shared: Resolver, stop: Stop): Resolver {
  return {
    servers: shared.servers,
    lookup(name, type, opts?: LookupOptions) {
      if (stop.reason) return Promise.reject(stop.reason);
      return shared.lookup(name, type as RecordType, opts) as never;
    },
  };
}

/** The same for probes: none starts once the domain's time is up (the pool shares the rest). */
function scopedProbe(
  probe: (o: ProbeOptions) => Promise<ProbeResult>,
  stop: Stop,
): (o: ProbeOptions) => Promise<ProbeResult> {
  return (o) => {
    if (stop.reason) return Promise.reject(stop.reason);
    return probe(o);
  };
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

/**
 * Checks every entry, at most `concurrency` at once, calling `onResult` as each finishes (in
 * finishing order). `deps.resolver` and `deps.probe` should be the shared ones (CachingResolver,
 * probePool); each domain sees them through its own time limit.
 */
export async function runBulk(
  entries: readonly BulkEntry[],
  deps: CheckDeps,
  opts: BulkOptions,
  onResult: (r: BulkResult) => void,
  clock: () => number = Date.now,
): Promise<BulkSummary> {
  const started = clock();
  const summary: BulkSummary = {
    total: entries.length,
    done: 0,
    counts: {},
    status: 0,
    interrupted: false,
    elapsedMs: 0,
  };
  const record = (r: BulkResult, verdict: CheckVerdict | 'error') => {
    summary.done++;
    summary.counts[verdict] = (summary.counts[verdict] ?? 0) + 1;
    summary.status = Math.max(summary.status, r.status);
    onResult(r);
  };
  const fail = (entry: BulkEntry, e: DkError) =>
    record(
      {
        kind: 'error',
        entry,
        error: {
          domain: entry.text,
          line: entry.line,
          error: { code: e.code, message: e.message },
        },
        status: ERROR_STATUS,
      },
      'error',
    );

  // one listener on the run's signal for all domains in progress, not one per domain
  const inProgress = new Set<() => void>();
  const stopEvery = () => {
    for (const f of [...inProgress]) f();
  };
  opts.signal?.addEventListener('abort', stopEvery, { once: true });

  const one = async (entry: BulkEntry): Promise<void> => {
    if (entry.error) {
      fail(entry, entry.error);
      return;
    }
    const stop: Stop = { reason: undefined };
    let reject!: (e: DkError) => void;
    // the time limit wins even while a step is busy inside checkDomain
    const stopped = new Promise<never>((_, r) => (reject = r));
    stopped.catch(() => undefined);
    const end = (e: DkError) => {
      if (stop.reason) return;
      stop.reason = e;
      reject(e);
    };
    const stopAll = () =>
      end(new DkError('unavailable', 'E_BULK_STOPPED', `${entry.text}: the run was stopped`));
    inProgress.add(stopAll);
    const timer = setTimeout(
      () =>
        end(
          new DkError(
            'unavailable',
            'E_BULK_TIMEOUT',
            `${entry.text}: the check did not finish within ${seconds(opts.domainTimeoutMs)} (--timeout)`,
          ),
        ),
      opts.domainTimeoutMs,
    );
    try {
      const scoped: CheckDeps = {
        ...deps,
        resolver: scopedResolver(deps.resolver, stop),
        probe: scopedProbe(deps.probe, stop),
      };
      const work = checkDomain(entry.text, scoped, opts.check);
      work.catch(() => undefined);
      const report = await Promise.race([work, stopped]);
      if (opts.signal?.aborted) return;
      record({ kind: 'report', entry, report, status: exitStatus(report) }, report.verdict);
    } catch (e) {
      if (opts.signal?.aborted) return;
      // whatever a step made of the stop, the reason is the time limit
      const cause: unknown = stop.reason ?? e;
      const err = isDkError(cause)
        ? cause
        : new DkError('internal', 'E_BULK_INTERNAL', `${entry.text}: ${String(cause)}`);
      fail(entry, err);
    } finally {
      clearTimeout(timer);
      inProgress.delete(stopAll);
    }
  };

  let next = 0;
  const worker = async () => {
    while (next < entries.length && !opts.signal?.aborted) {
      const entry = entries[next++]!;
      await one(entry);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency, entries.length));
  await Promise.all(Array.from({ length: n }, worker));
  opts.signal?.removeEventListener('abort', stopEvery);
  summary.interrupted = opts.signal?.aborted ?? false;
  summary.elapsedMs = clock() - started;
  return summary;
}
