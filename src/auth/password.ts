/**
 * Password hashing for panel accounts (issue 11): scrypt from node:crypto, stored as a versioned
 * PHC-style string so the parameters can grow later without breaking stored hashes:
 *
 *   $scrypt$v=1$ln=15,r=8,p=1$SALT$HASH        (SALT 16 bytes, HASH 32 bytes, base64 unpadded)
 *
 * RFC 7914 §2: N = 2^ln must be a power of two; r and p as given. ln=15, r=8, p=1 is the
 * OWASP minimum for scrypt; `needsRehash` tells a caller (the login) when a stored hash is
 * weaker than the current parameters so it can be replaced after a successful login.
 * No clock, no files: pure apart from the randomness of the salt and the CPU work.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { DkError } from '../core/errors.js';

export interface ScryptParams {
  /** log2 of N (RFC 7914 §2: N a power of two) */
  ln: number;
  r: number;
  p: number;
}

export const CURRENT_PARAMS: Readonly<ScryptParams> = { ln: 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const VERSION = 1;

// Bounds on what a stored string may ask for: a tampered row must not make one login take
// gigabytes (RFC 7914 §2: memory is 128 * r * N bytes).
const LIMITS = { ln: [14, 20], r: [1, 16], p: [1, 16] } as const;

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

function derive(password: string, salt: Buffer, q: ScryptParams): Promise<Buffer> {
  const N = 2 ** q.ln;
  // node's default maxmem (32 MiB) is exactly 128 * N * r at ln=15, r=8 and fails: allow twice.
  const opts: ScryptOptions = { N, r: q.r, p: q.p, maxmem: 2 * 128 * N * q.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, HASH_BYTES, opts, (e, key) =>
      e ? reject(e) : resolve(key),
    ),
  );
}

/** Hashes a password with a fresh salt; the result is what users.password_hash stores. */
export async function hashPassword(
  password: string,
  params: ScryptParams = CURRENT_PARAMS,
): Promise<string> {
  if (password === '') {
    throw new DkError('data', 'E_PASSWORD_EMPTY', 'The password is empty');
  }
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return `$scrypt$v=${VERSION}$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

interface Parsed {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

function within(v: number, [lo, hi]: readonly [number, number]): boolean {
  return Number.isInteger(v) && v >= lo && v <= hi;
}

/** Parses a stored hash; null when it is not one this code can verify. */
export function parsePasswordHash(encoded: string): Parsed | null {
  const m =
    /^\$scrypt\$v=1\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(
      encoded,
    );
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (!within(params.ln, LIMITS.ln) || !within(params.r, LIMITS.r) || !within(params.p, LIMITS.p))
    return null;
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < SALT_BYTES || hash.length !== HASH_BYTES) return null;
  return { params, salt, hash };
}

/**
 * True when `password` matches `encoded`. The comparison is constant-time; a malformed stored
 * hash matches nothing (it never throws, so a login cannot tell a broken row from a wrong
 * password).
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const p = parsePasswordHash(encoded);
  if (!p) return false;
  const key = await derive(password, p.salt, p.params);
  return timingSafeEqual(key, p.hash);
}

// A hash of a password nobody knows, with the current parameters: a login for an unknown user
// runs the same work as for a known one, so response time does not tell which names exist.
const DUMMY = `$scrypt$v=1$ln=${CURRENT_PARAMS.ln},r=${CURRENT_PARAMS.r},p=${CURRENT_PARAMS.p}$${b64(randomBytes(SALT_BYTES))}$${b64(randomBytes(HASH_BYTES))}`;

/** Spends the time of one verification and answers false: for a login with an unknown name. */
export async function verifyNoUser(password: string): Promise<false> {
  await verifyPassword(password, DUMMY);
  return false;
}

/** True when the stored hash uses weaker parameters than CURRENT_PARAMS (or is unreadable). */
export function needsRehash(encoded: string): boolean {
  const p = parsePasswordHash(encoded);
  if (!p) return true;
  const c = CURRENT_PARAMS;
  return p.params.ln < c.ln || p.params.r < c.r || p.params.p < c.p;
}
