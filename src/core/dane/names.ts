/**
 * RFC 6125 §6.4 host-name matching, as a DANE-TA(2) (and PKIX) client applies it to the server
 * certificate's presented identifiers (RFC 7672 §3.2.3, RFC 7671 §5.2). Pure string work:
 * no IDNA processing, names are compared as the A-labels they are in DNS and certificates.
 *
 * Why not node's `X509Certificate.checkHost`: its defaults accept partial-label wildcards
 * (`m*.example.test` matches `mx.example.test`, `partialWildcards: true`), which RFC 6125 §6.4.3
 * only allows as an option and which danekeeper does not want to report as a match.
 */

/** The identifiers a certificate presents: dNSName SANs, and subject CNs (RFC 6125 §1.8). */
export interface PresentedIds {
  dns: string[];
  cn: string[];
}

/** Lower case (DNS names compare case-insensitively, RFC 4343) without the root's trailing dot. */
export function normalizeName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/**
 * Whether a reference identifier can be looked for at all: a host name with non-empty labels
 * and no wildcard (a reference identifier is what the client wants, never a pattern), or such
 * a name after one leading dot (isSubdomainRef).
 */
export function isReferenceName(name: string): boolean {
  const n = normalizeName(name);
  const host = isSubdomainRef(n) ? n.slice(1) : n;
  return (
    host.length > 0 &&
    n.length <= 253 &&
    !n.includes('*') &&
    host.split('.').every((l) => l.length > 0 && l.length <= 63 && !/\s/.test(l))
  );
}

/**
 * `.example.com` as a reference identifier means "any subdomain of example.com": one or more
 * labels to the left, never example.com itself. That is how Postfix reads a leading dot in its
 * TLS policy (`match=.example.com`, and `smtp_tls_secure_cert_match`) and what OpenSSL's
 * X509_check_host, which Postfix hands the names to, implements (_X509_CHECK_FLAG_DOT_SUBDOMAINS).
 */
export function isSubdomainRef(name: string): boolean {
  return name.length > 1 && name.startsWith('.');
}

const LDH_LABEL = /^[a-z0-9-]+$/;
/** RFC 952/1123 host-name label: letters, digits, hyphens, no hyphen at either end. */
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * Does one presented identifier (a DNS-ID or CN-ID) match one reference identifier?
 *
 * - RFC 6125 §6.4.1: case-insensitive, label by label; the trailing dot of an absolute name is
 *   ignored on both sides.
 * - RFC 6125 §6.4.3 and RFC 7672 §3.2.3: a wildcard is honoured only as the whole left-most
 *   label (`*.example.test`), and stands for exactly one label: it matches `mx.example.test`,
 *   neither `a.b.example.test` nor `example.test`. Partial-label (`m*.example.test`) and
 *   non-left-most (`mx.*.test`) wildcards never match.
 * - RFC 6125 §7.2: `*.test` (a wildcard directly under a single label, a whole TLD) is not
 *   honoured, as OpenSSL does not either; the label it stands for must be letters, digits and
 *   hyphens, again as in OpenSSL's wildcard_match, and the labels after it must be host-name
 *   labels (OpenSSL's valid_star).
 * - A reference with a leading dot (isSubdomainRef) matches every presented name below it.
 */
export function matchName(presented: string, reference: string): boolean {
  const p = normalizeName(presented);
  const r = normalizeName(reference);
  if (!isReferenceName(r) || p.length === 0) return false;
  if (isSubdomainRef(r)) {
    // OpenSSL's skip_prefix/equal_wildcard: a presented name matches when it ends in the
    // reference, dot included, after a prefix without NULs. Whatever the prefix is — more
    // labels, `*`, even `m*` — is not judged; wildcard rules do not apply to dot references.
    return p.endsWith(r) && !p.slice(0, p.length - r.length).includes('\0');
  }
  const pl = p.split('.');
  const rl = r.split('.');
  if (pl.some((l) => l.length === 0)) return false;
  if (!p.includes('*')) return p === r;
  if (pl[0] !== '*' || pl.slice(1).some((l) => l.includes('*'))) return false;
  if (pl.length < 3 || rl.length !== pl.length) return false;
  // OpenSSL's valid_star: a pattern whose other labels are not host-name labels (letters,
  // digits, inner hyphens) is no wildcard at all, only a literal that matches nothing.
  if (!pl.slice(1).every((l) => HOST_LABEL.test(l))) return false;
  if (!LDH_LABEL.test(rl[0]!)) return false;
  return pl.slice(1).join('.') === rl.slice(1).join('.');
}

/**
 * RFC 6125 §6.4.4: the CN is consulted only when the certificate has no dNSName SAN at all.
 * These are the identifiers that take part in matching.
 */
export function effectiveIds(ids: PresentedIds): { kind: 'DNS' | 'CN'; names: string[] } {
  return ids.dns.length > 0 ? { kind: 'DNS', names: ids.dns } : { kind: 'CN', names: ids.cn };
}

/** The first (presented, reference) pair that matches, or undefined. */
export function matchIds(
  ids: PresentedIds,
  references: string[],
): { presented: string; reference: string } | undefined {
  for (const presented of effectiveIds(ids).names) {
    for (const reference of references) {
      if (matchName(presented, reference)) return { presented, reference };
    }
  }
  return undefined;
}
