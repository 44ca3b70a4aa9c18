/**
 * Issue 12 (mutation testing): the edges of the TLSA set policy that the main tlsa-set tests
 * leave open, each a behaviour a user or the next run sees. Stryker's survivors in tlsa-set.ts
 * named them (docs/mutation.md). Same in-memory backend and store as tlsa-set.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DkError } from '../core/errors.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import { MapStore, MemPublisher, OWNER, ids, rec } from './fake-tlsa-set.js';
import { addTlsa, PENDING_STALE_MS, removeTlsa, replaceTlsa } from './tlsa-set.js';
import type { TlsaChange } from './types.js';

/**
 * Each suite's bound: the publisher, store and sleeps here are fakes, so a suite takes well under a
 * second; a bug that leaves a promise pending behind a live timer (a retry that never
 * ends) fails here instead of hanging `npm test`. A synchronous loop cannot be cut by it.
 */
const SUITE_TIMEOUT = 30_000;

const sleeps: number[] = [];
const recSleep = { sleep: (ms: number) => (sleeps.push(ms), Promise.resolve()) };
const ZONE = 'example.test.';
const err =
  (code: string, kind?: string, message?: string | RegExp) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof DkError, String(e));
    assert.equal(e.code, code);
    if (kind) assert.equal(e.kind, kind);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };

describe('tlsa-set edges: names and zones', { timeout: SUITE_TIMEOUT }, () => {
  it('owner names are compared in lower case with the final dot, whatever was typed', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    const a = await addTlsa(pub, store, '  _25._TCP.Mail.Example.TEST ', [rec(1)], recSleep);
    assert.equal(a.owner, OWNER);
    assert.equal(a.zone, ZONE);
    assert.deepEqual(ids(store.owned(ZONE, OWNER)), [1]);
    const b = await addTlsa(pub, store, OWNER, [rec(2)], recSleep);
    assert.equal(b.owner, OWNER, 'a final dot is not doubled');
    assert.deepEqual(ids(b.after), [1, 2]);
  });

  it('the zone apex is in the zone; in the root zone every name is; the refusal names both', async () => {
    const apex = await addTlsa(new MemPublisher(), new MapStore(), 'example.test', [rec(1)]);
    assert.equal(apex.owner, ZONE);
    const root = new MemPublisher();
    Object.assign(root, { zone: '.' });
    const r = await addTlsa(root, new MapStore(), '_25._tcp.mail.other.test', [rec(1)]);
    assert.equal(r.changed, true);
    await assert.rejects(
      addTlsa(new MemPublisher(), new MapStore(), '_25._tcp.mail.notexample.test', [rec(1)]),
      err(
        'E_NOT_IN_ZONE',
        'usage',
        '_25._tcp.mail.notexample.test. is not in the zone example.test.',
      ),
    );
  });
});

describe('tlsa-set edges: what a run sends and reports', { timeout: SUITE_TIMEOUT }, () => {
  it('a record asked for twice is added once', async () => {
    const pub = new MemPublisher();
    const a = await addTlsa(pub, new MapStore(), OWNER, [rec(1), rec(1)], recSleep);
    assert.deepEqual(ids(pub.applied[0]!.add), [1]);
    assert.deepEqual(ids(a.added), [1]);
    const r = await replaceTlsa(pub, new MapStore(), OWNER, [rec(2), rec(2)], recSleep);
    assert.deepEqual(ids(r.added), [2]);
  });

  it('nothing to do reports empty lists; removing from an empty owner sends nothing, zone TTL', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    await addTlsa(pub, store, OWNER, [rec(1)], recSleep);
    const again = await addTlsa(pub, store, OWNER, [rec(1)], recSleep);
    assert.equal(again.changed, false);
    assert.deepEqual(again.added, []);
    assert.deepEqual(again.removed, []);
    assert.deepEqual(again.notOwned, []);
    assert.deepEqual(again.absent, []);
    const rep = await replaceTlsa(pub, store, OWNER, [rec(1)], recSleep);
    assert.deepEqual(rep.notOwned, []);
    assert.deepEqual(rep.absent, []);
    const rm = await removeTlsa(pub, store, OWNER, [rec(1)], recSleep);
    assert.deepEqual(rm.present, []);

    const empty = new MemPublisher();
    const none = await removeTlsa(empty, new MapStore(), OWNER, [rec(5)], { ...recSleep, ttl: 60 });
    assert.equal(none.changed, false);
    assert.equal(none.change, null);
    assert.equal(empty.applied.length, 0);
    const blank = await removeTlsa(empty, new MapStore(), OWNER, 'owned', recSleep);
    assert.equal(blank.ttl, 3600, 'no RRset: the zone default');
    assert.equal(blank.change, null);
  });

  it('a new TTL on records that are all ours is no conflict (RFC 2181 §5.2 only binds hand-made ones)', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    await addTlsa(pub, store, OWNER, [rec(1)], { ...recSleep, ttl: 300 });
    const r = await replaceTlsa(pub, store, OWNER, [rec(1)], { ...recSleep, ttl: 600 });
    assert.equal(r.changed, true);
    assert.equal((await pub.read(OWNER)).ttl, 600);
  });

  it('the TTL refusal for hand-made records is a usage error that says what to do', async () => {
    const pub = new MemPublisher();
    pub.put([rec(9)], 300);
    await assert.rejects(
      addTlsa(pub, new MapStore(), OWNER, [rec(1)], { ...recSleep, ttl: 600 }),
      err(
        'E_TTL_FOREIGN',
        'usage',
        `The TLSA RRset at ${OWNER} holds records danekeeper did not create, with TTL 300; ` +
          'TTL 600 would change theirs too (one TTL per RRset): use --ttl 300 or --force',
      ),
    );
  });

  it('TTL: 0 to 2147483647 (RFC 2181 §8), anything else refused before anything is sent', async () => {
    for (const ttl of [-1, 1.5, 2147483648, Number.NaN]) {
      const pub = new MemPublisher();
      await assert.rejects(
        addTlsa(pub, new MapStore(), OWNER, [rec(1)], { ...recSleep, ttl }),
        err('E_TTL', 'usage', `TTL ${ttl} is not a number from 0 to 2147483647`),
      );
      assert.equal(pub.applied.length, 0);
    }
    for (const ttl of [0, 2147483647]) {
      const r = await addTlsa(new MemPublisher(), new MapStore(), OWNER, [rec(1)], { ttl });
      assert.equal(r.ttl, ttl);
    }
  });
});

describe('tlsa-set edges: retries', { timeout: SUITE_TIMEOUT }, () => {
  it('waits 50 ms, then 100 ms between tries; the final error keeps the cause', async () => {
    const pub = new MemPublisher();
    let n = 10;
    pub.interfere = () => pub.put([rec(n++)]);
    sleeps.length = 0;
    let cause: unknown;
    await assert.rejects(
      addTlsa(pub, new MapStore(), OWNER, [rec(1)], { ...recSleep, tries: 3 }),
      (e) => {
        err('E_PUBLISH_CONFLICT', 'tempfail')(e);
        cause = (e as DkError).cause;
        return true;
      },
    );
    assert.deepEqual(sleeps, [50, 100]);
    assert.ok(
      cause instanceof DkError && cause.message === 'guard failed',
      `the last try's error is the cause: ${String(cause)}`,
    );
  });

  it('without a sleep given, a retry really waits', async () => {
    const pub = new MemPublisher();
    let once = false;
    pub.interfere = () => {
      if (!once) pub.put([rec(7)]);
      once = true;
    };
    const t0 = Date.now();
    const r = await addTlsa(pub, new MapStore(), OWNER, [rec(1)]);
    assert.equal(r.tries, 2);
    assert.ok(Date.now() - t0 >= 45, `${Date.now() - t0} ms`);
  });

  it('giving up leaves one pending try, not one per attempt', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    let n = 10;
    pub.interfere = () => pub.put([rec(n++)]);
    await assert.rejects(addTlsa(pub, store, OWNER, [rec(1)], { ...recSleep, tries: 3 }));
    assert.equal(new Set(store.pendingRows.map((r) => r.intent)).size, 1);
  });

  it('an apply that timed out may have landed: the next run claims the record (its intent is kept)', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    const apply = pub.apply.bind(pub);
    pub.apply = async (c: TlsaChange) => {
      await apply(c);
      throw new DkError('unavailable', 'E_PUBLISH_TIMEOUT', 'no answer from the server');
    };
    await assert.rejects(addTlsa(pub, store, OWNER, [rec(1)], recSleep), err('E_PUBLISH_TIMEOUT'));
    pub.apply = apply;
    const next = await removeTlsa(pub, store, OWNER, 'owned', recSleep);
    assert.deepEqual(ids(next.removed), [1], 'the record is ours');
  });

  it('a dry run retries a conflict while describing the change, and stops on other errors', async () => {
    const pub = new MemPublisher();
    let calls = 0;
    pub.describeChange = (c: TlsaChange) => {
      calls++;
      if (calls === 1) throw new DkError('tempfail', 'E_PUBLISH_CONFLICT', 'moved');
      return Promise.resolve([`+ ${c.add.length}`]);
    };
    sleeps.length = 0;
    const r = await addTlsa(pub, new MapStore(), OWNER, [rec(1)], { ...recSleep, dryRun: true });
    assert.equal(r.tries, 2);
    assert.deepEqual(r.wire, ['+ 1']);
    assert.deepEqual(sleeps, [50]);

    calls = 0;
    pub.describeChange = () => {
      calls++;
      throw new DkError('tempfail', 'E_PUBLISH_CONFLICT', 'moved');
    };
    await assert.rejects(
      addTlsa(pub, new MapStore(), OWNER, [rec(1)], { ...recSleep, dryRun: true, tries: 2 }),
      err('E_PUBLISH_CONFLICT', 'tempfail', 'moved'),
    );
    assert.equal(calls, 2);

    calls = 0;
    pub.describeChange = () => {
      calls++;
      throw new DkError('unavailable', 'E_PUBLISH_API', 'down');
    };
    await assert.rejects(
      addTlsa(pub, new MapStore(), OWNER, [rec(1)], { ...recSleep, dryRun: true }),
      err('E_PUBLISH_API'),
    );
    assert.equal(calls, 1);

    const plain = new MemPublisher();
    Object.assign(plain, { describeChange: undefined });
    const d = await addTlsa(plain, new MapStore(), OWNER, [rec(1)], { dryRun: true });
    assert.deepEqual(d.wire, [], 'a backend that cannot describe its changes');
  });
});

describe('tlsa-set edges: pending intents', { timeout: SUITE_TIMEOUT }, () => {
  it('a pending record exactly PENDING_STALE_MS old is still kept; a moment later dropped', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    const t0 = new Date('2026-01-01T00:00:00Z');
    store.intend(ZONE, OWNER, [rec(4)], t0);
    await addTlsa(pub, store, OWNER, [rec(1)], {
      ...recSleep,
      now: new Date(t0.getTime() + PENDING_STALE_MS),
    });
    assert.equal(store.pending(ZONE, OWNER).length, 1);
    await addTlsa(pub, store, OWNER, [rec(2)], {
      ...recSleep,
      now: new Date(t0.getTime() + PENDING_STALE_MS + 1),
    });
    assert.equal(store.pending(ZONE, OWNER).length, 0);
  });
});

describe(
  'tlsa-set edges: unusable records (RFC 6698 §2.1, RFC 7671 §9)',
  { timeout: SUITE_TIMEOUT },
  () => {
    const full = (n: number): TlsaRecord => ({
      usage: 3,
      selector: 0,
      mtype: 0,
      data: Buffer.alloc(n, 1),
    });

    it('long data is cut in the message after 64 hex digits, with its length; 66 bytes are shown whole', async () => {
      await assert.rejects(
        addTlsa(new MemPublisher(), new MapStore(), OWNER, [full(67)]),
        err(
          'E_UNUSABLE_RECORD',
          'usage',
          new RegExp(`^The TLSA record 3 0 0 ${'01'.repeat(32)}… \\(67 bytes\\) \\(`),
        ),
      );
      await assert.rejects(
        addTlsa(new MemPublisher(), new MapStore(), OWNER, [full(66)]),
        err(
          'E_UNUSABLE_RECORD',
          'usage',
          new RegExp(`^The TLSA record 3 0 0 ${'01'.repeat(66)} \\(`),
        ),
      );
    });

    it('several reasons for one record are separated by "; "', async () => {
      const bad: TlsaRecord = { usage: 3, selector: 7, mtype: 1, data: Buffer.alloc(31, 2) };
      await assert.rejects(
        addTlsa(new MemPublisher(), new MapStore(), OWNER, [bad]),
        err(
          'E_UNUSABLE_RECORD',
          'usage',
          /\(selector 7 \(unassigned\) is not supported; SHA2-256 data must be 32 bytes, this has 31\)/,
        ),
      );
    });
  },
);
