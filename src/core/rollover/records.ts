/**
 * The records a domain's key policy asks for, and whether a presented chain matches one.
 */
import type {
  AddressObservation,
  CertFacts,
  Rdata,
  RolloverPolicy,
  RolloverState,
} from './types.js';

/** `3 1 1`: DANE-EE, SPKI, SHA2-256 (RFC 7671 §5.1; RFC 7672 §3.1.1 recommends it for SMTP). */
export function eeRecord(spki: string): Rdata {
  return `3 1 1 ${spki.toLowerCase()}`;
}

/** `2 1 1`: DANE-TA, SPKI, SHA2-256 (RFC 7671 §5.2). */
export function taRecord(spki: string): Rdata {
  return `2 1 1 ${spki.toLowerCase()}`;
}

/**
 * The issuers whose `2 1 1` records the set holds: DESIGN.md: never one intermediate alone, so
 * all current issuers of the CA for the key type (policy), plus the issuer of every certificate
 * in use or about to be, so that a CA that switched intermediates is covered too.
 */
export function issuerSet(state: RolloverState, policy: RolloverPolicy): string[] {
  if (!policy.issuerRecords) return [];
  const out = new Set(policy.issuerSpkis.map((s) => s.toLowerCase()));
  for (const c of [state.installed, state.pending]) {
    const i = c?.issuerSpkis[0];
    if (i) out.add(i.toLowerCase());
  }
  return [...out].sort();
}

/**
 * The RRset every owner should hold. RFC 7671 §8.1 and DESIGN.md's key policy: `3 1 1` of the
 * current key and of the next one (published ahead, so that a rotation needs no new record),
 * plus `2 1 1` of the issuers when the domain asks for issuer records.
 */
export function desiredRecords(state: RolloverState, policy: RolloverPolicy): Rdata[] {
  const out: Rdata[] = [];
  if (state.keys.current) out.push(eeRecord(state.keys.current.spki));
  if (state.keys.next) out.push(eeRecord(state.keys.next.spki));
  for (const i of issuerSet(state, policy)) out.push(taRecord(i));
  return [...new Set(out)];
}

/**
 * Does what an address presents match the record? `3 1 1` against the leaf's SPKI; `2 1 1`
 * against a certificate above the leaf that the server sent (RFC 7672 §3.1.2: a digest TA must be
 * in the presented chain). Name and path checks belong to the probe's verifier, not here.
 */
export function chainMatches(a: AddressObservation, r: Rdata): boolean {
  if ('error' in a) return false;
  const [u, s, m, data] = r.split(' ');
  if (s !== '1' || m !== '1' || data === undefined) return false;
  if (u === '3') return a.leafSpki.toLowerCase() === data;
  if (u === '2') return a.chainSpkis.slice(1).some((x) => x.toLowerCase() === data);
  return false;
}

/** The records a certificate's installation may rely on: its key's `3 1 1`, its issuer's `2 1 1`. */
export function recordsFor(cert: CertFacts, keySpki: string | undefined, policy: RolloverPolicy) {
  const out: Rdata[] = [];
  if (keySpki) out.push(eeRecord(keySpki));
  const issuer = cert.issuerSpkis[0];
  if (policy.issuerRecords && issuer) out.push(taRecord(issuer));
  return out;
}
