import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { DkError } from '../core/errors.js';
import { certLabel } from '../core/x509/index.js';
import {
  parseDomainList,
  runBulk,
  sharedCertReader,
  type BulkResult,
  type BulkSummary,
} from '../check/bulk.js';
import { checkDomain, checkService, exitStatus, judgeChain } from '../check/check.js';
import { judgeMemo } from '../check/verify-memo.js';
import { probePool } from '../check/probe-pool.js';
import { CachingResolver } from '../io/dns/cache.js';
import { TcpPipeline } from '../io/dns/pipeline.js';
import { StubResolver } from '../io/dns/resolver.js';
import { fileErrorReason } from '../io/file-errors.js';
import { EXIT } from './exit.js';
import { writeErr } from './io.js';
import type { AddressReport, CheckReport, HostReport } from '../check/report.js';
import { openResolver, proveValidating } from '../io/dns/index.js';
import { defaultStarttls, parseStarttlsProto, probe } from '../io/probe/index.js';
import { loadTrustStore } from './files.js';
import type { Io } from './io.js';
import { collect, parseIntOption } from './options.js';

interface CheckOpts {
  file?: string;
  concurrency?: string;
  host?: string;
  port?: string;
  starttls?: string;
  resolver: string[];
  days: string;
  json?: boolean;
  timeout?: string;
  trustStore?: string;
}

export async function runCheck(
  domain: string | undefined,
  o: CheckOpts,
  io: Io,
  now: () => Date,
  bulkIo: BulkIo = processBulkIo(),
): Promise<number> {
  if (o.file !== undefined) return runCheckFile(domain, o, io, now, bulkIo);
  if (o.concurrency !== undefined) {
    throw new DkError('usage', 'E_OPTION', '--concurrency goes with --file');
  }
  if ((domain === undefined) === (o.host === undefined)) {
    throw new DkError('usage', 'E_OPTION', 'Give either DOMAIN or --host HOST --port N, not both');
  }
  const target = (domain ?? o.host)!;
  if (isIP(target) === 0 && !/^[A-Za-z0-9_.-]+\.?$/.test(target)) {
    throw new DkError('usage', 'E_OPTION', `"${target}" is not a domain name`);
  }
  const port = parseIntOption('--port', o.port, 1, 65535) ?? 25;
  if (domain !== undefined && o.port !== undefined && port !== 25) {
    throw new DkError(
      'usage',
      'E_OPTION',
      'A DOMAIN check is SMTP on port 25; use --host HOST --port N for other services',
    );
  }
  const starttls =
    o.starttls === undefined ? defaultStarttls(port) : parseStarttlsProto(o.starttls);
  const days = parseIntOption('--days', o.days, 0, 3650)!;
  const timeout = parseIntOption('--timeout', o.timeout ?? '10', 1, 600)!;
  const resolver = await openResolver(o.resolver);
  const proof = await proveValidating(resolver);
  if (!proof.validating && !o.json) io.err(`danekeeper: ${proof.summary}`);
  const deps = {
    resolver,
    probe,
    now,
    validating: proof,
    // RFC 7671 §5.3/5.4: PKIX usages outside SMTP need the ordinary trust store.
    trustStore: port === 25 ? undefined : loadTrustStore(o.trustStore),
  };
  const opts = { port, starttls, days, timeoutMs: timeout * 1000 };
  const report =
    domain !== undefined
      ? await checkDomain(domain, deps, opts)
      : await checkService(o.host!, deps, opts);
  if (o.json) io.out(JSON.stringify(report, null, 2));
  else printReport(report, io);
  return exitStatus(report);
}

const LABEL: Record<string, string> = {
  verified: 'VERIFIED',
  failed: 'FAILED',
  unusable: 'UNUSABLE (encrypted, not authenticated)',
  'no-dane': 'NO DANE',
  'dnssec-failure': 'DNSSEC FAILURE',
  unreachable: 'UNREACHABLE',
  indeterminate: 'INDETERMINATE',
};

function printAddress(a: AddressReport, io: Io) {
  const m = a.matched
    ? `: ${a.matched.record.slice(0, 22)}… matched at depth ${a.matched.depth}`
    : '';
  io.out(`    ${a.address} (${a.status}): ${a.verdict}${m}`);
  // RFC 7671 §8.1: the other records this chain matches (the 2 1 1 beside a 3 1 1) are in use
  // too; say so, lest someone take them for stale.
  const also = a.inUse.filter((u) => u.record !== a.matched?.record);
  for (const u of also) io.out(`      also in use: ${u.record.slice(0, 22)}… at depth ${u.depth}`);
  if (a.tls) io.out(`      ${a.tls.protocol} ${a.tls.cipher}, SNI ${a.tls.servername ?? '(none)'}`);
  for (const c of a.chain) {
    io.out(`      [${c.depth}] ${certLabel(c)}  (issuer ${c.issuer || 'empty'})`);
    io.out(
      `          ${c.keyType}, valid ${c.notBefore.slice(0, 10)} to ${c.notAfter.slice(0, 10)}, SPKI SHA-256 ${c.spkiSha256}`,
    );
    if (c.match) io.out(`          matches TLSA ${c.match}`);
  }
  for (const r of a.reasons) io.out(`      - ${r}`);
}

function printHost(h: HostReport, io: Io) {
  const pref = h.preference === null ? '' : ` (MX ${h.preference})`;
  io.out(`  ${h.name}${pref}: ${LABEL[h.verdict]}`);
  if (h.tlsa) {
    const base = h.tlsaBase !== h.name ? ` (TLSA base ${h.tlsaBase})` : '';
    io.out(`    TLSA ${h.tlsa.owner}${base}: ${h.tlsa.status}, TTL ${h.tlsa.ttl ?? '-'}`);
    for (const r of h.tlsa.records) io.out(`      ${r}`);
  }
  for (const r of h.reasons) io.out(`    - ${r}`);
  for (const a of h.addresses) printAddress(a, io);
}

/** The text report; exported for tests. */
export function printReport(r: CheckReport, io: Io) {
  const what = r.domain ?? `${r.hosts[0]?.name ?? '?'}:${r.service.port}`;
  io.out(`${what}: ${LABEL[r.verdict]}`);
  if (r.delivery) io.out(`  delivery: ${r.delivery.summary}`);
  io.out(`  resolver ${r.resolver.servers.join(', ')}: ${r.resolver.summary}`);
  if (r.mx) {
    const list = r.mx.implicit
      ? 'none: the domain itself receives mail'
      : // RFC 5321 §5.1: the order senders try them, not the order the DNS answer happened to have
        [...r.mx.records]
          .sort((a, b) => a.preference - b.preference)
          .map((m) => `${m.preference} ${m.exchange}`)
          .join(', ');
    io.out(`  MX (${r.mx.status}): ${list}`);
  }
  for (const x of r.reasons) io.out(`  - ${x}`);
  for (const h of r.hosts) printHost(h, io);
  if (r.dns.length > 0) {
    io.out('  DNS answers:');
    for (const d of r.dns) {
      const recs = d.records.length > 0 ? d.records.join(' | ') : (d.rcode ?? 'no answer');
      const cname = d.cnameChain.length > 0 ? ` via CNAME ${d.cnameChain.join(' -> ')}` : '';
      io.out(`    ${d.name}/${d.type} ${d.status}${cname}: ${recs}`);
    }
  }
  if (r.warnings.length > 0) {
    io.out('  Warnings:');
    for (const w of r.warnings)
      io.out(`    - ${w.severity === 'note' ? 'note: ' : ''}${w.subject}: ${w.message}`);
  }
}

export function registerCheck(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
): void {
  program
    .command('check')
    .description('Check a mail domain (or one TLS service) the way a DANE-enabled MTA sees it')
    .argument(
      '[domain]',
      'mail domain: MX hosts, their addresses, TLSA, and a STARTTLS probe of each address',
    )
    .option('--host <name>', 'check one service instead of a mail domain')
    .option('--port <n>', 'port of the service (default 25)')
    .option(
      '--starttls <proto>',
      'STARTTLS protocol, or none for implicit TLS (default from the port)',
    )
    .option(
      '--resolver <ip[:port]>',
      'validating resolver to ask; repeatable (default: /etc/resolv.conf)',
      collect,
      [],
    )
    .option('--days <n>', 'warn when a matched certificate expires within N days', '14')
    .option(
      '--timeout <s>',
      'seconds to wait for each network step (default 10); with --file, the time limit of each domain (default 60)',
    )
    .option(
      '--file <path>',
      'check every domain listed in the file (one per line, # comments; - for stdin): one JSON line per domain',
    )
    .option('--concurrency <n>', 'with --file: domains checked at once (default 64)')
    .option(
      '--trust-store <file>',
      'PKIX roots for usages 0/1 outside SMTP (default: the system store)',
    )
    .option('--json', 'the whole report as JSON')
    .action((domain: string | undefined, opts: CheckOpts) =>
      setExit(runCheck(domain, opts, io, () => new Date())),
    );
}

// --- check --file --------------------------------------------------------------------------

/** What the bulk mode needs of the process, so tests can stand in for it. */
export interface BulkIo {
  readStdin(): Promise<string>;
  /** stderr is a terminal: show a progress line */
  stderrIsTTY: boolean;
  /** raw write to stderr (the progress line rewrites itself with \r) */
  writeErrRaw(s: string): void;
  /** calls `f` on the first SIGINT; returns the function that stops listening */
  onInterrupt(f: () => void): () => void;
}

export function processBulkIo(): BulkIo {
  return {
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    stderrIsTTY: process.stderr.isTTY,
    writeErrRaw: writeErr,
    onInterrupt: (f) => {
      // only the first Ctrl-C: a second one ends the process at once
      process.once('SIGINT', f);
      return () => process.removeListener('SIGINT', f);
    },
  };
}

const DEFAULT_CONCURRENCY = 64;
const DEFAULT_DOMAIN_TIMEOUT_S = 60;
/** the single check's default wait per network step (runCheck) */
const STEP_TIMEOUT_S = 10;
/** connections at once to one address */
const PER_ADDRESS = 2;

function countsText(s: BulkSummary): string {
  const order = [
    'verified',
    'unusable',
    'no-dane',
    'failed',
    'dnssec-failure',
    'unreachable',
    'indeterminate',
    'error',
  ] as const;
  const parts = order
    .filter((v) => (s.counts[v] ?? 0) > 0)
    .map((v) => `${s.counts[v]} ${v === 'error' ? (s.counts[v] === 1 ? 'error' : 'errors') : v}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing checked';
}

async function readList(path: string, bulkIo: BulkIo): Promise<string> {
  if (path === '-') return bulkIo.readStdin();
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new DkError('noinput', 'E_FILE', `Cannot read ${path}: ${fileErrorReason(e)}`, {
      cause: e,
    });
  }
}

/** Most lines, and longest wait in ms, before the lines finished so far are written. */
const BATCH_LINES = 256;
const BATCH_MS = 20;

/**
 * Lines go out in batches: a write system call per line (or per event-loop turn, where the
 * domains of one shared answer finish) cost more than building the JSON when thousands of
 * domains finish within a second. A line waits at most `maxMs` (a reader still sees each one
 * as its domain finishes, give or take that) and a batch holds at most `maxLines`. `write`
 * gets the lines joined by newlines, without the final one (Io.out adds it).
 */
export function lineBatcher(
  write: (text: string) => void,
  maxLines = BATCH_LINES,
  maxMs = BATCH_MS,
): { push(line: string): void; flush(): void } {
  let batch: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (batch.length > 0) write(batch.join('\n'));
    batch = [];
  };
  return {
    push(line) {
      batch.push(line);
      if (batch.length >= maxLines) flush();
      else timer ??= setTimeout(flush, maxMs);
    },
    flush,
  };
}

/**
 * `check --file LIST`: one JSON line per domain on stdout as each finishes (the object `check
 * DOMAIN --json` prints, or `{domain, line, error}` for a line that could not be checked), a
 * progress line on a terminal's stderr, a summary on stderr; exit status the worst domain's.
 */
export async function runCheckFile(
  domain: string | undefined,
  o: CheckOpts,
  io: Io,
  now: () => Date,
  bulkIo: BulkIo,
): Promise<number> {
  if (domain !== undefined || o.host !== undefined) {
    throw new DkError('usage', 'E_OPTION', 'Give either --file LIST or DOMAIN or --host, not both');
  }
  if (o.port !== undefined || o.starttls !== undefined || o.trustStore !== undefined) {
    throw new DkError(
      'usage',
      'E_OPTION',
      '--file checks mail domains (SMTP on port 25): --port, --starttls and --trust-store do not apply',
    );
  }
  const concurrency =
    parseIntOption('--concurrency', o.concurrency, 1, 1024) ?? DEFAULT_CONCURRENCY;
  const limit = parseIntOption('--timeout', o.timeout, 1, 3600) ?? DEFAULT_DOMAIN_TIMEOUT_S;
  const days = parseIntOption('--days', o.days, 0, 3650)!;
  const { entries, duplicates } = parseDomainList(await readList(o.file!, bulkIo));

  const stop = new AbortController();
  // every lookup and probe in flight listens on it: hundreds at once is the design, not a leak
  setMaxListeners(0, stop.signal);
  // Thousands of questions: over a few pipelined TCP connections to the resolver rather than a
  // UDP socket each (io/dns/pipeline.ts says why that gives up nothing against spoofing).
  const pipeline = new TcpPipeline();
  const stub = await openResolver(o.resolver);
  const resolver = new CachingResolver(new StubResolver(stub.client.withPipeline(pipeline)), {
    signal: stop.signal,
  });
  const proof = await proveValidating(resolver);
  if (!proof.validating) io.err(`danekeeper: ${proof.summary}`);
  const pool = probePool(probe, { perAddress: PER_ADDRESS, signal: stop.signal });
  const deps = {
    resolver,
    probe: pool.probe,
    now,
    validating: proof,
    parseCert: sharedCertReader(),
    judgeChain: judgeMemo(judgeChain).judge,
  };
  const check = {
    port: 25,
    starttls: 'smtp' as const,
    days,
    // each step waits as long as in `check DOMAIN`, unless the domain's limit is shorter
    timeoutMs: Math.min(STEP_TIMEOUT_S, limit) * 1000,
  };

  const started = Date.now();
  let lastProgress = 0;
  let progressShown = false;
  const progress = (s: { done: number; force?: boolean }) => {
    if (!bulkIo.stderrIsTTY) return;
    const t = Date.now();
    if (!s.force && t - lastProgress < 200) return;
    lastProgress = t;
    const rate = s.done / Math.max(0.001, (t - started) / 1000);
    bulkIo.writeErrRaw(
      `\r\x1b[K${s.done}/${entries.length} domains checked, ${rate.toFixed(0)}/s, ${pool.stats.connections} TLS connections`,
    );
    progressShown = true;
  };
  let done = 0;
  const lines = lineBatcher((text) => io.out(text));
  const onResult = (r: BulkResult) => {
    done++;
    lines.push(JSON.stringify(r.kind === 'report' ? r.report : r.error));
    progress({ done });
  };
  const unlisten = bulkIo.onInterrupt(() => stop.abort());
  let summary: BulkSummary;
  try {
    progress({ done: 0, force: true });
    summary = await runBulk(
      entries,
      deps,
      { concurrency, domainTimeoutMs: limit * 1000, check, signal: stop.signal },
      onResult,
    );
  } finally {
    unlisten();
    lines.flush();
    pipeline.close();
  }
  if (progressShown) bulkIo.writeErrRaw('\r\x1b[K');
  const secs = summary.elapsedMs / 1000;
  const rate = summary.done / Math.max(0.001, secs);
  const dup =
    duplicates > 0 ? `, ${duplicates} repeated ${duplicates === 1 ? 'line' : 'lines'} skipped` : '';
  const c = resolver.stats;
  io.err(
    `danekeeper: ${summary.interrupted ? 'interrupted: ' : ''}${summary.done} of ${summary.total} domains checked in ${secs.toFixed(1)} s (${rate.toFixed(1)}/s)${dup}: ${countsText(summary)}`,
  );
  io.err(
    `danekeeper: ${c.sent} DNS lookups sent (${pipeline.stats.queries} queries over ${pipeline.stats.connectionsOpened} pipelined TCP ${pipeline.stats.connectionsOpened === 1 ? 'connection' : 'connections'}${pipeline.stats.fellBack > 0 ? `, ${pipeline.stats.fellBack} asked again the usual way` : ''}), ${c.hits + c.joined} answered from the shared cache; ${pool.stats.connections} TLS connections for ${pool.stats.asked} address checks`,
  );
  return summary.interrupted ? EXIT.interrupted : summary.status;
}
