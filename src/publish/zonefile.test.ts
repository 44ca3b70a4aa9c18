import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DkError } from '../core/errors.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import { memoryStore } from '../store/store.js';
import { callInNetns } from '../../test/support/netns-call.js';
import type { SetCall } from '../../test/lab/publish-zonefile-call.js';
import { addTlsa, removeTlsa, replaceTlsa } from './tlsa-set.js';
import { createZonefilePublisher, type ZonefileOptions } from './zonefile.js';
import { findSoa, nextSerial, parseZone } from './zonefile-parse.js';

const ZONE = 'example.org.';
const OWNER = '_25._tcp.mail.example.org.';
const rec = (byte: number, usage = 3): TlsaRecord => ({
  usage,
  selector: 1,
  mtype: 1,
  data: Buffer.alloc(32, byte),
});
const HAND = rec(0xab, 2);
const hex = (r: TlsaRecord) => r.data.toString('hex');

const ZONE_TEXT = `; example.org, kept by hand
$TTL 3600
@   IN SOA ns1 hostmaster ( 2024010100 ; serial
        7200 3600 1209600 300 )
    IN NS ns1
    IN MX 10 mail
ns1 IN A 192.0.2.1
mail 300 IN A 192.0.2.2
   IN AAAA 2001:db8::2   ; same owner, inherited
_25._tcp.mail IN TLSA 2 1 1 ( ${hex(HAND)} ) ; made by hand
txt IN TXT "a ; not a comment" "(b)"
$ORIGIN sub.example.org.
www IN CNAME @
@   IN A 192.0.2.3
`;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(text = ZONE_TEXT): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dk-zonefile-'));
  dirs.push(dir);
  const file = join(dir, 'db.example.org');
  writeFileSync(file, text);
  return { dir, file };
}

const fixedNow = () => new Date('2025-11-22T12:00:00Z');

function pub(file: string, extra: Partial<ZonefileOptions> = {}) {
  return createZonefilePublisher({ zone: 'example.org', file, now: fixedNow, ...extra });
}

/** named-checkzone (bind9-utils) must accept every file we write. */
function checkzone(zone: string, file: string): void {
  const r = spawnSync('named-checkzone', ['-k', 'fail', '-n', 'fail', zone, file], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `named-checkzone ${file}: ${r.stdout}${r.stderr}`);
}

async function dkError(p: Promise<unknown>): Promise<DkError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return e;
  }
  assert.fail('no error');
}

/** The file's lines minus those an edit at OWNER may touch (its TLSA lines, the serial). */
function untouched(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => !/TLSA/.test(l))
    .map((l) => l.replace(/\b20\d{8}\b/, 'SERIAL'));
}

test('add, repeat, replace, remove through tlsa-set; the hand-made record and every other line stay', async () => {
  const { file } = setup();
  checkzone('example.org', file);
  const p = pub(file);
  const store = memoryStore();
  assert.equal(await p.defaultTtl(), 3600);
  assert.deepEqual((await p.read(OWNER)).records, [HAND]);

  const a = await addTlsa(p, store, OWNER, [rec(1)], { ttl: null });
  assert.equal(a.changed, true);
  assert.equal(a.ttl, 3600); // blank TTL on an existing RRset: its TTL
  checkzone('example.org', file);
  let text = readFileSync(file, 'utf8');
  assert.match(text, /2025112200 ; serial/);
  assert.match(
    text,
    new RegExp(`^${OWNER.replace(/\./g, '\\.')} 3600 IN TLSA 3 1 1 ${hex(rec(1))}$`, 'm'),
  );
  assert.deepEqual(untouched(text), untouched(ZONE_TEXT));
  // the hand-made line, byte for byte
  assert.ok(text.includes(`_25._tcp.mail IN TLSA 2 1 1 ( ${hex(HAND)} ) ; made by hand\n`));

  const again = await addTlsa(p, store, OWNER, [rec(1)]);
  assert.equal(again.changed, false);
  assert.equal(readFileSync(file, 'utf8'), text, 'a repeat writes nothing');

  const r = await replaceTlsa(p, store, OWNER, [rec(2), rec(3)]);
  assert.deepEqual(r.removed.map(hex), [hex(rec(1))]);
  checkzone('example.org', file);
  text = readFileSync(file, 'utf8');
  assert.match(text, /2025112201 ; serial/);
  assert.deepEqual(
    (await p.read(OWNER)).records.map(hex).sort(),
    [HAND, rec(2), rec(3)].map(hex).sort(),
  );
  assert.deepEqual(untouched(text), untouched(ZONE_TEXT));

  const rm = await removeTlsa(p, store, OWNER, 'owned');
  assert.equal(rm.removed.length, 2);
  checkzone('example.org', file);
  text = readFileSync(file, 'utf8');
  assert.deepEqual((await p.read(OWNER)).records, [HAND]);
  assert.equal(text, ZONE_TEXT.replace('2024010100', '2025112202'));
  // the hand-made record is not danekeeper's to remove
  const refused = await removeTlsa(p, store, OWNER, [HAND]);
  assert.equal(refused.changed, false);
  assert.deepEqual(refused.notOwned, [HAND]);
  assert.equal(readFileSync(file, 'utf8'), text);
});

test('describeChange and a dry run: the diff apply would write, the new serial; the file untouched', async () => {
  const { file } = setup();
  const p = pub(file, { reloadCommand: ['rndc', 'reload', 'example.org'] });
  const store = memoryStore();
  const dry = await addTlsa(p, store, OWNER, [rec(1)], { dryRun: true });
  assert.equal(readFileSync(file, 'utf8'), ZONE_TEXT, 'a dry run writes nothing');
  assert.deepEqual(store.list(), []);
  assert.equal(dry.changed, false);
  assert.equal(dry.dryRun, true);
  assert.deepEqual(dry.added, [rec(1)]);
  assert.deepEqual(dry.wire, [
    `--- ${file}`,
    `+++ ${file}`,
    '@@ -3,1 +3,1 @@',
    '-@   IN SOA ns1 hostmaster ( 2024010100 ; serial',
    '+@   IN SOA ns1 hostmaster ( 2025112200 ; serial',
    '@@ -10,0 +11,1 @@',
    `+${OWNER} 3600 IN TLSA 3 1 1 ${hex(rec(1))}`,
    '; SOA serial of example.org. becomes 2025112200',
    '; then runs: rndc reload example.org',
  ]);
  // the same edit, applied, gives exactly that file (no reload command this time)
  await addTlsa(pub(file), store, OWNER, [rec(1)]);
  const text = readFileSync(file, 'utf8').split('\n');
  assert.equal(text[2], '@   IN SOA ns1 hostmaster ( 2025112200 ; serial');
  assert.equal(text[10], `${OWNER} 3600 IN TLSA 3 1 1 ${hex(rec(1))}`);
  // a removal shows the removed line; a stale guard is a conflict, as for apply
  const rm = await p.describeChange!({
    owner: OWNER,
    expected: [HAND, rec(1)],
    add: [],
    remove: [rec(1)],
    ttl: 3600,
  });
  assert.ok(rm.includes(`-${OWNER} 3600 IN TLSA 3 1 1 ${hex(rec(1))}`), rm.join('\n'));
  const stale = { owner: OWNER, expected: [HAND], add: [rec(2)], remove: [], ttl: 3600 };
  assert.equal((await dkError(p.describeChange!(stale))).code, 'E_PUBLISH_CONFLICT');
});

test('a new owner, with a TTL, in a subzone-less file; TTL change rewrites the RRset', async () => {
  const { file } = setup();
  const p = pub(file);
  const store = memoryStore();
  const owner = '_443._tcp.www.sub.example.org.';
  await addTlsa(p, store, owner, [rec(5)], { ttl: 600 });
  await addTlsa(p, store, owner, [rec(6)], { ttl: 900 });
  checkzone('example.org', file);
  const got = await p.read(owner);
  assert.equal(got.ttl, 900);
  const zf = parseZone(readFileSync(file, 'latin1'), { origin: ZONE });
  assert.deepEqual(
    zf.rrs.filter((x) => x.owner === owner).map((x) => x.ttl),
    [900, 900],
  );
});

test('defaultTtl: $TTL at the SOA; without $TTL the SOA TTL (then its MINIMUM)', async () => {
  const { file } = setup('@ 7200 IN SOA ns1 h 1 2 3 4 60\n IN NS ns1\nns1 IN A 192.0.2.1\n');
  assert.equal(await pub(file).defaultTtl(), 7200);
  writeFileSync(file, '@ IN SOA ns1 h 1 2 3 4 60\n IN NS ns1\nns1 IN A 192.0.2.1\n');
  assert.equal(await pub(file).defaultTtl(), 60);
  writeFileSync(file, '$TTL 1d\n@ 10 IN SOA ns1 h 1 2 3 4 60\n IN NS ns1\nns1 IN A 192.0.2.1\n');
  assert.equal(await pub(file).defaultTtl(), 86400);
});

test('a changed RRset is a conflict; the file stays byte-identical and the lock is released', async () => {
  const { file } = setup();
  const p = pub(file);
  const e = await dkError(
    p.apply({ owner: OWNER, expected: [], add: [rec(1)], remove: [], ttl: 300 }),
  );
  assert.equal(e.code, 'E_PUBLISH_CONFLICT');
  assert.equal(e.kind, 'tempfail');
  assert.equal(readFileSync(file, 'utf8'), ZONE_TEXT);
  assert.ok(!existsSync(`${file}.danekeeper-lock`));
  await p.apply({ owner: OWNER, expected: [HAND], add: [rec(1)], remove: [], ttl: 3600 });
  assert.equal((await p.read(OWNER)).records.length, 2);
});

test('missing file, syntax error, SOA of another zone, owner outside the zone', async () => {
  const { dir, file } = setup();
  const missing = join(dir, 'nope');
  for (const e of [
    await dkError(pub(missing).read(OWNER)),
    await dkError(
      pub(missing).apply({ owner: OWNER, expected: [], add: [rec(1)], remove: [], ttl: 1 }),
    ),
    await dkError(pub(missing).defaultTtl()),
  ]) {
    assert.equal(e.code, 'E_PUBLISH_IO');
    assert.equal(e.kind, 'noinput');
    assert.ok(e.message.includes(missing), e.message);
  }
  const broken = ZONE_TEXT.replace('"(b)"', '"(b)');
  writeFileSync(file, broken);
  const s = await dkError(
    pub(file).apply({ owner: OWNER, expected: [HAND], add: [rec(1)], remove: [], ttl: 1 }),
  );
  assert.equal(s.code, 'E_ZONEFILE_SYNTAX');
  assert.match(s.message, /line 11: a quoted string is not closed/);
  assert.ok(s.message.includes(file));
  assert.equal(readFileSync(file, 'utf8'), broken);
  // a file written with relative names fits any origin; one naming its zone does not
  writeFileSync(file, ZONE_TEXT.replace('@   IN SOA', 'example.org. IN SOA'));
  const other = createZonefilePublisher({ zone: 'other.org', file });
  assert.equal((await dkError(other.read('_25._tcp.x.other.org'))).code, 'E_ZONEFILE_SOA');
  assert.equal((await dkError(pub(file).read('_25._tcp.mail.example.com'))).code, 'E_NOT_IN_ZONE');
});

test('a symlinked zone file is edited where it points; the link stays a link', async () => {
  const { dir, file } = setup();
  const link = join(dir, 'db.link');
  symlinkSync(file, link);
  await pub(link).apply({ owner: OWNER, expected: [HAND], add: [rec(1)], remove: [], ttl: 60 });
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal((await pub(file).read(OWNER)).records.length, 2);
});

test('the file keeps its mode and owner', async () => {
  const { file } = setup();
  chmodSync(file, 0o640);
  const root = process.getuid?.() === 0;
  if (root) chownSync(file, 65534, 65534);
  await pub(file).apply({ owner: OWNER, expected: [HAND], add: [rec(1)], remove: [], ttl: 60 });
  const st = statSync(file);
  assert.equal(st.mode & 0o777, 0o640);
  if (root) assert.deepEqual([st.uid, st.gid], [65534, 65534]);
  assert.deepEqual(
    readdirSync(join(file, '..')).filter((f) => f !== 'db.example.org'),
    [],
    'no temporary or lock file left',
  );
});

test(
  'an unwritable directory: a clear error and the file byte-identical',
  { skip: process.getuid?.() !== 0 && 'chattr +i needs root' },
  async () => {
    const { dir, file } = setup();
    execFileSync('chattr', ['+i', dir]);
    try {
      const e = await dkError(
        pub(file).apply({ owner: OWNER, expected: [HAND], add: [rec(1)], remove: [], ttl: 60 }),
      );
      assert.equal(e.code, 'E_PUBLISH_IO');
      assert.match(e.message, /permission denied|not permitted/);
      assert.ok(e.message.includes(dir), e.message);
    } finally {
      execFileSync('chattr', ['-i', dir]);
    }
    assert.equal(readFileSync(file, 'utf8'), ZONE_TEXT);
    assert.deepEqual(readdirSync(dir), ['db.example.org']);
  },
);

test('locks: a live holder makes us wait then conflict; a dead or old one is taken over', async () => {
  const { file } = setup();
  const lock = `${file}.danekeeper-lock`;
  const sleeper = spawn('sleep', ['30']);
  try {
    writeFileSync(lock, JSON.stringify({ pid: sleeper.pid, host: hostname() }));
    const p = pub(file, { lock: { waitMs: 300 } });
    const t0 = Date.now();
    const e = await dkError(
      p.apply({ owner: OWNER, expected: [HAND], add: [rec(1)], remove: [], ttl: 60 }),
    );
    assert.ok(Date.now() - t0 >= 250, 'it waited');
    assert.equal(e.code, 'E_PUBLISH_CONFLICT');
    assert.match(e.message, new RegExp(`pid ${sleeper.pid}`));
    assert.equal(readFileSync(file, 'utf8'), ZONE_TEXT);
    assert.ok(existsSync(lock), 'a live lock is left alone');
    // the same live holder, but the lock is older than staleMs: hung, taken over
    utimesSync(lock, new Date(Date.now() - 600_000), new Date(Date.now() - 600_000));
    await p.apply({ owner: OWNER, expected: [HAND], add: [rec(1)], remove: [], ttl: 3600 });
  } finally {
    sleeper.kill();
  }
  // a holder that died
  const dead = spawnSync('true').pid;
  writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname() }));
  await pub(file).apply({
    owner: OWNER,
    expected: [HAND, rec(1)],
    add: [rec(2)],
    remove: [],
    ttl: 3600,
  });
  assert.equal((await pub(file).read(OWNER)).records.length, 3);
  assert.ok(!existsSync(lock));
});

test('the reload command runs after the write; its failure names it, its status and stderr', async () => {
  const { dir, file } = setup();
  const marker = join(dir, 'reloaded');
  await pub(file, { reloadCommand: ['touch', marker] }).apply({
    owner: OWNER,
    expected: [HAND],
    add: [rec(1)],
    remove: [],
    ttl: 3600,
  });
  assert.ok(existsSync(marker));
  rmSync(marker);
  const failing = pub(file, {
    reloadCommand: [
      'sh',
      '-c',
      'echo "rndc: connect failed: 127.0.0.1#953: connection refused" >&2; exit 1',
    ],
  });
  const e = await dkError(
    failing.apply({ owner: OWNER, expected: [HAND, rec(1)], add: [rec(2)], remove: [], ttl: 3600 }),
  );
  assert.equal(e.code, 'E_PUBLISH_RELOAD');
  assert.match(
    e.message,
    /^Reload command "sh -c .*" failed \(exit status 1: rndc: connect failed/,
  );
  assert.match(e.message, /was changed and the next successful reload will pick it up/);
  assert.equal((await pub(file).read(OWNER)).records.length, 3, 'the change stays');
  const nf = await dkError(
    pub(file, { reloadCommand: ['/nonexistent/rndc', 'reload'] }).apply({
      owner: OWNER,
      expected: [HAND, rec(1), rec(2)],
      add: [rec(3)],
      remove: [],
      ttl: 3600,
    }),
  );
  assert.match(nf.message, /command not found/);
  // a change that changes nothing does not reload
  await pub(file, { reloadCommand: ['touch', marker] }).apply({
    owner: OWNER,
    expected: [HAND, rec(1), rec(2), rec(3)],
    add: [rec(3)],
    remove: [],
    ttl: 3600,
  });
  assert.ok(!existsSync(marker));
});

test('include mode: a generated file, $INCLUDEd by the zone, whose serial goes up', async () => {
  const { dir, file: zoneFile } = setup();
  const inc = join(dir, 'tlsa.inc');
  writeFileSync(zoneFile, `${ZONE_TEXT}$INCLUDE "${inc}"\n`);
  const noTtl = createZonefilePublisher({ zone: ZONE, file: inc, mode: 'include' });
  assert.equal((await dkError(noTtl.defaultTtl())).code, 'E_PUBLISH_NO_DEFAULT_TTL');
  const p = createZonefilePublisher({
    zone: ZONE,
    file: inc,
    mode: 'include',
    zoneFile,
    now: fixedNow,
  });
  assert.equal(await p.defaultTtl(), 3600);
  assert.deepEqual(await p.read(OWNER), { owner: OWNER, ttl: null, records: [] });
  const store = memoryStore();
  await addTlsa(p, store, OWNER, [rec(1), rec(2)]);
  await addTlsa(p, store, '_443._tcp.www.example.org', [rec(3)], { ttl: 300 });
  const text = readFileSync(inc, 'utf8');
  assert.match(text, /^; TLSA records for the zone example\.org\., written by danekeeper\./);
  assert.match(text, /\$INCLUDE/);
  assert.match(
    text,
    new RegExp(`^${OWNER.replace(/\./g, '\\.')} 3600 IN TLSA 3 1 1 ${hex(rec(2))}$`, 'm'),
  );
  assert.match(readFileSync(zoneFile, 'utf8'), /2025112201 ; serial/);
  checkzone('example.org', zoneFile);
  const loaded = spawnSync('named-checkzone', ['-D', 'example.org', zoneFile], {
    encoding: 'utf8',
  });
  assert.match(loaded.stdout, /_25\._tcp\.mail\.example\.org\.\s+3600\s+IN\s+TLSA\s+3 1 1 0101/);
  await replaceTlsa(p, store, OWNER, []);
  assert.deepEqual((await p.read(OWNER)).records, []);
  assert.deepEqual((await p.read('_443._tcp.www.example.org')).records.map(hex), [hex(rec(3))]);
  checkzone('example.org', zoneFile);
});

test('four processes editing one file at once lose nothing', async () => {
  const { dir, file } = setup();
  const store = join(dir, 'state', 'state.db');
  const call = (w: number, i: number): SetCall => ({
    publisher: { zone: ZONE, file, lock: { waitMs: 20_000 } },
    store,
    op: 'add',
    owner: `_25._tcp.mx${w}-${i}.example.org`,
    records: [rec(w * 16 + i)],
    ttl: 300,
    tries: 50,
  });
  const workers = [0, 1, 2, 3].map((w) =>
    callInNetns<number[]>(
      null,
      'test/lab/publish-zonefile-call.ts',
      'zonefileSetMany',
      [[0, 1, 2, 3, 4].map((i) => call(w, i))],
      { timeoutMs: 60_000 },
    ),
  );
  await Promise.all(workers);
  checkzone('example.org', file);
  const zf = parseZone(readFileSync(file, 'latin1'), { origin: ZONE });
  const tlsa = zf.rrs.filter((r) => r.type === 'TLSA' && r.owner.startsWith('_25._tcp.mx'));
  assert.equal(tlsa.length, 20);
  // twenty edits, twenty serial steps (children use the real clock)
  let serial = 2024010100;
  for (let i = 0; i < 20; i++) serial = nextSerial(serial, new Date());
  assert.equal(findSoa(zf, ZONE).serial, serial);
  assert.equal(statSync(store).mode & 0o777, 0o600);
});
