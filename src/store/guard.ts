/** Shared by the typed stores: the statement wrapper (it lives beside the SQLite errors it maps) and names. */
import type Database from 'better-sqlite3';

export { storeCall } from './store.js';

/** ASCII lower case, no trailing dot: how domain and host names are stored and shown. */
export function hostName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith('.') && lower.length > 1 ? lower.slice(0, -1) : lower;
}

/**
 * Statements prepared once per open handle: a keep-secured pass reads every domain's state and
 * lease, and compiling the SQL again for each domain was a third of a pass at rest
 * (bench/pass.ts). Prepared on first use, inside the caller's storeCall, so a failure is mapped
 * as before. Only fixed SQL texts go in (the cache never grows past the statements in the code).
 */
export function statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
}
