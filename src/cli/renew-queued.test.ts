/**
 * `renew DOMAIN --force|--rotate-key` while the running serve holds the domain: serve reads the
 * renew_requests table at every pass, so the request is queued there (exit 0, said so) and the
 * serve carries it out; a lease held by a `run` is still refused (renew-busy.test.ts).
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

const dir = mkdtempSync(join(tmpdir(), 'dk-renew-queued-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('renew while serve holds the domain: queued for serve, exit 0; rotate-key stays over a later --force', async () => {
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
  // a live serve (this process's parent: certainly alive) runs on the database and holds it
  const serve = `${hostname()}:${process.ppid}`;
  writeFileSync(`${statePath}.serve-holder`, `${serve}\n`);
  assert.ok(st.rollover.acquireLease('example.org', serve, 600_000, T0));
  const r = await cli('renew', 'example.org', '--rotate-key', '--state', statePath);
  assert.equal(r.code, 0, r.text);
  assert.equal(
    r.text,
    'example.org: queued: the running serve carries it out at its next pass (rotate-key)',
  );
  const f = await cli('renew', 'example.org', '--force', '--state', statePath);
  assert.equal(f.code, 0, f.text);
  assert.deepEqual(
    st.requests.list().map((x) => [x.domain, x.request, x.askedBy]),
    [['example.org', 'rotate-key', 'cli']],
  );
  assert.equal(world.log.length, 0, 'nothing done by the CLI under serve’s lease');
  // a plain renew (retry a failed step now) has nothing to queue: still refused
  const p = await cli('renew', 'example.org', '--state', statePath);
  assert.equal(p.code, 75, p.text);
  // serve gone (its holder file names a process that no longer runs): not queued
  writeFileSync(`${statePath}.serve-holder`, `${hostname()}:2147483646\n`);
  const g = await cli('renew', 'example.org', '--force', '--state', statePath);
  assert.equal(g.code, 75, g.text);
  st.close();
});
