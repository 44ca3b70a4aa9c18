/**
 * The monitor's tables (migration 5, issue 10): domains watched without being managed, the
 * findings of monitor passes with their first- and last-seen times, and what notifications
 * went out when (so a problem gets one message, a reminder at most every reminder interval and
 * one recovery notice, across restarts of the daemon).
 *
 * It opens its own handle on the state database (WAL: any number of handles may share the
 * file), so the monitor needs nothing from the other stores' owners.
 */
import type Database from 'better-sqlite3';
import { hostName, storeCall } from './guard.js';
import { openHandle, prepareFile } from './store.js';

export type FindingSeverity = 'critical' | 'warning';

/** One problem a monitor pass saw. `key` (domain, code, subject) identifies it across passes. */
export interface Finding {
  domain: string;
  /** a stable rule name: `live-mismatch`, `serial-behind`, `rrsig-expiry`, ... */
  code: string;
  /** what it is about: an address, a server, an RRset */
  subject: string;
  severity: FindingSeverity;
  /** one line for people */
  message: string;
  /** what to do about it */
  fix?: string;
}

export interface StoredFinding extends Finding {
  key: string;
  firstSeen: string;
  lastSeen: string;
  /** null while the problem is seen; the time of the first pass that no longer saw it */
  recoveredAt: string | null;
}

export const findingKey = (f: Pick<Finding, 'domain' | 'code' | 'subject'>): string =>
  `${hostName(f.domain)}|${f.code}|${f.subject}`;

/**
 * Pure: what a pass's findings do to the stored ones. Only domains in `checked` are judged: a
 * domain whose check could not run keeps its findings as they were (nothing recovers because
 * the monitor could not look).
 */
export function reconcileFindings(
  prev: readonly StoredFinding[],
  seen: readonly Finding[],
  checked: ReadonlySet<string>,
  now: Date,
): { rows: StoredFinding[]; opened: StoredFinding[]; recovered: StoredFinding[] } {
  const at = now.toISOString();
  const byKey = new Map(prev.map((f) => [f.key, f]));
  const rows: StoredFinding[] = [];
  const opened: StoredFinding[] = [];
  const recovered: StoredFinding[] = [];
  const seenKeys = new Set<string>();
  for (const f of seen) {
    const key = findingKey(f);
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    const old = byKey.get(key);
    const fresh = !old || old.recoveredAt !== null;
    const row: StoredFinding = {
      ...f,
      domain: hostName(f.domain),
      key,
      firstSeen: fresh ? at : old.firstSeen,
      lastSeen: at,
      recoveredAt: null,
    };
    rows.push(row);
    if (fresh) opened.push(row);
  }
  for (const old of prev) {
    if (seenKeys.has(old.key) || old.recoveredAt !== null) continue;
    if (!checked.has(old.domain)) continue;
    const row = { ...old, recoveredAt: at };
    rows.push(row);
    recovered.push(row);
  }
  return { rows, opened, recovered };
}

/** What was sent for one open problem (src/notify/policy.ts decides). */
export interface SentRow {
  key: string;
  domain: string;
  kind: string;
  title: string;
  openedAt: string;
  lastSent: string;
  reminders: number;
  /** what the recipients last heard about it */
  told: 'open' | 'recovered';
  /** start of the current flap window and the messages sent in it (problem and recovery) */
  windowStart: string;
  windowCount: number;
}

export interface WatchedDomain {
  name: string;
  addedAt: string;
}

interface FindingRow {
  key: string;
  domain: string;
  code: string;
  subject: string;
  severity: FindingSeverity;
  message: string;
  fix: string | null;
  first_seen: string;
  last_seen: string;
  recovered_at: string | null;
}

const fromFindingRow = (r: FindingRow): StoredFinding => ({
  key: r.key,
  domain: r.domain,
  code: r.code,
  subject: r.subject,
  severity: r.severity,
  message: r.message,
  ...(r.fix === null ? {} : { fix: r.fix }),
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  recoveredAt: r.recovered_at,
});

export class MonitorStore {
  readonly #db: Database.Database;
  readonly #label: string;

  constructor(db: Database.Database, label: string) {
    this.#db = db;
    this.#label = label;
  }

  #run<T>(what: string, f: () => T): T {
    return storeCall(this.#label, what, f);
  }

  /** Adds a domain to watch; false when it was watched already. */
  watch(name: string, now: Date): boolean {
    return this.#run('add a watched domain', () => {
      const r = this.#db
        .prepare('INSERT OR IGNORE INTO watched_domains (name, added_at) VALUES (?, ?)')
        .run(hostName(name), now.toISOString());
      return r.changes > 0;
    });
  }

  /** Stops watching a domain and forgets its findings; false when it was not watched. */
  unwatch(name: string): boolean {
    const n = hostName(name);
    return this.#run('remove a watched domain', () =>
      this.#db.transaction(() => {
        const r = this.#db.prepare('DELETE FROM watched_domains WHERE name = ?').run(n);
        if (r.changes > 0) {
          // forgotten, not recovered: no recovery notice for a domain nobody watches any more
          this.#db.prepare('DELETE FROM monitor_findings WHERE domain = ?').run(n);
          this.#db.prepare('DELETE FROM notify_sent WHERE domain = ?').run(n);
        }
        return r.changes > 0;
      })(),
    );
  }

  watched(): WatchedDomain[] {
    return this.#run('list watched domains', () =>
      (
        this.#db.prepare('SELECT name, added_at FROM watched_domains ORDER BY name').all() as {
          name: string;
          added_at: string;
        }[]
      ).map((r) => ({ name: r.name, addedAt: r.added_at })),
    );
  }

  /** Findings, open ones first; `open`: only those not recovered. */
  findings(o: { open?: boolean; domain?: string } = {}): StoredFinding[] {
    const where: string[] = [];
    const args: string[] = [];
    if (o.open) where.push('recovered_at IS NULL');
    if (o.domain !== undefined) {
      where.push('domain = ?');
      args.push(hostName(o.domain));
    }
    const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.#run('list monitor findings', () =>
      (
        this.#db
          .prepare(
            `SELECT * FROM monitor_findings ${cond}
             ORDER BY recovered_at IS NOT NULL, domain, code, subject`,
          )
          .all(...args) as FindingRow[]
      ).map(fromFindingRow),
    );
  }

  /** Stores a pass's findings (reconcileFindings) in one transaction. */
  record(
    seen: readonly Finding[],
    checked: ReadonlySet<string>,
    now: Date,
  ): { opened: StoredFinding[]; recovered: StoredFinding[]; open: StoredFinding[] } {
    const checkedNames = new Set([...checked].map(hostName));
    return this.#run('record monitor findings', () =>
      this.#db.transaction(() => {
        const prev = this.findings();
        const r = reconcileFindings(prev, seen, checkedNames, now);
        const up = this.#db.prepare(
          `INSERT INTO monitor_findings
             (key, domain, code, subject, severity, message, fix, first_seen, last_seen, recovered_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET severity = excluded.severity,
             message = excluded.message, fix = excluded.fix, first_seen = excluded.first_seen,
             last_seen = excluded.last_seen, recovered_at = excluded.recovered_at`,
        );
        for (const f of r.rows) {
          up.run(
            f.key,
            f.domain,
            f.code,
            f.subject,
            f.severity,
            f.message,
            f.fix ?? null,
            f.firstSeen,
            f.lastSeen,
            f.recoveredAt,
          );
        }
        return { opened: r.opened, recovered: r.recovered, open: this.findings({ open: true }) };
      })(),
    );
  }

  sent(): SentRow[] {
    return this.#run('read the notifications sent', () =>
      (
        this.#db.prepare('SELECT * FROM notify_sent ORDER BY key').all() as {
          key: string;
          domain: string;
          kind: string;
          title: string;
          opened_at: string;
          last_sent: string;
          reminders: number;
          told: 'open' | 'recovered';
          window_start: string | null;
          window_count: number;
        }[]
      ).map((r) => ({
        told: r.told,
        windowStart: r.window_start ?? r.opened_at,
        windowCount: r.window_count,
        key: r.key,
        domain: r.domain,
        kind: r.kind,
        title: r.title,
        openedAt: r.opened_at,
        lastSent: r.last_sent,
        reminders: r.reminders,
      })),
    );
  }

  /** Applies what the notification policy decided, in one transaction. */
  saveSent(upserts: readonly SentRow[], deletes: readonly string[]): void {
    this.#run('record the notifications sent', () =>
      this.#db.transaction(() => {
        const up = this.#db.prepare(
          `INSERT INTO notify_sent (key, domain, kind, title, opened_at, last_sent, reminders,
             told, window_start, window_count)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, title = excluded.title,
             opened_at = excluded.opened_at, last_sent = excluded.last_sent,
             reminders = excluded.reminders, told = excluded.told,
             window_start = excluded.window_start, window_count = excluded.window_count`,
        );
        for (const s of upserts) {
          up.run(
            s.key,
            s.domain,
            s.kind,
            s.title,
            s.openedAt,
            s.lastSent,
            s.reminders,
            s.told,
            s.windowStart,
            s.windowCount,
          );
        }
        const del = this.#db.prepare('DELETE FROM notify_sent WHERE key = ?');
        for (const k of deletes) del.run(k);
      })(),
    );
  }

  /** The last event-log id notified; null before the first notification pass. */
  cursor(name: string): number | null {
    return this.#run('read the notification cursor', () => {
      const r = this.#db
        .prepare('SELECT last_event_id FROM notify_cursor WHERE name = ?')
        .get(name) as { last_event_id: number } | undefined;
      return r ? r.last_event_id : null;
    });
  }

  setCursor(name: string, id: number): void {
    this.#run('move the notification cursor', () =>
      this.#db
        .prepare(
          `INSERT INTO notify_cursor (name, last_event_id) VALUES (?, ?)
           ON CONFLICT (name) DO UPDATE SET last_event_id = excluded.last_event_id`,
        )
        .run(name, id),
    );
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/** The monitor store on the state database at `path` (created 0600 and migrated if needed). */
export function openMonitorStore(path: string): MonitorStore {
  prepareFile(path);
  return new MonitorStore(openHandle(path, path), path);
}

/** The same on a private in-memory database, for tests. */
export function memoryMonitorStore(): MonitorStore {
  return new MonitorStore(openHandle(':memory:', 'in memory'), 'in memory');
}
