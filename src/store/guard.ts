/** Shared by the typed stores: the statement wrapper (it lives beside the SQLite errors it maps) and names. */
export { storeCall } from './store.js';

/** ASCII lower case, no trailing dot: how domain and host names are stored and shown. */
export function hostName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith('.') && lower.length > 1 ? lower.slice(0, -1) : lower;
}
