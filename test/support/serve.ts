/**
 * `danekeeper serve` as a child process for tests: its JSON log lines as they come, a way to
 * wait for one, signals, and its exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cliEntry } from './cli.js';

export interface ServeProcess {
  child: ChildProcess;
  /** every stdout line, parsed (a line that is not JSON fails the test later: `raw` keeps it) */
  lines: Record<string, unknown>[];
  raw: string[];
  stderr: () => string;
  waitFor(
    what: string,
    f: (l: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

export function startServe(
  args: string[],
  opts: { netns?: string; env?: NodeJS.ProcessEnv } = {},
): ServeProcess {
  const node = [process.execPath, '--import', 'tsx', cliEntry, 'serve', ...args];
  const [cmd, ...rest] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...node] : node;
  const child = spawn(cmd!, rest, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  let err = '';
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      raw.push(l);
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        lines.push({ notJson: l });
      }
      if (process.env.DK_SHOW) process.stderr.write(`serve: ${l}\n`);
    }
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    child,
    lines,
    raw,
    stderr: () => err,
    exited,
    waitFor(what, f, ms = 60_000) {
      return new Promise((resolve, reject) => {
        let from = 0;
        const check = () => {
          for (; from < lines.length; from++) {
            if (f(lines[from]!)) {
              done();
              resolve(lines[from]!);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `serve: timed out waiting for ${what}; stderr: ${err}; last log: ${raw.slice(-5).join('\n')}`,
            ),
          );
        }, ms);
        const onExit = () => {
          done();
          reject(new Error(`serve exited while waiting for ${what}; stderr: ${err}`));
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}
