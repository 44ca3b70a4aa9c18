import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDkError } from '../errors.js';
import { emptyState, plan, recordFailure } from './plan.js';
import { desiredRecords, eeRecord, taRecord } from './records.js';
import { ariDue, foldAri } from './renewal.js';
import { pass, persist, step, untilIdle } from './testing/drive.js';
import { World } from './testing/world.js';
import type { Action, Decision, RolloverPolicy, RolloverState } from './types.js';

const MX = '_25._tcp.mail.example.org.';
const SUB = '_465._tcp.mail.example.org.';
const START = Date.parse('2026-01-01T00:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const I1 = 'e1'.repeat(32);
const I2 = 'e2'.repeat(32);

function setup(over: Partial<RolloverPolicy> = {}, servers = 2) {
  const policy: RolloverPolicy = {
    domain: 'example.org',
    owners: [MX, SUB],
    keyType: 'ec-p256',
    confirmationIntervalHours: 1,
    newKeyEachRenewal: false,
    issuerRecords: false,
    issuerSpkis: [I1, I2],
    ...over,
  };
  const w = new World(policy, { start: START, servers, addressesPerOwner: 2, ttl: 300 });
  return { policy, w };
}
const acts = (ds: Decision[]): Action[] => ds.flatMap((d) => (d.kind === 'act' ? [d.action] : []));
const ee = (keyId: string) => eeRecord(World.spkiOf(keyId));
const sorted = (a: string[] | undefined) => [...(a ?? [])].sort();

/** Bring a domain to its steady state: certificate installed, verified, records clean. */
function bootstrap(over: Partial<RolloverPolicy> = {}) {
  const { policy, w } = setup(over);
  const r = untilIdle(w, null, policy);
  assert.equal(r.state.verified, true);
  return { policy, w, state: r.state };
}

test('first issuance: keys, both records at every owner, order, wait for every server, then the confirmation, install, verify', () => {
  const { policy, w } = setup();
  let s: RolloverState | null = null;
  const next = (o: Parameters<typeof step>[3] = {}) => {
    const r = step(w, s, policy, o);
    s = r.state;
    return r.decision;
  };
  const a = (d: Decision) => (
    assert.equal(d.kind, 'act', JSON.stringify(d)),
    (d as { action: Action }).action
  );
  assert.deepEqual(a(next()), {
    kind: 'generateKey',
    role: 'current',
    keyId: 'example.org#k1',
    keyType: 'ec-p256',
  });
  assert.deepEqual(a(next()), {
    kind: 'generateKey',
    role: 'next',
    keyId: 'example.org#k2',
    keyType: 'ec-p256',
  });
  // RFC 7671 §8.1: current + next published together, at every endpoint's owner.
  for (const owner of [MX, SUB]) {
    assert.deepEqual(a(next()), {
      kind: 'publishRecords',
      owner,
      add: [ee('example.org#k1'), ee('example.org#k2')],
      remove: [],
    });
  }
  assert.deepEqual(a(next()), {
    kind: 'orderCertificate',
    certId: 'example.org#c3',
    keyId: 'example.org#k1',
  });
  let d = next();
  assert.equal(d.kind, 'wait');
  assert.equal(d.kind === 'wait' && d.waitingFor, 'propagation');
  assert.equal(d.kind === 'wait' && d.until, null);
  assert.equal(d.phase, 'propagating');
  // the primary has it, one secondary lags: still propagating, and the laggard is named
  w.advance(60_000);
  w.sync((i) => i === 0);
  d = next();
  assert.equal(d.kind === 'wait' && d.waitingFor, 'propagation');
  assert.match(d.kind === 'wait' ? d.detail : '', /ns2\.example\.net/);
  assert.doesNotMatch(d.kind === 'wait' ? d.detail : '', /ns1\.example\.net/);
  w.advance(60_000);
  w.sync();
  const seen = w.now;
  d = next();
  assert.equal(d.kind === 'wait' && d.waitingFor, 'confirmation');
  assert.equal(d.phase, 'confirming');
  assert.equal(d.kind === 'wait' && d.until, new Date(seen + HOUR).toISOString());
  w.advance(HOUR - 1);
  assert.equal(next().kind, 'wait', 'one millisecond early is too early');
  w.advance(1);
  assert.deepEqual(a(next()), { kind: 'install', certId: 'example.org#c3' });
  d = next();
  assert.equal(d.kind, 'idle');
  assert.ok(d.events.some((e) => e.kind === 'certificate-verified'));
  const st = s as unknown as RolloverState;
  assert.equal(st.installed?.id, 'example.org#c3');
  // a third of 90 days left: renew 30 days before notAfter (the certificate dates from its order)
  assert.equal(d.kind === 'idle' && d.until, new Date(START + 60 * DAY).toISOString());
});

test('the wait is max(interval, 2 x TTL): a long TTL outlasts a short interval', () => {
  const { policy, w } = setup({ confirmationIntervalHours: 0.01 });
  let s: RolloverState | null = null;
  for (let i = 0; i < 5; i++) s = step(w, s, policy).state;
  w.sync();
  const seen = w.now;
  const d = step(w, s, policy).decision;
  assert.equal(d.kind === 'wait' && d.until, new Date(seen + 600_000).toISOString());
});

test('nothing is installed until the key is confirmed at EVERY owner', () => {
  const { policy, w } = setup();
  let s: RolloverState | null = null;
  for (let i = 0; i < 5; i++) s = step(w, s, policy).state;
  // the 465 owner is served by one server only (its copy on ns2 lost the record)
  w.sync();
  w.servers[1]!.zone[SUB] = [];
  w.updateTruth();
  w.advance(2 * DAY);
  let d = step(w, s, policy).decision;
  s = persist(d.state);
  assert.equal(d.kind === 'wait' && d.waitingFor, 'propagation');
  assert.match(d.kind === 'wait' ? d.detail : '', /_465\._tcp.*ns2/);
  w.sync();
  d = step(w, s, policy).decision;
  assert.equal(d.kind === 'wait' && d.waitingFor, 'confirmation', 'the clock restarts for 465');
});

test('an ordinary renewal (same key) changes no record and does not wait', () => {
  const { policy, w, state } = bootstrap();
  const published = sorted(w.primary[MX]);
  w.advance(61 * DAY);
  const r = pass(w, state, policy);
  assert.deepEqual(
    acts(r.decisions).map((a) => a.kind),
    ['orderCertificate', 'install'],
  );
  const order = acts(r.decisions)[0]!;
  assert.equal(order.kind === 'orderCertificate' && order.keyId, state.keys.current?.id);
  // RFC 9773 §5: the renewal names the certificate it replaces
  assert.equal(order.kind === 'orderCertificate' && order.replaces, state.installed?.ariCertId);
  assert.equal(r.decisions.at(-1)?.kind, 'idle');
  assert.deepEqual(sorted(w.primary[MX]), published);
});

test('renew --force orders now with the same key', () => {
  const { policy, w, state } = bootstrap();
  w.advance(DAY);
  const r = pass(w, state, policy, { request: 'renew' });
  assert.deepEqual(
    acts(r.decisions).map((a) => a.kind),
    ['orderCertificate', 'install'],
  );
  assert.equal(r.state.renewal.requested, null);
  assert.equal(pass(w, r.state, policy).decisions.at(-1)?.kind, 'idle');
});

test('key rotation: the next key (confirmed long ago) goes live at once, then a new next key, then the old record goes', () => {
  const { policy, w, state } = bootstrap();
  const [k1, k2] = [state.keys.current!.id, state.keys.next!.id];
  w.advance(10 * DAY);
  const r = untilIdle(w, state, policy, { request: 'rotate-key' });
  const a = acts(r.decisions);
  assert.deepEqual(
    a.map((x) =>
      x.kind === 'publishRecords' ? `${x.kind}:${x.add.length ? 'add' : 'remove'}` : x.kind,
    ),
    [
      'orderCertificate',
      'install',
      'generateKey',
      'publishRecords:add',
      'publishRecords:add',
      'publishRecords:remove',
      'publishRecords:remove',
    ],
  );
  assert.equal(a[0]!.kind === 'orderCertificate' && a[0]!.keyId, k2);
  assert.equal(r.state.keys.current?.id, k2);
  const k3 = r.state.keys.next!.id;
  for (const o of [MX, SUB]) assert.deepEqual(sorted(w.primary[o]), sorted([ee(k2), ee(k3)]));
  // the old record was removed only after the new chain was seen at every address
  const removeAt = r.decisions.findIndex(
    (d) =>
      d.kind === 'act' && d.action.kind === 'publishRecords' && d.action.remove.includes(ee(k1)),
  );
  const verifiedAt = r.decisions.findIndex((d) =>
    d.events.some((e) => e.kind === 'certificate-verified'),
  );
  assert.ok(verifiedAt >= 0 && verifiedAt < removeAt);
});

test('a stale record that a presented chain still matches is not removed', () => {
  const { policy, w, state } = bootstrap();
  const k1 = state.keys.current!.id;
  const oldCert = state.installed!.id;
  w.advance(DAY);
  let r = pass(w, state, policy, { request: 'rotate-key', max: 2 }); // order, install
  assert.deepEqual(
    acts(r.decisions).map((a) => a.kind),
    ['orderCertificate', 'install'],
  );
  // verified; then a service outside danekeeper's reload comes back with the old files
  r = pass(w, r.state, policy, { max: 1 });
  w.addresses[MX]![1]!.presents = oldCert;
  r = pass(w, r.state, policy);
  assert.ok(w.primary[MX]!.includes(ee(k1)), 'kept at 25: an address still presents it');
  assert.ok(!w.primary[SUB]!.includes(ee(k1)), 'removed at 465: nothing presents it');
});

test('removal waits while an address cannot be probed', () => {
  const { policy, w, state } = bootstrap();
  const k1 = state.keys.current!.id;
  w.advance(DAY);
  let r = pass(w, state, policy, { request: 'rotate-key', max: 3 });
  w.addresses[MX]![0]!.unreachable = true;
  r = pass(w, r.state, policy);
  const last = r.decisions.at(-1)!;
  assert.equal(last.kind === 'wait' && last.waitingFor, 'live-verification');
  assert.ok(w.primary[MX]!.includes(ee(k1)));
  w.addresses[MX]![0]!.unreachable = false;
  r = pass(w, r.state, policy);
  assert.ok(!w.primary[MX]!.includes(ee(k1)));
});

test('new key each renewal (the seed panel): publish next to the old, wait, install, verify, remove the old', () => {
  const { policy, w, state } = bootstrap({ newKeyEachRenewal: true });
  const k1 = state.keys.current!.id;
  assert.equal(state.keys.next, null, 'no next key is kept in this mode');
  for (const o of [MX, SUB]) assert.deepEqual(w.primary[o], [ee(k1)]);
  w.advance(61 * DAY);
  const r = untilIdle(w, state, policy);
  const kinds = r.decisions.map((d) =>
    d.kind === 'act' ? d.action.kind : `${d.kind}:${d.kind === 'wait' ? d.waitingFor : ''}`,
  );
  assert.deepEqual(kinds, [
    'generateKey',
    'publishRecords',
    'publishRecords',
    'orderCertificate',
    'wait:propagation',
    'wait:confirmation',
    'install',
    'publishRecords',
    'publishRecords',
    'idle:',
  ]);
  const k2 = r.state.keys.current!.id;
  assert.notEqual(k2, k1);
  for (const o of [MX, SUB]) assert.deepEqual(w.primary[o], [ee(k2)]);
});

test('issuer records: 2 1 1 of every issuer in the set, never one alone; with them a new key needs no wait', () => {
  const { policy, w, state } = bootstrap({ issuerRecords: true, newKeyEachRenewal: true });
  const want = sorted([ee(state.keys.current!.id), taRecord(I1), taRecord(I2)]);
  for (const o of [MX, SUB]) assert.deepEqual(sorted(w.primary[o]), want);
  // the CA moves to an issuer not in the set: it joins the set, next to the others
  w.issuer = 'e3'.repeat(32);
  w.advance(61 * DAY);
  const r = untilIdle(w, state, policy);
  const kinds = acts(r.decisions).map((a) => a.kind);
  assert.ok(kinds.includes('install'));
  // the renewal's certificate chains to a confirmed 2 1 1 only after the new issuer's record is
  // confirmed; its own 3 1 1 is new too: a confirmation wait happened
  assert.ok(r.decisions.some((d) => d.kind === 'wait' && d.waitingFor === 'confirmation'));
  const st = r.state;
  assert.deepEqual(
    sorted(desiredRecords(st, policy)),
    sorted([ee(st.keys.current!.id), taRecord(I1), taRecord(I2), taRecord('e3'.repeat(32))]),
  );
  // and with the issuer unchanged, the next renewal's new key is installed without waiting: its
  // certificate matches the confirmed 2 1 1 records (RFC 7671 §5.2)
  w.advance(61 * DAY);
  const r2 = untilIdle(w, st, policy);
  assert.ok(!r2.decisions.some((d) => d.kind === 'wait' && d.waitingFor === 'confirmation'));
  assert.ok(acts(r2.decisions).some((a) => a.kind === 'install'));
});

test('ARI (RFC 9773 §4.2, §4.3): a random moment in the window, kept; Retry-After; a past window means now', () => {
  const base = emptyState().renewal;
  const now = START;
  const win = {
    start: new Date(now + 10 * DAY).toISOString(),
    end: new Date(now + 12 * DAY).toISOString(),
  };
  const obs = (random: number, retryAfter?: string) => ({
    dns: {},
    live: {},
    keys: [],
    certificates: [],
    deployed: null,
    random,
    ari: { ...win, ...(retryAfter ? { retryAfter } : {}) },
  });
  const rows: [random: number, moment: number][] = [
    [0, now + 10 * DAY],
    [0.5, now + 11 * DAY],
    [0.999999, now + 10 * DAY + 0.999999 * 2 * DAY],
  ];
  for (const [random, moment] of rows) {
    assert.equal(foldAri(base, obs(random), now).ariMoment, new Date(moment).toISOString());
  }
  const a = foldAri(base, obs(0.25), now);
  // the same window again: the moment is kept whatever the new random number
  assert.equal(foldAri(a, obs(0.9), now + HOUR).ariMoment, a.ariMoment);
  // Retry-After in the future is honoured; without it, 6 hours
  assert.equal(a.nextAriCheck, new Date(now + 6 * HOUR).toISOString());
  const ra = new Date(now + 2 * HOUR).toISOString();
  assert.equal(foldAri(base, obs(0.5, ra), now).nextAriCheck, ra);
  // a window already over: renew now
  const past = {
    ...obs(0.5),
    ari: { start: new Date(now - 2 * DAY).toISOString(), end: new Date(now - DAY).toISOString() },
  };
  assert.equal(foldAri(base, past, now).ariMoment, new Date(now).toISOString());
});

test('ARI through plan: idle until the earlier of the moment and the next renewalInfo check; due at the moment', () => {
  const { policy, w, state } = bootstrap();
  const o = w.observe(0.5);
  const win = {
    start: new Date(w.now + 20 * DAY).toISOString(),
    end: new Date(w.now + 22 * DAY).toISOString(),
  };
  let d = plan(
    state,
    { ...o, ari: { ...win, retryAfter: new Date(w.now + 3 * HOUR).toISOString() } },
    w.iso(),
    policy,
  );
  assert.equal(d.kind === 'idle' && d.until, new Date(w.now + 3 * HOUR).toISOString());
  const s = persist(d.state);
  w.advance(21 * DAY);
  d = plan(s, w.observe(0.1), w.iso(), policy);
  assert.equal(d.kind === 'act' && d.action.kind, 'orderCertificate');
});

test('live verification fails: after the grace the previous pair is put back, the reason kept, and a retry after the backoff', () => {
  const { policy, w, state } = bootstrap();
  const oldCert = state.installed!.id;
  w.advance(61 * DAY);
  w.addresses[SUB]![1]!.stuck = true; // its reload does not take
  let r = pass(w, state, policy);
  let last = r.decisions.at(-1)!;
  assert.equal(r.state.failure?.step, 'install', 'the reload failure is recorded');
  // during the grace: wait, nothing rolled back yet
  r = pass(w, r.state, policy);
  last = r.decisions.at(-1)!;
  assert.equal(last.kind === 'wait' && last.waitingFor, 'live-verification');
  w.advance(61_000);
  r = pass(w, r.state, policy);
  const rb = acts(r.decisions).find((a) => a.kind === 'rollback');
  assert.equal(rb?.kind === 'rollback' && rb.certId, oldCert);
  assert.match(
    rb?.kind === 'rollback' ? rb.reason : '',
    /465 192\.0\.2\.2 still presents the previous certificate \(after: The reload command failed\)/,
  );
  // the pass stops at the failure; the next one sees the old pair back and backs off
  r = pass(w, r.state, policy);
  assert.equal(r.state.installed?.id, oldCert);
  assert.ok(r.decisions[0]!.events.some((e) => e.kind === 'rolled-back'));
  assert.equal(r.state.failure?.code, 'E_ROLLOVER_VERIFY');
  last = r.decisions.at(-1)!;
  assert.equal(last.kind === 'wait' && last.waitingFor, 'retry');
  assert.equal(last.phase, 'backing-off');
  assert.match(
    last.kind === 'wait' ? last.detail : '',
    /previous pair is put back; next attempt at/,
  );
  // fixed: after the backoff the same certificate is installed again and verified
  w.addresses[SUB]![1]!.stuck = false;
  w.advance(Date.parse(r.state.failure!.retryAt) - w.now);
  r = untilIdle(w, r.state, policy);
  assert.notEqual(r.state.installed?.id, oldCert);
  assert.equal(r.state.failure, null);
});

test("failures back off exponentially, capped, never before the server's Retry-After", () => {
  const { policy } = setup({ backoffBaseSeconds: 60, backoffMaxSeconds: 600 });
  let s: RolloverState = {
    ...emptyState(),
    intent: { kind: 'orderCertificate', certId: 'c', keyId: 'k', at: '2026-01-01T00:00:00.000Z' },
  };
  const now = '2026-01-01T00:00:00.000Z';
  const rows = [60, 120, 240, 480, 600, 600];
  for (const [i, secs] of rows.entries()) {
    s = recordFailure(s, { code: 'E_ACME_RATE_LIMIT', message: 'Rate limited' }, now, policy);
    assert.equal(s.failure?.attempts, i + 1);
    assert.equal(s.failure?.retryAt, new Date(START + secs * 1000).toISOString());
  }
  const ra = new Date(START + 7200_000).toISOString();
  s = recordFailure(s, { code: 'E_ACME_RATE_LIMIT', message: 'x', retryAfter: ra }, now, policy);
  assert.equal(s.failure?.retryAt, ra);
  assert.throws(
    () => recordFailure(emptyState(), { code: 'E', message: 'm' }, now, policy),
    (e) => isDkError(e) && e.code === 'E_ROLLOVER_NO_INTENT',
  );
});

test('a CA that fails: the invariant holds, the reason is kept, the same order id is tried after the backoff', () => {
  const { policy, w, state } = bootstrap();
  w.advance(61 * DAY);
  w.faults.caFails = true;
  let r = pass(w, state, policy);
  const order = acts(r.decisions)[0]!;
  assert.equal(r.state.failure?.code, 'E_ACME_RATE_LIMIT');
  r = pass(w, r.state, policy);
  assert.equal(
    r.decisions.at(-1)?.kind === 'wait' &&
      (r.decisions.at(-1) as { waitingFor: string }).waitingFor,
    'retry',
  );
  w.faults.caFails = false;
  w.advance(Date.parse(r.state.failure!.retryAt) - w.now);
  r = pass(w, r.state, policy);
  assert.deepEqual(acts(r.decisions)[0], order);
  assert.equal(r.state.failure, null);
  assert.deepEqual(w.violations(), []);
});

test('renew DOMAIN (retry) ends the backoff: the failed order is tried now, with the same id; not due, nothing is renewed', () => {
  const { policy, w, state } = bootstrap();
  // not due: a plain renew is a pass now, nothing more
  let r = pass(w, state, policy, { request: 'retry' });
  assert.deepEqual(acts(r.decisions), []);
  assert.equal(r.decisions.at(-1)?.kind, 'idle');
  assert.equal(r.state.renewal.requested, null);
  w.advance(61 * DAY);
  w.faults.caFails = true;
  r = pass(w, r.state, policy);
  const order = acts(r.decisions)[0]!;
  const retryAt = r.state.failure!.retryAt;
  w.advance(1000);
  r = pass(w, r.state, policy);
  const waiting = r.decisions.at(-1)!;
  assert.equal(waiting.kind === 'wait' && waiting.waitingFor, 'retry');
  assert.deepEqual(acts(r.decisions), []);
  // the cause fixed, well before retryAt: a request tries now
  w.faults.caFails = false;
  assert.ok(Date.parse(retryAt) > w.now + 60_000);
  r = pass(w, r.state, policy, { request: 'retry' });
  assert.deepEqual(acts(r.decisions)[0], order);
  assert.equal(r.state.failure, null);
  assert.equal(r.decisions.at(-1)?.kind, 'idle');
  assert.deepEqual(w.violations(), []);
});

test('a request during the backoff that fails again counts as the next attempt and backs off longer', () => {
  const { policy, w, state } = bootstrap();
  w.advance(61 * DAY);
  w.faults.caFails = true;
  let r = pass(w, state, policy);
  assert.equal(r.state.failure?.attempts, 1);
  w.advance(1000);
  r = pass(w, r.state, policy, { request: 'renew' });
  assert.equal(acts(r.decisions)[0]?.kind, 'orderCertificate');
  assert.equal(r.state.failure?.attempts, 2);
  assert.ok(Date.parse(r.state.failure!.retryAt) > w.now);
  assert.deepEqual(w.violations(), []);
});

test('a record the backend lost before we removed it is published again', () => {
  const { policy, w, state } = bootstrap();
  const k2 = state.keys.next!.id;
  w.primary[MX] = w.primary[MX]!.filter((r) => r !== ee(k2));
  const r = pass(w, state, policy);
  const a = acts(r.decisions)[0]!;
  assert.deepEqual(a, { kind: 'publishRecords', owner: MX, add: [ee(k2)], remove: [] });
  assert.ok(r.decisions[0]!.events.some((e) => e.kind === 'republished'));
});

test('an unreadable DNS backend: nothing removed, nothing published, the pass says so', () => {
  const { policy, w, state } = bootstrap();
  w.backendDown = true;
  const r = pass(w, state, policy);
  const last = r.decisions.at(-1)!;
  assert.equal(last.kind === 'wait' && last.waitingFor, 'backend');
  assert.deepEqual(acts(r.decisions), []);
});

test('a backend unreadable from the start: the planner waits for the backend, quoting its reason, not for servers to serve what it could not publish', () => {
  const { policy, w } = setup();
  w.backendDown = true;
  const r = pass(w, null, policy, { max: 10 });
  const last = r.decisions.at(-1)!;
  assert.equal(last.kind === 'wait' && last.waitingFor, 'backend', JSON.stringify(last));
  assert.equal(last.phase, 'publishing');
  assert.match(
    last.kind === 'wait' ? last.detail : '',
    /^Cannot read the records at _25\._tcp\.mail\.example\.org\., _465\._tcp\.mail\.example\.org\. \(no answer from 192\.0\.2\.53:53 \(timed out\)\) from the DNS backend/,
  );
  assert.ok(!acts(r.decisions).some((a) => a.kind === 'publishRecords' || a.kind === 'install'));
  // once it answers, the rollover goes on from there
  w.backendDown = false;
  const done = untilIdle(w, r.state, policy);
  assert.equal(done.state.verified, true);
  assert.deepEqual(w.violations(), []);
});

test('an unreadable backend does not stop what needs no publishing: a confirmed record is installed, then the wait is for the backend', () => {
  const { policy, w, state } = bootstrap();
  w.advance(61 * DAY);
  w.backendDown = true;
  const r = pass(w, state, policy);
  assert.deepEqual(
    acts(r.decisions).map((a) => a.kind),
    ['orderCertificate', 'install'],
  );
  assert.equal(r.state.verified, true);
  const last = r.decisions.at(-1)!;
  assert.equal(last.kind === 'wait' && last.waitingFor, 'backend');
  assert.deepEqual(w.violations(), []);
});

test('--cert-dir changed behind our back: the verified pair is put back', () => {
  const { policy, w, state } = bootstrap();
  w.deployed = null;
  const r = pass(w, state, policy);
  assert.deepEqual(acts(r.decisions)[0], { kind: 'install', certId: state.installed!.id });
  assert.equal(r.decisions.at(-1)?.kind, 'idle');
  // put back with a reload that fails: never "rolled back" to the files from before danekeeper
  w.deployed = null;
  w.addresses[MX]![0]!.presents = null;
  w.addresses[MX]![0]!.stuck = true;
  let s = pass(w, r.state, policy).state;
  w.advance(DAY);
  const r2 = pass(w, s, policy);
  s = r2.state;
  assert.ok(!acts(r2.decisions).some((a) => a.kind === 'rollback'));
  assert.equal(s.verified, true);
  assert.equal(w.deployed, state.installed!.id);
});

test('plan is pure: the input state is not changed, the output survives JSON, a bad state or time is refused', () => {
  const { policy, w, state } = bootstrap();
  const before = JSON.stringify(state);
  w.advance(61 * DAY);
  const d = plan(state, w.observe(), w.iso(), policy);
  assert.equal(JSON.stringify(state), before);
  assert.deepEqual(persist(d.state), d.state);
  assert.deepEqual(plan(state, w.observe(), w.iso(), policy), d, 'same inputs, same decision');
  assert.throws(
    () => plan({ ...state, version: 2 as 1 }, w.observe(), w.iso(), policy),
    (e) => isDkError(e) && e.code === 'E_ROLLOVER_STATE' && e.kind === 'data',
  );
  assert.throws(
    () => plan(state, w.observe(), 'yesterday', policy),
    (e) => isDkError(e) && e.code === 'E_ROLLOVER_TIME',
  );
});

test('no private key material: the state holds key ids and SPKI digests only', () => {
  const { state } = bootstrap({ issuerRecords: true });
  const json = JSON.stringify(state);
  assert.doesNotMatch(json, /PRIVATE|BEGIN/);
  assert.deepEqual(Object.keys(state.keys.current!).sort(), ['id', 'keyType', 'spki']);
});

test('a rotation whose certificate fails live verification keeps the old key current and its record', () => {
  const { policy, w, state } = bootstrap();
  const [k1, k2] = [state.keys.current!.id, state.keys.next!.id];
  const before = sorted(w.primary[MX]);
  w.advance(DAY);
  w.addresses[MX]![0]!.stuck = true;
  let r = pass(w, state, policy, { request: 'rotate-key' });
  // the new key becomes current only once it is live everywhere: not yet
  assert.equal(r.state.keys.current?.id, k1);
  assert.equal(r.state.keys.next?.id, k2);
  w.advance(61_000);
  r = pass(w, r.state, policy);
  r = pass(w, r.state, policy);
  assert.equal(r.state.keys.current?.id, k1);
  assert.equal(r.state.keys.next?.id, k2);
  assert.ok(!acts(r.decisions).some((a) => a.kind === 'generateKey'));
  assert.deepEqual(sorted(w.primary[MX]), before);
  assert.deepEqual(w.violations(), []);
});

test('ariDue: ask renewalInfo for a verified certificate, not before the Retry-After', () => {
  const { policy, w, state } = bootstrap();
  assert.equal(ariDue(state, w.iso()), true);
  const win = {
    start: new Date(w.now + 20 * DAY).toISOString(),
    end: new Date(w.now + 22 * DAY).toISOString(),
  };
  const d = plan(
    state,
    { ...w.observe(), ari: { ...win, retryAfter: new Date(w.now + HOUR).toISOString() } },
    w.iso(),
    policy,
  );
  assert.equal(ariDue(d.state, w.iso()), false);
  assert.equal(ariDue(d.state, new Date(w.now + HOUR).toISOString()), true);
  assert.equal(ariDue(emptyState(), w.iso()), false);
});

test('DANE off (no endpoint owners): no record, no wait, the certificate is installed and verified', () => {
  const { policy, w } = setup({ owners: [] });
  const r = untilIdle(w, null, policy);
  assert.deepEqual(
    acts(r.decisions).map((a) => a.kind),
    ['generateKey', 'generateKey', 'orderCertificate', 'install'],
  );
  assert.equal(r.state.verified, true);
});

test('a failure overtaken by events is dropped once the domain is at rest', () => {
  const { policy, w, state } = bootstrap();
  // a key generation that failed, for a role that is filled by now: nothing left to retry
  const s: RolloverState = {
    ...state,
    intent: {
      kind: 'generateKey',
      role: 'next',
      keyId: 'example.org#k99',
      keyType: 'ec-p256',
      at: w.iso(),
    },
  };
  const f = recordFailure(s, { code: 'E_STORE_WRITE', message: 'Store locked' }, w.iso(), policy);
  w.advance(DAY);
  const d = plan(f, w.observe(), w.iso(), policy);
  assert.equal(d.kind, 'idle');
  assert.equal(d.state.failure, null);
  assert.equal(d.state.intent, null);
});

test('a reload that keeps failing backs off longer each round (install and live check count as one step)', () => {
  const { policy, w, state } = bootstrap();
  w.advance(DAY);
  w.addresses[SUB]![1]!.stuck = true;
  let s = pass(w, state, policy, { request: 'rotate-key' }).state;
  const waits: number[] = [];
  for (let round = 0; round < 4; round++) {
    // grace, rollback, backoff, install again
    for (let i = 0; i < 6; i++) {
      const r = pass(w, s, policy);
      s = r.state;
      const last = r.decisions.at(-1)!;
      if (last.kind === 'wait' && last.waitingFor === 'retry') {
        waits.push(Date.parse(s.failure!.retryAt) - Date.parse(s.failure!.at));
        w.advance(Date.parse(last.until!) - w.now);
        break;
      }
      w.advance(61_000);
    }
  }
  assert.deepEqual(waits, [300_000, 600_000, 1_200_000, 2_400_000]);
  assert.deepEqual(w.violations(), []);
});
