/**
 * One wrapper for every statement of the typed stores: SQLite failures become one-line DkErrors
 * naming the action and the database, never the values involved (a key's PEM must never reach
 * an error message, and SQLite's own messages name only columns and constraints).
 */
import { DkError } from '../core/errors.js';
import { openError, sqliteCode } from './store.js';

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

/** ASCII lower case, no trailing dot: how domain and host names are stored and shown. */
export function hostName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith('.') && lower.length > 1 ? lower.slice(0, -1) : lower;
}
