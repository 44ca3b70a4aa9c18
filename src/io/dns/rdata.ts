/**
 * Typed RDATA for the record types danekeeper reads. Every decoder consumes exactly RDLENGTH
 * octets (RFC 1035 §3.2.1) and throws a DkError otherwise; the caller decides whether one bad
 * record spoils the answer or is skipped.
 */
import { DkError } from '../../core/errors.js';
import { decodeTlsaRdata } from '../../core/tlsa/wire.js';
import type { WireRecord } from './wire.js';
import { decodeName } from './wire.js';
import type { DnskeyRecord, RecordType, RecordTypes } from './types.js';

function bad(type: string, why: string, offset: number): DkError {
  return new DkError('protocol', 'E_DNS_RDATA', `${type} record: ${why}`, { offset });
}

function exactLength(type: string, rr: WireRecord, n: number): void {
  if (rr.rdata.length !== n) {
    throw bad(type, `RDATA of ${rr.rdata.length} octets, expected ${n}`, rr.rdataOffset);
  }
}

function atLeast(type: string, rr: WireRecord, n: number): void {
  if (rr.rdata.length < n) {
    throw bad(type, `RDATA of ${rr.rdata.length} octets, expected at least ${n}`, rr.rdataOffset);
  }
}

/**
 * Names in NS, CNAME, SOA and MX RDATA may be compressed against the whole message (RFC 3597
 * §4 lists them as the well-known types where that is allowed), but must end inside the RDATA.
 */
function nameIn(
  type: string,
  buf: Buffer,
  rr: WireRecord,
  at: number,
): { name: string; end: number } {
  const rdEnd = rr.rdataOffset + rr.rdata.length;
  if (at >= rdEnd) throw bad(type, 'RDATA ends before its domain name', at);
  let n: { name: string; end: number };
  try {
    n = decodeName(buf, at);
  } catch (e) {
    throw bad(type, (e as Error).message, at);
  }
  if (n.end > rdEnd) throw bad(type, 'domain name runs past the end of the RDATA', at);
  return n;
}

function noTrailing(type: string, rr: WireRecord, end: number): void {
  const rdEnd = rr.rdataOffset + rr.rdata.length;
  if (end !== rdEnd) throw bad(type, `${rdEnd - end} octets left over after the RDATA`, end);
}

/** RFC 5952 §4: lower case, leading zeros dropped, the longest run (of two or more) of zero
 * groups, the first one on a tie, shortened to `::`. */
export function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** RFC 4034 Appendix B (algorithm 1 is obsolete and has its own rule, not needed here). */
export function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

type Decoder<K extends RecordType> = (buf: Buffer, rr: WireRecord) => RecordTypes[K];

const DECODERS: { [K in RecordType]: Decoder<K> } = {
  A: (_buf, rr) => {
    exactLength('A', rr, 4);
    return Array.from(rr.rdata).join('.');
  },
  AAAA: (_buf, rr) => {
    exactLength('AAAA', rr, 16);
    return formatIpv6(rr.rdata);
  },
  CNAME: (buf, rr) => {
    const n = nameIn('CNAME', buf, rr, rr.rdataOffset);
    noTrailing('CNAME', rr, n.end);
    return n.name;
  },
  NS: (buf, rr) => {
    const n = nameIn('NS', buf, rr, rr.rdataOffset);
    noTrailing('NS', rr, n.end);
    return n.name;
  },
  MX: (buf, rr) => {
    atLeast('MX', rr, 3);
    const n = nameIn('MX', buf, rr, rr.rdataOffset + 2);
    noTrailing('MX', rr, n.end);
    return { preference: rr.rdata.readUInt16BE(0), exchange: n.name };
  },
  SOA: (buf, rr) => {
    const m = nameIn('SOA', buf, rr, rr.rdataOffset);
    const r = nameIn('SOA', buf, rr, m.end);
    const rdEnd = rr.rdataOffset + rr.rdata.length;
    if (rdEnd - r.end !== 20) throw bad('SOA', 'the five counters are not 20 octets', r.end);
    return {
      mname: m.name,
      rname: r.name,
      serial: buf.readUInt32BE(r.end),
      refresh: buf.readUInt32BE(r.end + 4),
      retry: buf.readUInt32BE(r.end + 8),
      expire: buf.readUInt32BE(r.end + 12),
      minimum: buf.readUInt32BE(r.end + 16),
    };
  },
  DS: (_buf, rr) => {
    atLeast('DS', rr, 5);
    return {
      keyTag: rr.rdata.readUInt16BE(0),
      algorithm: rr.rdata[2]!,
      digestType: rr.rdata[3]!,
      digest: Buffer.from(rr.rdata.subarray(4)),
    };
  },
  DNSKEY: (_buf, rr): DnskeyRecord => {
    atLeast('DNSKEY', rr, 5);
    return {
      flags: rr.rdata.readUInt16BE(0),
      protocol: rr.rdata[2]!,
      algorithm: rr.rdata[3]!,
      key: Buffer.from(rr.rdata.subarray(4)),
      keyTag: keyTag(rr.rdata),
    };
  },
  TLSA: (_buf, rr) => {
    try {
      return decodeTlsaRdata(rr.rdata);
    } catch (e) {
      // decodeTlsaRdata reports a 'data' error (it serves files too); on the wire it is protocol.
      const why = e instanceof Error ? e.message : String(e);
      throw new DkError('protocol', 'E_DNS_RDATA', why, { offset: rr.rdataOffset });
    }
  },
};

/** RFC 4034 §3.1: an RRSIG's fields. Times are seconds since the epoch modulo 2^32 (§3.1.5). */
export interface RrsigRecord {
  /** the RR type number covered (6 SOA, 48 DNSKEY, 52 TLSA, ...) */
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  /** presentation form without the final dot */
  signerName: string;
  signature: Buffer;
}

/** RFC 4034 §3.1; the signer's name is never compressed (§3.1.7), so read within the RDATA. */
export function decodeRrsig(rr: WireRecord): RrsigRecord {
  atLeast('RRSIG', rr, 19);
  const d = rr.rdata;
  // A stand-alone buffer with a 12-byte dummy header: decodeName refuses pointers into the
  // header, so a (forbidden) compression pointer cannot reach outside the RDATA.
  const own = Buffer.concat([Buffer.alloc(12), d.subarray(18)]);
  let n: { name: string; end: number };
  try {
    n = decodeName(own, 12);
  } catch (e) {
    throw bad('RRSIG', (e as Error).message, rr.rdataOffset + 18);
  }
  return {
    typeCovered: d.readUInt16BE(0),
    algorithm: d[2]!,
    labels: d[3]!,
    originalTtl: d.readUInt32BE(4),
    expiration: d.readUInt32BE(8),
    inception: d.readUInt32BE(12),
    keyTag: d.readUInt16BE(16),
    signerName: n.name,
    signature: Buffer.from(own.subarray(n.end)),
  };
}

/** Decodes one record of a known type; `buf` is the whole message the record came from. */
export function decodeRdata<K extends RecordType>(
  type: K,
  buf: Buffer,
  rr: WireRecord,
): RecordTypes[K] {
  return (DECODERS[type] as Decoder<K>)(buf, rr);
}
