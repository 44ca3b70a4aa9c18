import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { DkError } from '../core/errors.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import { decodeJson, encodeJson } from '../../test/support/netns-call.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { defaultStorePath } from './path.js';
import { memoryStore, openStore } from './store.js';

const rec = (usage: number, hexByte: string, len = 32): TlsaRecord => ({
  usage,
  selector: 1,
  mtype: 1,
  data: Buffer.from(hexByte.repeat(len), 'hex'),
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'dk-store-'));
}

function storeError(f: () => unknown): DkError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return e;
  }
  assert.fail('no error');
}

test('remember, owned, forget, list in memory; names normalised; idempotent', () => {
  const s = memoryStore();
  const a = rec(3, 'aa');
  const b = rec(2, 'bb');
  const t0 = new Date('2025-01-01T00:00:00Z');
  s.remember('Example.ORG', '_25._tcp.Mail.example.org', [a, b], t0);
  s.remember('example.org.', '_25._tcp.mail.example.org.', [a], new Date('2026-01-01T00:00:00Z'));
  assert.deepEqual(s.owned('example.org.', '_25._tcp.mail.example.org.'), [b, a]);
  assert.deepEqual(s.owned('EXAMPLE.org', '_25._TCP.MAIL.example.org'), [b, a]);
  assert.deepEqual(s.owned('example.org.', '_443._tcp.mail.example.org.'), []);
  // remembering again keeps the first creation time
  const listed = s.list('example.org');
  assert.equal(listed.length, 2);
  assert.ok(listed.every((r) => r.createdAt === t0.toISOString()));
  assert.ok(listed.every((r) => r.zone === 'example.org.'));
  assert.ok(listed.every((r) => r.owner === '_25._tcp.mail.example.org.'));
  s.forget('example.org', '_25._tcp.mail.example.org', [b]);
  s.forget('example.org', '_25._tcp.mail.example.org', [b]);
  assert.deepEqual(s.owned('example.org.', '_25._tcp.mail.example.org.'), [a]);
  s.close();
});

test('list is sorted by owner and filters by zone', () => {
  const s = memoryStore();
  const now = new Date();
  s.remember('b.test', '_25._tcp.z.b.test', [rec(3, '01')], now);
  s.remember('a.test', '_25._tcp.y.a.test', [rec(3, '02')], now);
  s.remember('a.test', '_25._tcp.a.a.test', [rec(3, '03')], now);
  assert.deepEqual(
    s.list().map((r) => r.owner),
    ['_25._tcp.a.a.test.', '_25._tcp.y.a.test.', '_25._tcp.z.b.test.'],
  );
  assert.deepEqual(
    s.list('B.TEST').map((r) => r.owner),
    ['_25._tcp.z.b.test.'],
  );
  // a record with the same data at another owner or zone is another record
  s.remember('c.test', '_25._tcp.y.a.test', [rec(3, '02')], now);
  assert.equal(s.list().length, 4);
  s.close();
});

test('the file is created 0600 in a new 0700 directory, WAL, current schema', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'sub', 'deeper', 'state.db');
    const s = openStore(path);
    s.remember('x.test', 'o.x.test', [rec(3, 'cc')], new Date());
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'sub', 'deeper')).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
    // SQLite gives the WAL the database file's mode
    assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600);
    s.close();
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an existing directory and file keep their modes', () => {
  const dir = tmp();
  try {
    chmodSync(dir, 0o755);
    const path = join(dir, 'state.db');
    openStore(path).close();
    chmodSync(path, 0o640);
    openStore(path).close();
    assert.equal(statSync(dir).mode & 0o777, 0o755);
    assert.equal(statSync(path).mode & 0o777, 0o640);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two connections to one file see each other’s writes', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    const a = openStore(path);
    const b = openStore(path);
    a.remember('x.test', '_25._tcp.m.x.test', [rec(3, '11')], new Date());
    assert.deepEqual(b.owned('x.test', '_25._tcp.m.x.test'), [rec(3, '11')]);
    b.remember('x.test', '_25._tcp.m.x.test', [rec(3, '22')], new Date());
    b.forget('x.test', '_25._tcp.m.x.test', [rec(3, '11')]);
    assert.deepEqual(a.owned('x.test', '_25._tcp.m.x.test'), [rec(3, '22')]);
    a.close();
    b.close();
    // and a new process-like open still sees it after both closed
    const c = openStore(path);
    assert.equal(c.list().length, 1);
    c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that is not SQLite is a config error naming the file', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    writeFileSync(path, 'this is not a database, just some text that is long enough '.repeat(40));
    const e = storeError(() => openStore(path));
    assert.equal(e.code, 'E_STORE_OPEN');
    assert.equal(e.kind, 'config');
    assert.match(e.message, /not an SQLite database/);
    assert.ok(e.message.includes(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a schema newer than this build is refused, and the file is left alone', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    raw.close();
    const e = storeError(() => openStore(path));
    assert.equal(e.code, 'E_STORE_SCHEMA');
    assert.equal(e.kind, 'config');
    assert.match(e.message, new RegExp(`schema version ${SCHEMA_VERSION + 5}`));
    const again = new Database(path, { readonly: true });
    assert.equal(again.pragma('user_version', { simple: true }), SCHEMA_VERSION + 5);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an older (empty, version 0) database is migrated in place', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    const raw = new Database(path);
    raw.exec('CREATE TABLE unrelated (x)');
    raw.close();
    const s = openStore(path);
    s.remember('x.test', 'o.x.test', [rec(3, 'dd')], new Date());
    s.close();
    const again = new Database(path, { readonly: true });
    assert.equal(again.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal((again.prepare('SELECT count(*) n FROM unrelated').get() as { n: number }).n, 0);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a directory where the file should be, or a directory that cannot be made, is noinput', () => {
  const dir = tmp();
  try {
    const asDir = join(dir, 'state.db');
    mkdirSync(asDir);
    const e = storeError(() => openStore(asDir));
    assert.equal(e.code, 'E_STORE_OPEN');
    assert.equal(e.kind, 'noinput');
    assert.ok(e.message.includes(asDir));
    writeFileSync(join(dir, 'plainfile'), '');
    const e2 = storeError(() => openStore(join(dir, 'plainfile', 'state.db')));
    assert.equal(e2.code, 'E_STORE_OPEN');
    assert.equal(e2.kind, 'noinput');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs openStore(path) as another user (root only): permission bits bind only them. */
function listAs(uid: number, path: string): Promise<unknown> {
  const runner = join(import.meta.dirname, '..', '..', 'test', 'support', 'netns-runner.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', runner], {
      uid,
      gid: uid,
      cwd: join(import.meta.dirname, '..', '..'),
      env: { ...process.env, HOME: '/nonexistent' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(decodeJson(out));
      } catch {
        reject(new Error(`child failed: ${err}`));
      }
    });
    child.stdin.end(
      encodeJson({ module: join(import.meta.dirname, 'store.ts'), fn: 'openStore', args: [path] }),
    );
  });
}

test(
  'a file the user cannot read is noinput naming the file',
  { skip: process.getuid?.() !== 0 && 'needs root to run a child as nobody' },
  async () => {
    const dir = tmp();
    try {
      chmodSync(dir, 0o755);
      const path = join(dir, 'state.db');
      openStore(path).close();
      const out = (await listAs(65534, path)) as {
        error?: { code: string; kind: string; message: string };
      };
      assert.ok(out.error, `expected an error, got ${JSON.stringify(out)}`);
      assert.equal(out.error.code, 'E_STORE_OPEN');
      assert.equal(out.error.kind, 'noinput');
      assert.ok(out.error.message.includes(path));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('remember/forget sequences agree with a simple set model', () => {
  const zone = fc.constantFrom('a.test', 'B.test.');
  const owner = fc.constantFrom('_25._tcp.m.a.test', '_25._TCP.m.a.test.', '_443._tcp.w.b.test');
  const record = fc.record({
    usage: fc.constantFrom(2, 3),
    selector: fc.constantFrom(0, 1),
    mtype: fc.constantFrom(1, 2),
    data: fc.constantFrom('aa', 'bb', '').map((h) => Buffer.from(h.repeat(4), 'hex')),
  });
  const op = fc.record({
    kind: fc.constantFrom('remember', 'forget'),
    zone,
    owner,
    records: fc.array(record, { maxLength: 3 }),
  });
  const norm = (n: string) =>
    n.toLowerCase().endsWith('.') ? n.toLowerCase() : `${n.toLowerCase()}.`;
  const key = (z: string, o: string, r: TlsaRecord) =>
    `${norm(z)}|${norm(o)}|${r.usage} ${r.selector} ${r.mtype} ${r.data.toString('hex')}`;
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const s = memoryStore();
      const model = new Set<string>();
      for (const o of ops) {
        if (o.kind === 'remember') {
          s.remember(o.zone, o.owner, o.records, new Date(0));
          for (const r of o.records) model.add(key(o.zone, o.owner, r));
        } else {
          s.forget(o.zone, o.owner, o.records);
          for (const r of o.records) model.delete(key(o.zone, o.owner, r));
        }
      }
      const got = s.list().map((r) => key(r.zone, r.owner, r.record));
      assert.deepEqual([...got].sort(), [...model].sort());
      assert.equal(new Set(got).size, got.length);
      for (const z of ['a.test', 'b.test']) {
        for (const o of ['_25._tcp.m.a.test', '_443._tcp.w.b.test']) {
          const owned = s.owned(z, o).map((r) => key(z, o, r));
          assert.deepEqual(
            owned.sort(),
            [...model].filter((k) => k.startsWith(`${z}.|${o}.|`)).sort(),
          );
        }
      }
      s.close();
    }),
    { numRuns: 200 },
  );
});

test('defaultStorePath: explicit dir, root, XDG, home', () => {
  assert.equal(
    defaultStorePath({ DANEKEEPER_STATE_DIR: '/srv/dk', HOME: '/home/u' }, 0),
    '/srv/dk/state.db',
  );
  assert.equal(defaultStorePath({ HOME: '/root' }, 0), '/var/lib/danekeeper/state.db');
  assert.equal(
    defaultStorePath({ HOME: '/home/u', XDG_STATE_HOME: '/home/u/st' }, 1000),
    '/home/u/st/danekeeper/state.db',
  );
  assert.equal(
    defaultStorePath({ HOME: '/home/u' }, 1000),
    '/home/u/.local/state/danekeeper/state.db',
  );
  // XDG: a relative path is invalid and ignored
  assert.equal(
    defaultStorePath({ HOME: '/home/u', XDG_STATE_HOME: 'rel' }, 1000),
    '/home/u/.local/state/danekeeper/state.db',
  );
  const e = storeError(() => defaultStorePath({}, 1000));
  assert.equal(e.code, 'E_STORE_PATH');
});

test('pending rows: intend, pending, abandon only its own intent; remember and forget settle them', () => {
  const s = memoryStore();
  const [a, b] = [rec(3, 'aa'), rec(3, 'bb')];
  const t0 = new Date('2026-01-01T00:00:00Z');
  const zone = 'example.org';
  const owner = '_25._tcp.mail.example.org';
  const i1 = s.intend(zone, owner, [a, b], t0);
  const i2 = s.intend('EXAMPLE.org.', '_25._TCP.mail.example.org.', [a], t0); // another run, same record
  assert.notEqual(i1, i2);
  const rows = s.pending(zone, owner);
  assert.equal(rows.length, 3);
  assert.ok(rows.every((r) => r.createdAt === t0.toISOString()));
  assert.deepEqual(s.owned(zone, owner), [], 'pending is not owned');
  assert.deepEqual(s.list(), []);
  s.abandon(i2);
  assert.deepEqual(
    s.pending(zone, owner).map((r) => [r.intent, r.record]),
    [
      [i1, a],
      [i1, b],
    ],
  );
  // the server took a: remembered, and no longer pending for anyone
  s.intend(zone, owner, [a], t0);
  s.remember(zone, owner, [a], t0);
  assert.deepEqual(
    s.pending(zone, owner).map((r) => r.record),
    [b],
  );
  s.forget(zone, owner, [b]);
  assert.deepEqual(s.pending(zone, owner), []);
  assert.deepEqual(s.owned(zone, owner), [a]);
  s.close();
});

test('a version 1 database (before pending rows) keeps its records when migrated', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'state.db');
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0]!.sql);
    raw.pragma('user_version = 1');
    raw
      .prepare('INSERT INTO owned_tlsa VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run('x.test.', 'o.x.test.', 3, 1, 1, Buffer.alloc(32, 0xdd), '2025-01-01T00:00:00.000Z');
    raw.close();
    const s = openStore(path);
    assert.deepEqual(s.owned('x.test', 'o.x.test'), [rec(3, 'dd')]);
    s.intend('x.test', 'o.x.test', [rec(3, 'ee')], new Date());
    assert.equal(s.pending('x.test', 'o.x.test').length, 1);
    s.close();
    const again = new Database(path, { readonly: true });
    assert.equal(again.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
