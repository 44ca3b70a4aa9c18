/**
 * DNSSEC of a PowerDNS zone through its HTTP API (for `danekeeper dnssec status`): what keys
 * sign the zone and which DS records the registrar needs, and securing an unsigned zone.
 *
 * Found on 4.7.3: `PUT /zones/{zone}` with `{"dnssec": true}` secures the zone the way
 * `pdnsutil secure-zone` does (one ECDSAP256SHA256 CSK with the default settings), rectifies it
 * and serves it signed at once; `GET /zones/{zone}/cryptokeys` then lists the key with its
 * DNSKEY and DS (digests 1, 2 and 4). The list never holds private keys (only a GET of one key
 * by id does), and this module never asks for one.
 */
import { DkError } from '../core/errors.js';
import { PowerdnsApi, type Json, type PowerdnsApiOptions } from './powerdns-api.js';

export interface PowerdnsKey {
  id: number;
  /** `ksk`, `zsk` or `csk` */
  keytype: string;
  active: boolean;
  published: boolean;
  /** mnemonic, e.g. `ECDSAP256SHA256` */
  algorithm: string;
  /** DNSKEY RDATA, `257 3 13 base64` */
  dnskey: string;
  /** DS RDATA for the parent, `tag alg digesttype hex`; empty for a ZSK */
  ds: string[];
}

export interface PowerdnsDnssecStatus {
  /** PowerDNS's verdict: presigned, or at least one active key */
  dnssec: boolean;
  keys: PowerdnsKey[];
}

function isObject(v: Json): v is { [k: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

async function zoneInfo(api: PowerdnsApi, action: string): Promise<{ [k: string]: Json }> {
  const z = await api.request('GET', api.zonePath('?rrsets=false'), action);
  if (!isObject(z) || typeof z.dnssec !== 'boolean') {
    throw api.protocol(action, 'no "dnssec" flag in the zone');
  }
  return z;
}

async function status(api: PowerdnsApi, action: string): Promise<PowerdnsDnssecStatus> {
  const z = await zoneInfo(api, action);
  const list = await api.request('GET', api.zonePath('/cryptokeys'), action);
  if (!Array.isArray(list)) throw api.protocol(action, 'the cryptokeys answer is not a list');
  const keys = list.map((k): PowerdnsKey => {
    if (
      !isObject(k) ||
      typeof k.id !== 'number' ||
      typeof k.keytype !== 'string' ||
      typeof k.dnskey !== 'string'
    ) {
      throw api.protocol(action, 'a cryptokey without id, keytype or dnskey');
    }
    // copied field by field: nothing else of the key (never `privatekey`) leaves this module
    return {
      id: k.id,
      keytype: k.keytype,
      active: k.active === true,
      published: k.published !== false,
      algorithm: typeof k.algorithm === 'string' ? k.algorithm : '',
      dnskey: k.dnskey,
      ds: Array.isArray(k.ds) ? k.ds.filter((d): d is string => typeof d === 'string') : [],
    };
  });
  return { dnssec: z.dnssec as boolean, keys: keys.sort((a, b) => a.id - b.id) };
}

export interface PowerdnsZoneSettings {
  /** `Native`, `Master`, `Slave` (4.7 words) */
  kind: string;
  dnssec: boolean;
  serial: number | null;
  /**
   * SOA-EDIT-API: how API edits change the SOA serial. Empty (what `pdnsutil create-zone` and
   * `load-zone` leave) means never: secondaries are not told, and the propagation check sees
   * no new serial. `DEFAULT` / `INCREASE` / `EPOCH` bump it.
   */
  soaEditApi: string;
  /** the zone's API-RECTIFY metadata; false also when unset (then default-api-rectify rules) */
  apiRectify: boolean;
  /** empty for NSEC */
  nsec3param: string;
}

/** The zone settings that matter for publishing through the API (a readiness check shows them). */
export async function powerdnsZoneSettings(
  opts: PowerdnsApiOptions,
): Promise<PowerdnsZoneSettings> {
  const api = new PowerdnsApi(opts);
  const z = await zoneInfo(api, `the read of ${api.zone}`);
  return {
    kind: typeof z.kind === 'string' ? z.kind : '',
    dnssec: z.dnssec === true,
    serial: typeof z.serial === 'number' ? z.serial : null,
    soaEditApi: typeof z.soa_edit_api === 'string' ? z.soa_edit_api : '',
    apiRectify: z.api_rectify === true,
    nsec3param: typeof z.nsec3param === 'string' ? z.nsec3param : '',
  };
}

/** The zone's DNSSEC state and keys, with the DS records to hand to the registrar. */
export async function powerdnsDnssec(opts: PowerdnsApiOptions): Promise<PowerdnsDnssecStatus> {
  const api = new PowerdnsApi(opts);
  return status(api, `the read of the DNSSEC keys of ${api.zone}`);
}

/**
 * Rectifies the zone (ordername and auth fields for NSEC/NSEC3). PowerDNS does it by itself
 * after API edits unless API-RECTIFY is off. (4.7.3 answers 200 for an unsigned zone too.)
 */
export async function powerdnsRectify(opts: PowerdnsApiOptions): Promise<void> {
  const api = new PowerdnsApi(opts);
  await api.request('PUT', api.zonePath('/rectify'), `the rectification of ${api.zone}`);
}

/**
 * Signs an unsigned zone (`"dnssec": true`, PowerDNS's default key settings), rectifies it and
 * reads the keys back. A zone that is already signed is left as it is. The parent's DS is not
 * touched: hand the `ds` of the active KSK/CSK to the registrar.
 */
export async function powerdnsSecureZone(opts: PowerdnsApiOptions): Promise<PowerdnsDnssecStatus> {
  const api = new PowerdnsApi(opts);
  const action = `securing the zone ${api.zone}`;
  const z = await zoneInfo(api, `the read of ${api.zone}`);
  if (z.dnssec === true) return status(api, `the read of the DNSSEC keys of ${api.zone}`);
  if (typeof z.kind === 'string' && /^(slave|secondary|consumer)$/i.test(z.kind)) {
    throw new DkError(
      'config',
      'E_PUBLISH_NOTAUTH',
      `PowerDNS at ${api.base} holds ${api.zone} as a ${z.kind.toLowerCase()} zone: secure it on its primary`,
    );
  }
  await api.request('PUT', api.zonePath(), action, { dnssec: true });
  // PUT already rectifies on 4.7; once more costs little and covers API-RECTIFY "0"
  await api.request('PUT', api.zonePath('/rectify'), `the rectification of ${api.zone}`);
  const st = await status(api, `the read of the DNSSEC keys of ${api.zone}`);
  const signing = st.keys.some(
    (k) => k.active && k.published && (k.keytype === 'ksk' || k.keytype === 'csk') && k.ds.length,
  );
  if (!st.dnssec || !signing) {
    throw api.protocol(action, 'the zone has no active key-signing key afterwards');
  }
  return st;
}
