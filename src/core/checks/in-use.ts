/**
 * Whether a TLSA record refers to something a server presents: the test a "stale record"
 * warning rests on. It is deliberately looser than verification: a record is in use when it
 * matches a certificate of the presented chain at a depth its usage allows, whether or not it is
 * the record that decided the verdict (a `3 1 1` + `2 1 1` pair matches twice; the verifier
 * reports only the DANE-EE match) and whether or not the rest of the path holds (a wrong name
 * is a fault of the certificate, not a reason to delete the record). Pure.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { matchData, selectData, type TlsaRecord } from '../tlsa/index.js';
import type { Cert } from '../x509/index.js';

function matches(r: TlsaRecord, c: Cert): boolean {
  try {
    return matchData(selectData(c, r.selector), r.mtype).equals(r.data);
  } catch {
    // RFC 7671 §4.1 / RFC 6698 §2.1: an unknown selector or matching type matches nothing.
    return false;
  }
}

function signedBy(c: Cert, key: KeyObject): boolean {
  try {
    return c.x509.verify(key);
  } catch {
    return false;
  }
}

/**
 * RFC 7671 §5.2.2 / §5.2.3: a `2 0 0` or `2 1 0` record carries the trust anchor itself, so the
 * server need not send it. It is in use when it signed a presented certificate; the depth is
 * reported as OpenSSL (and so posttls-finger) does: a bare key at the depth of the certificate
 * it signed, a full certificate one above it.
 */
function anchorNotSent(r: TlsaRecord, chain: Cert[]): number | null {
  if (r.mtype !== 0 || (r.selector !== 0 && r.selector !== 1)) return null;
  let key: KeyObject;
  let cert: X509Certificate | undefined;
  try {
    if (r.selector === 1) key = createPublicKey({ key: r.data, format: 'der', type: 'spki' });
    else {
      cert = new X509Certificate(r.data);
      key = cert.publicKey;
    }
  } catch {
    return null;
  }
  const at = chain.findIndex((c) => (!cert || safeIssued(c.x509, cert)) && signedBy(c, key));
  if (at < 0) return null;
  return cert ? at + 1 : at;
}

function safeIssued(c: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return c.checkIssued(issuer);
  } catch {
    return false;
  }
}

/**
 * The depth at which `r` is in use in `chain` (leaf first, as presented), or null:
 * - end-entity usages, DANE-EE(3) and PKIX-EE(1): the leaf (RFC 7671 §5.1, RFC 6698 §2.1.1);
 * - trust-anchor usages, DANE-TA(2) and PKIX-TA(0): a certificate above the leaf, i.e. a CA
 *   the server sends (RFC 7671 §5.2), or for `2 x 0` a trust anchor in the record that signed
 *   a presented certificate (RFC 7671 §5.2.2, §5.2.3);
 * - any other usage: never (RFC 6698 §2.1.1 assigns no others).
 */
export function inUseDepth(r: TlsaRecord, chain: readonly Cert[]): number | null {
  if (chain.length === 0) return null;
  if (r.usage === 3 || r.usage === 1) return matches(r, chain[0]!) ? 0 : null;
  if (r.usage !== 2 && r.usage !== 0) return null;
  // RFC 7671 §5.2: a trust anchor sits above the leaf; a TA digest of the leaf itself is a
  // misconfiguration, not a use.
  const at = chain.findIndex((c, i) => i >= 1 && matches(r, c));
  if (at >= 1) return at;
  return r.usage === 2 ? anchorNotSent(r, [...chain]) : null;
}

/** Every record of `records` that `chain` puts to use, with its depth, in record order. */
export function recordsInUse(
  records: readonly TlsaRecord[],
  chain: readonly Cert[],
): { record: TlsaRecord; depth: number }[] {
  return records.flatMap((record) => {
    const depth = inUseDepth(record, chain);
    return depth === null ? [] : [{ record, depth }];
  });
}
