/**
 * `check --file`: what is refused before any network step (the bulk run itself is proven in
 * the lab, test/lab/check-bulk.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../../test/support/pki.js';
import { isDkError } from '../core/errors.js';
import { runCheck, type BulkIo } from './check.js';
import type { Io } from './io.js';

const io: Io = { out: () => {}, err: () => {}, verbose: () => {}, withVerbose: () => io };
const bulkIo: BulkIo = {
  readStdin: () => Promise.resolve(''),
  stderrIsTTY: false,
  writeErrRaw: () => {},
  onInterrupt: () => () => {},
};
const now = () => new Date();

type Opts = Partial<Parameters<typeof runCheck>[1]>;

async function refused(args: Opts, domain?: string) {
  try {
    await runCheck(domain, { resolver: [], days: '14', ...args }, io, now, bulkIo);
  } catch (e) {
    assert.ok(isDkError(e));
    return e;
  }
  assert.fail('not refused');
}

test('--file with a DOMAIN or --host, or with options of a single service, is a usage error', async () => {
  assert.match((await refused({ file: 'x' }, 'a.example')).message, /either --file LIST or DOMAIN/);
  assert.match((await refused({ file: 'x', host: 'mx.example' })).message, /not both/);
  const e = await refused({ file: 'x', port: '465' });
  assert.equal(e.kind, 'usage');
  assert.match(e.message, /--port, --starttls and --trust-store do not apply/);
  assert.match(
    (await refused({ concurrency: '4' }, 'a.example')).message,
    /--concurrency goes with --file/,
  );
});

test('--concurrency and --timeout are checked; an unreadable list is "no input" (66)', async () => {
  assert.match(
    (await refused({ file: '-', concurrency: '0' })).message,
    /--concurrency "0" must be a number from 1 to 1024/,
  );
  assert.match((await refused({ file: '-', timeout: 'x' })).message, /--timeout "x"/);
  const missing = join(tempDir(), 'none.txt');
  const e = await refused({ file: missing });
  assert.equal(e.kind, 'noinput');
  assert.equal(e.message, `Cannot read ${missing}: no such file`);
});
