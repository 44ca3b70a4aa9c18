import { isIP } from 'node:net';
import type { Command } from 'commander';
import { DkError } from '../core/errors.js';
import {
  explainRecord,
  explainSet,
  formatRdata,
  formatZoneLine,
  generateTlsa,
  parseTlsaRr,
  recordToJson,
  tlsaOwner,
  type Finding,
  type RecordExplanation,
  type TlsaRecord,
  type TransportProto,
} from '../core/tlsa/index.js';
import {
  certFromDer,
  certLabel,
  findIssuer,
  parseCertificates,
  parseKey,
  sortBundle,
} from '../core/x509/index.js';
import { shortRdata } from '../core/dane/index.js';
import type { Cert } from '../core/x509/index.js';
import {
  defaultPort,
  defaultStarttls,
  parseStarttlsProto,
  probe,
  STARTTLS_PROTOS,
  type StarttlsProto,
} from '../io/probe/index.js';
import { EXIT } from './exit.js';
import { expandPath, readInput } from './files.js';
import { collect, parseField, parseHostPort, parseIntOption } from './options.js';
import type { Io } from './io.js';

interface TlsaOpts {
  cert: string[];
  key: string[];
  fetch?: string;
  starttls?: string;
  chain?: boolean;
  usage?: string;
  selector?: string;
  mtype?: string;
  host?: string;
  port?: string;
  proto?: string;
  ttl?: string;
  format: string;
  verbose?: boolean;
  timeout?: string;
}

/** Where a record came from, for JSON output and messages. */
export interface Made {
  record: TlsaRecord;
  source: Record<string, string | number>;
}

function certSource(c: Cert, origin: string, depth: number): Record<string, string | number> {
  return {
    type: 'certificate',
    origin,
    depth,
    subject: c.subject,
    issuer: c.issuer,
    notAfter: c.notAfter.toISOString(),
    keyType: c.keyType,
  };
}

/** A certificate and the file it was first read from. */
type Sourced = { origin: string; cert: Cert };

/**
 * What one --cert argument (a file or a directory) or --fetch holds, sorted (sortBundle): a
 * chain per server certificate, the CA certificates a trust-anchor record is made from, and
 * what is used for nothing.
 */
interface Bundle {
  chains: { origin: string; chain: Cert[] }[];
  /** the file a certificate was first read from */
  originOf: (c: Cert) => string;
  cas: Sourced[];
  unused: (Sourced & { why: string })[];
}

function sortPool(pool: Sourced[]): Bundle {
  const origin = new Map<string, string>();
  for (const x of pool) {
    const id = x.cert.der.toString('base64');
    if (!origin.has(id)) origin.set(id, x.origin);
  }
  const from = (cert: Cert) => ({ origin: origin.get(cert.der.toString('base64'))!, cert });
  const s = sortBundle(pool.map((x) => x.cert));
  // Trust anchors in chain order (issuer above issuer), then the others as they came.
  const ordered = s.guessedLeaf ? s.chains.flat() : s.chains.flatMap((ch) => ch.slice(1));
  const cas = [...new Set([...ordered, ...s.cas])].filter((c) => s.cas.includes(c));
  return {
    chains: s.chains.map((chain) => ({ origin: from(chain[0]!).origin, chain })),
    originOf: (c) => from(c).origin,
    cas: cas.map(from),
    unused: s.unused.map((u) => ({ ...from(u.cert), why: u.why })),
  };
}

/**
 * Loads every --cert argument. A file is one pool and a directory (/etc/letsencrypt/live/NAME
 * splits one chain over cert.pem, chain.pem and fullchain.pem) is one pool of all its files;
 * each pool is sorted into server certificates and their chains (sortBundle), so every
 * self-signed certificate in it gets its record and nothing is dropped unsaid.
 */
function loadBundles(paths: string[], io: Io): Bundle[] {
  const bundles: Bundle[] = [];
  for (const p of paths) {
    const { files, fromDir } = expandPath(p);
    const pool: Sourced[] = [];
    for (const f of files) {
      try {
        const certs = parseCertificates(readInput(f), f);
        pool.push(...certs.map((cert) => ({ origin: f, cert })));
      } catch (e) {
        // A directory also holds privkey.pem and a README: skip what holds no certificate,
        // but never a file the user named.
        if (!fromDir || !(e instanceof DkError) || e.kind !== 'data') throw e;
        io.verbose(`skipping: ${e.message}`);
      }
    }
    if (fromDir && pool.length === 0) {
      throw new DkError(
        'data',
        'E_NO_CERT_IN_DIR',
        `${p}: no file in the directory holds a certificate`,
      );
    }
    bundles.push(sortPool(pool));
  }
  return bundles;
}

function loadKeys(paths: string[]): { origin: string; spki: Buffer; keyType: string }[] {
  return paths.map((k) => {
    const info = parseKey(readInput(k), k);
    return { origin: k, spki: info.spki, keyType: info.keyType };
  });
}

/** The records of `tlsa --cert/--key`, for commands that publish them (dns publish). */
export function recordsFromFiles(
  certs: string[],
  keys: string[],
  o: { chain: boolean; usage: number; selector: number; mtype: number },
  io: Io,
): Made[] {
  return makeRecords(loadBundles(certs, io), loadKeys(keys), o, io);
}

/** The leaf's issuer for --chain's 2 1 1, or undefined for a self-signed leaf (it has none). */
function issuerOf(chain: Cert[], origin: string): Cert | undefined {
  const leaf = chain[0]!;
  const issuer = findIssuer(leaf, chain.slice(1));
  if (!issuer && chain.length === 1 && leaf.selfIssued) return undefined;
  if (!issuer) {
    const why =
      chain.length === 1
        ? 'holds only the leaf certificate'
        : 'holds no certificate that issued the leaf';
    throw new DkError(
      'data',
      'E_NO_ISSUER',
      `${origin} ${why}, so there is no issuer for the 2 1 1 record (--chain needs leaf + intermediate)`,
    );
  }
  return issuer;
}

export function makeRecords(
  bundles: Bundle[],
  keys: { origin: string; spki: Buffer; keyType: string }[],
  o: { chain: boolean; usage: number; selector: number; mtype: number },
  io?: Io,
): Made[] {
  const out: Made[] = [];
  const warn = (m: string) => io?.err(`danekeeper: warning: ${m}`);
  const say = (m: string) => io?.verbose(m);
  const add = (c: Cert, usage: number, origin: string, depth: number, role: string) => {
    const record = generateTlsa(c, usage, o.selector, o.mtype);
    say(`${shortRdata(record)}: ${certLabel(c)} (${origin}), ${role}`);
    out.push({ record, source: certSource(c, origin, depth) });
  };
  for (const { chains, cas, unused, originOf } of bundles) {
    if (!o.chain && (o.usage === 2 || o.usage === 0)) {
      // Trust-anchor usages name the CA certificates; a lone certificate is taken as the
      // anchor the user meant.
      const anchors =
        cas.length > 0 ? cas : chains.map((x) => ({ origin: x.origin, cert: x.chain[0]! }));
      for (const a of anchors) {
        const chain = chains.find((x) => x.chain.includes(a.cert))?.chain;
        add(a.cert, o.usage, a.origin, chain ? chain.indexOf(a.cert) : 0, 'CA certificate');
      }
      for (const { origin, chain } of cas.length > 0 ? chains : []) {
        say(
          `no record for ${certLabel(chain[0]!)} (${origin}): a server certificate, and usage ${o.usage} names CA certificates`,
        );
      }
      continue;
    }
    for (const { origin, chain } of chains) {
      const leaf = chain[0]!;
      // --chain is the pair the seeds recommend: DANE-EE for the server's key, DANE-TA for
      // its issuer.
      add(leaf, o.chain ? 3 : o.usage, origin, 0, 'server certificate');
      if (!o.chain) continue;
      const issuer = issuerOf(chain, origin);
      if (issuer) {
        add(issuer, 2, originOf(issuer), chain.indexOf(issuer), `issuer of ${certLabel(leaf)}`);
      } else {
        // RFC 7671 §5.2: a DANE-TA record names an issuer above the leaf; a self-signed
        // certificate has none, and a 2 x x record of the leaf itself would never match.
        warn(
          `${origin}: ${certLabel(leaf)} is self-signed: it has no issuer, so no 2 1 1 record for it`,
        );
      }
    }
    for (const u of unused) {
      warn(`${u.origin}: ${certLabel(u.cert)}: not used: ${u.why}`);
    }
  }
  for (const k of keys) {
    if (o.selector !== 1) {
      throw new DkError(
        'usage',
        'E_SELECTOR_NEEDS_CERT',
        `${k.origin}: a key gives only selector 1 (SPKI) records`,
      );
    }
    const usage = o.chain ? 3 : o.usage;
    const record = generateTlsa({ spki: k.spki }, usage, 1, o.mtype);
    say(`${shortRdata(record)}: the key in ${k.origin}`);
    out.push({ record, source: { type: 'key', origin: k.origin, keyType: k.keyType } });
  }
  // The same key in two inputs (cert.pem and fullchain.pem) is one record in DNS.
  const seen = new Set<string>();
  return out.filter((m) => {
    const key = formatRdata(m.record);
    if (seen.has(key)) {
      say(
        `${shortRdata(m.record)}: the same record again (${String(m.source.origin)}), printed once`,
      );
      return false;
    }
    seen.add(key);
    return true;
  });
}

async function fetchChain(
  o: TlsaOpts,
  io: Io,
): Promise<{ origin: string; chain: Cert[]; host: string; port: number }> {
  const proto: StarttlsProto | undefined =
    o.starttls === undefined ? undefined : parseStarttlsProto(o.starttls);
  const { host, port } = parseHostPort(o.fetch!, proto ? defaultPort(proto) : 25);
  const timeout = parseIntOption('--timeout', o.timeout, 1, 3600) ?? 10;
  const res = await probe({
    host,
    port,
    starttls: proto ?? defaultStarttls(port),
    connectTimeoutMs: timeout * 1000,
    readTimeoutMs: timeout * 1000,
    totalTimeoutMs: timeout * 4000,
    transcript: o.verbose ? (dir, line) => io.verbose(`${dir}: ${line}`) : undefined,
  });
  const origin = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  // Exactly what the server sent, in the order sent: the leaf is what it presented first.
  return {
    origin,
    host,
    port,
    chain: res.chain.map((der, i) => certFromDer(der, `${origin} certificate ${i + 1}`)),
  };
}

export async function runTlsa(o: TlsaOpts, io: Io): Promise<number> {
  if (!['rdata', 'zone', 'json'].includes(o.format)) {
    throw new DkError('usage', 'E_OPTION', `--format "${o.format}" must be rdata, zone or json`);
  }
  if (!o.fetch && o.cert.length === 0 && o.key.length === 0) {
    throw new DkError(
      'usage',
      'E_OPTION',
      'Nothing to compute: give --cert FILE, --key FILE or --fetch HOST[:PORT]',
    );
  }
  if (o.fetch && (o.cert.length > 0 || o.key.length > 0)) {
    throw new DkError('usage', 'E_OPTION', '--fetch cannot be combined with --cert or --key');
  }
  if (o.chain && o.usage !== undefined) {
    throw new DkError(
      'usage',
      'E_OPTION',
      '--chain fixes the usages (3 for the leaf, 2 for its issuer): drop --usage',
    );
  }
  const usage = parseField('usage', o.usage, 3);
  const selector = parseField('selector', o.selector, 1);
  const mtype = parseField('mtype', o.mtype, 1);
  const ttl = parseIntOption('--ttl', o.ttl, 0, 2147483647);
  const proto = (o.proto ?? 'tcp') as TransportProto;
  if (!['tcp', 'udp', 'sctp'].includes(proto)) {
    throw new DkError('usage', 'E_OPTION', `--proto "${o.proto}" must be tcp, udp or sctp`);
  }
  let ownerHost = o.host;
  let ownerPort = parseIntOption('--port', o.port, 1, 65535);

  let bundles: Bundle[];
  const keys: { origin: string; spki: Buffer; keyType: string }[] = [];
  if (o.fetch) {
    const f = await fetchChain(o, io);
    // Exactly what the server presented: its first certificate is the leaf (RFC 8446 §4.4.2).
    bundles = [
      {
        chains: [{ origin: f.origin, chain: f.chain }],
        cas: f.chain.slice(1).map((cert) => ({ origin: f.origin, cert })),
        originOf: () => f.origin,
        unused: [],
      },
    ];
    // An address literal is no owner name: a TLSA owner is _PORT._PROTO.HOSTNAME (RFC 6698 §3).
    if (isIP(f.host) === 0) ownerHost ??= f.host;
    ownerPort ??= f.port;
  } else {
    bundles = loadBundles(o.cert, io);
    keys.push(...loadKeys(o.key));
  }
  const made = makeRecords(bundles, keys, { chain: !!o.chain, usage, selector, mtype }, io);

  let owner: string | undefined;
  if (ownerHost !== undefined) owner = tlsaOwner(ownerHost, ownerPort ?? 25, proto);
  if (o.format === 'zone' && owner === undefined) {
    throw new DkError(
      'usage',
      'E_OPTION',
      '--format zone needs --host NAME (and --port N, default 25) for the owner name',
    );
  }
  if (o.format === 'rdata') {
    for (const m of made) io.out(formatRdata(m.record));
  } else if (o.format === 'zone') {
    for (const m of made) io.out(formatZoneLine(owner!, m.record, ttl));
  } else {
    io.out(
      JSON.stringify(
        made.map((m) => ({ ...recordToJson(m.record, owner, ttl), source: m.source })),
        null,
        2,
      ),
    );
  }
  return 0;
}

/**
 * `tlsa explain`'s exit status, in the monitoring-plugin convention `verify` and `check` use
 * (DESIGN.md): 0 OK when no record or the set draws a warning (notes do not count); 1 WARNING
 * for any warning — a record no DANE-enabled MTA can use, one that breaks at the next renewal,
 * a lone 2 x x, no record to roll over to — and also when no record is usable at all: senders
 * then still insist on TLS but cannot authenticate the server (RFC 7672 §2.2), which `verify`
 * and `check` call WARNING too ("unusable"). 2 CRITICAL is theirs alone: it means a DANE client
 * refuses to deliver, which only the server's chain can show. Malformed records stay 65.
 */
export function explainStatus(each: RecordExplanation[], set: Finding[]): number {
  const warned = [...each.flatMap((e) => e.findings), ...set].some((f) => f.severity === 'warning');
  return warned || !each.some((e) => e.usableSmtp) ? EXIT.warning : EXIT.ok;
}

export async function runExplain(
  texts: string[],
  o: { json?: boolean; smtp?: boolean },
  io: Io,
): Promise<number> {
  if (texts.length === 0)
    throw new DkError('usage', 'E_OPTION', 'explain needs at least one record, e.g. "3 1 1 <hex>"');
  const records = texts.map((t) => parseTlsaRr(t).record);
  const each = records.map(explainRecord);
  const set = explainSet(records);
  const status = explainStatus(each, set);
  if (o.json) {
    io.out(JSON.stringify({ records: each, set }, null, 2));
    return status;
  }
  for (const e of each) {
    io.out(e.rdata);
    for (const m of e.meaning) io.out(`  ${m}`);
    io.out(`  Usable by a DANE-enabled MTA (SMTP, RFC 7672): ${e.usableSmtp ? 'yes' : 'no'}`);
    io.out(`  Usable for other TLS services (RFC 7671): ${e.usableGeneric ? 'yes' : 'no'}`);
    for (const r of e.unusableReasons) io.out(`  unusable: ${r}`);
    for (const f of e.findings.filter((x) => x.code !== 'unusable'))
      io.out(`  ${f.severity}: ${f.message}`);
    io.out('');
  }
  if (records.length > 1 || set.length > 0) {
    io.out(
      records.length > 1
        ? `The set of ${records.length} records:`
        : 'As the only record at its name:',
    );
    if (set.length === 0) io.out('  no problems found');
    for (const f of set) io.out(`  ${f.severity}: ${f.message}`);
  }
  return status;
}

export function registerTlsa(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
): void {
  const tlsa = program
    .command('tlsa')
    .description('Compute TLSA records from certificates, keys or a live server; explain a record')
    .option(
      '--cert <file>',
      'certificate or bundle (PEM or DER); repeatable; a directory takes every file in it',
      collect,
      [],
    )
    .option(
      '--key <file>',
      'private or public key: a 3 1 1 record for a key with no certificate yet (the next key)',
      collect,
      [],
    )
    .option('--fetch <host[:port]>', 'take the chain a live server presents (default port 25)')
    .option(
      '--starttls <proto>',
      `STARTTLS protocol for --fetch: ${STARTTLS_PROTOS.join(' ')} (default from the port)`,
    )
    .option('--chain', '3 1 1 for the leaf plus 2 1 1 for its issuer')
    .option(
      '--usage <u>',
      'certificate usage: 0-3 or PKIX-TA, PKIX-EE, DANE-TA, DANE-EE (default 3)',
    )
    .option('--selector <s>', 'selector: 0/Cert or 1/SPKI (default 1)')
    .option('--mtype <m>', 'matching type: 0/Full, 1/SHA2-256, 2/SHA2-512 (default 1)')
    .option('--host <name>', 'host name for the owner _PORT._PROTO.HOST (zone and json formats)')
    .option('--port <n>', 'port for the owner name (default 25, or the --fetch port)')
    .option('--proto <p>', 'transport for the owner name: tcp, udp, sctp', 'tcp')
    .option('--ttl <n>', 'TTL for zone/json output (blank: the zone default)')
    .option('--format <f>', 'rdata | zone | json', 'rdata')
    .option('--timeout <s>', 'seconds to wait for each network step of --fetch', '10')
    .option(
      '-v, --verbose',
      'on stderr: the protocol transcript, skipped files, and what each certificate was used for',
    )
    .action((opts: TlsaOpts) => setExit(runTlsa(opts, io.withVerbose(!!opts.verbose))));
  tlsa
    .command('explain')
    .description(
      'Say what TLSA records mean, whether they are usable, and what bites in practice (exit 0: no warning; 1: warnings, or no record usable)',
    )
    .argument(
      '<record...>',
      '"U S M HEX" (numbers or RFC 7218 names), RFC 3597 "\\# 35 03..." or a whole RR line',
    )
    .option('--json', 'machine-readable output')
    .action((texts: string[], opts: { json?: boolean }) => setExit(runExplain(texts, opts, io)));
}
