/**
 * Ownership under concurrency, with real processes: several danekeeper runs adding records at
 * one owner at once, through one zone file and one state database (the zonefile backend needs
 * no server). Every record any of them added must end up remembered as danekeeper's, so that
 * `dns remove --all` (removeTlsa 'owned') takes them all away again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { formatRdata } from '../core/tlsa/format.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import { openStore } from '../store/store.js';
import { callInNetns } from '../../test/support/netns-call.js';
import type { WorkerCall } from '../../test/support/ownership-worker.js';
import { removeTlsa } from './tlsa-set.js';
import { createZonefilePublisher } from './zonefile.js';

const ZONE = 'example.org.';
const OWNER = '_25._tcp.mail.example.org.';
const rec = (byte: number): TlsaRecord => ({
  usage: 3,
  selector: 1,
  mtype: 1,
  data: Buffer.alloc(32, byte),
});
const HAND = { usage: 2, selector: 1, mtype: 1, data: Buffer.alloc(32, 0xee) };
const ZONE_TEXT = `$TTL 3600
@   IN SOA ns1 hostmaster 2024010100 7200 3600 1209600 300
    IN NS ns1
ns1 IN A 192.0.2.1
mail IN A 192.0.2.2
_25._tcp.mail 300 IN TLSA ${formatRdata(HAND)}
`;
const sorted = (rs: TlsaRecord[]) => rs.map(formatRdata).sort();

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function race(processes: number, perProcess: number, removeAfter: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'dk-owners-'));
  dirs.push(dir);
  const file = join(dir, 'db.example.org');
  writeFileSync(file, ZONE_TEXT);
  const store = join(dir, 'state.db');
  openStore(store).close(); // created and migrated once, as a first run would
  // Children take about a second to load tsx; all start their calls at this moment.
  const startAt = Date.now() + 2500;
  const calls = Array.from({ length: processes }, (_, p): WorkerCall => {
    const records = Array.from({ length: perProcess }, (_, i) => rec(1 + p * perProcess + i));
    return {
      publisher: { zone: ZONE, file, lock: { waitMs: 30_000 } },
      store,
      owner: OWNER,
      records,
      startAt,
      removeAfter,
    };
  });
  await Promise.all(
    calls.map((c) =>
      callInNetns<number[]>(null, 'test/support/ownership-worker.ts', 'addRace', [c], {
        timeoutMs: 90_000,
      }),
    ),
  );
  const pub = createZonefilePublisher({ zone: ZONE, file });
  return { pub, store, file, all: calls.flatMap((c) => c.records) };
}

test('six processes adding at one owner at once: every record is remembered as ours', async () => {
  const { pub, store: path, all } = await race(6, 8, false);
  assert.deepEqual(sorted((await pub.read(OWNER)).records), sorted([HAND, ...all]));
  const store = openStore(path);
  try {
    assert.deepEqual(sorted(store.owned(ZONE, OWNER)), sorted(all), 'none taken for hand-made');
    assert.deepEqual(store.pending(ZONE, OWNER), [], 'every intent settled');
    const rm = await removeTlsa(pub, store, OWNER, 'owned');
    assert.deepEqual(sorted(rm.removed), sorted(all));
    assert.deepEqual(sorted((await pub.read(OWNER)).records), sorted([HAND]));
    assert.deepEqual(store.list(), []);
    // --all --force: everything at the owner, the hand-made record too
    const forced = await removeTlsa(pub, store, OWNER, 'owned', { force: true });
    assert.deepEqual(sorted(forced.removed), sorted([HAND]));
    assert.deepEqual((await pub.read(OWNER)).records, []);
  } finally {
    store.close();
  }
});

test('six processes adding and removing again at one owner: each removes all its own', async () => {
  // A run that lost ownership of its record finds it "made by hand" and refuses to remove it.
  const { pub, store: path } = await race(6, 3, true);
  assert.deepEqual(sorted((await pub.read(OWNER)).records), sorted([HAND]));
  const store = openStore(path);
  try {
    assert.deepEqual(store.list(), []);
    assert.deepEqual(store.pending(ZONE, OWNER), []);
  } finally {
    store.close();
  }
});
