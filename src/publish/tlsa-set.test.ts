/**
 * The ownership and retry policy, against an in-memory backend. The real backends have their
 * own lab tests (test/lab/publish-*.test.ts) that go through these same functions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DkError } from '../core/errors.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import { MapStore, MemPublisher, OWNER, ids, rec } from './fake-tlsa-set.js';
import { addTlsa, removeTlsa, replaceTlsa } from './tlsa-set.js';
import type { Publisher, TlsaChange, TlsaRrset } from './types.js';

const noSleep = { sleep: () => Promise.resolve() };

describe('tlsa-set: ownership and retries', () => {
  it('add, repeat (no change), replace, remove; a hand-made record survives all of it', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    pub.put([rec(9)]); // by hand
    const a = await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    assert.equal(a.changed, true);
    assert.deepEqual(ids(a.after), [1, 9]);
    assert.equal(a.ttl, 300, 'a blank TTL keeps the RRset TTL');
    assert.deepEqual(ids(a.foreign), [9]);

    const again = await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    assert.equal(again.changed, false);
    assert.equal(pub.applied.length, 1, 'a repeat sends nothing');

    const r = await replaceTlsa(pub, store, OWNER, [rec(2), rec(3)], noSleep);
    assert.deepEqual(ids(r.added), [2, 3]);
    assert.deepEqual(ids(r.removed), [1]);
    assert.deepEqual(ids(r.after), [2, 3, 9]);

    const gone = await removeTlsa(pub, store, OWNER, 'owned', noSleep);
    assert.deepEqual(ids(gone.removed), [2, 3]);
    assert.deepEqual(ids((await pub.read(OWNER)).records), [9]);
    assert.deepEqual(store.rows, []);
  });

  it('never removes or claims a record it did not create, unless forced', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    pub.put([rec(9)]);
    const add = await addTlsa(pub, store, OWNER, [rec(9)], noSleep);
    assert.equal(add.changed, false);
    assert.deepEqual(ids(add.present), [9]);
    assert.deepEqual(add.foreign, [], 'listed once, under present');
    assert.deepEqual(store.rows, [], 'already there: not ours');

    await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    const rm = await removeTlsa(pub, store, OWNER, [rec(9), rec(1), rec(4)], noSleep);
    assert.equal(rm.changed, false, 'all or nothing: ours stays too');
    assert.deepEqual(ids(rm.notOwned), [9]);
    assert.deepEqual(ids(rm.absent), [4]);
    assert.deepEqual(ids((await pub.read(OWNER)).records), [1, 9]);
    await removeTlsa(pub, store, OWNER, [rec(1)], noSleep);

    const forced = await removeTlsa(pub, store, OWNER, [rec(9)], { ...noSleep, force: true });
    assert.deepEqual(ids(forced.removed), [9]);
    assert.equal(pub.sets.has(OWNER), false);
  });

  it('retries when someone else changes the RRset between read and update, and keeps theirs', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    let interfered = false;
    pub.interfere = () => {
      if (interfered) return;
      interfered = true;
      pub.put([rec(7)]);
    };
    const r = await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    assert.equal(r.tries, 2);
    assert.deepEqual(ids((await pub.read(OWNER)).records), [1, 7]);
  });

  it('gives up after the tries with a tempfail that says nothing changed', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    let n = 10;
    pub.interfere = () => pub.put([rec(n++)]);
    await assert.rejects(
      addTlsa(pub, store, OWNER, [rec(1)], { ...noSleep, tries: 3 }),
      (e: unknown) =>
        e instanceof DkError &&
        e.kind === 'tempfail' &&
        /\(3 tries\); nothing was changed/.test(e.message),
    );
    assert.deepEqual(store.rows, []);
  });

  it('a new RRset gets the zone default TTL; an explicit TTL is refused if it would change a hand-made record', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    const a = await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    assert.equal(a.ttl, 3600);
    pub.put([rec(9)], 300);
    await assert.rejects(
      addTlsa(pub, store, OWNER, [rec(1)], { ...noSleep, ttl: 600 }),
      (e: unknown) => e instanceof DkError && e.code === 'E_TTL_FOREIGN',
    );
    assert.deepEqual(ids((await pub.read(OWNER)).records), [9]);
    const same = await addTlsa(pub, store, OWNER, [rec(1)], { ...noSleep, ttl: 300 });
    assert.equal(same.changed, true);
  });

  it('forgets records someone else removed, so a later hand-made copy is not taken for ours', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    pub.sets.delete(OWNER); // removed by hand
    await addTlsa(pub, store, OWNER, [rec(2)], noSleep); // danekeeper sees it gone
    pub.put([...(await pub.read(OWNER)).records, rec(1)]); // typed in again by hand
    const rm = await removeTlsa(pub, store, OWNER, 'owned', noSleep);
    assert.deepEqual(ids(rm.removed), [2]);
    assert.deepEqual(ids((await pub.read(OWNER)).records), [1]);
  });

  it('a failed reload after the write still records ownership, then reports the failure', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    pub.reloadFails = true;
    await assert.rejects(
      addTlsa(pub, store, OWNER, [rec(1)], noSleep),
      (e: unknown) => e instanceof DkError && e.code === 'E_PUBLISH_RELOAD',
    );
    assert.deepEqual(ids(store.owned('example.test.', OWNER)), [1]);
    pub.reloadFails = false;
    const rm = await removeTlsa(pub, store, OWNER, 'owned', noSleep);
    assert.deepEqual(ids(rm.removed), [1]);
  });

  it('refuses an owner outside the zone', async () => {
    await assert.rejects(
      addTlsa(new MemPublisher(), new MapStore(), '_25._tcp.mail.other.test', [rec(1)]),
      (e: unknown) => e instanceof DkError && e.code === 'E_NOT_IN_ZONE',
    );
  });
});

describe('tlsa-set: dry run and the pre-apply hook', () => {
  it('a dry run computes the change and the wire text; nothing applied, the store untouched', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    pub.put([rec(9)]);
    await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    const rows = [...store.rows];
    const dry = await replaceTlsa(pub, store, OWNER, [rec(2)], { ...noSleep, dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.changed, false);
    assert.deepEqual(ids(dry.added), [2]);
    assert.deepEqual(ids(dry.removed), [1]);
    assert.deepEqual(ids(dry.before), [1, 9]);
    assert.deepEqual(ids(dry.after), [2, 9]);
    assert.deepEqual(dry.change, {
      owner: OWNER,
      expected: dry.before,
      add: [rec(2)],
      remove: [rec(1)],
      ttl: 300,
    });
    assert.deepEqual(dry.wire, ['- 1', '+ 2 ttl 300']);
    assert.equal(pub.applied.length, 1, 'only the first, real add');
    assert.deepEqual(ids((await pub.read(OWNER)).records), [1, 9]);
    assert.deepEqual(store.rows, rows);
    // a dry run does not forget records it finds gone either: the store is untouched
    pub.put([rec(9)]);
    await addTlsa(pub, store, OWNER, [rec(3)], { ...noSleep, dryRun: true });
    assert.deepEqual(store.rows, rows);
  });

  it('nothing to do: change null, wire empty, the hook not called; a real run reports its change', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    let calls = 0;
    const beforeApply = () => {
      calls++;
      return Promise.resolve();
    };
    const real = await addTlsa(pub, store, OWNER, [rec(1)], { ...noSleep, beforeApply });
    assert.equal(real.dryRun, false);
    assert.deepEqual(real.change?.add, [rec(1)]);
    assert.deepEqual(real.wire, []);
    const again = await addTlsa(pub, store, OWNER, [rec(1)], {
      ...noSleep,
      beforeApply,
      dryRun: true,
    });
    assert.equal(again.change, null);
    assert.deepEqual(again.wire, []);
    assert.equal(calls, 1);
  });

  it('beforeApply sees the plan (in a dry run too); throwing aborts with nothing changed', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    pub.put([rec(9)]);
    const seen: unknown[] = [];
    const dry = await addTlsa(pub, store, OWNER, [rec(1)], {
      ...noSleep,
      dryRun: true,
      beforeApply: (p) => {
        seen.push({ ...p, before: ids(p.before), after: ids(p.after) });
        return Promise.resolve();
      },
    });
    assert.equal(dry.dryRun, true);
    assert.deepEqual(seen, [
      { owner: OWNER, before: [9], after: [1, 9], add: [rec(1)], remove: [], ttl: 300 },
    ]);
    await assert.rejects(
      addTlsa(pub, store, OWNER, [rec(1)], {
        ...noSleep,
        beforeApply: () =>
          Promise.reject(new DkError('unavailable', 'E_PROBE', 'mail.example.test:25 is down')),
      }),
      (e: unknown) => e instanceof DkError && e.code === 'E_PROBE',
    );
    assert.equal(pub.applied.length, 0);
    assert.deepEqual(store.rows, []);
    assert.deepEqual(ids((await pub.read(OWNER)).records), [9]);
  });

  it('beforeApply is called again on a retry, with the fresh plan', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    let interfered = false;
    pub.interfere = () => {
      if (interfered) return;
      interfered = true;
      pub.put([rec(7)]);
    };
    const befores: (number | undefined)[][] = [];
    const r = await addTlsa(pub, store, OWNER, [rec(1)], {
      ...noSleep,
      beforeApply: (p) => {
        befores.push(ids(p.before));
        return Promise.resolve();
      },
    });
    assert.equal(r.tries, 2);
    assert.deepEqual(befores, [[], [7]]);
  });
});

describe('tlsa-set: unusable records are refused unless forced', () => {
  const short = { usage: 3, selector: 1, mtype: 1, data: Buffer.alloc(31, 1) };
  const long = { usage: 3, selector: 1, mtype: 1, data: Buffer.alloc(33, 2) };

  it('a SHA2-256 digest of 62 or 66 hex digits: E_UNUSABLE_RECORD naming it and why; nothing read or sent', async () => {
    for (const [r, n] of [
      [short, 31],
      [long, 33],
    ] as const) {
      const pub = new MemPublisher();
      const store = new MapStore();
      let reads = 0;
      pub.afterRead = () => Promise.resolve(void reads++);
      await assert.rejects(
        addTlsa(pub, store, OWNER, [rec(1), r], { ...noSleep, dryRun: true }),
        (e: unknown) =>
          e instanceof DkError &&
          e.code === 'E_UNUSABLE_RECORD' &&
          e.kind === 'usage' &&
          e.message ===
            `The TLSA record 3 1 1 ${r.data.toString('hex')} (SHA2-256 data must be 32 bytes, ` +
              `this has ${n}) at ${OWNER} is unusable: refusing to publish; add --force to publish it anyway`,
      );
      assert.equal(reads, 0);
      assert.equal(pub.applied.length, 0);
    }
  });

  it('replace too; unknown values; PKIX usages only at _25._tcp owners (RFC 7672 §3.1.3)', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    const pkix = rec(5, 1);
    const e = await addTlsa(pub, store, OWNER, [pkix, { ...rec(6), selector: 7 }]).catch(
      (x: unknown) => x,
    );
    assert.ok(
      e instanceof DkError && e.code === 'E_UNUSABLE_RECORD',
      "e instanceof DkError && e.code === 'E_UNUSABLE_RECORD'",
    );
    assert.match(
      e.message,
      /^TLSA records 1 1 1 0505\S+ \(certificate usage 1 \(PKIX-EE\) is unusable for SMTP \(RFC 7672 §3\.1\.3\)\), 3 7 1 0606\S+ \(selector 7 \(unassigned\) is not supported\) at _25\._tcp\.mail\.example\.test\. are unusable: refusing to publish; add --force to publish them anyway$/,
    );
    await assert.rejects(
      replaceTlsa(pub, store, OWNER, [rec(1), short], noSleep),
      (x: unknown) => x instanceof DkError && x.code === 'E_UNUSABLE_RECORD',
    );
    // 1 x x is fine for HTTPS (RFC 7671), not for SMTP
    const web = await addTlsa(pub, store, '_443._tcp.www.example.test.', [pkix], noSleep);
    assert.equal(web.changed, true);
  });

  it('forced: published, and remembered as ours', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    const r = await addTlsa(pub, store, OWNER, [short], { ...noSleep, force: true });
    assert.equal(r.changed, true);
    assert.deepEqual(store.owned('example.test.', OWNER), [short]);
  });
});

describe('tlsa-set: ownership is race-free', () => {
  it('a read older than the store: a record another run added meanwhile is not forgotten', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    // Our read sees the empty RRset; before we look at the store, another run adds 1 and
    // remembers it. The old code took 1 for "removed by someone" and forgot it.
    pub.afterRead = async () => {
      await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    };
    const r = await addTlsa(pub, store, OWNER, [rec(2)], noSleep);
    assert.equal(r.tries, 2, 'the guard caught the stale read');
    assert.deepEqual(ids(store.owned('example.test.', OWNER)), [1, 2]);
    const rm = await removeTlsa(pub, store, OWNER, 'owned', noSleep);
    assert.deepEqual(ids(rm.removed), [1, 2]);
    assert.equal(pub.sets.has(OWNER), false);
  });

  it('a run that died after the server took its change: the next run settles the pending record as ours', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    pub.put([rec(9)]); // by hand
    // what a run does up to the crash: intent written, change applied, no remember
    store.intend('example.test.', OWNER, [rec(1)], new Date());
    await pub.apply({ owner: OWNER, expected: [rec(9)], add: [rec(1)], remove: [], ttl: 300 });
    const dry = await addTlsa(pub, store, OWNER, [rec(2)], { ...noSleep, dryRun: true });
    assert.deepEqual(ids(dry.foreign), [9], 'pending and published: not foreign');
    assert.equal(store.pendingRows.length, 1, 'a dry run settles nothing');
    const list = await addTlsa(pub, store, OWNER, [rec(2)], noSleep);
    assert.deepEqual(ids(list.foreign), [9]);
    assert.deepEqual(ids(store.owned('example.test.', OWNER)), [1, 2]);
    assert.deepEqual(store.pendingRows, []);
    const rm = await removeTlsa(pub, store, OWNER, 'owned', noSleep);
    assert.deepEqual(ids(rm.removed), [1, 2]);
    assert.deepEqual(ids((await pub.read(OWNER)).records), [9]);
  });

  it('a pending record never published is kept while fresh, dropped once stale; never claimed', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    const t0 = new Date('2026-01-01T00:00:00Z');
    store.intend('example.test.', OWNER, [rec(1)], t0); // a run in flight, or one that died
    await addTlsa(pub, store, OWNER, [rec(2)], {
      ...noSleep,
      now: new Date(t0.getTime() + 60_000),
    });
    assert.equal(store.pendingRows.length, 1, 'maybe still in flight: kept');
    await addTlsa(pub, store, OWNER, [rec(3)], {
      ...noSleep,
      now: new Date(t0.getTime() + 16 * 60_000),
    });
    assert.deepEqual(store.pendingRows, [], 'stale: dropped');
    pub.put([...(await pub.read(OWNER)).records, rec(1)]); // then typed in by hand
    const rm = await removeTlsa(pub, store, OWNER, 'owned', noSleep);
    assert.deepEqual(ids(rm.removed), [2, 3]);
  });

  it('a refused change drops its intent; a conflict retries and drops the try that did not land', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    pub.failWith = new DkError('noperm', 'E_PUBLISH_AUTH', 'refused');
    await assert.rejects(addTlsa(pub, store, OWNER, [rec(1)], noSleep));
    assert.deepEqual(store.pendingRows, []);
    pub.failWith = new DkError('unavailable', 'E_PUBLISH_UNREACHABLE', 'timeout');
    await assert.rejects(addTlsa(pub, store, OWNER, [rec(1)], noSleep));
    assert.equal(store.pendingRows.length, 1, 'may have been applied: kept for the next read');
    pub.failWith = undefined;
    let n = 0;
    pub.interfere = () => {
      if (n++ === 0) pub.put([rec(7)]);
    };
    const r = await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    assert.equal(r.tries, 2);
    assert.deepEqual(store.pendingRows, []);
    assert.deepEqual(ids(store.owned('example.test.', OWNER)), [1]);
  });

  it('remove --all --force removes every record at the owner, hand-made ones too', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    pub.put([rec(9)]);
    await addTlsa(pub, store, OWNER, [rec(1)], noSleep);
    const mine = await removeTlsa(pub, store, OWNER, 'owned', { ...noSleep, dryRun: true });
    assert.deepEqual(ids(mine.removed), [1]);
    const all = await removeTlsa(pub, store, OWNER, 'owned', { ...noSleep, force: true });
    assert.deepEqual(ids(all.removed), [1, 9]);
    assert.equal(pub.sets.has(OWNER), false);
    assert.deepEqual(store.rows, []);
  });
});

/**
 * A server whose answers arrive when a fast-check scheduler says: a read is the RRset at the
 * moment it was asked, however late it arrives; a change takes effect, guarded, at the moment
 * the scheduler lets it through. `crash`: the run dies right after the server took its change.
 */
class ScheduledPublisher implements Publisher {
  readonly backend = 'zonefile' as const;
  readonly zone = 'example.test.';
  readonly describe = 'scheduled';
  constructor(
    private readonly state: { records: TlsaRecord[] },
    private readonly s: fc.Scheduler | null,
    private readonly crash = false,
  ) {}
  private later<T>(v: T, label: string): Promise<T> {
    return this.s ? this.s.schedule(Promise.resolve(v), label) : Promise.resolve(v);
  }
  read(owner: string): Promise<TlsaRrset> {
    const records = [...this.state.records];
    return this.later({ owner, ttl: records.length > 0 ? 300 : null, records }, 'read');
  }
  defaultTtl(): Promise<number> {
    return Promise.resolve(300);
  }
  async apply(c: TlsaChange): Promise<void> {
    await this.later(null, `apply +${ids(c.add).join(',')} -${ids(c.remove).join(',')}`);
    const cur = this.state.records;
    const same =
      cur.length === c.expected.length &&
      cur.every((r) => c.expected.some((e) => sameRecord(e, r)));
    if (!same) throw new DkError('tempfail', 'E_PUBLISH_CONFLICT', 'guard failed');
    this.state.records = [...cur.filter((r) => !c.remove.some((x) => sameRecord(x, r))), ...c.add];
    if (this.crash) throw new Error('crashed after the server took the change');
  }
}

describe('tlsa-set: ownership over every interleaving (property)', () => {
  it('concurrent runs, some dying after their change: every record danekeeper added ends up ours, the hand-made one never', async () => {
    const hand = rec(200, 2);
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.record({ n: fc.integer({ min: 1, max: 2 }), crash: fc.boolean() }), {
          minLength: 2,
          maxLength: 5,
        }),
        async (s, workers) => {
          const state = { records: [hand] };
          const store = new MapStore();
          let next = 1;
          const jobs = workers.map((w) => {
            const records = Array.from({ length: w.n }, () => rec(next++));
            const pub = new ScheduledPublisher(state, s, w.crash);
            return addTlsa(pub, store, OWNER, records, { ...noSleep, tries: 30 }).then(
              () => 'ok',
              (e: unknown) => {
                if (w.crash && e instanceof Error && /^crashed/.test(e.message)) return 'crashed';
                throw e;
              },
            );
          });
          await s.waitFor(Promise.all(jobs));
          // any later run settles what the dead ones left pending
          const calm = new ScheduledPublisher(state, null);
          await addTlsa(calm, store, OWNER, [], noSleep);
          const added = Array.from({ length: next - 1 }, (_, i) => i + 1);
          assert.deepEqual(ids(state.records), [...added, 200].sort());
          assert.deepEqual(ids(store.owned('example.test.', OWNER)), added.sort());
          assert.deepEqual(store.pendingRows, []);
          const rm = await removeTlsa(calm, store, OWNER, 'owned', noSleep);
          assert.deepEqual(ids(rm.removed), added.sort());
          assert.deepEqual(state.records, [hand]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * Issue 12: the ownership rules over random sequences of danekeeper's operations and a person's
 * edits by hand, checked after every step against a model that is the rules written plainly:
 * - add: publishes what is missing; claims only what it published itself (a record already
 *   there, made by hand, stays someone else's);
 * - remove: all or nothing; a named record danekeeper did not create stops it (unless forced);
 *   remove 'owned' takes danekeeper's records (with force: every record);
 * - replace: danekeeper's records become exactly the wanted ones, hand-made ones stay;
 * - a record removed by hand is forgotten, so the same record added back by hand is not ours.
 */
describe('tlsa-set: ownership rules against a model (property)', () => {
  type Op =
    | { op: 'add' | 'replace'; ids: number[] }
    | { op: 'remove'; ids: number[]; force: boolean }
    | { op: 'removeOwned'; force: boolean }
    | { op: 'handAdd' | 'handRemove'; id: number };
  const idArb = fc.integer({ min: 1, max: 6 });
  const idsArb = fc.uniqueArray(idArb, { minLength: 0, maxLength: 3 });
  const opArb = (handRemove: boolean): fc.Arbitrary<Op> =>
    fc.oneof(
      fc.record({ op: fc.constantFrom('add' as const, 'replace' as const), ids: idsArb }),
      fc.record({ op: fc.constant('remove' as const), ids: idsArb, force: fc.boolean() }),
      fc.record({ op: fc.constant('removeOwned' as const), force: fc.boolean() }),
      fc.record({
        op: handRemove
          ? fc.constantFrom('handAdd' as const, 'handRemove' as const)
          : fc.constant('handAdd' as const),
        id: idArb,
      }),
    );
  const sorted = (s: Iterable<number>) => [...s].sort((a, b) => a - b);

  const property = (handRemove: boolean) => async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb(handRemove), { minLength: 1, maxLength: 25 }),
        async (ops) => {
          const pub = new MemPublisher();
          const store = new MapStore();
          const published = new Set<number>();
          /** what the store remembers as danekeeper's */
          let owned = new Set<number>();
          for (const o of ops) {
            if (o.op === 'handAdd') {
              if (!published.has(o.id)) {
                published.add(o.id);
                pub.put([...(pub.sets.get(OWNER)?.records ?? []), rec(o.id)]);
              }
              continue;
            }
            if (o.op === 'handRemove') {
              published.delete(o.id); // the store learns of it at danekeeper's next run
              const left = (pub.sets.get(OWNER)?.records ?? []).filter((r) => r.data[0] !== o.id);
              if (left.length > 0) pub.put(left);
              else pub.sets.delete(OWNER);
              continue;
            }
            const before = new Set(published);
            // decisions use only remembered records that are still published
            const ours = new Set([...owned].filter((i) => before.has(i)));
            let add: number[] = [];
            let remove: number[] = [];
            if (o.op === 'add' || o.op === 'replace') {
              add = o.ids.filter((i) => !before.has(i));
              if (o.op === 'replace') remove = [...ours].filter((i) => !o.ids.includes(i));
              const fn = o.op === 'add' ? addTlsa : replaceTlsa;
              await fn(
                pub,
                store,
                OWNER,
                o.ids.map((i) => rec(i)),
                noSleep,
              );
            } else if (o.op === 'remove') {
              const r = await removeTlsa(
                pub,
                store,
                OWNER,
                o.ids.map((i) => rec(i)),
                {
                  ...noSleep,
                  force: o.force,
                },
              );
              const there = o.ids.filter((i) => before.has(i));
              const foreign = there.filter((i) => !ours.has(i));
              if (o.force || foreign.length === 0) remove = there;
              assert.deepEqual(sorted(ids(r.notOwned) as number[]), o.force ? [] : sorted(foreign));
            } else if (o.op === 'removeOwned') {
              await removeTlsa(pub, store, OWNER, 'owned', { ...noSleep, force: o.force });
              remove = o.force ? [...before] : [...ours];
            }
            // what was remembered beyond the RRset read is forgotten
            owned = new Set([...ours, ...add].filter((i) => !remove.includes(i)));
            for (const i of add) published.add(i);
            for (const i of remove) published.delete(i);
            const where = `after ${JSON.stringify(o)}`;
            assert.deepEqual(ids((await pub.read(OWNER)).records), sorted(published), where);
            assert.deepEqual(ids(store.owned('example.test.', OWNER)), sorted(owned), where);
            assert.deepEqual(store.pendingRows, [], where);
          }
        },
      ),
      { numRuns: 400 },
    );
  };

  it(
    'danekeeper runs and records added by hand: the RRset and what it owns follow the model',
    property(false),
  );

  it('the same with records also removed by hand', property(true));

  it('a record of ours removed by hand and published again by danekeeper stays ours', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    await addTlsa(pub, store, OWNER, [rec(2)], noSleep);
    pub.sets.delete(OWNER); // removed by hand
    const r = await addTlsa(pub, store, OWNER, [rec(2)], noSleep);
    assert.deepEqual(ids(r.added), [2]);
    assert.deepEqual(ids(store.owned('example.test.', OWNER)), [2], 'published by us, not ours');
  });

  it('a record removed by hand and seen gone by a run that wrote nothing, then put back by hand, is not ours', async () => {
    const pub = new MemPublisher();
    const store = new MapStore();
    await addTlsa(pub, store, OWNER, [rec(4)], noSleep);
    pub.sets.delete(OWNER); // removed by hand
    await addTlsa(pub, store, OWNER, [], noSleep); // a run sees it gone, changes nothing
    pub.put([rec(4)]); // the same record, added back by hand
    const r = await removeTlsa(pub, store, OWNER, 'owned', noSleep);
    assert.deepEqual(ids(r.removed), [], 'the hand-made record was removed as ours');
  });
});
