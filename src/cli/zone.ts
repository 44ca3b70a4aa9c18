/**
 * `danekeeper dns propagation` and `danekeeper dnssec status ZONE`: has every authoritative
 * server the new TLSA set, and is the zone's chain of trust ready for DANE.
 */
import type { Command } from 'commander';
import { DkError } from '../core/errors.js';
import { parseTlsa, type TlsaRecord } from '../core/tlsa/index.js';
import { loadResolverConfig, proveValidating, StubResolver } from '../io/dns/index.js';
import { openPublisher, powerdnsConnection } from '../publish/backend.js';
import { dnssecStatus, type DnssecReport } from '../publish/dnssec-status.js';
import { powerdnsSecureZone, powerdnsZoneSettings } from '../publish/powerdns-dnssec.js';
import { checkPropagation, type PropagationReport } from '../publish/propagation.js';
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
import { parseIntOption } from './options.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** --resolver, else `resolver =` in [dns], else resolv.conf. */
async function makeResolver(flags: string[], ctx: Context, io: Io, json: boolean) {
  const fromFile = ctx.config.dns.resolver;
  const resolver = flags.length > 0 ? flags : fromFile ? [fromFile] : [];
  const conf = await loadResolverConfig({ resolver });
  const r = new StubResolver({
    servers: conf.servers,
    timeoutMs: conf.timeoutMs ?? 3000,
    tries: conf.attempts ?? 2,
  });
  const proof = await proveValidating(r);
  if (!proof.validating && !json) io.err(`danekeeper: ${proof.summary}`);
  return r;
}

interface PropagationFlags extends BackendFlags {
  name?: string;
  port?: string;
  proto?: string;
  resolver: string[];
  expect: string[];
  primary?: string;
  wait?: string;
}

/**
 * The set to compare against: --expect, else what the configured backend holds (the truth
 * danekeeper wrote), else what the zone's primary serves.
 */
async function expectedSet(
  o: PropagationFlags,
  owner: string,
  io: Io,
): Promise<TlsaRecord[] | undefined> {
  if (o.expect.length > 0) return o.expect.map((t) => parseTlsa(t));
  const ctx = contextFor(o, process.env);
  let pub;
  try {
    pub = openPublisher(backendSettings(o, ctx, io), (w) => io.err(`danekeeper: warning: ${w}`));
  } catch (e) {
    if (e instanceof DkError && e.code === 'E_BACKEND_CONFIG') return undefined;
    throw e;
  }
  try {
    return (await pub.read(owner)).records;
  } finally {
    await pub.close?.();
  }
}

function printPropagation(r: PropagationReport, io: Io): void {
  const head = r.allInStep
    ? `all ${r.servers.length} servers in step`
    : `${r.counts['in-step']} of ${r.servers.length} servers in step`;
  io.out(`${r.owner}: ${head}`);
  const from =
    r.expectedFrom === 'caller'
      ? 'as published'
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
  if (r.allInStep && r.maxTtl !== null) {
    io.out(
      `The confirmation wait may start now; it is never shorter than 2 x TTL = ${2 * r.maxTtl} s.`,
    );
  }
}

async function runPropagation(o: PropagationFlags, io: Io): Promise<number> {
  const ctx = contextFor(o, process.env);
  const owner = ownerFrom(o, ctx.zone);
  const wait = parseIntOption('--wait', o.wait, 0, 86400) ?? 0;
  const resolver = await makeResolver(o.resolver, ctx, io, !!o.json);
  const expected = await expectedSet(o, owner, io);
  const deadline = Date.now() + wait * 1000;
  let r: PropagationReport;
  for (;;) {
    r = await checkPropagation({
      zone: ctx.zone,
      owner,
      resolver,
      ...(expected ? { expected } : {}),
      ...(o.primary ? { primary: o.primary } : {}),
    });
    if (r.allInStep || Date.now() >= deadline) break;
    if (!o.json)
      io.err(`${r.counts['in-step']} of ${r.servers.length} in step; checking again in 5 s`);
    await new Promise((res) => setTimeout(res, 5000));
  }
  if (o.json) io.out(JSON.stringify(r, null, 2));
  else printPropagation(r, io);
  if (r.allInStep) return EXIT.ok;
  // Still propagating is a wait, not a fault; a server that cannot be asked is.
  return r.counts.unreachable > 0 || r.counts.lame > 0 ? EXIT.critical : EXIT.warning;
}

interface DnssecFlags extends BackendFlags {
  resolver: string[];
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

async function runDnssec(zoneArg: string, o: DnssecFlags, io: Io): Promise<number> {
  const ctx = contextFor({ ...o, zone: zoneArg }, process.env);
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
  const resolver = await makeResolver(o.resolver, ctx, io, !!o.json);
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
    .option('--name <name>', 'host name relative to the zone (mail), @ for the apex', '@')
    .option('--port <n>', 'port of the service (default 25)')
    .option('--proto <p>', 'tcp | udp | sctp', 'tcp')
    .option(
      '--expect <record>',
      'the set to look for, "U S M HEX"; repeatable (default: as published)',
      collect,
      [],
    )
    .option('--primary <address>', "the primary's address, when the SOA MNAME is not it")
    .option('--resolver <ip[:port]>', 'validating resolver (default: resolv.conf)', collect, [])
    .option('--wait <s>', 'check again every 5 s until every server is in step, at most this long');
  addBackendOptions(prop).action((o: PropagationFlags) => setExit(runPropagation(o, io)));

  const dnssec = program
    .command('dnssec')
    .description("The zone's DNSSEC: signed, DS at the parent, chain of trust");
  const status = dnssec
    .command('status')
    .description(
      'Is the zone ready for DANE? Prints the DS (and DNSKEY) to give the registrar when missing',
    )
    .argument('<zone>', 'the zone, e.g. example.org')
    .option('--resolver <ip[:port]>', 'validating resolver (default: resolv.conf)', collect, [])
    .option('--secure', 'PowerDNS: sign the zone through its API first, then report')
    .option('--software <name>', 'what serves the zone, for the fix hints: bind | knot | powerdns');
  addBackendOptions(status).action((zone: string, o: DnssecFlags) =>
    setExit(runDnssec(zone, o, io)),
  );
  for (const c of [prop, dnssec, status]) c.exitOverride();
}
