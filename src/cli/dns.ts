/**
 * `danekeeper dns ...`: publish TLSA records on the user's own DNS (the seed's DNS form, done
 * by a program), list and remove them, and watch them propagate.
 */
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
import { openPublisher, type BackendSettings } from '../publish/backend.js';
import {
  absName,
  addTlsa,
  removeTlsa,
  replaceTlsa,
  type TlsaSetResult,
} from '../publish/tlsa-set.js';
import type { BackendKind, OwnershipStore, Publisher } from '../publish/types.js';
import { defaultStorePath, openStore } from '../store/index.js';
import type { Io } from './io.js';
import { parseField, parseHostPort, parseIntOption } from './options.js';
import { recordsFromFiles } from './tlsa.js';

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

const collect = (v: string, prev: string[]) => [...prev, v];

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

function addOwnerOptions(c: Command, required: boolean): Command {
  const name = '--name <name>';
  const help = 'host name relative to the zone (mail), @ for the apex, or absolute with a dot';
  return (required ? c.requiredOption(name, help) : c.option(name, help))
    .option('--port <n>', 'port of the service (default 25)')
    .option('--proto <p>', 'tcp | udp | sctp', 'tcp');
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

export function storeFor(f: BackendFlags, ctx: Context): OwnershipStore {
  const path =
    f.state ?? ctx.config.store.path ?? defaultStorePath(ctx.env, process.getuid?.() ?? 0);
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
  return tlsaOwner(host, port, proto);
}

const rdata = (rs: TlsaRecord[]) => rs.map(formatRdata);

function printResult(r: TlsaSetResult, pub: Publisher, json: boolean, io: Io): void {
  if (json) {
    io.out(
      JSON.stringify(
        {
          zone: r.zone,
          owner: r.owner,
          backend: pub.backend,
          changed: r.changed,
          ttl: r.ttl,
          added: rdata(r.added),
          removed: rdata(r.removed),
          present: rdata(r.present),
          foreign: rdata(r.foreign),
          notOwned: rdata(r.notOwned),
          absent: rdata(r.absent),
          rrset: rdata(r.after),
        },
        null,
        2,
      ),
    );
    return;
  }
  io.out(`${r.owner} via ${pub.describe}: ${r.changed ? 'changed' : 'no change'}, TTL ${r.ttl}`);
  const line = (tag: string, rs: TlsaRecord[], note = '') => {
    for (const x of rs) io.out(`  ${tag.padEnd(9)}${formatRdata(x)}${note}`);
  };
  line('added', r.added);
  line('removed', r.removed);
  line('present', r.present, '  (already published)');
  line('by hand', r.foreign, '  (not created by danekeeper: left as it is)');
  line('absent', r.absent, '  (not published: nothing to remove)');
  line('kept', r.notOwned, '  (not created by danekeeper: needs --force)');
}

async function withPublisher<T>(
  f: BackendFlags,
  io: Io,
  fn: (pub: Publisher, store: OwnershipStore, ctx: Context) => Promise<T>,
): Promise<T> {
  const ctx = contextFor(f, process.env);
  const pub = openPublisher(backendSettings(f, ctx, io), (w) =>
    io.err(`danekeeper: warning: ${w}`),
  );
  const store = storeFor(f, ctx);
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
}

/** The records of `--usage --selector --mtype --data` and of each `--tlsa "U S M HEX"`. */
function recordsFromFlags(o: AddFlags, required: boolean): TlsaRecord[] {
  const out = o.tlsa.map((t) => parseTlsa(t));
  if (o.data !== undefined) {
    const u = parseField('usage', o.usage, 3);
    const s = parseField('selector', o.selector, 1);
    const m = parseField('mtype', o.mtype, 1);
    out.push(parseTlsa(`${u} ${s} ${m} ${o.data}`));
  } else if (o.usage ?? o.selector ?? o.mtype) {
    throw new DkError('usage', 'E_OPTION', '--usage/--selector/--mtype need --data HEX');
  }
  if (required && out.length === 0) {
    throw new DkError('usage', 'E_OPTION', 'Which record? Give --data HEX or --tlsa "U S M HEX"');
  }
  return out;
}

async function runAdd(o: AddFlags, io: Io): Promise<number> {
  const records = recordsFromFlags(o, true);
  return withPublisher(o, io, async (pub, store, ctx) => {
    const r = await addTlsa(pub, store, ownerFrom(o, ctx.zone), records, { ttl: ttlOf(o.ttl) });
    printResult(r, pub, !!o.json, io);
    return 0;
  });
}

interface PublishFlags extends BackendFlags, OwnerFlags {
  cert: string[];
  key: string[];
  chain?: boolean;
  usage?: string;
  selector?: string;
  mtype?: string;
  ttl?: string;
  replace?: boolean;
}

async function runPublish(o: PublishFlags, io: Io): Promise<number> {
  if (o.cert.length === 0 && o.key.length === 0) {
    throw new DkError('usage', 'E_OPTION', 'Nothing to publish: give --cert FILE or --key FILE');
  }
  if (o.chain && o.usage !== undefined) {
    throw new DkError('usage', 'E_OPTION', '--chain fixes the usages (3 and 2): drop --usage');
  }
  const made = recordsFromFiles(
    o.cert,
    o.key,
    {
      chain: !!o.chain,
      usage: parseField('usage', o.usage, 3),
      selector: parseField('selector', o.selector, 1),
      mtype: parseField('mtype', o.mtype, 1),
    },
    io,
  );
  const records = made.map((m) => m.record);
  return withPublisher(o, io, async (pub, store, ctx) => {
    const owner = ownerFrom(o, ctx.zone);
    const opts = { ttl: ttlOf(o.ttl) };
    // Default: publish next to what is there (the old key keeps working until the new
    // certificate is live: DESIGN.md, the one invariant). --replace drops danekeeper's others.
    const r = o.replace
      ? await replaceTlsa(pub, store, owner, records, opts)
      : await addTlsa(pub, store, owner, records, opts);
    printResult(r, pub, !!o.json, io);
    return 0;
  });
}

interface RemoveFlags extends AddFlags {
  all?: boolean;
  force?: boolean;
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
  return withPublisher(o, io, async (pub, store, ctx) => {
    const owner = ownerFrom(o, ctx.zone);
    const r = await removeTlsa(pub, store, owner, o.all ? 'owned' : records, {
      force: !!o.force,
    });
    printResult(r, pub, !!o.json, io);
    if (r.notOwned.length > 0) {
      throw new DkError(
        'usage',
        'E_NOT_OWNED',
        r.notOwned.length === 1
          ? `Nothing removed at ${owner}: a record was not created by danekeeper; add --force to remove it anyway`
          : `Nothing removed at ${owner}: ${r.notOwned.length} records were not created by danekeeper; add --force to remove them anyway`,
      );
    }
    return 0;
  });
}

interface ListFlags extends BackendFlags, OwnerFlags {}

async function runList(o: ListFlags, io: Io): Promise<number> {
  return withPublisher(o, io, async (pub, store, ctx) => {
    const mine = store.list(ctx.zone);
    const owners = [...new Set(mine.map((m) => m.owner))];
    if (o.name !== undefined || o.port !== undefined) {
      const one = ownerFrom(o, ctx.zone);
      owners.splice(0, owners.length, one);
    }
    const out = [];
    for (const owner of owners) {
      const cur = await pub.read(owner);
      const ours = mine.filter((m) => m.owner === owner);
      out.push({
        owner,
        ttl: cur.ttl,
        records: cur.records.map((r) => {
          const m = ours.find((x) => formatRdata(x.record) === formatRdata(r));
          return { record: formatRdata(r), danekeeper: !!m, since: m?.createdAt ?? null };
        }),
        // remembered but gone: someone removed it by hand
        missing: ours
          .filter((m) => !cur.records.some((r) => formatRdata(r) === formatRdata(m.record)))
          .map((m) => formatRdata(m.record)),
      });
    }
    if (o.json) {
      io.out(JSON.stringify({ zone: ctx.zone, backend: pub.backend, owners: out }, null, 2));
      return 0;
    }
    if (out.length === 0) io.out(`No TLSA records published by danekeeper in ${ctx.zone}`);
    for (const x of out) {
      io.out(`${x.owner}${x.ttl === null ? '  (no TLSA RRset)' : `  TTL ${x.ttl}`}`);
      for (const r of x.records)
        io.out(`  ${r.record}  ${r.danekeeper ? `danekeeper, since ${r.since}` : 'by hand'}`);
      for (const m of x.missing) io.out(`  ${m}  danekeeper's, but no longer published`);
    }
    return 0;
  });
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
  recordOptions(add).option('--ttl <n>', 'TTL (blank: the zone default)');
  addBackendOptions(add).action((o: AddFlags) => setExit(runAdd(o, io)));

  const publish = dns
    .command('publish')
    .description('Compute TLSA records from a certificate or key and publish them')
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
    .option('--chain', '3 1 1 for the leaf plus 2 1 1 for its issuer')
    .option('--usage <u>', 'certificate usage (default 3)')
    .option('--selector <s>', 'selector (default 1)')
    .option('--mtype <m>', 'matching type (default 1)')
    .option('--ttl <n>', 'TTL (blank: the zone default)')
    .option(
      '--replace',
      "also remove danekeeper's other records at this name (not the hand-made ones)",
    );
  addOwnerOptions(publish, true);
  addBackendOptions(publish).action((o: PublishFlags) => setExit(runPublish(o, io)));

  const list = dns
    .command('list')
    .description('Show the TLSA records danekeeper published in a zone, and those made by hand');
  addOwnerOptions(list, false);
  addBackendOptions(list).action((o: ListFlags) => setExit(runList(o, io)));

  const remove = dns
    .command('remove')
    .description('Remove TLSA records danekeeper published (records made by hand need --force)');
  addOwnerOptions(remove, true);
  recordOptions(remove)
    .option('--all', 'every record danekeeper created at this name')
    .option('--force', 'also remove records danekeeper did not create');
  addBackendOptions(remove).action((o: RemoveFlags) => setExit(runRemove(o, io)));
  return dns;
}
