/**
 * One `serve` per state database (issue 10 item 1): a second one would run a second scheduler
 * on the same domains. The lock is an exclusive SQLite lock on a small file beside the state
 * database, held for the life of the process: the kernel drops it when the process dies, so a
 * `kill -9` or a crash leaves no stale lock to clean up and no PID to guess about (a PID file
 * would be wrong after a reboot that hands the same PID to someone else). The holder's name is
 * written beside it only to say who holds it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';

export interface ServeLock {
  readonly path: string;
  release(): void;
}

export function acquireServeLock(statePath: string, holder: string): ServeLock {
  const path = `${statePath}.serve-lock`;
  const who = `${statePath}.serve-holder`;
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  let db: Database.Database;
  try {
    // the first serve on a new machine comes before the state database (and its directory,
    // 0700 as the store makes it)
    mkdirSync(dirname(statePath), { recursive: true, mode: 0o700 });
    db = new Sqlite(path, { timeout: 0 });
  } catch (e) {
    throw new DkError(
      'config',
      'E_SERVE_LOCK',
      `Cannot open the serve lock ${path}: ${(e as Error).message}`,
    );
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // the first write takes the exclusive lock; in EXCLUSIVE mode it is kept after COMMIT
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS serve (holder TEXT)');
    db.prepare('DELETE FROM serve').run();
    db.prepare('INSERT INTO serve (holder) VALUES (?)').run(holder);
    db.exec('COMMIT');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      let other = 'another process';
      try {
        other = readFileSync(who, 'utf8').trim() || other;
      } catch {
        // the holder's name is a courtesy; the lock is what counts
      }
      throw new DkError(
        'tempfail',
        'E_SERVE_RUNNING',
        `Another danekeeper serve (${other}) is running on ${statePath}; stop it first`,
      );
    }
    throw new DkError(
      'config',
      'E_SERVE_LOCK',
      `Cannot take the serve lock ${path}: ${(e as Error).message}`,
    );
  }
  try {
    writeFileSync(who, `${holder}\n`, { mode: 0o600 });
  } catch {
    // see above
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      rmSync(who, { force: true });
      db.close();
    },
  };
}
