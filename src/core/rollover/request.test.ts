/**
 * The product rule for `renew`: a request that was accepted (`renew DOMAIN --rotate-key` exited
 * 0, so its effect on the state was persisted) is carried out exactly once, eventually, whatever
 * the domain was doing when it came in. Found while asking why the soak saw fewer key rotations
 * than it asked for (session 5, task S).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from './plan.js';
import { summarize } from './summary.js';
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

test('renew --rotate-key twice before the rotation is installed (e.g. asked again after a failed attempt): one rotation, said so', () => {
  const { policy, w, state } = bootstrap();
  const [k1, k2] = [state.keys.current!.id, state.keys.next!.id];
  w.advance(DAY);
  // the first request: the rotation is ordered, then the pass ends before the install
  let s: RolloverState = step(w, state, policy, { request: 'rotate-key' }).state;
  assert.equal(s.intent?.kind, 'orderCertificate');
  // the second request, while the first is under way and k1 is still the key in use
  const second = step(w, s, policy, { request: 'rotate-key' });
  assert.ok(
    second.decision.events.some(
      (e) => e.kind === 'renewal-requested' && /that rotation carries it out/.test(e.message),
    ),
    JSON.stringify(second.decision.events),
  );
  s = second.state;
  const r = untilIdle(w, s, policy);
  const ks = verifiedKeys(w, r.decisions);
  assert.deepEqual(ks, [k2], 'one rotation moves off k1, the key in use at both requests');
  assert.notEqual(r.state.keys.current?.id, k1);
  assert.equal(r.state.renewal.rotating, false);
  assert.equal(r.state.renewal.queuedRotations ?? 0, 0);
  assert.deepEqual(w.violations(), [], 'the invariant held');
  // and the next key is published ahead again (RFC 7671 §8.1)
  assert.ok(r.state.keys.next, 'a next key again');
});

test('renew --rotate-key once the rotation certificate is installed (being verified): queued, then carried out; a third request joins the queued one', () => {
  const { policy, w, state } = bootstrap();
  const [k1, k2] = [state.keys.current!.id, state.keys.next!.id];
  w.advance(DAY);
  let s: RolloverState = step(w, state, policy, { request: 'rotate-key' }).state; // order
  s = step(w, s, policy).state; // install (k2), not yet seen live by a plan
  assert.equal(s.intent?.kind, 'install');
  // the live check of k2 fails (an address still presents k1): the request comes meanwhile
  const stuck = w.addresses[MX]![0]!;
  const shows = stuck.presents;
  stuck.presents = stuck.previous ?? null;
  let d = step(w, s, policy, { request: 'rotate-key' });
  assert.equal(d.decision.kind, 'wait');
  assert.equal(d.state.renewal.queuedRotations, 1);
  // status says it, so the person who asked does not ask again
  assert.match(
    summarize(d.decision, w.observe(), policy).next,
    /^Waiting for every endpoint to present .+; then one more key rotation \(renew --rotate-key asked for while this one was being verified\)$/,
  );
  d = step(w, d.state, policy, { request: 'rotate-key' });
  assert.equal(d.state.renewal.queuedRotations, 1, 'asked again while k2 is in use: the same');
  stuck.presents = shows;
  d = step(w, d.state, policy);
  assert.equal(d.state.keys.current?.id, k2, 'the first rotation completes');
  assert.equal(d.state.renewal.rotating, true, 'and the queued one starts');
  const r = untilIdle(w, d.state, policy);
  const k3 = r.state.keys.current?.id;
  assert.ok(k3 && ![k1, k2].includes(k3), `the second rotation moved off k2: ${k3}`);
  assert.equal(r.state.installed?.keyId, k3);
  assert.equal(r.state.renewal.queuedRotations, 0);
  assert.deepEqual(w.violations(), []);
});

test('renew --rotate-key in the plan that sees the rotation certificate live: it completes, and one more starts', () => {
  const { policy, w, state } = bootstrap();
  const k2 = state.keys.next!.id;
  w.advance(DAY);
  let s: RolloverState = step(w, state, policy, { request: 'rotate-key' }).state; // order
  s = step(w, s, policy).state; // install (k2)
  const d = step(w, s, policy, { request: 'rotate-key' });
  assert.equal(d.state.keys.current?.id, k2, 'the first rotation completes');
  assert.equal(d.state.renewal.rotating, true, 'and the second starts');
  const r = untilIdle(w, d.state, policy);
  assert.notEqual(r.state.keys.current?.id, k2, 'the second rotation moved off k2');
  assert.equal(r.state.installed?.keyId, r.state.keys.current?.id);
  assert.deepEqual(w.violations(), []);
});

test('each request is in the event log: started, carried out by the rotation under way, or queued; each finished rotation too', () => {
  const { policy, w, state } = bootstrap();
  w.advance(DAY);
  const said = (d: { decision: Decision }, re: RegExp) =>
    assert.ok(
      d.decision.events.some((e) => e.kind === 'renewal-requested' && re.test(e.message)),
      JSON.stringify(d.decision.events),
    );
  const a = step(w, state, policy, { request: 'rotate-key' }); // order
  said(a, /^Key rotation asked for \(renew --rotate-key\): to the next key example\.org#k2$/);
  const b = step(w, a.state, policy, { request: 'rotate-key' }); // install
  said(b, /under way and not yet installed: that rotation carries it out/);
  const c = step(w, b.state, policy, { request: 'rotate-key' });
  said(c, /is being verified: queued/);
  const r = untilIdle(w, c.state, policy);
  const rotated = [c, ...r.decisions.map((decision) => ({ decision }))].flatMap((d) =>
    d.decision.events.filter((e) => e.kind === 'key-rotated'),
  );
  assert.equal(rotated.length, 2, JSON.stringify(rotated));
  assert.match(
    rotated[0]!.message,
    /^Key rotation done: example\.org#k2 is now the current key \(was example\.org#k1\)$/,
  );
});

test('--force asked twice before the order: one new certificate, said so', () => {
  const { policy, w, state } = bootstrap();
  w.advance(DAY);
  w.faults.caFails = true;
  const a = step(w, state, policy, { request: 'renew' });
  assert.equal(a.state.renewal.requested, 'renew');
  w.faults.caFails = false;
  const b = step(w, a.state, policy, { request: 'renew' });
  assert.ok(
    b.decision.events.some((e) => /one new certificate serves both/.test(e.message)),
    JSON.stringify(b.decision.events),
  );
  const r = untilIdle(w, b.state, policy);
  assert.equal(verifiedKeys(w, r.decisions).length, 1);
  assert.equal(r.state.renewal.requested, null);
});

test('with --new-key-each-renewal, a rotation asked for while a due renewal (itself a new key) is under way: that new key carries it out', () => {
  const { policy, w, state } = bootstrap({ newKeyEachRenewal: true });
  const k1 = state.keys.current!.id;
  w.advance(61 * DAY);
  // the due renewal starts (new next key), then the request comes in
  let s: RolloverState = step(w, state, policy).state;
  assert.equal(s.renewal.rotating, true);
  s = step(w, s, policy, { request: 'rotate-key' }).state;
  const r = untilIdle(w, s, policy);
  const ks = verifiedKeys(w, r.decisions);
  assert.equal(ks.length, 1, ks.join(', '));
  assert.notEqual(ks[0], k1);
  assert.equal(r.state.keys.current?.id, ks[0]);
});

test('a rotation request is kept through a failed order and the backoff that follows', () => {
  const { policy, w, state } = bootstrap();
  const k2 = state.keys.next!.id;
  w.advance(DAY);
  w.faults.caFails = true;
  // the request's plan orders; the CA fails; the failure is recorded with the request kept
  const s: RolloverState = step(w, state, policy, { request: 'rotate-key' }).state;
  assert.ok(s.failure, 'the order failed');
  assert.equal(s.renewal.rotating, true);
  // a plain run in the backoff: waits, keeps the request
  const d = plan(s, w.observe(), w.iso(), policy);
  assert.equal(d.kind, 'wait');
  assert.equal(d.state.renewal.rotating, true);
  w.faults.caFails = false;
  const r = untilIdle(w, JSON.parse(JSON.stringify(d.state)) as RolloverState, policy);
  assert.equal(r.state.keys.current?.id, k2);
});

test('a request from the panel or the API names who asked, not a command they never typed', () => {
  const { policy, w, state } = bootstrap();
  w.advance(DAY);
  const obs = { ...w.observe(0.5, 'renew'), requestedBy: 'alice' };
  const d = plan(state, obs, w.iso(), policy);
  assert.ok(
    d.events.some(
      (e) => e.message === 'Renewal asked for (asked for by alice): a new certificate is ordered',
    ),
    JSON.stringify(d.events),
  );
  const cli = plan(state, { ...w.observe(0.5, 'renew'), requestedBy: 'cli' }, w.iso(), policy);
  assert.ok(
    cli.events.some((e) => /\(renew --force\)/.test(e.message)),
    'the CLI keeps its words',
  );
});
