/**
 * Runs the reload commands after an install: each an argv run without a shell (no quoting
 * surprises, nothing a file name could inject), in its own process group so that a timeout
 * kills the command and everything it started, one after the other.
 */
import { spawn } from 'node:child_process';
import { DkError } from '../core/errors.js';
import { fileErrorReason } from '../io/file-errors.js';

export interface ReloadOptions {
  /** per command; default 30 s */
  timeoutMs?: number;
  /** environment for the commands; default this process's */
  env?: NodeJS.ProcessEnv;
}

export interface ReloadRun {
  argv: string[];
  code: number;
  ms: number;
}

/** Longest stderr kept: its first line goes into the error, the rest is never shown. */
const STDERR_LIMIT = 4096;
/** A command line in a message is cut here: arguments may be long (or sensitive). */
const ARGV_LIMIT = 80;

export function describeArgv(argv: string[]): string {
  const s = argv.join(' ');
  return s.length > ARGV_LIMIT ? `${s.slice(0, ARGV_LIMIT - 1)}…` : s;
}

/** First non-empty stderr line, control characters removed, cut to 200 characters. */
function firstLine(stderr: string): string {
  const line = stderr
    .split('\n')
    // eslint-disable-next-line no-control-regex -- control characters are what is removed
    .map((l) => l.replace(/[\u0000-\u001f\u007f]/g, ' ').trim())
    .find((l) => l !== '');
  if (line === undefined) return '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** Runs one command; resolves with its run, rejects with E_DEPLOY_RELOAD_*. */
export function runReload(argv: string[], opts: ReloadOptions = {}): Promise<ReloadRun> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const what = describeArgv(argv);
  if (argv.length === 0 || argv[0] === '') {
    return Promise.reject(
      new DkError('config', 'E_DEPLOY_RELOAD_EMPTY', 'A reload command is empty'),
    );
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      shell: false,
      detached: true, // its own process group: the timeout kills what it started too
      stdio: ['ignore', 'ignore', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stderr = '';
    let timedOut = false;
    let done = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += d.slice(0, STDERR_LIMIT - stderr.length);
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on('error', (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(
        new DkError(
          'config',
          'E_DEPLOY_RELOAD_NOT_RUN',
          `Reload command "${what}" could not be started: ${fileErrorReason(e)}`,
        ),
      );
    });
    // 'close' waits for stderr to close, which a daemon the command started may keep open for
    // ever: finish at 'close', or shortly after 'exit' with what stderr said so far.
    child.on('exit', (code, signal) => {
      setTimeout(() => finish(code, signal), 100).unref();
    });
    child.on('close', (code, signal) => finish(code, signal));
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const ms = Date.now() - started;
      if (timedOut) {
        reject(
          new DkError(
            'unavailable',
            'E_DEPLOY_RELOAD_TIMEOUT',
            `Reload command "${what}" did not finish within ${timeoutMs} ms and was killed`,
          ),
        );
        return;
      }
      // A daemon the command left behind in the group must not outlive a failed reload.
      if (code !== 0) killGroup();
      if (code === 0) {
        resolve({ argv, code: 0, ms });
        return;
      }
      const line = firstLine(stderr);
      const how = signal !== null ? `was killed by ${signal}` : `exited ${code}`;
      reject(
        new DkError(
          'unavailable',
          'E_DEPLOY_RELOAD_FAILED',
          `Reload command "${what}" ${how}${line ? `: ${line}` : ''}`,
        ),
      );
    };
  });
}

/**
 * Runs every command in order and stops at the first failure (the caller rolls back then):
 * a service left unreloaded would keep serving the old pair while the next one serves the
 * new, and only a clean run of all of them means every service read the installed files.
 */
export async function runReloads(
  commands: string[][],
  opts: ReloadOptions = {},
): Promise<ReloadRun[]> {
  const runs: ReloadRun[] = [];
  for (const argv of commands) runs.push(await runReload(argv, opts));
  return runs;
}
