/**
 * Issue 12, "The lab must not vanish quietly": on CI (CI=true) a lab that cannot run fails the
 * run — a missing root already did; a failing `ip netns` as root must too, both in
 * `labAvailable` (each lab file) and in scripts/test.sh (the whole run, before the slow steps).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { labAvailable } from './lab/netns.js';

const asRoot = (ipNetns: boolean) => ({ uid: () => 0, ipNetns: () => ipNetns });

describe('labAvailable', () => {
  test('root with a working ip netns: the lab runs', () => {
    assert.deepEqual(labAvailable({}, asRoot(true)), { ok: true });
    assert.deepEqual(labAvailable({ CI: 'true' }, asRoot(true)), { ok: true });
  });

  test('ip netns failing off CI: skipped, with the reason', () => {
    const r = labAvailable({}, asRoot(false));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /ip netns/);
  });

  test('ip netns failing on CI: an error, not a skip', () => {
    assert.throws(
      () => labAvailable({ CI: 'true' }, asRoot(false)),
      /integration lab cannot run on CI: cannot run "ip netns"/,
    );
  });

  test('not root: skipped (scripts/test.sh is what fails CI for that)', () => {
    const r = labAvailable({ CI: 'true' }, { uid: () => 1000, ipNetns: () => true });
    assert.deepEqual(r, { ok: false, reason: 'the lab needs root' });
  });
});

describe('scripts/test.sh', () => {
  // A PATH whose `ip` always fails and whose `id -u` says root: the script must stop before
  // typechecking, with status 1 on CI.
  const bin = mkdtempSync(join(tmpdir(), 'dk-labgate-'));
  after(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, 'ip'), '#!/bin/sh\necho "ip: permission denied" >&2\nexit 1\n');
  writeFileSync(join(bin, 'id'), '#!/bin/sh\necho 0\n');
  chmodSync(join(bin, 'ip'), 0o755);
  chmodSync(join(bin, 'id'), 0o755);
  const run = (env: NodeJS.ProcessEnv) =>
    spawnSync('bash', ['scripts/test.sh'], {
      encoding: 'utf8',
      env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}` },
      timeout: 30_000,
    });

  test('as root with ip netns failing and CI=true: exit 1 at once, saying why', () => {
    const r = run({ CI: 'true' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /'ip netns' fails .* CI must run it/);
    assert.equal(r.stdout, '', 'nothing else ran');
  });
});
