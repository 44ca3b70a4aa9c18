/**
 * Whatever bytes arrive, the parsers fail only with DkError: the CLI maps DkError to an exit
 * status and a one-line message, and anything else would surface as a stack trace.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { isDkError } from '../errors.js';
import { makePki, openssl, tempDir, type Pki } from '../../../test/support/pki.js';
import { parseKey } from './key.js';
import { parseCertificates } from './parse.js';

let pki: Pki;
let samples: Buffer[];

before(() => {
  pki = makePki(tempDir(), { leafAlg: 'rsa2048' });
  samples = [
    pki.leaf.der,
    Buffer.from(pki.leaf.certPem + pki.intermediate.certPem),
    Buffer.from(pki.leaf.keyPem),
    openssl(['pkey', '-in', pki.leaf.keyFile, '-outform', 'der']),
    openssl(['rsa', '-in', pki.leaf.keyFile, '-traditional', '-outform', 'der']),
    openssl(['pkey', '-in', pki.intermediate.keyFile, '-pubout']),
  ];
});

function onlyDkErrors(input: Uint8Array | string): void {
  const buf = Buffer.from(input as Uint8Array);
  for (const parse of [parseCertificates, parseKey]) {
    try {
      parse(buf, 'fuzz');
    } catch (e) {
      assert.ok(isDkError(e), `${parse.name} threw ${String(e)}`);
      assert.doesNotMatch(e.message, /\n/);
    }
  }
}

/** A real certificate or key with a few bytes changed, cut short or extended. */
const mutated = () =>
  fc
    .record({
      pick: fc.nat(),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat()),
    })
    .map(({ pick, edits, cut }) => {
      const base = Buffer.from(samples[pick % samples.length]!);
      for (const [at, v] of edits) base[at % base.length] = v;
      return cut === null ? base : base.subarray(0, cut % (base.length + 1));
    });

describe('parsers throw only DkError', () => {
  test('arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), onlyDkErrors), { numRuns: 500 });
  });

  test('arbitrary strings, with and without PEM armour', () => {
    const armoured = fc
      .tuple(
        fc.constantFrom('CERTIFICATE', 'PRIVATE KEY', 'PUBLIC KEY', 'RSA PRIVATE KEY', 'X'),
        fc.string(),
        fc.base64String(),
      )
      .map(([l, pre, b]) => `${pre}-----BEGIN ${l}-----\n${b}\n-----END ${l}-----\n`);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), armoured), onlyDkErrors),
      {
        numRuns: 500,
      },
    );
  });

  test('real certificates and keys, damaged', () => {
    fc.assert(fc.property(mutated(), onlyDkErrors), { numRuns: 1500 });
  });
});
