import { toHex } from './hex.js';
import { fieldName } from './names.js';
import type { TlsaRecord } from './record.js';

/** `3 1 1 <hex>`, lower-case hex (the command-line contract's rdata form). */
export function formatRdata(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.mtype} ${toHex(r.data)}`;
}

/**
 * A zone-file line. TTL left out means "the zone's default" ($TTL), as in the seed's form
 * where a blank TTL field takes the zone's.
 */
export function formatZoneLine(owner: string, r: TlsaRecord, ttl?: number): string {
  const t = ttl === undefined ? '' : ` ${ttl}`;
  return `${owner}${t} IN TLSA ${formatRdata(r)}`;
}

export interface TlsaJson {
  usage: number;
  selector: number;
  mtype: number;
  data: string;
  /** RFC 7218 mnemonics, null for unassigned values */
  names: { usage: string | null; selector: string | null; mtype: string | null };
  rdata: string;
  owner?: string;
  ttl?: number;
}

export function recordToJson(r: TlsaRecord, owner?: string, ttl?: number): TlsaJson {
  const j: TlsaJson = {
    usage: r.usage,
    selector: r.selector,
    mtype: r.mtype,
    data: toHex(r.data),
    names: {
      usage: fieldName('usage', r.usage) ?? null,
      selector: fieldName('selector', r.selector) ?? null,
      mtype: fieldName('mtype', r.mtype) ?? null,
    },
    rdata: formatRdata(r),
  };
  if (owner !== undefined) j.owner = owner;
  if (ttl !== undefined) j.ttl = ttl;
  return j;
}
