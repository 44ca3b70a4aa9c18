import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  bearerToken,
  isApiToken,
  isTokenId,
  newApiToken,
  newSession,
  safeEqual,
  sha256Hex,
} from './tokens.js';

describe('API tokens and session ids', () => {
  it('a token is dk_ + 32 random bytes base64url; the store gets its SHA-256 hex; ids are separate', () => {
    const t = newApiToken();
    assert.match(t.token, /^dk_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(t.token.slice(3), 'base64url').length, 32);
    assert.equal(t.sha256, createHash('sha256').update(t.token).digest('hex'));
    assert.match(t.id, /^tok_[0-9a-f]{12}$/);
    assert.ok(!t.token.includes(t.id.slice(4)));
    assert.ok(isApiToken(t.token));
    assert.ok(isTokenId(t.id));
    const u = newApiToken();
    assert.notEqual(t.token, u.token);
    assert.notEqual(t.id, u.id);
  });

  it('bearerToken takes only "Bearer dk_…" (RFC 6750 §2.1), case-insensitive scheme', () => {
    const { token } = newApiToken();
    assert.equal(bearerToken(`Bearer ${token}`), token);
    assert.equal(bearerToken(`bearer ${token}`), token);
    assert.equal(bearerToken(undefined), null);
    assert.equal(bearerToken(`Basic ${token}`), null);
    assert.equal(bearerToken(`Bearer ${token}x`), null);
    assert.equal(bearerToken(`Bearer ${token} extra`), null);
    assert.equal(bearerToken('Bearer dk_short'), null);
  });

  it('sessions: a random id and CSRF secret; the store gets the id hash only', () => {
    const s = newSession();
    assert.equal(Buffer.from(s.id, 'base64url').length, 32);
    assert.equal(s.sha256, sha256Hex(s.id));
    assert.equal(Buffer.from(s.csrfSecret, 'base64url').length, 32);
    assert.notEqual(s.id, s.csrfSecret);
  });

  it('safeEqual compares whole strings of any length', () => {
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('abc', 'abd'), false);
    assert.equal(safeEqual('abc', 'abcd'), false);
    assert.equal(safeEqual('', ''), true);
  });
});
