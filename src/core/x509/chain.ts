/**
 * Puts a bundle in the order a server must send it (RFC 8446 §4.4.2, RFC 5246 §7.4.2): the
 * end-entity certificate first, then each certificate's issuer right after it. DANE-TA(2)
 * needs the path from the leaf up to the trust anchor (RFC 7671 §5.2.2), and `tlsa --chain`
 * takes "the leaf's issuer" from it, so bundles written root-first or shuffled must come out
 * the same.
 */
import type { Cert } from './cert.js';

/**
 * Whether `issuer` issued `cert`: names and key identifiers agree (OpenSSL's
 * X509_check_issued, RFC 5280 §6.1.3 (a)(4)) and the signature verifies with its key.
 */
export function issued(issuer: Cert, cert: Cert): boolean {
  if (issuer.der.equals(cert.der)) return false;
  try {
    return cert.x509.checkIssued(issuer.x509) && cert.x509.verify(issuer.x509.publicKey);
  } catch {
    // An algorithm OpenSSL cannot verify proves nothing either way: no link.
    return false;
  }
}

/**
 * `issued`, verifying each (issuer, certificate) signature at most once: for the quadratic
 * walks over a bundle, where a signature check costs far more than a map lookup.
 */
export function issuedOnce(): (issuer: Cert, cert: Cert) => boolean {
  const memo = new Map<Cert, Map<Cert, boolean>>();
  return (issuer, cert) => {
    let row = memo.get(cert);
    if (!row) memo.set(cert, (row = new Map()));
    let v = row.get(issuer);
    if (v === undefined) row.set(issuer, (v = issued(issuer, cert)));
    return v;
  };
}

/**
 * The first of `candidates` (in their order) that issued `cert`, other than `cert` itself.
 * A self-signed root has no issuer here; a cross-signed root can have one.
 */
export function findIssuer(cert: Cert, candidates: Cert[]): Cert | undefined {
  return candidates.find((c) => issued(c, cert));
}

/**
 * Leaf first, then issuers, then every certificate that is not on that path in input order.
 * Exact duplicates (same DER) are kept once; nothing else is dropped. The leaf is the
 * certificate that issued none of the others and has the longest issuer path, the first in
 * input order on a tie, so an already ordered chain is returned unchanged.
 */
export function orderChain(certs: Cert[]): Cert[] {
  const unique: Cert[] = [];
  const seen = new Set<string>();
  for (const c of certs) {
    const id = c.der.toString('base64');
    if (!seen.has(id)) {
      seen.add(id);
      unique.push(c);
    }
  }
  if (unique.length < 2) return unique;

  const link = issuedOnce();
  const path = (start: Cert): Cert[] => {
    const out = [start];
    // Cross-signatures can form loops (A signs B, B signs A): never revisit a certificate.
    for (let c = start; ;) {
      const next = unique.find((i) => !out.includes(i) && link(i, c));
      if (!next) return out;
      out.push(next);
      c = next;
    }
  };

  let best: Cert[] = [unique[0]!];
  for (const c of unique) {
    if (unique.some((other) => link(c, other))) continue;
    const p = path(c);
    if (p.length > best.length) best = p;
  }
  // No certificate qualified only when every one issued another (a loop): input order wins.
  const ordered = best.length > 1 ? best : path(best[0]!);
  return [...ordered, ...unique.filter((c) => !ordered.includes(c))];
}
