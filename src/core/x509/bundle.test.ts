import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  issue,
  makeBareCert,
  makePki,
  makeSelfSigned,
  tempDir,
  type Pki,
} from '../../../test/support/pki.js';
import { sortBundle } from './bundle.js';
import { certFromDer, type Cert } from './cert.js';
import { issued } from './chain.js';

let pki: Pki;
let other: Pki;
let leaf: Cert, int: Cert, root: Cert, leafRsa: Cert, otherInt: Cert, otherLeaf: Cert;
let self1: Cert, self2: Cert, self3: Cert, bare: Cert;

before(() => {
  const dir = tempDir();
  pki = makePki(dir);
  other = makePki(dir, { prefix: 'other-' });
  leaf = certFromDer(pki.leaf.der);
  int = certFromDer(pki.intermediate.der);
  root = certFromDer(pki.root.der);
  leafRsa = certFromDer(
    issue(dir, 'leaf-rsa', { cn: 'mail.example.test', alg: 'rsa2048' }, pki.intermediate).der,
  );
  otherInt = certFromDer(other.intermediate.der);
  otherLeaf = certFromDer(other.leaf.der);
  self1 = certFromDer(makeSelfSigned(dir, 's1', 'mail.example.test').der);
  self2 = certFromDer(makeSelfSigned(dir, 's2', 'mx2.example.test', 'ed25519').der);
  self3 = certFromDer(makeSelfSigned(dir, 's3', 'mx3.example.test', 'rsa2048').der);
  bare = certFromDer(makeBareCert(dir).der);
});

const subjects = (cs: Cert[]) => cs.map((c) => c.subject);

describe('sortBundle', () => {
  test('a certbot live directory: one chain, the intermediate an issuer, nothing unused', () => {
    // cert.pem, chain.pem, fullchain.pem, pooled in file-name order
    const s = sortBundle([leaf, int, leaf, int]);
    assert.deepEqual(s.chains, [[leaf, int]]);
    assert.deepEqual(s.unused, []);
    assert.deepEqual(s.cas, [int]);
    assert.equal(s.guessedLeaf, false);
  });

  test('several independent self-signed certificates (openssl req -x509: CA:TRUE) are each a leaf', () => {
    assert.equal(self1.isCA, true);
    const s = sortBundle([self1, self2, self3]);
    assert.deepEqual(s.chains, [[self1], [self2], [self3]]);
    assert.deepEqual(s.unused, []);
    assert.deepEqual(s.cas, []);
  });

  test('certbot directory plus a stray self-signed certificate: both leaves', () => {
    const s = sortBundle([leaf, int, self1, bare]);
    assert.deepEqual(s.chains, [[leaf, int], [self1], [bare]]);
    assert.deepEqual(s.unused, []);
  });

  test('an RSA and an ECDSA certificate under one intermediate (a Postfix chain file): two chains', () => {
    const s = sortBundle([leafRsa, int, leaf, int]);
    assert.deepEqual(s.chains, [
      [leafRsa, int],
      [leaf, int],
    ]);
  });

  test('a stray intermediate of another CA is unused, with the reason', () => {
    const s = sortBundle([leaf, int, otherInt]);
    assert.deepEqual(s.chains, [[leaf, int]]);
    assert.deepEqual(
      s.unused.map((u) => [u.cert, u.why]),
      [[otherInt, 'a CA certificate that issued no certificate here and is not self-signed']],
    );
    assert.deepEqual(s.cas, [int, otherInt]);
  });

  test('shuffled root, intermediate and leaf: one chain, leaf first', () => {
    const s = sortBundle([root, leaf, int]);
    assert.deepEqual(subjects(s.chains[0]!), subjects([leaf, int, root]));
    assert.deepEqual(s.cas, [root, int]);
  });

  test('only CA certificates: the leaf is guessed (the old answer), all are CAs', () => {
    const s = sortBundle([int, root]);
    assert.equal(s.guessedLeaf, true);
    assert.deepEqual(s.chains, [[int, root]]);
    assert.deepEqual(s.cas, [int, root]);
    const two = sortBundle([int, otherInt]);
    assert.equal(two.guessedLeaf, true);
    assert.deepEqual(two.cas, [int, otherInt]);
    assert.equal(two.chains.length + two.unused.length, 2);
  });

  test('property: every certificate is in a chain or unused; chains are issuer links', () => {
    const all = [leaf, int, root, leafRsa, otherInt, otherLeaf, self1, self2, bare];
    fc.assert(
      fc.property(fc.shuffledSubarray(all, { minLength: 1 }), fc.boolean(), (pick, dup) => {
        const input = dup ? [...pick, ...pick] : pick;
        const s = sortBundle(input);
        const placed = [...s.chains.flat(), ...s.unused.map((u) => u.cert)];
        for (const c of pick) assert.ok(placed.includes(c), `${c.subject} dropped silently`);
        const leaves = s.chains.map((ch) => ch[0]!);
        assert.equal(new Set(leaves).size, leaves.length);
        for (const ch of s.chains) {
          for (let i = 1; i < ch.length; i++) assert.ok(issued(ch[i]!, ch[i - 1]!));
        }
        // Every non-CA certificate that issued nothing is a leaf.
        for (const c of pick) {
          if (!c.isCA && !pick.some((o) => issued(c, o))) assert.ok(leaves.includes(c));
        }
      }),
      { numRuns: 150 },
    );
  });
});
