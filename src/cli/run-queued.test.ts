/**
 * `danekeeper run` (cron, a systemd timer) carries out the queued renew requests too (issue 10:
 * a serve stopped with rows left, or an operator who moved to the timer): each exactly once,
 * the row removed with the save of the state that carries it (src/daemon/queued.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command } from 'commander';
import type { RolloverState } from '../core/rollover/index.js';
import { FakeWorld } from '../daemon/fake-world.js';
import type { DomainWorld } from '../daemon/pass.js';
import type { DomainSettings } from '../store/domains.js';
import { openState } from '../store/state.js';
import type { Io } from './io.js';
import { registerRun, type RunDeps } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-run-queued-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const settings = (name: string): DomainSettings => ({
  name,
  includeDomainName: true,
  subdomains: ['mail'],
  mailHosts: [`mail.${name}`],
  endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
  dane: true,
  certDir: join(dir, 'live', name),
  reload: [],
  keyType: 'ec-p256',
  newKeyEachRenewal: false,
  issuerRecords: false,
  challenge: null,
});

test('run takes the queued requests: each carried out once, a removed domain’s dropped, a failed one kept', async () => {
  const statePath = join(dir, 'state.db');
  const config = join(dir, 'dk.ini');
  writeFileSync(config, '[ext-sslit]\ndane-confirmation-interval-in-hours = 0.001\n');
  const T0 = new Date('2026-03-01T00:00:00.000Z');
  const st = openState(statePath);
  st.domains.add(settings('example.org'), T0);
  const clock = { t: T0.getTime() };
  const world = new FakeWorld(clock);
  const deps: RunDeps = {
    env: {},
    uid: 0,
    now: () => new Date(clock.t),
    world: () => Promise.resolve(world),
  };
  const cli = async (...args: string[]) => {
    const lines: string[] = [];
    const io: Io = {
      out: (l) => lines.push(l),
      err: (l) => lines.push(`ERR ${l}`),
      verbose: () => {},
      withVerbose: () => io,
    };
    let pending: Promise<number> | undefined;
    const program = new Command('danekeeper').exitOverride();
    registerRun(program, io, (p) => (pending = p), deps);
    await program.parseAsync(['node', 'danekeeper', ...args, '--config', config]);
    return { code: await pending!, text: lines.join('\n') };
  };
  const state = () => st.rollover.read('example.org')?.state as RolloverState | null;
  const resultOf = async (name: string) => {
    const j = await cli('run', '--state', statePath, '--json');
    return (JSON.parse(j.text) as { domains: { domain: string; result: string }[] }).domains.find(
      (x) => x.domain === name,
    )?.result;
  };
  let last: string | undefined;
  for (let i = 0; i < 40 && last !== 'idle'; i++) {
    last = await resultOf('example.org');
    clock.t += 10 * 60_000;
  }
  assert.equal(last, 'idle');
  const keyOf = () => world.certs.find((c) => c.id === world.deployed)?.keyId;
  const k1 = keyOf();
  const orders = () => world.log.filter((a) => a.kind === 'orderCertificate').length;
  const o1 = orders();

  // asked through the API while serve ran; serve stopped before a pass took it
  st.requests.ask('example.org', 'rotate-key', 'alice', new Date(clock.t));
  // a request for a domain removed since: nothing to renew, dropped
  st.requests.ask('gone.example', 'renew', 'bob', new Date(clock.t));
  const r = await cli('run', '--state', statePath);
  assert.equal(r.code, 0, r.text);
  assert.match(
    r.text,
    /^example\.org: queued rotate-key request \(asked by alice at [0-9T:.-]+Z\) handed to the pass$/m,
  );
  assert.deepEqual(st.requests.list(), [], 'both rows gone');
  assert.ok(
    state()?.renewal.requested === 'rotate-key' || orders() > o1,
    'the planner has the rotation',
  );
  // the rotation runs to its end over the next runs, the request never handed again
  last = undefined;
  for (let i = 0; i < 40 && (keyOf() === k1 || last !== 'idle'); i++) {
    clock.t += 10 * 60_000;
    const n = await cli('run', '--state', statePath, '--json');
    assert.equal((JSON.parse(n.text) as { requests: unknown[] }).requests.length, 0);
    last = await resultOf('example.org');
  }
  assert.notEqual(keyOf(), k1, 'rotated');
  assert.equal(last, 'idle');
  const o2 = orders();
  clock.t += 10 * 60_000;
  await cli('run', '--state', statePath);
  assert.equal(orders(), o2, 'carried out once: no second order');

  // the pass fails before the save carrying the request: the row stays, run says so (75)
  st.domains.add(settings('example.net'), new Date(clock.t));
  const row = st.requests.ask('example.net', 'renew', 'carol', new Date(clock.t));
  const w = world as unknown as { observe: DomainWorld['observe'] };
  const observe = w.observe.bind(world);
  // a DkError from the world before the save: the row stays
  const { DkError } = await import('../core/errors.js');
  w.observe = (...a) =>
    a[0].name === 'example.net'
      ? Promise.reject(new DkError('tempfail', 'E_TEST_DOWN', 'the backend is down'))
      : observe(...a);
  const f = await cli('run', '--state', statePath, '--json');
  assert.equal(f.code, 75, f.text);
  assert.deepEqual(st.requests.list(), [row], 'kept for the next run');
  w.observe = observe;
  const g = await cli('run', '--state', statePath, '--json');
  const parsed = JSON.parse(g.text) as { requests: { domain: string; askedBy: string }[] };
  assert.deepEqual(
    parsed.requests.map((x) => [x.domain, x.askedBy]),
    [['example.net', 'carol']],
  );
  assert.deepEqual(st.requests.list(), []);
  st.close();
});
