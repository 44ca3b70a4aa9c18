/**
 * Renew requests survive a restart (issue 10: "a crash or kill -9 loses nothing"): the API's,
 * the panel's and a busy `renew`'s requests are rows in renew_requests (migration 9) until a
 * pass has saved the state that carries them, in the same transaction, so each request that
 * answered 200 is carried out exactly once.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { tempDir } from '../../test/support/pki.js';
import type { RolloverState } from '../core/rollover/index.js';
import type { DomainSettings } from '../store/domains.js';
import { memoryState, openState } from '../store/state.js';
import { startDaemon } from './daemon.js';
import { FakeWorld } from './fake-world.js';
import { runPass } from './pass.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

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

test('store: one row per domain, the stronger request stands; take removes only the asking it took', () => {
  const s = memoryState();
  const a = s.requests.ask('Example.ORG.', 'renew', 'alice', T0);
  assert.deepEqual(a, {
    domain: 'example.org',
    request: 'renew',
    askedAt: T0.toISOString(),
    askedBy: 'alice',
  });
  const b = s.requests.ask('example.org', 'rotate-key', 'bob', new Date(T0.getTime() + 1000));
  assert.equal(b.request, 'rotate-key');
  // renew after rotate-key leaves the rotation asked (it renews too)
  const c = s.requests.ask('example.org', 'renew', 'cli', new Date(T0.getTime() + 2000));
  assert.equal(c.request, 'rotate-key');
  assert.equal(c.askedBy, 'cli');
  // a pass that took an earlier asking leaves the later one for the next pass
  assert.equal(s.requests.take(a), false);
  assert.equal(s.requests.take(b), false);
  assert.deepEqual(s.requests.list(), [c]);
  assert.equal(s.requests.take(c), true);
  assert.deepEqual(s.requests.list(), []);
  s.requests.ask('example.org', 'renew', 'alice', T0);
  s.requests.drop('example.org');
  assert.deepEqual(s.requests.list(), []);
  s.close();
});

async function idle(store: ReturnType<typeof memoryState>, world: FakeWorld, clock: { t: number }) {
  for (let i = 0; i < 20; i++) {
    const [r] = await runPass({ store, world, now: () => new Date(clock.t), holder: 'p' });
    if (r!.result === 'idle') return;
    clock.t += 10_000;
  }
  assert.fail('never idle');
}

test('pass: the row goes in the transaction that saves the state carrying the request; a crash before that commit leaves both as they were', async () => {
  const store = memoryState();
  store.domains.add(settings(), T0);
  const clock = { t: T0.getTime() };
  const world = new FakeWorld(clock);
  await idle(store, world, clock);
  const row = store.requests.ask('example.org', 'rotate-key', 'alice', new Date(clock.t));
  const before = store.rollover.read('example.org')!;
  // a kill -9 between the save and the removal: modelled as a failure inside the transaction
  await assert.rejects(
    runPass({
      store,
      world,
      now: () => new Date(clock.t),
      holder: 'p',
      domain: 'example.org',
      request: 'rotate-key',
      taken: () => {
        throw new Error('killed');
      },
    }),
    /killed/,
  );
  assert.equal(store.rollover.read('example.org')!.stateVersion, before.stateVersion);
  assert.deepEqual(store.requests.list(), [row], 'the request is still asked');
  store.rollover.releaseLease('example.org', 'p');
  // the next pass takes it: state and row change together
  const [r] = await runPass({
    store,
    world,
    now: () => new Date(clock.t),
    holder: 'p',
    domain: 'example.org',
    request: 'rotate-key',
    taken: () => void store.requests.take(row),
  });
  assert.notEqual(r!.result, 'failed', r!.detail);
  assert.deepEqual(store.requests.list(), []);
  const st = store.rollover.read('example.org')!.state as RolloverState;
  assert.ok(
    st.renewal.requested === 'rotate-key' || r!.actions.length > 0,
    'the planner has the rotation',
  );
  store.close();
});

function quietLog() {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ base: null }, dest), lines };
}

async function until(what: string, f: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('daemon: a request not yet taken when serve stops is carried out once by the next start', async () => {
  const dir = tempDir('dk-renew-queue-');
  dirs.push(dir);
  const statePath = join(dir, 'state.db');
  const world = new FakeWorld({ t: Date.now() });
  const start = async (lines = quietLog()) => ({
    lines: lines.lines,
    daemon: await startDaemon({
      statePath,
      store: openState(statePath),
      world: () => Promise.resolve(world),
      log: lines.log,
      holder: 'test:1',
      passIntervalMs: 3_600_000,
      minDelayMs: 50,
    }),
  });
  const seed = openState(statePath);
  seed.domains.add(settings(), new Date());
  seed.close();
  let s = await start();
  await until('idle', () => s.lines.some((l) => l.event === 'domain' && l.result === 'idle'));
  const keyOf = () => world.certs.find((c) => c.id === world.deployed)?.keyId;
  const k1 = keyOf();
  // another process holds the domain: the request answers at once but cannot be taken yet
  const other = openState(statePath);
  assert.ok(other.rollover.acquireLease('example.org', 'other:1', 60_000, new Date()));
  const passes = s.lines.filter((l) => l.event === 'pass').length;
  s.daemon.requestRenewal('example.org', 'rotate-key', 'alice');
  await until('the pass after the request', () =>
    s.lines.some((l, i) => l.event === 'pass' && i >= passes),
  );
  await s.daemon.stop();
  assert.ok(s.lines.some((l) => l.event === 'renew-kept'));
  assert.equal(keyOf(), k1, 'nothing done under the other holder');
  assert.deepEqual(
    other.requests.list().map((r) => [r.domain, r.request, r.askedBy]),
    [['example.org', 'rotate-key', 'alice']],
    'the request is in the database, not lost with the process',
  );
  other.rollover.releaseLease('example.org', 'other:1');
  s = await start();
  await until('the rotation', () => keyOf() !== k1);
  await until('no request left', () => other.requests.list().length === 0);
  const taken = s.lines.filter((l) => l.event === 'renew-request' && l.result !== 'busy');
  assert.equal(taken.length, 1, 'handed to the planner once');
  // passes after it do not hand it again
  s.daemon.scheduler.wake('pass');
  const n = s.lines.filter((l) => l.event === 'pass').length;
  await until('another pass', () => s.lines.filter((l) => l.event === 'pass').length > n);
  assert.equal(s.lines.filter((l) => l.event === 'renew-request').length, 1);
  await s.daemon.stop();
  other.close();
});
