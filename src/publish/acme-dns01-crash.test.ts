/**
 * DNS-01 ownership survives a crash: real processes publish `_acme-challenge` TXT values into
 * a zone file with the state database and are killed (SIGKILL: no cleanup runs) before they
 * remove them — one after its change settled, one inside its change (the file written, the
 * reload command still running, the values only pending). The next run removes exactly
 * those values; the hand-made value at the same owner stays, and the store ends empty.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openTxtOwnership } from '../store/txt-ownership.js';
import { removeLeftoverTxt } from './txt-set.js';
import { createZonefilePublisher } from './zonefile.js';

const ZONE = 'example.org.';
const MAIL = '_acme-challenge.mail.example.org.';
const WWW = '_acme-challenge.www.example.org.';
const ZONE_TEXT = `$TTL 3600
@   IN SOA ns1 hostmaster 2024010100 7200 3600 1209600 300
    IN NS ns1
ns1 IN A 192.0.2.1
mail IN A 192.0.2.2
_acme-challenge.mail 300 IN TXT "made by hand"
`;
const CHILD = new URL('../../test/support/txt-crash-child.ts', import.meta.url).pathname;

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) killGroup(c);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** SIGKILL to the child's own process group: the child and the reload command it runs. */
function killGroup(c: ChildProcess): void {
  try {
    if (c.pid !== undefined && c.exitCode === null) process.kill(-c.pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

function start(call: object): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(call)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out };
}

async function until(what: string, f: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const killed = (c: ChildProcess) =>
  new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) r();
    else c.once('exit', () => r());
  });

test('values left by runs killed before their cleanup are removed by the next run; the hand-made one stays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-dns01-crash-'));
  dirs.push(dir);
  const file = join(dir, 'db.example.org');
  writeFileSync(file, ZONE_TEXT);
  const storePath = join(dir, 'state.db');
  openTxtOwnership(storePath).close(); // created and migrated, as a first run would

  // 1: killed after its change settled, before cleanup
  const a = start({ zone: ZONE, file, store: storePath, owner: MAIL, values: ['crash-a'] });
  await until('the first run to publish', () => a.out().includes('published'));
  killGroup(a.child);
  await killed(a.child);
  // 2: killed inside its change: the file holds the value, the reload command still runs
  const b = start({
    zone: ZONE,
    file,
    store: storePath,
    owner: WWW,
    values: ['crash-b'],
    reload: ['sleep', '30'],
  });
  await until('the second run to write the file', () =>
    readFileSync(file, 'utf8').includes('crash-b'),
  );
  killGroup(b.child);
  await killed(b.child);
  assert.ok(!b.out().includes('published'), b.out());

  const store = openTxtOwnership(storePath);
  try {
    assert.deepEqual(
      store.list(ZONE).map((r) => `${r.owner} ${r.value}${r.intent ? ' pending' : ''}`),
      [`${MAIL} crash-a`, `${WWW} crash-b pending`],
    );
    const p = createZonefilePublisher({ zone: ZONE, file });
    assert.deepEqual((await p.readTxt!(MAIL)).values, ['made by hand', 'crash-a']);

    // the next run
    const r = await removeLeftoverTxt(p, { store, minAgeMs: 0 });
    assert.deepEqual(
      r.map((x) => [x.owner, x.removed]),
      [
        [MAIL, ['crash-a']],
        [WWW, ['crash-b']],
      ],
    );
    assert.deepEqual((await p.readTxt!(MAIL)).values, ['made by hand']);
    assert.deepEqual((await p.readTxt!(WWW)).values, []);
    assert.deepEqual(store.list(ZONE), []);
    const text = readFileSync(file, 'utf8');
    assert.equal(
      text.replace(/^(@ .* )\d{10}( 7200)/m, '$1SERIAL$2'),
      ZONE_TEXT.replace('2024010100', 'SERIAL'),
    );
    const check = spawnSync('named-checkzone', ['-k', 'fail', 'example.org', file], {
      encoding: 'utf8',
    });
    assert.equal(check.status, 0, check.stdout);
    // and a run after that has nothing left to do
    assert.deepEqual(
      (await removeLeftoverTxt(p, { store, minAgeMs: 0 })).map((x) => x.removed),
      [],
    );
  } finally {
    store.close();
  }
});
