/**
 * The one query we send: a single question, EDNS0 with DO=1 (RFC 3225 §3, RFC 6891 §6), AD=1 as
 * the stub's signal that it wants the AD bit (RFC 6840 §5.7), RD and CD as asked.
 */
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { RecordType } from './types.js';

export interface QuerySpec {
  id: number;
  /** Already checked by queryName(): LDH, underscores and `*` only, so dns-packet needs no escaping. */
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

export function encodeQuery(q: QuerySpec): Buffer {
  const flags =
    dnsPacket.AUTHENTIC_DATA |
    (q.rd ? dnsPacket.RECURSION_DESIRED : 0) |
    (q.cd ? dnsPacket.CHECKING_DISABLED : 0);
  return dnsPacket.encode({
    type: 'query',
    id: q.id,
    flags,
    questions: [{ name: q.name, type: q.type, class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: q.udpSize,
        extendedRcode: 0,
        ednsVersion: 0, // RFC 6891 §6.1.3: version 0
        flags: dnsPacket.DNSSEC_OK,
        flag_do: true,
        options: [],
      },
    ],
  });
}
