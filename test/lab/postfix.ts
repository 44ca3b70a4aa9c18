/**
 * A throw-away Postfix instance (Debian's package) inside a lab namespace: its own
 * config_directory, queue_directory and data_directory in a temp dir, so neither /etc/postfix
 * nor a running system instance is touched. The receiving side presents chosen chains on
 * chosen address:port pairs; `main` overrides and `masterExtra` lines make a sending instance
 * (`smtp_tls_security_level = dane`) or a second receiver in the same or another namespace.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../support/pki.js';
import {
  lastLines,
  pidAlive,
  sleep,
  type ExecOptions,
  type ExecResult,
  type Netns,
} from './netns.js';

export const POSTFIX = '/usr/sbin/postfix';
export const DAEMON_DIR = '/usr/lib/postfix/sbin';

export interface Listener {
  address: string;
  port: number;
  /** private key file (any type Postfix's OpenSSL reads) */
  keyFile: string;
  /** PEM, leaf first, then the issuers the server should send */
  chainFile: string;
  /** implicit TLS from the first byte (port 465 style): `smtpd_tls_wrappermode=yes` */
  wrapper?: boolean;
  /** a STARTTLS-less server: `smtpd_tls_security_level=none` (no STARTTLS in EHLO) */
  noStarttls?: boolean;
  /** further `-o name=value` overrides for this smtpd */
  options?: Record<string, string>;
}

export interface PostfixOptions {
  /** directory to hold conf/, queue/, data/ and maillog; default a fresh temp dir */
  dir?: string;
  /** myhostname, also the greeting's host name; default mx.lab.test */
  hostname?: string;
  /** main.cf settings added after (and overriding) the lab defaults */
  main?: Record<string, string>;
  /** extra master.cf lines (services), appended as given */
  masterExtra?: string[];
  /** how long to wait for master and the listeners; default 15 s */
  startTimeoutMs?: number;
  /** keep the directory (maillog) after stop(); default: keep only when `dir` was given or DK_LAB_KEEP=1 */
  keepDir?: boolean;
}

export interface PostfixInstance {
  readonly ns: Netns;
  readonly dir: string;
  readonly configDir: string;
  readonly queueDir: string;
  readonly logFile: string;
  readonly listeners: Listener[];
  /** master's pid (inside the namespace, visible from the host) */
  readonly pid: number;
  /** the maillog so far */
  log(): string;
  /** Runs a Postfix command (`postconf`, `postqueue`, `sendmail`, `posttls-finger`, ...) in the namespace with MAIL_CONFIG set. */
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Stops master and its children; idempotent. */
  stop(): Promise<void>;
}

/** The standard internal services (Debian's master.cf without the smtp listener), chroot off. */
const BASE_SERVICES = [
  'pickup    unix  n       -       n       60      1       pickup',
  'cleanup   unix  n       -       n       -       0       cleanup',
  'qmgr      unix  n       -       n       300     1       qmgr',
  'tlsmgr    unix  -       -       n       1000?   1       tlsmgr',
  'rewrite   unix  -       -       n       -       -       trivial-rewrite',
  'bounce    unix  -       -       n       -       0       bounce',
  'defer     unix  -       -       n       -       0       bounce',
  'trace     unix  -       -       n       -       0       bounce',
  'verify    unix  -       -       n       -       1       verify',
  'flush     unix  n       -       n       1000?   0       flush',
  'proxymap  unix  -       -       n       -       -       proxymap',
  'proxywrite unix -       -       n       -       1       proxymap',
  'smtp      unix  -       -       n       -       -       smtp',
  'relay     unix  -       -       n       -       -       smtp',
  'showq     unix  n       -       n       -       -       showq',
  'error     unix  -       -       n       -       -       error',
  'retry     unix  -       -       n       -       -       error',
  'discard   unix  -       -       n       -       -       discard',
  'local     unix  -       n       n       -       -       local',
  'virtual   unix  -       n       n       -       -       virtual',
  'lmtp      unix  -       -       n       -       -       lmtp',
  'anvil     unix  -       -       n       -       1       anvil',
  'scache    unix  -       -       n       -       1       scache',
  'postlog   unix-dgram n  -       n       -       1       postlogd',
];

/** Queue subdirectories as `postfix check` (post-install create-missing) makes them. */
const QUEUE_DIRS: [string, number, 'root' | 'postdrop'][] = [
  ['active', 0o700, 'root'],
  ['bounce', 0o700, 'root'],
  ['corrupt', 0o700, 'root'],
  ['defer', 0o700, 'root'],
  ['deferred', 0o700, 'root'],
  ['flush', 0o700, 'root'],
  ['hold', 0o700, 'root'],
  ['incoming', 0o700, 'root'],
  ['private', 0o700, 'root'],
  ['saved', 0o700, 'root'],
  ['trace', 0o700, 'root'],
  ['maildrop', 0o730, 'postdrop'],
  ['public', 0o710, 'postdrop'],
];

/** `[v6]:port` or `v4:port`, as master.cf and most clients write it. */
/**
 * The environment for a Postfix *client* tool run outside an instance (`posttls-finger`,
 * `postconf -d`): its own config directory with a lab-made main.cf. Debian's postfix installed
 * with "No configuration" has no /etc/postfix/main.cf, and every Postfix program exits "fatal:
 * open /etc/postfix/main.cf" without one; a developer's own main.cf must not change what the
 * tests see either. Made once per process, removed at exit.
 */
let clientConfig: string | undefined;
export function postfixClientEnv(): { MAIL_CONFIG: string } {
  if (clientConfig === undefined) {
    const dir = tempDir('dk-postfix-client-');
    // compatibility_level: today's defaults, and no "backwards-compatible default" warnings in
    // the output the reference mapping reads. Nothing else: posttls-finger's flags set the rest.
    writeFileSync(join(dir, 'main.cf'), 'compatibility_level = 3.6\n');
    clientConfig = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return { MAIL_CONFIG: clientConfig };
}

export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function listenerLine(l: Listener): string {
  for (const f of [l.keyFile, l.chainFile])
    if (/[\s,{}]/.test(f)) throw new Error(`Postfix lab: file name "${f}" has a space/comma/brace`);
  const o: Record<string, string> = {
    syslog_name: `postfix/${l.wrapper ? 'smtps' : 'smtpd'}-${hostPort(l.address, l.port)}`,
    smtpd_tls_chain_files: `${l.keyFile},${l.chainFile}`,
    smtpd_tls_security_level: l.noStarttls ? 'none' : l.wrapper ? 'encrypt' : 'may',
    ...(l.wrapper ? { smtpd_tls_wrappermode: 'yes' } : {}),
    ...l.options,
  };
  const opts = Object.entries(o).map(([k, v]) => `  -o ${k}=${v}`);
  return [`${hostPort(l.address, l.port)} inet n - n - - smtpd`, ...opts].join('\n');
}

function mainCf(dir: string, opts: PostfixOptions): string {
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    config_directory: join(dir, 'conf'),
    queue_directory: join(dir, 'queue'),
    data_directory: join(dir, 'data'),
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    inet_protocols: 'all',
    inet_interfaces: 'all',
    myhostname: opts.hostname ?? 'mx.lab.test',
    mydomain: 'lab.test',
    myorigin: '$myhostname',
    mydestination: '',
    mynetworks: '127.0.0.0/8 [::1]/128',
    relayhost: '',
    smtputf8_enable: 'no',
    biff: 'no',
    maillog_file: join(dir, 'maillog'),
    // postlogd refuses to write outside these prefixes (default /var, /dev/stdout)
    maillog_file_prefixes: dir,
    import_environment: 'MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C',
    // no reverse lookups for the lab's own loopback clients: there is no DNS in a bare netns
    smtpd_peername_lookup: 'no',
    smtpd_tls_loglevel: '1',
    // the greeting must come at once, and a probe that hangs up must not slow the next one
    smtpd_client_connection_count_limit: '0',
    smtpd_client_connection_rate_limit: '0',
    smtpd_error_sleep_time: '0',
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    ...opts.main,
  };
  return (
    '# danekeeper lab instance; written by test/lab/postfix.ts\n' +
    Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n') +
    '\n'
  );
}

function ids(): { postfix: number; postdrop: number } {
  const u = spawnSync('id', ['-u', 'postfix'], { encoding: 'utf8' });
  const g = spawnSync('getent', ['group', 'postdrop'], { encoding: 'utf8' });
  const gid = Number(g.stdout.split(':')[2]);
  if (u.status !== 0 || !Number.isInteger(gid))
    throw new Error(
      'Postfix lab: user "postfix" or group "postdrop" is missing (apt install postfix)',
    );
  return { postfix: Number(u.stdout.trim()), postdrop: gid };
}

/** Writes conf/, queue/ and data/ without running the (slow, ~2 s) `postfix check`. */
export function preparePostfixDir(
  dir: string,
  listeners: Listener[],
  opts: PostfixOptions = {},
): void {
  const { postfix, postdrop } = ids();
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  // daemons run as "postfix" and open files under data_directory by absolute path
  for (let p = dirname(dir); p !== dirname(p); p = dirname(p))
    if ((statSync(p).mode & 0o001) === 0)
      throw new Error(`Postfix lab: ${p} is not searchable by the postfix user (chmod o+x)`);
  for (const d of ['conf', 'queue', 'data']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'queue'), 0o755);
  for (const [name, mode, group] of QUEUE_DIRS) {
    const p = join(dir, 'queue', name);
    mkdirSync(p, { recursive: true });
    chownSync(p, postfix, group === 'postdrop' ? postdrop : 0);
    chmodSync(p, mode);
  }
  mkdirSync(join(dir, 'queue', 'pid'), { recursive: true });
  chownSync(join(dir, 'data'), postfix, 0);
  chmodSync(join(dir, 'data'), 0o700);
  const main = join(dir, 'conf', 'main.cf');
  const master = join(dir, 'conf', 'master.cf');
  writeFileSync(main, mainCf(dir, opts));
  writeFileSync(
    master,
    [...listeners.map(listenerLine), ...BASE_SERVICES, ...(opts.masterExtra ?? [])].join('\n') +
      '\n',
  );
  // Postfix re-reads a config file until its mtime is more than a second old (a guard
  // against half-written files): backdating saves ~2 s per start.
  const past = new Date(Date.now() - 60_000);
  for (const f of [main, master]) utimesSync(f, past, past);
}

export async function startPostfix(
  ns: Netns,
  listeners: Listener[],
  opts: PostfixOptions = {},
): Promise<PostfixInstance> {
  const dir = opts.dir ?? tempDir('dk-postfix-');
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const keep = opts.keepDir ?? (opts.dir !== undefined || process.env.DK_LAB_KEEP === '1');
  preparePostfixDir(dir, listeners, opts);
  const configDir = join(dir, 'conf');
  const queueDir = join(dir, 'queue');
  const logFile = join(dir, 'maillog');
  const env = { MAIL_CONFIG: configDir };
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  const fail = async (what: string): Promise<never> => {
    const check = spawnSync(POSTFIX, ['-c', configDir, 'check'], { encoding: 'utf8' });
    const checkOut = (check.stdout + check.stderr).trim();
    await stopMaster(queueDir);
    throw new Error(
      `Starting the lab Postfix in ${dir} failed: ${what}` +
        (checkOut ? `\n  postfix check: ${lastLines(checkOut, 5)}` : '') +
        `\n  maillog: ${logSummary(log()) || '(empty)'}`,
    );
  };

  // `master -w` daemonizes and exits 0 only once master is initialized (listeners bound).
  // Calling master directly skips postfix-script's integrity check, ~2 s per start.
  // master reports a failed bind only to syslog (/dev/log), which a lab machine may not have:
  // name the usual cause here instead.
  const missing = listeners.filter((l) => !hasAddress(ns, l.address)).map((l) => l.address);
  if (missing.length > 0)
    throw new Error(
      `Starting the lab Postfix failed: ${missing.join(', ')} not on lo in ${ns.name} (ns.addAddress first)`,
    );
  const m = await ns.exec(join(DAEMON_DIR, 'master'), ['-c', configDir, '-w'], {
    env,
    allowFail: true,
    timeoutMs,
  });
  if (m.code !== 0)
    await fail(
      `master exited ${m.code} (its startup errors go to syslog only: a port in use, or an` +
        ` unreadable directory?) ${lastLines(m.stderr, 3)}`,
    );
  const pid = readPid(queueDir);
  if (pid === undefined) await fail('master wrote no pid file');

  try {
    await ns.probe(
      listeners.map((l) => ({
        host: l.address,
        port: l.port,
        kind: l.wrapper ? 'smtp-tls' : l.noStarttls ? 'smtp' : 'smtp-starttls',
      })),
      timeoutMs,
    );
  } catch (e) {
    await fail((e as Error).message);
  }

  let stopped = false;
  return {
    ns,
    dir,
    configDir,
    queueDir,
    logFile,
    listeners,
    pid: pid!,
    log,
    exec: (cmd, args, o = {}) => ns.exec(cmd, args, { ...o, env: { ...env, ...o.env } }),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopMaster(queueDir);
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The last few warnings and errors of a maillog, or its last lines when it has none. */
export function logSummary(log: string): string {
  const bad = log.split('\n').filter((l) => /\b(warning|fatal|panic|error):/.test(l));
  return bad.length > 0 ? bad.slice(-4).join(' | ') : lastLines(log, 6);
}

function hasAddress(ns: Netns, address: string): boolean {
  // all of 127.0.0.0/8 is local on lo, added or not
  if (/^127\./.test(address) || address === '::1') return true;
  const a = address.toLowerCase();
  return ns.addresses.some((x) => x.toLowerCase() === a);
}

function readPid(queueDir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(queueDir, 'pid', 'master.pid'), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM to master (it terminates its children), SIGKILL to the group after 3 s. */
async function stopMaster(queueDir: string): Promise<void> {
  const pid = readPid(queueDir);
  if (pid === undefined || !pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 3_000;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(25);
  if (pidAlive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
