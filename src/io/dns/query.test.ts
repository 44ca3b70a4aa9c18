/**
 * The query encoder: byte for byte what dns-packet's encoder made of the same query before we
 * wrote our own (header flags, one question, OPT with DO), for every name, type and flag we send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { encodeQuery, type QuerySpec } from './query.js';
import { TYPE_CODES, type RecordType } from './types.js';

/** The encoding query.ts used to make with dns-packet. */
function reference(q: QuerySpec): Buffer {
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
        ednsVersion: 0,
        flags: dnsPacket.DNSSEC_OK,
        flag_do: true,
        options: [],
      },
    ],
  });
}

const TYPES = Object.keys(TYPE_CODES) as RecordType[];

test('the bytes of the queries a check sends equal dns-packet encoding', () => {
  const cases: QuerySpec[] = [
    { id: 0, name: 'example.org', type: 'MX', rd: true, cd: false, udpSize: 1232 },
    {
      id: 0xffff,
      name: '_25._tcp.mx1.hosters.test',
      type: 'TLSA',
      rd: true,
      cd: true,
      udpSize: 1232,
    },
    { id: 4660, name: '.', type: 'DNSKEY', rd: false, cd: false, udpSize: 4096 },
    { id: 1, name: '*.wild.example', type: 'A', rd: true, cd: false, udpSize: 512 },
    { id: 2, name: 'a'.repeat(63) + '.b', type: 'AAAA', rd: false, cd: true, udpSize: 65535 },
  ];
  for (const q of cases) assert.deepEqual(encodeQuery(q), reference(q), JSON.stringify(q));
});

test('any valid name, type, ID, flags and payload size: the same bytes as dns-packet', () => {
  const label = fc.stringMatching(/^[A-Za-z0-9_*-]{1,63}$/);
  const name = fc
    .array(label, { minLength: 1, maxLength: 6 })
    .map((ls) => ls.join('.'))
    .filter((n) => n.length <= 253);
  fc.assert(
    fc.property(
      name,
      fc.constantFrom(...TYPES),
      fc.integer({ min: 0, max: 0xffff }),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 512, max: 0xffff }),
      (n, type, id, rd, cd, udpSize) => {
        const q = { id, name: n, type, rd, cd, udpSize };
        assert.deepEqual(encodeQuery(q), reference(q));
      },
    ),
    { numRuns: 500 },
  );
});
