import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { issue, makePki, tempDir, type Pki } from '../../../test/support/pki.js';
import { certFromDer, type Cert } from './cert.js';
import { findIssuer, orderChain } from './chain.js';

let pki: Pki;
let other: Pki;
let leaf: Cert, int: Cert, root: Cert, stranger: Cert, leaf2: Cert;

before(() => {
  const dir = tempDir();
  pki = makePki(dir, { leafAlg: 'ed25519' });
  other = makePki(dir, { prefix: 'other-' });
  leaf = certFromDer(pki.leaf.der);
  int = certFromDer(pki.intermediate.der);
  root = certFromDer(pki.root.der);
  stranger = certFromDer(other.leaf.der);
  leaf2 = certFromDer(issue(dir, 'leaf2', { cn: 'smtp.example.test' }, pki.intermediate).der);
});

const names = (cs: Cert[]) => cs.map((c) => c.subject);

describe('orderChain', () => {
  test('an ordered chain is unchanged', () => {
    assert.deepEqual(orderChain([leaf, int, root]), [leaf, int, root]);
    assert.deepEqual(orderChain([leaf, int]), [leaf, int]);
    assert.deepEqual(orderChain([leaf]), [leaf]);
    assert.deepEqual(orderChain([]), []);
  });

  test('root-first and shuffled bundles come out leaf first', () => {
    const want = names([leaf, int, root]);
    for (const input of [
      [root, int, leaf],
      [int, leaf, root],
      [root, leaf, int],
      [int, root, leaf],
      [leaf, root, int],
    ]) {
      assert.deepEqual(names(orderChain(input)), want);
    }
  });

  test('unrelated certificates go last, in input order, never dropped', () => {
    const out = orderChain([stranger, root, int, leaf]);
    assert.deepEqual(out, [leaf, int, root, stranger]);
    const two = orderChain([stranger, int, leaf2, leaf]);
    // two leaves of the same CA: the first in input order leads
    assert.deepEqual(two, [leaf2, int, stranger, leaf]);
  });

  test('unrelated certificates only: input order', () => {
    assert.deepEqual(orderChain([stranger, leaf]), [stranger, leaf]);
  });

  test('exact duplicates are kept once', () => {
    const dupInt = certFromDer(pki.intermediate.der);
    assert.deepEqual(names(orderChain([int, leaf, dupInt, leaf])), names([leaf, int]));
  });

  test('a name match without a valid signature is not a link', () => {
    // Same names as the real CA, different keys: a look-alike must not be taken as the issuer.
    const dir = tempDir();
    const fakeRoot = issue(dir, 'fake', { cn: 'Test Root CA', ca: true });
    const fakeInt = issue(dir, 'fakeint', { cn: 'Test Intermediate', ca: true }, fakeRoot);
    const fake = certFromDer(fakeInt.der);
    assert.equal(findIssuer(leaf, [fake]), undefined);
    assert.deepEqual(orderChain([fake, int, leaf]), [leaf, int, fake]);
  });
});

describe('findIssuer', () => {
  test('finds the issuer among candidates', () => {
    assert.equal(findIssuer(leaf, [stranger, root, int]), int);
    assert.equal(findIssuer(int, [leaf, root]), root);
    assert.equal(findIssuer(leaf, [root, stranger]), undefined);
  });

  test('a self-signed root has no issuer other than itself', () => {
    assert.equal(findIssuer(root, [root, int, leaf]), undefined);
    assert.equal(findIssuer(root, [certFromDer(pki.root.der)]), undefined);
  });
});
