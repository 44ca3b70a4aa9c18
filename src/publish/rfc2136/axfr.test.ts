import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { DkError } from '../../core/errors.js';
import { formatRdata } from '../../core/tlsa/format.js';
import { parseTlsa } from '../../core/tlsa/parse.js';
import { encodeTlsaRdata } from '../../core/tlsa/wire.js';
import { fakeServerPool, type FakeQuery, type FakeReply } from '../../io/dns/fake-server.js';
import {
  axfr,
  MAX_UNSIGNED_RUN,
  signNext,
  transferTlsa,
  TYPE_AXFR,
  type AxfrOptions,
} from './axfr.js';
import type { TsigKey } from './keyfile.js';
import { createRfc2136Publisher } from './publisher.js';
import { CLASS_IN, encodeMessage, encodeName, TYPE_SOA, TYPE_TLSA, type Rr } from './message.js';
import { appendTsig, TSIG_BADKEY, TSIG_BADSIG, tsigSign, tsigVerify } from './tsig.js';

const key: TsigKey = {
  name: 'dk-xfr',
  algorithm: 'hmac-sha256',
  secret: Buffer.from('c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=', 'base64'),
};
const otherKey: TsigKey = { ...key, secret: Buffer.alloc(32, 7) };
const ZONE = 'example.test.';
const A_HEX = 'aa'.repeat(32);
const B_HEX = 'bb'.repeat(32);
const C_HEX = 'cc'.repeat(32);
const pool = fakeServerPool();

function soa(serial = 7, name = ZONE): Rr {
  const fixed = Buffer.alloc(20);
  fixed.writeUInt32BE(serial, 0);
  for (let i = 1; i < 5; i++) fixed.writeUInt32BE(3600, i * 4);
  return {
    name,
    type: TYPE_SOA,
    class: CLASS_IN,
    ttl: 300,
    rdata: Buffer.concat([encodeName(`ns1.${ZONE}`), encodeName(`hostmaster.${ZONE}`), fixed]),
  };
}
const tlsa = (name: string, hex: string, ttl = 300): Rr => ({
  name,
  type: TYPE_TLSA,
  class: CLASS_IN,
  ttl,
  rdata: encodeTlsaRdata(parseTlsa(`3 1 1 ${hex}`)),
});
const a = (name: string): Rr => ({
  name,
  type: 1,
  class: CLASS_IN,
  ttl: 300,
  rdata: Buffer.from([127, 0, 0, 1]),
});

/** One response message of a transfer: QR=1 AA=1, the question unless `question: false`. */
function msg(
  id: number,
  an: Rr[],
  o: { question?: boolean; rcode?: number; tc?: boolean; qname?: string } = {},
): Buffer {
  const m = encodeMessage({
    id,
    opcode: 0,
    question: { name: o.qname ?? ZONE, type: TYPE_AXFR, class: CLASS_IN },
    an,
  });
  m.writeUInt16BE(0x8400 | (o.tc ? 0x0200 : 0) | (o.rcode ?? 0), 2);
  if (o.question === false) {
    // drop the question: header with QDCOUNT 0, then the records
    const qlen = encodeName(ZONE).length + 4;
    const out = Buffer.concat([m.subarray(0, 12), m.subarray(12 + qlen)]);
    out.writeUInt16BE(0, 4);
    return out;
  }
  return m;
}

/** The zone as a server sends it: SOA, records, SOA, split over `parts` messages. */
function zoneMessages(id: number, rrs: Rr[], parts = 3, serial = 7): Buffer[] {
  const all = [soa(serial), ...rrs, soa(serial)];
  const per = Math.ceil(all.length / parts);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += per) {
    out.push(msg(id, all.slice(i, i + per), { question: i === 0 }));
  }
  return out;
}

const ZONE_RRS = [
  a(`mx.${ZONE}`),
  tlsa(`_25._tcp.mx.${ZONE}`, A_HEX),
  tlsa(`_25._tcp.mx.${ZONE}`, B_HEX),
  tlsa(`_443._tcp.www.${ZONE}`, C_HEX, 600),
  // out of zone: not the zone's data (RFC 5936 §3.5)
  tlsa('_25._tcp.mx.elsewhere.test.', A_HEX),
  tlsa(`_25._tcp.a.${ZONE}`, C_HEX),
];

/** Signs each message as a server does: first over the request MAC, then chained (§5.3.1). */
function signAll(q: FakeQuery, msgs: Buffer[], k: TsigKey, signedIdx?: (i: number) => boolean) {
  const now = Date.now() / 1000;
  const v = tsigVerify(q.raw, k, { now });
  if (v.kind !== 'verified') throw new Error(`query not verified: ${v.kind}`);
  const out: Buffer[] = [];
  let prior = v.fields.mac;
  let unsigned: Buffer[] = [];
  msgs.forEach((m, i) => {
    const sign = i === 0 || i === msgs.length - 1 || (signedIdx ? signedIdx(i) : true);
    if (!sign) {
      unsigned.push(m);
      out.push(m);
      return;
    }
    const s =
      i === 0
        ? tsigSign(m, k, { now, requestMac: prior })
        : signNext(m, k, { priorMac: prior, unsigned, now });
    prior = s.mac;
    unsigned = [];
    out.push(s.wire);
  });
  return out;
}

async function serve(handler: (q: FakeQuery) => FakeReply | FakeReply[]) {
  const srv = await pool(handler);
  return { host: '127.0.0.1', port: srv.port, srv };
}

function opts(server: { host: string; port: number }, o: Partial<AxfrOptions> = {}): AxfrOptions {
  return { zone: ZONE, server, key: null, idleTimeoutMs: 2000, deadlineMs: 5000, ...o };
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<DkError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('AXFR (RFC 5936) from a fake server', () => {
  it('lists every TLSA RRset of the zone, sorted by owner, out-of-zone records dropped', async () => {
    const s = await serve((q) => {
      assert.equal(q.type, 'TYPE252');
      assert.equal(q.transport, 'tcp');
      return zoneMessages(q.id, ZONE_RRS);
    });
    const sets = await transferTlsa(opts(s));
    assert.deepEqual(
      sets.map((x) => [x.owner, x.ttl, x.records.map(formatRdata)]),
      [
        [`_25._tcp.a.${ZONE}`, 300, [`3 1 1 ${C_HEX}`]],
        [`_25._tcp.mx.${ZONE}`, 300, [`3 1 1 ${A_HEX}`, `3 1 1 ${B_HEX}`]],
        [`_443._tcp.www.${ZONE}`, 600, [`3 1 1 ${C_HEX}`]],
      ],
    );
  });

  it('an empty zone (SOA, SOA in one message) has no TLSA RRsets', async () => {
    const s = await serve((q) => zoneMessages(q.id, [], 1));
    const r = await axfr(opts(s));
    assert.equal(r.serial, 7);
    assert.deepEqual(r.records, []);
    assert.equal(r.messages, 1);
  });

  it('signs the query with the key and verifies every signed message (all signed)', async () => {
    let queryVerdict = '';
    const s = await serve((q) => {
      queryVerdict = tsigVerify(q.raw, key, { now: Date.now() / 1000 }).kind;
      return signAll(q, zoneMessages(q.id, ZONE_RRS, 4), key);
    });
    const r = await axfr(opts(s, { key }));
    assert.equal(queryVerdict, 'verified');
    assert.equal(r.signed, true);
    assert.equal(r.messages, 4);
    assert.equal(r.records.filter((x) => x.type === TYPE_TLSA).length, 4);
  });

  it('accepts unsigned messages between signed ones (RFC 8945 §5.3.1), up to 99 in a row', async () => {
    const rrs = Array.from({ length: MAX_UNSIGNED_RUN }, (_, i) =>
      tlsa(`_25._tcp.h${i}.${ZONE}`, A_HEX),
    );
    // 101 messages, one RR each: the first signed, 99 unsigned, the last signed
    const s = await serve((q) => signAll(q, zoneMessages(q.id, rrs, 101), key, () => false));
    const r = await axfr(opts(s, { key }));
    assert.equal(r.messages, 101);
    assert.equal(r.records.length, MAX_UNSIGNED_RUN);
  });

  it('refuses 100 unsigned messages in a row', async () => {
    const rrs = Array.from({ length: 100 }, (_, i) => tlsa(`_25._tcp.h${i}.${ZONE}`, A_HEX));
    const s = await serve((q) => signAll(q, zoneMessages(q.id, rrs, 102), key, () => false));
    await rejectsWith(
      axfr(opts(s, { key })),
      'E_XFR_PROTOCOL',
      /more than 99 messages in a row carry no TSIG/,
    );
  });

  it('refuses a transfer whose last message is unsigned', async () => {
    const s = await serve((q) => {
      const msgs = zoneMessages(q.id, ZONE_RRS, 3);
      const signed = signAll(q, msgs.slice(0, 2), key);
      return [...signed, msgs[2]!];
    });
    await rejectsWith(axfr(opts(s, { key })), 'E_XFR_PROTOCOL', /last message carries no TSIG/);
  });

  it('refuses a later message whose MAC does not chain (signed as if it were the first)', async () => {
    const s = await serve((q) => {
      const msgs = zoneMessages(q.id, ZONE_RRS, 3);
      const good = signAll(q, msgs, key);
      const v = tsigVerify(q.raw, key, { now: Date.now() / 1000 });
      if (v.kind !== 'verified') return null;
      // a full-variables MAC over the request MAC: valid TSIG, wrong chain
      good[1] = tsigSign(msgs[1]!, key, { now: Date.now() / 1000, requestMac: v.fields.mac }).wire;
      return good;
    });
    await rejectsWith(
      axfr(opts(s, { key })),
      'E_XFR_PROTOCOL',
      /message 2 is not trusted: its TSIG MAC does not verify/,
    );
  });

  it('refuses a transfer signed with another secret', async () => {
    const s = await serve((q) => {
      const msgs = zoneMessages(q.id, ZONE_RRS, 2);
      const now = Date.now() / 1000;
      return msgs.map((m) => tsigSign(m, otherKey, { now }).wire);
    });
    await rejectsWith(
      axfr(opts(s, { key })),
      'E_XFR_PROTOCOL',
      /not trusted: its TSIG MAC does not verify/,
    );
  });

  it('refuses an unsigned transfer when a key is configured', async () => {
    const s = await serve((q) => zoneMessages(q.id, ZONE_RRS));
    await rejectsWith(
      axfr(opts(s, { key })),
      'E_XFR_PROTOCOL',
      /not signed with TSIG key "dk-xfr"/,
    );
  });

  it('refuses a later message with a wrong ID', async () => {
    const s = await serve((q) => {
      const msgs = zoneMessages(q.id, ZONE_RRS, 3);
      msgs[1]!.writeUInt16BE((q.id + 1) & 0xffff, 0);
      return msgs;
    });
    await rejectsWith(
      axfr(opts(s, { id: 4242 })),
      'E_XFR_PROTOCOL',
      /message 2 has ID 4243, not 4242/,
    );
  });

  it('refuses an answer for another zone, with TC set, or without a question', async () => {
    const other = await serve((q) => [msg(q.id, [soa()], { qname: 'other.test.' })]);
    await rejectsWith(axfr(opts(other)), 'E_XFR_PROTOCOL', /is for another question/);
    const tc = await serve((q) => [msg(q.id, [soa()], { tc: true })]);
    await rejectsWith(axfr(opts(tc)), 'E_XFR_PROTOCOL', /has TC=1/);
    const noq = await serve((q) => [msg(q.id, [soa(), soa()], { question: false })]);
    await rejectsWith(axfr(opts(noq)), 'E_XFR_PROTOCOL', /has no question/);
  });

  it('stops an endless transfer at the message limit, and at the byte limit', async () => {
    const endless = (q: FakeQuery) => [
      msg(q.id, [soa()]),
      ...Array.from({ length: 60 }, () => msg(q.id, [a(`x.${ZONE}`)], { question: false })),
    ];
    const s1 = await serve(endless);
    await rejectsWith(
      axfr(opts(s1, { maxMessages: 50 })),
      'E_XFR_LIMIT',
      /more than 50 messages without the closing SOA/,
    );
    const s2 = await serve(endless);
    await rejectsWith(axfr(opts(s2, { maxBytes: 1000 })), 'E_XFR_LIMIT', /more than 1000 bytes/);
  });

  it('gives up on a server that goes quiet, and on one that trickles past the deadline', async () => {
    const quiet = await serve((q) => [msg(q.id, [soa()])]);
    await rejectsWith(
      axfr(opts(quiet, { idleTimeoutMs: 200 })),
      'E_XFR_TIMEOUT',
      /went quiet for 200 ms after 1 messages/,
    );
    const trickle = await serve((q) => [
      msg(q.id, [soa()]),
      ...Array.from({ length: 40 }, (_, i) => ({
        delayMs: 50 * (i + 1),
        reply: msg(q.id, [a(`x.${ZONE}`)], { question: false }),
      })),
    ]);
    await rejectsWith(
      axfr(opts(trickle, { idleTimeoutMs: 1000, deadlineMs: 400 })),
      'E_XFR_TIMEOUT',
      /not finished within 400 ms/,
    );
  });

  it('refuses a truncated stream and a transfer that ends without the closing SOA', async () => {
    const cut = await serve((q) => {
      const m = msg(q.id, [soa(), tlsa(`_25._tcp.mx.${ZONE}`, A_HEX)]);
      const framed = Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
      return { stream: framed.subarray(0, framed.length - 10), close: true };
    });
    await rejectsWith(axfr(opts(cut)), 'E_XFR_PROTOCOL', /closed after 0 messages/);
    const noEnd = await serve((q) => {
      const m = msg(q.id, [soa(), tlsa(`_25._tcp.mx.${ZONE}`, A_HEX)]);
      const framed = Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
      return { stream: framed, close: true };
    });
    await rejectsWith(
      axfr(opts(noEnd)),
      'E_XFR_PROTOCOL',
      /closed after 1 messages .* before the closing SOA/,
    );
  });

  it('refuses a transfer that does not start with the SOA, ends with another serial, or goes on after it', async () => {
    const noSoa = await serve((q) => [msg(q.id, [a(`x.${ZONE}`), soa()])]);
    await rejectsWith(
      axfr(opts(noSoa)),
      'E_XFR_PROTOCOL',
      /does not start with the SOA of example\.test\./,
    );
    const serial = await serve((q) => [msg(q.id, [soa(7), soa(8)])]);
    await rejectsWith(axfr(opts(serial)), 'E_XFR_PROTOCOL', /ends with serial 8, not the 7/);
    const after = await serve((q) => [msg(q.id, [soa(), soa(), a(`x.${ZONE}`)])]);
    await rejectsWith(axfr(opts(after)), 'E_XFR_PROTOCOL', /records follow the closing SOA/);
  });

  it('a refused transfer is E_XFR_REFUSED and says how to allow it', async () => {
    const bind = await serve((q) => [msg(q.id, [], { rcode: 5 })]);
    await rejectsWith(
      axfr(opts(bind, { key })),
      'E_XFR_REFUSED',
      /refused with TSIG key "dk-xfr" \(REFUSED\); to allow it, BIND: allow-transfer \{ key "dk-xfr"; \}; .*Knot: an acl with action: transfer and key: dk-xfr/,
    );
    const unsigned = await serve((q) => [msg(q.id, [], { rcode: 9 })]);
    await rejectsWith(
      axfr(opts(unsigned)),
      'E_XFR_REFUSED',
      /\(unsigned\) \(NOTAUTH\); .*--tsig-key/,
    );
  });

  it('Knot-style NOTAUTH + BADKEY is a refusal; BADSIG is the wrong secret (E_PUBLISH_AUTH)', async () => {
    // RFC 8945 §5.3.2: BADKEY/BADSIG answers carry a TSIG RR without a MAC
    const tsigError = (error: number) => (q: FakeQuery) =>
      appendTsig(msg(q.id, [], { rcode: 9 }), key.name, {
        algorithm: 'hmac-sha256.',
        timeSigned: Math.floor(Date.now() / 1000),
        fudge: 300,
        mac: Buffer.alloc(0),
        originalId: q.id,
        error,
        otherData: Buffer.alloc(0),
      });
    const knot = await serve(tsigError(TSIG_BADKEY));
    await rejectsWith(axfr(opts(knot, { key })), 'E_XFR_REFUSED', /\(NOTAUTH, TSIG BADKEY\)/);
    const badsig = await serve(tsigError(TSIG_BADSIG));
    await rejectsWith(axfr(opts(badsig, { key })), 'E_PUBLISH_AUTH', /\(BADSIG\)/);
  });

  it('an error RCODE in a later message aborts the transfer', async () => {
    const s = await serve((q) => [
      msg(q.id, [soa()]),
      msg(q.id, [], { rcode: 2, question: false }),
    ]);
    await rejectsWith(axfr(opts(s)), 'E_XFR_FAILED', /broke off with SERVFAIL after 1 messages/);
  });

  it('no server: E_XFR_UNREACHABLE', async () => {
    const s = await serve(() => 'close');
    await rejectsWith(
      axfr(opts(s)),
      'E_XFR_UNREACHABLE',
      /closed the connection without answering/,
    );
  });
});

const hasDig = spawnSync('dig', ['-v']).status === 0;

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe(
  "multi-message TSIG cross-checked with BIND's dig",
  { skip: !hasDig && 'dig not installed' },
  () => {
    const digAxfr = (port: number, k: TsigKey) =>
      run('dig', [
        '@127.0.0.1',
        '-p',
        String(port),
        '+tries=1',
        '+time=3',
        '-y',
        `${k.algorithm}:${k.name}:${k.secret.toString('base64')}`,
        ZONE,
        'AXFR',
      ]);

    it('dig accepts our chained signatures, with unsigned messages between signed ones', async () => {
      const rrs = Array.from({ length: 20 }, (_, i) => tlsa(`_25._tcp.h${i}.${ZONE}`, A_HEX));
      const s = await serve((q) =>
        signAll(q, zoneMessages(q.id, rrs, 10), key, (i) => i % 3 === 0),
      );
      const d = await digAxfr(s.port, key);
      assert.doesNotMatch(d.out, /Couldn't verify|verify failure/i, d.out);
      assert.match(d.out, /XFR size: 22 records \(messages 8,/);
    });

    it('dig rejects a chain that is wrong (the cross-check is real)', async () => {
      const s = await serve((q) => {
        const msgs = zoneMessages(q.id, ZONE_RRS, 3);
        const good = signAll(q, msgs, key);
        const v = tsigVerify(q.raw, key, { now: Date.now() / 1000 });
        if (v.kind !== 'verified') return null;
        good[2] = signNext(msgs[2]!, key, { priorMac: v.fields.mac, now: Date.now() / 1000 }).wire;
        return good;
      });
      const d = await digAxfr(s.port, key);
      assert.match(d.out, /Couldn't verify signature: tsig verify failure/, d.out);
    });
  },
);

describe('the rfc2136 publisher lists by transfer', () => {
  it('listAll() transfers the zone with the publisher key', async () => {
    const s = await serve((q) => signAll(q, zoneMessages(q.id, ZONE_RRS, 2), key));
    const pub = createRfc2136Publisher({ zone: 'Example.Test', server: s, key });
    const sets = await pub.listAll!();
    assert.deepEqual(
      sets.map((x) => x.owner),
      [`_25._tcp.a.${ZONE}`, `_25._tcp.mx.${ZONE}`, `_443._tcp.www.${ZONE}`],
    );
  });
});
