import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileErrorReason } from './file-errors.js';

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail('did not throw');
};

test('real fs errors read as words, never as an errno code or a path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-fe-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    assert.equal(fileErrorReason(caught(() => readFileSync(join(dir, 'nope')))), 'no such file');
    assert.equal(fileErrorReason(caught(() => readFileSync(dir))), 'is a directory');
    assert.equal(
      fileErrorReason(caught(() => readFileSync(join(file, 'x')))),
      'a parent is not a directory',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an unknown code keeps Node's words without the code and the path", () => {
  const e = Object.assign(new Error("EXDEV: cross-device link not permitted, rename 'a' -> 'b'"), {
    code: 'EXDEV',
  });
  assert.equal(fileErrorReason(e), 'cross-device link not permitted');
  assert.equal(fileErrorReason(new Error('plain')), 'plain');
  assert.equal(fileErrorReason('odd'), 'odd');
});
