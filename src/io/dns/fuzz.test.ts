/**
 * Whatever bytes a server sends, the parsing path ends in a decoded answer or a DkError, never
 * another exception and never a hang: offline on the decoder (many runs), then through the
 * real client and a fake server answering with mutated packets over UDP and TCP (fewer runs,
 * short timeouts). Also: on well-formed messages our decoder agrees with dns-packet's encoder.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { isDkError } from '../../core/errors.js';
import { FakeDnsServer, response, type FakeQuery } from './fake-server.js';
import { decodeRdata } from './rdata.js';
import { extractAnswer, StubResolver } from './resolver.js';
import { TYPE_CODES, type RecordType } from './types.js';
import { decodeMessage } from './wire.js';

const TYPES = Object.keys(TYPE_CODES) as RecordType[];

/** Real answers of every supported type, some with compressed names (written by hand). */
function samples(): Buffer[] {
  const q: FakeQuery = {
    id: 1,
    name: 'mx.example.test',
    type: 'MX',
    rd: true,
    cd: false,
    ad: true,
    dnssecOk: true,
    udpSize: 1232,
    transport: 'udp',
    port: 0,
    raw: Buffer.alloc(0),
  };
  const n = q.name;
  const compressed = Buffer.from([
    0x00,
    0x01,
    0x81,
    0xa0,
    0,
    1,
    0,
    2,
    0,
    0,
    0,
    0,
    // 12: mx.example.test MX IN
    2,
    0x6d,
    0x78,
    7,
    ...Buffer.from('example'),
    4,
    ...Buffer.from('test'),
    0,
    0,
    15,
    0,
    1,
    // CNAME pointing at a compressed name: mx.example.test CNAME www.<example.test>
    0xc0,
    12,
    0,
    5,
    0,
    1,
    0,
    0,
    0,
    60,
    0,
    6,
    3,
    ...Buffer.from('www'),
    0xc0,
    15,
    // MX 10 <mx.example.test>
    0xc0,
    12,
    0,
    15,
    0,
    1,
    0,
    0,
    0,
    60,
    0,
    4,
    0,
    10,
    0xc0,
    12,
  ]);
  return [
    compressed,
    response(q, {
      ad: true,
      answers: [
        { name: n, type: 'CNAME', ttl: 60, data: 'mail.example.test' },
        {
          name: 'mail.example.test',
          type: 'MX',
          ttl: 60,
          data: { preference: 10, exchange: 'mx.example.test' },
        },
        { name: 'mail.example.test', type: 'A', ttl: 60, data: '192.0.2.1' },
        { name: 'mail.example.test', type: 'AAAA', ttl: 60, data: '2001:db8::1' },
        {
          name: '_25._tcp.mail.example.test',
          type: 'TLSA',
          ttl: 60,
          data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 7) },
        },
      ],
      authorities: [
        { name: 'example.test', type: 'NS', ttl: 60, data: 'ns.example.test' },
        {
          name: 'example.test',
          type: 'SOA',
          ttl: 60,
          data: {
            mname: 'ns.example.test',
            rname: 'h.example.test',
            serial: 1,
            refresh: 2,
            retry: 3,
            expire: 4,
            minimum: 5,
          },
        },
      ],
    }),
    response(q, {
      answers: [
        {
          name: n,
          type: 'DS',
          ttl: 60,
          data: { keyTag: 1, algorithm: 13, digestType: 2, digest: Buffer.alloc(32) },
        },
        {
          name: n,
          type: 'DNSKEY',
          ttl: 60,
          data: { flags: 257, algorithm: 13, key: Buffer.alloc(64) },
        },
      ],
    }),
  ];
}

/** Decode, then try every typed view of every record and the answer extraction. */
function parseAll(buf: Buffer): void {
  let m;
  try {
    m = decodeMessage(buf);
  } catch (e) {
    assert.ok(isDkError(e), `decodeMessage threw ${String(e)}`);
    assert.doesNotMatch(e.message, /\n/);
    return;
  }
  for (const rr of [...m.answers, ...m.authorities, ...m.additionals]) {
    for (const t of TYPES) {
      try {
        decodeRdata(t, m.buf, rr);
      } catch (e) {
        assert.ok(isDkError(e), `decodeRdata(${t}) threw ${String(e)}`);
      }
    }
  }
  const name = m.questions[0]?.name ?? 'x.test';
  // extractAnswer never throws: bad records are skipped and counted.
  for (const t of TYPES) extractAnswer(m, name, t);
}

const mutated = (base: () => Buffer[]) =>
  fc
    .record({
      pick: fc.nat(),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      cut: fc.option(fc.nat()),
      extra: fc.uint8Array({ maxLength: 8 }),
    })
    .map(({ pick, edits, cut, extra }) => {
      const all = base();
      const b = Buffer.from(all[pick % all.length]!);
      for (const [at, v] of edits) b[at % b.length] = v;
      const c = cut === null ? b : b.subarray(0, cut % (b.length + 1));
      return Buffer.concat([c, extra]);
    });

describe('the decoder throws only DkError', () => {
  const base = samples();

  test('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => parseAll(Buffer.from(b))),
      {
        numRuns: 3000,
      },
    );
  });

  test('a valid header and question, then arbitrary bytes', () => {
    const head = base[0]!.subarray(0, 33);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(65535), (tail, count) => {
        const b = Buffer.concat([head, tail]);
        b.writeUInt16BE(count % 40, 6);
        parseAll(b);
      }),
      { numRuns: 3000 },
    );
  });

  test('real answers with bytes changed, cut short or extended', () => {
    fc.assert(
      fc.property(
        mutated(() => base),
        parseAll,
      ),
      { numRuns: 5000 },
    );
  });

  test('pathological compression chains finish fast', () => {
    // A NULL record whose RDATA is 15000 pointers, each to the one before it, then 2000
    // records whose owner name enters the chain at its end: 30 million hops if unbounded.
    const k = 15000;
    const r = 2000;
    const head = Buffer.from([0, 0, 0x81, 0x80, 0, 1, r >> 8, r & 0xff, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    const chain = Buffer.alloc(2 * k);
    const chainAt = head.length + 11;
    for (let i = 0; i < k; i++)
      chain.writeUInt16BE(0xc000 | (i === 0 ? 12 : chainAt + 2 * (i - 1)), 2 * i);
    const nullRr = Buffer.from([0, 0, 10, 0, 1, 0, 0, 0, 0, (2 * k) >> 8, (2 * k) & 0xff]);
    const last = chainAt + 2 * (k - 1);
    const rest: number[] = [];
    for (let i = 1; i < r; i++)
      rest.push(0xc0 | (last >> 8), last & 0xff, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4);
    const b = Buffer.concat([head, nullRr, chain, Buffer.from(rest)]);
    const t = Date.now();
    assert.throws(
      () => decodeMessage(b),
      (e: unknown) => isDkError(e) && /follows more than 127 pointers/.test(e.message),
    );
    parseAll(b);
    assert.ok(Date.now() - t < 1000, `took ${Date.now() - t} ms`);
  });
});

describe('our decoder agrees with dns-packet on well-formed messages', () => {
  const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
  const record = fc.oneof(
    fc.record({ name, ttl: fc.nat(0x7fffffff), ip: fc.ipV4() }).map((r) => ({
      name: r.name,
      type: 'A' as const,
      ttl: r.ttl,
      data: r.ip,
      want: r.ip,
    })),
    fc.record({ name, ttl: fc.nat(0x7fffffff), pref: fc.nat(65535), ex: name }).map((r) => ({
      name: r.name,
      type: 'MX' as const,
      ttl: r.ttl,
      data: { preference: r.pref, exchange: r.ex },
      want: { preference: r.pref, exchange: r.ex },
    })),
    fc.record({ name, ttl: fc.nat(0x7fffffff), t: name }).map((r) => ({
      name: r.name,
      type: 'CNAME' as const,
      ttl: r.ttl,
      data: r.t,
      want: r.t,
    })),
    fc
      .record({
        name,
        ttl: fc.nat(0x7fffffff),
        u: fc.nat(255),
        s: fc.nat(255),
        m: fc.nat(255),
        d: fc.uint8Array({ maxLength: 64 }),
      })
      .map((r) => ({
        name: r.name,
        type: 'TLSA' as const,
        ttl: r.ttl,
        data: { usage: r.u, selector: r.s, matchingType: r.m, certificate: Buffer.from(r.d) },
        want: { usage: r.u, selector: r.s, mtype: r.m, data: Buffer.from(r.d) },
      })),
  );

  test('names, types, TTLs and typed RDATA', () => {
    fc.assert(
      fc.property(fc.nat(65535), fc.array(record, { maxLength: 8 }), (id, recs) => {
        const buf = dnsPacket.encode({
          type: 'response',
          id,
          questions: [{ name: 'q.test', type: 'A', class: 'IN' }],
          answers: recs.map(({ want: _w, ...r }) => r as dnsPacket.Answer),
        });
        const m = decodeMessage(buf);
        assert.equal(m.header.id, id);
        assert.equal(m.answers.length, recs.length);
        recs.forEach((r, i) => {
          const rr = m.answers[i]!;
          assert.equal(rr.name, r.name);
          assert.equal(rr.type, TYPE_CODES[r.type]);
          assert.equal(rr.ttl, r.ttl);
          assert.deepEqual(decodeRdata(r.type, m.buf, rr), r.want);
        });
      }),
      { numRuns: 500 },
    );
  });
});

describe('through the client: mutated answers over UDP and TCP', () => {
  let server: FakeDnsServer;
  let next: (q: FakeQuery) => Buffer = (q) => response(q);

  before(async () => {
    server = await FakeDnsServer.start((q) => next(q));
  });
  after(async () => {
    await server.close();
  });

  test('every lookup ends, with a status, within its deadline', async () => {
    const base = samples();
    const resolver = new StubResolver({
      servers: [server.server],
      timeoutMs: 40,
      tries: 1,
    });
    await fc.assert(
      fc.asyncProperty(
        mutated(() => base),
        fc.boolean(),
        fc.boolean(),
        async (pkt, keepId, tcp) => {
          // Keep the ID most of the time so the answer reaches the parser instead of being
          // ignored as someone else's.
          next = (q) => {
            const b = Buffer.from(pkt);
            if (keepId && b.length >= 2) b.writeUInt16BE(q.id, 0);
            return b;
          };
          const t = Date.now();
          const r = await resolver.lookup('mx.example.test', 'MX', { tcp });
          // UDP: one try (+ CD retry + TCP fallback); each bounded by the 40 ms deadline.
          assert.ok(Date.now() - t < 1000, 'bounded time');
          assert.ok(['secure', 'insecure', 'bogus', 'indeterminate'].includes(r.status));
          if (r.error) {
            assert.ok(isDkError(r.error));
            assert.doesNotMatch(r.error.message, /\n/);
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});
