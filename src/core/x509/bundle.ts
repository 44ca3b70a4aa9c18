/**
 * Sorts the certificates of one input — a bundle file or a whole directory such as
 * /etc/letsencrypt/live/NAME — into server certificates, each with its issuer chain, and the
 * rest, so that `tlsa --cert` gives a record for every server certificate it was handed and
 * says what it did with everything else.
 *
 * Which certificates are server certificates (leaves):
 * - one that issued no other certificate in the input, and either is no CA (basicConstraints
 *   cA false or absent, RFC 5280 §4.2.1.9) or is self-issued. `openssl req -x509`, the
 *   self-signed certificate of the DANE how-tos, writes cA TRUE; such a certificate is its own
 *   leaf (RFC 7671 §5.1: DANE-EE cares for nothing but its key), and several of them in one
 *   directory are several leaves;
 * - a CA certificate that issued another one here is an issuer (chain.pem's intermediate is
 *   never taken for a server certificate), and a CA certificate that is neither self-issued nor
 *   issued anything here (a stray intermediate) is unused, and said so;
 * - when nothing qualifies (a file holding only CA certificates), the first certificate of the
 *   ordered chain is taken, as before; `guessedLeaf` says so.
 */
import type { Cert } from './cert.js';
import { issuedOnce } from './chain.js';

export interface BundleSort {
  /** one chain per server certificate, in input order: the leaf, then its issuers upwards */
  chains: Cert[][];
  /** certificates on no leaf's chain, with the reason, in input order */
  unused: { cert: Cert; why: string }[];
  /**
   * every certificate that is not a server certificate, in input order: what a trust-anchor
   * record (usage 0 or 2) is made from. All of them when the leaf was guessed.
   */
  cas: Cert[];
  /** no certificate qualified as a leaf; the first of the ordered chain was taken */
  guessedLeaf: boolean;
}

/** Exact duplicates (same DER, e.g. cert.pem and fullchain.pem) count once. */
function unique(certs: Cert[]): Cert[] {
  const seen = new Set<string>();
  return certs.filter((c) => {
    const id = c.der.toString('base64');
    return !seen.has(id) && seen.add(id) !== undefined;
  });
}

export function sortBundle(input: Cert[]): BundleSort {
  const certs = unique(input);
  const link = issuedOnce();
  const issuedHere = (c: Cert) => certs.some((o) => link(c, o));
  const chainOf = (leaf: Cert): Cert[] => {
    const chain = [leaf];
    // Cross-signatures can loop (A signs B, B signs A): never revisit a certificate.
    for (let c: Cert | undefined = leaf; c;) {
      const from: Cert = c;
      c = certs.find((i) => !chain.includes(i) && link(i, from));
      if (c) chain.push(c);
    }
    return chain;
  };

  let leaves = certs.filter((c) => !issuedHere(c) && (!c.isCA || c.selfIssued));
  let guessedLeaf = false;
  if (leaves.length === 0 && certs.length > 0) {
    // Only CA certificates: keep the old answer (the bottom of the longest issuer path).
    leaves = [longestPathBottom(certs, link)];
    guessedLeaf = true;
  }
  const chains = leaves.map(chainOf);
  const onChain = new Set(chains.flat());
  const unused = certs
    .filter((c) => !onChain.has(c))
    .map((cert) => ({
      cert,
      why: issuedHere(cert)
        ? 'it issued only certificates that are not used here'
        : cert.isCA
          ? 'a CA certificate that issued no certificate here and is not self-signed'
          : 'not used',
    }));
  return {
    chains,
    unused,
    cas: guessedLeaf ? certs : certs.filter((c) => !leaves.includes(c)),
    guessedLeaf,
  };
}

/** The certificate that issued none of the others with the longest issuer path (orderChain's leaf). */
function longestPathBottom(certs: Cert[], link: (issuer: Cert, cert: Cert) => boolean): Cert {
  const depth = (start: Cert): number => {
    const seen = [start];
    for (let c = start; ;) {
      const next = certs.find((i) => !seen.includes(i) && link(i, c));
      if (!next) return seen.length;
      seen.push((c = next));
    }
  };
  let best = certs[0]!;
  let bestDepth = 0;
  for (const c of certs) {
    if (certs.some((o) => link(c, o))) continue;
    const d = depth(c);
    if (d > bestDepth) [best, bestDepth] = [c, d];
  }
  return best;
}
