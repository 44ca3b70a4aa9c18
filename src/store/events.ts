/**
 * The event log: what happened to each domain, for `status`, the panel and notifications.
 * Append-only (triggers in migration 3 refuse UPDATE and DELETE), so it survives the domain.
 * An event never holds a secret: append() refuses text that looks like a private key.
 */
import type Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';
import { hostName, statementCache, storeCall } from './guard.js';

export interface DkEvent {
  id: number;
  domain: string;
  /** ISO 8601 */
  at: string;
  /** `domain-added`, `records-published`, `installed`, ...: lower case words and dashes */
  kind: string;
  /** one line for people */
  message: string;
  details: Record<string, unknown>;
}

export interface EventQuery {
  domain?: string;
  /** only events at or after this time */
  since?: Date;
  /** the newest `limit` events (still returned oldest first) */
  limit?: number;
}

interface Row {
  id: number;
  domain: string;
  at: string;
  kind: string;
  message: string;
  details: string;
}

const fromRow = (r: Row): DkEvent => ({
  id: r.id,
  domain: r.domain,
  at: r.at,
  kind: r.kind,
  message: r.message,
  details: JSON.parse(r.details) as Record<string, unknown>,
});

export class EventStore {
  readonly #db: Database.Database;
  readonly #label: string;
  // prepared once per open store (guard.ts statementCache)
  readonly #sql: (sql: string) => Database.Statement;

  constructor(db: Database.Database, label: string) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#label = label;
  }

  append(
    domain: string,
    kind: string,
    message: string,
    details: Record<string, unknown> = {},
    at = new Date(),
  ): DkEvent {
    if (!/^[a-z][a-z0-9-]*$/.test(kind)) {
      throw new DkError(
        'internal',
        'E_STORE_EVENT',
        `Event kind "${kind}" must be lower-case words joined by dashes`,
      );
    }
    const json = JSON.stringify(details);
    if (/PRIVATE KEY/.test(message) || /PRIVATE KEY/.test(json)) {
      throw new DkError(
        'internal',
        'E_STORE_SECRET',
        `Refusing to log a ${kind} event for ${hostName(domain)}: it holds a private key`,
      );
    }
    const one = message.replace(/\s*\n\s*/g, ' ');
    const id = storeCall(this.#label, 'log an event', () =>
      Number(
        this.#sql(
          'INSERT INTO events (domain, at, kind, message, details) VALUES (?, ?, ?, ?, ?)',
        ).run(hostName(domain), at.toISOString(), kind, one, json).lastInsertRowid,
      ),
    );
    return { id, domain: hostName(domain), at: at.toISOString(), kind, message: one, details };
  }

  /** Events oldest first (by time, then by the order they were logged). */
  list(q: EventQuery = {}): DkEvent[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.domain !== undefined) {
      where.push('domain = ?');
      args.push(hostName(q.domain));
    }
    if (q.since !== undefined) {
      // ISO 8601 in UTC with milliseconds (toISOString) sorts as text in time order.
      where.push('at >= ?');
      args.push(q.since.toISOString());
    }
    const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const sql =
      q.limit !== undefined
        ? `SELECT * FROM (SELECT * FROM events ${cond} ORDER BY at DESC, id DESC LIMIT ?) ORDER BY at, id`
        : `SELECT * FROM events ${cond} ORDER BY at, id`;
    if (q.limit !== undefined) args.push(q.limit);
    const rows = storeCall(this.#label, 'list events', () =>
      this.#db.prepare(sql).all(...args),
    ) as Row[];
    return rows.map(fromRow);
  }
}
