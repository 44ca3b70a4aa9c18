/**
 * Certificates of a domain's lineage: the chain as the CA returned it (leaf first; DESIGN.md:
 * never a hardcoded intermediate), its dates and serial, the key it was made for, and the ARI
 * CertID (RFC 9773 §4.1) to ask renewalInfo about it and to send as `replaces`.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';
import { hostName, statementCache, storeCall } from './guard.js';

export interface CertificateInfo {
  id: string;
  domain: string;
  keyId: string;
  /** PEM, leaf first */
  chainPem: string;
  /** ISO 8601 */
  notBefore: string;
  notAfter: string;
  /** hex, as the certificate has it */
  serial: string;
  /** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial); null without an AKI */
  ariCertId: string | null;
  issuedAt: string;
  /** when it was installed in the cert dir; null: not (yet) */
  installedAt: string | null;
  /** when another certificate took its place there; null: not replaced */
  replacedAt: string | null;
}

export type NewCertificate = Omit<CertificateInfo, 'id' | 'installedAt' | 'replacedAt'> & {
  id?: string;
};

interface Row {
  id: string;
  domain: string;
  key_id: string;
  chain_pem: string;
  not_before: string;
  not_after: string;
  serial: string;
  ari_cert_id: string | null;
  issued_at: string;
  installed_at: string | null;
  replaced_at: string | null;
}

const fromRow = (r: Row): CertificateInfo => ({
  id: r.id,
  domain: r.domain,
  keyId: r.key_id,
  chainPem: r.chain_pem,
  notBefore: r.not_before,
  notAfter: r.not_after,
  serial: r.serial,
  ariCertId: r.ari_cert_id,
  issuedAt: r.issued_at,
  installedAt: r.installed_at,
  replacedAt: r.replaced_at,
});

const iso = (s: string, what: string) => {
  const t = Date.parse(s);
  if (Number.isNaN(t))
    throw new DkError('internal', 'E_STORE_CERT', `${what} "${s}" is not an ISO 8601 time`);
  return new Date(t).toISOString();
};

export class CertificateStore {
  readonly #db: Database.Database;
  readonly #label: string;
  // prepared once per open store (guard.ts statementCache)
  readonly #sql: (sql: string) => Database.Statement;

  constructor(db: Database.Database, label: string) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#label = label;
  }

  add(c: NewCertificate): CertificateInfo {
    const id = c.id ?? randomUUID();
    if (/PRIVATE KEY/.test(c.chainPem)) {
      // A chain is public; a private key pasted into it would be printed and served.
      throw new DkError(
        'internal',
        'E_STORE_CERT',
        `Certificate ${id}: the chain holds a private key`,
      );
    }
    storeCall(this.#label, 'store a certificate', () => {
      try {
        this.#sql(
          `INSERT INTO certificates (id, domain, key_id, chain_pem, not_before, not_after,
               serial, ari_cert_id, issued_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          id,
          hostName(c.domain),
          c.keyId,
          c.chainPem,
          iso(c.notBefore, 'notBefore'),
          iso(c.notAfter, 'notAfter'),
          c.serial.toLowerCase(),
          c.ariCertId,
          iso(c.issuedAt, 'issuedAt'),
        );
      } catch (e) {
        if (((e as { code?: string }).code ?? '').startsWith('SQLITE_CONSTRAINT')) {
          throw new DkError(
            'internal',
            'E_STORE_CERT',
            `Cannot store certificate ${id}: unknown domain or key, or the id is taken`,
          );
        }
        throw e;
      }
    });
    return this.get(id)!;
  }

  get(id: string): CertificateInfo | undefined {
    const r = storeCall(this.#label, 'read a certificate', () =>
      this.#sql('SELECT * FROM certificates WHERE id = ?').get(id),
    ) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** The domain's certificates, newest issued first. */
  list(domain: string): CertificateInfo[] {
    const rows = storeCall(this.#label, 'list certificates', () =>
      this.#sql('SELECT * FROM certificates WHERE domain = ? ORDER BY issued_at DESC, id').all(
        hostName(domain),
      ),
    ) as Row[];
    return rows.map(fromRow);
  }

  /** The certificate in the cert dir now: installed and not replaced. */
  installed(domain: string): CertificateInfo | undefined {
    const r = storeCall(this.#label, 'read the installed certificate', () =>
      this.#sql(
        `SELECT * FROM certificates WHERE domain = ? AND installed_at IS NOT NULL
             AND replaced_at IS NULL ORDER BY installed_at DESC LIMIT 1`,
      ).get(hostName(domain)),
    ) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /**
   * Records an installation: this certificate is installed at `at`, and the one it took the
   * place of is replaced at the same moment (one transaction: never two installed, never none
   * between). Installing it again (a rollback to it) clears its replacedAt.
   */
  markInstalled(id: string, at: Date): CertificateInfo {
    const when = at.toISOString();
    return storeCall(this.#label, 'record an installation', () =>
      this.#db
        .transaction(() => {
          const c = this.get(id);
          if (!c)
            throw new DkError(
              'internal',
              'E_STORE_CERT',
              `No certificate ${id} in the state database`,
            );
          this.#sql(
            `UPDATE certificates SET replaced_at = ? WHERE domain = ? AND id <> ?
               AND installed_at IS NOT NULL AND replaced_at IS NULL`,
          ).run(when, c.domain, id);
          this.#sql(
            'UPDATE certificates SET installed_at = ?, replaced_at = NULL WHERE id = ?',
          ).run(when, id);
          return this.get(id)!;
        })
        .immediate(),
    );
  }
}
