/**
 * Crash between any two steps (issue 9): every action of whole journeys — first issuance, an
 * ordinary renewal, a key rotation — under every key policy. At each action, the run is cut
 * after the state was persisted and re-planned from that state with the world in both conditions:
 * before the side effect (the same action comes again, same ids: idempotent) and after it (the
 * planner takes the result and moves on). Both futures must end where the uncut run ends, and
 * the invariant must hold throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from './plan.js';
import { desiredRecords } from './records.js';
import { persist, untilIdle } from './testing/drive.js';
import { World } from './testing/world.js';
import type { Observations, RolloverPolicy, RolloverState } from './types.js';

const MX = '_25._tcp.mail.example.org.';
const SUB = '_587._tcp.mail.example.org.';
const DAY = 86_400_000;

interface Cut {
  world: World;
  state: RolloverState | null;
  request: Observations['request'];
  /** the invariant is owed once the first certificate is verified */
  managed: boolean;
  /** index into journey */
  segment: number;
}

const policies: [string, Partial<RolloverPolicy>][] = [
  ['current + next', {}],
  ['new key each renewal', { newKeyEachRenewal: true }],
  ['issuer records', { issuerRecords: true }],
  ['new key each renewal + issuer records', { newKeyEachRenewal: true, issuerRecords: true }],
];
const journey: { advance: number; request: Observations['request'] }[] = [
  { advance: 0, request: null },
  { advance: 61 * DAY, request: null },
  { advance: DAY, request: 'rotate-key' },
  { advance: DAY, request: 'renew' },
];

function mk(over: Partial<RolloverPolicy>) {
  const policy: RolloverPolicy = {
    domain: 'example.org',
    owners: [MX, SUB],
    keyType: 'ec-p256',
    confirmationIntervalHours: 2,
    newKeyEachRenewal: false,
    issuerRecords: false,
    issuerSpkis: ['e1'.repeat(32), 'e2'.repeat(32)],
    ...over,
  };
  const w = new World(policy, {
    start: Date.parse('2026-01-01T00:00:00Z'),
    servers: 3,
    addressesPerOwner: 2,
    ttl: 600,
  });
  return { policy, w };
}

/** The uncut run, with a cut before every plan. */
function record(over: Partial<RolloverPolicy>) {
  const { policy, w } = mk(over);
  const cuts: Cut[] = [];
  let s: RolloverState | null = null;
  let managed = false;
  for (const [segment, seg] of journey.entries()) {
    w.advance(seg.advance);
    let request = seg.request;
    for (let i = 0; i < 200; i++) {
      cuts.push({ world: w.clone(), state: s, request, managed, segment });
      const d = plan(s, w.observe(0.5, request), w.iso(), policy);
      request = null;
      s = persist(d.state);
      if (d.kind === 'act') {
        const r = w.act(d.action);
        assert.ok(r.ok, JSON.stringify(r));
        if (managed) assert.deepEqual(w.violations(), [], JSON.stringify(d.action));
        continue;
      }
      managed ||= s.verified;
      if (d.kind === 'idle') break;
      const until = d.until ? Date.parse(d.until) : w.now + 600_000;
      w.advance(Math.max(until - w.now, 1));
      w.sync();
      if (managed) assert.deepEqual(w.violations(), []);
    }
  }
  return { policy, w, cuts, final: s! };
}

/** Carry on to the end of the journey from a cut, checking the invariant at every step. */
function finish(
  policy: RolloverPolicy,
  w: World,
  s: RolloverState,
  managed: boolean,
  segment: number,
) {
  let r = untilIdle(w, s, policy);
  for (const seg of journey.slice(segment + 1)) {
    w.advance(seg.advance);
    r = untilIdle(w, r.state, policy, { request: seg.request });
  }
  if (managed) assert.deepEqual(w.violations(), []);
  return r.state;
}

for (const [name, over] of policies) {
  test(`crash before or after any action (${name}): same action again, or moves on; same end`, () => {
    const { policy, w: ref, cuts, final } = record(over);
    let acted = 0;
    for (const cut of cuts) {
      const w0 = cut.world.clone();
      const d = plan(cut.state, w0.observe(0.5, cut.request), w0.iso(), policy);
      if (d.kind !== 'act') continue;
      acted++;
      const persisted = persist(d.state);
      assert.deepEqual(persisted.intent && { ...persisted.intent, at: undefined }, {
        ...d.action,
        at: undefined,
      });

      // before the side effect: the same action, with the same ids
      const again = plan(persisted, w0.observe(0.5, null), w0.iso(), policy);
      assert.equal(again.kind, 'act', `re-plan before ${JSON.stringify(d.action)}`);
      assert.deepEqual(again.kind === 'act' && again.action, d.action);

      // after it: taken as done
      const w1 = cut.world.clone();
      assert.ok(w1.act(d.action).ok);
      if (cut.managed) assert.deepEqual(w1.violations(), []);
      const on = plan(persisted, w1.observe(0.5, null), w1.iso(), policy);
      assert.ok(
        !(on.kind === 'act' && JSON.stringify(on.action) === JSON.stringify(d.action)),
        `after ${JSON.stringify(d.action)} the planner asked for it again`,
      );

      // both futures end as the uncut run did
      for (const w of [w0, w1]) {
        const end = finish(policy, w, persisted, cut.managed, cut.segment);
        assert.equal(end.keys.current?.id, final.keys.current?.id);
        assert.equal(end.keys.next?.id ?? null, final.keys.next?.id ?? null);
        for (const o of policy.owners) {
          assert.deepEqual([...(w.primary[o] ?? [])].sort(), [...(ref.primary[o] ?? [])].sort());
          assert.deepEqual(w.staleAt(o, desiredRecords(end, policy)), []);
        }
      }
    }
    assert.ok(acted >= 15, `${acted} actions cut`);
  });
}
