/**
 * Checks a key + certificate chain before anything is written: the files a service reads must
 * be a pair it can load, in the order it must send them. Everything here reads only the
 * arguments; the error messages never quote key material.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { DkError, isDkError } from '../core/errors.js';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { issued } from '../core/x509/chain.js';
import { splitPem, toPem } from '../core/x509/pem.js';

export interface PairInput {
  /** the private key, PEM (PKCS#8, PKCS#1 or SEC1), unencrypted: a service reads it unattended */
  keyPem: string;
  /** the chain as the CA returned it: leaf first, then its issuers */
  chainPem: string;
}

/** The files of one version, as written, and the public facts of the pair. */
export interface PreparedPair {
  /** the key exactly as given (re-encoding could change a format a service expects) */
  privkey: string;
  /** every certificate of the chain, re-encoded as clean PEM (no text between blocks) */
  fullchain: string;
  /** the leaf alone */
  cert: string;
  /** the issuers after the leaf; empty when the CA sent the leaf alone */
  chain: string;
  leaf: Cert;
  /** SHA-256 of the leaf's SPKI, lower-case hex: the data of its `3 1 1` record */
  spkiSha256: string;
  /** SHA-256 of the leaf's DER, lower-case hex: tells installed versions apart */
  certSha256: string;
  keyType: string;
}

const refuse = (code: string, message: string) => new DkError('data', code, message);

/**
 * Validates and prepares a pair. Refuses (E_DEPLOY_*) a key that cannot be read, a chain that
 * carries a private key (it would be written world-readable), a chain whose first certificate
 * is not the leaf or whose order is broken, and a key that is not the leaf's.
 */
export function preparePair(input: PairInput): PreparedPair {
  const keyBlocks = safeSplit(input.keyPem, 'the private key');
  const privateBlocks = keyBlocks.filter((b) => /PRIVATE KEY$/.test(b.label));
  if (privateBlocks.length !== 1) {
    throw refuse(
      'E_DEPLOY_KEY_INVALID',
      `Not installed: the private key must be exactly one PEM private key block, found ${privateBlocks.length}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: input.keyPem, format: 'pem' });
  } catch {
    // No reason from OpenSSL here: its text can quote the input.
    throw refuse(
      'E_DEPLOY_KEY_INVALID',
      'Not installed: the private key cannot be read (encrypted or damaged); services load it unattended, so it must be an unencrypted PEM key',
    );
  }
  const chainBlocks = safeSplit(input.chainPem, 'the certificate chain');
  if (chainBlocks.some((b) => /PRIVATE KEY$/.test(b.label))) {
    throw refuse(
      'E_DEPLOY_CHAIN_HAS_KEY',
      'Not installed: the certificate chain holds a private key, and the chain files are world-readable',
    );
  }
  let certs: Cert[];
  try {
    certs = parseCertificates(Buffer.from(input.chainPem, 'utf8'), 'the certificate chain');
  } catch (e) {
    if (!isDkError(e)) throw e;
    throw refuse('E_DEPLOY_CHAIN_INVALID', `Not installed: ${e.message}`);
  }
  const leaf = certs[0]!;
  // RFC 8446 §4.4.2: the sender's certificate MUST come first, each following certificate
  // SHOULD certify the one before it; services send fullchain.pem as it is. An intermediate
  // put first fails here, as certificate 2 did not issue it. A lone certificate is accepted
  // even when it says CA:TRUE: that is how `openssl req -x509` makes DANE-EE certificates.
  for (let i = 1; i < certs.length; i++) {
    if (!issued(certs[i]!, certs[i - 1]!)) {
      throw refuse(
        'E_DEPLOY_CHAIN_ORDER',
        `Not installed: certificate ${i + 1} of the chain (${certs[i]!.subject || 'empty subject'}) did not issue certificate ${i}; the chain must be leaf first, then each issuer`,
      );
    }
  }
  const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  // Compared through node's re-export on both sides: the certificate's own SPKI bytes may
  // encode the same key differently (e.g. RSA parameters NULL vs absent).
  const leafSpki = leaf.x509.publicKey.export({ type: 'spki', format: 'der' });
  if (!keySpki.equals(leafSpki)) {
    throw refuse(
      'E_DEPLOY_KEY_MISMATCH',
      `Not installed: the private key does not belong to the certificate (${leaf.subject || 'empty subject'}); a server would fail every handshake`,
    );
  }
  const pems = certs.map((c) => toPem('CERTIFICATE', c.der));
  const privkey = input.keyPem.endsWith('\n') ? input.keyPem : `${input.keyPem}\n`;
  return {
    privkey,
    fullchain: pems.join(''),
    cert: pems[0]!,
    chain: pems.slice(1).join(''),
    leaf,
    spkiSha256: createHash('sha256').update(leaf.spki).digest('hex'),
    certSha256: createHash('sha256').update(leaf.der).digest('hex'),
    keyType: leaf.keyType,
  };
}

function safeSplit(text: string, what: string) {
  try {
    return splitPem(Buffer.from(text, 'utf8'), what);
  } catch (e) {
    if (!isDkError(e)) throw e;
    throw refuse('E_DEPLOY_PEM_INVALID', `Not installed: ${e.message}`);
  }
}
