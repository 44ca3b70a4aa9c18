import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { newApiToken, newSession } from '../auth/tokens.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { memoryUsersStore, openUsersStore } from './users.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-users-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = new Date('2026-03-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const HASH =
  '$scrypt$v=1$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
const DAY = 86_400_000;

function withUsers() {
  const s = memoryUsersStore();
  s.addUser({ name: 'root', role: 'admin', domains: [], passwordHash: HASH }, T0);
  s.addUser(
    {
      name: 'alice',
      role: 'customer',
      domains: ['Example.ORG.', 'example.net'],
      passwordHash: HASH,
    },
    T0,
  );
  return s;
}

describe('users store (migration 7)', () => {
  it('adds users once; domains stored lower case without the dot; listings carry no hash', () => {
    const s = withUsers();
    assert.equal(
      s.addUser({ name: 'alice', role: 'admin', domains: [], passwordHash: 'x' }, T0),
      false,
    );
    assert.deepEqual(
      s.users().map((u) => [u.name, u.role, u.domains]),
      [
        ['alice', 'customer', ['example.net', 'example.org']],
        ['root', 'admin', []],
      ],
    );
    assert.equal(s.user('alice')?.createdAt, T0.toISOString());
    assert.equal(s.user('nobody'), null);
    assert.ok(!JSON.stringify(s.users()).includes('scrypt'));
    assert.ok(!JSON.stringify(s.user('alice')).includes('scrypt'));
    assert.equal(s.passwordHash('alice'), HASH);
    assert.equal(s.passwordHash('nobody'), null);
    assert.equal(s.adminCount(), 1);
  });

  it('a new password replaces the hash and ends that user’s sessions only', () => {
    const s = withUsers();
    const a = newSession();
    const r = newSession();
    s.createSession({ sha256: a.sha256, user: 'alice', csrfSecret: a.csrfSecret, ttlMs: DAY }, T0);
    s.createSession({ sha256: r.sha256, user: 'root', csrfSecret: r.csrfSecret, ttlMs: DAY }, T0);
    assert.equal(s.setPassword('alice', 'new-hash', at(1000)), true);
    assert.equal(s.passwordHash('alice'), 'new-hash');
    assert.equal(s.user('alice')?.updatedAt, at(1000).toISOString());
    assert.equal(s.sessionCount('alice'), 0);
    assert.equal(s.sessionCount('root'), 1);
    assert.equal(s.setPassword('nobody', 'x', T0), false);
  });

  it('removing a user removes their domains, tokens and sessions (not the audit log)', () => {
    const s = withUsers();
    const t = newApiToken();
    const ses = newSession();
    s.addToken({ id: t.id, user: 'alice', sha256: t.sha256, expiresAt: null }, T0);
    s.createSession({ sha256: ses.sha256, user: 'alice', csrfSecret: 'c', ttlMs: DAY }, T0);
    s.audit(
      { actor: 'cli:root', action: 'user.add', target: 'alice', source: 'cli', details: {} },
      T0,
    );
    assert.equal(s.removeUser('alice'), true);
    assert.equal(s.removeUser('alice'), false);
    assert.equal(s.token(t.id), null);
    assert.equal(s.authenticateToken(t.sha256, T0), null);
    assert.equal(s.session(ses.sha256, T0, DAY), null);
    assert.equal(s.auditLog().length, 1);
    // a new alice does not inherit the old one's domains
    s.addUser({ name: 'alice', role: 'customer', domains: [], passwordHash: HASH }, T0);
    assert.deepEqual(s.user('alice')?.domains, []);
  });

  it('tokens: found by hash while valid, last use recorded, refused once expired or revoked', () => {
    const s = withUsers();
    const t = newApiToken();
    s.addToken({ id: t.id, user: 'alice', sha256: t.sha256, expiresAt: at(DAY) }, T0);
    const hit = s.authenticateToken(t.sha256, at(1000));
    assert.equal(hit?.user.name, 'alice');
    assert.deepEqual(hit?.user.domains, ['example.net', 'example.org']);
    assert.equal(hit?.tokenId, t.id);
    assert.equal(s.token(t.id)?.lastUsedAt, at(1000).toISOString());
    assert.equal(s.authenticateToken(newApiToken().sha256, at(1000)), null);
    assert.equal(s.authenticateToken(t.sha256, at(DAY)), null, 'expired at expiresAt');
    assert.equal(s.revokeToken(t.id, at(2000)), true);
    assert.equal(s.revokeToken(t.id, at(3000)), false);
    assert.equal(s.authenticateToken(t.sha256, at(2500)), null);
    assert.equal(s.tokens('alice')[0]?.revokedAt, at(2000).toISOString());
    assert.ok(!JSON.stringify(s.tokens('alice')).includes(t.sha256));
    assert.ok(!JSON.stringify(s.tokens('alice')).includes(t.token));
  });

  it('sessions: lookup refreshes last seen; idle or expired ones are refused and deleted', () => {
    const s = withUsers();
    const a = newSession();
    s.createSession({ sha256: a.sha256, user: 'alice', csrfSecret: a.csrfSecret, ttlMs: DAY }, T0);
    const got = s.session(a.sha256, at(60_000), 30 * 60_000);
    assert.equal(got?.user, 'alice');
    assert.equal(got?.csrfSecret, a.csrfSecret);
    assert.equal(got?.userInfo.role, 'customer');
    assert.equal(got?.expiresAt, at(DAY).toISOString());
    // idle 31 minutes after the last lookup: gone
    assert.equal(s.session(a.sha256, at(60_000 + 31 * 60_000), 30 * 60_000), null);
    assert.equal(s.sessionCount('alice'), 0);
    const b = newSession();
    s.createSession({ sha256: b.sha256, user: 'alice', csrfSecret: 'c', ttlMs: 1000 }, T0);
    assert.equal(s.session(b.sha256, at(1000), DAY), null, 'expired at expiresAt');
    const c = newSession();
    const d = newSession();
    s.createSession({ sha256: c.sha256, user: 'root', csrfSecret: 'c', ttlMs: 1000 }, T0);
    s.createSession({ sha256: d.sha256, user: 'root', csrfSecret: 'c', ttlMs: DAY }, T0);
    assert.equal(s.expireSessions(at(5000)), 1);
    assert.equal(s.endSession(d.sha256), true);
    assert.equal(s.endSession(d.sha256), false);
    assert.equal(s.sessionCount('root'), 0);
  });

  it('the audit log: appended, newest first, paged; append-only on disk; migrated from 6', () => {
    const path = join(dir, 'audit.db');
    const raw = new Database(path);
    for (const m of MIGRATIONS.filter((m) => m.version <= 6)) raw.exec(m.sql);
    raw.pragma('user_version = 6');
    raw.close();
    const s = openUsersStore(path);
    for (let i = 0; i < 3; i++) {
      s.audit(
        {
          actor: 'cli:root',
          action: 'user.add',
          target: `u${i}`,
          source: 'cli',
          details: { role: 'customer', n: i },
        },
        at(i),
      );
    }
    const log = s.auditLog();
    assert.deepEqual(
      log.map((e) => [e.target, e.details.n]),
      [
        ['u2', 2],
        ['u1', 1],
        ['u0', 0],
      ],
    );
    assert.deepEqual(
      s.auditLog({ beforeId: log[0]!.id, limit: 1 }).map((e) => e.target),
      ['u1'],
    );
    s.close();
    const db = new Database(path);
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.throws(() => db.prepare("UPDATE audit_log SET actor = 'x'").run(), /append-only/);
    assert.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/);
    db.close();
  });
});

describe('users store: domains and rehash', () => {
  it('setDomains replaces a customer’s domains; owners finds who owns a name or one above it', () => {
    const s = withUsers();
    s.addUser(
      { name: 'bob', role: 'customer', domains: ['mail.example.org'], passwordHash: HASH },
      T0,
    );
    assert.deepEqual(s.owners('MAIL.example.org.'), ['alice', 'bob']);
    assert.deepEqual(s.owners('www.example.org'), ['alice']);
    assert.deepEqual(s.owners('notexample.org'), []);
    assert.equal(s.setDomains('alice', ['Other.TEST'], at(5)), true);
    assert.deepEqual(s.user('alice')?.domains, ['other.test']);
    assert.equal(s.user('alice')?.updatedAt, at(5).toISOString());
    assert.deepEqual(s.owners('www.example.org'), []);
    assert.equal(s.setDomains('nobody', [], T0), false);
  });

  it('setPassword with endSessions false (a rehash at login) keeps the sessions', () => {
    const s = withUsers();
    const a = newSession();
    s.createSession({ sha256: a.sha256, user: 'alice', csrfSecret: 'c', ttlMs: DAY }, T0);
    assert.equal(s.setPassword('alice', 'rehashed', T0, { endSessions: false }), true);
    assert.equal(s.sessionCount('alice'), 1);
  });
});

describe('users store: settings (migration 8)', () => {
  it('overrides are set, replaced and read back as JSON values; undefined leaves one alone', () => {
    const s = withUsers();
    assert.deepEqual(s.settings(), {});
    s.setSettings({ daneEnabled: false, confirmationInterval: 3600 }, T0);
    s.setSettings({ daneEnabled: true, confirmationInterval: undefined }, at(1));
    assert.deepEqual(s.settings(), { confirmationInterval: 3600, daneEnabled: true });
  });
});
