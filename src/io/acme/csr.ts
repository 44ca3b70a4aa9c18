/**
 * A PKCS #10 certificate request (RFC 2986) made from the domain's own key, so the key can
 * outlive renewals (RFC 7671 §8.1: a `3 1 1` record stays valid across them). node:crypto
 * signs but cannot build a CSR; this is the few DER structures it needs (X.690 §8, §10).
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { DkError } from '../../core/errors.js';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'));

const OID_CN = oid('550403');
const OID_EXTENSION_REQUEST = oid('2a864886f70d01090e');
const OID_SUBJECT_ALT_NAME = oid('551d11');
const ALG_ECDSA_SHA256 = seq(oid('2a8648ce3d040302'));
const ALG_ECDSA_SHA384 = seq(oid('2a8648ce3d040303'));
const ALG_RSA_SHA256 = seq(oid('2a864886f70d01010b'), Buffer.from([0x05, 0x00]));

function signatureAlg(key: KeyObject): { alg: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'rsa') return { alg: ALG_RSA_SHA256, hash: 'sha256' };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { alg: ALG_ECDSA_SHA256, hash: 'sha256' };
    if (curve === 'secp384r1') return { alg: ALG_ECDSA_SHA384, hash: 'sha384' };
  }
  throw new DkError(
    'data',
    'E_ACME_CSR_KEY',
    'Cannot make a certificate request: the key is not EC P-256, EC P-384 or RSA',
  );
}

/**
 * The CSR's DER for `names` (the first one is also the subject's CN when it fits, RFC 5280
 * ub-common-name 64; the CA takes the names from subjectAltName, RFC 8555 §7.4).
 */
export function makeCsr(keyPem: string, names: string[]): Buffer {
  if (names.length === 0) {
    throw new DkError(
      'usage',
      'E_ACME_CSR_NAMES',
      'Cannot make a certificate request for no names',
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new DkError(
      'data',
      'E_ACME_CSR_KEY',
      'Cannot make a certificate request: the key is not a private key PEM',
    );
  }
  const { alg, hash } = signatureAlg(key);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const cn = names[0]!;
  const subject =
    cn.length <= 64 ? seq(tlv(0x31, seq(OID_CN, tlv(0x0c, Buffer.from(cn, 'utf8'))))) : seq();
  // RFC 5280 §4.2.1.6: dNSName is [2] IMPLICIT IA5String.
  const san = seq(...names.map((n) => tlv(0x82, Buffer.from(n, 'ascii'))));
  const extensions = seq(seq(OID_SUBJECT_ALT_NAME, tlv(0x04, san)));
  const attributes = tlv(0xa0, seq(OID_EXTENSION_REQUEST, tlv(0x31, extensions)));
  const info = seq(Buffer.from([0x02, 0x01, 0x00]), subject, spki, attributes);
  const sig = sign(hash, info, { key, dsaEncoding: 'der' });
  return seq(info, alg, tlv(0x03, Buffer.from([0]), sig));
}
