/**
 * Encoding of the few DNS messages this backend sends: a query (RFC 1035 §4.1) and an UPDATE
 * (RFC 2136 §2). Names are written uncompressed: messages are small, and TSIG (RFC 8945 §4.3.2)
 * wants some names in canonical, uncompressed form anyway. Decoding uses io/dns/wire.ts.
 */
import { DkError } from '../../core/errors.js';
import { rcodeName as dnsRcodeName } from '../../io/dns/types.js';

export const TYPE_SOA = 6;
export const TYPE_CNAME = 5;
export const TYPE_TLSA = 52;
export const TYPE_TXT = 16;
export const TYPE_TSIG = 250;
export const CLASS_IN = 1;
/** RFC 2136 §1.3 */
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;
export const OPCODE_QUERY = 0;
/** RFC 2136 §1.3 */
export const OPCODE_UPDATE = 5;

/**
 * TSIG error field values (RFC 8945 §3). 16 means BADSIG here, where the EDNS extended RCODE
 * calls it BADVERS (RFC 6891 §9); everything else is named by the DNS client's table.
 */
const TSIG_ERRORS: Readonly<Record<number, string>> = {
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};

/** The name of a header RCODE (RFC 1035 §4.1.1, RFC 2136 §2.2) or a TSIG error. */
export function rcodeName(rcode: number): string {
  return TSIG_ERRORS[rcode] ?? dnsRcodeName(rcode);
}

export interface Rr {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
}

/**
 * An absolute name (`a.b.` or `a.b`, the root `.`) in wire form. Only the letters owners and key
 * names use: anything needing escapes is refused rather than guessed at.
 */
export function encodeName(name: string, lower = false): Buffer {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '') return Buffer.from([0]);
  const labels = n.split('.');
  const parts: Buffer[] = [];
  let total = 1;
  for (const l of labels) {
    if (l.length === 0 || l.length > 63 || !/^[A-Za-z0-9_*-]+$/.test(l)) {
      throw new DkError(
        'usage',
        'E_PUBLISH_NAME',
        `"${name.slice(0, 80)}" is not a valid DNS name`,
      );
    }
    total += l.length + 1;
    parts.push(Buffer.from([l.length]), Buffer.from(lower ? l.toLowerCase() : l, 'ascii'));
  }
  if (total > 255) {
    throw new DkError(
      'usage',
      'E_PUBLISH_NAME',
      `"${name.slice(0, 80)}" is longer than 255 octets`,
    );
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function encodeRr(rr: Rr): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(rr.class, 2);
  fixed.writeUInt32BE(rr.ttl >>> 0, 4);
  fixed.writeUInt16BE(rr.rdata.length, 8);
  return Buffer.concat([encodeName(rr.name), fixed, rr.rdata]);
}

export interface MessageSpec {
  id: number;
  opcode: number;
  /** RD; queries to a primary go without it (RFC 1035 §4.1.1) */
  rd?: boolean;
  /** the question (QUERY) or the zone (UPDATE, RFC 2136 §2.3) */
  question: { name: string; type: number; class: number };
  /** answer / prerequisite section (RFC 2136 §2.4) */
  an?: Rr[];
  /** authority / update section (RFC 2136 §2.5) */
  ns?: Rr[];
  ar?: Rr[];
}

export function encodeMessage(m: MessageSpec): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(m.id, 0);
  h.writeUInt16BE(((m.opcode & 0xf) << 11) | (m.rd ? 0x0100 : 0), 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(m.an?.length ?? 0, 6);
  h.writeUInt16BE(m.ns?.length ?? 0, 8);
  h.writeUInt16BE(m.ar?.length ?? 0, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(m.question.type, 0);
  q.writeUInt16BE(m.question.class, 2);
  const out = Buffer.concat([
    h,
    encodeName(m.question.name),
    q,
    ...(m.an ?? []).map(encodeRr),
    ...(m.ns ?? []).map(encodeRr),
    ...(m.ar ?? []).map(encodeRr),
  ]);
  if (out.length > 65535) {
    throw new DkError(
      'usage',
      'E_PUBLISH_TOO_LARGE',
      `The DNS message for ${m.question.name} would be ${out.length} bytes, more than 65535`,
    );
  }
  return out;
}
