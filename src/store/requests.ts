/**
 * Renew requests waiting for a keep-secured pass (migration 9): what the API and the panel
 * answered 200 to, and what `danekeeper renew` queued while serve held the domain. A row stays
 * until a pass has handed it to the planner and saved the state that carries it, in the same
 * transaction (src/daemon/pass.ts `taken`), so a crash or `kill -9` at any moment neither
 * loses a request nor carries one out twice (issue 10).
 */
import type Database from 'better-sqlite3';
import { hostName, statementCache, storeCall } from './guard.js';

export type RenewRequestKind = 'renew' | 'rotate-key';

export interface RenewRequest {
  domain: string;
  request: RenewRequestKind;
  /** ISO 8601; with domain and request, names this one asking (see take) */
  askedAt: string;
  /** who asked: a user name, or `cli` */
  askedBy: string;
}

interface Row {
  domain: string;
  request: RenewRequestKind;
  asked_at: string;
  asked_by: string;
}

const toRequest = (r: Row): RenewRequest => ({
  domain: r.domain,
  request: r.request,
  askedAt: r.asked_at,
  askedBy: r.asked_by,
});

export class RequestStore {
  readonly #label: string;
  readonly #sql: (sql: string) => Database.Statement;

  constructor(db: Database.Database, label: string) {
    this.#sql = statementCache(db);
    this.#label = label;
  }

  /**
   * Asks for `request` on `domain`. One row per domain, and the stronger request stands: a
   * rotation renews too, so rotate-key after renew is the rotation, and renew after rotate-key
   * leaves the rotation asked. Asking again refreshes asked_at, so a pass that took the earlier
   * asking does not remove this one (take compares it). Returns the row as stored.
   */
  ask(domain: string, request: RenewRequestKind, by: string, now: Date): RenewRequest {
    const name = hostName(domain);
    return storeCall(this.#label, 'queue the renew request', () => {
      this.#sql(
        `INSERT INTO renew_requests (domain, request, asked_at, asked_by) VALUES (?, ?, ?, ?)
         ON CONFLICT (domain) DO UPDATE SET
           request = CASE WHEN renew_requests.request = 'rotate-key' THEN 'rotate-key'
                          ELSE excluded.request END,
           asked_at = excluded.asked_at,
           asked_by = excluded.asked_by`,
      ).run(name, request, now.toISOString(), by);
      return toRequest(this.#sql('SELECT * FROM renew_requests WHERE domain = ?').get(name) as Row);
    });
  }

  /** every waiting request, oldest first */
  list(): RenewRequest[] {
    return storeCall(this.#label, 'read the renew requests', () =>
      (this.#sql('SELECT * FROM renew_requests ORDER BY asked_at, domain').all() as Row[]).map(
        toRequest,
      ),
    );
  }

  /**
   * Removes `r` once a pass has taken it; false when it was asked again meanwhile (another
   * request or a later asking), which then stays for the next pass.
   */
  take(r: RenewRequest): boolean {
    return storeCall(
      this.#label,
      'remove the renew request',
      () =>
        this.#sql(
          'DELETE FROM renew_requests WHERE domain = ? AND request = ? AND asked_at = ?',
        ).run(hostName(r.domain), r.request, r.askedAt).changes > 0,
    );
  }

  /** forgets the request for a domain that is no longer managed */
  drop(domain: string): void {
    storeCall(this.#label, 'remove the renew request', () =>
      this.#sql('DELETE FROM renew_requests WHERE domain = ?').run(hostName(domain)),
    );
  }
}
