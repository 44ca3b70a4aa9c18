/**
 * Who may do what (issue 11), as one pure function the panel and the API both call, so the
 * two cannot disagree. An admin may do everything; a customer sees and changes only the
 * domains they own (and names under them); anything not listed here is refused.
 */

export type Role = 'admin' | 'customer';

export interface Principal {
  name: string;
  role: Role;
  /** owned domains, lower case without the trailing dot (ignored for admins) */
  domains: readonly string[];
}

/**
 * Actions, grouped by what they need:
 *  - own-domain: about one domain, allowed to a customer who owns it
 *  - any user: reads public DNS or computes from what the user pastes (check, generate)
 *  - self: about the acting user's own account
 *  - admin only: the server's settings, the accounts, the audit log
 */
export const DOMAIN_ACTIONS = [
  'domain.read', // status, certificates, rollover timeline, .pem download
  'domain.add', // put a domain under management (it must already be theirs)
  'domain.change', // enable/disable DANE, issue/renew, subdomains, options
  'domain.remove',
  'dns.read', // the zone's TLSA records
  'dns.change', // add/remove a TLSA record
  'dnssec.read', // status, DS/DNSKEY for the registrar
  'prereq.read',
] as const;
export const ANY_USER_ACTIONS = ['check', 'generate', 'domain.list'] as const;
export const SELF_ACTIONS = ['self.passwd', 'self.tokens'] as const;
export const ADMIN_ACTIONS = [
  'settings.read',
  'settings.change',
  'users.read',
  'users.change',
  'audit.read',
] as const;

export type DomainAction = (typeof DOMAIN_ACTIONS)[number];
export type Action =
  | DomainAction
  | (typeof ANY_USER_ACTIONS)[number]
  | (typeof SELF_ACTIONS)[number]
  | (typeof ADMIN_ACTIONS)[number];

export const ALL_ACTIONS: readonly Action[] = [
  ...DOMAIN_ACTIONS,
  ...ANY_USER_ACTIONS,
  ...SELF_ACTIONS,
  ...ADMIN_ACTIONS,
];

/** ASCII lower case, no trailing dot (names compare case-insensitively, RFC 4343 §3). */
function norm(name: string): string {
  const l = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return l.endsWith('.') ? l.slice(0, -1) : l;
}

/** The owned names, normalised once: a customer's list is checked against them per row. */
function ownedSet(owned: readonly string[]): Set<string> {
  const s = new Set<string>();
  for (const o of owned) {
    const n = norm(o);
    if (n !== '') s.add(n);
  }
  return s;
}

/**
 * `d` (normalised) or a parent of it at a label boundary is in `owned`: the name itself, then
 * the suffix after each dot, so a lookup per label instead of a scan of every owned name per
 * row (10,000 rows x a few hundred owned names was most of a customer's list request).
 */
function ownedBy(owned: ReadonlySet<string>, d: string): boolean {
  if (d === '' || owned.size === 0) return false;
  if (owned.has(d)) return true;
  for (let i = d.indexOf('.'); i !== -1; i = d.indexOf('.', i + 1)) {
    if (owned.has(d.slice(i + 1))) return true;
  }
  return false;
}

/**
 * True when `domain` is one of `owned` or a name under one (mail.example.org under
 * example.org): the zone is the customer's. A label boundary is required, so owning
 * example.org does not give notexample.org.
 */
export function ownsDomain(owned: readonly string[], domain: string): boolean {
  return ownedBy(ownedSet(owned), norm(domain));
}

const has = (list: readonly string[], a: string): boolean => list.includes(a);

/**
 * The rule. `domain` is required for the domain actions: without one a customer is refused
 * (lists are filtered with `visibleDomains` instead). Unknown actions are refused for
 * everyone, admins included, so a typo in a caller fails closed.
 */
export function authorize(user: Principal, action: string, domain?: string): boolean {
  if (!has(ALL_ACTIONS, action)) return false;
  if (user.role === 'admin') return true;
  if (user.role !== 'customer') return false;
  if (has(ANY_USER_ACTIONS, action) || has(SELF_ACTIONS, action)) return true;
  if (has(DOMAIN_ACTIONS, action)) return domain !== undefined && ownsDomain(user.domains, domain);
  return false;
}

/** The domains of `all` a user may see: every one for an admin, their own for a customer. */
export function visibleDomains<T extends string | { name: string }>(
  user: Principal,
  all: readonly T[],
): T[] {
  if (user.role === 'admin') return [...all];
  const owned = ownedSet(user.domains);
  return all.filter((d) => ownedBy(owned, norm(typeof d === 'string' ? d : d.name)));
}
