/**
 * txt-set's rules with an in-memory backend: only values it added are removed, a value already
 * there is neither added nor claimed, a concurrent writer causes a re-read and retry, a dry run
 * changes nothing; and the TXT RDATA codec with its 255-octet strings (RFC 1035 §3.3.14).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DkError } from '../core/errors.js';
import { buildRrsetUpdate } from './rfc2136/publisher.js';
import { TYPE_TXT } from './rfc2136/message.js';
import {
  decodeTxtRdata,
  encodeTxtRdata,
  parseTxtPresentation,
  txtPresentation,
} from './txt-rdata.js';
import { memoryTxtOwnership } from '../store/txt-ownership.js';
import { addTxt, removeLeftoverTxt, removeTxt } from './txt-set.js';
import type { Publisher, TxtChange } from './types.js';

function memory(initial: string[] = [], opts: { interfere?: number } = {}) {
  const state = {
    values: [...initial],
    ttl: initial.length ? 300 : (null as number | null),
    applied: [] as TxtChange[],
  };
  let interfere = opts.interfere ?? 0;
  const p: Publisher = {
    backend: 'zonefile',
    zone: 'example.org.',
    describe: 'memory',
    read: async () => ({ owner: '', ttl: null, records: [] }),
    apply: async () => {},
    defaultTtl: async () => 3600,
    readTxt: async (owner) => ({ owner, ttl: state.ttl, values: [...state.values] }),
    applyTxt: async (c) => {
      if (interfere-- > 0) {
        state.values.push(`other-${interfere}`);
        throw new DkError('tempfail', 'E_PUBLISH_CONFLICT', 'changed');
      }
      const same =
        c.expected.length === state.values.length &&
        c.expected.every((v) => state.values.includes(v));
      if (!same) throw new DkError('tempfail', 'E_PUBLISH_CONFLICT', 'changed');
      state.values = [...state.values.filter((v) => !c.remove.includes(v)), ...c.add];
      state.ttl = c.ttl;
      state.applied.push(c);
    },
    describeTxtChange: async (c) => [`add ${c.add.join(',')} remove ${c.remove.join(',')}`],
  };
  return { p, state };
}

const O = '_acme-challenge.mail.example.org.';
const noSleep = { sleep: async () => {} };

describe('txt-set', () => {
  it('adds next to what is there and reports only what it added; removes only that', async () => {
    const { p, state } = memory(['hand']);
    const a = await addTxt(p, O, ['hand', 'v1', 'v2'], noSleep);
    assert.deepEqual(a.added, ['v1', 'v2'], 'the hand-made value is not claimed');
    assert.deepEqual(state.values, ['hand', 'v1', 'v2']);
    assert.equal(state.applied[0]!.ttl, 300, 'the RRset keeps its TTL');
    const r = await removeTxt(p, O, a.added, noSleep);
    assert.deepEqual(r.removed, ['v1', 'v2']);
    assert.deepEqual(state.values, ['hand']);
  });

  it('a new RRset gets the zone default TTL unless told; removing what is gone changes nothing', async () => {
    const { p, state } = memory();
    await addTxt(p, O, ['v'], noSleep);
    assert.equal(state.applied[0]!.ttl, 3600);
    await removeTxt(p, O, ['v'], noSleep);
    const again = await removeTxt(p, O, ['v'], noSleep);
    assert.equal(again.applied, false);
    assert.equal(state.applied.length, 2);
  });

  it("the TTL asked for is a new RRset's; an existing RRset keeps its own (RFC 2181 §5.2)", async () => {
    const { p, state } = memory(['hand']);
    await addTxt(p, O, ['v'], { ...noSleep, ttl: 5 });
    assert.equal(state.applied[0]!.ttl, 300, "the hand-made value's TTL is not ours to change");
    const fresh = memory();
    await addTxt(fresh.p, O, ['v'], { ...noSleep, ttl: 5 });
    assert.equal(fresh.state.applied[0]!.ttl, 5);
  });

  it('a concurrent writer: re-read and retry, keeping its value', async () => {
    const { p, state } = memory([], { interfere: 2 });
    const a = await addTxt(p, O, ['mine'], noSleep);
    assert.equal(a.applied, true);
    assert.deepEqual(state.values.sort(), ['mine', 'other-0', 'other-1']);
  });

  it('gives up after the tries with E_PUBLISH_CONFLICT', async () => {
    const { p } = memory([], { interfere: 99 });
    await assert.rejects(addTxt(p, O, ['mine'], { ...noSleep, tries: 3 }), {
      code: 'E_PUBLISH_CONFLICT',
    });
  });

  it('dry run: the plan, nothing applied', async () => {
    const { p, state } = memory(['hand']);
    const r = await addTxt(p, O, ['v'], { ...noSleep, dryRun: true });
    assert.deepEqual(r.plan, ['add v remove ']);
    assert.equal(r.applied, false);
    assert.deepEqual(state.values, ['hand']);
  });

  it('a backend without TXT support is E_PUBLISH_NO_TXT', async () => {
    const { p } = memory();
    delete p.readTxt;
    await assert.rejects(addTxt(p, O, ['v']), { code: 'E_PUBLISH_NO_TXT' });
  });
});

/** The backend fails with `code` once, after (or before) applying the change. */
function failing(p: Publisher, code: string, applied: boolean): void {
  const apply = p.applyTxt!.bind(p);
  let once = true;
  p.applyTxt = async (c) => {
    if (!once) return apply(c);
    once = false;
    if (applied) await apply(c);
    throw new DkError('unavailable', code, `simulated ${code}`);
  };
}

const valuesOf = (s: ReturnType<typeof memoryTxtOwnership>) =>
  s.list('example.org.').map((r) => `${r.value}${r.intent ? ' pending' : ''}`);

describe('txt-set with the state database: what danekeeper published outlives the process', () => {
  const T = new Date('2026-03-01T12:00:00Z');

  it('add records the values (pending, then settled); remove forgets them, gone ones too', async () => {
    const { p } = memory(['hand']);
    const store = memoryTxtOwnership();
    const seen: string[][] = [];
    const apply = p.applyTxt!.bind(p);
    p.applyTxt = async (c) => {
      seen.push(valuesOf(store)); // what a crash right now would leave for the next run
      return apply(c);
    };
    await addTxt(p, O, ['hand', 'v1', 'v2'], { ...noSleep, store, now: T });
    assert.deepEqual(seen, [['v1 pending', 'v2 pending']], 'recorded before the change is sent');
    assert.deepEqual(valuesOf(store), ['v1', 'v2'], 'the hand-made value is never recorded');
    await removeTxt(p, O, ['v1', 'v2', 'gone'], { ...noSleep, store });
    assert.deepEqual(valuesOf(store), []);
  });

  it('a failure after the change applied (a timeout) keeps the values pending; the leftover sweep removes them, the hand-made value stays', async () => {
    const { p, state } = memory(['hand']);
    const store = memoryTxtOwnership();
    failing(p, 'E_PUBLISH_UNREACHABLE', true);
    await assert.rejects(addTxt(p, O, ['v'], { ...noSleep, store, now: T }), {
      code: 'E_PUBLISH_UNREACHABLE',
    });
    assert.deepEqual(state.values, ['hand', 'v']);
    assert.deepEqual(valuesOf(store), ['v pending']);
    const young = await removeLeftoverTxt(p, { ...noSleep, store, now: T });
    assert.deepEqual(young, [], 'a value recorded a moment ago may belong to a live run');
    const r = await removeLeftoverTxt(p, {
      ...noSleep,
      store,
      now: new Date(T.getTime() + 16 * 60_000),
    });
    assert.deepEqual(
      r.map((x) => [x.owner, x.removed]),
      [[O, ['v']]],
    );
    assert.deepEqual(state.values, ['hand']);
    assert.deepEqual(valuesOf(store), []);
  });

  it('a refusal drops the intent; a conflict re-reads and retries; a failed reload still owns what the file holds', async () => {
    const refused = memory();
    const store = memoryTxtOwnership();
    failing(refused.p, 'E_PUBLISH_REFUSED', false);
    await assert.rejects(addTxt(refused.p, O, ['v'], { ...noSleep, store, now: T }));
    assert.deepEqual(valuesOf(store), [], 'certainly not applied: nothing to clean up');
    const busy = memory([], { interfere: 1 });
    await addTxt(busy.p, O, ['w'], { ...noSleep, store, now: T });
    assert.deepEqual(valuesOf(store), ['w'], 'the retry settled; the failed try left nothing');
    const reload = memory();
    failing(reload.p, 'E_PUBLISH_RELOAD', true);
    await assert.rejects(addTxt(reload.p, O, ['x'], { ...noSleep, store, now: T }));
    assert.deepEqual(valuesOf(store), ['w', 'x']);
  });

  it('an applied-then-failed try found published on the retry is settled as ours', async () => {
    const { p, state } = memory();
    const store = memoryTxtOwnership();
    // applied, then reported as a conflict (a PowerDNS write overtaken right after)
    failing(p, 'E_PUBLISH_CONFLICT', true);
    const r = await addTxt(p, O, ['v'], { ...noSleep, store, now: T });
    assert.equal(r.applied, false, 'the retry found it there: nothing more to add');
    assert.deepEqual(state.values, ['v']);
    assert.deepEqual(valuesOf(store), ['v']);
  });

  it('a dry run records nothing; the sweep only looks at the owners it is given', async () => {
    const { p, state } = memory(['hand']);
    const store = memoryTxtOwnership();
    await addTxt(p, O, ['v'], { ...noSleep, store, dryRun: true });
    assert.deepEqual(valuesOf(store), []);
    await addTxt(p, O, ['v'], { ...noSleep, store, now: T });
    const other = await removeLeftoverTxt(p, {
      ...noSleep,
      store,
      owners: ['_acme-challenge.www.example.org'],
      minAgeMs: 0,
    });
    assert.deepEqual(other, []);
    assert.deepEqual(state.values, ['hand', 'v']);
  });
});

describe('TXT RDATA', () => {
  it('splits at 255 octets and joins again; presentation form round-trips quotes and bytes', () => {
    const long = 'x'.repeat(300);
    const w = encodeTxtRdata(long);
    assert.equal(w[0], 255);
    assert.equal(w[256], 45);
    assert.equal(decodeTxtRdata(w), long);
    assert.deepEqual(encodeTxtRdata(''), Buffer.from([0]));
    const odd = 'a "quoted" \\ value é';
    assert.equal(parseTxtPresentation(txtPresentation(odd)), odd);
    assert.equal(parseTxtPresentation('"abc" def'), 'abcdef');
    assert.equal(parseTxtPresentation('"open'), undefined);
  });

  it('rfc2136: the TXT UPDATE is guarded by the RRset read (RFC 2136 §2.4.2) and adds with the TTL', () => {
    const spec = buildRrsetUpdate(
      'example.org.',
      O,
      TYPE_TXT,
      { expected: [encodeTxtRdata('hand')], add: [encodeTxtRdata('v')], remove: [], ttl: 60 },
      1,
    );
    assert.deepEqual(
      spec.an!.map((r) => [r.type, r.class, r.ttl, decodeTxtRdata(r.rdata)]),
      [[16, 1, 0, 'hand']],
    );
    assert.deepEqual(
      spec.ns!.map((r) => [r.class, r.ttl, decodeTxtRdata(r.rdata)]),
      [
        [254, 0, 'hand'],
        [1, 60, 'hand'],
        [1, 60, 'v'],
      ],
    );
    const none = buildRrsetUpdate(
      'example.org.',
      O,
      TYPE_TXT,
      { expected: [], add: [encodeTxtRdata('v')], remove: [], ttl: 60 },
      1,
    );
    assert.deepEqual(
      none.an!.map((r) => [r.type, r.class, r.rdata.length]),
      [[16, 254, 0]],
      'RFC 2136 §2.4.3: RRset does not exist',
    );
  });
});
