/**
 * The CA's current issuers per key type, for `--issuer-records` (DESIGN.md key policy: `2 1 1`
 * records "for the key type, all current issuers, or none"; never one intermediate alone). An
 * RFC 8555 CA tells them with every certificate: the default chain and each alternate chain
 * (RFC 8555 §7.4.2, `Link: rel="alternate"`) name the issuers the same key could be presented
 * under. Every certificate above the leaf in any of them counts; the book keeps what earlier
 * orders showed too (a CA that picks one of several intermediates per order, as Let's Encrypt
 * does, shows a different one each time), until the issuer's own certificate expires.
 *
 * Kept as a small JSON file next to the ACME account of the same directory, so one CA's issuers
 * never mix with another's. Public data only (SPKI digests, names, dates).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DkError } from '../core/errors.js';
import { splitChain } from '../io/acme/index.js';

export interface IssuerEntry {
  /** SHA-256 of the issuer's SubjectPublicKeyInfo, hex (what `2 1 1` holds) */
  spki: string;
  subject: string;
  /** the issuer certificate's notAfter, ISO 8601; the latest seen when several share the key */
  notAfter: string;
}

/** key type (`ec-p256`, `rsa-2048`, ...) -> issuers, sorted by SPKI */
export type IssuerBook = Record<string, IssuerEntry[]>;

/** Every certificate above the leaf in each chain (leaf first), one entry per SPKI. */
export function issuersOfChains(chains: string[]): IssuerEntry[] {
  const out = new Map<string, IssuerEntry>();
  for (const chain of chains) {
    for (const pem of splitChain(chain).slice(1)) {
      const x = new X509Certificate(pem);
      const spki = createHash('sha256')
        .update(x.publicKey.export({ type: 'spki', format: 'der' }))
        .digest('hex');
      const notAfter = new Date(x.validTo).toISOString();
      const had = out.get(spki);
      if (!had || had.notAfter < notAfter) {
        out.set(spki, { spki, subject: x.subject.replace(/\n/g, ', '), notAfter });
      }
    }
  }
  return [...out.values()];
}

/** The book with `entries` added for `keyType`, and every expired issuer dropped. */
export function mergeIssuers(
  book: IssuerBook,
  keyType: string,
  entries: IssuerEntry[],
  now: Date,
): IssuerBook {
  const t = now.toISOString();
  const out: IssuerBook = {};
  for (const [k, list] of Object.entries(book)) {
    out[k] = list.filter((e) => e.notAfter > t);
  }
  const byKey = new Map((out[keyType] ?? []).map((e) => [e.spki, e]));
  for (const e of entries) {
    if (e.notAfter <= t) continue;
    const had = byKey.get(e.spki);
    if (!had || had.notAfter < e.notAfter) byKey.set(e.spki, e);
  }
  out[keyType] = [...byKey.values()].sort((a, b) => (a.spki < b.spki ? -1 : 1));
  return out;
}

/** The SPKI digests of the issuers of `keyType` still valid at `now`, sorted. */
export function currentIssuers(book: IssuerBook, keyType: string, now: Date): string[] {
  const t = now.toISOString();
  return (book[keyType] ?? []).filter((e) => e.notAfter > t).map((e) => e.spki);
}

export function readIssuerBook(path: string): IssuerBook {
  if (!existsSync(path)) return {};
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not an object');
    return j as IssuerBook;
  } catch (e) {
    throw new DkError(
      'data',
      'E_DAEMON_ISSUERS',
      `Cannot read the CA's issuers from ${path}: ${(e as Error).message} (remove the file: the next order writes it again)`,
    );
  }
}

/** Whole or not at all (a crash leaves the old book). */
export function writeIssuerBook(path: string, book: IssuerBook): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(book, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}
