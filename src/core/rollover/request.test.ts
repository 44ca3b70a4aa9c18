/**
 * The product rule for `renew`: a request that was accepted (`renew DOMAIN --rotate-key` exited
 * 0, so its effect on the state was persisted) is carried out exactly once, eventually, whatever
 * the domain was doing when it came in. Found while asking why the soak saw fewer key rotations
 * than it asked for (session 5, task S).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from './plan.js';
import { step, untilIdle } from './testing/drive.js';
import { World } from './testing/world.js';
import type { Decision, RolloverPolicy, RolloverState } from './types.js';

const MX = '_25._tcp.mail.example.org.';
const START = Date.parse('2026-01-01T00:00:00.000Z');
const DAY = 86_400_000;

function bootstrap(over: Partial<RolloverPolicy> = {}) {
  const policy: RolloverPolicy = {
    domain: 'example.org',
    owners: [MX],
    keyType: 'ec-p256',
    confirmationIntervalHours: 1,
    newKeyEachRenewal: false,
    issuerRecords: false,
    issuerSpkis: [],
    ...over,
  };
  const w = new World(policy, { start: START, servers: 2, addressesPerOwner: 2, ttl: 300 });
  const r = untilIdle(w, null, policy);
  assert.equal(r.state.verified, true, 'bootstrap: verified');
  return { policy, w, state: r.state };
}

/** The key ids that were installed and verified, in order (one per completed rollover). */
function verifiedKeys(w: World, ds: Decision[]): string[] {
  return ds.flatMap((d) =>
    d.events
      .filter((e) => e.kind === 'certificate-verified')
      .map((e) => {
        const id = /Certificate (\S+) is presented/.exec(e.message)?.[1] ?? '';
        return w.certs.get(id)?.keyId ?? `? ${id}`;
      }),
  );
}

test('renew --rotate-key while a same-key renewal waits for its live check: the rotation still happens', () => {
  const { policy, w, state } = bootstrap();
  const [k1, k2] = [state.keys.current!.id, state.keys.next!.id];
  w.advance(DAY);
  // `renew --force`: ordered and installed; the pass ends (killed, or the reload is slow) before
  // the next plan sees the new certificate live
  let s: RolloverState = step(w, state, policy, { request: 'renew' }).state;
  s = step(w, s, policy).state;
  assert.equal(s.intent?.kind, 'install', 'the renewal was installed');
  // then `renew --rotate-key`: its plan absorbs the install and sees it live at once
  const first = step(w, s, policy, { request: 'rotate-key' });
  assert.ok(
    first.decision.events.some((e) => e.kind === 'certificate-verified'),
    'the renewal is verified in the same plan that takes the request',
  );
  const r = untilIdle(w, first.state, policy);
  assert.equal(r.state.keys.current?.id, k2, 'the next key became current (no lost request)');
  assert.notEqual(r.state.keys.current?.id, k1);
  assert.equal(r.state.installed?.keyId, k2);
  assert.equal(r.state.renewal.rotating, false);
});

test('two renew --rotate-key, the second while the first rotation is under way: two rotations', () => {
  const { policy, w, state } = bootstrap();
  const [k1, k2] = [state.keys.current!.id, state.keys.next!.id];
  w.advance(DAY);
  // the first request: the rotation is ordered, then the pass ends before the install
  let s: RolloverState = step(w, state, policy, { request: 'rotate-key' }).state;
  assert.equal(s.intent?.kind, 'orderCertificate');
  // the second request, while the first is in progress (pending certificate of k2)
  s = step(w, s, policy, { request: 'rotate-key' }).state;
  const r = untilIdle(w, s, policy);
  const ks = verifiedKeys(w, r.decisions);
  assert.equal(ks[0], k2, 'the first rotation: to the next key of the time');
  assert.equal(ks.length, 2, `two rotations, one per request: ${ks.join(', ')}`);
  assert.ok(![k1, k2].includes(ks[1]!), `the second: to a key made after the first: ${ks[1]}`);
  assert.equal(r.state.keys.current?.id, ks[1]);
  assert.equal(r.state.renewal.rotating, false);
  assert.equal(r.state.renewal.queuedRotations ?? 0, 0);
  assert.deepEqual(w.violations(), [], 'the invariant held');
  // and the next key is published ahead again (RFC 7671 §8.1)
  assert.ok(r.state.keys.next, 'a next key again');
});

test('renew --rotate-key while the rotation certificate waits for its live check: queued, then carried out', () => {
  const { policy, w, state } = bootstrap();
  const k2 = state.keys.next!.id;
  w.advance(DAY);
  let s: RolloverState = step(w, state, policy, { request: 'rotate-key' }).state; // order
  s = step(w, s, policy).state; // install (k2), not yet seen live by a plan
  assert.equal(s.intent?.kind, 'install');
  const d = step(w, s, policy, { request: 'rotate-key' });
  assert.equal(d.state.keys.current?.id, k2, 'the first rotation completes');
  assert.equal(d.state.renewal.rotating, true, 'and the second starts');
  const r = untilIdle(w, d.state, policy);
  assert.notEqual(r.state.keys.current?.id, k2, 'the second rotation moved off k2');
  assert.equal(r.state.installed?.keyId, r.state.keys.current?.id);
  assert.deepEqual(w.violations(), []);
});

test('each request is in the event log: taken now, or queued behind the rotation in progress', () => {
  const { policy, w, state } = bootstrap();
  w.advance(DAY);
  const a = step(w, state, policy, { request: 'rotate-key' });
  assert.ok(
    a.decision.events.some((e) => e.kind === 'renewal-requested' && /rotat/i.test(e.message)),
    JSON.stringify(a.decision.events),
  );
  const b = step(w, a.state, policy, { request: 'rotate-key' });
  assert.ok(
    b.decision.events.some((e) => e.kind === 'renewal-requested' && /queued/.test(e.message)),
    JSON.stringify(b.decision.events),
  );
  const r = untilIdle(w, b.state, policy);
  const rotated = r.decisions.flatMap((d) => d.events.filter((e) => e.kind === 'key-rotated'));
  assert.equal(rotated.length, 2, JSON.stringify(rotated));
  assert.match(rotated[0]!.message, /example\.org#k2 is now the current key/);
});

test('with --new-key-each-renewal, a rotation asked for during a due renewal (itself a new key) is a second new key', () => {
  const { policy, w, state } = bootstrap({ newKeyEachRenewal: true });
  const k1 = state.keys.current!.id;
  w.advance(61 * DAY);
  // the due renewal starts (new next key), then the request comes in
  let s: RolloverState = step(w, state, policy).state;
  assert.equal(s.renewal.rotating, true);
  s = step(w, s, policy, { request: 'rotate-key' }).state;
  const r = untilIdle(w, s, policy);
  const ks = verifiedKeys(w, r.decisions);
  assert.equal(ks.length, 2, ks.join(', '));
  assert.ok(!ks.includes(k1) && ks[0] !== ks[1]);
});

test('a rotation request is kept through a failed order and the backoff that follows', () => {
  const { policy, w, state } = bootstrap();
  const k2 = state.keys.next!.id;
  w.advance(DAY);
  w.faults.caFails = true;
  // the request's plan orders; the CA fails; the failure is recorded with the request kept
  const s: RolloverState = step(w, state, policy, { request: 'rotate-key' }).state;
  assert.ok(s.failure);
  assert.equal(s.renewal.rotating, true);
  // a plain run in the backoff: waits, keeps the request
  const d = plan(s, w.observe(), w.iso(), policy);
  assert.equal(d.kind, 'wait');
  assert.equal(d.state.renewal.rotating, true);
  w.faults.caFails = false;
  const r = untilIdle(w, JSON.parse(JSON.stringify(d.state)) as RolloverState, policy);
  assert.equal(r.state.keys.current?.id, k2);
});
