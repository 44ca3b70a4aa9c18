/**
 * The DNS half of RFC 7672 §2: from the DNSSEC status of the lookups for one MX host, may DANE
 * apply, must it not, or must delivery to this host not happen at all? Pure; the `check`
 * command (and later the daemon) combine it with the TLS probe.
 */
import type { DnssecStatus, LookupResult } from './types.js';

export type DaneGateDecision =
  /** Address records secure: look up TLSA (RFC 7672 §2.2.3). After the TLSA lookup: DANE applies. */
  | 'dane'
  /** DANE does not apply: opportunistic TLS at most (RFC 7672 §2.2). */
  | 'no-dane'
  /** Bogus or indeterminate: do not deliver to this host (RFC 7672 §2.1.1). */
  | 'dnssec-failure';

export interface DaneGate {
  decision: DaneGateDecision;
  /** Which lookup decided: `mx`, `address` or `tlsa`. */
  stage: 'mx' | 'address' | 'tlsa';
  why: string;
  /** The lookup that decided, when one did (its status and `why` say more). */
  lookup?: Looked;
  /**
   * With `dane` after the address stage: the TLSA base domains to try, in order (RFC 7672
   * §2.2.3): the CNAME-expanded name, then the original, when the chain is secure end to end;
   * only the original name when it is not.
   */
  bases?: string[];
}

type Looked = Pick<LookupResult<unknown>, 'name' | 'type' | 'status' | 'records' | 'skipped'> &
  Partial<Pick<LookupResult<unknown>, 'canonicalName' | 'cnameChain' | 'why'>>;

function failing(results: readonly Looked[]): Looked | undefined {
  // bogus (validation failed) says more than indeterminate (no answer): report it first
  return (
    results.find((r) => r.status === 'bogus') ?? results.find((r) => r.status === 'indeterminate')
  );
}

function label(r: Looked): string {
  return `${r.name}/${r.type} is ${r.status}`;
}

const strip = (n: string) => n.replace(/\.$/, '');

/**
 * - `mx` (optional): the MX lookup. Bogus or indeterminate: the destination itself is unknown,
 *   delay delivery (RFC 7672 §2.1.1). An insecure MX RRset does not stop DANE for the hosts
 *   (§2.2.1); it only removes the next-hop domain from the reference identifiers, which is the
 *   caller's business.
 * - `addresses`: the host's A and AAAA lookups. Any bogus or indeterminate: do not deliver to
 *   this host. Any insecure: no TLSA lookup, no DANE (§2.2.2, "TLSA records ... only if the
 *   address records are secure") — unless the host name itself is a secure alias (`alias`).
 *   All secure, including secure NODATA: go on.
 * - `alias` (optional): the CNAME lookup at the host name, for when the address lookups came
 *   back insecure through a CNAME chain. A validating resolver's AD bit covers the whole chain;
 *   when the first link is signed but a later one is not, the host is still in a signed zone
 *   and its TLSA records are looked up at the original name only (RFC 7672 §2.2.2-2.2.3, as
 *   Postfix does).
 * - `tlsa` (optional, only meaningful after `addresses` said `dane`): secure with records
 *   (even if none can be decoded: present but unusable is not absent) → dane; secure with none
 *   (NODATA, NXDOMAIN) or insecure → no-dane; bogus or indeterminate → dnssec-failure (§2.2.3:
 *   the host is then treated as unreachable).
 */
export function daneGate(input: {
  mx?: Looked;
  addresses: readonly Looked[];
  alias?: Looked;
  tlsa?: Looked;
}): DaneGate {
  if (input.mx && failing([input.mx])) {
    return {
      decision: 'dnssec-failure',
      stage: 'mx',
      why: `${label(input.mx)}: the destination is unknown, delivery must wait`,
      lookup: input.mx,
    };
  }
  const bad = failing(input.addresses);
  if (bad) {
    return {
      decision: 'dnssec-failure',
      stage: 'address',
      why: `${label(bad)}: do not deliver to this host`,
      lookup: bad,
    };
  }
  const insecure = input.addresses.find((r) => r.status === 'insecure');
  const first = input.addresses[0];
  if (insecure && input.alias?.status === 'secure' && input.alias.records.length > 0) {
    // RFC 7672 §2.2.3: a chain that is not secure end to end gives no expanded base domain.
    return {
      decision: 'dane',
      stage: 'address',
      why: `${strip(input.alias.name)} is a secure alias but ${label(insecure)}: TLSA records are looked up at ${strip(input.alias.name)} only`,
      lookup: insecure,
      bases: [strip(input.alias.name)],
    };
  }
  if (insecure || !first) {
    return {
      decision: 'no-dane',
      stage: 'address',
      why: insecure
        ? `${label(insecure)}: TLSA records are not looked up, DANE does not apply`
        : 'no address lookups were given',
      ...(insecure ? { lookup: insecure } : {}),
    };
  }
  // RFC 7672 §2.2.3: secure end to end, so the expanded name first, then the original.
  const name = strip(first.name);
  const expanded = input.addresses.find(
    (r) => r.canonicalName && strip(r.canonicalName).toLowerCase() !== name.toLowerCase(),
  );
  const bases = expanded ? [strip(expanded.canonicalName!), name] : [name];
  if (!input.tlsa) {
    return { decision: 'dane', stage: 'address', why: 'the address records are secure', bases };
  }
  const t = input.tlsa;
  const status: DnssecStatus = t.status;
  if (status === 'bogus' || status === 'indeterminate') {
    return {
      decision: 'dnssec-failure',
      stage: 'tlsa',
      why: `${label(t)}: do not deliver to this host`,
      lookup: t,
    };
  }
  if (status === 'insecure') {
    return {
      decision: 'no-dane',
      stage: 'tlsa',
      why: `${label(t)}: DANE does not apply`,
      lookup: t,
    };
  }
  if (t.records.length + t.skipped === 0) {
    return {
      decision: 'no-dane',
      stage: 'tlsa',
      why: `${t.name} has no TLSA records (securely denied): DANE does not apply`,
      lookup: t,
    };
  }
  return {
    decision: 'dane',
    stage: 'tlsa',
    why: `${t.name} has ${t.records.length + t.skipped} secure TLSA records`,
    lookup: t,
  };
}

/**
 * RFC 7672 §3.2.2: the names a DANE-TA(2) chain's leaf is checked against — the TLSA base domain
 * and the MX host name, and the next-hop domain only when the MX RRset was secure (an insecure
 * MX answer could have been forged to name any host).
 */
export function referenceNames(o: {
  tlsaBase: string;
  host: string;
  nextHop: string | null;
  mxSecure: boolean;
}): string[] {
  const names = [o.tlsaBase, o.host];
  if (o.nextHop !== null && o.mxSecure) names.push(o.nextHop);
  return names;
}
