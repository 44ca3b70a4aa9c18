/**
 * Reads a private or public key (PEM or DER) and returns its SubjectPublicKeyInfo, which is
 * what a TLSA record with selector 1 (SPKI, RFC 6698 §2.1.2) is computed over. Taking the
 * SPKI from node's exporter, not from `openssl rsa -pubout`, is deliberate: the seeds' `openssl
 * rsa` pipeline is wrong for ECDSA keys.
 *
 * A certificate given where a key is expected is an error (E_KEY_EXPECTED_GOT_CERT), not
 * silently accepted: the caller asked for a key (e.g. the "next key" of a 3 1 1 rollover
 * pair), and taking the current certificate's key instead would publish the same key twice
 * while the user believes a spare is ready. Callers that accept either call parseCertificates.
 */
import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  type PrivateKeyInput,
  type PublicKeyInput,
} from 'node:crypto';
import { DkError } from '../errors.js';
import { looksLikeCsr, looksLikeEncryptedPkcs8, readTlv } from './der.js';
import { byFormat, pemBytes, splitPem, toPem, type PemBlock } from './pem.js';

export interface KeyInfo {
  /** SubjectPublicKeyInfo DER */
  spki: Buffer;
  /** 'rsa 2048', 'ec P-256', 'ed25519', ... (see keyTypeOf) */
  keyType: string;
  isPrivate: boolean;
}

/** Human-readable key type: 'rsa 2048', 'ec P-256', 'ed25519', 'ed448', 'rsa-pss 3072' ... */
export function keyTypeOf(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails ?? {};
  if (d.modulusLength !== undefined) return `${type} ${d.modulusLength}`;
  if (d.namedCurve !== undefined) return `${type} ${CURVES[d.namedCurve] ?? d.namedCurve}`;
  return type;
}

/** OpenSSL short names -> the NIST names people know (FIPS 186-4 §D.1.2). */
const CURVES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/** PEM labels that hold a key, mapped to whether the key is private. */
const KEY_LABELS: Record<string, boolean> = {
  'PRIVATE KEY': true, // PKCS#8, RFC 5958
  'RSA PRIVATE KEY': true, // PKCS#1, RFC 8017 appendix A.1.2
  'EC PRIVATE KEY': true, // SEC1, RFC 5915
  'DSA PRIVATE KEY': true,
  'ENCRYPTED PRIVATE KEY': true, // RFC 5958 §3
  'OPENSSH PRIVATE KEY': true,
  'PUBLIC KEY': false, // SPKI, RFC 5280 §4.1.2.7
  'RSA PUBLIC KEY': false, // PKCS#1
};

export const CERT_LABELS = new Set([
  'CERTIFICATE',
  'TRUSTED CERTIFICATE',
  // legacy labels parsers may accept, RFC 7468 §5.1
  'X509 CERTIFICATE',
  'X.509 CERTIFICATE',
]);
export const CSR_LABELS = new Set(['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);

/** Whether a PEM label names a key; undefined when it does not, else whether it is private. */
export function keyLabel(label: string): boolean | undefined {
  return KEY_LABELS[label];
}

export function parseKey(input: Buffer, source: string): KeyInfo {
  return byFormat(input, source, {
    der: fromDer,
    pem: fromPem,
    neither: 'not a key: neither a PEM block nor DER data was found',
  });
}

function fromPem(input: Buffer, source: string): KeyInfo {
  const blocks = splitPem(input, source);
  const keys = blocks.filter((b) => keyLabel(b.label) !== undefined);
  if (keys.length === 0) {
    if (blocks.some((b) => CERT_LABELS.has(b.label))) {
      throw new DkError(
        'data',
        'E_KEY_EXPECTED_GOT_CERT',
        `${source}: contains a certificate, not a key`,
      );
    }
    if (blocks.some((b) => CSR_LABELS.has(b.label))) {
      throw new DkError(
        'data',
        'E_KEY_EXPECTED_GOT_CSR',
        `${source}: contains a certificate request, not a key`,
      );
    }
    const found = blocks.map((b) => b.label).join(', ');
    throw new DkError('data', 'E_KEY_MISSING', `${source}: contains no key (found ${found})`);
  }
  if (keys.length > 1) {
    // Postfix chain files may hold an RSA and an ECDSA key; picking one silently could
    // compute the record for the wrong one.
    throw new DkError(
      'data',
      'E_KEY_MULTIPLE',
      `${source}: contains ${keys.length} keys; give a file with exactly one`,
    );
  }
  const block = keys[0]!;
  if (
    block.label === 'ENCRYPTED PRIVATE KEY' ||
    block.headers.some((h) => /^Proc-Type:\s*4\s*,\s*ENCRYPTED/i.test(h))
  ) {
    throw encrypted(source);
  }
  if (block.label === 'OPENSSH PRIVATE KEY') {
    throw new DkError(
      'data',
      'E_KEY_INVALID',
      `${source}: OpenSSH-format keys are not supported; convert it (ssh-keygen -p -m PKCS8 -f KEY)`,
    );
  }
  const der = pemBytes(block, source);
  checkDerLength(der, block, source);
  const isPrivate = keyLabel(block.label)!;
  // One canonical block, so node can neither see other blocks nor text around them.
  const pem = toPem(block.label, der);
  try {
    const key = isPrivate ? createPrivateKey(pem) : createPublicKey(pem);
    return info(key, isPrivate);
  } catch (e) {
    throw invalid(source, e, `PEM block "${block.label}" at line ${block.line}`);
  }
}

function fromDer(der: Buffer, source: string): KeyInfo {
  const end = readTlv(der, 0)!.end;
  if (end < der.length) {
    throw new DkError(
      'data',
      'E_DER_TRAILING',
      `${source}: ${der.length - end} bytes of trailing data after the DER key`,
      { offset: end },
    );
  }
  const found = keyFromDer(der);
  if (found === 'encrypted') throw encrypted(source);
  if (found) return info(found.key, found.isPrivate);
  if (isCertificateDer(der)) {
    throw new DkError(
      'data',
      'E_KEY_EXPECTED_GOT_CERT',
      `${source}: contains a certificate, not a key`,
    );
  }
  if (looksLikeCsr(der)) {
    throw new DkError(
      'data',
      'E_KEY_EXPECTED_GOT_CSR',
      `${source}: contains a certificate request, not a key`,
    );
  }
  throw new DkError(
    'data',
    'E_KEY_INVALID',
    `${source}: DER data is not a PKCS#8, PKCS#1, SEC1 or SPKI key`,
  );
}

/**
 * DER carries no label, so try each encoding node knows. Returns 'encrypted' for an
 * EncryptedPrivateKeyInfo, undefined when nothing fits. Used by parse.ts too, to say "this
 * is a key" when a certificate was expected.
 */
export function keyFromDer(
  der: Buffer,
): { key: KeyObject; isPrivate: boolean } | 'encrypted' | undefined {
  if (looksLikeEncryptedPkcs8(der)) return 'encrypted';
  const privates: PrivateKeyInput[] = [
    { key: der, format: 'der', type: 'pkcs8' },
    { key: der, format: 'der', type: 'pkcs1' },
    { key: der, format: 'der', type: 'sec1' },
  ];
  for (const p of privates) {
    try {
      return { key: createPrivateKey(p), isPrivate: true };
    } catch {
      // try the next encoding
    }
  }
  const publics: PublicKeyInput[] = [
    { key: der, format: 'der', type: 'spki' },
    { key: der, format: 'der', type: 'pkcs1' },
  ];
  for (const p of publics) {
    try {
      return { key: createPublicKey(p), isPrivate: false };
    } catch {
      // try the next encoding
    }
  }
  return undefined;
}

function isCertificateDer(der: Buffer): boolean {
  try {
    // raw must equal the input: X509Certificate also looks for PEM inside the bytes.
    return new X509Certificate(der).raw.equals(der);
  } catch {
    return false;
  }
}

function info(key: KeyObject, isPrivate: boolean): KeyInfo {
  const pub = isPrivate ? createPublicKey(key) : key;
  return {
    spki: pub.export({ type: 'spki', format: 'der' }),
    keyType: keyTypeOf(pub),
    isPrivate,
  };
}

function checkDerLength(der: Buffer, block: PemBlock, source: string): void {
  const t = readTlv(der, 0);
  if (t && t.end > der.length) {
    throw new DkError(
      'data',
      'E_DER_TRUNCATED',
      `${source}: PEM block "${block.label}" at line ${block.line} is truncated`,
      { offset: block.offset },
    );
  }
}

function encrypted(source: string): DkError {
  // Never ask for a passphrase: danekeeper runs unattended (the "keep secured" task), and
  // node's own callback fails with "interrupted or cancelled", which tells the user nothing.
  return new DkError(
    'data',
    'E_KEY_ENCRYPTED',
    `${source}: the private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)`,
  );
}

function invalid(source: string, e: unknown, what: string): DkError {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ERR_MISSING_PASSPHRASE' || code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED') {
    return encrypted(source);
  }
  return new DkError('data', 'E_KEY_INVALID', `${source}: ${what} is not a valid key${reason(e)}`, {
    cause: e,
  });
}

/** Node's OpenSSL message without its "error:0480006C:PEM routines::" prefix, when short. */
export function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : '';
  const short = msg
    .replace(/^error:[0-9A-Fa-f]+:[^:]*::?/, '')
    .split('\n')[0]!
    .trim();
  return short !== '' && short.length <= 80 ? `: ${short}` : '';
}
