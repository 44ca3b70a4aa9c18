/**
 * The ownership store: which TLSA records danekeeper created, so it never changes or deletes
 * one it did not create (issue 4). SQLite through better-sqlite3.
 *
 * Concurrency: the daemon and a CLI call may have the same file open. The database runs in
 * WAL mode, so readers never block the writer and each write is one short transaction; a
 * writer that finds the database locked waits up to BUSY_TIMEOUT_MS (SQLite's busy handler)
 * before E_STORE_BUSY. WAL needs shared memory, so the file must be on a local file system,
 * which /var/lib and ~/.local/state are.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, chmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import type { OwnedRecord, OwnershipStore, PendingRecord } from '../publish/types.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export const BUSY_TIMEOUT_MS = 5000;

/** Lower case (ASCII only: DNS compares names case-insensitively for ASCII, RFC 4343), absolute. */
export function storeName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith('.') ? lower : `${lower}.`;
}

export function sqliteCode(e: unknown): string {
  return e && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : '';
}

export function openError(path: string, e: unknown): DkError {
  const code = sqliteCode(e);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new DkError(
      'config',
      'E_STORE_OPEN',
      `State database ${path} is not an SQLite database`,
      {
        cause: e,
      },
    );
  }
  if (code === 'SQLITE_BUSY') {
    return new DkError(
      'tempfail',
      'E_STORE_BUSY',
      `State database ${path} stayed locked by another process for ${BUSY_TIMEOUT_MS / 1000} s`,
      { cause: e },
    );
  }
  const why =
    code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_PERM'
      ? 'permission denied'
      : code === 'SQLITE_CANTOPEN'
        ? 'permission denied or not a file'
        : code === 'ENOTDIR'
          ? 'a parent is not a directory'
          : code === 'EROFS' || code === 'SQLITE_READONLY'
            ? 'it is read-only'
            : e instanceof Error
              ? e.message.split('\n')[0]!
              : String(e);
  return new DkError('noinput', 'E_STORE_OPEN', `Cannot open state database ${path}: ${why}`, {
    cause: e,
  });
}

/**
 * One wrapper for every statement of the stores: SQLite failures become one-line DkErrors
 * naming the action and the database, never the values involved (a key's PEM must never reach
 * an error message; SQLite's own messages name only columns and constraints).
 */
export function storeCall<T>(label: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DkError) throw e;
    const code = sqliteCode(e);
    if (code === 'SQLITE_BUSY') throw openError(label, e);
    const detail = code || (e instanceof Error ? e.message.split('\n')[0] : String(e));
    throw new DkError(
      'noinput',
      'E_STORE_IO',
      `Cannot ${what} in state database ${label}: ${detail}`,
      {
        cause: e,
      },
    );
  }
}

/**
 * Creates the database file 0600 (it will later hold ACME account state) and its directory
 * 0700 when they do not exist yet. An existing file or directory keeps its mode.
 */
export function prepareFile(path: string): void {
  const dir = dirname(path);
  try {
    statSync(dir);
  } catch {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw openError(path, e);
    }
  }
  try {
    const fd = openSync(path, 'wx', 0o600);
    closeSync(fd);
    chmodSync(path, 0o600);
  } catch (e) {
    if (sqliteCode(e) !== 'EEXIST') throw openError(path, e);
  }
}

function migrate(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new DkError(
      'config',
      'E_STORE_SCHEMA',
      `State database ${path} has schema version ${current}, newer than the ${SCHEMA_VERSION} this danekeeper knows: upgrade danekeeper`,
    );
  }
  if (current === SCHEMA_VERSION) return;
  // IMMEDIATE takes the write lock first, so two processes starting at once do not both run
  // a migration: the second waits, then re-reads the version inside its own transaction.
  const run = db.transaction(() => {
    const v = db.pragma('user_version', { simple: true }) as number;
    for (const m of MIGRATIONS) {
      if (m.version <= v) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
  });
  run.immediate();
}

interface Row {
  zone: string;
  owner: string;
  usage: number;
  selector: number;
  mtype: number;
  data: Buffer;
  created_at: string;
}

function toRecord(r: Row): TlsaRecord {
  return { usage: r.usage, selector: r.selector, mtype: r.mtype, data: Buffer.from(r.data) };
}

class SqliteOwnershipStore implements OwnershipStore {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #owned: Database.Statement;
  readonly #insert: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #listAll: Database.Statement;
  readonly #listZone: Database.Statement;
  readonly #pending: Database.Statement;
  readonly #intend: Database.Statement;
  readonly #settle: Database.Statement;
  readonly #abandon: Database.Statement;

  constructor(db: Database.Database, path: string) {
    this.#db = db;
    this.#path = path;
    this.#owned = db.prepare(
      `SELECT * FROM owned_tlsa WHERE zone = ? AND owner = ?
       ORDER BY usage, selector, mtype, data`,
    );
    // OR IGNORE: remembering a record twice keeps the first creation time.
    this.#insert = db.prepare(
      `INSERT OR IGNORE INTO owned_tlsa (zone, owner, usage, selector, mtype, data, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#delete = db.prepare(
      `DELETE FROM owned_tlsa
       WHERE zone = ? AND owner = ? AND usage = ? AND selector = ? AND mtype = ? AND data = ?`,
    );
    // Sorted by owner (the interface's promise), then zone and record for a stable order.
    const order = 'ORDER BY owner, zone, usage, selector, mtype, data';
    this.#listAll = db.prepare(`SELECT * FROM owned_tlsa ${order}`);
    this.#listZone = db.prepare(`SELECT * FROM owned_tlsa WHERE zone = ? ${order}`);
    this.#pending = db.prepare(
      `SELECT * FROM pending_tlsa WHERE zone = ? AND owner = ?
       ORDER BY usage, selector, mtype, data, created_at`,
    );
    this.#intend = db.prepare(
      `INSERT OR IGNORE INTO pending_tlsa
         (zone, owner, usage, selector, mtype, data, intent, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Every intent's row of the record: once it is remembered (or forgotten) none is pending.
    this.#settle = db.prepare(
      `DELETE FROM pending_tlsa
       WHERE zone = ? AND owner = ? AND usage = ? AND selector = ? AND mtype = ? AND data = ?`,
    );
    this.#abandon = db.prepare(`DELETE FROM pending_tlsa WHERE intent = ?`);
  }

  #run<T>(what: string, f: () => T): T {
    return storeCall(this.#path, what, f);
  }

  owned(zone: string, owner: string): TlsaRecord[] {
    return this.#run('read owned records', () =>
      (this.#owned.all(storeName(zone), storeName(owner)) as Row[]).map(toRecord),
    );
  }

  remember(zone: string, owner: string, records: TlsaRecord[], now: Date): void {
    const z = storeName(zone);
    const o = storeName(owner);
    const at = now.toISOString();
    this.#run('remember records', () =>
      this.#db.transaction(() => {
        for (const r of records) {
          this.#insert.run(z, o, r.usage, r.selector, r.mtype, r.data, at);
          this.#settle.run(z, o, r.usage, r.selector, r.mtype, r.data);
        }
      })(),
    );
  }

  forget(zone: string, owner: string, records: TlsaRecord[]): void {
    const z = storeName(zone);
    const o = storeName(owner);
    this.#run('forget records', () =>
      this.#db.transaction(() => {
        for (const r of records) {
          this.#delete.run(z, o, r.usage, r.selector, r.mtype, r.data);
          this.#settle.run(z, o, r.usage, r.selector, r.mtype, r.data);
        }
      })(),
    );
  }

  intend(zone: string, owner: string, records: TlsaRecord[], now: Date): string {
    const z = storeName(zone);
    const o = storeName(owner);
    const at = now.toISOString();
    const intent = randomUUID();
    this.#run('record the records about to be published', () =>
      this.#db.transaction(() => {
        for (const r of records) {
          this.#intend.run(z, o, r.usage, r.selector, r.mtype, r.data, intent, at);
        }
      })(),
    );
    return intent;
  }

  pending(zone: string, owner: string): PendingRecord[] {
    return this.#run('read pending records', () =>
      (this.#pending.all(storeName(zone), storeName(owner)) as (Row & { intent: string })[]).map(
        (r) => ({ record: toRecord(r), intent: r.intent, createdAt: r.created_at }),
      ),
    );
  }

  abandon(intent: string): void {
    this.#run('drop pending records', () => this.#abandon.run(intent));
  }

  list(zone?: string): OwnedRecord[] {
    return this.#run('list owned records', () => {
      const rows = (
        zone === undefined ? this.#listAll.all() : this.#listZone.all(storeName(zone))
      ) as Row[];
      return rows.map((r) => ({
        zone: r.zone,
        owner: r.owner,
        record: toRecord(r),
        createdAt: r.created_at,
      }));
    });
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/**
 * The native SQLite binding is loaded on the first open, not at import: `dns propagation`,
 * `dnssec status` and every `--help` import this module without ever opening the store, and
 * loading the addon costs them ~10 ms each (bench/startup.ts).
 */
let sqlite: typeof Database | undefined;
function loadSqlite(): typeof Database {
  sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  return sqlite;
}

/** An open, migrated database handle; the typed stores of src/store/ share it (state.ts). */
export function openHandle(path: string, label: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    const Sqlite = loadSqlite();
    db = new Sqlite(path, { timeout: BUSY_TIMEOUT_MS });
    // The first statement reads the header: this is where "not a database" shows.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (path !== ':memory:') db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a committed transaction survives a process crash; an OS crash may lose
    // the last one, which the next run repairs by re-reading the zone.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, label);
    return db;
  } catch (e) {
    db?.close();
    throw e instanceof DkError ? e : openError(label, e);
  }
}

/** The ownership store on a handle opened by openHandle (shared with the other stores). */
export function ownershipOn(db: Database.Database, label: string): OwnershipStore {
  return new SqliteOwnershipStore(db, label);
}

/** Opens (creating if needed) the state database at `path` and brings its schema up to date. */
export function openStore(path: string): OwnershipStore {
  prepareFile(path);
  return ownershipOn(openHandle(path, path), path);
}

/** The same store on a private in-memory database, for tests. */
export function memoryStore(): OwnershipStore {
  return ownershipOn(openHandle(':memory:', 'in memory'), 'in memory');
}
