/**
 * The rollover planner's state per domain, kept as opaque JSON (the planner owns its type,
 * src/core/rollover/types.ts), and the per-domain lease that keeps two keep-secured passes (a
 * timer's `run`, the daemon, a `renew`) from acting on one domain at once (DESIGN.md "every step
 * is persisted before its side effect").
 *
 * `stateVersion` is a revision: 1 for the first save, +1 for each save after. save() takes the
 * revision the caller read, so a pass that worked from a stale read cannot overwrite a newer
 * state (compare-and-set), and, given its lease holder, refuses once its lease was lost.
 *
 * Leases are wall-clock deadlines in one SQLite row per domain; every change is one statement
 * (or one IMMEDIATE transaction), which SQLite serialises across processes: two holders can
 * never both succeed. An expired lease can be taken by anyone; its old holder then fails to
 * renew it and to save.
 */
import type Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';
import { hostName, statementCache, storeCall } from './guard.js';

export interface StoredState {
  domain: string;
  stateVersion: number;
  /** what the planner saved, parsed back from JSON */
  state: unknown;
  updatedAt: string;
}

export interface Lease {
  domain: string;
  holder: string;
  /** ISO 8601 */
  expiresAt: string;
}

export interface SaveOptions {
  /** the stateVersion read before planning; 0 when there was no state yet */
  expectedVersion: number;
  /** when given, the save happens only while this holder holds the domain's lease */
  holder?: string;
  now?: Date;
}

/** A secret in the state would be printed by `status --json` and copied into backups. */
function refuseSecrets(json: string, what: string): void {
  if (/PRIVATE KEY/.test(json)) {
    throw new DkError(
      'internal',
      'E_STORE_SECRET',
      `Refusing to store ${what}: it holds a private key (refer to keys by id)`,
    );
  }
}

export class RolloverStore {
  readonly #db: Database.Database;
  readonly #label: string;
  // prepared once per open store (guard.ts statementCache)
  readonly #sql: (sql: string) => Database.Statement;

  constructor(db: Database.Database, label: string) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#label = label;
  }

  read(domain: string): StoredState | undefined {
    const r = storeCall(this.#label, 'read the rollover state', () =>
      this.#sql(
        'SELECT domain, state_version, state, updated_at FROM rollover_state WHERE domain = ?',
      ).get(hostName(domain)),
    ) as { domain: string; state_version: number; state: string; updated_at: string } | undefined;
    if (!r) return undefined;
    return {
      domain: r.domain,
      stateVersion: r.state_version,
      state: JSON.parse(r.state) as unknown,
      updatedAt: r.updated_at,
    };
  }

  /**
   * Saves the state and returns the new stateVersion. E_STORE_CONFLICT (tempfail) when another
   * save came in between; E_STORE_LEASE (tempfail) when `holder` does not hold the lease.
   */
  save(domain: string, state: unknown, o: SaveOptions): number {
    const d = hostName(domain);
    const json = JSON.stringify(state);
    if (json === undefined) {
      throw new DkError('internal', 'E_STORE_STATE', `The rollover state of ${d} is not JSON`);
    }
    refuseSecrets(json, `the rollover state of ${d}`);
    const now = o.now ?? new Date();
    return storeCall(this.#label, 'save the rollover state', () =>
      this.#db
        .transaction(() => {
          if (o.holder !== undefined && !this.#holds(d, o.holder, now)) {
            throw new DkError(
              'tempfail',
              'E_STORE_LEASE',
              `Not saving the rollover state of ${d}: the lease of ${o.holder} expired or is held by another pass`,
            );
          }
          const cur = this.#sql('SELECT state_version FROM rollover_state WHERE domain = ?').get(
            d,
          ) as { state_version: number } | undefined;
          const have = cur?.state_version ?? 0;
          if (have !== o.expectedVersion) {
            throw new DkError(
              'tempfail',
              'E_STORE_CONFLICT',
              `The rollover state of ${d} changed while it was planned (version ${have}, expected ${o.expectedVersion})`,
            );
          }
          const next = have + 1;
          this.#sql(
            `INSERT INTO rollover_state (domain, state_version, state, updated_at)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (domain) DO UPDATE SET state_version = excluded.state_version,
               state = excluded.state, updated_at = excluded.updated_at`,
          ).run(d, next, json, now.toISOString());
          return next;
        })
        .immediate(),
    );
  }

  #holds(domain: string, holder: string, now: Date): boolean {
    const r = this.#sql(
      'SELECT 1 FROM leases WHERE domain = ? AND holder = ? AND expires_ms > ?',
    ).get(domain, holder, now.getTime());
    return r !== undefined;
  }

  /**
   * Takes the domain's lease for ttlMs, when it is free, expired, or already `holder`'s (then
   * it is extended). Returns the lease, or null when another holder has it.
   */
  acquireLease(domain: string, holder: string, ttlMs: number, now = new Date()): Lease | null {
    const d = hostName(domain);
    checkTtl(ttlMs);
    const expires = now.getTime() + ttlMs;
    const changes = storeCall(
      this.#label,
      'take a lease',
      () =>
        this.#sql(
          `INSERT INTO leases (domain, holder, expires_ms) VALUES (@d, @holder, @expires)
           ON CONFLICT (domain) DO UPDATE SET holder = excluded.holder,
             expires_ms = excluded.expires_ms
           WHERE leases.expires_ms <= @now OR leases.holder = excluded.holder`,
        ).run({ d, holder, expires, now: now.getTime() }).changes,
    );
    return changes > 0 ? { domain: d, holder, expiresAt: new Date(expires).toISOString() } : null;
  }

  /** Extends a lease still held by `holder`; null when it expired or another holder took it. */
  renewLease(domain: string, holder: string, ttlMs: number, now = new Date()): Lease | null {
    const d = hostName(domain);
    checkTtl(ttlMs);
    const expires = now.getTime() + ttlMs;
    const changes = storeCall(
      this.#label,
      'renew a lease',
      () =>
        this.#sql(
          'UPDATE leases SET expires_ms = ? WHERE domain = ? AND holder = ? AND expires_ms > ?',
        ).run(expires, d, holder, now.getTime()).changes,
    );
    return changes > 0 ? { domain: d, holder, expiresAt: new Date(expires).toISOString() } : null;
  }

  /** Gives the lease up; false when `holder` did not hold it (nothing is changed then). */
  releaseLease(domain: string, holder: string): boolean {
    return storeCall(
      this.#label,
      'release a lease',
      () =>
        this.#sql('DELETE FROM leases WHERE domain = ? AND holder = ?').run(
          hostName(domain),
          holder,
        ).changes > 0,
    );
  }

  /** Who holds the domain's lease now, if anyone. */
  lease(domain: string, now = new Date()): Lease | undefined {
    const r = storeCall(this.#label, 'read a lease', () =>
      this.#sql(
        'SELECT domain, holder, expires_ms FROM leases WHERE domain = ? AND expires_ms > ?',
      ).get(hostName(domain), now.getTime()),
    ) as { domain: string; holder: string; expires_ms: number } | undefined;
    return r
      ? { domain: r.domain, holder: r.holder, expiresAt: new Date(r.expires_ms).toISOString() }
      : undefined;
  }
}

function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new DkError(
      'internal',
      'E_STORE_LEASE',
      `A lease needs a positive whole ttl, not ${ttlMs}`,
    );
  }
}
