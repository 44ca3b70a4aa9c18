/**
 * `renew DOMAIN [--force|--rotate-key]` while another pass (a timer's `run`, the daemon) holds
 * the domain's lease: the request cannot be handed to that pass, so it is not taken; `renew`
 * must then say so and exit non-zero, never exit 0 as if it had been accepted (the product rule:
 * a request that exited 0 is carried out exactly once).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command } from 'commander';
import { FakeWorld } from '../daemon/fake-world.js';
import { openState } from '../store/state.js';
import type { Io } from './io.js';
import { registerRun, type RunDeps } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-renew-busy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function setup() {
  const statePath = join(dir, 'state.db');
  const config = join(dir, 'dk.ini');
  writeFileSync(config, '[ext-sslit]\ndane-confirmation-interval-in-hours = 0.001\n');
  const T0 = new Date('2026-03-01T00:00:00.000Z');
  const st = openState(statePath);
  st.domains.add(
    {
      name: 'example.org',
      includeDomainName: true,
      subdomains: ['mail'],
      mailHosts: ['mail.example.org'],
      endpoints: [{ host: 'mail.example.org', port: 25, proto: 'tcp' }],
      dane: true,
      certDir: join(dir, 'live'),
      reload: [],
      keyType: 'ec-p256',
      newKeyEachRenewal: false,
      issuerRecords: false,
      challenge: null,
    },
    T0,
  );
  st.close();
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
    await program.parseAsync([
      'node',
      'danekeeper',
      ...args,
      '--config',
      config,
      '--state',
      statePath,
    ]);
    return { code: await pending!, text: lines.join('\n') };
  };
  /** another live pass (this process's parent: certainly alive) holds the domain */
  const hold = (held: boolean) => {
    const s = openState(statePath);
    try {
      const who = `${hostname()}:${process.ppid}`;
      if (held) {
        const l = s.rollover.acquireLease('example.org', who, 600_000, new Date(clock.t));
        assert.ok(l, 'the other pass holds the lease');
      } else s.rollover.releaseLease('example.org', who);
    } finally {
      s.close();
    }
  };
  return { cli, clock, world, hold };
}

test('renew --rotate-key while another pass holds the domain: not taken, said so, exit 75; once free it is taken', async () => {
  const s = setup();
  for (let i = 0; i < 10; i++) {
    assert.equal((await s.cli('run')).code, 0);
    s.clock.t += 10_000;
  }
  const key = () => s.world.certs.find((c) => c.id === s.world.deployed)?.keyId;
  const k1 = key();
  assert.ok(k1, 'installed');
  s.hold(true);
  for (const flags of [['--rotate-key'], ['--force'], []]) {
    const r = await s.cli('renew', 'example.org', ...flags);
    assert.equal(r.code, 75, `renew ${flags.join(' ')}: ${r.text}`);
    assert.match(
      r.text,
      /^ERR danekeeper: example\.org: skipped: another pass \(.+\) is working on it; the request was not taken: run `danekeeper renew example\.org.*` again once it is done$/m,
    );
  }
  // a plain run meeting the same lease is no failure: the holder carries on
  assert.equal((await s.cli('run')).code, 0);
  s.hold(false);
  assert.equal(key(), k1, 'nothing was done meanwhile');
  const r = await s.cli('renew', 'example.org', '--rotate-key');
  assert.equal(r.code, 0, r.text);
  assert.notEqual(key(), k1, 'the rotation asked for again was carried out');
});
