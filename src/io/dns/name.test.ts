/**
 * queryName: the names we ask for are checked and normalised; a name checked once is
 * remembered (a bulk run asks about the same names thousands of times), an invalid one never.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queryName } from './name.js';

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
