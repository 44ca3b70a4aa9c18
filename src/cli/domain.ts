/**
 * `danekeeper domain add|list|show|enable-dane|disable-dane|remove`: the managed domains of the
 * automatic path (DESIGN.md "Command-line contract, automatic path"). This only records what to
 * keep secured; `danekeeper run` obtains, publishes, waits and installs.
 *
 * The prerequisite of the seed's "SSL It!" DANE option: DANE is turned on only for a domain
 * whose zones are signed with a secure chain of trust (the `dnssec status` logic), since RFC
 * 7672 §2.2 senders ignore TLSA records that do not validate.
 */
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { daneEnabled, loadConfig, splitCommand, type ConfigFile } from '../config/config.js';
import { DkError } from '../core/errors.js';
import { delegationRule, dkimRule, dnssecRule } from '../core/prereq/rules.js';
import type { DkimObservation, DnssecObservation, PrereqFinding } from '../core/prereq/types.js';
import { queryName } from '../io/dns/name.js';
import type { Resolver } from '../io/dns/types.js';
import {
  CHALLENGES,
  KEY_TYPES,
  PROTOS,
  certificateNames,
  endpointText,
  type Challenge,
  type Domain,
  type DomainSettings,
  type Endpoint,
  type KeyType,
  type Proto,
} from '../store/domains.js';
import { hostName } from '../store/guard.js';
import { defaultStorePath, statePathFor } from '../store/path.js';
import { withStoredSettings } from '../daemon/settings.js';
import { memoryState, openState, type StateStore } from '../store/state.js';
import { existsSync } from 'node:fs';
import { domainToUnicode } from 'node:url';
import { EXIT } from './exit.js';
import type { Io } from './io.js';
import { collect, parseIntOption } from './options.js';

const usage = (message: string) => new DkError('usage', 'E_OPTION', message);

/** `example.org`: a domain name with at least two labels, no wildcard, lower case. */
export function parseDomainName(text: string): string {
  let name: string;
  try {
    name = hostName(queryName(text.trim()));
  } catch {
    throw usage(`"${text}" is not a domain name`);
  }
  if (name === '.' || !name.includes('.') || name.includes('*') || name.includes('_')) {
    throw usage(`"${text}" is not a domain name a certificate can be issued for`);
  }
  const why = hostNameFault(name);
  if (why) throw usage(`"${text}" is not a domain name a certificate can be issued for: ${why}`);
  return name;
}

/**
 * What keeps a name from being a host name (null: nothing): RFC 1123 §2.1 (never dotted
 * decimal), RFC 5890 §2.3.1 LDH labels (no hyphen first or last), RFC 3696 §2 (the top-level
 * label is not all-numeric), RFC 5891 §5.4 (an `xn--` label must be a valid A-label).
 */
function hostNameFault(name: string): string | null {
  const labels = name.replace(/\.$/, '').split('.');
  if (labels.every((l) => /^[0-9]+$/.test(l)) || /^[0-9]+$/.test(labels.at(-1) ?? '')) {
    return 'an address or a numeric top-level label, not a host name';
  }
  const bad = labels.find((l) => l.startsWith('-') || l.endsWith('-'));
  if (bad) return `the label "${bad}" starts or ends with a hyphen`;
  const ace = labels.find((l) => l.startsWith('xn--') && domainToUnicode(l) === '');
  if (ace) return `"${ace}" is not a valid internationalised (xn--) label`;
  return null;
}

/** `www`, `mail`, `a.b` under the domain; the full name (`www.example.org`) is taken too. */
export function parseSubdomain(text: string, domain: string): string {
  let s = hostName(text.trim());
  if (s.endsWith(`.${domain}`)) s = s.slice(0, -domain.length - 1);
  if (s === '' || s === '@' || s === domain) {
    throw usage(`--subdomain "${text}": the domain itself is covered unless --no-domain-name`);
  }
  parseDomainName(`${s}.${domain}`);
  return s;
}

/** A host under the domain or elsewhere; a single label (`mail`) is taken as under the domain. */
export function parseHost(text: string, domain: string, what: string): string {
  const t = hostName(text.trim());
  const full = t.includes('.') ? t : `${t}.${domain}`;
  try {
    return parseDomainName(full);
  } catch {
    throw usage(`${what} "${text}" is not a host name`);
  }
}

/** `HOST:PORT[/PROTO]`: the TLSA owner is `_PORT._PROTO.HOST` (RFC 6698 §3). */
export function parseEndpoint(text: string, domain: string): Endpoint {
  const m = /^([^:/\s]+):([0-9]+)(?:\/([A-Za-z]+))?$/.exec(text.trim());
  if (!m)
    throw usage(
      `--endpoint "${text}" must be HOST:PORT or HOST:PORT/PROTO, e.g. mail.${domain}:465`,
    );
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (!(PROTOS as readonly string[]).includes(proto)) {
    throw usage(`--endpoint "${text}": the protocol must be ${PROTOS.join(', ')}`);
  }
  return {
    host: parseHost(m[1]!, domain, '--endpoint'),
    port: parseIntOption(`--endpoint "${text}": the port`, m[2], 1, 65535)!,
    proto: proto as Proto,
  };
}

/**
 * DESIGN.md: the mail host defaults to the domain's MX target(s) that are among the
 * certificate's names. The MX RRset through the validating resolver; a lookup that cannot
 * decide is an error (the user can name the host with --mail-host instead).
 */
export async function mxAmongNames(
  resolver: Resolver,
  domain: string,
  names: string[],
): Promise<{ mailHosts: string[]; mx: string[] }> {
  const r = await resolver.lookup(domain, 'MX');
  if (r.status === 'indeterminate' || r.status === 'bogus') {
    throw new DkError(
      r.status === 'bogus' ? 'config' : 'unavailable',
      'E_DOMAIN_MX',
      `Cannot find the mail host of ${domain}: its MX lookup is ${r.status}${r.why ? ` (${r.why})` : ''}; name it with --mail-host HOST`,
    );
  }
  // RFC 7505: a null MX (".") says the domain takes no mail.
  const mx = r.records.map((m) => hostName(m.exchange)).filter((h) => h !== '.' && h !== '');
  const wanted = new Set(names);
  return { mailHosts: [...new Set(mx.filter((h) => wanted.has(h)))], mx };
}

/** Outcome of the DNSSEC prerequisite for one zone. */
export interface ZoneSecurity {
  zone: string;
  ok: boolean;
  /** why not, one line */
  reason?: string;
  /** what to do, one line */
  fix?: string;
  /** the resolver could not decide (exit 69, not 78) */
  unknown?: boolean;
  /**
   * caveats that do not refuse DANE (the prereq rules' warnings: the delegation, a DS digest
   * not recommended), one line each, told on stderr when DANE is turned on
   */
  warnings?: string[];
}

export type ZoneCheck = (host: string) => Promise<ZoneSecurity>;

/** The zone that holds `name`: the closest enclosing name with an SOA RRset. */
async function zoneOf(resolver: Resolver, name: string): Promise<string> {
  const labels = name.split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    const r = await resolver.lookup(candidate, 'SOA');
    if (r.records.length > 0 && hostName(r.canonicalName) === candidate) return candidate;
  }
  return labels.slice(-2).join('.');
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** A finding's fix on one line (the DS records of a multi-line fix joined with spaces). */
const fixLine = (f: PrereqFinding) => (f.fix ? oneLine(f.fix) : undefined);

/**
 * The zone's DNSSEC finding as `danekeeper prereq` makes it (core/prereq dnssecRule: the same
 * wording, and the DS for the registrar whenever one can be derived), as a yes/no for the zone
 * holding `host`: the chain of trust must validate (RFC 4035 §5; RFC 6698 §4.1: TLSA records
 * are only usable when secure) and no critical finding may stand (e.g. one server serving the
 * zone unsigned). The delegation rule's finding, from the same observation, is a warning only.
 */
export function judgeZone(host: string, zone: string, dnssec: DnssecObservation): ZoneSecurity {
  const o = { domain: host, zone, dnssec };
  const f = dnssecRule(o);
  const warnings = [f, delegationRule(o)]
    .filter((w) => w.status === 'warn' || (w.requirement === 'delegation' && w.status === 'fail'))
    .map((w) => `${zone}: ${oneLine(w.message)}${w.fix ? ` Fix: ${fixLine(w)}` : ''}`);
  const critical = dnssec.findings.some((x) => x.severity === 'critical');
  if (dnssec.chain === 'secure' && !critical && (f.status === 'ok' || f.status === 'warn')) {
    return { zone, ok: true, ...(warnings.length ? { warnings } : {}) };
  }
  const fix = fixLine(f);
  return {
    zone,
    ok: false,
    unknown: f.status === 'unknown' || dnssec.chain === 'indeterminate',
    reason: `zone ${zone} has no secure chain of trust (chain ${dnssec.chain}). ${oneLine(f.message).replace(/\.$/, '')}`,
    ...(fix ? { fix } : {}),
  };
}

export function zoneCheck(resolver: Resolver): ZoneCheck {
  return async (host) => {
    const zone = await zoneOf(resolver, host);
    const { dnssecStatus } = await import('../publish/dnssec-status.js');
    const { dnssecObservation } = await import('./prereq-dnssec.js');
    return judgeZone(host, zone, dnssecObservation(await dnssecStatus({ zone, resolver })));
  };
}

/**
 * Refuses DANE for a domain unless every zone its endpoints' TLSA records go into is secure.
 * One line: the reason and the fix, and where the full report is.
 */
export async function requireSecureZones(
  domain: string,
  endpoints: Endpoint[],
  check: ZoneCheck,
  warn: (line: string) => void = () => {},
): Promise<string[]> {
  const hosts = [...new Set([domain, ...endpoints.map((e) => e.host)])];
  const seen = new Map<string, ZoneSecurity>();
  for (const h of hosts) {
    const s = await check(h);
    if (!seen.has(s.zone)) seen.set(s.zone, s);
  }
  for (const s of seen.values()) {
    if (s.ok) continue;
    throw new DkError(
      s.unknown ? 'unavailable' : 'config',
      'E_DOMAIN_DNSSEC',
      `Cannot turn DANE on for ${domain}: ${s.reason}.${s.fix ? ` Fix: ${s.fix}` : ''} (details: danekeeper dnssec status ${s.zone}; or add the domain with --no-dane)`,
    );
  }
  // Told only once DANE is on: a refusal stays one line, and names where the full report is.
  for (const s of seen.values()) for (const w of s.warnings ?? []) warn(w);
  return [...seen.keys()];
}

interface CommonFlags {
  config?: string;
  state?: string;
  json?: boolean;
  resolver?: string[];
}

interface AddFlags extends CommonFlags {
  subdomain?: string[];
  domainName: boolean;
  mailHost?: string[];
  endpoint?: string[];
  dane?: boolean;
  certDir?: string;
  reload?: string[];
  keyType?: string;
  newKeyEachRenewal?: boolean;
  issuerRecords?: boolean;
  challenge?: string;
}

/** Everything a command needs that is not on its command line; injectable for tests. */
export interface DomainDeps {
  env: NodeJS.ProcessEnv;
  uid: number;
  now: () => Date;
  /**
   * the resolver (made on first use: most commands need none); proven to validate unless
   * `validating` is false (a domain without DANE needs only its MX, not its DNSSEC status)
   */
  resolver: (flags: string[], config: ConfigFile, validating?: boolean) => Promise<Resolver>;
  zoneCheck: (resolver: Resolver) => ZoneCheck;
  /**
   * the DKIM key records at the common selectors (the prereq gatherer), for a warning when DANE
   * is turned on; absent: not looked at
   */
  dkim?: (resolver: Resolver, domain: string) => Promise<DkimObservation>;
}

/** The resolver's servers asked directly for TXT, as `danekeeper prereq` does. */
async function defaultDkim(resolver: Resolver, domain: string): Promise<DkimObservation> {
  const { gatherDkim } = await import('../io/prereq/gather.js');
  const { lookupTxt } = await import('../io/prereq/txt.js');
  return gatherDkim(domain, [], 5000, (name, ms) => lookupTxt(resolver.servers, name, ms));
}

/**
 * The seed asks for DKIM next to DANE (plesk-dane-guide); it is not a condition of DANE itself
 * (RFC 7672), so what prereq's DKIM rule finds is told as a warning, never a refusal.
 */
async function warnDkim(domain: string, resolver: Resolver, deps: DomainDeps, io: Io) {
  if (!deps.dkim) return;
  const f = dkimRule({ domain, dkim: await deps.dkim(resolver, domain) });
  if (f.status === 'ok') return;
  io.err(
    `danekeeper: warning: ${domain}: ${oneLine(f.message)}${f.fix ? ` Fix: ${oneLine(f.fix)}` : ''} (details, another selector: danekeeper prereq ${domain} --dkim-selector S)`,
  );
}

async function defaultResolver(
  flags: string[],
  config: ConfigFile,
  validating = true,
): Promise<Resolver> {
  // Loaded here: list, show, disable-dane and remove never touch the DNS (bench/startup.ts).
  const { openResolver, proveValidating } = await import('../io/dns/index.js');
  const r = await openResolver(flags, config.dns.resolver);
  if (!validating) return r;
  // RFC 7672 §2.1.3: the AD bit is only worth what the resolver is; one that does not
  // validate would make every zone look insecure, so say that instead.
  const proof = await proveValidating(r);
  if (!proof.validating) {
    const unreached = proof.servers.some((x) => x.checks.some((c) => c.status === 'indeterminate'));
    throw new DkError(
      unreached ? 'unavailable' : 'config',
      'E_DOMAIN_RESOLVER',
      `Cannot check the domain's DNS: ${oneLine(proof.summary.replace(/^WARNING:\s*/, ''))}`,
    );
  }
  return r;
}

export const processDeps = (): DomainDeps => ({
  env: process.env,
  uid: process.getuid?.() ?? 0,
  now: () => new Date(),
  resolver: defaultResolver,
  zoneCheck,
  dkim: defaultDkim,
});

function statePath(f: CommonFlags, config: ConfigFile, deps: DomainDeps): string {
  return statePathFor(f.state, config, deps.env, deps.uid);
}

/** `read`: a database that does not exist yet is not created by list/show. */
function openFor(f: CommonFlags, config: ConfigFile, deps: DomainDeps, read = false): StateStore {
  const path = statePath(f, config, deps);
  if (read && !existsSync(path)) return memoryState();
  return openState(path);
}

/**
 * DESIGN.md: `/etc/danekeeper/live/DOMAIN` for root; beside the state database otherwise, and
 * whenever $DANEKEEPER_STATE_DIR is set (a private instance, the lab, the tests).
 */
export function defaultCertDir(domain: string, env: NodeJS.ProcessEnv, uid: number): string {
  if (uid === 0 && !env.DANEKEEPER_STATE_DIR) return `/etc/danekeeper/live/${domain}`;
  return resolve(dirname(defaultStorePath(env, uid)), 'live', domain);
}

/**
 * The configuration with the settings an admin changed in the panel or the API put over the
 * INI file (issue 11; src/daemon/settings.ts, the merge `serve` and `run` use too), so the CLI
 * does not turn DANE on where the server has it off. No database yet: nothing overridden.
 */
function effective(config: ConfigFile, f: CommonFlags, deps: DomainDeps): ConfigFile {
  const path = statePath(f, config, deps);
  return existsSync(path) ? withStoredSettings(config, path) : config;
}

function refuseDaneOff(config: ConfigFile, merged: ConfigFile, what: string): void {
  if (!daneEnabled(merged)) {
    throw new DkError(
      'usage',
      'E_DOMAIN_DANE_DISABLED',
      daneEnabled(config)
        ? `${what}: DANE is turned off on this server (daneEnabled = false in the settings an admin changed in the panel or the API, over [ext-sslit]${config.path ? ` of ${config.path}` : ''})`
        : `${what}: DANE is turned off on this server (daneEnabled = false in [ext-sslit]${config.path ? ` of ${config.path}` : ''})`,
    );
  }
}

function oneOf<T extends string>(
  flag: string,
  v: string | undefined,
  all: readonly T[],
): T | undefined {
  if (v === undefined) return undefined;
  if (!(all as readonly string[]).includes(v))
    throw usage(`${flag} "${v}" must be one of ${all.join(', ')}`);
  return v as T;
}

export async function runAdd(name: string, o: AddFlags, io: Io, deps: DomainDeps): Promise<number> {
  const config = loadConfig(o.config, deps.env);
  const domain = parseDomainName(name);
  const keyType = oneOf<KeyType>('--key-type', o.keyType, KEY_TYPES) ?? 'ec-p256';
  const challenge = oneOf<Challenge>('--challenge', o.challenge, CHALLENGES) ?? null;
  const merged = effective(config, o, deps);
  if (o.dane === true) refuseDaneOff(config, merged, `Cannot add ${domain} with --dane`);
  // The seed's panel offers DANE where it is enabled: on unless --no-dane or daneEnabled = false.
  const dane = o.dane ?? daneEnabled(merged);
  const subdomains = [...new Set((o.subdomain ?? []).map((s) => parseSubdomain(s, domain)))];
  const includeDomainName = o.domainName;
  if (!includeDomainName && subdomains.length === 0) {
    throw usage('--no-domain-name leaves the certificate without names: add --subdomain SUB');
  }
  const names = certificateNames({ name: domain, includeDomainName, subdomains });
  const reload = (o.reload ?? []).map((r) => {
    const argv = splitCommand(r);
    if (argv.length === 0) throw usage('--reload "" names no command');
    return argv;
  });
  const extra = (o.endpoint ?? []).map((e) => parseEndpoint(e, domain));
  const certDir = resolve(o.certDir ?? defaultCertDir(domain, deps.env, deps.uid));

  // A domain that is managed already is refused before any DNS lookup.
  const early = openFor(o, config, deps, true);
  try {
    if (early.domains.get(domain)) {
      throw new DkError(
        'usage',
        'E_DOMAIN_EXISTS',
        `${domain} is managed already: danekeeper domain show ${domain} shows how; remove it first to add it anew`,
      );
    }
  } finally {
    early.close();
  }

  let resolver: Resolver | undefined;
  // Without DANE the MX only names the mail host: no DNSSEC proof is needed for that.
  const getResolver = async () =>
    (resolver ??= await deps.resolver(o.resolver ?? [], config, dane));

  let mailHosts: string[];
  if (o.mailHost?.length) {
    mailHosts = [...new Set(o.mailHost.map((h) => parseHost(h, domain, '--mail-host')))];
    for (const h of mailHosts) {
      if (!names.includes(h)) {
        throw usage(
          `--mail-host ${h} is not among the certificate's names (${names.join(', ')}): add --subdomain ${h.endsWith(`.${domain}`) ? h.slice(0, -domain.length - 1) : h}`,
        );
      }
    }
  } else {
    const found = await mxAmongNames(await getResolver(), domain, names);
    mailHosts = found.mailHosts;
    if (mailHosts.length === 0 && dane) {
      const under = found.mx.filter((h) => h.endsWith(`.${domain}`));
      throw usage(
        found.mx.length === 0
          ? `${domain} has no MX record, so no mail host to secure with DANE: name it with --mail-host HOST, or add the domain with --no-dane`
          : `None of ${domain}'s MX hosts (${found.mx.join(', ')}) is among the certificate's names (${names.join(', ')}): ${under.length ? `add --subdomain ${under[0]!.slice(0, -domain.length - 1)}` : 'add a --subdomain for it'}, or name the host with --mail-host`,
      );
    }
  }
  // DESIGN.md: port 25 of the mail host is always an endpoint (the RRset at _25._tcp.HOST).
  const endpoints: Endpoint[] = [];
  const seen = new Set<string>();
  for (const e of [
    ...mailHosts.map((host) => ({ host, port: 25, proto: 'tcp' as const })),
    ...extra,
  ]) {
    if (!seen.has(endpointText(e))) endpoints.push(e);
    seen.add(endpointText(e));
  }

  // Everything is checked before the one transaction that writes: refused input leaves no
  // half-added domain (and domains.add refuses a domain added meanwhile).
  const state = openFor(o, config, deps);
  try {
    let zones: string[] = [];
    if (dane) {
      zones = await requireSecureZones(
        domain,
        endpoints,
        deps.zoneCheck(await getResolver()),
        (w) => io.err(`danekeeper: warning: ${w}`),
      );
      await warnDkim(domain, await getResolver(), deps, io);
    }
    const settings: DomainSettings = {
      name: domain,
      includeDomainName,
      subdomains,
      mailHosts,
      endpoints,
      dane,
      certDir,
      reload,
      keyType,
      newKeyEachRenewal: !!o.newKeyEachRenewal,
      issuerRecords: !!o.issuerRecords,
      challenge,
    };
    const now = deps.now();
    const d = state.transaction(() => {
      const added = state.domains.add(settings, now);
      state.events.append(
        domain,
        'domain-added',
        `Added ${domain}: ${names.join(', ')}${dane ? `, DANE on (${zones.join(', ')} secure)` : ', DANE off'}`,
        { names, dane, mailHosts, endpoints: endpoints.map(endpointText), zones },
        now,
      );
      return added;
    });
    io.out(`Added ${domain}.`);
    printDomain(d, config, io);
    io.out('');
    io.out(
      `Next: danekeeper run obtains the certificate${dane ? ', publishes its TLSA records, waits until every nameserver serves them' : ''} and installs it in ${certDir}.`,
    );
    return EXIT.ok;
  } finally {
    state.close();
  }
}

function challengeText(d: Domain, config: ConfigFile): string {
  return d.challenge ?? `${config.acme.challenge ?? 'http-01'} (the [acme] default)`;
}

function keyPolicy(d: Domain): string {
  return d.newKeyEachRenewal
    ? `${d.keyType}, a new key at every renewal (its record published and confirmed first)`
    : `${d.keyType}, kept across renewals; a next key is published ahead (RFC 7671 §8.1)`;
}

function printDomain(d: Domain, config: ConfigFile, io: Io): void {
  const rows: [string, string][] = [
    ['names', certificateNames(d).join(', ')],
    ['mail host', d.mailHosts.join(', ') || 'none'],
    ['endpoints', d.endpoints.map(endpointText).join(', ') || 'none'],
    ['DANE', d.dane ? 'on' : 'off'],
    ['cert dir', d.certDir],
    ['reload', d.reload.map((r) => r.join(' ')).join('; ') || 'none'],
    ['key', keyPolicy(d)],
    ['issuer records', d.issuerRecords ? 'yes (2 1 1 for every current issuer of the CA)' : 'no'],
    ['challenge', challengeText(d, config)],
  ];
  for (const [k, v] of rows) io.out(`  ${`${k}:`.padEnd(16)}${v}`);
}

/** What `show --json` and `list --json` say about a domain: settings and public facts only. */
function domainJson(d: Domain, state: StateStore, withEvents: boolean) {
  const installed = state.certificates.installed(d.name);
  const rollover = state.rollover.read(d.name);
  const lease = state.rollover.lease(d.name);
  return {
    name: d.name,
    names: certificateNames(d),
    domainName: d.includeDomainName,
    subdomains: d.subdomains,
    mailHosts: d.mailHosts,
    endpoints: d.endpoints,
    dane: d.dane,
    certDir: d.certDir,
    reload: d.reload,
    keyType: d.keyType,
    newKeyEachRenewal: d.newKeyEachRenewal,
    issuerRecords: d.issuerRecords,
    challenge: d.challenge,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    keys: state.keys.list(d.name),
    certificate: installed
      ? {
          id: installed.id,
          keyId: installed.keyId,
          serial: installed.serial,
          notBefore: installed.notBefore,
          notAfter: installed.notAfter,
          ariCertId: installed.ariCertId,
          installedAt: installed.installedAt,
        }
      : null,
    rollover: rollover
      ? { stateVersion: rollover.stateVersion, updatedAt: rollover.updatedAt }
      : null,
    lease: lease ?? null,
    ...(withEvents ? { events: state.events.list({ domain: d.name, limit: 20 }) } : {}),
  };
}

function mustGet(state: StateStore, name: string): Domain {
  const d = state.domains.get(name);
  if (!d) {
    throw new DkError(
      'usage',
      'E_DOMAIN_UNKNOWN',
      `${name} is not a managed domain (danekeeper domain list shows them)`,
    );
  }
  return d;
}

export function runList(o: CommonFlags, io: Io, deps: DomainDeps): number {
  const config = loadConfig(o.config, deps.env);
  const state = openFor(o, config, deps, true);
  try {
    const all = state.domains.list();
    if (o.json) {
      io.out(JSON.stringify({ domains: all.map((d) => domainJson(d, state, false)) }, null, 2));
      return EXIT.ok;
    }
    if (all.length === 0) {
      io.out('No managed domains. Add one: danekeeper domain add example.org --subdomain mail');
      return EXIT.ok;
    }
    const rows = all.map((d) => {
      const c = state.certificates.installed(d.name);
      return [
        d.name,
        d.dane ? 'on' : 'off',
        d.mailHosts.join(',') || '-',
        c ? `until ${c.notAfter.slice(0, 10)}` : 'none yet',
      ];
    });
    const head = ['DOMAIN', 'DANE', 'MAIL HOST', 'CERTIFICATE'];
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows])
      io.out(
        r
          .map((c, i) => c.padEnd(width[i]!))
          .join('  ')
          .trimEnd(),
      );
    return EXIT.ok;
  } finally {
    state.close();
  }
}

export function runShow(name: string, o: CommonFlags, io: Io, deps: DomainDeps): number {
  const config = loadConfig(o.config, deps.env);
  const domain = parseDomainName(name);
  const state = openFor(o, config, deps, true);
  try {
    const d = mustGet(state, domain);
    const j = domainJson(d, state, true);
    if (o.json) {
      io.out(JSON.stringify(j, null, 2));
      return EXIT.ok;
    }
    io.out(d.name);
    printDomain(d, config, io);
    io.out(
      `  ${'keys:'.padEnd(16)}${j.keys.length ? j.keys.map((k) => `${k.role} ${k.type} 3 1 1 ${k.spkiSha256}`).join('; ') : 'none yet'}`,
    );
    io.out(
      `  ${'certificate:'.padEnd(16)}${j.certificate ? `serial ${j.certificate.serial}, valid ${j.certificate.notBefore} to ${j.certificate.notAfter}` : 'none yet (danekeeper run obtains it)'}`,
    );
    if (j.lease)
      io.out(
        `  ${'busy:'.padEnd(16)}a pass (${j.lease.holder}) works on it until ${j.lease.expiresAt}`,
      );
    io.out(
      `  ${'added:'.padEnd(16)}${d.createdAt}${d.updatedAt !== d.createdAt ? `, changed ${d.updatedAt}` : ''}`,
    );
    const events = j.events ?? [];
    if (events.length) {
      io.out('  events:');
      for (const e of events.slice(-5)) io.out(`    ${e.at}  ${e.kind}: ${e.message}`);
    }
    return EXIT.ok;
  } finally {
    state.close();
  }
}

/**
 * Runs `f` holding the domain's lease, so a keep-secured pass never acts on a domain that is
 * being changed under it (and a change waits for no pass: it is refused, to be retried).
 */
function withLease<T>(state: StateStore, domain: string, what: string, f: () => T): T {
  const holder = `cli-${what}-${process.pid}`;
  if (!state.rollover.acquireLease(domain, holder, 60_000)) {
    const l = state.rollover.lease(domain);
    throw new DkError(
      'tempfail',
      'E_DOMAIN_BUSY',
      `Cannot ${what} ${domain} now: a keep-secured pass (${l?.holder ?? 'another process'}) is working on it${l ? ` until ${l.expiresAt} at the latest` : ''}; try again when it is done`,
    );
  }
  try {
    return f();
  } finally {
    state.rollover.releaseLease(domain, holder);
  }
}

export async function runDane(
  name: string,
  on: boolean,
  o: CommonFlags,
  io: Io,
  deps: DomainDeps,
): Promise<number> {
  const config = loadConfig(o.config, deps.env);
  const domain = parseDomainName(name);
  if (on) refuseDaneOff(config, effective(config, o, deps), `Cannot turn DANE on for ${domain}`);
  const state = openFor(o, config, deps, true); // no database: nothing to change
  try {
    const d = mustGet(state, domain);
    if (d.dane === on) {
      io.out(`DANE is already ${on ? 'on' : 'off'} for ${domain}.`);
      return EXIT.ok;
    }
    let zones: string[] = [];
    if (on) {
      if (d.mailHosts.length === 0 && d.endpoints.length === 0) {
        throw usage(
          `Cannot turn DANE on for ${domain}: it has no mail host or endpoint to publish TLSA records for; remove it and add it again with --mail-host HOST`,
        );
      }
      const resolver = await deps.resolver(o.resolver ?? [], config);
      zones = await requireSecureZones(domain, d.endpoints, deps.zoneCheck(resolver), (w) =>
        io.err(`danekeeper: warning: ${w}`),
      );
      await warnDkim(domain, resolver, deps, io);
    }
    const now = deps.now();
    withLease(state, domain, on ? 'enable DANE for' : 'disable DANE for', () =>
      state.transaction(() => {
        state.domains.update(domain, { dane: on }, now);
        state.events.append(
          domain,
          on ? 'dane-enabled' : 'dane-disabled',
          on ? `DANE turned on (${zones.join(', ')} secure)` : 'DANE turned off',
          on ? { zones } : {},
          now,
        );
      }),
    );
    if (on) {
      io.out(
        `DANE is on for ${domain}: the next danekeeper run publishes TLSA records at ${d.endpoints.map((e) => `_${e.port}._${e.proto}.${e.host}`).join(', ')} and waits until every nameserver serves them before relying on them.`,
      );
    } else {
      // RFC 7672 §2.2: without TLSA records senders fall back to unauthenticated TLS; the
      // records are removed by the pass, which knows which are danekeeper's and still served.
      io.out(
        `DANE is off for ${domain}: the next danekeeper run removes the TLSA records it published for it; senders then use TLS without DANE authentication.`,
      );
    }
    return EXIT.ok;
  } finally {
    state.close();
  }
}

export function runRemove(name: string, o: CommonFlags, io: Io, deps: DomainDeps): number {
  const config = loadConfig(o.config, deps.env);
  const domain = parseDomainName(name);
  const state = openFor(o, config, deps, true); // no database: nothing to remove
  try {
    const d = mustGet(state, domain);
    const owners = new Set(d.endpoints.map((e) => `_${e.port}._${e.proto}.${e.host}.`));
    const left = state.ownership.list().filter((r) => owners.has(r.owner));
    const now = deps.now();
    withLease(state, domain, 'remove', () =>
      state.transaction(() => {
        state.domains.remove(domain);
        state.events.append(
          domain,
          'domain-removed',
          `Removed ${domain}; its TLSA records and files were left in place`,
          { certDir: d.certDir, records: left.length },
          now,
        );
      }),
    );
    io.out(
      `Removed ${domain}: danekeeper no longer renews it, and its keys, certificates and rollover state are gone from the state database.`,
    );
    // Left on purpose: the services still present this certificate, so its files must stay,
    // and a record that still matches them must stay too (DESIGN.md's invariant). The
    // ownership rows stay, so `dns remove` may delete the records once nothing uses them.
    io.out(`Left in place: the files in ${d.certDir} (services still use them)`);
    if (left.length) {
      io.out(
        `and ${left.length} TLSA record${left.length === 1 ? '' : 's'} danekeeper published (${[...new Set(left.map((r) => r.owner))].join(', ')}): once no service presents this certificate, remove them with danekeeper dns remove --name NAME --port PORT.`,
      );
    }
    return EXIT.ok;
  } finally {
    state.close();
  }
}

function common(c: Command, json = false): Command {
  c.option(
    '--config <file>',
    'config file (default $DANEKEEPER_CONFIG or /etc/danekeeper/danekeeper.ini)',
  ).option(
    '--state <file>',
    'state database (default [store] path, else /var/lib/danekeeper/state.db for root)',
  );
  if (json) c.option('--json', 'machine-readable output (no secrets)');
  return c;
}

const resolverOption = (c: Command) =>
  c.option(
    '--resolver <ip[:port]>',
    'validating resolver for the MX and DNSSEC checks; repeatable (default: resolver = in [dns], else resolv.conf)',
    collect,
  );

export function registerDomain(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
  deps: DomainDeps = processDeps(),
): Command {
  const domain = program
    .command('domain')
    .description('The domains danekeeper keeps secured: certificate, TLSA records, renewals');

  const add = domain
    .command('add')
    .description(
      'Manage a domain: its certificate names, mail host, endpoints, DANE and key policy',
    )
    .argument('<domain>', 'e.g. example.org')
    .option('--subdomain <sub>', 'also cover SUB.DOMAIN (www, mail, ...); repeatable', collect)
    .option('--no-domain-name', 'leave the domain name itself out of the certificate')
    .option(
      '--mail-host <host>',
      "the mail host the certificate is for (default: the domain's MX hosts among the certificate's names)",
      collect,
    )
    .option(
      '--endpoint <host:port[/proto]>',
      'another service presenting it, e.g. mail.example.org:993; repeatable',
      collect,
    )
    .option(
      '--dane',
      'publish TLSA records (the default unless daneEnabled = false); needs a DNSSEC-secure zone',
    )
    .option('--no-dane', 'no TLSA records for this domain')
    .option(
      '--cert-dir <dir>',
      'where privkey.pem, fullchain.pem, cert.pem, chain.pem go (default /etc/danekeeper/live/DOMAIN)',
    )
    .option(
      '--reload <command>',
      'run after installing, no shell, e.g. "systemctl reload postfix"; repeatable',
      collect,
    )
    .option('--key-type <type>', `${KEY_TYPES.join(' | ')} (default ec-p256)`)
    .option(
      '--new-key-each-renewal',
      'a new key at every renewal (published and confirmed before use)',
    )
    .option(
      '--issuer-records',
      "also publish 2 1 1 records for every current issuer of the CA's chain",
    )
    .option(
      '--challenge <type>',
      'http-01 | dns-01 (default: challenge = in [acme], else http-01)',
    );
  resolverOption(common(add)).action((name: string, o: AddFlags) =>
    setExit(runAdd(name, o, io, deps)),
  );

  const list = domain.command('list').description('The managed domains');
  common(list, true).action((o: CommonFlags) =>
    setExit(Promise.resolve().then(() => runList(o, io, deps))),
  );

  const show = domain
    .command('show')
    .description("A domain's settings, keys, certificate and recent events");
  common(show.argument('<domain>'), true).action((name: string, o: CommonFlags) =>
    setExit(Promise.resolve().then(() => runShow(name, o, io, deps))),
  );

  const enable = domain
    .command('enable-dane')
    .description(
      'Publish TLSA records for the domain from the next run on (needs a DNSSEC-secure zone)',
    )
    .argument('<domain>');
  resolverOption(common(enable)).action((name: string, o: CommonFlags) =>
    setExit(runDane(name, true, o, io, deps)),
  );
  const disable = domain
    .command('disable-dane')
    .description("Remove the domain's TLSA records at the next run; keep renewing its certificate")
    .argument('<domain>');
  common(disable).action((name: string, o: CommonFlags) =>
    setExit(runDane(name, false, o, io, deps)),
  );

  const remove = domain
    .command('remove')
    .description(
      'Stop managing the domain; its certificate files and TLSA records are left in place',
    )
    .argument('<domain>');
  common(remove).action((name: string, o: CommonFlags) =>
    setExit(Promise.resolve().then(() => runRemove(name, o, io, deps))),
  );
  for (const c of [domain, add, list, show, enable, disable, remove]) c.exitOverride();
  return domain;
}
