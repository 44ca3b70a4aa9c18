/**
 * `danekeeper dns ...`: publish TLSA records on the user's own DNS (the seed's DNS form, done
 * by a program), list and remove them, and watch them propagate.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { loadConfig, readSecret, splitCommand, type ConfigFile } from '../config/config.js';
import { DkError } from '../core/errors.js';
import {
  formatRdata,
  parseTlsa,
  tlsaOwner,
  type TlsaRecord,
  type TransportProto,
} from '../core/tlsa/index.js';
import type { Cert } from '../core/x509/index.js';
import { openResolver } from '../io/dns/index.js';
import {
  defaultPort,
  defaultStarttls,
  parseStarttlsProto,
  probe,
  STARTTLS_PROTOS,
} from '../io/probe/index.js';
import { openPublisher, type BackendSettings } from '../publish/backend.js';
import {
  endpointGuard,
  endpointOf,
  observeEndpoint,
  shortRecord,
  type EndpointSeen,
  type GuardJudgement,
  type ObserveDeps,
  type PlannedChange,
} from '../publish/endpoint-guard.js';
import {
  absName,
  addTlsa,
  removeTlsa,
  replaceTlsa,
  type SetOptions,
  type TlsaSetResult,
} from '../publish/tlsa-set.js';
import type { BackendKind, OwnershipStore, Publisher } from '../publish/types.js';
import { defaultStorePath, memoryStore, openStore } from '../store/index.js';
import { loadTrustStore } from './files.js';
import { registerDnsList } from './dns-list.js';
import type { Io } from './io.js';
import { collect, parseField, parseHostPort, parseIntOption } from './options.js';
import { makeRecords, recordsFromFiles } from './tlsa.js';

/** Flags every `dns` subcommand takes: where to publish and where the state lives. */
export interface BackendFlags {
  config?: string;
  zone?: string;
  backend?: string;
  server?: string;
  tsigKey?: string;
  apiUrl?: string;
  apiKeyFile?: string;
  serverId?: string;
  zoneFile?: string;
  includeFile?: string;
  reloadCmd?: string;
  state?: string;
  timeout?: string;
  json?: boolean;
}

interface OwnerFlags {
  name?: string;
  port?: string;
  proto?: string;
}

export function addBackendOptions(c: Command): Command {
  return c
    .option(
      '--config <file>',
      'config file (default $DANEKEEPER_CONFIG or /etc/danekeeper/danekeeper.ini)',
    )
    .option('--zone <zone>', 'the zone to publish in (default: zone = in [dns])')
    .option(
      '--backend <kind>',
      'zonefile | rfc2136 | powerdns (default: the config file, else zonefile)',
    )
    .option('--server <host[:port]>', 'rfc2136: the primary server that takes updates')
    .option(
      '--tsig-key <file>',
      'rfc2136: TSIG key file, as nsupdate -k takes (or $DANEKEEPER_TSIG_KEY)',
    )
    .option('--api-url <url>', 'powerdns: the API base URL, e.g. http://127.0.0.1:8081')
    .option('--api-key-file <file>', 'powerdns: file holding the API key (or $DANEKEEPER_API_KEY)')
    .option('--server-id <id>', 'powerdns: server id (default localhost)')
    .option('--zone-file <file>', "zonefile: the zone's master file")
    .option(
      '--include-file <file>',
      "zonefile: write the records to this file of danekeeper's, which the zone $INCLUDEs",
    )
    .option(
      '--reload-cmd <command>',
      'zonefile: run after each write, e.g. "rndc reload example.org"',
    )
    .option('--state <file>', 'state database (default /var/lib/danekeeper/state.db for root)')
    .option('--timeout <s>', 'seconds to wait for the DNS server or API', '10')
    .option('--json', 'machine-readable output');
}

function addOwnerOptions(c: Command, required: boolean, fetch = false): Command {
  const name = '--name <name>';
  const help =
    'host name relative to the zone (mail), @ for the apex, or absolute with a dot' +
    (fetch ? ' (default with --fetch: the fetched host)' : '');
  return (required ? c.requiredOption(name, help) : c.option(name, help))
    .option(
      '--port <n>',
      `port of the service (default ${fetch ? 'the --fetch port, else ' : ''}25)`,
    )
    .option('--proto <p>', 'tcp | udp | sctp', 'tcp');
}

/** --force, --dry-run and how the live endpoint is looked at, for commands that may remove. */
function addGuardOptions(c: Command, force: string, fetch = false): Command {
  return c
    .option('--force', force)
    .option('--dry-run', 'show the change (and the UPDATE or API call) without making it')
    .option(
      '--resolver <ip[:port]>',
      `validating resolver for the endpoint check${fetch ? ' and --fetch' : ''}; repeatable (default: resolver = in [dns], else resolv.conf)`,
      // no default value: commander would print "(default: [])" after the real default
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option(
      '--starttls <proto>',
      `how to reach the endpoint: ${STARTTLS_PROTOS.join(' ')} (default from the port)`,
    );
}

export interface Context {
  config: ConfigFile;
  zone: string;
  backend: BackendKind;
  env: NodeJS.ProcessEnv;
}

export function contextFor(f: BackendFlags, env: NodeJS.ProcessEnv, needZone = true): Context {
  const config = loadConfig(f.config, env);
  const zone = f.zone ?? config.dns.zone;
  if (needZone && !zone) {
    throw new DkError('usage', 'E_OPTION', 'Which zone? Give --zone ZONE (or zone = in [dns])');
  }
  const backend = (f.backend ?? config.dns.backend ?? 'zonefile') as BackendKind;
  if (!['zonefile', 'rfc2136', 'powerdns'].includes(backend)) {
    throw new DkError(
      'usage',
      'E_OPTION',
      `--backend "${f.backend}" must be zonefile, rfc2136 or powerdns`,
    );
  }
  return { config, zone: absName(zone ?? '.'), backend, env };
}

/** Merges flags over the config file and reads the secrets; warnings go to stderr. */
export function backendSettings(f: BackendFlags, ctx: Context, io: Io): BackendSettings {
  const d = ctx.config.dns;
  const s: BackendSettings = { backend: ctx.backend, zone: ctx.zone };
  const timeout = parseIntOption('--timeout', f.timeout, 1, 3600);
  if (timeout) s.timeoutMs = timeout * 1000;
  const secret = (file: string | undefined, envName: string, what: string) => {
    const v = readSecret(file, envName, ctx.env, what);
    if (v?.warning) io.err(`danekeeper: ${v.warning}`);
    return v;
  };
  if (ctx.backend === 'rfc2136') {
    const server = f.server ?? d.server;
    if (server) s.server = parseHostPort(server, 53);
    const key = secret(f.tsigKey ?? d['tsig-key-file'], 'DANEKEEPER_TSIG_KEY', 'TSIG key');
    if (key) s.tsigKey = { text: key.value, source: key.source };
  } else if (ctx.backend === 'powerdns') {
    const url = f.apiUrl ?? d['api-url'];
    if (url) s.apiUrl = url;
    const key = secret(f.apiKeyFile ?? d['api-key-file'], 'DANEKEEPER_API_KEY', 'API key');
    if (key) s.apiKey = key.value.trim();
    s.serverId = f.serverId ?? d['server-id'] ?? 'localhost';
  } else {
    const file = f.zoneFile ?? d['zone-file'];
    if (file) s.zoneFile = file;
    const include = f.includeFile ?? d['include-file'];
    if (include) s.includeFile = include;
    const reload = f.reloadCmd ?? d['reload-command'];
    if (reload) s.reloadCommand = splitCommand(reload);
  }
  return s;
}

/**
 * The state database. `readOnly` (dns list, --dry-run): a database that does not exist yet is
 * not created for a command that changes nothing; an empty one in memory stands in for it.
 */
function storeFor(
  f: BackendFlags,
  ctx: Context,
  opts: { readOnly?: boolean } = {},
): OwnershipStore {
  const path =
    f.state ?? ctx.config.store.path ?? defaultStorePath(ctx.env, process.getuid?.() ?? 0);
  if (opts.readOnly && !existsSync(path)) return memoryStore();
  return openStore(path);
}

/** `_25._tcp.mail.example.org.` from --name mail --port 25 --proto tcp in the zone. */
export function ownerFrom(o: OwnerFlags, zone: string): string {
  const proto = (o.proto ?? 'tcp') as TransportProto;
  if (!['tcp', 'udp', 'sctp'].includes(proto)) {
    throw new DkError('usage', 'E_OPTION', `--proto "${o.proto}" must be tcp, udp or sctp`);
  }
  const port = parseIntOption('--port', o.port, 1, 65535) ?? 25;
  const name = o.name ?? '@';
  const host =
    name === '@' ? zone : name.endsWith('.') ? name : `${name}.${zone === '.' ? '' : zone}`;
  const owner = tlsaOwner(host, port, proto);
  // RFC 1035 §5.1: a name without the final dot is relative to the origin, so a full host
  // name typed without it gets the zone twice (nc-user.dyn.test.dyn.test.). Nobody means that.
  const z = zone.replace(/\.$/, '').toLowerCase();
  const n = name.toLowerCase();
  if (name !== '@' && !name.endsWith('.') && z !== '' && (n === z || n.endsWith(`.${z}`))) {
    throw new DkError(
      'usage',
      'E_NAME_DOUBLED',
      `--name ${name} is relative to the zone ${absName(zone)}, so it names ${owner}: did you mean --name ${name}.${n === z ? ' (or @)' : ''}?`,
    );
  }
  return owner;
}

const rdata = (rs: TlsaRecord[]) => rs.map(formatRdata);

/** What the endpoint check saw, for output: null when the change removed nothing. */
type EndpointReport =
  { skipped: string; host?: string; port?: number } | (GuardJudgement & { skipped?: undefined });

function endpointJson(e: EndpointReport | null) {
  if (!e) return null;
  if (e.skipped !== undefined) return { skipped: e.skipped };
  return {
    host: e.host,
    port: e.port,
    unresolved: e.unresolved ?? null,
    addresses: e.addresses.map((a) => ({
      address: a.address,
      state: a.state,
      subject: a.subject,
      matchedBefore: rdata(a.matchedBefore),
      matchedAfter: rdata(a.matchedAfter),
      error: a.error ?? null,
    })),
  };
}

function endpointLines(e: EndpointReport | null): string[] {
  if (!e) return [];
  if (e.skipped !== undefined) return [`  endpoint not checked: ${e.skipped}`];
  if (e.unresolved !== undefined) return [`  endpoint ${e.host}: ${e.unresolved}`];
  if (e.addresses.length === 0)
    return [`  endpoint ${e.host} has no addresses: nothing presents a chain`];
  return e.addresses.map((a) => {
    const who = `  endpoint ${a.address}:${e.port}${a.subject ? ` (${a.subject})` : ''}`;
    switch (a.state) {
      case 'matched':
        return `${who} still matches ${a.matchedAfter.map(shortRecord).join(', ')}`;
      case 'lost':
        return `${who} would match no record`;
      case 'unmatched':
        return `${who} matches no record, before or after (not made worse)`;
      case 'unreachable':
        return `${who} could not be reached: ${a.error}`;
    }
  });
}

function printResult(
  r: TlsaSetResult,
  pub: Publisher,
  json: boolean,
  io: Io,
  endpoint: EndpointReport | null = null,
): void {
  if (json) {
    io.out(
      JSON.stringify(
        {
          zone: r.zone,
          owner: r.owner,
          backend: pub.backend,
          changed: r.changed,
          dryRun: r.dryRun,
          ttl: r.ttl,
          added: rdata(r.added),
          removed: rdata(r.removed),
          present: rdata(r.present),
          foreign: rdata(r.foreign),
          notOwned: rdata(r.notOwned),
          absent: rdata(r.absent),
          rrset: rdata(r.after),
          wire: r.wire,
          endpoint: endpointJson(endpoint),
        },
        null,
        2,
      ),
    );
    return;
  }
  const what = r.dryRun
    ? r.change
      ? 'dry run, would change (nothing was sent)'
      : 'dry run, no change needed'
    : r.changed
      ? 'changed'
      : 'no change';
  io.out(`${r.owner} via ${pub.describe}: ${what}, TTL ${r.ttl}`);
  const line = (tag: string, rs: TlsaRecord[], note = '') => {
    for (const x of rs) io.out(`  ${tag.padEnd(9)}${formatRdata(x)}${note}`);
  };
  line(r.dryRun ? 'add' : 'added', r.added);
  line(r.dryRun ? 'remove' : 'removed', r.removed);
  line('present', r.present, '  (already published)');
  line('by hand', r.foreign, '  (not created by danekeeper: left as it is)');
  line('absent', r.absent, '  (not published: nothing to remove)');
  line('kept', r.notOwned, '  (not created by danekeeper: needs --force)');
  for (const l of endpointLines(endpoint)) io.out(l);
  if (r.dryRun && r.wire.length > 0) {
    io.out(`  would send:`);
    for (const w of r.wire) io.out(`    ${w}`);
  }
}

/** Opens the backend and the state for one command, and closes both however it ends. */
export async function withPublisher<T>(
  f: BackendFlags,
  io: Io,
  fn: (pub: Publisher, store: OwnershipStore, ctx: Context) => Promise<T>,
  ctx: Context = contextFor(f, process.env),
  readOnly = false,
): Promise<T> {
  const pub = openPublisher(backendSettings(f, ctx, io), (w) =>
    io.err(`danekeeper: warning: ${w}`),
  );
  const store = storeFor(f, ctx, { readOnly });
  try {
    return await fn(pub, store, ctx);
  } finally {
    store.close();
    await pub.close?.();
  }
}

const ttlOf = (t: string | undefined) => parseIntOption('--ttl', t, 0, 2147483647) ?? null;

interface AddFlags extends BackendFlags, OwnerFlags {
  usage?: string;
  selector?: string;
  mtype?: string;
  data?: string;
  tlsa: string[];
  ttl?: string;
  force?: boolean;
  dryRun?: boolean;
}

/**
 * `--data HEX` as typed: hex digits, spaces allowed between groups (as a zone file splits
 * them, RFC 6698 §2.2). Offsets count in the text the user gave, not in a record built from it.
 */
export function dataFlag(text: string): Buffer {
  const bad = text.search(/[^0-9a-fA-F\s]/);
  if (bad >= 0) {
    throw new DkError(
      'data',
      'E_HEX',
      `--data: "${text[bad]}" at offset ${bad} is not a hex digit`,
      { offset: bad },
    );
  }
  const hex = text.replace(/\s+/g, '');
  if (hex.length === 0) {
    throw new DkError('usage', 'E_OPTION', '--data is empty: give the association data in hex');
  }
  if (hex.length % 2 !== 0) {
    throw new DkError(
      'data',
      'E_HEX',
      `--data: odd number of hex digits (${hex.length}); each byte is two`,
      { offset: text.length },
    );
  }
  return Buffer.from(hex, 'hex');
}

/** A `--tlsa "U S M HEX"` value; a parse error names the flag and the text it was given. */
function tlsaFlag(text: string): TlsaRecord {
  try {
    return parseTlsa(text);
  } catch (e) {
    if (!(e instanceof DkError)) throw e;
    throw new DkError(e.kind, e.code, `--tlsa "${text}": ${e.message}`, {
      offset: e.offset,
      cause: e,
    });
  }
}

/** The records of `--usage --selector --mtype --data` and of each `--tlsa "U S M HEX"`. */
function recordsFromFlags(o: AddFlags, required: boolean): TlsaRecord[] {
  const out = o.tlsa.map(tlsaFlag);
  if (o.data !== undefined) {
    out.push({
      usage: parseField('usage', o.usage, 3),
      selector: parseField('selector', o.selector, 1),
      mtype: parseField('mtype', o.mtype, 1),
      data: dataFlag(o.data),
    });
  } else if (o.usage ?? o.selector ?? o.mtype) {
    throw new DkError('usage', 'E_OPTION', '--usage/--selector/--mtype need --data HEX');
  }
  if (required && out.length === 0) {
    throw new DkError('usage', 'E_OPTION', 'Which record? Give --data HEX or --tlsa "U S M HEX"');
  }
  return out;
}

/** Flags of the commands that may remove records: how to look at the live endpoint. */
interface GuardFlags {
  force?: boolean;
  dryRun?: boolean;
  resolver?: string[];
  starttls?: string;
  timeout?: string;
}

/** RFC 7671 §5.3/5.4: PKIX usages outside SMTP are judged against the ordinary trust store. */
function trustStoreFor(owner: string): Cert[] | undefined {
  const port = endpointOf(owner)?.port ?? 25;
  return port === 25 ? undefined : loadTrustStore(undefined);
}

/** --resolver, else `resolver =` in [dns], else resolv.conf (as dns propagation). */
async function observeDeps(o: GuardFlags, ctx: Context): Promise<ObserveDeps> {
  const resolver = await openResolver(o.resolver, ctx.config.dns.resolver);
  const timeout = parseIntOption('--timeout', o.timeout, 1, 3600) ?? 10;
  return { resolver, probe, timeoutMs: timeout * 1000 };
}

interface Guard {
  hook: (p: PlannedChange) => Promise<void>;
  /** what the check saw (or why it did not look); null while nothing was removed */
  report(): EndpointReport | null;
  /** in a dry run, the refusal the real run would meet: thrown after the plan is shown */
  refused(): Error | undefined;
}

/**
 * The endpoint check of DESIGN.md's invariant, as tlsa-set's beforeApply hook. The resolver and
 * the probe are set up only once a change removes something. --force skips the probe (and says
 * so); in a dry run a refusal is kept and thrown after the plan is printed.
 */
function guardFor(o: GuardFlags, ctx: Context, owner: string, seen: EndpointSeen[] = []): Guard {
  let report: EndpointReport | null = null;
  let refused: Error | undefined;
  let inner: Promise<(p: PlannedChange) => Promise<void>> | undefined;
  const build = async () => {
    const deps = await observeDeps(o, ctx);
    const starttls = o.starttls === undefined ? undefined : parseStarttlsProto(o.starttls);
    return endpointGuard({
      ...deps,
      now: () => new Date(),
      starttls,
      seen,
      trustStore: trustStoreFor(owner),
      onJudgement: (j) => (report = j),
    });
  };
  return {
    hook: async (p) => {
      if (p.remove.length === 0) return;
      if (o.force) {
        report = { skipped: '--force' };
        return;
      }
      inner ??= build();
      try {
        await (
          await inner
        )(p);
      } catch (e) {
        if (!o.dryRun || !(e instanceof DkError)) throw e;
        refused = e;
      }
    },
    report: () => report,
    refused: () => refused,
  };
}

function setOptions(
  o: { ttl?: string; force?: boolean; dryRun?: boolean },
  guard?: Guard,
): SetOptions {
  const opts: SetOptions = { ttl: ttlOf(o.ttl), force: !!o.force, dryRun: !!o.dryRun };
  if (guard) opts.beforeApply = guard.hook;
  return opts;
}

/** Prints the result, then a dry run's refusal (same exit status as the real run). */
function finish(r: TlsaSetResult, pub: Publisher, o: { json?: boolean }, io: Io, g?: Guard) {
  printResult(r, pub, !!o.json, io, g?.report() ?? null);
  const no = g?.refused();
  if (no) throw no;
}

async function runAdd(o: AddFlags, io: Io): Promise<number> {
  const records = recordsFromFlags(o, true);
  const ctx = contextFor(o, process.env);
  const owner = ownerFrom(o, ctx.zone);
  return withPublisher(
    o,
    io,
    async (pub, store) => {
      // Adding never takes a match away: no endpoint check needed.
      const r = await addTlsa(pub, store, owner, records, setOptions(o));
      finish(r, pub, o, io);
      return 0;
    },
    ctx,
    !!o.dryRun,
  );
}

interface PublishFlags extends BackendFlags, OwnerFlags, GuardFlags {
  cert: string[];
  key: string[];
  fetch?: string;
  chain?: boolean;
  usage?: string;
  selector?: string;
  mtype?: string;
  ttl?: string;
  replace?: boolean;
}

interface Fetched {
  host: string;
  port: number;
  records: TlsaRecord[];
  seen: EndpointSeen;
}

/**
 * `--fetch HOST[:PORT]`: every address of HOST (through the validating resolver, as a sender
 * finds them) is probed, and the records are computed from what each presents, as `tlsa
 * --fetch` does. One RRset serves them all, so addresses that need different records are
 * refused, named, rather than published half-right.
 */
async function fetchRecords(
  o: PublishFlags,
  ctx: Context,
  io: Io,
  rec: { chain: boolean; usage: number; selector: number; mtype: number },
): Promise<Fetched> {
  const proto = o.starttls === undefined ? undefined : parseStarttlsProto(o.starttls);
  const { host, port } = parseHostPort(o.fetch!, proto ? defaultPort(proto) : 25);
  const deps = await observeDeps(o, ctx);
  const seen = await observeEndpoint(host, port, proto ?? defaultStarttls(port), deps);
  const where = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  if (seen.unresolved !== undefined) {
    throw new DkError('unavailable', 'E_FETCH', `--fetch ${where}: ${seen.unresolved}`);
  }
  if (seen.addresses.length === 0) {
    throw new DkError(
      'unavailable',
      'E_FETCH',
      `--fetch ${where}: ${host} has no A or AAAA records`,
    );
  }
  const down = seen.addresses.flatMap((a) => ('error' in a ? [a.error] : []));
  if (down.length > 0) {
    throw new DkError('unavailable', 'E_FETCH', `--fetch ${where}: ${down.join('; ')}`);
  }
  const per = seen.addresses.map((a, i) => {
    const chain = 'chain' in a ? a.chain : [];
    const origin = `${a.address} (${where})`;
    // The bundle tlsa --fetch builds: exactly what the server presented, leaf first.
    const bundle = {
      chains: [{ origin, chain }],
      cas: chain.slice(1).map((cert) => ({ origin, cert })),
      originOf: () => origin,
      unused: [],
    };
    // Warnings about the chain once, not once per address.
    const records = makeRecords([bundle], [], rec, i === 0 ? io : undefined).map((m) => m.record);
    return { address: a.address, subject: chain[0]?.subject ?? '', records };
  });
  const key = (rs: TlsaRecord[]) => rs.map(formatRdata).sort().join('|');
  if (per.some((p) => key(p.records) !== key(per[0]!.records))) {
    const list = per
      .map((p) => `${p.address} presents ${p.subject} (${p.records.map(shortRecord).join(', ')})`)
      .join('; ');
    throw new DkError(
      'data',
      'E_FETCH_DIFFERS',
      `--fetch ${where}: its addresses present different certificates: ${list}; make them present the same one, or publish each with --cert`,
    );
  }
  return { host: seen.host, port, records: per[0]!.records, seen };
}

async function runPublish(o: PublishFlags, io: Io): Promise<number> {
  if (o.fetch !== undefined && (o.cert.length > 0 || o.key.length > 0)) {
    throw new DkError('usage', 'E_OPTION', '--fetch cannot be combined with --cert or --key');
  }
  if (o.fetch === undefined && o.cert.length === 0 && o.key.length === 0) {
    throw new DkError(
      'usage',
      'E_OPTION',
      'Nothing to publish: give --cert FILE, --key FILE or --fetch HOST[:PORT]',
    );
  }
  if (o.chain && o.usage !== undefined) {
    throw new DkError('usage', 'E_OPTION', '--chain fixes the usages (3 and 2): drop --usage');
  }
  const rec = {
    chain: !!o.chain,
    usage: parseField('usage', o.usage, 3),
    selector: parseField('selector', o.selector, 1),
    mtype: parseField('mtype', o.mtype, 1),
  };
  const ctx = contextFor(o, process.env);
  if (o.fetch === undefined && o.name === undefined) {
    throw new DkError(
      'usage',
      'E_OPTION',
      'Which name? Give --name NAME (mail, @ for the apex, or mail.example.org.)',
    );
  }
  let records: TlsaRecord[];
  let owner: string;
  const seen: EndpointSeen[] = [];
  if (o.fetch !== undefined) {
    // Check the flags before the network is asked.
    if (o.name !== undefined) ownerFrom(o, ctx.zone);
    const f = await fetchRecords(o, ctx, io, rec);
    if (o.name === undefined && isIP(f.host) !== 0) {
      throw new DkError(
        'usage',
        'E_OPTION',
        `--fetch ${o.fetch} is an address: give --name for the TLSA owner (RFC 6698 §3 names a host)`,
      );
    }
    // What an operator means by `--fetch mx1.example.org:25`: _25._tcp.mx1.example.org.
    owner = ownerFrom(
      { ...o, name: o.name ?? `${f.host}.`, port: o.port ?? String(f.port) },
      ctx.zone,
    );
    records = f.records;
    seen.push(f.seen);
  } else {
    owner = ownerFrom(o, ctx.zone);
    records = recordsFromFiles(o.cert, o.key, rec, io).map((m) => m.record);
  }
  const guard = guardFor(o, ctx, owner, seen);
  return withPublisher(
    o,
    io,
    async (pub, store) => {
      const opts = setOptions(o, guard);
      // Default: publish next to what is there (the old key keeps working until the new
      // certificate is live: DESIGN.md, the one invariant). --replace drops danekeeper's others,
      // once the endpoint check has seen that every address keeps a match.
      const r = o.replace
        ? await replaceTlsa(pub, store, owner, records, opts)
        : await addTlsa(pub, store, owner, records, opts);
      finish(r, pub, o, io, guard);
      return 0;
    },
    ctx,
    !!o.dryRun,
  );
}

interface RemoveFlags extends AddFlags, GuardFlags {
  all?: boolean;
}

async function runRemove(o: RemoveFlags, io: Io): Promise<number> {
  const records = recordsFromFlags(o, false);
  if (o.all === records.length > 0) {
    throw new DkError(
      'usage',
      'E_OPTION',
      'Say what to remove: --data HEX / --tlsa "U S M HEX", or --all for every record danekeeper created there',
    );
  }
  const ctx = contextFor(o, process.env);
  const owner = ownerFrom(o, ctx.zone);
  const guard = guardFor(o, ctx, owner);
  return withPublisher(
    o,
    io,
    async (pub, store) => {
      const r = await removeTlsa(
        pub,
        store,
        owner,
        o.all ? 'owned' : records,
        setOptions(o, guard),
      );
      printResult(r, pub, !!o.json, io, guard.report());
      if (r.notOwned.length > 0) {
        throw new DkError(
          'usage',
          'E_NOT_OWNED',
          r.notOwned.length === 1
            ? `Nothing removed at ${owner}: a record was not created by danekeeper; add --force to remove it anyway`
            : `Nothing removed at ${owner}: ${r.notOwned.length} records were not created by danekeeper; add --force to remove them anyway`,
        );
      }
      const no = guard.refused();
      if (no) throw no;
      return 0;
    },
    ctx,
    !!o.dryRun,
  );
}

export function registerDns(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
): Command {
  const dns = program
    .command('dns')
    .description(
      "Publish TLSA records on your own DNS: zone file, RFC 2136 (TSIG) or PowerDNS's API",
    );

  const recordOptions = (c: Command) =>
    c
      .option('--usage <u>', 'certificate usage: 0-3 or an RFC 7218 name (default 3)')
      .option('--selector <s>', 'selector: 0/Cert or 1/SPKI (default 1)')
      .option('--mtype <m>', 'matching type: 0/Full, 1/SHA2-256, 2/SHA2-512 (default 1)')
      .option('--data <hex>', 'the certificate association data')
      .option('--tlsa <record>', 'a whole record "U S M HEX"; repeatable', collect, []);

  const add = dns
    .command('add-tlsa')
    .description("Publish one TLSA record, as in a DNS panel's form (port, protocol, name, ...)");
  addOwnerOptions(add, true);
  recordOptions(add)
    .option('--ttl <n>', 'TTL (blank: the zone default)')
    .option(
      '--force',
      'publish a record DANE clients cannot use, or change the TTL of records made by hand',
    )
    .option('--dry-run', 'show the change (and the UPDATE or API call) without making it');
  addBackendOptions(add).action((o: AddFlags) => setExit(runAdd(o, io)));

  const publish = dns
    .command('publish')
    .description('Compute TLSA records from a certificate, a key or a live server and publish them')
    .option(
      '--cert <file>',
      'certificate or bundle (PEM/DER), or a certbot live/ directory',
      collect,
      [],
    )
    .option(
      '--key <file>',
      'a key with no certificate yet (the next key): a 3 1 1 record',
      collect,
      [],
    )
    .option(
      '--fetch <host[:port]>',
      'take the chain every address of a live server presents, as tlsa --fetch (default port 25)',
    )
    .option('--chain', '3 1 1 for the leaf plus 2 1 1 for its issuer')
    .option('--usage <u>', 'certificate usage (default 3)')
    .option('--selector <s>', 'selector (default 1)')
    .option('--mtype <m>', 'matching type (default 1)')
    .option('--ttl <n>', 'TTL (blank: the zone default)')
    .option(
      '--replace',
      "also remove danekeeper's other records at this name (not the hand-made ones), once the live endpoint still matches what stays",
    );
  addGuardOptions(
    publish,
    'replace even when the live endpoint would match no record (or cannot be reached); publish unusable records',
    true,
  );
  addOwnerOptions(publish, false, true);
  addBackendOptions(publish).action((o: PublishFlags) => setExit(runPublish(o, io)));

  registerDnsList(dns, io, setExit);

  const remove = dns
    .command('remove')
    .description(
      'Remove TLSA records danekeeper published, unless the live endpoint needs them (records made by hand need --force)',
    );
  addOwnerOptions(remove, true);
  recordOptions(remove).option(
    '--all',
    'every record danekeeper created at this name (with --force: every TLSA record there)',
  );
  addGuardOptions(
    remove,
    'also remove records danekeeper did not create, and even when the live endpoint would match no record (or cannot be reached)',
  );
  addBackendOptions(remove).action((o: RemoveFlags) => setExit(runRemove(o, io)));
  return dns;
}
