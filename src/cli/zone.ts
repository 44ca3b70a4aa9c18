/**
 * `danekeeper dns propagation` and `danekeeper dnssec status ZONE`: has every authoritative
 * server the new TLSA set, and is the zone's chain of trust ready for DANE.
 */
import type { Command } from 'commander';
import { DkError } from '../core/errors.js';
import { parseTlsa, type TlsaRecord } from '../core/tlsa/index.js';
import { openResolver, proveValidating } from '../io/dns/index.js';
import { openPublisher, powerdnsConnection } from '../publish/backend.js';
import { dnssecStatus, type DnssecReport } from '../publish/dnssec-status.js';
import { powerdnsSecureZone, powerdnsZoneSettings } from '../publish/powerdns-dnssec.js';
import {
  checkPropagation,
  confirmationWait,
  type ConfirmationWait,
  type PropagationReport,
  type ServerPropagation,
} from '../publish/propagation.js';
import {
  addBackendOptions,
  backendSettings,
  contextFor,
  ownerFrom,
  type BackendFlags,
  type Context,
} from './dns.js';
import { EXIT } from './exit.js';
import type { Io } from './io.js';
import { collect, parseIntOption } from './options.js';

/** DESIGN.md: `dane-confirmation-interval-in-hours` defaults to 24. */
const DEFAULT_CONFIRMATION_HOURS = 24;
/** how often `--wait` asks again */
const RECHECK_MS = 5000;

/** --resolver, else `resolver =` in [dns], else resolv.conf. */
async function makeResolver(flags: string[], ctx: Context, io: Io, json: boolean) {
  const r = await openResolver(flags, ctx.config.dns.resolver);
  const proof = await proveValidating(r);
  if (!proof.validating && !json) io.err(`danekeeper: ${proof.summary}`);
  return r;
}

interface PropagationFlags extends BackendFlags {
  name?: string;
  port?: string;
  proto?: string;
  resolver?: string[];
  expect?: string[];
  primary?: string;
  wait?: string;
}

/**
 * The set to compare against: --expect, else what the configured backend holds (the truth
 * danekeeper wrote), else what the zone's primary serves.
 */
async function expectedSet(
  o: PropagationFlags,
  ctx: Context,
  owner: string,
  io: Io,
): Promise<{ expected: TlsaRecord[]; expectedFrom: 'published' | 'expect-flag' } | undefined> {
  if (o.expect?.length) {
    return { expected: o.expect.map((t) => parseTlsa(t)), expectedFrom: 'expect-flag' };
  }
  let pub;
  try {
    pub = openPublisher(backendSettings(o, ctx, io), (w) => io.err(`danekeeper: warning: ${w}`));
  } catch (e) {
    if (e instanceof DkError && e.code === 'E_BACKEND_CONFIG') return undefined;
    throw e;
  }
  try {
    return { expected: (await pub.read(owner)).records, expectedFrom: 'published' };
  } finally {
    await pub.close?.();
  }
}

/** `24 h`, `1 h 30 min`, `10 min`, `600 s` */
function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : '', s ? `${s} s` : ''].filter(Boolean).join(' ');
}

/** ISO 8601 in UTC to the second, rounded up: the wait is never shown shorter than it is. */
const isoSecond = (iso: string) =>
  new Date(Math.ceil(Date.parse(iso) / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');

/** `the only server is in step`, `1 of 2 servers in step`, `all 2 servers in step` */
function headline(r: PropagationReport, short = false): string {
  const n = r.servers.length;
  if (n === 0) return 'no authoritative server found';
  if (n === 1) return r.allInStep ? 'the only server is in step' : 'the only server is not in step';
  if (r.allInStep) return `all ${n} servers in step`;
  return `${r.counts['in-step']} of ${n}${short ? '' : ' servers'} in step`;
}

/** `ns2.lab.test 127.0.54.2 (serial 3, missing 1)`: a server not in step, and why. */
function lagging(s: ServerPropagation): string {
  const parts: string[] = [];
  if (s.state === 'old') {
    if (s.serial !== null) parts.push(`serial ${s.serial}`);
    if (s.missing.length) parts.push(`missing ${s.missing.length}`);
    if (s.extra.length) parts.push(`${s.extra.length} not expected`);
  } else {
    parts.push(s.state === 'lame' ? 'not authoritative' : 'no answer');
  }
  return `${s.name} ${s.address ?? '(no address)'} (${parts.join(', ')})`;
}

const laggingList = (r: PropagationReport) =>
  r.servers
    .filter((s) => s.state !== 'in-step')
    .map(lagging)
    .join(', ');

/** Resolves when `signal` aborts (never rejects): lets a Ctrl-C cut a check or a pause short. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((res) => {
    if (signal.aborted) res();
    else signal.addEventListener('abort', () => res(), { once: true });
  });
}

function printPropagation(
  r: PropagationReport,
  confirmation: ConfirmationWait | null,
  io: Io,
): void {
  io.out(`${r.owner}: ${headline(r)}`);
  const from =
    r.expectedFrom === 'published'
      ? 'as published'
      : r.expectedFrom === 'expect-flag'
        ? 'as given by --expect'
        : `as the primary ${r.primary?.name ?? ''} serves it`;
  io.out(`Expected (${from}):${r.expected.length ? '' : ' no TLSA RRset'}`);
  for (const e of r.expected) io.out(`  ${e}`);
  const byName = [...r.servers].sort((a, b) => a.name.localeCompare(b.name));
  for (const s of byName) {
    const where = `${s.name} ${s.address ?? '(no address)'}`;
    const serial = s.serial === null ? '' : `, serial ${s.serial}`;
    let what: string = s.state;
    if (s.state === 'old') {
      const parts = [];
      if (s.missing.length) parts.push(`missing ${s.missing.length}`);
      if (s.extra.length) parts.push(`${s.extra.length} not expected`);
      what = `still the old set (${parts.join(', ')})`;
    } else if (s.why) what = `${s.state}: ${s.why}`;
    io.out(`  ${where.padEnd(40)} ${what}${serial}`);
  }
  for (const f of r.findings) io.out(`${f.severity.toUpperCase()}: ${f.message}`);
  if (r.allInStep && r.expected.length === 0) {
    const none =
      r.servers.length === 1
        ? 'The only authoritative server serves no TLSA RRset'
        : 'No authoritative server serves a TLSA RRset';
    io.out(
      `${none} at ${r.owner}, as expected. If one was removed, resolvers may still hand it out from their caches for up to its TTL.`,
    );
  }
  if (confirmation) {
    const c = confirmation;
    const who =
      r.servers.length === 1
        ? 'The only authoritative server'
        : `Every authoritative server (${r.servers.length})`;
    // DESIGN.md, the confirmation rule: all servers, then max(interval, 2 x TTL).
    io.out(
      `${who} now serves this TLSA RRset. Resolvers may still hold the old RRset in their caches for up to its TTL (${r.maxTtl} s).`,
    );
    const why =
      c.boundBy === 'interval'
        ? `the confirmation interval; 2 x TTL is ${duration(c.twiceTtlSeconds)}`
        : `2 x TTL, longer than the confirmation interval of ${duration(c.intervalSeconds)}`;
    io.out(
      `The confirmation wait may start now: ${duration(c.seconds)} (${why}), until ${isoSecond(c.until)}.`,
    );
    io.out(
      'Once it has passed, install the certificate whose key the new record matches; only then remove the old record.',
    );
  }
}

async function runPropagation(o: PropagationFlags, io: Io): Promise<number> {
  // The apex is a rare place for a TLSA record and a silent default hid typos: say which.
  if (o.name === undefined) {
    throw new DkError(
      'usage',
      'E_OPTION',
      'Which name? Give --name mail (the host of the TLSA record, relative to the zone), or --name @ for the zone apex',
    );
  }
  const ctx = contextFor(o, process.env);
  const owner = ownerFrom(o, ctx.zone);
  const wait = parseIntOption('--wait', o.wait, 0, 86400) ?? 0;
  const hours =
    ctx.config['ext-sslit']['dane-confirmation-interval-in-hours'] ?? DEFAULT_CONFIRMATION_HOURS;
  const resolver = await makeResolver(o.resolver ?? [], ctx, io, !!o.json);
  const expected = await expectedSet(o, ctx, owner, io);
  const started = Date.now();
  const deadline = started + wait * 1000;
  // Ctrl-C while waiting ends the wait, not the report: print where it stood, exit 130. Only
  // the first: the listener is gone after it, so a second Ctrl-C ends the process at once.
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  if (wait > 0) process.once('SIGINT', onSigint);
  let r: PropagationReport | undefined;
  let checks = 0;
  try {
    for (;;) {
      const check = checkPropagation({
        zone: ctx.zone,
        owner,
        resolver,
        signal: stop.signal,
        ...(expected ?? {}),
        ...(o.primary ? { primary: o.primary } : {}),
      });
      // a check cut short by Ctrl-C proves nothing: its result (or error) is dropped
      check.catch(() => undefined);
      const done = await Promise.race([check, aborted(stop.signal)]);
      if (stop.signal.aborted || !done) break;
      r = done;
      checks++;
      if (r.allInStep || Date.now() >= deadline) break;
      const pause = Math.max(0, Math.min(RECHECK_MS, deadline - Date.now()));
      if (!o.json) {
        io.err(
          `${headline(r, true)}; waiting for ${laggingList(r)}; checking again in ${Math.ceil(pause / 1000)} s`,
        );
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise((res) => (timer = setTimeout(res, pause))),
        aborted(stop.signal),
      ]);
      clearTimeout(timer);
      if (stop.signal.aborted) break;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const interrupted = stop.signal.aborted;
  if (!r) {
    // Ctrl-C before the first check finished: nothing to report but that.
    if (o.json) io.out(JSON.stringify({ owner, interrupted: true, checks: 0 }, null, 2));
    io.err(`danekeeper: interrupted before the first check of ${owner} finished`);
    return EXIT.interrupted;
  }
  const confirmation = confirmationWait(r, hours * 3600);
  if (o.json) io.out(JSON.stringify({ ...r, interrupted, confirmation }, null, 2));
  else printPropagation(r, confirmation, io);
  if (interrupted) {
    const secs = Math.round((Date.now() - started) / 1000);
    io.err(
      `danekeeper: interrupted after ${checks} ${checks === 1 ? 'check' : 'checks'} in ${secs} s; ` +
        `at the last check ${headline(r)}, waiting for ${laggingList(r)}`,
    );
    return EXIT.interrupted;
  }
  if (r.allInStep) return EXIT.ok;
  // Still propagating is a wait, not a fault; a server that cannot be asked is.
  return r.counts.unreachable > 0 || r.counts.lame > 0 ? EXIT.critical : EXIT.warning;
}

interface DnssecFlags extends BackendFlags {
  resolver?: string[];
  secure?: boolean;
  software?: string;
}

function printDnssec(r: DnssecReport, io: Io): void {
  const state = r.ready
    ? 'ready for DANE'
    : r.signing === 'unsigned'
      ? 'not signed'
      : `not ready (chain ${r.chain.status})`;
  io.out(`${r.zone}: ${r.signing}, chain ${r.chain.status}: ${state}`);
  for (const k of r.keys) {
    io.out(`  key ${String(k.keyTag).padEnd(6)} ${k.role.toUpperCase()} ${k.algorithmName}`);
  }
  const ds = r.parentDs ?? r.resolverDs.records;
  if (r.parent) io.out(`DS at the parent (${r.parent}):${ds.length ? '' : ' none'}`);
  for (const m of r.dsMatches) {
    const match =
      m.matchesKey === null
        ? m.checked
          ? 'matches no key of the zone'
          : 'not checked'
        : `matches key ${m.matchesKey}${m.keyFlags === 257 ? ' (KSK)' : ''}`;
    io.out(`  ${m.ds}  ${match}`);
  }
  io.out('Servers:');
  for (const s of r.servers) {
    const serial = s.serial === null ? '' : `, serial ${s.serial}`;
    io.out(
      `  ${`${s.name} ${s.address ?? '(no address)'}`.padEnd(40)} ${s.state}${serial}${s.why ? `: ${s.why}` : ''}`,
    );
  }
  for (const f of r.findings) {
    io.out(`${f.severity.toUpperCase()}: ${f.message}`);
    if (f.fix) for (const l of f.fix.split('\n')) io.out(`  ${l}`);
  }
}

/** `Example.org.` and `example.org` are one zone. */
const sameZone = (a: string, b: string) =>
  a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

async function runDnssec(zoneArg: string | undefined, o: DnssecFlags, io: Io): Promise<number> {
  // The zone: the argument, else --zone, else zone = in [dns], as every dns command takes it.
  if (zoneArg !== undefined && o.zone !== undefined && !sameZone(zoneArg, o.zone)) {
    throw new DkError(
      'usage',
      'E_OPTION',
      `Two zones given: ${zoneArg} and --zone ${o.zone}; give one`,
    );
  }
  const ctx = contextFor({ ...o, zone: zoneArg ?? o.zone }, process.env, false);
  if ((zoneArg ?? o.zone ?? ctx.config.dns.zone) === undefined) {
    throw new DkError(
      'usage',
      'E_OPTION',
      'Which zone? Give it as an argument (danekeeper dnssec status example.org), or --zone ZONE, or zone = in [dns]',
    );
  }
  const software = o.software ?? (ctx.backend === 'powerdns' ? 'powerdns' : undefined);
  if (software !== undefined && !['bind', 'knot', 'powerdns'].includes(software)) {
    throw new DkError(
      'usage',
      'E_OPTION',
      `--software "${software}" must be bind, knot or powerdns`,
    );
  }
  const extra: DnssecReport['findings'] = [];
  if (ctx.backend === 'powerdns' || o.secure) {
    if (ctx.backend !== 'powerdns') {
      throw new DkError(
        'usage',
        'E_OPTION',
        '--secure signs the zone through the PowerDNS API: add --backend powerdns',
      );
    }
    const api = powerdnsConnection(backendSettings(o, ctx, io));
    if (o.secure) await powerdnsSecureZone(api);
    const z = await powerdnsZoneSettings(api);
    if (z.soaEditApi === '') {
      extra.push({
        severity: 'warning',
        code: 'PDNS_SOA_EDIT_API',
        subject: ctx.zone,
        message: `SOA-EDIT-API is not set for ${ctx.zone}: changes made through the API keep the SOA serial, so secondaries never fetch them`,
        fix: `pdnsutil set-meta ${ctx.zone.replace(/\.$/, '')} SOA-EDIT-API DEFAULT`,
      });
    }
  }
  const resolver = await makeResolver(o.resolver ?? [], ctx, io, !!o.json);
  const r = await dnssecStatus({
    zone: ctx.zone,
    resolver,
    ...(software ? { software: software as 'bind' | 'knot' | 'powerdns' } : {}),
  });
  r.findings.push(...extra);
  if (o.json) io.out(JSON.stringify(r, null, 2));
  else printDnssec(r, io);
  if (r.chain.status === 'indeterminate') return EXIT.unknown;
  if (r.findings.some((f) => f.severity === 'critical') || r.chain.status === 'bogus') {
    return EXIT.critical;
  }
  if (!r.ready || r.findings.some((f) => f.severity === 'warning')) return EXIT.warning;
  return EXIT.ok;
}

export function registerZoneStatus(
  dns: Command,
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
): void {
  const prop = dns
    .command('propagation')
    .description('Ask every authoritative server (RD=0) whether it serves the TLSA set')
    .option('--name <name>', 'host name relative to the zone (mail), @ for the apex; required')
    .option('--port <n>', 'port of the service (default 25)')
    .option('--proto <p>', 'tcp | udp | sctp', 'tcp')
    .option(
      '--expect <record>',
      'the set to look for, "U S M HEX"; repeatable (default: what the backend holds, else what the primary serves)',
      collect,
    )
    .option('--primary <address>', "the primary's address, when the SOA MNAME is not it")
    .option('--resolver <ip[:port]>', 'validating resolver (default: resolv.conf)', collect)
    .option(
      '--wait <s>',
      'check again every 5 s until every server is in step, at most this long (Ctrl-C: the last report, exit 130)',
    );
  addBackendOptions(prop).action((o: PropagationFlags) => setExit(runPropagation(o, io)));

  const dnssec = program
    .command('dnssec')
    .description("The zone's DNSSEC: signed, DS at the parent, chain of trust");
  const status = dnssec
    .command('status')
    .description(
      'Is the zone ready for DANE? Prints the DS (and DNSKEY) to give the registrar when missing',
    )
    .argument('[zone]', 'the zone, e.g. example.org (default: --zone, else zone = in [dns])')
    .option('--resolver <ip[:port]>', 'validating resolver (default: resolv.conf)', collect)
    .option('--secure', 'PowerDNS: sign the zone through its API first, then report')
    .option('--software <name>', 'what serves the zone, for the fix hints: bind | knot | powerdns');
  addBackendOptions(status).action((zone: string | undefined, o: DnssecFlags) =>
    setExit(runDnssec(zone, o, io)),
  );
  for (const c of [prop, dnssec, status]) c.exitOverride();
}
