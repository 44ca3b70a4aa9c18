import { test } from 'node:test';
import assert from 'node:assert/strict';
import type Database from 'better-sqlite3';
import { CertificateStore } from './certificates.js';
import { DomainStore, type DomainSettings } from './domains.js';
import { EventStore } from './events.js';
import { KeyStore } from './keys.js';
import { RolloverStore } from './rollover.js';
import { openHandle } from './store.js';

const T0 = new Date('2026-03-01T00:00:00.000Z');

function settings(name: string): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
    dane: true,
    certDir: `/etc/danekeeper/live/${name}`,
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

/** A handle whose prepare() calls are counted. */
function counted(): { db: Database.Database; prepares: () => number } {
  const db = openHandle(':memory:', 'in memory');
  const prepare = db.prepare.bind(db);
  let n = 0;
  db.prepare = ((sql: string) => {
    n++;
    return prepare(sql);
  }) as typeof db.prepare;
  return { db, prepares: () => n };
}

test('a keep-secured pass over many domains prepares each statement once per open store', () => {
  const { db, prepares } = counted();
  const domains = new DomainStore(db, 'in memory');
  const rollover = new RolloverStore(db, 'in memory');
  const events = new EventStore(db, 'in memory');
  const keys = new KeyStore(db, 'in memory');
  const certificates = new CertificateStore(db, 'in memory');
  // What runPass and the world ask the store per domain (src/daemon/pass.ts, world.ts).
  const perDomain = (name: string) => {
    domains.get(name);
    rollover.read(name);
    rollover.lease(name, T0);
    assert.ok(rollover.acquireLease(name, 'p', 60_000, T0));
    const v = rollover.read(name)?.stateVersion ?? 0;
    rollover.save(name, { n: v }, { expectedVersion: v, holder: 'p', now: T0 });
    assert.ok(rollover.renewLease(name, 'p', 60_000, T0));
    events.append(name, 'checked', 'checked', {}, T0);
    keys.byRole(name, 'current');
    keys.list(name);
    certificates.list(name);
    certificates.installed(name);
    assert.ok(rollover.releaseLease(name, 'p'));
  };
  for (let i = 0; i < 3; i++) domains.add(settings(`d${i}.example`), T0);
  domains.list();
  perDomain('d0.example');
  const afterOne = prepares();
  assert.ok(afterOne > 0);
  perDomain('d1.example');
  perDomain('d2.example');
  perDomain('d0.example');
  domains.list();
  assert.equal(prepares(), afterOne, 'no statement is prepared again');
  db.close();
});

test('a statement prepared once still works across transactions and sees later writes', () => {
  const { db } = counted();
  const domains = new DomainStore(db, 'in memory');
  const rollover = new RolloverStore(db, 'in memory');
  domains.add(settings('example.org'), T0);
  assert.equal(rollover.read('example.org'), undefined);
  rollover.save('example.org', { a: 1 }, { expectedVersion: 0, now: T0 });
  assert.deepEqual(rollover.read('example.org')?.state, { a: 1 });
  assert.throws(
    () => rollover.save('example.org', { a: 2 }, { expectedVersion: 0, now: T0 }),
    /changed while it was planned/,
  );
  rollover.save('example.org', { a: 3 }, { expectedVersion: 1, now: T0 });
  assert.deepEqual(rollover.read('example.org'), {
    domain: 'example.org',
    stateVersion: 2,
    state: { a: 3 },
    updatedAt: T0.toISOString(),
  });
  db.close();
});
