/**
 * Which zone holds an owner name (RFC 1034 §4.3.2, §4.2.1): the closest enclosing name that
 * has an SOA record is the apex of the zone the name lives in. A TLSA owner such as
 * `_25._tcp.mail.example.org.` may be in a delegated `mail.example.org.`, or the managed domain
 * may itself be a subdomain of its zone: the record must go to that zone's server.
 *
 * Asked of the validating resolver, and only authenticated answers count (RFC 4035 §4.3:
 * `secure`): an unsigned or forged answer could send the update to a zone that is not the one a
 * DANE client validates, and DANE needs the owner's zone signed anyway (RFC 7672 §2.2).
 */
import { DkError } from '../core/errors.js';
import type { Resolver } from '../io/dns/types.js';
import { absName } from './tlsa-set.js';

export interface FindZoneOptions {
  /** the record to be published there, for the alias refusal; default TLSA */
  rrtype?: 'TLSA' | 'TXT';
  /**
   * Take provably unsigned answers too (`insecure`; `bogus` never). For an ACME DNS-01 value
   * (RFC 8555 §8.4): the CA reads it by plain DNS, the update goes to our own backend, and a
   * domain may use DNS-01 without DANE. TLSA owners keep the default (authenticated only).
   */
  insecureOk?: boolean;
}

/** The zone apex holding `owner`, absolute and lower case (`example.org.`). */
export async function findZone(
  owner: string,
  resolver: Resolver,
  o: FindZoneOptions = {},
): Promise<string> {
  const abs = absName(owner);
  const labels = abs.slice(0, -1).split('.');
  for (let i = 0; i < labels.length; i++) {
    const name = `${labels.slice(i).join('.')}.`;
    const r = await resolver.lookup(name, 'SOA');
    if (r.status !== 'secure' && !(o.insecureOk && r.status === 'insecure')) {
      throw new DkError(
        r.status === 'indeterminate' ? 'tempfail' : 'config',
        'E_ZONE_CUT',
        `Cannot tell which zone holds ${abs}: the SOA lookup of ${name} through ${r.server} is ${r.status}${r.why ? ` (${r.why})` : r.error ? ` (${r.error.message})` : ''}; only a DNSSEC-authenticated answer is taken${o.insecureOk ? ' (or a provably unsigned one)' : ''}`,
      );
    }
    if (i === 0 && r.cnameChain.length > 0) {
      // RFC 1034 §3.6.2: no other data next to a CNAME; the record cannot be published here
      throw new DkError(
        'config',
        'E_ZONE_CUT',
        `${abs} is an alias (CNAME to ${r.cnameChain.at(-1)}.): a ${o.rrtype ?? 'TLSA'} record cannot be published at it`,
      );
    }
    // an SOA reached through a CNAME belongs to the target, not to this name
    if (r.records.length > 0 && r.cnameChain.length === 0) return name.toLowerCase();
    if (r.rcode !== 'NOERROR' && r.rcode !== 'NXDOMAIN') {
      throw new DkError(
        'tempfail',
        'E_ZONE_CUT',
        `Cannot tell which zone holds ${abs}: the SOA lookup of ${name} through ${r.server} answered ${r.rcode ?? 'nothing'}`,
      );
    }
  }
  throw new DkError('config', 'E_ZONE_CUT', `No zone holds ${abs}: not even the root has an SOA`);
}
