import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { isDkError } from '../errors.js';
import { makeKey, makePki, openssl, tempDir, type Pki } from '../../../test/support/pki.js';
import { parseKey } from './key.js';

let dir: string;
let pki: Pki;
const keyFile: Record<string, string> = {};

before(() => {
  dir = tempDir();
  pki = makePki(dir);
  for (const alg of ['rsa2048', 'p384', 'p521', 'ed25519', 'ed448'] as const) {
    keyFile[alg] = join(dir, `${alg}.key`);
    makeKey(keyFile[alg], alg);
  }
  keyFile.p256 = pki.leaf.keyFile;
});

/** The SPKI openssl derives from a key file: the reference for every format below. */
const spkiOf = (file: string) => openssl(['pkey', '-in', file, '-pubout', '-outform', 'der']);

function accepts(input: Buffer, alg: string, keyType: string, isPrivate: boolean): void {
  const k = parseKey(input, 'k');
  assert.ok(k.spki.equals(spkiOf(keyFile[alg]!)), `SPKI differs for ${alg}`);
  assert.equal(k.keyType, keyType);
  assert.equal(k.isPrivate, isPrivate);
}

function rejects(input: Buffer | string, code: string, message?: RegExp): void {
  assert.throws(
    () => parseKey(Buffer.from(input), 'in.key'),
    (e) => {
      assert.ok(isDkError(e), `not a DkError: ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.equal(e.kind, 'data');
      assert.doesNotMatch(e.message, /\n/);
      assert.match(e.message, /^in\.key: /);
      if (message) assert.match(e.message, message);
      return true;
    },
  );
}

const TYPES: Record<string, string> = {
  rsa2048: 'rsa 2048',
  p256: 'ec P-256',
  p384: 'ec P-384',
  p521: 'ec P-521',
  ed25519: 'ed25519',
  ed448: 'ed448',
};

describe('parseKey', () => {
  for (const [alg, type] of Object.entries(TYPES)) {
    test(`${alg}: PKCS#8 PEM and DER, SPKI PEM and DER`, () => {
      const f = keyFile[alg]!;
      accepts(openssl(['pkey', '-in', f]), alg, type, true);
      accepts(openssl(['pkey', '-in', f, '-outform', 'der']), alg, type, true);
      accepts(openssl(['pkey', '-in', f, '-pubout']), alg, type, false);
      accepts(openssl(['pkey', '-in', f, '-pubout', '-outform', 'der']), alg, type, false);
    });
  }

  test('PKCS#1 RSA private and public keys, PEM and DER', () => {
    const f = keyFile.rsa2048!;
    const pem = openssl(['rsa', '-in', f, '-traditional']);
    assert.match(pem.toString(), /BEGIN RSA PRIVATE KEY/);
    accepts(pem, 'rsa2048', 'rsa 2048', true);
    accepts(
      openssl(['rsa', '-in', f, '-traditional', '-outform', 'der']),
      'rsa2048',
      'rsa 2048',
      true,
    );
    const pub = openssl(['rsa', '-in', f, '-RSAPublicKey_out']);
    assert.match(pub.toString(), /BEGIN RSA PUBLIC KEY/);
    accepts(pub, 'rsa2048', 'rsa 2048', false);
    accepts(
      openssl(['rsa', '-in', f, '-RSAPublicKey_out', '-outform', 'der']),
      'rsa2048',
      'rsa 2048',
      false,
    );
  });

  test('SEC1 EC private keys, PEM and DER', () => {
    for (const alg of ['p256', 'p384', 'p521']) {
      const pem = openssl(['ec', '-in', keyFile[alg]!]);
      assert.match(pem.toString(), /BEGIN EC PRIVATE KEY/);
      accepts(pem, alg, TYPES[alg]!, true);
      accepts(openssl(['ec', '-in', keyFile[alg]!, '-outform', 'der']), alg, TYPES[alg]!, true);
    }
  });

  test('a key next to certificates (Postfix chain file) is found', () => {
    const text = pki.leaf.certPem + 'comment\r\n' + pki.leaf.keyPem + pki.intermediate.certPem;
    accepts(Buffer.from(text), 'p256', 'ec P-256', true);
  });

  test('encrypted keys fail fast with a hint and never prompt', () => {
    const f = keyFile.p256!;
    const inputs = [
      openssl(['pkey', '-in', f, '-aes256', '-passout', 'pass:x']),
      openssl(['ec', '-in', f, '-aes256', '-passout', 'pass:x']), // Proc-Type: 4,ENCRYPTED
      openssl(['rsa', '-in', keyFile.rsa2048!, '-traditional', '-aes256', '-passout', 'pass:x']),
      openssl([
        'pkcs8',
        '-topk8',
        '-in',
        f,
        '-v2',
        'aes256',
        '-passout',
        'pass:x',
        '-outform',
        'der',
      ]),
    ];
    assert.match(inputs[0]!.toString(), /ENCRYPTED PRIVATE KEY/);
    assert.match(inputs[1]!.toString(), /Proc-Type: 4,ENCRYPTED/);
    for (const input of inputs) {
      const t0 = performance.now();
      rejects(
        input,
        'E_KEY_ENCRYPTED',
        /the private key is encrypted; decrypt it first \(openssl pkey/,
      );
      assert.ok(performance.now() - t0 < 1000);
    }
  });

  test('a certificate or a CSR where a key is expected', () => {
    rejects(pki.leaf.certPem, 'E_KEY_EXPECTED_GOT_CERT', /contains a certificate, not a key/);
    rejects(pki.leaf.der, 'E_KEY_EXPECTED_GOT_CERT');
    const csr = openssl(['req', '-new', '-key', pki.leaf.keyFile, '-subj', '/CN=x']);
    rejects(csr, 'E_KEY_EXPECTED_GOT_CSR');
    rejects(openssl(['req', '-in', '-', '-outform', 'der'], csr), 'E_KEY_EXPECTED_GOT_CSR');
  });

  test('empty, garbage, truncated and damaged input', () => {
    rejects('', 'E_EMPTY_INPUT', /file is empty/);
    rejects('\n \n', 'E_EMPTY_INPUT');
    rejects('hello\n', 'E_NOT_PEM_OR_DER');
    const pem = pki.leaf.keyPem;
    rejects(pem.slice(0, 60), 'E_PEM_TRUNCATED', /has no END line/);
    rejects(pem.replace(/\n[A-Za-z0-9+/]{8}/, '\n*'), 'E_PEM_BASE64');
    const der = openssl(['pkey', '-in', pki.leaf.keyFile, '-outform', 'der']);
    rejects(der.subarray(0, der.length - 5), 'E_DER_TRUNCATED');
    rejects(Buffer.concat([der, Buffer.from('xx')]), 'E_DER_TRAILING');
    rejects(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]), 'E_KEY_INVALID');
    const junk = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]).toString('base64');
    rejects(`-----BEGIN PRIVATE KEY-----\n${junk}\n-----END PRIVATE KEY-----\n`, 'E_KEY_INVALID');
    rejects(
      '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
      'E_KEY_INVALID',
      /OpenSSH-format keys are not supported/,
    );
  });

  test('several keys, or PEM without a key', () => {
    const two = pki.leaf.keyPem + pki.intermediate.keyPem;
    rejects(two, 'E_KEY_MULTIPLE', /contains 2 keys/);
    rejects(
      '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n',
      'E_KEY_MISSING',
    );
  });

  test('EC PARAMETERS before the key (openssl ecparam -genkey) are skipped', () => {
    const out = openssl(['ecparam', '-name', 'prime256v1', '-genkey']);
    assert.match(out.toString(), /EC PARAMETERS[\s\S]*EC PRIVATE KEY/);
    const k = parseKey(out, 'ec.key');
    assert.equal(k.keyType, 'ec P-256');
    assert.ok(k.spki.equals(openssl(['pkey', '-pubout', '-outform', 'der'], out)));
  });
});
