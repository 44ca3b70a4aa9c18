/**
 * What every lab daemon starter shares: a temp dir of its own (config, data, logs, the key and
 * chain it presents), a foreground process inside the namespace, a wait until each listener
 * accepts connections, and a stop that leaves nothing behind. Never the system instance and
 * never a file under /etc: each daemon is pointed at its own config on the command line.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../support/pki.js';
import { sleep, type LabProcess, type Netns, type ProbeTarget } from '../netns.js';
import { hostPort } from '../postfix.js';

/** A key and the chain (leaf first, then the issuers to send) a daemon presents. */
export interface TlsFiles {
  keyFile: string;
  chainFile: string;
}

/** One address:port a daemon listens on. */
export interface Endpoint {
  address: string;
  port: number;
}

export interface Daemon {
  readonly name: string;
  /** the daemon's own temp dir; removed by stop() unless DK_LAB_KEEP=1 */
  readonly dir: string;
  readonly process: LabProcess;
  /** the process's output and its log file, if any, as far as they go */
  log(): string;
  /** Stops the daemon (and its children) and removes its directory; idempotent. */
  stop(): Promise<void>;
}

/** A temp dir the package's unprivileged user can traverse (mkdtemp makes 0700). */
export function daemonDir(name: string): string {
  const dir = tempDir(`dk-${name}-`);
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Copies the key and chain into `dir` as `key.pem` and `chain.pem`, owned by `owner` (uid,
 * gid) and mode 0600 for the key: several daemons refuse a key others can read (PostgreSQL)
 * or read it after dropping to their own user (nnrpd).
 */
export function installTls(dir: string, tls: TlsFiles, owner?: [number, number]): TlsFiles {
  const keyFile = join(dir, 'key.pem');
  const chainFile = join(dir, 'chain.pem');
  copyFileSync(tls.keyFile, keyFile);
  copyFileSync(tls.chainFile, chainFile);
  chmodSync(keyFile, 0o600);
  chmodSync(chainFile, 0o644);
  if (owner) {
    chownSync(keyFile, ...owner);
    chownSync(chainFile, ...owner);
  }
  return { keyFile, chainFile };
}

export interface StartOptions {
  name: string;
  dir: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** where the daemon writes its log, shown when it fails to start */
  logFile?: string;
  /** what must accept connections before the daemon counts as started */
  listeners: Endpoint[];
  /** default 15 s */
  startTimeoutMs?: number;
  /**
   * Sent to the daemon's main process alone before the usual SIGTERM to its process group,
   * for daemons whose orderly shutdown is another signal (PostgreSQL: SIGINT, "fast").
   */
  stopSignal?: NodeJS.Signals;
}

/** Runs `cmd` as a system user: setpriv execs it, so the pid is the daemon's own. */
export function asUser(user: string, cmd: string, args: string[]): { cmd: string; args: string[] } {
  return {
    cmd: 'setpriv',
    args: ['--reuid', user, '--regid', user, '--init-groups', '--', cmd, ...args],
  };
}

/**
 * Starts `cmd` in the foreground inside `ns` and returns once every listener accepts a TCP
 * connection from inside the namespace. A daemon that exits or never listens is stopped, its
 * directory removed, and the error names it with the last lines it wrote.
 */
export async function startDaemon(ns: Netns, o: StartOptions): Promise<Daemon> {
  const proc = ns.spawn(o.cmd, o.args, { label: o.name, env: o.env, cwd: o.dir });
  const log = () => {
    const file = o.logFile && existsSync(o.logFile) ? readFileSync(o.logFile, 'utf8') : '';
    return [proc.output(), file].filter((s) => s.trim() !== '').join('\n');
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The lab's processes are unref'd and stop()'s grace timer too: without a ref'd handle the
    // event loop could end (a test file's after() hook) before the daemon's exit is seen.
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      if (o.stopSignal && proc.exitCode() === null) {
        try {
          process.kill(proc.pid, o.stopSignal);
        } catch {
          // already gone
        }
        await Promise.race([proc.exited, sleep(5_000)]);
      }
      await proc.stop(2_000);
    } finally {
      clearInterval(keepAlive);
    }
    if (process.env.DK_LAB_KEEP !== '1') rmSync(o.dir, { recursive: true, force: true });
  };
  const targets: ProbeTarget[] = o.listeners.map((l) => ({
    host: l.address,
    port: l.port,
    kind: 'tcp',
  }));
  try {
    await Promise.race([
      ns.probe(targets, o.startTimeoutMs ?? 15_000),
      proc.exited.then((code) => {
        throw new Error(`it exited ${code}`);
      }),
    ]);
  } catch (e) {
    const tail = log().trim().split('\n').slice(-6).join(' | ');
    await stop();
    const where = o.listeners.map((l) => hostPort(l.address, l.port)).join(', ');
    throw new Error(
      `Starting ${o.name} on ${where} failed: ${(e as Error).message}` + (tail ? ` (${tail})` : ''),
    );
  }
  return { name: o.name, dir: o.dir, process: proc, log, stop };
}
