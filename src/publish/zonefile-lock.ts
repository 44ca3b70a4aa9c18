/**
 * The guard around a zone-file edit: an exclusive lock file next to the zone file, created
 * with O_EXCL, held from the read to the rename. Every danekeeper process (daemon, CLI) takes
 * it, so two of them never interleave read-modify-write. (It does not stop a person editing
 * the file at the same moment; the re-read under the lock compared with the change's expected
 * RRset narrows that window to the few milliseconds of the write.)
 *
 * A lock left by a process that died is stale: same host and the process is gone, or older
 * than `staleMs` (an edit takes milliseconds; a holder that old has hung). A stale lock is
 * renamed away and its inode checked, so two processes that both find it stale cannot both
 * take the lock over.
 */
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { DkError } from '../core/errors.js';
import { fileErrorReason } from '../io/file-errors.js';

export interface LockOptions {
  /** how long to wait for a live holder; default 5000 ms */
  waitMs?: number;
  /** a lock older than this is stale whoever holds it; default 120000 ms */
  staleMs?: number;
}

export interface FileLock {
  readonly path: string;
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
}

function errno(e: unknown): string {
  return e && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : '';
}

export function ioError(action: string, path: string, e: unknown): DkError {
  const why = fileErrorReason(e);
  return new DkError('noinput', 'E_PUBLISH_IO', `Cannot ${action} ${path}: ${why}`, { cause: e });
}

function readHolder(path: string): Holder | undefined {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    if (typeof j.pid === 'number' && typeof j.host === 'string')
      return { pid: j.pid, host: j.host };
  } catch {
    // a half-written or foreign lock file: judged by its age alone
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

function isStale(
  path: string,
  staleMs: number,
  now: number,
): { stale: boolean; ino: number } | undefined {
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined; // gone: try again
  }
  const h = readHolder(path);
  const dead = h !== undefined && h.host === hostname() && h.pid !== process.pid && !alive(h.pid);
  return { stale: dead || now - st.mtimeMs > staleMs, ino: st.ino };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<FileLock> {
  const waitMs = opts.waitMs ?? 5000;
  const staleMs = opts.staleMs ?? 120_000;
  const deadline = Date.now() + waitMs;
  for (let round = 0; ; round++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw ioError('create the lock file', path, e);
      const s = isStale(path, staleMs, Date.now());
      if (s?.stale) {
        // Take the stale lock out of the way under a unique name, then make sure it was the
        // one judged stale (not a fresh lock someone created in between): else put it back.
        const aside = `${path}.stale-${process.pid}-${round}`;
        try {
          renameSync(path, aside);
          if (statSync(aside).ino !== s.ino) {
            try {
              linkSync(aside, path);
            } catch {
              // someone holds a newer lock already; theirs stays
            }
          }
          unlinkSync(aside);
        } catch {
          // another process got there first
        }
        continue;
      }
      if (Date.now() >= deadline) {
        const h = readHolder(path);
        throw new DkError(
          'tempfail',
          'E_PUBLISH_CONFLICT',
          `Zone file is being changed by another process${h ? ` (pid ${h.pid} on ${h.host})` : ''}: lock ${path} held for ${waitMs / 1000} s`,
        );
      }
      await sleep(Math.min(25 * (round + 1), 200));
      continue;
    }
    let ino: number;
    try {
      writeSync(
        fd,
        JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() }),
      );
      ino = statSync(path).ino;
    } finally {
      closeSync(fd);
    }
    return {
      path,
      release() {
        // Only our own lock: if it was judged stale and replaced, the new one is someone else's.
        try {
          if (statSync(path).ino === ino) unlinkSync(path);
        } catch {
          // already gone
        }
      },
    };
  }
}
