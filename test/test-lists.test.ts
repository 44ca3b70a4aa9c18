/**
 * scripts/test.sh decides which test files are unit tests (always run) and which need the lab
 * (root, namespaces). test/soak/rotation.test.ts is pure — the soak's judgement of a rotation —
 * so it belongs with the unit tests; the soak itself needs the lab.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

test('scripts/test.sh list: test/soak/rotation.test.ts runs with the unit tests, soak.test.ts with the lab', () => {
  const r = spawnSync('bash', ['scripts/test.sh', 'list'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const part = (f: string) => lines.filter((l) => l.endsWith(` ${f}`)).map((l) => l.split(' ')[0]);
  assert.deepEqual(part('test/soak/rotation.test.ts'), ['unit']);
  assert.deepEqual(part('test/soak/soak.test.ts'), ['lab']);
  assert.deepEqual(part('src/core/rollover/model.test.ts'), ['unit']);
  assert.ok(
    lines.every((l) => !/^unit test\/lab\//.test(l)),
    'no lab file among the unit tests',
  );
});
