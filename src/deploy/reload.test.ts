/**
 * runReloads: argv without a shell, the first stderr line in the error, a timeout that kills
 * the whole process group, non-zero exits as failures, and a stop at the first failure.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isDkError } from '../core/errors.js';
import { tempDir } from '../../test/support/pki.js';
import { runReloads } from './reload.js';

const dir = tempDir('dk-reload-');
after(() => rmSync(dir, { recursive: true, force: true }));

async function rejectsWith(p: Promise<unknown>, code: string, msg: RegExp): Promise<string> {
  let message = '';
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isDkError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, msg);
    assert.doesNotMatch(e.message, /\n/);
    message = e.message;
    return true;
  });
  return message;
}

/** Running, not a zombie (a killed orphan stays one until PID 1 reaps it, which may be late). */
function pidAlive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('runReloads', () => {
  test('runs each argv in order, without a shell', async () => {
    const out = join(dir, 'order');
    const runs = await runReloads([
      ['/bin/sh', '-c', `echo one >> ${out}`],
      ['/bin/sh', '-c', `echo two >> ${out}`],
      // no shell: the ; and $() reach the command as plain text
      ['/bin/echo', 'a; touch', join(dir, 'injected'), '$(id)'],
    ]);
    assert.deepEqual(
      runs.map((r) => r.code),
      [0, 0, 0],
    );
    assert.equal(readFileSync(out, 'utf8'), 'one\ntwo\n');
    assert.equal(existsSync(join(dir, 'injected')), false);
  });

  test('a non-zero exit fails with the first stderr line, and later commands do not run', async () => {
    const later = join(dir, 'later');
    const message = await rejectsWith(
      runReloads([
        ['/bin/sh', '-c', 'echo; echo "postfix: fatal: bad config" >&2; echo second >&2; exit 3'],
        ['/bin/sh', '-c', `touch ${later}`],
      ]),
      'E_DEPLOY_RELOAD_FAILED',
      /exited 3: postfix: fatal: bad config$/,
    );
    assert.doesNotMatch(message.split('exited 3')[1]!, /second/);
    assert.equal(existsSync(later), false);
  });

  test('a command that cannot be started', async () => {
    await rejectsWith(
      runReloads([['/nonexistent/reload-me']]),
      'E_DEPLOY_RELOAD_NOT_RUN',
      /"\/nonexistent\/reload-me" could not be started: no such file/,
    );
    await rejectsWith(runReloads([[]]), 'E_DEPLOY_RELOAD_EMPTY', /empty/);
  });

  test('a timeout kills the command and what it started (its process group)', async () => {
    const pidFile = join(dir, 'grandchild');
    const started = Date.now();
    await rejectsWith(
      runReloads([['/bin/sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`]], { timeoutMs: 300 }),
      'E_DEPLOY_RELOAD_TIMEOUT',
      /did not finish within 300 ms and was killed/,
    );
    assert.ok(Date.now() - started < 5_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 50 && pidAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pidAlive(pid), false, 'the sleep the command started was killed too');
  });

  test('a command that leaves a daemon holding stderr open still finishes', async () => {
    const pidFile = join(dir, 'daemon');
    const started = Date.now();
    await runReloads([['/bin/sh', '-c', `sleep 3 & echo $! > ${pidFile}; exit 0`]], {
      timeoutMs: 2_000,
    });
    assert.ok(Date.now() - started < 1_500, 'did not wait for the daemon');
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  });

  test('a long argv is cut in the message', async () => {
    const long = 'x'.repeat(200);
    const msg = await rejectsWith(
      runReloads([['/bin/false', long]]),
      'E_DEPLOY_RELOAD_FAILED',
      /exited 1$/,
    );
    assert.ok(msg.length < 160, msg);
  });
});
