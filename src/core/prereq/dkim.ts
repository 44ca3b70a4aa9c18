/**
 * Is a TXT record at `SELECTOR._domainkey.DOMAIN` a usable DKIM public key? The key record's
 * tag list (RFC 6376 §3.6.1) is parsed as a verifier would, and the key itself is read with
 * node:crypto to prove it is a key, not just base64.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

export interface DkimKeyCheck {
  /** valid: a verifier can use it; revoked: `p=` is empty; invalid: a verifier ignores it */
  state: 'valid' | 'revoked' | 'invalid';
  /** `k=` (default rsa); null when the tag list could not be read */
  keyType: string | null;
  /** RSA modulus length; null for other key types or no key */
  bits: number | null;
  /** why it is revoked or invalid */
  problem?: string;
  /** valid, but worth fixing */
  warnings: string[];
}

/** RFC 8410 §4: SubjectPublicKeyInfo header of an Ed25519 key; the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * RFC 6376 §3.2 tag-list: `tag=value` separated by `;`, white space (FWS) around tags and
 * values ignored. null when malformed: a tag without `=`, a bad tag name, a duplicate tag
 * ("the entire tag-list is invalid").
 */
export function parseTagList(text: string): Map<string, string> | null {
  const tags = new Map<string, string>();
  const parts = text.split(';');
  // a trailing `;` is allowed (§3.2: tag-list = tag-spec *( ";" tag-spec ) [ ";" ])
  if (parts.length > 1 && parts[parts.length - 1]!.trim() === '') parts.pop();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    const name = part.slice(0, eq).trim();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return null;
    if (tags.has(name)) return null;
    tags.set(name, part.slice(eq + 1).trim());
  }
  return tags;
}

const invalid = (problem: string, keyType: string | null = null): DkimKeyCheck => ({
  state: 'invalid',
  keyType,
  bits: null,
  problem,
  warnings: [],
});

function readKey(keyType: string, der: Buffer): { key: KeyObject; warning?: string } | string {
  if (keyType === 'ed25519') {
    // RFC 8463 §4.2: p= holds the bare 32-byte Ed25519 public key, not a SubjectPublicKeyInfo.
    if (der.length !== 32) {
      return `an ed25519 key is 32 bytes, this p= holds ${der.length}`;
    }
    try {
      return {
        key: createPublicKey({
          key: Buffer.concat([ED25519_SPKI_PREFIX, der]),
          format: 'der',
          type: 'spki',
        }),
      };
    } catch {
      return 'p= is not an ed25519 public key';
    }
  }
  // RFC 6376 §3.6.1: for rsa, p= is the DER SubjectPublicKeyInfo (`openssl rsa -pubout`).
  try {
    const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'rsa') {
      return `p= holds a ${key.asymmetricKeyType ?? 'non-RSA'} key, but k= says rsa`;
    }
    return { key };
  } catch {
    try {
      // Some generators publish the bare RSAPublicKey (PKCS#1); many verifiers read it too.
      const key = createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
      return {
        key,
        warning:
          'p= holds a bare RSAPublicKey (PKCS#1), not the SubjectPublicKeyInfo RFC 6376 §3.6.1 names: some verifiers reject it',
      };
    } catch {
      return 'p= is not an RSA public key (the base64 decodes to something else)';
    }
  }
}

/** Judges one DKIM key record (one TXT RR's strings, joined). */
export function checkDkimKey(text: string): DkimKeyCheck {
  const tags = parseTagList(text);
  if (!tags) return invalid('the record is not a DKIM tag list (tag=value; ...)');
  // RFC 6376 §3.6.1 v=: optional, but when present it is DKIM1 and the first tag.
  const v = tags.get('v');
  if (v !== undefined && (v !== 'DKIM1' || [...tags.keys()][0] !== 'v')) {
    return invalid(
      v === 'DKIM1' ? 'v=DKIM1 must be the first tag' : `v=${v} is not DKIM1: not a DKIM key`,
    );
  }
  const p = tags.get('p');
  if (p === undefined) return invalid('the record has no p= tag (the public key)');
  const keyType = (tags.get('k') ?? 'rsa').toLowerCase();
  // RFC 6376 §3.6.1: "An empty value means that this public key has been revoked."
  const b64 = p.replace(/\s+/g, '');
  if (b64 === '') {
    return {
      state: 'revoked',
      keyType,
      bits: null,
      problem: 'p= is empty: the key is revoked',
      warnings: [],
    };
  }
  // RFC 6376 §3.6.1 / RFC 8463 §4.2: rsa and ed25519 are the registered key types.
  if (keyType !== 'rsa' && keyType !== 'ed25519') {
    return invalid(`k=${keyType} is not a DKIM key type (rsa or ed25519)`, keyType);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    return invalid('p= is not valid base64', keyType);
  }
  // RFC 6376 §3.6.1 s=: a key restricted to other services is not for e-mail.
  const s = tags.get('s');
  if (s !== undefined && !s.split(':').some((x) => ['*', 'email'].includes(x.trim()))) {
    return invalid(`s=${s} excludes e-mail`, keyType);
  }
  // RFC 8301 §3.1: rsa-sha1 MUST NOT be used; a key limited to it verifies nothing.
  const h = tags.get('h');
  if (h !== undefined && !h.split(':').some((x) => x.trim().toLowerCase() === 'sha256')) {
    return invalid(`h=${h} allows no sha256: rsa-sha1 signatures are no longer accepted`, keyType);
  }
  const read = readKey(keyType, Buffer.from(b64, 'base64'));
  if (typeof read === 'string') return invalid(read, keyType);
  const warnings = read.warning ? [read.warning] : [];
  let bits: number | null = null;
  if (keyType === 'rsa') {
    bits = read.key.asymmetricKeyDetails?.modulusLength ?? null;
    // RFC 8301 §3.2: verifiers MUST NOT accept keys under 1024 bits; signers SHOULD use 2048.
    if (bits !== null && bits < 1024) {
      return {
        ...invalid(`the RSA key has ${bits} bits, under the 1024 of RFC 8301 §3.2`, 'rsa'),
        bits,
      };
    }
    if (bits !== null && bits < 2048) {
      warnings.push(`the RSA key has ${bits} bits; RFC 8301 §3.2 recommends 2048`);
    }
  }
  // RFC 6376 §3.6.1 t=y: testing; verifiers must not treat mail differently because of it.
  const t = tags.get('t');
  if (t !== undefined && t.split(':').some((x) => x.trim() === 'y')) {
    warnings.push(
      't=y: the domain says it is testing DKIM, so verifiers give the signature no weight',
    );
  }
  return { state: 'valid', keyType, bits, warnings };
}
