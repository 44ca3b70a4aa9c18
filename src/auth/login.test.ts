import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryUsersStore } from '../store/users.js';
import { checkPassword, LoginLimiter } from './login.js';
import { hashPassword, parsePasswordHash } from './password.js';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MIN = 60_000;

describe('checkPassword', () => {
  it('the user for the right password (name in any case); null for a wrong one or an unknown name', async () => {
    const s = memoryUsersStore();
    s.addUser(
      {
        name: 'alice',
        role: 'customer',
        domains: ['a.test'],
        passwordHash: await hashPassword('alice-pass-1'),
      },
      T0,
    );
    assert.equal((await checkPassword(s, ' Alice', 'alice-pass-1', T0))?.name, 'alice');
    assert.deepEqual((await checkPassword(s, 'alice', 'alice-pass-1', T0))?.domains, ['a.test']);
    assert.equal(await checkPassword(s, 'alice', 'alice-pass-2', T0), null);
    assert.equal(await checkPassword(s, 'mallory', 'alice-pass-1', T0), null);
  });

  it('a hash with weaker parameters is replaced at login, sessions kept', async () => {
    const s = memoryUsersStore();
    s.addUser(
      {
        name: 'old',
        role: 'admin',
        domains: [],
        passwordHash: await hashPassword('old-pass-11', { ln: 14, r: 8, p: 1 }),
      },
      T0,
    );
    s.createSession({ sha256: 'a'.repeat(64), user: 'old', csrfSecret: 'c', ttlMs: MIN }, T0);
    assert.equal((await checkPassword(s, 'old', 'old-pass-11', T0))?.name, 'old');
    assert.equal(parsePasswordHash(s.passwordHash('old')!)?.params.ln, 15);
    assert.equal(s.sessionCount('old'), 1);
    assert.equal((await checkPassword(s, 'old', 'old-pass-11', T0))?.name, 'old');
  });
});

describe('LoginLimiter', () => {
  it('blocks a name after 5 failures in 15 minutes and says how long; frees it as failures age', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < 5; i++) {
      assert.equal(l.check('alice', `192.0.2.${i}`, at(i * MIN)), 0);
      l.failed('alice', `192.0.2.${i}`, at(i * MIN));
    }
    assert.equal(l.check('ALICE', '198.51.100.1', at(5 * MIN)), 10 * MIN);
    assert.equal(l.check('bob', '198.51.100.1', at(5 * MIN)), 0);
    assert.equal(l.check('alice', '198.51.100.1', at(15 * MIN)), 0, 'the first failure aged out');
  });

  it('blocks an address after 20 failures over many names; success clears the name only', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < 20; i++) l.failed(`user${i}`, '203.0.113.9', at(i));
    assert.ok(l.check('fresh', '203.0.113.9', at(20)) > 0);
    assert.equal(l.check('fresh', '203.0.113.10', at(20)), 0);
    const m = new LoginLimiter({ perName: 2 });
    m.failed('carol', '192.0.2.1', T0);
    m.failed('carol', '192.0.2.1', T0);
    assert.ok(m.check('carol', '192.0.2.2', T0) > 0);
    m.succeeded('Carol');
    assert.equal(m.check('carol', '192.0.2.2', T0), 0);
  });

  it('remembers at most maxKeys keys, dropping the oldest', () => {
    const l = new LoginLimiter({ maxKeys: 100, perName: 1 });
    for (let i = 0; i < 1000; i++) l.failed(`n${i}`, `a${i}`, T0);
    assert.ok(l.size <= 100);
    assert.ok(l.check('n999', 'x', T0) > 0, 'the newest is still known');
    assert.equal(l.check('n0', 'x', T0), 0, 'the oldest was dropped');
  });
});
