/**
 * Accounts (migration 7, issue 11): users with their role and domains, API tokens, panel
 * sessions and the audit log. Secrets never come back out: reads return the password hash
 * only through `passwordHash` (for the login), tokens and sessions are found by the SHA-256
 * of the secret the client presents (src/auth/tokens.ts), and no listing carries a hash.
 *
 * It opens its own handle on the state database (WAL: any number of handles share the file),
 * as the monitor store does, so the web layer needs nothing from the other stores' owners.
 */
import type Database from 'better-sqlite3';
import type { Principal, Role } from '../auth/authz.js';
import { hostName, statementCache, storeCall } from './guard.js';
import { openHandle, prepareFile } from './store.js';

export interface User extends Principal {
  createdAt: string;
  updatedAt: string;
}

export interface TokenInfo {
  id: string;
  user: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface SessionInfo {
  user: string;
  createdAt: string;
  expiresAt: string;
  lastSeen: string;
  csrfSecret: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  /** `cli:root`, `web:alice`, `api:alice` */
  actor: string;
  /** `user.add`, `token.create`, `domain.change`, ... */
  action: string;
  /** what it acted on: a user name, a token id, a domain */
  target: string | null;
  /** where from: `cli`, a client address */
  source: string;
  details: Record<string, unknown>;
}

export type AuditInput = Omit<AuditEntry, 'id' | 'at'>;

interface UserRow {
  name: string;
  role: Role;
  created_at: string;
  updated_at: string;
}

interface TokenRow {
  id: string;
  user: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

const fromToken = (r: TokenRow): TokenInfo => ({
  id: r.id,
  user: r.user,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export class UsersStore {
  readonly #db: Database.Database;
  readonly #label: string;
  readonly #st: (sql: string) => Database.Statement;

  constructor(db: Database.Database, label: string) {
    this.#db = db;
    this.#label = label;
    this.#st = statementCache(db);
  }

  #run<T>(what: string, f: () => T): T {
    return storeCall(this.#label, what, f);
  }

  #domainsOf(name: string): string[] {
    return (
      this.#st('SELECT domain FROM user_domains WHERE user = ? ORDER BY domain').all(name) as {
        domain: string;
      }[]
    ).map((r) => r.domain);
  }

  #user(r: UserRow): User {
    return {
      name: r.name,
      role: r.role,
      domains: r.role === 'admin' ? [] : this.#domainsOf(r.name),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  /** Adds a user; false (and nothing written) when the name is taken. */
  addUser(
    u: { name: string; role: Role; domains: readonly string[]; passwordHash: string },
    now: Date,
  ): boolean {
    const at = now.toISOString();
    return this.#run('add a user', () =>
      this.#db.transaction(() => {
        const r = this.#st(
          `INSERT OR IGNORE INTO users (name, role, password_hash, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?)`,
        ).run(u.name, u.role, u.passwordHash, at, at);
        if (r.changes === 0) return false;
        const ins = this.#st('INSERT OR IGNORE INTO user_domains (user, domain) VALUES (?, ?)');
        for (const d of u.domains) ins.run(u.name, hostName(d));
        return true;
      })(),
    );
  }

  user(name: string): User | null {
    return this.#run('read a user', () => {
      const r = this.#st('SELECT name, role, created_at, updated_at FROM users WHERE name = ?').get(
        name,
      ) as UserRow | undefined;
      return r ? this.#user(r) : null;
    });
  }

  users(): User[] {
    return this.#run('list users', () =>
      (
        this.#st(
          'SELECT name, role, created_at, updated_at FROM users ORDER BY name',
        ).all() as UserRow[]
      ).map((r) => this.#user(r)),
    );
  }

  /** For the login only: the stored hash, null when there is no such user. */
  passwordHash(name: string): string | null {
    return this.#run('read a password hash', () => {
      const r = this.#st('SELECT password_hash FROM users WHERE name = ?').get(name) as
        { password_hash: string } | undefined;
      return r ? r.password_hash : null;
    });
  }

  /**
   * Replaces a user's password hash and ends their sessions (a changed password logs every
   * browser out). API tokens stay: they are separate credentials with their own revoke.
   * False when there is no such user.
   */
  setPassword(
    name: string,
    passwordHash: string,
    now: Date,
    o: { endSessions?: boolean } = {},
  ): boolean {
    return this.#run('change a password', () =>
      this.#db.transaction(() => {
        const r = this.#st('UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?').run(
          passwordHash,
          now.toISOString(),
          name,
        );
        if (r.changes === 0) return false;
        // a rehash at login (same password, stronger parameters) keeps the sessions
        if (o.endSessions !== false) this.#st('DELETE FROM sessions WHERE user = ?').run(name);
        return true;
      })(),
    );
  }

  /** Replaces a customer's domains (the panel's users page); false when there is no user. */
  setDomains(name: string, domains: readonly string[], now: Date): boolean {
    return this.#run("change a user's domains", () =>
      this.#db.transaction(() => {
        const r = this.#st('UPDATE users SET updated_at = ? WHERE name = ?').run(
          now.toISOString(),
          name,
        );
        if (r.changes === 0) return false;
        this.#st('DELETE FROM user_domains WHERE user = ?').run(name);
        const ins = this.#st('INSERT OR IGNORE INTO user_domains (user, domain) VALUES (?, ?)');
        for (const d of domains) ins.run(name, hostName(d));
        return true;
      })(),
    );
  }

  /** The users owning `domain` or a name above it (who may act on it, who should hear of it). */
  owners(domain: string): string[] {
    const labels = hostName(domain).split('.');
    const names = labels.map((_, i) => labels.slice(i).join('.'));
    return this.#run('read the owners of a domain', () =>
      (
        this.#st(
          `SELECT DISTINCT user FROM user_domains
           WHERE domain IN (SELECT value FROM json_each(?)) ORDER BY user`,
        ).all(JSON.stringify(names)) as { user: string }[]
      ).map((r) => r.user),
    );
  }

  /** Removes a user with their domains, tokens and sessions; false when there is none. */
  removeUser(name: string): boolean {
    return this.#run('remove a user', () => {
      const r = this.#st('DELETE FROM users WHERE name = ?').run(name);
      return r.changes > 0;
    });
  }

  /** The number of admins: `user remove` refuses to remove the last one. */
  adminCount(): number {
    return this.#run('count admins', () => {
      const r = this.#st("SELECT count(*) AS n FROM users WHERE role = 'admin'").get() as {
        n: number;
      };
      return r.n;
    });
  }

  // ---- API tokens

  addToken(
    t: { id: string; user: string; sha256: string; expiresAt: Date | null },
    now: Date,
  ): void {
    this.#run('store an API token', () =>
      this.#st(
        `INSERT INTO api_tokens (id, user, token_sha256, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?)`,
      ).run(t.id, t.user, t.sha256, now.toISOString(), t.expiresAt?.toISOString() ?? null),
    );
  }

  tokens(user: string): TokenInfo[] {
    return this.#run('list API tokens', () =>
      (
        this.#st(
          `SELECT id, user, created_at, expires_at, last_used_at, revoked_at
           FROM api_tokens WHERE user = ? ORDER BY created_at, id`,
        ).all(user) as TokenRow[]
      ).map(fromToken),
    );
  }

  token(id: string): TokenInfo | null {
    return this.#run('read an API token', () => {
      const r = this.#st(
        `SELECT id, user, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens WHERE id = ?`,
      ).get(id) as TokenRow | undefined;
      return r ? fromToken(r) : null;
    });
  }

  /** Revokes a token; false when there is none or it was revoked already. */
  revokeToken(id: string, now: Date): boolean {
    return this.#run('revoke an API token', () => {
      const r = this.#st(
        'UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
      ).run(now.toISOString(), id);
      return r.changes > 0;
    });
  }

  /**
   * The user a presented token (by its SHA-256) stands for, when it is neither revoked nor
   * expired; records the use. Null otherwise, with no hint why (the caller answers 401).
   */
  authenticateToken(sha256: string, now: Date): { user: User; tokenId: string } | null {
    const at = now.toISOString();
    return this.#run('look up an API token', () =>
      this.#db.transaction(() => {
        const r = this.#st(
          `SELECT id, user FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL
             AND (expires_at IS NULL OR expires_at > ?)`,
        ).get(sha256, at) as { id: string; user: string } | undefined;
        if (!r) return null;
        const u = this.#st(
          'SELECT name, role, created_at, updated_at FROM users WHERE name = ?',
        ).get(r.user) as UserRow | undefined;
        if (!u) return null;
        this.#st('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(at, r.id);
        return { user: this.#user(u), tokenId: r.id };
      })(),
    );
  }

  // ---- panel sessions

  createSession(
    s: { sha256: string; user: string; csrfSecret: string; ttlMs: number },
    now: Date,
  ): void {
    const at = now.toISOString();
    this.#run('create a session', () =>
      this.#st(
        `INSERT INTO sessions (id_sha256, user, created_at, expires_at, last_seen, csrf_secret)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(
        s.sha256,
        s.user,
        at,
        new Date(now.getTime() + s.ttlMs).toISOString(),
        at,
        s.csrfSecret,
      ),
    );
  }

  /**
   * The session for a cookie's id (by SHA-256): null when unknown, expired, or idle for longer
   * than `idleMs`; an expired or idle one is deleted. A live one gets its last-seen time.
   */
  session(sha256: string, now: Date, idleMs: number): (SessionInfo & { userInfo: User }) | null {
    const at = now.toISOString();
    return this.#run('look up a session', () =>
      this.#db.transaction(() => {
        const r = this.#st(
          `SELECT user, created_at, expires_at, last_seen, csrf_secret FROM sessions
           WHERE id_sha256 = ?`,
        ).get(sha256) as
          | {
              user: string;
              created_at: string;
              expires_at: string;
              last_seen: string;
              csrf_secret: string;
            }
          | undefined;
        if (!r) return null;
        const idle = now.getTime() - Date.parse(r.last_seen) > idleMs;
        if (r.expires_at <= at || idle) {
          this.#st('DELETE FROM sessions WHERE id_sha256 = ?').run(sha256);
          return null;
        }
        const u = this.#st(
          'SELECT name, role, created_at, updated_at FROM users WHERE name = ?',
        ).get(r.user) as UserRow | undefined;
        if (!u) return null;
        this.#st('UPDATE sessions SET last_seen = ? WHERE id_sha256 = ?').run(at, sha256);
        return {
          user: r.user,
          createdAt: r.created_at,
          expiresAt: r.expires_at,
          lastSeen: at,
          csrfSecret: r.csrf_secret,
          userInfo: this.#user(u),
        };
      })(),
    );
  }

  /** Logout: false when there was no such session. */
  endSession(sha256: string): boolean {
    return this.#run('end a session', () => {
      return this.#st('DELETE FROM sessions WHERE id_sha256 = ?').run(sha256).changes > 0;
    });
  }

  /** Deletes every session past its expiry; returns how many. */
  expireSessions(now: Date): number {
    return this.#run('expire sessions', () => {
      return this.#st('DELETE FROM sessions WHERE expires_at <= ?').run(now.toISOString()).changes;
    });
  }

  sessionCount(user: string): number {
    return this.#run('count sessions', () => {
      const r = this.#st('SELECT count(*) AS n FROM sessions WHERE user = ?').get(user) as {
        n: number;
      };
      return r.n;
    });
  }

  // ---- audit log

  /** Appends one entry; `details` must hold no secret (callers pass names, roles, ids). */
  audit(e: AuditInput, now: Date): number {
    return this.#run('append to the audit log', () => {
      const r = this.#st(
        `INSERT INTO audit_log (at, actor, action, target, source, details)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(now.toISOString(), e.actor, e.action, e.target, e.source, JSON.stringify(e.details));
      return Number(r.lastInsertRowid);
    });
  }

  /** The newest entries first. */
  auditLog(o: { limit?: number; beforeId?: number } = {}): AuditEntry[] {
    return this.#run('read the audit log', () =>
      (
        this.#st(
          `SELECT id, at, actor, action, target, source, details FROM audit_log
           WHERE id < ? ORDER BY id DESC LIMIT ?`,
        ).all(o.beforeId ?? Number.MAX_SAFE_INTEGER, o.limit ?? 100) as {
          id: number;
          at: string;
          actor: string;
          action: string;
          target: string | null;
          source: string;
          details: string;
        }[]
      ).map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> })),
    );
  }

  // ---- settings (migration 8): panel/API overrides of the INI file

  /** The overrides set, by key (values as stored JSON, parsed). */
  settings(): Record<string, unknown> {
    return this.#run('read the settings', () =>
      Object.fromEntries(
        (
          this.#st('SELECT key, value FROM settings ORDER BY key').all() as {
            key: string;
            value: string;
          }[]
        ).map((r) => [r.key, JSON.parse(r.value) as unknown]),
      ),
    );
  }

  /** Sets overrides in one transaction; `undefined` values are left alone. */
  setSettings(values: Record<string, unknown>, now: Date): void {
    const at = now.toISOString();
    this.#run('change the settings', () =>
      this.#db.transaction(() => {
        const up = this.#st(
          `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        );
        for (const [k, v] of Object.entries(values))
          if (v !== undefined) up.run(k, JSON.stringify(v), at);
      })(),
    );
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/** The accounts store on the state database at `path` (created 0600 and migrated if needed). */
export function openUsersStore(path: string): UsersStore {
  prepareFile(path);
  return new UsersStore(openHandle(path, path), path);
}

/** The same on a private in-memory database, for tests. */
export function memoryUsersStore(): UsersStore {
  return new UsersStore(openHandle(':memory:', 'in memory'), 'in memory');
}
