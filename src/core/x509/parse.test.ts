import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { isDkError } from '../errors.js';
import { makePki, openssl, tempDir, type Pki } from '../../../test/support/pki.js';
import { parseCertificates } from './parse.js';

let pki: Pki;
let dir: string;

before(() => {
  dir = tempDir();
  pki = makePki(dir);
});

function rejects(input: Buffer | string, code: string, message?: RegExp): void {
  assert.throws(
    () => parseCertificates(Buffer.from(input), 'in.pem'),
    (e) => {
      assert.ok(isDkError(e), `not a DkError: ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.equal(e.kind, 'data');
      assert.doesNotMatch(e.message, /\n/);
      assert.match(e.message, /^in\.pem: /);
      if (message) assert.match(e.message, message);
      return true;
    },
  );
}

describe('parseCertificates', () => {
  test('a PEM bundle yields every certificate, in file order, with exact DER', () => {
    const text = pki.leaf.certPem + pki.intermediate.certPem + pki.root.certPem;
    const certs = parseCertificates(Buffer.from(text), 'chain.pem');
    assert.deepEqual(
      certs.map((c) => c.der),
      [pki.leaf.der, pki.intermediate.der, pki.root.der],
    );
  });

  test('text around blocks, CRLF line ends and a skipped private key are fine', () => {
    const text = [
      'subject=CN=mail.example.test',
      pki.leaf.certPem,
      'some comment',
      pki.leaf.keyPem, // a Postfix chain file holds the key too
      pki.intermediate.certPem,
    ]
      .join('\n')
      .replace(/\n/g, '\r\n');
    const certs = parseCertificates(Buffer.from(text), 'bundle.pem');
    assert.deepEqual(
      certs.map((c) => c.subject),
      ['CN=mail.example.test', 'CN=Test Intermediate'],
    );
  });

  test('text that starts with "0" (the DER SEQUENCE byte) before PEM is still PEM', () => {
    const certs = parseCertificates(Buffer.from('0: leaf\n' + pki.leaf.certPem), 'in.pem');
    assert.ok(certs[0]!.der.equals(pki.leaf.der));
  });

  test('DER in a file named .pem is read by content', () => {
    const file = join(dir, 'really-der.pem');
    writeFileSync(file, pki.leaf.der);
    const certs = parseCertificates(readFileSync(file), file);
    assert.equal(certs.length, 1);
    assert.ok(certs[0]!.der.equals(pki.leaf.der));
  });

  test('concatenated DER certificates are all read', () => {
    const certs = parseCertificates(Buffer.concat([pki.leaf.der, pki.intermediate.der]), 'x.der');
    assert.deepEqual(
      certs.map((c) => c.der),
      [pki.leaf.der, pki.intermediate.der],
    );
  });

  test('TRUSTED CERTIFICATE (OpenSSL trust settings appended) yields the certificate', () => {
    const pem = openssl(['x509', '-in', pki.root.certFile, '-trustout', '-addtrust', 'serverAuth']);
    assert.match(pem.toString(), /BEGIN TRUSTED CERTIFICATE/);
    const certs = parseCertificates(pem, 'root.pem');
    assert.ok(certs[0]!.der.equals(pki.root.der));
  });

  test('empty or whitespace-only input', () => {
    rejects('', 'E_EMPTY_INPUT', /file is empty/);
    rejects(' \r\n\n', 'E_EMPTY_INPUT');
  });

  test('a private or public key where a certificate is expected', () => {
    rejects(
      pki.leaf.keyPem,
      'E_CERT_EXPECTED_GOT_KEY',
      /contains a private key, not a certificate/,
    );
    const pub = openssl(['pkey', '-in', pki.leaf.keyFile, '-pubout']);
    rejects(pub, 'E_CERT_EXPECTED_GOT_KEY', /contains a public key, not a certificate/);
    const derKey = openssl(['pkey', '-in', pki.leaf.keyFile, '-outform', 'der']);
    rejects(derKey, 'E_CERT_EXPECTED_GOT_KEY', /private key/);
    const derPub = openssl(['pkey', '-in', pki.leaf.keyFile, '-pubout', '-outform', 'der']);
    rejects(derPub, 'E_CERT_EXPECTED_GOT_KEY', /public key/);
  });

  test('a CSR, in PEM or DER', () => {
    const csr = openssl(['req', '-new', '-key', pki.leaf.keyFile, '-subj', '/CN=x']);
    rejects(csr, 'E_CERT_EXPECTED_GOT_CSR', /certificate request/);
    rejects(openssl(['req', '-in', '-', '-outform', 'der'], csr), 'E_CERT_EXPECTED_GOT_CSR');
  });

  test('truncated PEM: BEGIN without END', () => {
    const pem = pki.leaf.certPem;
    rejects(pem.slice(0, pem.length / 2), 'E_PEM_TRUNCATED', /line 1 has no END line/);
    // a cut-off block followed by a complete one is still the first block's fault
    rejects(pem.slice(0, 200) + '\n' + pki.intermediate.certPem, 'E_PEM_TRUNCATED');
  });

  test('truncated PEM: lines missing from the middle of the base64', () => {
    const lines = pki.leaf.certPem.trim().split('\n');
    const cut = [...lines.slice(0, 3), ...lines.slice(-2)].join('\n') + '\n';
    assert.throws(
      () => parseCertificates(Buffer.from(cut), 'in.pem'),
      (e) =>
        isDkError(e) &&
        ['E_DER_TRUNCATED', 'E_PEM_BASE64'].includes(e.code) &&
        !e.message.includes('\n'),
    );
    // whole 64-character lines removed keep the base64 valid: the DER length catches it
    const whole = [...lines.slice(0, 3), ...lines.slice(-1)].join('\n') + '\n';
    rejects(whole, 'E_DER_TRUNCATED', /certificate 1 \(line 1\) is truncated/);
  });

  test('bad base64 and a block that decodes to something other than a certificate', () => {
    rejects(
      '-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n',
      'E_PEM_BASE64',
    );
    rejects('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', 'E_PEM_BASE64');
    const notCert = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]).toString('base64');
    rejects(
      `-----BEGIN CERTIFICATE-----\n${notCert}\n-----END CERTIFICATE-----\n`,
      'E_CERT_INVALID',
      /certificate 1 \(line 1\): not a valid X\.509 certificate/,
    );
  });

  test('garbage and truncated DER', () => {
    rejects('hello world\n', 'E_NOT_PEM_OR_DER');
    rejects(Buffer.from([0xff, 0x00, 0x13]), 'E_NOT_PEM_OR_DER');
    rejects(pki.leaf.der.subarray(0, pki.leaf.der.length - 10), 'E_DER_TRUNCATED');
    rejects(Buffer.concat([pki.leaf.der, Buffer.from('junk')]), 'E_DER_TRAILING');
  });

  test('PEM with no certificate names what it found', () => {
    rejects(
      '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n',
      'E_CERT_MISSING',
      /X509 CRL/,
    );
    rejects('-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n', 'E_CERT_MISSING', /pkcs7/);
  });
});
