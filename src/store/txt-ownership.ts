/**
 * TXT values danekeeper published (ACME DNS-01, RFC 8555 §8.4), in the state database
 * (migration 4), so a run that died between publishing a challenge and removing it does not
 * leave `_acme-challenge` values behind forever: the next run removes what is recorded here,
 * and nothing else (src/publish/txt-set.ts). Same scheme as the TLSA ownership (store.ts):
 * pending before the change is sent, settled after it applied.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { OwnedTxt, TxtOwnership } from '../publish/txt-set.js';
import { openHandle, prepareFile, storeCall, storeName } from './store.js';

interface Row {
  zone: string;
  owner: string;
  value: string;
  created_at: string;
  intent?: string;
}

/** The store as the keep-secured pass uses it: also which zones hold values at given owners. */
export interface TxtStore extends TxtOwnership {
  /**
   * The zones (storeName form: absolute, lower case) where values at any of `owners` are
   * recorded, owned or pending: where a sweep must look (an owner's zone is where it was
   * published, RFC 1034 §4.3.2, not necessarily the domain's).
   */
  zonesOf(owners: string[]): string[];
}

class SqliteTxtOwnership implements TxtStore {
  readonly #db: Database.Database;
  readonly #label: string;
  readonly #closeDb: boolean;
  readonly #insert: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #intend: Database.Statement;
  readonly #settle: Database.Statement;
  readonly #abandon: Database.Statement;
  readonly #ownedZone: Database.Statement;
  readonly #pendingZone: Database.Statement;
  readonly #zonesOf: Database.Statement;

  constructor(db: Database.Database, label: string, closeDb: boolean) {
    this.#db = db;
    this.#label = label;
    this.#closeDb = closeDb;
    // OR IGNORE: remembering twice keeps the first time.
    this.#insert = db.prepare(
      `INSERT OR IGNORE INTO owned_txt (zone, owner, value, created_at) VALUES (?, ?, ?, ?)`,
    );
    this.#delete = db.prepare(`DELETE FROM owned_txt WHERE zone = ? AND owner = ? AND value = ?`);
    this.#intend = db.prepare(
      `INSERT OR IGNORE INTO pending_txt (zone, owner, value, intent, created_at)
       VALUES (?, ?, ?, ?, ?)`,
    );
    // every intent's row of the value: once it is remembered (or forgotten) none is pending
    this.#settle = db.prepare(`DELETE FROM pending_txt WHERE zone = ? AND owner = ? AND value = ?`);
    this.#abandon = db.prepare(`DELETE FROM pending_txt WHERE intent = ?`);
    this.#ownedZone = db.prepare(
      `SELECT zone, owner, value, created_at FROM owned_txt WHERE zone = ? ORDER BY owner, value`,
    );
    this.#pendingZone = db.prepare(
      `SELECT zone, owner, value, intent, created_at FROM pending_txt WHERE zone = ?
       ORDER BY owner, value, created_at, intent`,
    );
    this.#zonesOf = db.prepare(
      `SELECT zone FROM owned_txt WHERE owner = ? UNION SELECT zone FROM pending_txt WHERE owner = ?`,
    );
  }

  zonesOf(owners: string[]): string[] {
    return this.#run('read the TXT values danekeeper published', () => {
      const out = new Set<string>();
      for (const owner of owners) {
        const o = storeName(owner);
        for (const r of this.#zonesOf.all(o, o) as { zone: string }[]) out.add(r.zone);
      }
      return [...out].sort();
    });
  }

  #run<T>(what: string, f: () => T): T {
    return storeCall(this.#label, what, f);
  }

  list(zone: string): OwnedTxt[] {
    const z = storeName(zone);
    return this.#run('read the TXT values danekeeper published', () => [
      ...(this.#ownedZone.all(z) as Row[]).map((r): OwnedTxt => ({
        owner: r.owner,
        value: r.value,
        createdAt: r.created_at,
      })),
      ...(this.#pendingZone.all(z) as Row[]).map((r): OwnedTxt => ({
        owner: r.owner,
        value: r.value,
        createdAt: r.created_at,
        intent: r.intent!,
      })),
    ]);
  }

  intend(zone: string, owner: string, values: string[], now: Date): string {
    const z = storeName(zone);
    const o = storeName(owner);
    const intent = randomUUID();
    this.#run('record the TXT values about to be published', () =>
      this.#db.transaction(() => {
        for (const v of values) this.#intend.run(z, o, v, intent, now.toISOString());
      })(),
    );
    return intent;
  }

  remember(zone: string, owner: string, values: string[], now: Date): void {
    const z = storeName(zone);
    const o = storeName(owner);
    this.#run('remember TXT values', () =>
      this.#db.transaction(() => {
        for (const v of values) {
          this.#insert.run(z, o, v, now.toISOString());
          this.#settle.run(z, o, v);
        }
      })(),
    );
  }

  forget(zone: string, owner: string, values: string[]): void {
    const z = storeName(zone);
    const o = storeName(owner);
    this.#run('forget TXT values', () =>
      this.#db.transaction(() => {
        for (const v of values) {
          this.#delete.run(z, o, v);
          this.#settle.run(z, o, v);
        }
      })(),
    );
  }

  abandon(intent: string): void {
    this.#run('drop pending TXT values', () => this.#abandon.run(intent));
  }

  close(): void {
    if (this.#closeDb && this.#db.open) this.#db.close();
  }
}

/** On a handle opened by openHandle (shared with the other stores; close() leaves it open). */
export function txtOwnershipOn(db: Database.Database, label: string): TxtStore {
  return new SqliteTxtOwnership(db, label, false);
}

/** Opens (creating 0600 if needed) the state database at `path`, schema brought up to date. */
export function openTxtOwnership(path: string): TxtStore {
  prepareFile(path);
  return new SqliteTxtOwnership(openHandle(path, path), path, true);
}

/** On a private in-memory database, for tests. */
export function memoryTxtOwnership(): TxtStore {
  return new SqliteTxtOwnership(openHandle(':memory:', 'in memory'), 'in memory', true);
}
