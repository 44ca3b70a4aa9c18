/**
 * PowerDNS Authoritative (pdns_server 4.7, gsqlite3 backend) for the lab: its own address in a
 * lab namespace, the HTTP API on port 8081 of that address with a random key, zones loaded with
 * pdnsutil before the start and (by default) signed, so their DS can go into the lab's parent
 * as an external zone:
 *
 *   const pdns = await startPdns(ns, { zones: [{ name: 'pdns.test' }, { name: 'u.test', secure: false }] });
 *   const lab = await startDnsLab(ns, { zones: [
 *     { name: 'pdns.test', servers: [pdns.address], external: { ds: pdns.zone('pdns.test').ds } },
 *     { name: 'u.test', servers: [pdns.address], external: {} },
 *   ] });
 *
 * Every zone gets NS `ns1.<zone>` with an A record of the server's address, matching the
 * lab's delegation. The API key is written to `apiKeyFile` (0600) for `--api-key-file`; the API
 * is reachable only from inside the namespace (`pdns.api(...)` uses curl there).
 */
import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../../support/pki.js';
import {
  lastLines,
  pidAlive,
  sleep,
  type ExecResult,
  type LabProcess,
  type Netns,
} from '../netns.js';

export const PDNS_ADDRESS = '127.0.56.1';
const SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql';

export interface PdnsZoneSpec {
  /** `pdns.test` (trailing dot optional) */
  name: string;
  /** extra lines in zone-file syntax relative to the zone, e.g. `www 300 IN A 127.0.10.1` */
  records?: string[];
  /** sign it with `pdnsutil secure-zone` (one ECDSAP256SHA256 CSK); default true */
  secure?: boolean;
  /** default TTL and the SOA's; default 300 */
  ttl?: number;
  /**
   * where `ns1.<zone>` points; default the server's address. pdns_server listens on every
   * address given (the lab gives each external zone an address of its own).
   */
  address?: string;
}

export interface PdnsSpec {
  zones: PdnsZoneSpec[];
  /** default 127.0.56.1 */
  address?: string;
  /** default 8081 */
  apiPort?: number;
  /** default 10 s */
  startTimeoutMs?: number;
}

export interface PdnsZone {
  name: string;
  /** the address of its `ns1` (one the server listens on) */
  address: string;
  /** DS RDATA (`tag 13 2 hex`, SHA-256 only) for the parent; [] for an unsigned zone */
  ds: string[];
}

export interface PdnsServer {
  readonly ns: Netns;
  readonly address: string;
  /** every address DNS is served on (the first one also serves the API) */
  readonly addresses: string[];
  /** `http://127.0.56.1:8081` */
  readonly apiUrl: string;
  readonly apiKey: string;
  /** the key alone on one line, mode 0600 */
  readonly apiKeyFile: string;
  readonly dir: string;
  /** how long the first start took, in ms */
  readonly startMs: number;
  zone(name: string): PdnsZone;
  /** `pdnsutil` on the server's database (on the host: it opens the sqlite file) */
  pdnsutil(args: string[]): Promise<ExecResult>;
  /** One API request from inside the namespace (curl), key from the key file. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** SIGTERM and wait; files stay, `start()` brings it back with the same data */
  halt(): Promise<void>;
  start(): Promise<void>;
  output(): string;
  /** stops it and removes its directory */
  stop(): Promise<void>;
}

const abs = (n: string) => (n.endsWith('.') ? n.toLowerCase() : `${n.toLowerCase()}.`);

function run(cmd: string, args: string[], input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (err && code !== 0 ? err.message : '') });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Removes work dirs of runs whose process is gone. */
function sweepStaleDirs(): void {
  for (const e of readdirSync(tmpdir())) {
    const m = /^dk-pdns-(\d+)-/.exec(e);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1])))
      rmSync(join(tmpdir(), e), { recursive: true, force: true });
  }
}

export async function startPdns(ns: Netns, spec: PdnsSpec): Promise<PdnsServer> {
  const t0 = Date.now();
  sweepStaleDirs();
  const dir = tempDir(`dk-pdns-${process.pid}-`);
  const address = spec.address ?? PDNS_ADDRESS;
  const addresses = [...new Set([address, ...spec.zones.map((z) => z.address ?? address)])];
  const port = spec.apiPort ?? 8081;
  const timeoutMs = spec.startTimeoutMs ?? 10_000;
  const apiKey = randomBytes(24).toString('base64url');
  const apiKeyFile = join(dir, 'api.key');
  writeFileSync(apiKeyFile, `${apiKey}\n`, { mode: 0o600 });
  // curl reads the header from a file, so the key is on no command line
  const headerFile = join(dir, 'api.header');
  writeFileSync(headerFile, `X-API-Key: ${apiKey}\n`, { mode: 0o600 });
  chmodSync(dir, 0o700);
  const db = join(dir, 'pdns.sqlite3');
  const zones = new Map<string, PdnsZone>();
  let proc: LabProcess | undefined;

  const fail = (what: string): never => {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Starting PowerDNS in ${ns.name} failed: ${what}`);
  };

  const schema = await run('sqlite3', [db, `.read ${SCHEMA}`]);
  if (schema.code !== 0) fail(`sqlite3 schema: ${lastLines(schema.stderr, 3)}`);
  writeFileSync(
    join(dir, 'pdns.conf'),
    [
      'launch=gsqlite3',
      `gsqlite3-database=${db}`,
      'gsqlite3-dnssec=yes',
      `local-address=${addresses.join(', ')}`,
      'local-port=53',
      `socket-dir=${dir}`,
      'webserver=yes',
      'api=yes',
      `api-key=${apiKey}`,
      `webserver-address=${address}`,
      `webserver-port=${port}`,
      'webserver-allow-from=127.0.0.0/8',
      // nothing outside the machine: no security-status lookups
      'security-poll-suffix=',
      'loglevel=4',
      // pdnsutil edits the database directly: make them visible to queries at once
      'cache-ttl=0',
      'negquery-cache-ttl=0',
      'query-cache-ttl=0',
      'zone-cache-refresh-interval=0',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const pdnsutil = (args: string[]) => run('pdnsutil', [`--config-dir=${dir}`, ...args]);
  for (const z of spec.zones) {
    const name = abs(z.name);
    const ttl = z.ttl ?? 300;
    const file = join(dir, `${name}zone`);
    writeFileSync(
      file,
      [
        `$ORIGIN ${name}`,
        `$TTL ${ttl}`,
        `@ ${ttl} IN SOA ns1 hostmaster 1 3600 600 86400 60`,
        '@ IN NS ns1',
        `ns1 IN A ${z.address ?? address}`,
        ...(z.records ?? []),
        '',
      ].join('\n'),
    );
    const steps = [['load-zone', name, file]];
    // as for a zone made through the API: every API edit bumps the serial (pdnsutil sets no
    // SOA-EDIT-API, and then the serial never moves and secondaries never hear of a change)
    steps.push(['set-meta', name, 'SOA-EDIT-API', 'DEFAULT']);
    if (z.secure !== false) steps.push(['secure-zone', name], ['rectify-zone', name]);
    for (const s of steps) {
      const r = await pdnsutil(s);
      if (r.code !== 0)
        fail(`pdnsutil ${s.slice(0, 2).join(' ')}: ${lastLines(r.stderr || r.stdout, 3)}`);
    }
    let ds: string[] = [];
    if (z.secure !== false) {
      const r = await pdnsutil(['export-zone-ds', name]);
      if (r.code !== 0) fail(`pdnsutil export-zone-ds: ${lastLines(r.stderr, 3)}`);
      // `pdns.test. IN DS 12345 13 2 abcd... ; ( SHA256 digest )`: the SHA-256 RDATA only
      ds = r.stdout
        .split('\n')
        .map((l) => /\sIN\s+DS\s+(\d+ \d+ 2 [0-9a-fA-F]+)/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined);
      if (ds.length === 0) fail(`no SHA-256 DS for ${name}: ${lastLines(r.stdout, 3)}`);
    }
    zones.set(name, { name, address: z.address ?? address, ds });
  }
  for (const a of addresses) if (!ns.addresses.includes(a)) await ns.addAddress(a);

  const apiUrl = `http://${address}:${port}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, '-H', `@${headerFile}`];
    if (body !== undefined)
      args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
    const r = await ns.exec('curl', [...args, `${apiUrl}/api/v1${path}`], { allowFail: true });
    const nl = r.stdout.lastIndexOf('\n');
    const status = Number(r.stdout.slice(nl + 1)) || 0;
    const text = r.stdout.slice(0, Math.max(nl, 0));
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // plain text ("Not Found")
    }
    return { status, body: parsed };
  };

  const start = async () => {
    proc = ns.spawn(
      'pdns_server',
      [`--config-dir=${dir}`, '--daemon=no', '--guardian=no', '--disable-syslog'],
      { label: `pdns_server@${address}`, cwd: dir },
    );
    const deadline = Date.now() + timeoutMs;
    const p = proc;
    const why = async (what: string): Promise<never> => {
      const out = lastLines(p.output(), 5) || '(no output)';
      await halt();
      throw new Error(`Starting PowerDNS in ${ns.name} failed: ${what}: ${out}`);
    };
    // ready: the API answers with the key, and DNS answers authoritatively for every zone
    for (;;) {
      if (p.exitCode() !== null) await why(`pdns_server exited ${p.exitCode()}`);
      const r = await api('GET', '/servers/localhost');
      if (r.status === 200) break;
      if (Date.now() > deadline) await why('the API did not answer');
      await sleep(20);
    }
    for (const z of zones.keys()) {
      for (;;) {
        const r = await ns.exec(
          'dig',
          [`@${zones.get(z)!.address}`, '+norec', '+time=1', '+tries=1', z, 'SOA'],
          {
            allowFail: true,
          },
        );
        if (/status: NOERROR/.test(r.stdout) && /flags: [^;]*\baa\b/.test(r.stdout)) break;
        if (Date.now() > deadline) await why(`${z} is not served`);
        await sleep(20);
      }
    }
  };

  const halt = async () => {
    if (!proc || proc.exitCode() !== null) return;
    // LabProcess unrefs its child: keep the loop alive while waiting
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      await proc.stop(2_000);
    } finally {
      clearInterval(keepAlive);
    }
  };

  await start();
  const startMs = Date.now() - t0;

  return {
    ns,
    address,
    addresses,
    apiUrl,
    apiKey,
    apiKeyFile,
    dir,
    startMs,
    zone(name) {
      const z = zones.get(abs(name));
      if (!z) throw new Error(`PowerDNS lab: no zone ${name}`);
      return z;
    },
    pdnsutil,
    api,
    halt,
    start,
    output: () => proc?.output() ?? '',
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
