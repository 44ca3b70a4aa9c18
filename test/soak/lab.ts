/**
 * The soak's lab: the one test/lab/rollover.test.ts builds (its building blocks imported from
 * test/lab/), with the soak's faults reachable: Pebble refusing a share of good nonces, a
 * secondary that only transfers when the soak says so, and named's pid for SIGSTOP/SIGCONT.
 *
 * named serves every view of the DNS lab (root, TLD, primary and secondary addresses) from one
 * process, so freezing "the primary" freezes the secondary's answers too. Unbound is therefore
 * switched to RFC 8767 serve-stale behaviour (answer from cache only when the authoritative
 * servers do not answer within the client timeout): it stands in for the secondaries a real
 * zone has elsewhere, so that the probes measure danekeeper, not a DNS outage the test made.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEntry, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/pki.js';
import { labResolvConf, RESOLVER, startDnsLab, tlsaIn, type DnsLab } from '../lab/dns/dnslab.js';
import { labTsigKey } from '../lab/dns/tsig.js';
import { createNetns, type Netns } from '../lab/netns.js';
import { startPebble, type Pebble } from '../lab/pebble.js';
import { listenerLine, POSTFIX, startPostfix, type PostfixInstance } from '../lab/postfix.js';
import Database from 'better-sqlite3';

export const PEBBLE = '127.0.57.1';
export const CA_NS = '127.0.54.80';
export const PRIMARY = '127.0.54.81';
export const SECONDARY = '127.0.54.82';
export const ZONE = 'soak.test';
/** the second domain: `--new-key-each-renewal` (publish, wait, install at every renewal) */
export const TWO = `two.${ZONE}`;
export const MAIL = '127.0.10.25';
export const MAIL2 = '127.0.10.26';
const TSIG = labTsigKey('dk-soak');

export interface SoakDomain {
  name: string;
  address: string;
  owner: string;
  certDir: string;
}

export interface SoakLab {
  ns: Netns;
  dns: DnsLab;
  pebble: Pebble;
  postfix: PostfixInstance;
  dir: string;
  config: string;
  domains: [SoakDomain, SoakDomain];
  /** the pid of the named that serves every authoritative view */
  namedPid(): number;
  stop(): Promise<void>;
}

export interface SoakLabOptions {
  /** PEBBLE_WFE_NONCEREJECT: the percentage of good nonces Pebble refuses as badNonce */
  nonceReject: number;
  /** the zone's TTL (seconds) */
  ttl: number;
  /** dane-confirmation-interval-in-hours */
  intervalHours: number;
}

export async function startSoakLab(o: SoakLabOptions): Promise<SoakLab> {
  const dir = tempDir('dk-soak-');
  chmodSync(dir, 0o755);
  const domains: [SoakDomain, SoakDomain] = [
    { name: ZONE, address: MAIL, owner: `_25._tcp.mail.${ZONE}.`, certDir: '' },
    { name: TWO, address: MAIL2, owner: `_25._tcp.mail.${TWO}.`, certDir: '' },
  ];
  for (const d of domains) d.certDir = join(dir, 'live', d.name);
  const ns = await createNetns({ addresses: [PEBBLE, MAIL, MAIL2], resolvConf: labResolvConf() });
  let dns: DnsLab | undefined;
  let pebble: Pebble | undefined;
  let postfix: PostfixInstance | undefined;
  const stop = async () => {
    const keep = setInterval(() => {}, 1000);
    try {
      await postfix?.stop();
      await pebble?.stop();
      await dns?.stop();
      await ns.destroy();
    } finally {
      clearInterval(keep);
    }
  };
  try {
    dns = await startDnsLab(ns, {
      zones: [
        { name: 'ca.test', servers: [CA_NS], records: [{ name: 'acme', type: 'A', data: PEBBLE }] },
        {
          name: ZONE,
          signing: 'inline',
          servers: [PRIMARY],
          // no NOTIFY reaches it: it lags until the soak makes it transfer (refreshSecondary)
          secondaries: [SECONDARY],
          updateKeys: [TSIG],
          ttl: o.ttl,
          records: [
            { name: '@', type: 'MX', data: `10 mail.${ZONE}.` },
            { name: 'mail', type: 'A', data: MAIL },
            { name: 'two', type: 'MX', data: `10 mail.${TWO}.` },
            { name: 'mail.two', type: 'A', data: MAIL2 },
          ],
        },
      ],
    });
    // RFC 8767 §5: serve stale data only when the authoritative servers fail to answer in time
    for (const opt of [
      'serve-expired: yes',
      'serve-expired-ttl: 60',
      'serve-expired-client-timeout: 1500',
    ]) {
      const [k, v] = opt.split(': ');
      const r = await dns.unboundControl(['set_option', `${k}:`, v!]);
      if (!/ok/.test(r.stdout))
        throw new Error(`unbound-control set_option ${opt}: ${r.stdout}${r.stderr}`);
    }
    mkdirSync(join(dir, 'pebble'));
    pebble = await startPebble(ns, {
      hostname: 'acme.ca.test',
      address: PEBBLE,
      dnsServer: `${RESOLVER}:53`,
      dir: join(dir, 'pebble'),
      nonceReject: o.nonceReject,
    });
    postfix = await startPostfix(ns, [], {
      masterExtra: domains.map((d) =>
        listenerLine({
          address: d.address,
          port: 25,
          keyFile: join(d.certDir, 'privkey.pem'),
          chainFile: join(d.certDir, 'fullchain.pem'),
        }),
      ),
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const config = join(dir, 'danekeeper.ini');
  writeFileSync(
    config,
    [
      '[dns]',
      'backend = rfc2136',
      `zone = ${ZONE}`,
      `server = ${PRIMARY}`,
      `tsig-key-file = ${dns.tsigKeyFile(TSIG)}`,
      `resolver = ${RESOLVER}`,
      '[store]',
      `path = ${join(dir, 'state.db')}`,
      '[acme]',
      `directory = ${pebble.directory}`,
      `ca-file = ${pebble.caFile}`,
      `email = hostmaster@${ZONE}`,
      'challenge = http-01',
      'http-listen = 0.0.0.0:80',
      '[ext-sslit]',
      `dane-confirmation-interval-in-hours = ${o.intervalHours}`,
      // a failed step (a freeze timing out a DNS update, say) is retried after seconds, not
      // the default 5 minutes: the soak's rounds are seconds long
      '[run]',
      'retry-seconds = 3',
      '',
    ].join('\n'),
  );
  const lab = { ns, dns, pebble, postfix, dir, config, domains };
  return {
    ...lab,
    namedPid: () => namedPid(ns),
    stop,
  };
}

/** named inside the namespace: found by name among the namespace's own processes. */
function namedPid(ns: Netns): number {
  const pids = (spawnSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).stdout ?? '')
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s));
  for (const p of pids) {
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'named') return Number(p);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no named runs in ${ns.name}`);
}

export interface DkRun extends CliResult {
  /** SIGKILL reached the process while it still ran */
  killed: boolean;
  ms: number;
}

/**
 * The CLI in the lab namespace, without blocking the event loop (the probes run meanwhile).
 * `killAfterMs`: SIGKILL after that long, as a crash or an OOM kill would end it.
 */
export function dk(
  lab: Pick<SoakLab, 'ns' | 'config' | 'dir'>,
  args: string[],
  opts: { killAfterMs?: number; timeoutMs?: number } = {},
): Promise<DkRun> {
  const t0 = Date.now();
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      lab.ns.name,
      process.execPath,
      '--import',
      'tsx',
      cliEntry,
      ...args,
      '--config',
      lab.config,
    ],
    {
      env: { ...process.env, DANEKEEPER_STATE_DIR: lab.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  let killed = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const kill = (why: 'crash' | 'timeout') =>
    setTimeout(
      () => {
        if (child.exitCode === null && child.signalCode === null) {
          if (why === 'crash') killed = true;
          else stderr += `\n[soak: killed after ${opts.timeoutMs} ms: too slow]`;
          child.kill('SIGKILL');
        }
      },
      (why === 'crash' ? opts.killAfterMs : opts.timeoutMs) ?? 120_000,
    );
  const timers = [kill('timeout'), ...(opts.killAfterMs !== undefined ? [kill('crash')] : [])];
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      resolve({
        code: code ?? (signal === 'SIGKILL' ? 137 : -1),
        stdout,
        stderr,
        killed,
        ms: Date.now() - t0,
      });
    });
  });
}

/**
 * The domain's event log from `since` on, read from the state database between two CLI calls
 * (no danekeeper process runs then; a killed one is gone). Read-only and by plain SQL on the
 * append-only events table: the test never migrates or writes the database the CLI owns (a
 * test process started before a schema change would refuse the newer database).
 */
export function domainEvents(
  lab: Pick<SoakLab, 'dir'>,
  domain: string,
  since: Date,
): { kind: string; message: string; at: string }[] {
  const db = new Database(join(lab.dir, 'state.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT kind, message, at FROM events WHERE domain = ? AND at >= ? ORDER BY at, id')
      .all(domain, since.toISOString()) as { kind: string; message: string; at: string }[];
  } finally {
    db.close();
  }
}

/** The TLSA RRset `server` serves at `owner` (RD=0), lower-case, sorted. */
export async function served(dns: DnsLab, server: string, owner: string): Promise<string[]> {
  const r = await dns.dig([`@${server}`, '+norec', owner, 'TLSA']);
  return tlsaIn(r.answer)
    .map((x) => x.toLowerCase())
    .sort();
}

/** The leaf in `certDir/fullchain.pem` (serial, SHA-256 of its SPKI), or null when none yet. */
export function installedLeaf(certDir: string): { serial: string; spki: string } | null {
  try {
    const pem = readFileSync(join(certDir, 'fullchain.pem'), 'utf8');
    const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
    if (!first) return null;
    const leaf = new X509Certificate(first[0]);
    const der = leaf.publicKey.export({ type: 'spki', format: 'der' });
    return { serial: leaf.serialNumber, spki: createHash('sha256').update(der).digest('hex') };
  } catch {
    return null;
  }
}

export { POSTFIX, RESOLVER };
