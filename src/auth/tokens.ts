/**
 * Bearer secrets: API tokens and panel session ids (issue 11). Each is 32 random bytes
 * (256 bits), so the store keeps only its SHA-256: with nothing to guess, a slow hash would
 * add cost and no safety, and a stolen database still logs nobody in.
 *
 * API tokens carry a recognisable prefix (`dk_`) so secret scanners and people can tell what
 * leaked; each has a separate short public id (`tok_…`) for `token list` and `token revoke`,
 * which is never enough to use it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'dk_';
const SECRET_BYTES = 32;
// base64url of 32 bytes: 43 characters, no padding (RFC 4648 §5).
const TOKEN_RE = /^dk_[A-Za-z0-9_-]{43}$/;
const TOKEN_ID_RE = /^tok_[0-9a-f]{12}$/;

export const sha256Hex = (s: string): string =>
  createHash('sha256').update(s, 'utf8').digest('hex');

export interface NewToken {
  /** public, for list and revoke */
  id: string;
  /** the secret: shown once, never stored */
  token: string;
  /** what the store keeps */
  sha256: string;
}

export function newApiToken(): NewToken {
  const token = TOKEN_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
  return { id: `tok_${randomBytes(6).toString('hex')}`, token, sha256: sha256Hex(token) };
}

/** The shape check before any lookup: anything else is refused without touching the store. */
export const isApiToken = (s: string): boolean => TOKEN_RE.test(s);
export const isTokenId = (s: string): boolean => TOKEN_ID_RE.test(s);

/** `Authorization: Bearer dk_…` → the token; null for any other header (RFC 6750 §2.1). */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m && isApiToken(m[1]!) ? m[1]! : null;
}

export interface NewSession {
  /** goes in the cookie only */
  id: string;
  /** what the store keeps */
  sha256: string;
  /** per session, for the CSRF check of every state-changing request */
  csrfSecret: string;
}

export function newSession(): NewSession {
  const id = randomBytes(SECRET_BYTES).toString('base64url');
  return { id, sha256: sha256Hex(id), csrfSecret: randomBytes(SECRET_BYTES).toString('base64url') };
}

/** Constant-time string equality (both sides hashed first, so lengths leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a, 'utf8').digest();
  const y = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}
