/**
 * JSON Web Signature as RFC 8555 §6.2 requires it: flattened JSON serialization, protected
 * header with `alg`, `nonce`, `url` and either `jwk` (newAccount, revocation by key) or `kid`
 * (the account URL). ES256/ES384 signatures are the raw r||s form (RFC 7518 §3.4), not DER.
 */
import { createHash, createHmac, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { DkError } from '../../core/errors.js';

export interface Jws {
  protected: string;
  payload: string;
  signature: string;
}

interface Alg {
  alg: 'ES256' | 'ES384' | 'RS256';
  hash: 'sha256' | 'sha384';
}

function algOf(key: KeyObject): Alg {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return { alg: 'RS256', hash: 'sha256' };
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { alg: 'ES256', hash: 'sha256' };
    if (curve === 'secp384r1') return { alg: 'ES384', hash: 'sha384' };
  }
  throw new DkError(
    'data',
    'E_ACME_ACCOUNT_KEY',
    'Cannot use the ACME account key: only EC P-256, EC P-384 and RSA keys can sign ACME requests',
  );
}

/** Reads an account key PEM; a wrong one is named without echoing it. */
export function accountKey(pem: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    algOf(key);
    return key;
  } catch (e) {
    if (e instanceof DkError) throw e;
    throw new DkError(
      'data',
      'E_ACME_ACCOUNT_KEY',
      'Cannot read the ACME account key: not a private key PEM',
    );
  }
}

/** The public JWK with exactly the required members, in the order RFC 7638 §3.2 hashes them. */
export function publicJwk(key: KeyObject): Record<string, string> {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'EC') return { crv: jwk.crv!, kty: 'EC', x: jwk.x!, y: jwk.y! };
  return { e: jwk.e!, kty: 'RSA', n: jwk.n! };
}

/** RFC 7638 JWK thumbprint, base64url: the account part of every key authorization (RFC 8555 §8.1). */
export function thumbprint(key: KeyObject): string {
  return createHash('sha256')
    .update(JSON.stringify(publicJwk(key)))
    .digest('base64url');
}

function b64json(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

/**
 * Signs `payload` for `url`. `payload` undefined is POST-as-GET (RFC 8555 §6.3: the empty
 * string, not "{}").
 */
export function signJws(
  key: KeyObject,
  header: { nonce: string; url: string; kid?: string },
  payload: unknown,
): Jws {
  const { alg, hash } = algOf(key);
  const prot: Record<string, unknown> = { alg, nonce: header.nonce, url: header.url };
  if (header.kid !== undefined) prot.kid = header.kid;
  else prot.jwk = publicJwk(key);
  const p = b64json(prot);
  const body = payload === undefined ? '' : b64json(payload);
  const input = Buffer.from(`${p}.${body}`);
  const signature = sign(hash, input, {
    key,
    dsaEncoding: 'ieee-p1363',
  }).toString('base64url');
  return { protected: p, payload: body, signature };
}

/**
 * RFC 8555 §7.3.4: the external account binding is a JWS over the account's public JWK, MACed
 * with the CA-issued key (base64url) under the CA-issued key id, with no nonce.
 */
export function eabJws(key: KeyObject, eab: { kid: string; hmacKey: string }, url: string): Jws {
  const p = b64json({ alg: 'HS256', kid: eab.kid, url });
  const body = b64json(publicJwk(key));
  const mac = createHmac('sha256', Buffer.from(eab.hmacKey, 'base64url'))
    .update(`${p}.${body}`)
    .digest('base64url');
  return { protected: p, payload: body, signature: mac };
}
