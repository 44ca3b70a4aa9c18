import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { DkError } from '../../core/errors.js';
import type { TlsaRecord } from '../../core/tlsa/record.js';
import { encodeTlsaRdata } from '../../core/tlsa/wire.js';
import { fakeServerPool, type FakeQuery } from '../../io/dns/fake-server.js';
import { decodeMessage } from '../../io/dns/wire.js';
import type { Publisher, TlsaChange } from '../types.js';
import type { TsigKey } from './keyfile.js';
import {
  CLASS_IN,
  CLASS_NONE,
  encodeMessage,
  TYPE_SOA,
  TYPE_TLSA,
  TYPE_CNAME,
  type Rr,
} from './message.js';
import { createRfc2136Publisher } from './publisher.js';
import {
  TSIG_BADKEY,
  TSIG_BADSIG,
  TSIG_BADTIME,
  tsigSign,
  tsigVerify,
  appendTsig,
} from './tsig.js';

const key: TsigKey = {
  name: 'dk-key',
  algorithm: 'hmac-sha256',
  secret: Buffer.from('c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=', 'base64'),
};
const otherKey: TsigKey = { ...key, secret: Buffer.alloc(32, 7) };
const ZONE = 'example.test.';
const OWNER = '_25._tcp.mail.example.test.';
const NOW = 1_800_000_000;
const rec = (hex: string): TlsaRecord => ({
  usage: 3,
  selector: 1,
  mtype: 1,
  data: Buffer.from(hex.repeat(32), 'hex'),
});
const A = rec('aa');
const B = rec('bb');
const H = rec('11'); // made by hand

const pool = fakeServerPool();

interface ReplyOptions {
  rcode?: number;
  aa?: boolean;
  answers?: Rr[];
  /** how to sign: our key over the request MAC (default), not at all, another key, ... */
  sign?: 'ok' | 'none' | 'otherKey' | 'noRequestMac' | 'badkey' | 'badsig' | 'badtime';
  id?: number;
  opcode?: number;
}

/** A response to the captured request, built and signed as a server would. */
function reply(q: FakeQuery, o: ReplyOptions = {}): Buffer {
  const req = decodeMessage(q.raw);
  const opcode = o.opcode ?? req.header.opcode;
  const qn = req.questions[0]!;
  const m = encodeMessage({
    id: o.id ?? q.id,
    opcode,
    question: { name: `${qn.name}.`, type: qn.type, class: qn.class },
    an: o.answers ?? [],
  });
  m.writeUInt16BE(0x8000 | (opcode << 11) | (o.aa ? 0x0400 : 0) | ((o.rcode ?? 0) & 0xf), 2);
  const v = tsigVerify(q.raw, key, { now: NOW });
  const requestMac = v.kind === 'verified' ? v.fields.mac : undefined;
  const sign = o.sign ?? 'ok';
  if (sign === 'none' || requestMac === undefined) return m;
  if (sign === 'otherKey') return tsigSign(m, otherKey, { now: NOW, requestMac }).wire;
  if (sign === 'noRequestMac') return tsigSign(m, key, { now: NOW }).wire;
  if (sign === 'badkey' || sign === 'badsig')
    // RFC 8945 §5.3.2: no MAC, the error in the TSIG RR
    return appendTsig(m, key.name, {
      algorithm: 'hmac-sha256.',
      timeSigned: NOW,
      fudge: 300,
      mac: Buffer.alloc(0),
      originalId: q.id,
      error: sign === 'badkey' ? TSIG_BADKEY : TSIG_BADSIG,
      otherData: Buffer.alloc(0),
    });
  if (sign === 'badtime') {
    const other = Buffer.alloc(6);
    other.writeUInt32BE(NOW + 1000, 2);
    return tsigSign(m, key, { now: NOW, requestMac, error: TSIG_BADTIME, otherData: other }).wire;
  }
  return tsigSign(m, key, { now: NOW, requestMac }).wire;
}

async function publisher(
  handler: (q: FakeQuery) => Buffer | null | 'close',
  k: TsigKey | null = key,
): Promise<{ p: Publisher; queries: FakeQuery[] }> {
  const srv = await pool(handler);
  return {
    p: createRfc2136Publisher({
      zone: 'Example.Test',
      server: { host: '127.0.0.1', port: srv.port },
      key: k,
      timeoutMs: 500,
      now: () => NOW,
    }),
    queries: srv.queries,
  };
}

async function rejects(p: Promise<unknown>): Promise<DkError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, String(e));
    return e;
  }
  assert.fail('did not throw');
}

const change = (c: Partial<TlsaChange> = {}): TlsaChange => ({
  owner: OWNER,
  expected: [],
  add: [A],
  remove: [],
  ttl: 3600,
  ...c,
});

interface Section {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: string;
}
const sect = (rs: { name: string; type: number; class: number; ttl: number; rdata: Buffer }[]) =>
  rs.map((r): Section => ({
    name: r.name,
    type: r.type,
    class: r.class,
    ttl: r.ttl,
    rdata: r.rdata.toString('hex'),
  }));
const rr = (r: TlsaRecord | null, klass: number, ttl: number): Section => ({
  name: OWNER.slice(0, -1),
  type: TYPE_TLSA,
  class: klass,
  ttl,
  rdata: r ? encodeTlsaRdata(r).toString('hex') : '',
});

describe('rfc2136 apply: the UPDATE message (RFC 2136 §2)', () => {
  it('adding to an empty owner: zone SOA, "RRset does not exist", one add; TCP; TSIG-signed', async () => {
    const { p, queries } = await publisher((q) => reply(q));
    await p.apply(change());
    assert.equal(queries.length, 1);
    const q = queries[0]!;
    assert.equal(q.transport, 'tcp');
    const m = decodeMessage(q.raw);
    assert.equal(m.header.opcode, 5);
    assert.deepEqual(m.questions, [{ name: 'example.test', type: TYPE_SOA, class: CLASS_IN }]);
    // §2.4.3: class NONE, TTL 0, no RDATA
    assert.deepEqual(sect(m.answers), [rr(null, CLASS_NONE, 0)]);
    assert.deepEqual(sect(m.authorities), [rr(A, CLASS_IN, 3600)]);
    // the TSIG RR is the only additional record and verifies with our key
    assert.equal(m.additionals.length, 1);
    assert.equal(tsigVerify(q.raw, key, { now: NOW }).kind, 'verified');
  });

  it('replacing: "RRset exists (value dependent)" with every expected RR; the kept RR re-added with the TTL', async () => {
    const { p, queries } = await publisher((q) => reply(q));
    await p.apply(change({ expected: [A, H], remove: [A], add: [B], ttl: 600 }));
    const m = decodeMessage(queries[0]!.raw);
    // §2.4.2: class IN, TTL 0, RDATA of each expected RR
    assert.deepEqual(sect(m.answers), [rr(A, CLASS_IN, 0), rr(H, CLASS_IN, 0)]);
    // §2.5.4 delete A; H (made by hand) deleted and re-added with the new TTL; §2.5.1 add B
    assert.deepEqual(sect(m.authorities), [
      rr(A, CLASS_NONE, 0),
      rr(H, CLASS_NONE, 0),
      rr(H, CLASS_IN, 600),
      rr(B, CLASS_IN, 600),
    ]);
  });

  it('removing the last record: only the delete; a repeat (no add, no remove) keeps the RRset at the TTL', async () => {
    const { p, queries } = await publisher((q) => reply(q));
    await p.apply(change({ expected: [A], remove: [A], add: [] }));
    assert.deepEqual(sect(decodeMessage(queries[0]!.raw).authorities), [rr(A, CLASS_NONE, 0)]);
    await p.apply(change({ expected: [A, A], remove: [], add: [A], ttl: 300 }));
    const m = decodeMessage(queries[1]!.raw);
    assert.deepEqual(sect(m.answers), [rr(A, CLASS_IN, 0)]);
    assert.deepEqual(sect(m.authorities), [rr(A, CLASS_NONE, 0), rr(A, CLASS_IN, 300)]);
  });

  it('without a key the update goes unsigned', async () => {
    const { p, queries } = await publisher((q) => reply(q), null);
    await p.apply(change());
    assert.equal(decodeMessage(queries[0]!.raw).additionals.length, 0);
  });

  it('refuses an owner outside the zone and a bad TTL before sending anything', async () => {
    const { p, queries } = await publisher((q) => reply(q));
    const e = await rejects(p.apply(change({ owner: '_25._tcp.mail.example.org.' })));
    assert.equal(e.code, 'E_PUBLISH_OWNER');
    assert.equal(e.message, '_25._tcp.mail.example.org. is not in zone example.test.');
    assert.equal((await rejects(p.apply(change({ ttl: -1 })))).code, 'E_PUBLISH_TTL');
    assert.equal(queries.length, 0);
  });
});

describe('rfc2136 describeChange: the UPDATE as nsupdate shows it, nothing sent', () => {
  it('zone, prerequisites, deletes and adds with the TTL, the key by name only', async () => {
    const { p, queries } = await publisher((q) => reply(q));
    const lines = await p.describeChange!(
      change({ expected: [A, H], remove: [A], add: [B], ttl: 600 }),
    );
    assert.equal(queries.length, 0, 'a description sends nothing');
    const hexOf = (r: TlsaRecord) => r.data.toString('hex');
    const at = `${OWNER}\t`;
    assert.deepEqual(lines.slice(1), [
      ';; ->>HEADER<<- opcode: UPDATE, ZONE: 1, PREREQ: 2, UPDATE: 4',
      ';; ZONE SECTION:',
      ';example.test.\t\tIN\tSOA',
      ';; PREREQUISITE SECTION:',
      `${at}0\tIN\tTLSA\t3 1 1 ${hexOf(A)}`,
      `${at}0\tIN\tTLSA\t3 1 1 ${hexOf(H)}`,
      ';; UPDATE SECTION:',
      `${at}0\tNONE\tTLSA\t3 1 1 ${hexOf(A)}`,
      `${at}0\tNONE\tTLSA\t3 1 1 ${hexOf(H)}`,
      `${at}600\tIN\tTLSA\t3 1 1 ${hexOf(H)}`,
      `${at}600\tIN\tTLSA\t3 1 1 ${hexOf(B)}`,
    ]);
    assert.match(
      lines[0]!,
      /^; UPDATE to 127\.0\.0\.1:\d+, signed with TSIG key "dk-key" \(hmac-sha256\)$/,
    );
    const all = lines.join('\n');
    assert.ok(!all.includes(key.secret.toString('base64')), 'never the secret');
    assert.ok(!all.includes(key.secret.toString('hex')), 'never the secret');
  });

  it('an empty owner: "RRset does not exist" as class NONE without RDATA; unsigned named so', async () => {
    const { p } = await publisher((q) => reply(q), null);
    const lines = await p.describeChange!(change());
    assert.equal(
      lines[0]!.replace(/:\d+/, ':N'),
      '; UPDATE to 127.0.0.1:N, unsigned (no TSIG key)',
    );
    assert.equal(lines[5], `${OWNER}\t0\tNONE\tTLSA`);
    assert.equal(lines[7], `${OWNER}\t3600\tIN\tTLSA\t3 1 1 ${A.data.toString('hex')}`);
    const e = await rejects(p.describeChange!(change({ owner: '_25._tcp.mail.example.org.' })));
    assert.equal(e.code, 'E_PUBLISH_OWNER');
  });
});

describe('rfc2136 apply: answers mapped to errors', () => {
  const at = (port: number) => `Update of ${OWNER} at 127.0.0.1:${port}`;
  const cases: [ReplyOptions, string, string, RegExp][] = [
    [
      { rcode: 8 },
      'E_PUBLISH_CONFLICT',
      'tempfail',
      /not applied: the TLSA RRset there is no longer the one it was read as \(NXRRSET\)/,
    ],
    [{ rcode: 7 }, 'E_PUBLISH_CONFLICT', 'tempfail', /where none was expected \(YXRRSET\)/],
    [
      { rcode: 9 },
      'E_PUBLISH_NOTAUTH',
      'config',
      /failed: the server is not authoritative for zone example\.test\. \(NOTAUTH\)$/,
    ],
    [
      { rcode: 9, sign: 'badkey' },
      'E_PUBLISH_AUTH',
      'noperm',
      /refused: TSIG key "dk-key" is not known to the server, or not allowed there \(BADKEY\)$/,
    ],
    [
      { rcode: 9, sign: 'badsig' },
      'E_PUBLISH_AUTH',
      'noperm',
      /signature of TSIG key "dk-key"; its secret or algorithm differs there \(BADSIG\)$/,
    ],
    [
      { rcode: 9, sign: 'badtime' },
      'E_PUBLISH_AUTH',
      'noperm',
      /the server's clock is 1000 s ahead of ours, more than the 300 s TSIG allows \(BADTIME\)$/,
    ],
    [
      { rcode: 5 },
      'E_PUBLISH_REFUSED',
      'noperm',
      /refused: the server does not allow this update with TSIG key "dk-key" \(REFUSED\)$/,
    ],
    [{ rcode: 1 }, 'E_PUBLISH_REJECTED', 'protocol', /could not parse it \(FORMERR\)/],
    [{ rcode: 2 }, 'E_PUBLISH_REJECTED', 'protocol', /answered SERVFAIL/],
    [
      { rcode: 4 },
      'E_PUBLISH_REJECTED',
      'protocol',
      /does not implement dynamic update \(NOTIMP\)/,
    ],
    [{ rcode: 10 }, 'E_PUBLISH_REJECTED', 'protocol', /outside zone example\.test\. \(NOTZONE\)/],
    // never accepted: a success that is not signed by our key over our request
    [
      { sign: 'none' },
      'E_PUBLISH_PROTOCOL',
      'protocol',
      /the answer is not signed with TSIG key "dk-key", so it is not trusted$/,
    ],
    [
      { sign: 'otherKey' },
      'E_PUBLISH_PROTOCOL',
      'protocol',
      /not trusted: its TSIG MAC does not verify with key "dk-key"/,
    ],
    [
      { sign: 'noRequestMac' },
      'E_PUBLISH_PROTOCOL',
      'protocol',
      /not trusted: its TSIG MAC does not verify/,
    ],
    [{ id: 1 }, 'E_PUBLISH_PROTOCOL', 'protocol', /the answer has ID \d+, not \d+$/],
    [{ opcode: 0 }, 'E_PUBLISH_PROTOCOL', 'protocol', /has opcode 0, not 5/],
  ];
  for (const [o, code, kind, re] of cases) {
    it(`${JSON.stringify(o)} -> ${code}`, async () => {
      const { p } = await publisher((q) => reply(q, { ...o, ...(o.id ? { id: q.id ^ 1 } : {}) }));
      const port = Number(p.describe.match(/:(\d+)/)![1]);
      const e = await rejects(p.apply(change()));
      assert.equal(e.code, code, e.message);
      assert.equal(e.kind, kind);
      assert.match(e.message, re);
      if (!o.id) assert.ok(e.message.startsWith(at(port)), e.message);
      assert.ok(!e.message.includes(key.secret.toString('base64')));
    });
  }

  it('an unsigned REFUSED to an unsigned update is REFUSED, naming the missing key', async () => {
    const { p } = await publisher((q) => reply(q, { rcode: 5 }), null);
    const e = await rejects(p.apply(change()));
    assert.match(e.message, /does not allow this update with no TSIG key \(unsigned\) \(REFUSED\)/);
  });

  it('nothing listening, silence, a closed connection: E_PUBLISH_UNREACHABLE', async () => {
    const free = net.createServer();
    await new Promise<void>((ok) => free.listen(0, '127.0.0.1', ok));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((ok) => free.close(() => ok()));
    const down = createRfc2136Publisher({ zone: ZONE, server: { host: '127.0.0.1', port }, key });
    const e1 = await rejects(down.apply(change()));
    assert.equal(e1.code, 'E_PUBLISH_UNREACHABLE');
    assert.equal(e1.kind, 'unavailable');
    assert.equal(e1.message, `Update of ${OWNER} at 127.0.0.1:${port} failed: connection refused`);

    const silent = await publisher(() => null);
    const e2 = await rejects(silent.p.apply(change()));
    assert.equal(e2.code, 'E_PUBLISH_UNREACHABLE');
    assert.match(e2.message, /failed: no answer within 500 ms$/);

    const closing = await publisher(() => 'close');
    const e3 = await rejects(closing.p.apply(change()));
    assert.equal(e3.code, 'E_PUBLISH_UNREACHABLE');
    assert.match(e3.message, /closed the connection without answering/);
  });
});

describe('rfc2136 read and defaultTtl', () => {
  const tlsa = (r: TlsaRecord, ttl = 300): Rr => ({
    name: OWNER,
    type: TYPE_TLSA,
    class: CLASS_IN,
    ttl,
    rdata: encodeTlsaRdata(r),
  });

  it('asks the primary over TCP with RD=0, signed, and returns the authoritative RRset', async () => {
    const { p, queries } = await publisher((q) =>
      reply(q, { aa: true, answers: [tlsa(A, 600), tlsa(H, 600)] }),
    );
    const s = await p.read(OWNER);
    assert.deepEqual(s, { owner: OWNER, ttl: 600, records: [A, H] });
    const q = queries[0]!;
    assert.equal(q.transport, 'tcp');
    assert.equal(q.rd, false);
    assert.equal(q.type, 'TLSA');
    assert.equal(tsigVerify(q.raw, key, { now: NOW }).kind, 'verified');
  });

  it('NXDOMAIN and NODATA are an empty RRset', async () => {
    const nx = await publisher((q) => reply(q, { aa: true, rcode: 3 }));
    assert.deepEqual(await nx.p.read(OWNER), { owner: OWNER, ttl: null, records: [] });
    const nodata = await publisher((q) => reply(q, { aa: true }));
    assert.deepEqual(await nodata.p.read(OWNER), { owner: OWNER, ttl: null, records: [] });
  });

  it('no AA, REFUSED or NOTAUTH: E_PUBLISH_NOTAUTH; BADKEY: E_PUBLISH_AUTH; unsigned: E_PUBLISH_PROTOCOL', async () => {
    const noAa = await publisher((q) => reply(q, { answers: [tlsa(A)] }));
    const e1 = await rejects(noAa.p.read(OWNER));
    assert.equal(e1.code, 'E_PUBLISH_NOTAUTH');
    assert.match(
      e1.message,
      /^Reading the TLSA RRset at _25\._tcp\.mail\.example\.test\. from 127\.0\.0\.1:\d+ failed: the server is not authoritative/,
    );
    const refused = await publisher((q) => reply(q, { rcode: 5 }));
    assert.equal((await rejects(refused.p.read(OWNER))).code, 'E_PUBLISH_NOTAUTH');
    const badkey = await publisher((q) => reply(q, { rcode: 9, sign: 'badkey' }));
    assert.equal((await rejects(badkey.p.read(OWNER))).code, 'E_PUBLISH_AUTH');
    const unsigned = await publisher((q) =>
      reply(q, { aa: true, sign: 'none', answers: [tlsa(A)] }),
    );
    assert.equal((await rejects(unsigned.p.read(OWNER))).code, 'E_PUBLISH_PROTOCOL');
  });

  it('a CNAME at the owner is refused', async () => {
    const { p } = await publisher((q) =>
      reply(q, {
        aa: true,
        answers: [
          { name: OWNER, type: TYPE_CNAME, class: CLASS_IN, ttl: 60, rdata: Buffer.from([0]) },
        ],
      }),
    );
    assert.match((await rejects(p.read(OWNER))).message, /is an alias \(CNAME\)/);
  });

  it('defaultTtl is the TTL of the SOA RRset', async () => {
    const soa = Buffer.concat([Buffer.from([0, 0]), Buffer.alloc(20)]);
    const { p, queries } = await publisher((q) =>
      reply(q, {
        aa: true,
        answers: [{ name: ZONE, type: TYPE_SOA, class: CLASS_IN, ttl: 1234, rdata: soa }],
      }),
    );
    assert.equal(await p.defaultTtl(), 1234);
    assert.equal(queries[0]!.type, 'SOA');
    assert.equal(queries[0]!.name, 'example.test');
  });
});
