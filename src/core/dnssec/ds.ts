/**
 * DS records computed from DNSKEY records (RFC 4034 §5.1.4, RFC 4509 §2.1, RFC 6605 §3), key
 * tags (RFC 4034 Appendix B) and the matching of a parent's DS set against a zone's keys.
 * Pure: node:crypto's hashes are computations, not I/O.
 */
import { createHash } from 'node:crypto';
import { DkError } from '../errors.js';

/** RFC 4034 §2.1: the DNSKEY RDATA fields. Structurally the same as io/dns's DnskeyRecord. */
export interface DnskeyData {
  flags: number;
  protocol: number;
  algorithm: number;
  key: Buffer;
}

/** RFC 4034 §5.1: the DS RDATA fields. Structurally the same as io/dns's DsRecord. */
export interface DsData {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: Buffer;
}

/** RFC 4034 §2.1.1: bit 7 (0x0100), the key is a zone key. */
export const FLAG_ZONE = 0x0100;
/** RFC 4034 §2.1.1 / RFC 3757: bit 15 (0x0001), Secure Entry Point: the key-signing key. */
export const FLAG_SEP = 0x0001;
/** RFC 5011 §3: bit 8, the key is revoked. */
export const FLAG_REVOKE = 0x0080;

const HASHES: Record<number, string> = { 1: 'sha1', 2: 'sha256', 4: 'sha384' };

/** Digest types this module can compute (1 SHA-1, 2 SHA-256, 4 SHA-384). */
export function canComputeDigest(digestType: number): boolean {
  return Object.hasOwn(HASHES, digestType);
}

/**
 * The owner name in canonical wire form (RFC 4034 §6.2: uncompressed, ASCII letters lower
 * case). Accepts presentation form with or without the final dot and the escapes `\.`, `\\`
 * and `\DDD` of RFC 1035 §5.1 (what io/dns produces for odd labels).
 */
export function canonicalNameWire(name: string): Buffer {
  const n = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (n === '' || n === '.') return Buffer.from([0]);
  const labels: number[][] = [[]];
  for (let i = 0; i < n.length; i++) {
    const c = n[i]!;
    if (c === '\\') {
      const d = /^[0-9]{3}/.exec(n.slice(i + 1));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw badName(name, `escape \\${d[0]} is over 255`);
        labels[labels.length - 1]!.push(v);
        i += 3;
      } else if (i + 1 < n.length) {
        labels[labels.length - 1]!.push(n.charCodeAt(++i));
      } else {
        throw badName(name, 'it ends in a lone backslash');
      }
    } else if (c === '.') {
      labels.push([]);
    } else {
      const code = n.charCodeAt(i);
      if (code > 0x7e) throw badName(name, 'it holds a character outside ASCII');
      labels[labels.length - 1]!.push(code);
    }
  }
  const out: number[] = [];
  for (const l of labels) {
    if (l.length === 0 || l.length > 63) throw badName(name, 'a label is empty or over 63 octets');
    out.push(l.length, ...l.map((b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b)));
  }
  out.push(0);
  if (out.length > 255) throw badName(name, 'it is over 255 octets');
  return Buffer.from(out);
}

function badName(name: string, why: string): DkError {
  return new DkError('data', 'E_DNSSEC_NAME', `Cannot use "${name}" as an owner name: ${why}`);
}

/** RFC 4034 §2.1: Flags (2) | Protocol (1) | Algorithm (1) | Public Key. */
export function dnskeyRdata(k: DnskeyData): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(k.flags & 0xffff, 0);
  head[2] = k.protocol & 0xff;
  head[3] = k.algorithm & 0xff;
  return Buffer.concat([head, k.key]);
}

/**
 * RFC 4034 Appendix B: the key tag of a DNSKEY. Algorithm 1 (RSA/MD5, Appendix B.1) takes
 * the most significant 16 of the least significant 24 bits of the modulus instead.
 */
export function keyTagOf(k: DnskeyData): number {
  if (k.algorithm === 1) {
    return k.key.length >= 3 ? k.key.readUInt16BE(k.key.length - 3) : 0;
  }
  const rdata = dnskeyRdata(k);
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/**
 * RFC 4034 §5.1.4: digest = hash(owner name in canonical wire form | DNSKEY RDATA). Digest
 * type 2 is RFC 4509 §2.1, type 4 RFC 6605 §3. Throws DkError E_DNSSEC_DIGEST for a digest
 * type that cannot be computed here (GOST, unknown).
 */
export function computeDs(owner: string, key: DnskeyData, digestType: number): DsData {
  const hash = HASHES[digestType];
  if (!hash) {
    throw new DkError(
      'data',
      'E_DNSSEC_DIGEST',
      `Cannot compute a DS of digest type ${digestType} for ${owner}: only 1, 2 and 4 are supported`,
    );
  }
  const digest = createHash(hash)
    .update(canonicalNameWire(owner))
    .update(dnskeyRdata(key))
    .digest();
  return { keyTag: keyTagOf(key), algorithm: key.algorithm, digestType, digest };
}

export function sameDs(a: DsData, b: DsData): boolean {
  return (
    a.keyTag === b.keyTag &&
    a.algorithm === b.algorithm &&
    a.digestType === b.digestType &&
    a.digest.equals(b.digest)
  );
}

export interface DsMatch {
  ds: DsData;
  /**
   * The key the DS hashes to, or null: no key matches (a stale DS, a DS published ahead of a
   * key rollover, or a typo at the registrar), or the digest type cannot be computed.
   */
  key: DnskeyData | null;
  /** false when the digest type is not one this module computes: the match is unknown */
  checked: boolean;
}

/**
 * RFC 4035 §5.2: a DS authenticates the child's DNSKEY RRset when it matches a zone key (Zone
 * Key bit set, protocol 3) of the same algorithm and key tag whose digest it equals. The SEP
 * bit is only a hint (RFC 4034 §5.2), so any zone key is considered.
 */
export function matchDs(
  owner: string,
  dsSet: readonly DsData[],
  keys: readonly DnskeyData[],
): DsMatch[] {
  return dsSet.map((ds) => {
    if (!canComputeDigest(ds.digestType)) return { ds, key: null, checked: false };
    const key =
      keys.find(
        (k) =>
          (k.flags & FLAG_ZONE) !== 0 &&
          k.protocol === 3 &&
          k.algorithm === ds.algorithm &&
          keyTagOf(k) === ds.keyTag &&
          computeDs(owner, k, ds.digestType).digest.equals(ds.digest),
      ) ?? null;
    return { ds, key, checked: true };
  });
}
