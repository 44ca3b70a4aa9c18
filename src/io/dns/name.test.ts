/**
 * queryName: the names we ask for are checked and normalised; a name checked once is
 * remembered (a bulk run asks about the same names thousands of times), an invalid one never.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeLabel, escapeLabelAt, queryName } from './name.js';

test('valid names are normalised (no final dot); the root stays "."', () => {
  assert.equal(queryName('mx.example.test.'), 'mx.example.test');
  assert.equal(queryName('_25._tcp.MX.example.test'), '_25._tcp.MX.example.test');
  assert.equal(queryName('*.wild.example'), '*.wild.example');
  assert.equal(queryName('.'), '.');
  // asked again, the same answer (now from what was remembered)
  assert.equal(queryName('mx.example.test.'), 'mx.example.test');
  assert.equal(queryName('mx.example.test'), 'mx.example.test');
});

test('invalid names are refused every time they are asked, remembered or not', () => {
  const bad = [
    '',
    'a..b',
    'a b.example',
    'x'.repeat(64) + '.example',
    ('a'.repeat(63) + '.').repeat(4) + 'abc',
    'é.example',
  ];
  for (const n of bad) {
    for (let i = 0; i < 3; i++) {
      assert.throws(
        () => queryName(n),
        (e: Error & { code?: string }) => e.code === 'E_DNS_NAME',
        `${JSON.stringify(n)} try ${i}`,
      );
    }
  }
  // a valid name that an invalid one resembles does not make it valid
  assert.equal(queryName('a.b'), 'a.b');
  assert.throws(() => queryName('a..b'));
});

test('many distinct names: each still checked and answered right past the bound', () => {
  for (let i = 0; i < 60_000; i++) assert.equal(queryName(`d${i}.example.`), `d${i}.example`);
  assert.equal(queryName('d1.example.'), 'd1.example');
  assert.throws(() => queryName('d1..example'));
});

test('a label read in place (escapeLabelAt) is exactly escapeLabel of its bytes, whatever the bytes', () => {
  const cases = [
    Buffer.from('mx1'),
    Buffer.from('a.b'),
    Buffer.from('back\\slash'),
    Buffer.from([0, 1, 0x20, 0x7f, 0x80, 0xff]),
    Buffer.from('_25'),
    Buffer.from([0x21, 0x7e]),
  ];
  for (const label of cases) {
    const buf = Buffer.concat([Buffer.from([9, 9]), label, Buffer.from([7])]);
    assert.equal(
      escapeLabelAt(buf, 2, 2 + label.length),
      escapeLabel(label),
      label.toString('hex'),
    );
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 63 }), fc.nat(8), (bytes, pad) => {
      const buf = Buffer.concat([
        Buffer.alloc(pad, 0x41),
        Buffer.from(bytes),
        Buffer.alloc(3, 0x2e),
      ]);
      assert.equal(escapeLabelAt(buf, pad, pad + bytes.length), escapeLabel(bytes));
    }),
    { numRuns: 2000 },
  );
});
