import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';
import { certificateNames, type DomainSettings } from './domains.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { memoryState, openState, type StateStore } from './state.js';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string;
const hex = (c: string) => c.repeat(64);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'dk-state-'));
}

function settings(name = 'example.org', over: Partial<DomainSettings> = {}): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
    dane: true,
    certDir: `/etc/danekeeper/live/${name}`,
    reload: [['systemctl', 'reload', 'postfix']],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
    ...over,
  };
}

function dkError(f: () => unknown): DkError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.ok(!e.message.includes('PRIVATE KEY'), 'no key in the message');
    return e;
  }
  assert.fail('no error');
}

function withDomain(): StateStore {
  const s = memoryState();
  s.domains.add(settings(), T0);
  return s;
}

test('a version 2 database keeps its owned and pending records when migrated to 3', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0]!.sql);
    raw.exec(MIGRATIONS[1]!.sql);
    raw.pragma('user_version = 2');
    const data = Buffer.alloc(32, 0xdd);
    raw
      .prepare('INSERT INTO owned_tlsa VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run('x.test.', '_25._tcp.m.x.test.', 3, 1, 1, data, '2025-01-01T00:00:00.000Z');
    raw
      .prepare('INSERT INTO pending_tlsa VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run('x.test.', '_25._tcp.m.x.test.', 3, 1, 1, data, 'i-1', '2025-01-01T00:00:00.000Z');
    raw.close();
    const s = openState(path);
    assert.deepEqual(s.ownership.owned('x.test', '_25._tcp.m.x.test'), [
      { usage: 3, selector: 1, mtype: 1, data },
    ]);
    assert.equal(s.ownership.pending('x.test', '_25._tcp.m.x.test')[0]?.intent, 'i-1');
    s.domains.add(settings('x.test'), T0);
    assert.equal(s.domains.list().length, 1);
    s.close();
    const again = new Database(path, { readonly: true });
    assert.equal(again.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.ok(SCHEMA_VERSION >= 3);
    const tables = (
      again.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    for (const t of ['domains', 'keys', 'certificates', 'rollover_state', 'leases', 'events']) {
      assert.ok(tables.includes(t), t);
    }
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a private key is never written to a file that others can read', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    const s = openState(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    s.domains.add(settings(), T0);
    chmodSync(path, 0o644);
    const key = {
      domain: 'example.org',
      role: 'current' as const,
      type: 'ec-p256' as const,
      privateKeyPem: PEM,
      spkiSha256: hex('a'),
    };
    const e = dkError(() => s.keys.add(key, T0));
    assert.equal(e.code, 'E_STORE_MODE');
    assert.equal(e.kind, 'config');
    assert.match(e.message, /readable by other users \(mode 0644\).*chmod 600/);
    assert.deepEqual(s.keys.list('example.org'), []);
    chmodSync(path, 0o600);
    assert.equal(s.keys.add(key, T0).role, 'current');
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('domains: add, get, list, update, remove; names normalised; adding twice refused', () => {
  const s = memoryState();
  const d = s.domains.add(
    settings('Example.ORG.', {
      mailHosts: ['MAIL.example.org.'],
      endpoints: [{ host: 'Mail.Example.org', port: 587, proto: 'tcp' }],
      challenge: 'dns-01',
    }),
    T0,
  );
  assert.equal(d.name, 'example.org');
  assert.deepEqual(d.mailHosts, ['mail.example.org']);
  assert.deepEqual(d.endpoints, [{ host: 'mail.example.org', port: 587, proto: 'tcp' }]);
  assert.equal(d.challenge, 'dns-01');
  assert.equal(d.createdAt, T0.toISOString());
  assert.deepEqual(d.reload, [['systemctl', 'reload', 'postfix']]);
  assert.deepEqual(s.domains.get('EXAMPLE.org'), d);
  const e = dkError(() => s.domains.add(settings('example.org'), at(1)));
  assert.equal(e.code, 'E_DOMAIN_EXISTS');
  assert.equal(e.kind, 'usage');
  s.domains.add(settings('a.test'), T0);
  assert.deepEqual(
    s.domains.list().map((x) => x.name),
    ['a.test', 'example.org'],
  );
  const u = s.domains.update('example.org', { dane: false }, at(5));
  assert.equal(u.dane, false);
  assert.equal(u.updatedAt, at(5).toISOString());
  assert.equal(u.createdAt, T0.toISOString());
  assert.equal(dkError(() => s.domains.update('nope.test', {}, T0)).code, 'E_DOMAIN_UNKNOWN');
  assert.equal(s.domains.remove('example.org'), true);
  assert.equal(s.domains.remove('example.org'), false);
  assert.equal(s.domains.get('example.org'), undefined);
  s.close();
});

test('certificateNames: the domain unless excluded, then each subdomain', () => {
  assert.deepEqual(certificateNames(settings('example.org', { subdomains: ['www', 'Mail'] })), [
    'example.org',
    'www.example.org',
    'mail.example.org',
  ]);
  assert.deepEqual(
    certificateNames(settings('example.org', { includeDomainName: false, subdomains: ['mail'] })),
    ['mail.example.org'],
  );
});

test('keys: listed by public facts only; the PEM through its own accessor; one current and one next', () => {
  const s = withDomain();
  const cur = s.keys.add(
    {
      id: 'k1',
      domain: 'example.org',
      role: 'current',
      type: 'ec-p256',
      privateKeyPem: PEM,
      spkiSha256: hex('A'),
    },
    T0,
  );
  assert.deepEqual(cur, {
    id: 'k1',
    domain: 'example.org',
    role: 'current',
    type: 'ec-p256',
    spkiSha256: hex('a'),
    createdAt: T0.toISOString(),
  });
  const next = s.keys.add(
    {
      domain: 'example.org',
      role: 'next',
      type: 'ec-p256',
      privateKeyPem: PEM,
      spkiSha256: hex('b'),
    },
    at(1),
  );
  assert.match(next.id, /^[0-9a-f-]{36}$/);
  const listed = s.keys.list('example.org');
  assert.deepEqual(
    listed.map((k) => k.role),
    ['current', 'next'],
  );
  assert.ok(!JSON.stringify(listed).includes('PRIVATE'), 'no PEM in a listing');
  assert.ok(!JSON.stringify(s.keys.get('k1')).includes('PRIVATE'));
  assert.equal(s.keys.privateKeyPem('k1'), PEM);
  // a second current key is refused, naming no secret
  const dup = dkError(() =>
    s.keys.add(
      {
        domain: 'example.org',
        role: 'current',
        type: 'ec-p256',
        privateKeyPem: PEM,
        spkiSha256: hex('c'),
      },
      T0,
    ),
  );
  assert.equal(dup.code, 'E_STORE_KEY');
  assert.equal(dkError(() => s.keys.setRole(next.id, 'current')).code, 'E_STORE_KEY');
  // unknown domain, bad digest, not a PEM
  const base = { role: 'retired' as const, type: 'ec-p256' as const, privateKeyPem: PEM };
  assert.match(
    dkError(() => s.keys.add({ ...base, domain: 'other.test', spkiSha256: hex('d') }, T0)).message,
    /not a managed domain/,
  );
  assert.equal(
    dkError(() => s.keys.add({ ...base, domain: 'example.org', spkiSha256: 'abc' }, T0)).code,
    'E_STORE_KEY',
  );
  assert.equal(
    dkError(() =>
      s.keys.add(
        { ...base, privateKeyPem: 'secret', domain: 'example.org', spkiSha256: hex('e') },
        T0,
      ),
    ).code,
    'E_STORE_KEY',
  );
  // the rotation's switch
  const promoted = s.keys.promoteNext('example.org');
  assert.equal(promoted.id, next.id);
  assert.deepEqual(
    s.keys.list('example.org').map((k) => [k.id, k.role]),
    [
      [next.id, 'current'],
      ['k1', 'retired'],
    ],
  );
  assert.equal(dkError(() => s.keys.promoteNext('example.org')).code, 'E_STORE_KEY');
  assert.equal(s.keys.byRole('example.org', 'next'), undefined);
  assert.equal(dkError(() => s.keys.privateKeyPem('nope')).code, 'E_STORE_KEY');
  assert.equal(s.keys.delete('k1'), true);
  assert.equal(s.keys.delete('k1'), false);
  s.close();
});

function addCert(s: StateStore, id: string, issued: Date, keyId = 'k1') {
  return s.certificates.add({
    id,
    domain: 'example.org',
    keyId,
    chainPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    notBefore: issued.toISOString(),
    notAfter: new Date(issued.getTime() + 90 * 86400_000).toISOString(),
    serial: 'ABCDEF',
    ariCertId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
    issuedAt: issued.toISOString(),
  });
}

test('certificates: stored with their facts; one installed at a time; a rollback reinstalls', () => {
  const s = withDomain();
  s.keys.add(
    {
      id: 'k1',
      domain: 'example.org',
      role: 'current',
      type: 'ec-p256',
      privateKeyPem: PEM,
      spkiSha256: hex('a'),
    },
    T0,
  );
  const c1 = addCert(s, 'c1', T0);
  assert.equal(c1.serial, 'abcdef');
  assert.equal(c1.installedAt, null);
  assert.equal(c1.ariCertId, 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  assert.equal(s.certificates.installed('example.org'), undefined);
  s.certificates.markInstalled('c1', at(10));
  addCert(s, 'c2', at(100));
  assert.deepEqual(
    s.certificates.list('example.org').map((c) => c.id),
    ['c2', 'c1'],
  );
  s.certificates.markInstalled('c2', at(200));
  assert.equal(s.certificates.installed('example.org')?.id, 'c2');
  assert.equal(s.certificates.get('c1')?.replacedAt, at(200).toISOString());
  // rollback: c1 again, c2 replaced
  s.certificates.markInstalled('c1', at(300));
  assert.equal(s.certificates.installed('example.org')?.id, 'c1');
  assert.equal(s.certificates.get('c1')?.replacedAt, null);
  assert.equal(s.certificates.get('c2')?.replacedAt, at(300).toISOString());
  assert.equal(dkError(() => addCert(s, 'c3', T0, 'no-such-key')).code, 'E_STORE_CERT');
  assert.equal(
    dkError(() =>
      s.certificates.add({
        ...c1,
        id: 'c4',
        chainPem: `${c1.chainPem}${PEM}`,
      }),
    ).code,
    'E_STORE_CERT',
  );
  assert.equal(dkError(() => s.certificates.markInstalled('nope', T0)).code, 'E_STORE_CERT');
  s.close();
});

test('rollover state: opaque JSON, a revision per save, stale and lease-less saves refused', () => {
  const s = withDomain();
  assert.equal(s.rollover.read('example.org'), undefined);
  const v1 = s.rollover.save(
    'example.org',
    { phase: 'idle', n: [1, 2] },
    { expectedVersion: 0, now: T0 },
  );
  assert.equal(v1, 1);
  assert.deepEqual(s.rollover.read('EXAMPLE.org'), {
    domain: 'example.org',
    stateVersion: 1,
    state: { phase: 'idle', n: [1, 2] },
    updatedAt: T0.toISOString(),
  });
  assert.equal(s.rollover.save('example.org', { phase: 'x' }, { expectedVersion: 1 }), 2);
  const stale = dkError(() =>
    s.rollover.save('example.org', { phase: 'y' }, { expectedVersion: 1 }),
  );
  assert.equal(stale.code, 'E_STORE_CONFLICT');
  assert.equal(stale.kind, 'tempfail');
  assert.deepEqual(s.rollover.read('example.org')?.state, { phase: 'x' });
  // with a holder: only while the lease is held
  const noLease = dkError(() =>
    s.rollover.save('example.org', {}, { expectedVersion: 2, holder: 'pass-1', now: T0 }),
  );
  assert.equal(noLease.code, 'E_STORE_LEASE');
  assert.ok(s.rollover.acquireLease('example.org', 'pass-1', 60_000, T0));
  assert.equal(
    s.rollover.save('example.org', {}, { expectedVersion: 2, holder: 'pass-1', now: at(59) }),
    3,
  );
  assert.equal(
    dkError(() =>
      s.rollover.save('example.org', {}, { expectedVersion: 3, holder: 'pass-1', now: at(60) }),
    ).code,
    'E_STORE_LEASE',
  );
  assert.equal(
    dkError(() => s.rollover.save('example.org', { k: PEM }, { expectedVersion: 3 })).code,
    'E_STORE_SECRET',
  );
  // a state for a domain that is not managed is refused by the foreign key
  assert.equal(
    dkError(() => s.rollover.save('x.test', {}, { expectedVersion: 0 })).code,
    'E_STORE_IO',
  );
  s.close();
});

test('leases: free, held, extended by its holder, expired taken over, released only by the holder', () => {
  const s = memoryState();
  const l = s.rollover.acquireLease('example.org', 'a', 1000, T0);
  assert.deepEqual(l, { domain: 'example.org', holder: 'a', expiresAt: at(1).toISOString() });
  assert.equal(s.rollover.acquireLease('example.org', 'b', 1000, at(0.5)), null);
  assert.equal(s.rollover.lease('example.org', at(0.5))?.holder, 'a');
  // the holder again extends it
  assert.ok(s.rollover.acquireLease('example.org', 'a', 1000, at(0.5)));
  assert.ok(s.rollover.renewLease('example.org', 'a', 1000, at(1.2)));
  assert.equal(s.rollover.renewLease('example.org', 'b', 1000, at(1.2)), null);
  assert.equal(s.rollover.releaseLease('example.org', 'b'), false);
  // expired: b takes it, and a can neither renew nor release it
  assert.equal(s.rollover.lease('example.org', at(2.2)), undefined);
  assert.ok(s.rollover.acquireLease('example.org', 'b', 1000, at(2.2)));
  assert.equal(s.rollover.renewLease('example.org', 'a', 1000, at(2.3)), null);
  assert.equal(s.rollover.releaseLease('example.org', 'a'), false);
  assert.equal(s.rollover.releaseLease('example.org', 'b'), true);
  assert.ok(s.rollover.acquireLease('example.org', 'a', 1000, at(2.4)));
  // other domains are independent
  assert.ok(s.rollover.acquireLease('other.test', 'b', 1000, at(2.4)));
  assert.equal(dkError(() => s.rollover.acquireLease('x.test', 'a', 0)).code, 'E_STORE_LEASE');
  s.close();
});

test('events: appended, listed per domain and since a time, append-only, never a secret', () => {
  const s = memoryState();
  s.events.append('example.org', 'domain-added', 'Added', { names: ['example.org'] }, T0);
  s.events.append('Other.test', 'domain-added', 'Added other', {}, at(1));
  s.events.append('example.org', 'records-published', 'Published\n2 records', { n: 2 }, at(2));
  s.events.append('example.org', 'installed', 'Installed', {}, at(3));
  const mine = s.events.list({ domain: 'EXAMPLE.org' });
  assert.deepEqual(
    mine.map((e) => e.kind),
    ['domain-added', 'records-published', 'installed'],
  );
  assert.equal(mine[1]!.message, 'Published 2 records');
  assert.deepEqual(mine[1]!.details, { n: 2 });
  assert.deepEqual(
    s.events.list({ domain: 'example.org', since: at(2) }).map((e) => e.kind),
    ['records-published', 'installed'],
  );
  assert.deepEqual(
    s.events.list({ since: at(1) }).map((e) => e.domain),
    ['other.test', 'example.org', 'example.org'],
  );
  assert.deepEqual(
    s.events.list({ domain: 'example.org', limit: 1 }).map((e) => e.kind),
    ['installed'],
  );
  assert.equal(
    dkError(() => s.events.append('example.org', 'x', 'k', { pem: PEM })).code,
    'E_STORE_SECRET',
  );
  assert.equal(
    dkError(() => s.events.append('example.org', 'Bad Kind', 'm')).code,
    'E_STORE_EVENT',
  );
  s.close();
});

test('events survive domain remove; keys, certificates and rollover state go with it; owned records stay', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    const s = openState(path);
    s.domains.add(settings(), T0);
    s.keys.add(
      {
        id: 'k1',
        domain: 'example.org',
        role: 'current',
        type: 'ec-p256',
        privateKeyPem: PEM,
        spkiSha256: hex('a'),
      },
      T0,
    );
    addCert(s, 'c1', T0);
    s.rollover.save('example.org', { phase: 'idle' }, { expectedVersion: 0 });
    s.events.append('example.org', 'domain-added', 'Added', {}, T0);
    s.ownership.remember(
      'example.org',
      '_25._tcp.mail.example.org',
      [{ usage: 3, selector: 1, mtype: 1, data: Buffer.alloc(32, 0xaa) }],
      T0,
    );
    assert.equal(s.domains.remove('example.org'), true);
    assert.deepEqual(s.keys.list('example.org'), []);
    assert.deepEqual(s.certificates.list('example.org'), []);
    assert.equal(s.rollover.read('example.org'), undefined);
    assert.equal(s.events.list({ domain: 'example.org' }).length, 1);
    assert.equal(s.ownership.list('example.org').length, 1);
    s.close();
    // append-only: even a raw connection cannot change or delete an event
    const raw = new Database(path);
    assert.throws(() => raw.prepare("UPDATE events SET message = 'x'").run(), /append-only/);
    assert.throws(() => raw.prepare('DELETE FROM events').run(), /append-only/);
    raw.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one transaction across stores: all or nothing', () => {
  const s = withDomain();
  assert.throws(() =>
    s.transaction(() => {
      s.events.append('example.org', 'installed', 'x', {}, T0);
      s.domains.update('example.org', { dane: false }, T0);
      throw new Error('crash');
    }),
  );
  assert.equal(s.events.list().length, 0);
  assert.equal(s.domains.get('example.org')?.dane, true);
  s.close();
});

const worker = join(import.meta.dirname, '..', '..', 'test', 'support', 'lease-worker.ts');

function startWorker(args: string[]): {
  child: ChildProcess;
  out: Promise<string>;
  first: Promise<string>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let firstLine: (s: string) => void;
  const first = new Promise<string>((r) => (firstLine = r));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.includes('\n')) firstLine(out.split('\n')[0]!);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<string>((resolve, reject) =>
    child.on('close', (code, signal) =>
      code === 0 || signal === 'SIGKILL'
        ? resolve(out)
        : reject(new Error(`worker ${code}: ${err}`)),
    ),
  );
  return { child, out: done, first };
}

test('leases across real processes: four passes racing never both hold one domain', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    openState(path).close();
    const startAt = Date.now() + 1500;
    const n = 15;
    const workers = ['p1', 'p2', 'p3', 'p4'].map((h) =>
      startWorker([path, h, 'race', String(n), String(startAt)]),
    );
    const outs = await Promise.all(workers.map((w) => w.out));
    assert.deepEqual(
      outs.map((o) => o.trim()),
      [String(n), String(n), String(n), String(n)],
    );
    const s = openState(path);
    const log = s.events.list({ domain: 'lease.test' });
    s.close();
    assert.equal(log.length, 4 * n * 2);
    // every enter is followed by the same holder's leave: no two holders ever inside at once
    for (let i = 0; i < log.length; i += 2) {
      assert.equal(log[i]!.kind, 'enter', `event ${i}`);
      assert.equal(log[i + 1]!.kind, 'leave', `event ${i + 1}`);
      assert.equal(log[i]!.message, log[i + 1]!.message);
    }
    assert.equal(new Set(log.map((e) => e.message)).size, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('leases across real processes: a holder killed with SIGKILL blocks others until its lease expires', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    openState(path).close();
    const holder = startWorker([path, 'killed', 'hold', '3000']);
    assert.equal(await holder.first, 'held');
    const heldAt = Date.now();
    holder.child.kill('SIGKILL');
    await holder.out;
    const other = startWorker([path, 'other', 'hold', '60000']);
    const first = await other.first;
    other.child.kill('SIGKILL');
    await other.out;
    if (Date.now() - heldAt < 2500) assert.equal(first, 'busy');
    // after the ttl, it can be taken
    const wait = heldAt + 3100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const late = startWorker([path, 'late', 'hold', '1000']);
    assert.equal(await late.first, 'held');
    late.child.kill('SIGKILL');
    await late.out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
