import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { isDkError } from '../errors.js';
import {
  issue,
  makePki,
  openssl,
  tempDir,
  type Issued,
  type KeyAlg,
  type Pki,
} from '../../../test/support/pki.js';
import { certFromDer } from './cert.js';
import { parseKey } from './key.js';

const ALGS: [KeyAlg, string][] = [
  ['rsa2048', 'rsa 2048'],
  ['rsa4096', 'rsa 4096'], // the suite's only 4096-bit key: slow to make
  ['p256', 'ec P-256'],
  ['p384', 'ec P-384'],
  ['p521', 'ec P-521'],
  ['ed25519', 'ed25519'],
  ['ed448', 'ed448'],
];

let pki: Pki;
const leaves = new Map<KeyAlg, Issued>();

before(() => {
  const dir = tempDir();
  pki = makePki(dir);
  for (const [alg] of ALGS) {
    leaves.set(alg, issue(dir, alg, { cn: `${alg}.example.test`, alg }, pki.intermediate));
  }
});

/** The reference pipeline: openssl x509 -pubkey | openssl pkey -pubin -outform der. */
function opensslSpki(certFile: string): Buffer {
  const pem = openssl(['x509', '-in', certFile, '-pubkey', '-noout']);
  return openssl(['pkey', '-pubin', '-outform', 'der'], pem);
}

describe('certFromDer', () => {
  for (const [alg, keyType] of ALGS) {
    test(`${alg}: DER, SPKI and key type agree with openssl`, () => {
      const leaf = leaves.get(alg)!;
      const der = openssl(['x509', '-in', leaf.certFile, '-outform', 'der']);
      const c = certFromDer(der);
      assert.ok(c.der.equals(der));
      assert.ok(c.spki.equals(opensslSpki(leaf.certFile)));
      assert.equal(c.keyType, keyType);
      assert.equal(c.subject, `CN=${alg}.example.test`);
      assert.equal(c.issuer, 'CN=Test Intermediate');
      assert.equal(c.isCA, false);
      assert.equal(c.selfIssued, false);
      // The key file yields the same SPKI, so selector 1 records from --key and --cert agree.
      const k = parseKey(Buffer.from(leaf.keyPem), 'leaf.key');
      assert.ok(k.spki.equals(c.spki));
      assert.equal(k.keyType, keyType);
      assert.equal(k.isPrivate, true);
    });
  }

  test('validity dates match openssl to the second', () => {
    const c = certFromDer(pki.leaf.der);
    const dates = openssl(['x509', '-in', pki.leaf.certFile, '-noout', '-startdate', '-enddate'])
      .toString()
      .trim()
      .split('\n')
      .map((l) => new Date(l.replace(/^[^=]*=/, '')).getTime());
    assert.deepEqual([c.notBefore.getTime(), c.notAfter.getTime()], dates);
    assert.ok(c.notAfter > c.notBefore);
  });

  test('root is a self-issued CA; intermediate is a CA', () => {
    const root = certFromDer(pki.root.der);
    assert.equal(root.isCA, true);
    assert.equal(root.selfIssued, true);
    assert.equal(root.subject, root.issuer);
    const int = certFromDer(pki.intermediate.der);
    assert.equal(int.isCA, true);
    assert.equal(int.selfIssued, false);
    assert.equal(int.issuer, 'CN=Test Root CA');
  });

  test('multi-attribute names are one comma-joined line', () => {
    const dir = tempDir();
    const key = join(dir, 'k.pem');
    openssl(['genpkey', '-algorithm', 'ED25519', '-out', key]);
    const pem = openssl([
      'req',
      '-new',
      '-x509',
      '-key',
      key,
      '-days',
      '2',
      '-subj',
      '/C=DE/O=Example, Inc./CN=mail.example.test',
    ]);
    const c = certFromDer(openssl(['x509', '-outform', 'der'], pem));
    assert.equal(c.subject, 'C=DE, O=Example\\, Inc., CN=mail.example.test');
    assert.doesNotMatch(c.subject, /\n/);
  });

  test('bytes that are not exactly one certificate are E_CERT_INVALID', () => {
    const bad = [
      Buffer.from('hello'),
      pki.leaf.der.subarray(0, 100),
      Buffer.concat([pki.leaf.der, Buffer.from([0, 0])]),
      Buffer.from(pki.leaf.certPem), // PEM is not DER
    ];
    for (const b of bad) {
      assert.throws(
        () => certFromDer(b, 'x.der'),
        (e) => isDkError(e) && e.code === 'E_CERT_INVALID' && !e.message.includes('\n'),
      );
    }
  });
});
