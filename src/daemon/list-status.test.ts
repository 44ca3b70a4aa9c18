/**
 * The lists' status (panel Domains, GET /v1/domains) comes from the stored state and the last
 * pass's outcome: no observation (DNS query, TLS probe) per row.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DkError } from '../core/errors.js';
import type { DomainSettings } from '../store/domains.js';
import { memoryState } from '../store/state.js';
import { FakeWorld } from './fake-world.js';
import { listStatus } from './list-status.js';
import { runPass } from './pass.js';

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

test('list status: never passed, working, verified at rest, failing; read without observing', async () => {
  const store = memoryState();
  store.domains.add(settings(), T0);
  const clock = { t: T0.getTime() };
  const world = new FakeWorld(clock);
  const d = () => store.domains.get('example.org')!;
  const now = () => new Date(clock.t);
  const fresh = listStatus(store, d(), now());
  assert.deepEqual(
    [fresh.phase, fresh.waitingFor, fresh.certificate, fresh.failure, fresh.source],
    [null, 'pass', null, null, 'stored'],
  );
  // the first pass: records published, waiting for their confirmation (the outcome says so)
  const [first] = await runPass({ store, world, now, holder: 'p' });
  const working = listStatus(store, d(), now(), { outcome: first!, at: now().toISOString() });
  assert.equal(working.phase, first!.phase);
  assert.equal(working.waitingFor, first!.waitingFor);
  assert.equal(working.certificate, null);
  for (let i = 0; i < 20; i++) {
    clock.t += 10_000;
    const [r] = await runPass({ store, world, now, holder: 'p' });
    if (r!.result === 'idle') break;
  }
  const seen = world.observed;
  // without the outcome (after a restart): the state's rest says idle
  const rest = listStatus(store, d(), now());
  assert.equal(rest.phase, 'idle');
  assert.equal(rest.waitingFor, null);
  assert.equal(rest.certificate?.verified, true);
  assert.equal(rest.busy, false);
  assert.equal(world.observed, seen, 'no observation');
  // a renewal that fails: the state's failure, whatever an older outcome said
  const old = { outcome: first!, at: new Date(clock.t - 1).toISOString() };
  world.failNext.orderCertificate = new DkError('unavailable', 'E_TEST_CA', 'The CA is down');
  clock.t += 10_000;
  await runPass({ store, world, now, holder: 'p', domain: 'example.org', request: 'renew' });
  const failing = listStatus(store, d(), now(), old);
  assert.equal(failing.phase, 'backing-off');
  assert.equal(failing.failure?.code, 'E_TEST_CA');
  assert.equal(failing.certificate?.verified, true, 'the installed pair still verified');
  assert.ok(store.rollover.acquireLease('example.org', 'other:1', 60_000, now()));
  assert.equal(listStatus(store, d(), now()).busy, true);
  assert.ok(!JSON.stringify(listStatus(store, d(), now())).includes('other:1'), 'holder not named');
  store.close();
});
