/**
 * The one query we send: a single question, EDNS0 with DO=1 (RFC 3225 §3, RFC 6891 §6), AD=1 as
 * the stub's signal that it wants the AD bit (RFC 6840 §5.7), RD and CD as asked.
 */
import { randomInt } from 'node:crypto';
import { CLASS_IN, TYPE_CODES, type RecordType } from './types.js';

export interface QuerySpec {
  id: number;
  /** Already checked by queryName(): LDH, underscores and `*` only, so it needs no escaping. */
  name: string;
  type: RecordType;
  rd: boolean;
  cd: boolean;
  /** RFC 6891 §6.2.5; 1232 is the DNS Flag Day 2020 value that avoids IP fragmentation. */
  udpSize: number;
}

/** RFC 5452 §4: a fresh, unpredictable 16-bit ID for every query sent. */
export function randomId(): number {
  return randomInt(0x10000);
}

/** RFC 1035 §4.1.1 header flags we set; RFC 4035 §3.2 (CD), RFC 6840 §5.7 (AD). */
const RD = 0x0100;
const AD = 0x0020;
const CD = 0x0010;
/** RFC 6891 §6.1.2: the OPT pseudo-RR's type; §6.1.4: DO is the top bit of the TTL's flags. */
const TYPE_OPT = 41;
const DO = 0x8000;

/**
 * The query as bytes: header, one question, the OPT record (RFC 1035 §4.1, RFC 6891 §6.1.2).
 * Written directly rather than through dns-packet's encoder: a bulk run sends thousands of
 * queries and the general encoder was a visible share of its CPU; query.test.ts checks that the
 * bytes are exactly dns-packet's for every kind of query we send.
 */
export function encodeQuery(q: QuerySpec): Buffer {
  // RFC 1035 §3.1: each label as a length octet and its octets, then the root's zero octet.
  // queryName() allows ASCII only, so characters are octets.
  const name = q.name === '.' || q.name === '' ? '' : q.name;
  const nameLen = name === '' ? 1 : name.length + 2;
  const b = Buffer.allocUnsafe(12 + nameLen + 4 + 11);
  b.writeUInt16BE(q.id, 0);
  b.writeUInt16BE(AD | (q.rd ? RD : 0) | (q.cd ? CD : 0), 2);
  b.writeUInt16BE(1, 4); // QDCOUNT
  b.writeUInt16BE(0, 6); // ANCOUNT
  b.writeUInt16BE(0, 8); // NSCOUNT
  b.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  let at = 12;
  if (name !== '') {
    let start = 0;
    for (;;) {
      const dot = name.indexOf('.', start);
      const end = dot === -1 ? name.length : dot;
      b[at++] = end - start;
      at += b.write(name.slice(start, end), at, 'latin1');
      if (dot === -1) break;
      start = dot + 1;
    }
  }
  b[at++] = 0;
  b.writeUInt16BE(TYPE_CODES[q.type], at);
  b.writeUInt16BE(CLASS_IN, at + 2);
  at += 4;
  // OPT: root owner, type 41, CLASS = UDP payload size, TTL = extended RCODE 0, version 0
  // (RFC 6891 §6.1.3), DO (RFC 3225 §3); no options
  b[at++] = 0;
  b.writeUInt16BE(TYPE_OPT, at);
  b.writeUInt16BE(q.udpSize, at + 2);
  b.writeUInt16BE(0, at + 4);
  b.writeUInt16BE(DO, at + 6);
  b.writeUInt16BE(0, at + 8);
  return b;
}
