/**
 * The CSR (RFC 2986) and the ARI CertID (RFC 9773 §4.1), checked against OpenSSL.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ariCertId, issuedFacts } from './certid.js';
import { makeCsr } from './csr.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-acme-csr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pem(label: string, der: Buffer): string {
  const lines = der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

function keyPem(type: 'p256' | 'p384' | 'rsa'): string {
  const k =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: type === 'p256' ? 'P-256' : 'P-384' });
  return k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

describe('makeCsr', () => {
  for (const type of ['p256', 'p384', 'rsa'] as const) {
    it(`${type}: OpenSSL verifies the signature and reads every name and the key`, () => {
      const key = keyPem(type);
      const file = join(dir, `${type}.csr`);
      writeFileSync(
        file,
        pem('CERTIFICATE REQUEST', makeCsr(key, ['mail.example.org', 'example.org'])),
      );
      const text = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-text'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      assert.match(text, /Subject: CN\s*=\s*mail\.example\.org/);
      assert.match(text, /DNS:mail\.example\.org, DNS:example\.org/);
      const pub = execFileSync('openssl', ['req', '-in', file, '-noout', '-pubkey'], {
        encoding: 'utf8',
      });
      const keyPub = execFileSync('openssl', ['pkey', '-pubout'], { input: key, encoding: 'utf8' });
      assert.equal(pub, keyPub, 'the request carries the given key');
    });
  }

  it('a first name longer than 64 characters goes to subjectAltName only', () => {
    const long = `${'a'.repeat(60)}.example.org`;
    const file = join(dir, 'long.csr');
    writeFileSync(file, pem('CERTIFICATE REQUEST', makeCsr(keyPem('p256'), [long])));
    const text = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-text'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.doesNotMatch(text, /CN\s*=/);
    assert.ok(text.includes(`DNS:${long}`));
  });

  it('refuses no names and a key that is not a private key, without echoing it', () => {
    assert.throws(() => makeCsr(keyPem('p256'), []), { code: 'E_ACME_CSR_NAMES' });
    assert.throws(
      () =>
        makeCsr('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', ['a.example']),
      (e: Error) => {
        assert.equal((e as { code?: string }).code, 'E_ACME_CSR_KEY');
        assert.doesNotMatch(e.message, /AAAA/);
        return true;
      },
    );
  });
});

describe('ariCertId', () => {
  it('RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial content octets, leading zero kept)', () => {
    const key = join(dir, 'ari.key');
    writeFileSync(key, keyPem('p256'));
    const certPem = execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-new',
        '-key',
        key,
        '-subj',
        '/CN=ari.example',
        '-days',
        '1',
        '-set_serial',
        '0x87654321',
        '-addext',
        'subjectKeyIdentifier=hash',
        '-addext',
        'authorityKeyIdentifier=keyid:always',
      ],
      { encoding: 'utf8' },
    );
    const text = execFileSync('openssl', ['x509', '-noout', '-ext', 'authorityKeyIdentifier'], {
      input: certPem,
      encoding: 'utf8',
    });
    const keyId = Buffer.from(
      /([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(text)![1]!.replace(/:/g, ''),
      'hex',
    );
    const id = ariCertId(new X509Certificate(certPem).raw);
    // the serial part is the RFC's own example value: 0x87654321 needs a leading zero octet
    assert.equal(id, `${keyId.toString('base64url')}.AIdlQyE`);
    const facts = issuedFacts(certPem);
    assert.equal(facts.certId, id);
    assert.equal(facts.serial, '87654321');
  });

  it('no AKI: null (the caller falls back to a third of the lifetime)', () => {
    const key = join(dir, 'noaki.key');
    writeFileSync(key, keyPem('p256'));
    const certPem = execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-new',
        '-key',
        key,
        '-subj',
        '/CN=x',
        '-days',
        '1',
        '-addext',
        'authorityKeyIdentifier=none',
        '-addext',
        'subjectKeyIdentifier=none',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(ariCertId(new X509Certificate(certPem).raw), null);
  });
});
