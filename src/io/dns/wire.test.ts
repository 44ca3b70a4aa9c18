/**
 * The strict decoder: agreement with dns-packet's encoder on well-formed messages, and one clear
 * DkError for every kind of hostile message (loops, pointers out of range, truncation, lies in
 * the counts or lengths).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { DkError } from '../../core/errors.js';
import { sameName } from './name.js';
import { decodeRdata, formatIpv6, keyTag } from './rdata.js';
import { decodeMessage, decodeName, type WireRecord } from './wire.js';

const tlsaData = Buffer.alloc(32, 0xab);

function sample(): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: 0x1234,
    flags: dnsPacket.AUTHENTIC_DATA | dnsPacket.RECURSION_DESIRED | 3,
    questions: [{ name: 'Mx.Example.test', type: 'MX', class: 'IN' }],
    answers: [
      {
        name: 'mx.example.test',
        type: 'MX',
        ttl: 300,
        data: { preference: 10, exchange: 'mail.example.test' },
      },
      { name: 'mail.example.test', type: 'A', ttl: 60, data: '192.0.2.25' },
      { name: 'mail.example.test', type: 'AAAA', ttl: 60, data: '2001:db8::25' },
      { name: 'www.example.test', type: 'CNAME', ttl: 60, data: 'mail.example.test' },
      {
        name: '_25._tcp.mail.example.test',
        type: 'TLSA',
        ttl: 3600,
        data: { usage: 3, selector: 1, matchingType: 1, certificate: tlsaData },
      },
      {
        name: 'example.test',
        type: 'DS',
        ttl: 3600,
        data: { keyTag: 12345, algorithm: 13, digestType: 2, digest: Buffer.alloc(32, 1) },
      },
      {
        name: 'example.test',
        type: 'DNSKEY',
        ttl: 3600,
        data: { flags: 257, algorithm: 13, key: Buffer.alloc(64, 2) },
      },
    ],
    authorities: [
      { name: 'example.test', type: 'NS', ttl: 3600, data: 'ns1.example.test' },
      {
        name: 'example.test',
        type: 'SOA',
        ttl: 3600,
        data: {
          mname: 'ns1.example.test',
          rname: 'hostmaster.example.test',
          serial: 2026010101,
          refresh: 7200,
          retry: 900,
          expire: 1209600,
          minimum: 300,
        },
      },
    ],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: dnsPacket.DNSSEC_OK,
        flag_do: true,
        options: [],
      },
    ],
  });
}

function malformed(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    assert.equal(e.kind, 'protocol');
    assert.match(e.message, re);
    return true;
  });
}

/** Header with the given counts, then `body`. */
function msg(body: number[], counts: [number, number, number, number] = [1, 0, 0, 0]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(7, 0);
  h.writeUInt16BE(0x8180, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return Buffer.concat([h, Buffer.from(body)]);
}

describe('decodeMessage on well-formed messages', () => {
  test('header, sections and OPT agree with what dns-packet encoded', () => {
    const m = decodeMessage(sample());
    assert.equal(m.header.id, 0x1234);
    assert.equal(m.header.qr, true);
    assert.equal(m.header.ad, true);
    assert.equal(m.header.rd, true);
    assert.equal(m.rcode, 3);
    assert.deepEqual(m.questions, [{ name: 'Mx.Example.test', type: 15, class: 1 }]);
    assert.equal(m.answers.length, 7);
    assert.equal(m.authorities.length, 2);
    assert.equal(m.additionals.length, 0, 'OPT is taken out of the additional section');
    assert.deepEqual(m.opt && { ...m.opt, options: m.opt.options.length }, {
      udpSize: 1232,
      extendedRcode: 0,
      version: 0,
      dnssecOk: true,
      options: 0,
    });
  });

  test('typed RDATA of every supported type', () => {
    const m = decodeMessage(sample());
    const [mx, a, aaaa, cname, tlsa, ds, dnskey] = m.answers as [
      WireRecord,
      WireRecord,
      WireRecord,
      WireRecord,
      WireRecord,
      WireRecord,
      WireRecord,
    ];
    assert.deepEqual(decodeRdata('MX', m.buf, mx), {
      preference: 10,
      exchange: 'mail.example.test',
    });
    assert.equal(decodeRdata('A', m.buf, a), '192.0.2.25');
    assert.equal(decodeRdata('AAAA', m.buf, aaaa), '2001:db8::25');
    assert.equal(decodeRdata('CNAME', m.buf, cname), 'mail.example.test');
    assert.deepEqual(decodeRdata('TLSA', m.buf, tlsa), {
      usage: 3,
      selector: 1,
      mtype: 1,
      data: tlsaData,
    });
    assert.deepEqual(decodeRdata('DS', m.buf, ds), {
      keyTag: 12345,
      algorithm: 13,
      digestType: 2,
      digest: Buffer.alloc(32, 1),
    });
    const key = decodeRdata('DNSKEY', m.buf, dnskey);
    assert.equal(key.flags, 257);
    assert.equal(key.protocol, 3);
    assert.equal(key.algorithm, 13);
    assert.equal(key.keyTag, keyTag(dnskey.rdata));
    const [ns, soa] = m.authorities as [WireRecord, WireRecord];
    assert.equal(decodeRdata('NS', m.buf, ns), 'ns1.example.test');
    assert.deepEqual(decodeRdata('SOA', m.buf, soa), {
      mname: 'ns1.example.test',
      rname: 'hostmaster.example.test',
      serial: 2026010101,
      refresh: 7200,
      retry: 900,
      expire: 1209600,
      minimum: 300,
    });
  });

  test('a TTL with the top bit set reads as 0 (RFC 2181 §8)', () => {
    const buf = dnsPacket.encode({
      type: 'response',
      id: 1,
      questions: [],
      answers: [{ name: 'a.test', type: 'A', ttl: 0x80000001, data: '192.0.2.1' }],
    });
    assert.equal(decodeMessage(buf).answers[0]!.ttl, 0);
  });

  test('the extended RCODE combines the OPT and header bits (RFC 6891 §6.1.3)', () => {
    const buf = dnsPacket.encode({
      type: 'response',
      id: 1,
      questions: [],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 1232,
          extendedRcode: 1,
          ednsVersion: 0,
          flags: 0,
          flag_do: false,
          options: [],
        },
      ],
    });
    assert.equal(decodeMessage(buf).rcode, 16);
  });

  test('a dot inside a label is escaped, so one label never passes for two', () => {
    const buf = msg([3, 0x61, 0x2e, 0x62, 0, 0, 1, 0, 1]);
    const q = decodeMessage(buf).questions[0]!;
    assert.equal(q.name, 'a\\.b');
    assert.equal(sameName(q.name, 'a.b'), false);
    const bin = decodeMessage(msg([2, 0x00, 0xff, 0, 0, 1, 0, 1])).questions[0]!;
    assert.equal(bin.name, '\\000\\255');
  });

  test('names compare case-insensitively, ASCII only (RFC 4343)', () => {
    assert.ok(sameName('MX.Example.TEST', 'mx.example.test'));
    assert.ok(!sameName('mx.example.test', 'mx.example.tes'));
  });

  test('compression pointers to prior names are followed', () => {
    // 12: 01 'a' 00 | 15: question fields | 19: 01 'b' c0 0c  => b.a
    const buf = msg([1, 0x61, 0, 0, 1, 0, 1, 1, 0x62, 0xc0, 12]);
    assert.deepEqual(decodeName(buf, 19), { name: 'b.a', end: 23 });
  });
});

describe('decodeMessage on hostile messages', () => {
  test('shorter than the header', () => {
    malformed(() => decodeMessage(Buffer.from([1, 2, 3])), /shorter than the 12-byte header/);
  });

  test('a pointer to itself (compression loop)', () => {
    malformed(() => decodeMessage(msg([0xc0, 12, 0, 1, 0, 1])), /points forward to 12.*loop/);
  });

  test('a two-step loop: label, then a pointer back to the label', () => {
    malformed(() => decodeMessage(msg([1, 0x61, 0xc0, 12, 0, 1, 0, 1])), /points forward/);
  });

  test('a pointer past the end of the message', () => {
    malformed(() => decodeMessage(msg([0xc0, 0xff, 0, 1, 0, 1])), /points forward to 255/);
  });

  test('a pointer into the header', () => {
    malformed(() => decodeMessage(msg([0xc0, 2, 0, 1, 0, 1])), /points into the header/);
  });

  test('a pointer whose second octet is missing', () => {
    malformed(() => decodeName(msg([0xc0]), 12), /cut short/);
  });

  test('extended label types (RFC 6891 §5)', () => {
    malformed(() => decodeMessage(msg([0x41, 0, 0, 1, 0, 1])), /label type 0x41/);
  });

  test('a name longer than 255 octets', () => {
    const labels: number[] = [];
    for (let i = 0; i < 5; i++) labels.push(63, ...Buffer.alloc(63, 0x61));
    malformed(() => decodeMessage(msg([...labels, 0, 0, 1, 0, 1])), /longer than 255/);
  });

  test('counts that cannot fit are refused before any loop', () => {
    const t = Date.now();
    malformed(() => decodeMessage(msg([0, 0, 1, 0, 1], [1, 65535, 65535, 65535])), /more than/);
    assert.ok(Date.now() - t < 500);
  });

  test('RDLENGTH running past the end', () => {
    malformed(
      () =>
        decodeMessage(
          msg([0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4], [0, 1, 0, 0]),
        ),
      /RDLENGTH 256 .* runs past the end/,
    );
  });

  test('OPT in the answer section, or twice', () => {
    const opt = [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];
    malformed(() => decodeMessage(msg(opt, [0, 1, 0, 0])), /misplaced or repeated OPT/);
    malformed(
      () => decodeMessage(msg([...opt, ...opt], [0, 0, 0, 2])),
      /misplaced or repeated OPT/,
    );
  });

  test('every truncation of a real answer is a DkError', () => {
    const full = sample();
    for (let n = 0; n < full.length; n++) {
      assert.throws(
        () => decodeMessage(full.subarray(0, n)),
        (e: unknown) => e instanceof DkError && e.kind === 'protocol',
        `cut at ${n}`,
      );
    }
  });
});

describe('typed RDATA refuses lengths that do not fit the type', () => {
  function one(type: number, rdata: number[]): { buf: Buffer; rr: WireRecord } {
    const b = msg([0, ...[0, type, 0, 1, 0, 0, 0, 60], 0, rdata.length, ...rdata], [0, 1, 0, 0]);
    return { buf: b, rr: decodeMessage(b).answers[0]! };
  }
  const rdataError = (f: () => unknown, re: RegExp): void => {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof DkError);
      assert.equal(e.code, 'E_DNS_RDATA');
      assert.match(e.message, re);
      return true;
    });
  };

  test('A of 5 octets, AAAA of 4', () => {
    const a = one(1, [1, 2, 3, 4, 5]);
    rdataError(() => decodeRdata('A', a.buf, a.rr), /A record: RDATA of 5 octets, expected 4/);
    const aaaa = one(28, [1, 2, 3, 4]);
    rdataError(() => decodeRdata('AAAA', aaaa.buf, aaaa.rr), /expected 16/);
  });

  test('MX whose name runs out of the RDATA, or leaves octets over', () => {
    const short = one(15, [0, 10]);
    rdataError(() => decodeRdata('MX', short.buf, short.rr), /at least 3/);
    const over = one(15, [0, 10, 1, 0x61, 0, 0xff]);
    rdataError(() => decodeRdata('MX', over.buf, over.rr), /1 octets left over/);
    const past = one(15, [0, 10, 5, 0x61]);
    rdataError(() => decodeRdata('MX', past.buf, past.rr), /runs past the end/);
  });

  test('TLSA shorter than its 3 fixed fields', () => {
    const t = one(52, [3, 1]);
    rdataError(() => decodeRdata('TLSA', t.buf, t.rr), /shorter than the 3 fixed fields/);
  });

  test('SOA without its 20 octets of counters', () => {
    const s = one(6, [0, 0, 0, 0, 0, 1]);
    rdataError(() => decodeRdata('SOA', s.buf, s.rr), /20 octets/);
  });
});

describe('helpers', () => {
  test('IPv6 in RFC 5952 form', () => {
    const v6 = (s: string): Buffer => Buffer.from(s.replace(/:/g, ''), 'hex');
    const cases: [string, string][] = [
      ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
      ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'],
      ['2001:0000:0000:0001:0000:0000:0000:0001', '2001:0:0:1::1'],
      ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
      ['fe80:0000:0000:0000:0000:0000:0000:0000', 'fe80::'],
      ['2001:0DB8:AAAA:BBBB:CCCC:DDDD:EEEE:000F', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:f'],
    ];
    for (const [hex, want] of cases) assert.equal(formatIpv6(v6(hex)), want);
  });

  test('key tags agree with dnssec-keygen (RFC 4034 Appendix B)', (t) => {
    let dir: string;
    try {
      dir = mkdtempSync(join(tmpdir(), 'dk-keytag-'));
      execFileSync(
        'dnssec-keygen',
        ['-q', '-K', dir, '-a', 'ECDSAP256SHA256', '-f', 'KSK', 'example.test'],
        {
          stdio: 'pipe',
        },
      );
    } catch {
      t.skip('dnssec-keygen is not installed');
      return;
    }
    try {
      const file = readdirSync(dir).find((f) => f.endsWith('.key'))!;
      const tag = Number(/\+(\d+)\.key$/.exec(file)![1]);
      const line = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .find((l) => / DNSKEY /.test(l))!;
      const [flags, proto, alg, ...key] = line
        .split(/\s+DNSKEY\s+/)[1]!
        .trim()
        .split(/\s+/);
      const rdata = Buffer.concat([
        Buffer.from([Number(flags) >> 8, Number(flags) & 0xff, Number(proto), Number(alg)]),
        Buffer.from(key.join(''), 'base64'),
      ]);
      assert.equal(keyTag(rdata), tag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
