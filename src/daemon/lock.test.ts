import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { tempDir } from '../../test/support/pki.js';
import { acquireServeLock } from './lock.js';

const dir = tempDir('dk-lock-');
after(() => rmSync(dir, { recursive: true, force: true }));

it('a second serve on the same state is refused, naming the first; released, it can be taken', () => {
  const state = join(dir, 'a.db');
  const one = acquireServeLock(state, 'host:111');
  assert.throws(
    () => acquireServeLock(state, 'host:222'),
    (e: Error & { code?: string }) =>
      e.code === 'E_SERVE_RUNNING' && /\(host:111\) is running on .*a\.db/.test(e.message),
  );
  // another state database is another lock
  acquireServeLock(join(dir, 'b.db'), 'host:333').release();
  one.release();
  acquireServeLock(state, 'host:222').release();
});

it('the first serve on a new machine makes the state directory (0700) for its lock', () => {
  const state = join(dir, 'new', 'deeper', 'state.db');
  acquireServeLock(state, 'first').release();
  assert.equal(statSync(join(dir, 'new', 'deeper')).mode & 0o777, 0o700);
});

it('a holder killed with -9 leaves no stale lock', async () => {
  const state = join(dir, 'k.db');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import('${new URL('./lock.ts', import.meta.url).pathname}').then((m) => { m.acquireServeLock(${JSON.stringify(state)}, 'child'); console.log('held'); setInterval(() => {}, 1000); })`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((res) => child.stdout.on('data', () => res()));
  assert.throws(() => acquireServeLock(state, 'me'), /\(child\) is running/);
  const gone = new Promise((res) => child.on('exit', res));
  child.kill('SIGKILL');
  await gone;
  acquireServeLock(state, 'me').release();
});
