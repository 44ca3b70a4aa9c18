import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { lineDiff } from './line-diff.js';

test('hunks without context: changed, inserted and deleted lines with their line numbers', () => {
  assert.deepEqual(lineDiff('a\nb\nc\n', 'a\nb\nc\n', 'f', 'f'), []);
  assert.deepEqual(lineDiff('a\nb\nc\nd\n', 'a\nB\nc\nd\ne\n', 'old', 'new'), [
    '--- old',
    '+++ new',
    '@@ -2,1 +2,1 @@',
    '-b',
    '+B',
    '@@ -4,0 +5,1 @@',
    '+e',
  ]);
  assert.deepEqual(lineDiff('a\nb\nc\n', 'a\nc\n', 'f', 'f').slice(2), ['@@ -2,1 +1,0 @@', '-b']);
  assert.deepEqual(lineDiff('', 'x\n', 'f', 'f').slice(2), ['@@ -0,0 +1,1 @@', '+x']);
});

test('property: applying the hunks to the old lines gives the new lines', () => {
  const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 12 });
  fc.assert(
    fc.property(lines, lines, (a, b) => {
      const text = (l: string[]) => l.map((x) => `${x}\n`).join('');
      const out = lineDiff(text(a), text(b), 'x', 'y');
      const result: string[] = [...a];
      let shift = 0;
      for (let i = 2; i < out.length;) {
        const m = /^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$/.exec(out[i]!);
        assert.ok(m, out[i]);
        const [del, add] = [Number(m[2]), Number(m[4])];
        const at = (del === 0 ? Number(m[1]) : Number(m[1]) - 1) + shift;
        const removed = out.slice(i + 1, i + 1 + del).map((l) => l.slice(1));
        const added = out.slice(i + 1 + del, i + 1 + del + add).map((l) => l.slice(1));
        assert.deepEqual(result.slice(at, at + del), removed);
        result.splice(at, del, ...added);
        shift += add - del;
        i += 1 + del + add;
      }
      assert.deepEqual(result, b);
    }),
  );
});
