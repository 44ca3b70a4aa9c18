/**
 * Network namespaces for the integration lab. Every server the lab starts lives in a namespace
 * the test created itself (`ip netns add dk-<pid>-<hex>`), on addresses added to its own `lo`:
 * tests never reach an address outside it. Needs root.
 *
 * Teardown is layered so that no namespace outlives its run: `destroy()` from an `after()` hook;
 * a synchronous sweep on process exit and on SIGINT/SIGTERM/SIGHUP; and `cleanupStaleNetns()`
 * (called by `createNetns`) removes `dk-<pid>-*` namespaces whose creating process is gone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** resolve with a non-zero exit code instead of rejecting */
  allowFail?: boolean;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** a short label used in error messages; default the command name */
  label?: string;
}

/** A long-running process inside a namespace; killed by `stop()` or by the namespace teardown. */
export interface LabProcess {
  readonly label: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** stdout and stderr so far, interleaved (last 256 KiB) */
  output(): string;
  /** null while running */
  exitCode(): number | null;
  readonly exited: Promise<number>;
  /** SIGTERM to its process group, SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<void>;
}

/** What `probe` waits for on a TCP endpoint inside the namespace. */
export interface ProbeTarget {
  host: string;
  port: number;
  /**
   * `smtp`: a "220 " greeting in clear; `smtp-starttls`: the greeting, STARTTLS offered in the
   * EHLO reply, and a TLS handshake after it; `smtp-tls`: a TLS handshake, then the greeting
   * (implicit TLS, port 465); `tls`: a completed TLS handshake; `tcp`: the connection alone.
   */
  kind: 'smtp' | 'smtp-starttls' | 'smtp-tls' | 'tls' | 'tcp';
}

export interface Netns {
  readonly name: string;
  /** the addresses added to `lo`, without prefix length */
  readonly addresses: string[];
  addAddress(address: string): Promise<void>;
  /** Runs a command to completion inside the namespace. */
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs a command to completion inside the namespace, blocking. */
  execSync(cmd: string, args: string[], opts?: ExecOptions): ExecResult;
  /** Starts a long-running process inside the namespace, in its own process group. */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): LabProcess;
  /** Waits until every target answers (from inside the namespace), or rejects at the timeout. */
  probe(targets: ProbeTarget[], timeoutMs?: number): Promise<void>;
  /** Arguments that run `cmd` inside this namespace: `['ip', 'netns', 'exec', name, ...cmd]`. */
  wrap(cmd: string[]): string[];
  /** Kills every process in the namespace and deletes it. Idempotent; never throws. */
  destroy(): Promise<void>;
}

export interface NetnsOptions {
  /** addresses to add to `lo`: IPv4 (as /32) or IPv6 (as /128, nodad) */
  addresses?: string[];
  /**
   * Contents for /etc/resolv.conf and /etc/hosts as seen by processes in the namespace
   * (`ip netns exec` bind-mounts /etc/netns/NAME/*). Without them the host's files are seen.
   */
  resolvConf?: string;
  hosts?: string;
}

const NAME_RE = /^dk-(\d+)-[0-9a-f]+$/;
const live = new Map<string, NetnsImpl>();

/** Root is required for every namespace operation. */
export function labAvailable(
  env: NodeJS.ProcessEnv = process.env,
  probe: { uid: () => number | undefined; ipNetns: () => boolean } = {
    uid: () => process.getuid?.(),
    ipNetns: () => {
      const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      return !r.error && r.status === 0;
    },
  },
): { ok: true } | { ok: false; reason: string } {
  if (probe.uid() !== 0) return { ok: false, reason: 'the lab needs root' };
  if (!probe.ipNetns()) {
    const reason = 'cannot run "ip netns" (iproute2 missing, or no permission to make namespaces)';
    // CI must run the lab (DESIGN.md): as root, a broken `ip netns` would otherwise turn every
    // lab file into a quiet skip and the run would pass without a single integration test.
    if (env.CI === 'true') throw new Error(`The integration lab cannot run on CI: ${reason}`);
    return { ok: false, reason };
  }
  return { ok: true };
}

export async function createNetns(opts: NetnsOptions = {}): Promise<Netns> {
  cleanupStaleNetns();
  const name = `dk-${process.pid}-${randomBytes(4).toString('hex')}`;
  run('ip', ['netns', 'add', name]);
  const ns = new NetnsImpl(name);
  live.set(name, ns);
  installExitHooks();
  try {
    if (opts.resolvConf !== undefined || opts.hosts !== undefined) {
      const etc = join('/etc/netns', name);
      mkdirSync(etc, { recursive: true });
      if (opts.resolvConf !== undefined) writeFileSync(join(etc, 'resolv.conf'), opts.resolvConf);
      if (opts.hosts !== undefined) writeFileSync(join(etc, 'hosts'), opts.hosts);
    }
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    for (const a of opts.addresses ?? []) await ns.addAddress(a);
  } catch (e) {
    await ns.destroy();
    throw e;
  }
  return ns;
}

/**
 * Deletes lab namespaces (`dk-<pid>-*`) whose creating process no longer runs, with whatever
 * still runs inside them. Namespaces of live processes (another test run) are left alone.
 */
export function cleanupStaleNetns(): string[] {
  const removed: string[] = [];
  for (const name of listNetns()) {
    const m = NAME_RE.exec(name);
    if (!m || live.has(name)) continue;
    if (pidAlive(Number(m[1]))) continue;
    teardownSync(name, []);
    removed.push(name);
  }
  return removed;
}

export function listNetns(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

class NetnsImpl implements Netns {
  readonly addresses: string[] = [];
  private readonly procs = new Set<LabProcessImpl>();
  private destroyed = false;

  constructor(readonly name: string) {}

  async addAddress(address: string): Promise<void> {
    const v = isIP(address);
    if (v === 0) throw new Error(`Adding address to lab namespace failed: "${address}" is not IP`);
    const args =
      v === 4
        ? ['-n', this.name, 'addr', 'add', `${address}/32`, 'dev', 'lo']
        : ['-n', this.name, '-6', 'addr', 'add', `${address}/128`, 'dev', 'lo', 'nodad'];
    run('ip', args);
    this.addresses.push(address);
  }

  wrap(cmd: string[]): string[] {
    return ['ip', 'netns', 'exec', this.name, ...cmd];
  }

  exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [c, ...rest] = this.wrap([cmd, ...args]);
    return new Promise((resolve, reject) => {
      const child = spawn(c!, rest, {
        env: { ...process.env, ...opts.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input ?? '');
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const r = {
          code: code ?? 128 + (signal ? 9 : 0),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        };
        if (r.code !== 0 && !opts.allowFail)
          reject(new Error(`${cmd} in ${this.name} exited ${r.code}: ${lastLines(r.stderr, 5)}`));
        else resolve(r);
      });
    });
  }

  execSync(cmd: string, args: string[], opts: ExecOptions = {}): ExecResult {
    const [c, ...rest] = this.wrap([cmd, ...args]);
    const r = spawnSync(c!, rest, {
      input: opts.input ?? '',
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 30_000,
      env: { ...process.env, ...opts.env },
    });
    if (r.error) throw r.error;
    const res = { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
    if (res.code !== 0 && !opts.allowFail)
      throw new Error(`${cmd} in ${this.name} exited ${res.code}: ${lastLines(res.stderr, 5)}`);
    return res;
  }

  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): LabProcess {
    if (this.destroyed) throw new Error(`Starting ${cmd} failed: namespace ${this.name} is gone`);
    const [c, ...rest] = this.wrap([cmd, ...args]);
    // detached: its own process group, so stop() reaches the children too; `ip netns exec`
    // execs the command, so the pid is the command's.
    const child = spawn(c!, rest, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
    });
    const p = new LabProcessImpl(opts.label ?? cmd, child);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  async probe(targets: ProbeTarget[], timeoutMs = 10_000): Promise<void> {
    if (targets.length === 0) return;
    const r = await this.exec(
      process.execPath,
      ['--input-type=module', '-e', PROBE_SCRIPT, JSON.stringify({ targets, timeoutMs })],
      { allowFail: true, timeoutMs: timeoutMs + 5_000 },
    );
    if (r.code !== 0) {
      const why = r.stdout.trim() || lastLines(r.stderr, 3) || `exit ${r.code}`;
      throw new Error(`Waiting for lab servers in ${this.name} failed: ${why}`);
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      await Promise.all([...this.procs].map((p) => p.stop(1_000)));
    } catch {
      // teardownSync below kills whatever is left
    }
    teardownSync(this.name, []);
    live.delete(this.name);
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    teardownSync(
      this.name,
      [...this.procs].map((p) => p.pid),
    );
    live.delete(this.name);
  }
}

class LabProcessImpl implements LabProcess {
  readonly pid: number;
  readonly exited: Promise<number>;
  private buf = '';
  private code: number | null = null;

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`Starting ${label} failed: no pid`);
    this.pid = child.pid;
    const add = (d: Buffer) => {
      this.buf += d.toString('utf8');
      if (this.buf.length > 262_144) this.buf = this.buf.slice(-262_144);
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
    this.exited = new Promise((resolve) => {
      child.on('error', (e) => {
        add(Buffer.from(`\n${String(e)}\n`));
        this.code = 127;
        resolve(127);
      });
      child.on('close', (code, signal) => {
        this.code = code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 128);
        resolve(this.code);
      });
    });
    // the lab must never keep the test process alive
    child.unref();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
  }

  output(): string {
    return this.buf;
  }

  exitCode(): number | null {
    return this.code;
  }

  async stop(graceMs = 2_000): Promise<void> {
    if (this.code !== null) return;
    // The child and its pipes are unref'd (the lab never keeps the test process alive), so
    // while stop() waits for it something must hold the event loop, or node:test sees an
    // `after` hook with nothing pending and cancels it ("Promise resolution is still pending").
    const hold = setInterval(() => {}, 1_000);
    let grace: NodeJS.Timeout | undefined;
    try {
      killGroup(this.pid, 'SIGTERM');
      const done = await Promise.race([
        this.exited.then(() => true),
        new Promise<false>((r) => (grace = setTimeout(() => r(false), graceMs))),
      ]);
      if (!done) {
        killGroup(this.pid, 'SIGKILL');
        await this.exited;
      }
    } finally {
      clearTimeout(grace);
      clearInterval(hold);
    }
  }
}

/** Kills everything inside the namespace, then deletes it. Synchronous so exit hooks can use it. */
function teardownSync(name: string, extraPids: number[]): void {
  for (const pid of extraPids) killGroup(pid, 'SIGTERM');
  // Whatever runs inside the namespace was started by the lab (directly or by a daemon it
  // started), so killing it by pid is safe. SIGTERM first lets Postfix's master reap children.
  let pids = nsPids(name);
  for (const pid of pids) safeKill(pid, 'SIGTERM');
  const deadline = Date.now() + 1_500;
  while (pids.length > 0 && Date.now() < deadline) {
    sleepSync(25);
    pids = pids.filter(pidAlive);
  }
  for (let round = 0; round < 20; round++) {
    pids = nsPids(name);
    if (pids.length === 0) break;
    for (const pid of pids) safeKill(pid, 'SIGKILL');
    sleepSync(25);
  }
  // `ip netns del` can fail with EBUSY while a dying process's mount namespace (every
  // `ip netns exec` makes one) still holds the bind mount: retry for a while.
  let err = '';
  for (let attempt = 0; attempt < 40; attempt++) {
    const r = spawnSync('ip', ['netns', 'del', name], { encoding: 'utf8' });
    if (r.status === 0 || !listNetns().includes(name)) {
      err = '';
      break;
    }
    err = r.stderr.trim();
    for (const pid of nsPids(name)) safeKill(pid, 'SIGKILL');
    sleepSync(50);
  }
  if (err) process.stderr.write(`lab: could not delete namespace ${name}: ${err}\n`);
  const etc = join('/etc/netns', name);
  if (existsSync(etc)) rmSync(etc, { recursive: true, force: true });
}

function nsPids(name: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .filter((p) => p !== process.pid);
}

let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', destroyAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      destroyAllSync();
      // exit (rather than re-raise) so that other 'exit' hooks still run; status as a shell's
      process.exit(128 + (signalNumber(sig) ?? 0));
    });
  }
}

/** Tears down every namespace this process created. For exit hooks and scripts. */
export function destroyAllSync(): void {
  for (const ns of [...live.values()]) ns.destroySync();
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`Running ${cmd} failed: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    safeKill(pid, sig);
  }
}

function safeKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** True while `pid` runs; a zombie (exited, not yet reaped by a daemon's parent) counts as gone. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig];
}

export function lastLines(s: string, n: number): string {
  return s.trimEnd().split('\n').slice(-n).join(' | ');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs inside the namespace (plain JS, no tsx: ~40 ms). Polls every target until it answers
 * as expected; prints one line naming the targets that never did, and exits 1.
 */
const PROBE_SCRIPT = `
import net from 'node:net';
import tls from 'node:tls';
const { targets, timeoutMs } = JSON.parse(process.argv[1]);
const deadline = Date.now() + timeoutMs;
const show = (s) => JSON.stringify(s.trim().slice(0, 100));
function once(t) {
  return new Promise((resolve) => {
    let sock;
    let buf = '';
    let step = 'greeting';
    let finished = false;
    const done = (ok, why) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, why });
    };
    const timer = setTimeout(() => done(false, 'no answer within 3 s at ' + step), 3000);
    // one complete SMTP reply (last line "NNN "), or null
    const reply = () => {
      const m = /^(\\d{3}) .*\\r?\\n/m.exec(buf);
      if (!m) return null;
      const text = buf.slice(0, m.index + m[0].length);
      buf = buf.slice(m.index + m[0].length);
      return { code: m[1], text };
    };
    const onData = (d) => {
      buf += d.toString('latin1');
      for (let r = reply(); r; r = reply()) {
        if (step === 'greeting') {
          if (r.code !== '220') return done(false, 'greeting ' + show(r.text));
          if (t.kind !== 'smtp-starttls') return done(true);
          step = 'ehlo';
          sock.write('EHLO probe.lab.test\\r\\n');
        } else if (step === 'ehlo') {
          if (!/^250[- ]STARTTLS\\b/im.test(r.text)) return done(false, 'no STARTTLS in ' + show(r.text));
          step = 'starttls';
          sock.write('STARTTLS\\r\\n');
        } else if (step === 'starttls') {
          if (r.code !== '220') return done(false, 'STARTTLS answered ' + show(r.text));
          step = 'handshake';
          sock.removeListener('data', onData);
          const s = tls.connect({ socket: sock, rejectUnauthorized: false }, () => done(true));
          s.on('error', (e) => done(false, 'TLS after STARTTLS: ' + (e.code || e.message)));
        }
      }
    };
    const opts = { host: t.host, port: t.port };
    if (t.kind === 'tls' || t.kind === 'smtp-tls') {
      step = 'handshake';
      sock = tls.connect({ ...opts, rejectUnauthorized: false }, () => {
        if (t.kind === 'tls') return done(true);
        step = 'greeting';
        sock.on('data', onData);
      });
    } else {
      sock = net.connect(opts, () => (t.kind === 'tcp' ? done(true) : sock.on('data', onData)));
    }
    sock.on('error', (e) => done(false, (e.code || e.message) + ' at ' + step));
    sock.on('close', () => done(false, 'closed at ' + step + (buf ? ' after ' + show(buf) : '')));
  });
}
async function wait(t) {
  let last = '';
  for (let delay = 20; Date.now() < deadline; delay = Math.min(delay * 2, 200)) {
    const r = await once(t);
    if (r.ok) return null;
    last = r.why;
    await new Promise((r) => setTimeout(r, delay));
  }
  return (t.host.includes(':') ? '[' + t.host + ']' : t.host) + ':' + t.port + ' (' + t.kind + '): ' + last;
}
const failed = (await Promise.all(targets.map(wait))).filter(Boolean);
if (failed.length) { console.log('not ready: ' + failed.join('; ')); process.exit(1); }
`;
