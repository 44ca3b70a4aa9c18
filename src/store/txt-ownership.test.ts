/**
 * TXT ownership in the state database (migration 4): pending before the change, settled
 * after, forgotten on removal; a version 3 database migrates with its data kept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { openTxtOwnership, memoryTxtOwnership, txtOwnershipOn } from './txt-ownership.js';
import { openState } from './state.js';

const Z = 'Example.ORG';
const O = '_acme-challenge.Mail.example.org';
const T0 = new Date('2026-01-01T00:00:00Z');

test('intend, remember, forget, abandon: names lower case and absolute, each intent its own', () => {
  const s = memoryTxtOwnership();
  const i1 = s.intend(Z, O, ['v1', 'v2'], T0);
  const i2 = s.intend(Z, O, ['v2'], T0);
  assert.deepEqual(
    s.list('example.org.').map((r) => [r.owner, r.value, r.intent]),
    [
      ['_acme-challenge.mail.example.org.', 'v1', i1],
      ...[i1, i2].sort().map((i) => ['_acme-challenge.mail.example.org.', 'v2', i]),
    ],
  );
  s.abandon(i2);
  assert.equal(s.list(Z).length, 2, "only that intent's rows go");
  s.remember(Z, O, ['v1'], T0);
  s.remember(Z, O, ['v1'], new Date('2026-02-01T00:00:00Z'));
  assert.deepEqual(s.list(Z), [
    {
      owner: '_acme-challenge.mail.example.org.',
      value: 'v1',
      createdAt: T0.toISOString(),
    },
    {
      owner: '_acme-challenge.mail.example.org.',
      value: 'v2',
      createdAt: T0.toISOString(),
      intent: i1,
    },
  ]);
  s.forget(Z, O, ['v1', 'v2', 'never']);
  assert.deepEqual(s.list(Z), []);
  assert.deepEqual(s.list('other.org'), []);
  s.close();
});

test('a version 3 database migrates through 4 to the newest schema with its TLSA ownership kept; the file stays 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-txtown-'));
  try {
    const path = join(dir, 'state.db');
    writeFileSync(path, '', { mode: 0o600 });
    const raw = new Database(path);
    for (const m of MIGRATIONS.filter((m) => m.version <= 3)) raw.exec(m.sql);
    raw.pragma('user_version = 3');
    raw
      .prepare('INSERT INTO owned_tlsa VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run('x.test.', '_25._tcp.m.x.test.', 3, 1, 1, Buffer.alloc(32, 1), T0.toISOString());
    raw.close();
    const st = openState(path);
    assert.equal(st.ownership.owned('x.test', '_25._tcp.m.x.test').length, 1);
    // the TXT store on the same handle as every other store
    const db = new Database(path);
    const s = txtOwnershipOn(db, path);
    s.remember('x.test', '_acme-challenge.m.x.test', ['v'], T0);
    db.close();
    st.close();
    const again = openTxtOwnership(path);
    assert.deepEqual(
      again.list('x.test').map((r) => r.value),
      ['v'],
    );
    again.close();
    const check = new Database(path, { readonly: true });
    // brought up to the newest schema (migration 4 and every one after it)
    assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    check.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zonesOf: every zone holding an owned or pending value at the owners, once each', () => {
  const s = memoryTxtOwnership();
  s.remember('example.org', '_acme-challenge.example.org', ['a'], T0);
  s.remember('Mail.Example.Org.', '_acme-challenge.MAIL.example.org.', ['b'], T0);
  s.intend('mail.example.org', '_acme-challenge.mail.example.org', ['c'], T0);
  s.intend('other.test', '_acme-challenge.other.test', ['d'], T0);
  assert.deepEqual(
    s.zonesOf(['_acme-challenge.example.org.', '_acme-challenge.mail.example.org']),
    ['example.org.', 'mail.example.org.'],
  );
  assert.deepEqual(s.zonesOf(['_acme-challenge.other.test']), ['other.test.']);
  assert.deepEqual(s.zonesOf(['_acme-challenge.nothing.test.']), []);
  s.forget('example.org', '_acme-challenge.example.org', ['a']);
  assert.deepEqual(s.zonesOf(['_acme-challenge.example.org']), []);
  s.close();
});
