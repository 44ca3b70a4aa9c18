/**
 * `renew --rotate-key` and `kill -9` (docs/rollover.md "The keep-secured pass"): the request is
 * the planner's to remember from the first save of the pass on, before any side effect. A pass
 * killed after that save leaves the rotation in the state, and a plain `run` carries it out; one
 * that dies before it (here: the observation fails) took nothing and says so by its outcome.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DkError } from '../core/errors.js';
import type { RolloverState } from '../core/rollover/index.js';
import { memoryState } from '../store/state.js';
import { FakeWorld } from './fake-world.js';
import { runPass } from './pass.js';

const T0 = new Date('2026-03-01T00:00:00.000Z');

function setup() {
  const store = memoryState();
  store.domains.add(
    {
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
    },
    T0,
  );
  const clock = { t: T0.getTime() };
  const world = new FakeWorld(clock);
  const opts = (over: object = {}) => ({
    store,
    world,
    now: () => new Date(clock.t),
    holder: 'test-pass',
    ...over,
  });
  const state = () => store.rollover.read('example.org')?.state as RolloverState;
  return { store, clock, world, opts, state };
}

async function idle(s: ReturnType<typeof setup>) {
  for (let i = 0; i < 20; i++) {
    const [r] = await runPass(s.opts());
    if (r!.result === 'idle') return;
    s.clock.t += 10_000;
  }
  assert.fail('never idle');
}

test('renew --rotate-key killed during its first action: the rotation is in the state, and the next run carries it out', async () => {
  const s = setup();
  await idle(s);
  const [k1, k2] = [s.state().keys.current!.id, s.state().keys.next!.id];
  s.clock.t += 60_000;
  // the process dies while ordering (not a DkError: nothing is recorded by the pass itself)
  s.world.failNext.orderCertificate = new Error('SIGKILL');
  await assert.rejects(
    runPass(s.opts({ domain: 'example.org', request: 'rotate-key' })),
    /SIGKILL/,
  );
  const kept = s.state();
  assert.equal(kept.renewal.rotating, true, 'the request was saved before the order ran');
  assert.equal(kept.intent?.kind === 'orderCertificate' && kept.intent.keyId, k2);
  assert.ok(
    s.store.events
      .list({ domain: 'example.org' })
      .some((e) => e.kind === 'renewal-requested' && /to the next key/.test(e.message)),
    'the request is in the event log',
  );
  // a plain run, no request: the rotation is carried out
  s.clock.t += 10_000;
  await idle(s);
  assert.equal(s.state().keys.current?.id, k2);
  assert.notEqual(s.state().installed?.keyId, k1);
  const rotated = s.store.events
    .list({ domain: 'example.org' })
    .filter((e) => e.kind === 'key-rotated');
  assert.equal(rotated.length, 1, JSON.stringify(rotated));
  assert.match(rotated[0]!.message, new RegExp(`${k2} is now the current key`));
});

test('renew --rotate-key whose pass fails before its first save took nothing: the outcome is failed, the state unchanged', async () => {
  const s = setup();
  await idle(s);
  const before = s.store.rollover.read('example.org')!.stateVersion;
  const observe = s.world.observe.bind(s.world);
  s.world.observe = () =>
    Promise.reject(new DkError('unavailable', 'E_DNS_TIMEOUT', 'No answer from the resolver'));
  const [r] = await runPass(s.opts({ domain: 'example.org', request: 'rotate-key' }));
  assert.equal(r!.result, 'failed', 'renew exits non-zero (run.ts: failed is trouble)');
  assert.equal(s.store.rollover.read('example.org')!.stateVersion, before, 'nothing saved');
  assert.equal(s.state().renewal.rotating, false);
  s.world.observe = observe;
});
