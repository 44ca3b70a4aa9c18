import { isIP } from 'node:net';
import type { Command } from 'commander';
import { DkError } from '../core/errors.js';
import { certLabel } from '../core/x509/index.js';
import { checkDomain, checkService, exitStatus } from '../check/check.js';
import type { AddressReport, CheckReport, HostReport } from '../check/report.js';
import { openResolver, proveValidating } from '../io/dns/index.js';
import { defaultStarttls, parseStarttlsProto, probe } from '../io/probe/index.js';
import { loadTrustStore } from './files.js';
import type { Io } from './io.js';
import { collect, parseIntOption } from './options.js';

interface CheckOpts {
  host?: string;
  port?: string;
  starttls?: string;
  resolver: string[];
  days: string;
  json?: boolean;
  timeout: string;
  trustStore?: string;
}

export async function runCheck(
  domain: string | undefined,
  o: CheckOpts,
  io: Io,
  now: () => Date,
): Promise<number> {
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
  const timeout = parseIntOption('--timeout', o.timeout, 1, 600)!;
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
    .option('--timeout <s>', 'seconds to wait for each network step', '10')
    .option(
      '--trust-store <file>',
      'PKIX roots for usages 0/1 outside SMTP (default: the system store)',
    )
    .option('--json', 'the whole report as JSON')
    .action((domain: string | undefined, opts: CheckOpts) =>
      setExit(runCheck(domain, opts, io, () => new Date())),
    );
}
