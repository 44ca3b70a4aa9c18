/**
 * [acme] ca-file that cannot be read: a configuration error (exit 78, one line naming the file),
 * not an uncaught ENOENT with a stack trace from `run`, `renew` or serve's pass.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DkError } from '../core/errors.js';
import { EXIT, exitFor } from './exit.js';
import { readCaFile } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-ca-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a missing or unreadable ca-file is DkError config naming it; a readable one is read', () => {
  const missing = join(dir, 'nope.pem');
  assert.throws(
    () => readCaFile(missing),
    (e: unknown) =>
      e instanceof DkError &&
      e.kind === 'config' &&
      e.code === 'E_CONFIG_CA_FILE' &&
      e.message ===
        `Cannot read [acme] ca-file ${missing} (ENOENT): fix the path or remove the setting`,
  );
  assert.throws(() => readCaFile(dir), /\(EISDIR\)/);
  assert.equal(exitFor('config'), EXIT.config);
  const ok = join(dir, 'ca.pem');
  writeFileSync(ok, 'PEM\n');
  assert.equal(readCaFile(ok), 'PEM\n');
});
