import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseTlsa } from '../tlsa/index.js';
import { parseCertificates, type Cert } from '../x509/index.js';
import { makePki, tempDir } from '../../../test/support/pki.js';
import { inUseDepth, recordsInUse } from './in-use.js';

let leaf: Cert;
let int: Cert;
let root: Cert;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const rec = (s: string) => parseTlsa(s);

before(() => {
  const pki = makePki(tempDir());
  [leaf, int, root] = parseCertificates(
    Buffer.from(pki.leaf.certPem + pki.intermediate.certPem + pki.root.certPem),
    'c',
  ) as [Cert, Cert, Cert];
});

test('end-entity usages at the leaf, trust-anchor usages above it (RFC 7671 §5.1, §5.2)', () => {
  const chain = [leaf, int];
  assert.equal(inUseDepth(rec(`3 1 1 ${sha(leaf.spki)}`), chain), 0);
  assert.equal(inUseDepth(rec(`3 0 1 ${sha(leaf.der)}`), chain), 0);
  assert.equal(inUseDepth(rec(`2 1 1 ${sha(int.spki)}`), chain), 1);
  assert.equal(inUseDepth(rec(`2 1 1 ${sha(root.spki)}`), [leaf, int, root]), 2);
  // wrong depth for the usage
  assert.equal(inUseDepth(rec(`3 1 1 ${sha(int.spki)}`), chain), null);
  assert.equal(inUseDepth(rec(`2 1 1 ${sha(leaf.spki)}`), chain), null);
  // a root digest the server does not send
  assert.equal(inUseDepth(rec(`2 1 1 ${sha(root.spki)}`), chain), null);
});

test('2 1 0 and 2 0 0 anchors not sent: in use where they signed a presented certificate', () => {
  assert.equal(inUseDepth(rec(`2 1 0 ${root.spki.toString('hex')}`), [leaf, int]), 1);
  assert.equal(inUseDepth(rec(`2 0 0 ${root.der.toString('hex')}`), [leaf, int]), 2);
  // the intermediate's key signed the leaf: depth 0 for the bare key (as OpenSSL reports it)
  assert.equal(inUseDepth(rec(`2 1 0 ${int.spki.toString('hex')}`), [leaf]), 0);
  // a key that signed nothing here, and garbage that is no key
  assert.equal(inUseDepth(rec(`2 1 0 ${leaf.spki.toString('hex')}`), [leaf, int]), null);
  assert.equal(inUseDepth(rec(`2 1 0 ${'ab'.repeat(40)}`), [leaf, int]), null);
});

test('unknown usage, selector or matching type, a short digest, no chain: never in use', () => {
  const chain = [leaf, int];
  for (const r of [
    `4 1 1 ${sha(leaf.spki)}`,
    `3 2 1 ${sha(leaf.spki)}`,
    `3 1 9 ${sha(leaf.spki)}`,
    `3 1 1 ${sha(leaf.spki).slice(2)}`,
  ])
    assert.equal(inUseDepth(rec(r), chain), null, r);
  assert.equal(inUseDepth(rec(`3 1 1 ${sha(leaf.spki)}`), []), null);
  assert.deepEqual(
    recordsInUse([rec(`3 1 1 ${'00'.repeat(32)}`), rec(`2 1 1 ${sha(int.spki)}`)], chain).map(
      (x) => x.depth,
    ),
    [1],
  );
});
