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
}

type Looked = Pick<LookupResult<unknown>, 'name' | 'type' | 'status' | 'records' | 'skipped'>;

function failing(results: readonly Looked[]): Looked | undefined {
  return results.find((r) => r.status === 'bogus' || r.status === 'indeterminate');
}

function label(r: Looked): string {
  return `${r.name}/${r.type} is ${r.status}`;
}

/**
 * - `mx` (optional): the MX lookup. Bogus or indeterminate: the destination itself is unknown,
 *   delay delivery (RFC 7672 §2.1.1). An insecure MX RRset does not stop DANE for the hosts
 *   (§2.2.1); it only removes the next-hop domain from the reference identifiers, which is the
 *   caller's business.
 * - `addresses`: the host's A and AAAA lookups. Any bogus or indeterminate: do not deliver to
 *   this host. Any insecure: no TLSA lookup, no DANE (§2.2.3, "TLSA records ... only if the
 *   address records are secure"). All secure, including secure NODATA: go on.
 * - `tlsa` (optional, only meaningful after `addresses` said `dane`): secure with records
 *   (even if none can be decoded: present but unusable is not absent) → dane; secure with none
 *   (NODATA, NXDOMAIN) or insecure → no-dane; bogus or indeterminate → dnssec-failure (§2.2.3:
 *   the host is then treated as unreachable).
 */
export function daneGate(input: {
  mx?: Looked;
  addresses: readonly Looked[];
  tlsa?: Looked;
}): DaneGate {
  if (input.mx && failing([input.mx])) {
    return {
      decision: 'dnssec-failure',
      stage: 'mx',
      why: `${label(input.mx)}: the destination is unknown, delivery must wait`,
    };
  }
  const bad = failing(input.addresses);
  if (bad) {
    return {
      decision: 'dnssec-failure',
      stage: 'address',
      why: `${label(bad)}: do not deliver to this host`,
    };
  }
  const insecure = input.addresses.find((r) => r.status === 'insecure');
  if (insecure || input.addresses.length === 0) {
    return {
      decision: 'no-dane',
      stage: 'address',
      why: insecure
        ? `${label(insecure)}: TLSA records are not looked up, DANE does not apply`
        : 'no address lookups were given',
    };
  }
  if (!input.tlsa) {
    return { decision: 'dane', stage: 'address', why: 'the address records are secure' };
  }
  const t = input.tlsa;
  const status: DnssecStatus = t.status;
  if (status === 'bogus' || status === 'indeterminate') {
    return {
      decision: 'dnssec-failure',
      stage: 'tlsa',
      why: `${label(t)}: do not deliver to this host`,
    };
  }
  if (status === 'insecure') {
    return { decision: 'no-dane', stage: 'tlsa', why: `${label(t)}: DANE does not apply` };
  }
  if (t.records.length + t.skipped === 0) {
    return {
      decision: 'no-dane',
      stage: 'tlsa',
      why: `${t.name} has no TLSA records (securely denied): DANE does not apply`,
    };
  }
  return {
    decision: 'dane',
    stage: 'tlsa',
    why: `${t.name} has ${t.records.length + t.skipped} secure TLSA records`,
  };
}
