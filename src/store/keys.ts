/**
 * Private keys of managed domains, referred to everywhere else by id and public facts (type,
 * SPKI SHA-256 = the `3 1 1` data). The PEM is read only through privateKeyPem(): no listing,
 * no JSON form and no error carries it.
 *
 * Roles (RFC 7671 §8.1, DESIGN.md key policy): `current` is the key of the installed (or about
 * to be installed) certificate, `next` is published ahead so a rotation needs no wait for it,
 * `retired` was current and is kept until its records and certificates are gone. The schema
 * allows at most one current and one next key per domain.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';
import type { KeyType } from './domains.js';
import { hostName, statementCache, storeCall } from './guard.js';

export type KeyRole = 'current' | 'next' | 'retired';

/** A key's public facts: safe to log, print and serialise. */
export interface KeyInfo {
  id: string;
  domain: string;
  role: KeyRole;
  type: KeyType;
  /** lower-case hex SHA-256 of the DER SubjectPublicKeyInfo: the `3 1 1` record's data */
  spkiSha256: string;
  createdAt: string;
}

export interface NewKey {
  /** default: a random UUID */
  id?: string;
  domain: string;
  role: KeyRole;
  type: KeyType;
  privateKeyPem: string;
  spkiSha256: string;
}

interface Row {
  id: string;
  domain: string;
  role: KeyRole;
  type: KeyType;
  spki_sha256: string;
  created_at: string;
}

/** The columns a listing may read: never private_pem. */
const PUBLIC = 'id, domain, role, type, spki_sha256, created_at';

const info = (r: Row): KeyInfo => ({
  id: r.id,
  domain: r.domain,
  role: r.role,
  type: r.type,
  spkiSha256: r.spki_sha256,
  createdAt: r.created_at,
});

export class KeyStore {
  readonly #db: Database.Database;
  readonly #label: string;
  // prepared once per open store (guard.ts statementCache)
  readonly #sql: (sql: string) => Database.Statement;

  readonly #beforeSecret: () => void;

  /** `beforeSecret` runs before a private key is written: it refuses a file others can read. */
  constructor(db: Database.Database, label: string, beforeSecret: () => void = () => {}) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#label = label;
    this.#beforeSecret = beforeSecret;
  }

  /**
   * Stores a new key. E_STORE_KEY when the domain already has a key in that role (current and
   * next are unique per domain) or the SPKI digest is not 64 hex digits.
   */
  add(k: NewKey, now: Date): KeyInfo {
    const id = k.id ?? randomUUID();
    const spki = k.spkiSha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(spki)) {
      throw new DkError(
        'internal',
        'E_STORE_KEY',
        `Key ${id}: the SPKI SHA-256 must be 64 hex digits`,
      );
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(k.privateKeyPem)) {
      throw new DkError('internal', 'E_STORE_KEY', `Key ${id}: the private key is not in PEM form`);
    }
    const domain = hostName(k.domain);
    this.#beforeSecret();
    storeCall(this.#label, 'store a key', () => {
      try {
        this.#sql(
          `INSERT INTO keys (id, domain, role, type, private_pem, spki_sha256, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(id, domain, k.role, k.type, k.privateKeyPem, spki, now.toISOString());
      } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        if (code.startsWith('SQLITE_CONSTRAINT')) {
          throw new DkError(
            'internal',
            'E_STORE_KEY',
            code === 'SQLITE_CONSTRAINT_FOREIGNKEY'
              ? `Cannot store key ${id}: ${domain} is not a managed domain`
              : `Cannot store key ${id} for ${domain}: it already has a ${k.role} key, or the id is taken`,
          );
        }
        throw e;
      }
    });
    return this.get(id)!;
  }

  get(id: string): KeyInfo | undefined {
    const r = storeCall(this.#label, 'read a key', () =>
      this.#sql(`SELECT ${PUBLIC} FROM keys WHERE id = ?`).get(id),
    ) as Row | undefined;
    return r ? info(r) : undefined;
  }

  /** The domain's keys: current, next, then retired (newest first). */
  list(domain: string): KeyInfo[] {
    const rows = storeCall(this.#label, 'list keys', () =>
      this.#sql(
        `SELECT ${PUBLIC} FROM keys WHERE domain = ?
           ORDER BY CASE role WHEN 'current' THEN 0 WHEN 'next' THEN 1 ELSE 2 END,
                    created_at DESC, id`,
      ).all(hostName(domain)),
    ) as Row[];
    return rows.map(info);
  }

  /** The key in `role` for the domain (current or next), if any. */
  byRole(domain: string, role: 'current' | 'next'): KeyInfo | undefined {
    return this.list(domain).find((k) => k.role === role);
  }

  /** The private key, for the CSR and for privkey.pem: the only way to read it. */
  privateKeyPem(id: string): string {
    const r = storeCall(this.#label, 'read a private key', () =>
      this.#sql('SELECT private_pem FROM keys WHERE id = ?').get(id),
    ) as { private_pem: string } | undefined;
    if (!r) throw new DkError('internal', 'E_STORE_KEY', `No key ${id} in the state database`);
    return r.private_pem;
  }

  /**
   * The key rotation's switch, in one transaction: current becomes retired, next becomes
   * current. Returns the new current key; E_STORE_KEY when there is no next key.
   */
  promoteNext(domain: string): KeyInfo {
    const d = hostName(domain);
    return storeCall(this.#label, 'switch to the next key', () =>
      this.#db
        .transaction(() => {
          const next = this.byRole(d, 'next');
          if (!next) {
            throw new DkError('internal', 'E_STORE_KEY', `${d} has no next key to switch to`);
          }
          this.#sql(`UPDATE keys SET role = 'retired' WHERE domain = ? AND role = 'current'`).run(
            d,
          );
          this.#sql(`UPDATE keys SET role = 'current' WHERE id = ?`).run(next.id);
          return this.get(next.id)!;
        })
        .immediate(),
    );
  }

  /** Sets one key's role; E_STORE_KEY when another key holds that role already. */
  setRole(id: string, role: KeyRole): KeyInfo {
    storeCall(this.#label, 'change a key role', () => {
      try {
        const n = this.#sql('UPDATE keys SET role = ? WHERE id = ?').run(role, id).changes;
        if (n === 0)
          throw new DkError('internal', 'E_STORE_KEY', `No key ${id} in the state database`);
      } catch (e) {
        if (((e as { code?: string }).code ?? '').startsWith('SQLITE_CONSTRAINT')) {
          throw new DkError(
            'internal',
            'E_STORE_KEY',
            `Key ${id} cannot become ${role}: another key is ${role}`,
          );
        }
        throw e;
      }
    });
    return this.get(id)!;
  }

  /** Deletes a key (and the certificates made for it); false when there was none. */
  delete(id: string): boolean {
    return storeCall(
      this.#label,
      'delete a key',
      () => this.#sql('DELETE FROM keys WHERE id = ?').run(id).changes > 0,
    );
  }
}
