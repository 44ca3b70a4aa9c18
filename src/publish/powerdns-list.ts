/**
 * Every TLSA RRset of a PowerDNS zone, for `dns list`: one GET of the whole zone (PowerDNS 4.7
 * has no type filter without a name), its TLSA RRsets picked out. Disabled records are kept
 * apart (`disabled`): PowerDNS holds them but does not serve them, so to DNS they do not exist,
 * yet an operator looking for "what is in my zone" should see them, marked as such.
 */
import { parseTlsa } from '../core/tlsa/parse.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import { byOwner } from './owner-order.js';
import { absName, type Json, type PowerdnsApi } from './powerdns-api.js';
import type { TlsaRrset } from './types.js';

function isObject(v: Json): v is { [k: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export async function listPowerdnsTlsa(api: PowerdnsApi): Promise<TlsaRrset[]> {
  const action = `the listing of the TLSA RRsets of ${api.zone}`;
  const body = await api.request('GET', api.zonePath(), action);
  if (!isObject(body) || !Array.isArray(body.rrsets)) {
    throw api.protocol(action, 'no "rrsets" list in the zone');
  }
  const byName = new Map<string, TlsaRrset & { disabled: TlsaRecord[] }>();
  for (const s of body.rrsets) {
    if (!isObject(s) || typeof s.name !== 'string' || typeof s.type !== 'string') {
      throw api.protocol(action, 'an RRset without "name" or "type"');
    }
    if (s.type.toUpperCase() !== 'TLSA') continue;
    if (!Array.isArray(s.records)) throw api.protocol(action, 'an RRset without "records"');
    const owner = absName(s.name);
    const cur = byName.get(owner) ?? { owner, ttl: null, records: [], disabled: [] };
    for (const r of s.records) {
      if (!isObject(r) || typeof r.content !== 'string') {
        throw api.protocol(action, 'a record without "content"');
      }
      let record: TlsaRecord;
      try {
        record = parseTlsa(r.content);
      } catch {
        throw api.protocol(
          action,
          `TLSA content "${r.content.slice(0, 80)}" at ${owner} does not parse`,
        );
      }
      (r.disabled === true ? cur.disabled : cur.records).push(record);
    }
    if (cur.records.length > 0) {
      if (typeof s.ttl !== 'number') throw api.protocol(action, `the RRset at ${owner} has no TTL`);
      cur.ttl = s.ttl;
    }
    byName.set(owner, cur);
  }
  return [...byName.values()]
    .filter((x) => x.records.length > 0 || x.disabled.length > 0)
    .sort((a, b) => byOwner(a.owner, b.owner));
}
