import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CURRENT_PARAMS,
  hashPassword,
  needsRehash,
  parsePasswordHash,
  verifyNoUser,
  verifyPassword,
} from './password.js';

describe('password hashing (scrypt)', () => {
  it('encodes version, parameters, a 16-byte salt and a 32-byte hash; verifies only the password', async () => {
    const h = await hashPassword('correct horse');
    assert.match(h, /^\$scrypt\$v=1\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.ok(!h.includes('correct horse'));
    assert.equal(await verifyPassword('correct horse', h), true);
    assert.equal(await verifyPassword('correct horsE', h), false);
    assert.equal(await verifyPassword('', h), false);
    const p = parsePasswordHash(h)!;
    assert.equal(p.salt.length, 16);
    assert.equal(p.hash.length, 32);
    assert.deepEqual(p.params, { ln: 15, r: 8, p: 1 });
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same one'), hashPassword('same one')]);
    assert.notEqual(a, b);
  });

  it('NFC-normalises, so the same password typed composed or decomposed matches', async () => {
    const h = await hashPassword('caf\u00e9-pass');
    assert.equal(await verifyPassword('cafe\u0301-pass', h), true);
  });

  it('refuses an empty password', async () => {
    await assert.rejects(hashPassword(''), { code: 'E_PASSWORD_EMPTY' });
  });

  it('a malformed or out-of-bounds stored hash matches nothing and never throws', async () => {
    const good = await hashPassword('whatever1');
    const bad = [
      '',
      'plain',
      good.replace('v=1', 'v=2'),
      good.replace('ln=15', 'ln=30'), // 2^30 * 8 * 128 bytes: refused, not computed
      good.replace('ln=15', 'ln=13'),
      good.replace('r=8', 'r=99'),
      good.slice(0, -4),
      good.replace('$scrypt$', '$argon2id$'),
    ];
    for (const b of bad) {
      assert.equal(parsePasswordHash(b), null, b);
      assert.equal(await verifyPassword('whatever1', b), false, b);
    }
  });

  it('verifies hashes made with other (bounded) parameters, and says they need a rehash', async () => {
    const weak = await hashPassword('older one', { ln: 14, r: 8, p: 1 });
    assert.equal(await verifyPassword('older one', weak), true);
    assert.equal(needsRehash(weak), true);
    assert.equal(needsRehash(await hashPassword('newer one')), false);
    assert.equal(needsRehash('garbage'), true);
    const stronger = await hashPassword('stronger', { ...CURRENT_PARAMS, p: 2 });
    assert.equal(needsRehash(stronger), false);
  });

  it('verifyNoUser spends a verification and answers false', async () => {
    assert.equal(await verifyNoUser('anything'), false);
  });
});
