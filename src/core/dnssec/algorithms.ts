/**
 * DNSSEC algorithm and DS digest numbers, their names, and what the IETF currently says about
 * using them. Sources: IANA "DNS Security Algorithm Numbers" and "Digest Algorithms" registries,
 * RFC 8624 §3.1 (DNSKEY/RRSIG) and §3.3 (DS), as updated by RFC 9905 §2 (October 2025:
 * RSASHA1 and RSASHA1-NSEC3-SHA1 MUST NOT be used to sign, nor in new DS records). RFC 9904
 * moved the tables to IANA without changing a status.
 */

/** RFC 2119 words as the tables use them, for signing (the zone operator's side). */
export type Requirement = 'must' | 'recommended' | 'may' | 'not-recommended' | 'must-not';

export interface AlgorithmInfo {
  number: number;
  /** IANA mnemonic as zone files print it */
  mnemonic: string;
  /** using it to sign a zone (RFC 8624 §3.1 "DNSSEC Signing", RFC 9905 §2) */
  signing: Requirement;
  /** support in validators (RFC 8624 §3.1 "DNSSEC Validation") */
  validation: Requirement;
}

export interface DigestInfo {
  number: number;
  mnemonic: string;
  /** putting a DS of this digest type into the parent (RFC 8624 §3.3 "DNSSEC Delegation") */
  delegation: Requirement;
  validation: Requirement;
  /** digest length in octets; null when unknown */
  length: number | null;
}

const ALGORITHMS: readonly AlgorithmInfo[] = [
  { number: 1, mnemonic: 'RSAMD5', signing: 'must-not', validation: 'must-not' },
  { number: 3, mnemonic: 'DSA', signing: 'must-not', validation: 'must-not' },
  // RFC 9905 §2 moved these two from NOT RECOMMENDED to MUST NOT for signing.
  { number: 5, mnemonic: 'RSASHA1', signing: 'must-not', validation: 'must' },
  { number: 6, mnemonic: 'DSA-NSEC3-SHA1', signing: 'must-not', validation: 'must-not' },
  { number: 7, mnemonic: 'RSASHA1-NSEC3-SHA1', signing: 'must-not', validation: 'must' },
  { number: 8, mnemonic: 'RSASHA256', signing: 'must', validation: 'must' },
  { number: 10, mnemonic: 'RSASHA512', signing: 'not-recommended', validation: 'must' },
  { number: 12, mnemonic: 'ECC-GOST', signing: 'must-not', validation: 'may' },
  { number: 13, mnemonic: 'ECDSAP256SHA256', signing: 'must', validation: 'must' },
  { number: 14, mnemonic: 'ECDSAP384SHA384', signing: 'may', validation: 'recommended' },
  { number: 15, mnemonic: 'ED25519', signing: 'recommended', validation: 'recommended' },
  { number: 16, mnemonic: 'ED448', signing: 'may', validation: 'recommended' },
];

const DIGESTS: readonly DigestInfo[] = [
  { number: 0, mnemonic: 'NULL', delegation: 'must-not', validation: 'must-not', length: null },
  // RFC 8624 §3.3: SHA-1 MUST NOT be used in new DS records; validators still accept it.
  { number: 1, mnemonic: 'SHA-1', delegation: 'must-not', validation: 'must', length: 20 },
  { number: 2, mnemonic: 'SHA-256', delegation: 'must', validation: 'must', length: 32 },
  { number: 3, mnemonic: 'GOST R 34.11-94', delegation: 'must-not', validation: 'may', length: 32 },
  { number: 4, mnemonic: 'SHA-384', delegation: 'may', validation: 'recommended', length: 48 },
];

export function algorithmInfo(n: number): AlgorithmInfo | null {
  return ALGORITHMS.find((a) => a.number === n) ?? null;
}

export function digestInfo(n: number): DigestInfo | null {
  return DIGESTS.find((d) => d.number === n) ?? null;
}

/** `ECDSAP256SHA256 (13)`; unknown numbers as `algorithm 99`. */
export function algorithmName(n: number): string {
  const a = algorithmInfo(n);
  return a ? `${a.mnemonic} (${n})` : `algorithm ${n}`;
}

/** `SHA-256 (2)`; unknown numbers as `digest type 9`. */
export function digestName(n: number): string {
  const d = digestInfo(n);
  return d ? `${d.mnemonic} (${n})` : `digest type ${n}`;
}

/** May a zone be signed with this algorithm today? Unknown algorithms count as "no". */
export function signingAcceptable(n: number): boolean {
  const s = algorithmInfo(n)?.signing;
  return s === 'must' || s === 'recommended' || s === 'may';
}

/** May a new DS record use this digest type? */
export function delegationAcceptable(n: number): boolean {
  const s = digestInfo(n)?.delegation;
  return s === 'must' || s === 'recommended' || s === 'may';
}

/** The words of the RFC for a message: `MUST NOT`, `NOT RECOMMENDED`, ... */
export function requirementWords(r: Requirement): string {
  return r.replace('-', ' ').toUpperCase();
}
