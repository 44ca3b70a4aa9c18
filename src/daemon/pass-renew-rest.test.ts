/**
 * `renew DOMAIN` with no flag (runPass with `domain` and no `request`) looks at a domain even
 * when it rests (rest.ts): a plain pass over a resting domain does not observe it, a renew does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DomainSettings } from '../store/domains.js';
import { memoryState } from '../store/state.js';
import { FakeWorld } from './fake-world.js';
import { runPass } from './pass.js';

const T0 = new Date('2026-03-01T00:00:00.000Z');

const settings: DomainSettings = {
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

test('renew DOMAIN (no flag) observes a domain at rest; a plain pass does not', async () => {
  const store = memoryState();
  store.domains.add(settings, T0);
  const clock = { t: T0.getTime() };
  const world = new FakeWorld(clock);
  const opts = (over: object = {}) => ({
    store,
    world,
    now: () => new Date(clock.t),
    holder: 'test-pass',
    recheckMs: 365 * 86_400_000,
    ...over,
  });
  for (let i = 0; ; i++) {
    const [r] = await runPass(opts());
    if (r!.result === 'idle') break;
    assert.ok(i < 20, 'never idle');
    clock.t += 10_000;
  }
  clock.t += 1000;
  let seen = world.observed;
  const [plain] = await runPass(opts());
  assert.equal(world.observed, seen, 'a plain pass leaves the resting domain alone');
  assert.match(plain!.detail, /^nothing to do until /);
  const [renew] = await runPass(opts({ domain: 'example.org' }));
  assert.ok(world.observed > seen, 'renew DOMAIN looked at it');
  assert.equal(renew!.result, 'idle');
  // and the rest goes on for plain passes after it
  seen = world.observed;
  await runPass(opts());
  assert.equal(world.observed, seen);
});
