import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DkError } from '../core/errors.js';
import type { RolloverState } from '../core/rollover/index.js';
import type { DomainSettings } from '../store/domains.js';
import { memoryState, type StateStore } from '../store/state.js';
import { runPass } from './pass.js';
import { FakeWorld } from './fake-world.js';

const T0 = new Date('2026-03-01T00:00:00.000Z');

function settings(): DomainSettings {
  return {
    name: 'example.org',
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: ['mail.example.org'],
    endpoints: [{ host: 'mail.example.org', port: 25, proto: 'tcp' }],
    dane: true,
    certDir: '/nonexistent/live/example.org',
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

function setup() {
  const store = memoryState();
  store.domains.add(settings(), T0);
  const clock = { t: T0.getTime() };
  const world = new FakeWorld(clock);
  const opts = (over: object = {}) => ({
    store,
    world,
    now: () => new Date(clock.t),
    holder: 'test-pass',
    ...over,
  });
  return { store, clock, world, opts };
}

const stateOf = (store: StateStore) => store.rollover.read('example.org')?.state as RolloverState;

/** Passes 10 s apart until the domain is idle (or n passes). */
async function untilIdle(s: ReturnType<typeof setup>, n = 20) {
  for (let i = 0; i < n; i++) {
    const [r] = await runPass(s.opts());
    if (r!.result === 'idle') return i + 1;
    assert.notEqual(r!.result, 'failed', r!.detail);
    s.clock.t += 10_000;
  }
  assert.fail('never idle');
}

test('passes from a new domain to idle: key, records, wait for confirmation, order, install, verified', async () => {
  const s = setup();
  const [first] = await runPass(s.opts());
  // the first pass cannot finish: the records must be confirmed before an install
  assert.equal(first!.result, 'waiting');
  assert.ok(first!.actions.includes('generateKey'));
  assert.ok(first!.actions.includes('publishRecords'));
  assert.ok(!first!.actions.includes('install'));
  await untilIdle(s);
  const st = stateOf(s.store);
  assert.equal(st.verified, true);
  assert.equal(st.installed?.id, s.world.deployed);
  // the installed key's 3 1 1 record was published before the install
  const installAt = s.world.log.findIndex((a) => a.kind === 'install');
  const key = s.world.keys.find((k) => k.id === st.installed!.keyId)!;
  const pub = s.world.log.findIndex(
    (a) => a.kind === 'publishRecords' && a.add.includes(`3 1 1 ${key.spki}`),
  );
  assert.ok(pub >= 0 && pub < installAt);
  // the lease is released, events are logged
  assert.equal(s.store.rollover.lease('example.org', new Date(s.clock.t)), undefined);
  const kinds = s.store.events.list({ domain: 'example.org' }).map((e) => e.kind);
  assert.ok(kinds.includes('action-install'));
  assert.ok(kinds.includes('certificate-verified'));
});

test('a domain whose lease another pass holds is skipped and left unchanged', async () => {
  const s = setup();
  assert.ok(s.store.rollover.acquireLease('example.org', 'other', 60_000, new Date(s.clock.t)));
  const [r] = await runPass(s.opts());
  assert.equal(r!.result, 'busy');
  assert.match(r!.detail, /other/);
  assert.equal(s.world.log.length, 0);
  assert.equal(s.store.rollover.read('example.org'), undefined);
});

test('a failed action is recorded with a backoff; the next pass before retryAt does not retry', async () => {
  const s = setup();
  s.world.failNext.generateKey = new DkError('tempfail', 'E_TEST_KEY', 'the HSM is\nasleep');
  const [r] = await runPass(s.opts());
  assert.equal(r!.result, 'failed');
  assert.equal(r!.error?.code, 'E_TEST_KEY');
  assert.equal(r!.detail, 'generateKey failed: the HSM is asleep');
  const st = stateOf(s.store);
  assert.equal(st.failure?.code, 'E_TEST_KEY');
  assert.equal(st.failure?.attempts, 1);
  assert.ok(r!.until && Date.parse(r!.until) > s.clock.t);
  s.clock.t += 60_000;
  const [again] = await runPass(s.opts());
  assert.equal(again!.result, 'waiting');
  assert.equal(again!.waitingFor, 'retry');
  assert.equal(s.world.log.length, 1);
  s.clock.t += 10 * 60_000;
  await untilIdle(s);
});

test('the retry-after a CA gives is honoured', async () => {
  const s = setup();
  const e = Object.assign(new DkError('tempfail', 'E_ACME_RATE_LIMITED', 'slow down'), {
    retryAfter: 7200,
  });
  await untilIdle(s);
  s.world.failNext.orderCertificate = e;
  const [r] = await runPass(s.opts({ request: 'renew' }));
  assert.equal(r!.result, 'failed');
  assert.ok(Date.parse(stateOf(s.store).failure!.retryAt) >= s.clock.t + 7200_000);
});

test('the state with the intent is saved before the side effect: a crash mid-install carries on', async () => {
  const s = setup();
  s.world.failNext.install = new Error('SIGKILL');
  let crashed = false;
  for (let i = 0; i < 20 && !crashed; i++) {
    try {
      await runPass(s.opts());
    } catch (e) {
      assert.equal((e as Error).message, 'SIGKILL');
      crashed = true;
    }
    s.clock.t += 10_000;
  }
  assert.ok(crashed);
  const st = stateOf(s.store);
  assert.equal(st.intent?.kind, 'install');
  assert.equal(s.world.deployed, null);
  // the lease of the crashed pass is released by its finally here; a real kill -9 leaves it
  // to expire: simulate that by taking it over after its expiry
  await untilIdle(s);
  assert.equal(stateOf(s.store).verified, true);
});

test('renew --force is handed to the planner once: a new certificate with the same key', async () => {
  const s = setup();
  await untilIdle(s);
  const before = stateOf(s.store).installed!;
  s.clock.t += 60_000;
  const [r] = await runPass(s.opts({ domain: 'example.org', request: 'renew' }));
  assert.ok(r!.actions.includes('orderCertificate'), JSON.stringify(r));
  await untilIdle(s);
  const after = stateOf(s.store).installed!;
  assert.notEqual(after.id, before.id);
  assert.equal(after.keyId, before.keyId);
  // handed over once: another pass orders nothing
  const n = s.world.log.length;
  await runPass(s.opts());
  assert.equal(s.world.log.length, n);
});

test('an unknown domain is a usage error', async () => {
  const s = setup();
  await assert.rejects(runPass(s.opts({ domain: 'nope.example' })), { code: 'E_DOMAIN_UNKNOWN' });
});

test('the lease of a pass that died (kill -9) is taken over at once; a live holder is not', async () => {
  const s = setup();
  assert.ok(s.store.rollover.acquireLease('example.org', 'host:1', 600_000, new Date(s.clock.t)));
  const [alive] = await runPass(s.opts({ holderGone: () => false }));
  assert.equal(alive!.result, 'busy');
  const [r] = await runPass(s.opts({ holderGone: (h: string) => h === 'host:1' }));
  assert.notEqual(r!.result, 'busy');
  assert.ok(r!.actions.includes('generateKey'));
  assert.equal(s.store.rollover.lease('example.org', new Date(s.clock.t)), undefined);
});

test('a domain at rest is not observed: no DNS, no probe, no store write until the re-check', async () => {
  const s = setup();
  await untilIdle(s);
  const seen = s.world.observed;
  const saved = s.store.rollover.read('example.org')!;
  s.clock.t += 1000;
  const [r] = await runPass(s.opts({ recheckMs: 3_600_000 }));
  assert.equal(r!.result, 'idle');
  assert.equal(r!.phase, 'idle');
  assert.equal(r!.until, stateOf(s.store).rest!.until);
  assert.match(r!.detail, /^nothing to do until /);
  assert.equal(s.world.observed, seen);
  assert.deepEqual(s.store.rollover.read('example.org'), saved);
  // still at rest just before the re-check (decided at the last full pass)
  s.clock.t = Date.parse(stateOf(s.store).rest!.recheckAt) - 1;
  await runPass(s.opts({ recheckMs: 3_600_000 }));
  assert.equal(s.world.observed, seen);
});

test('the re-check observes a domain at rest, and a drift (a lost record) is acted on', async () => {
  const s = setup();
  await untilIdle(s);
  const seen = s.world.observed;
  const lost = s.world.published[0]!;
  s.world.published = s.world.published.slice(1);
  // the default re-check is at most the confirmation interval (0.001 h in the fake world)
  s.clock.t += 3_600;
  const [r] = await runPass(s.opts());
  assert.ok(s.world.observed > seen);
  assert.ok(r!.actions.includes('publishRecords'));
  assert.ok(s.world.published.includes(lost));
});

test('a domain whose renewal moment has come is observed (and renewed)', async () => {
  const s = setup();
  await untilIdle(s);
  const st = stateOf(s.store);
  const seen = s.world.observed;
  s.clock.t = Date.parse(st.rest!.until);
  const [r] = await runPass(s.opts({ recheckMs: 365 * 86400_000 }));
  assert.ok(s.world.observed > seen);
  assert.ok(r!.actions.includes('orderCertificate'), JSON.stringify(r));
});

test('renew (a request) and a changed domain are observed even at rest', async () => {
  const s = setup();
  await untilIdle(s);
  let seen = s.world.observed;
  const long = { recheckMs: 365 * 86400_000 };
  s.clock.t += 1000;
  const [r] = await runPass(s.opts({ ...long, domain: 'example.org', request: 'renew' }));
  assert.ok(s.world.observed > seen);
  assert.ok(r!.actions.includes('orderCertificate'));
  await untilIdle(s);
  seen = s.world.observed;
  await runPass(s.opts(long));
  assert.equal(s.world.observed, seen);
  // domain disable-dane / enable-dane and the like change the settings the rest was decided under
  s.store.domains.update('example.org', { issuerRecords: true }, new Date(s.clock.t));
  await runPass(s.opts(long));
  assert.ok(s.world.observed > seen);
});

test('a domain in progress (waiting for confirmation) is observed at every pass', async () => {
  const s = setup();
  const [r] = await runPass(s.opts());
  assert.equal(r!.result, 'waiting');
  const seen = s.world.observed;
  s.clock.t += 100;
  await runPass(s.opts({ recheckMs: 365 * 86400_000 }));
  assert.equal(s.world.observed, seen + 1);
});

test('every full pass sweeps what a killed run left behind (DNS-01 values) before it observes, and logs it', async () => {
  const s = setup();
  s.world.leftovers = ['v-left'];
  const [r] = await runPass(s.opts());
  assert.equal(s.world.swept, 1);
  assert.deepEqual(s.world.leftovers, []);
  assert.notEqual(r!.result, 'failed');
  const ev = s.store.events
    .list({ domain: 'example.org' })
    .find((e) => e.kind === 'leftover-removed');
  assert.equal(ev?.message, 'Removed v-left');
  // a sweep that cannot reach the backend is logged; the rollover goes on
  s.world.sweepError = new DkError('unavailable', 'E_TEST_DNS', 'the server is\ndown');
  s.clock.t += 10_000;
  const [r2] = await runPass(s.opts());
  assert.notEqual(r2!.result, 'failed');
  const failed = s.store.events
    .list({ domain: 'example.org' })
    .find((e) => e.kind === 'leftover-failed');
  assert.equal(
    failed?.message,
    'Could not remove what an earlier run left behind: the server is down',
  );
  // another domain's lease: no sweep
  s.world.sweepError = null;
  const n = s.world.swept;
  assert.ok(s.store.rollover.acquireLease('example.org', 'other', 60_000, new Date(s.clock.t)));
  await runPass(s.opts());
  assert.equal(s.world.swept, n);
});
