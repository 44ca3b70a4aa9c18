/**
 * Issue 12: tsigVerify's contract is "never throws; verified only for the message that was
 * signed". Damaged signed messages — MAC of another length (RFC 8945 §5.2.2.1), the TSIG RR not
 * last or outside the additional section (§5.1), changed IDs (§4.3.2: the original ID is what is
 * signed), CLASS/TTL other than ANY/0 (§4.2), any flipped byte — must come back as a verdict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { TsigKey } from './keyfile.js';
import { encodeMessage, OPCODE_QUERY, TYPE_SOA, CLASS_IN } from './message.js';
import {
  serverTime,
  TSIG_BADKEY,
  TSIG_BADSIG,
  TSIG_BADTIME,
  tsigSign,
  tsigVerify,
  type TsigFields,
  type TsigVerdict,
} from './tsig.js';

const NOW = 1_700_000_000;
const keys: TsigKey[] = (
  ['hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const
).map((algorithm, i) => ({ name: 'dk-fuzz.example', algorithm, secret: Buffer.alloc(32, i + 7) }));
const MAC_LEN: Record<string, number> = {
  'hmac-sha1': 20,
  'hmac-sha224': 28,
  'hmac-sha256': 32,
  'hmac-sha384': 48,
  'hmac-sha512': 64,
};

function signed(key: TsigKey, id = 0x4242): { wire: Buffer; tsigAt: number } {
  const m = encodeMessage({
    id,
    opcode: OPCODE_QUERY,
    question: { name: 'example.test.', type: TYPE_SOA, class: CLASS_IN },
  });
  return { wire: tsigSign(m, key, { now: NOW }).wire, tsigAt: m.length };
}

/** Offsets inside the TSIG RR: owner name, fixed part, algorithm name, MAC length, MAC. */
function layout(wire: Buffer, tsigAt: number, key: TsigKey) {
  const ownerLen = key.name.length + 2;
  const fixedAt = tsigAt + ownerLen; // TYPE CLASS TTL RDLENGTH
  const rdAt = fixedAt + 10;
  const algLen = key.algorithm.length + 2;
  const macLenAt = rdAt + algLen + 8;
  return { fixedAt, rdAt, algEnd: rdAt + algLen, macLenAt, macAt: macLenAt + 2, end: wire.length };
}

const verify = (w: Buffer, key: TsigKey): TsigVerdict => {
  try {
    return tsigVerify(w, key, { now: NOW });
  } catch (e) {
    assert.fail(`tsigVerify threw ${(e as Error).name}: ${(e as Error).message}`);
  }
};

/** The same message with its MAC replaced by `mac` (MAC size and RDLENGTH adjusted). */
function withMac(key: TsigKey, mac: Buffer): Buffer {
  const { wire, tsigAt } = signed(key);
  const l = layout(wire, tsigAt, key);
  const oldLen = wire.readUInt16BE(l.macLenAt);
  const out = Buffer.concat([
    wire.subarray(0, l.macLenAt),
    Buffer.from([mac.length >> 8, mac.length & 0xff]),
    mac,
    wire.subarray(l.macAt + oldLen),
  ]);
  out.writeUInt16BE(out.length - l.rdAt, l.fixedAt + 8);
  return out;
}

const isLetter = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

describe('tsigVerify over damaged signed messages', () => {
  it('the undamaged messages verify (the base of every property below)', () => {
    for (const key of keys) assert.equal(verify(signed(key).wire, key).kind, 'verified');
  });

  it('§5.2.2.1: a MAC of any other length is refused, never a RangeError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.integer({ min: 1, max: 100 }),
        fc.boolean(),
        (key, len, prefix) => {
          fc.pre(len !== MAC_LEN[key.algorithm]);
          const { wire, tsigAt } = signed(key);
          const l = layout(wire, tsigAt, key);
          const real = wire.subarray(l.macAt, l.macAt + MAC_LEN[key.algorithm]!);
          // a truncation of the real MAC (what §5.2.2.1 negotiates) or padding/garbage
          const mac = prefix
            ? Buffer.concat([real, Buffer.alloc(100, 0xab)]).subarray(0, len)
            : Buffer.alloc(len, len);
          const v = verify(withMac(key, mac), key);
          assert.equal(v.kind, 'bad');
          assert.match((v as { why: string }).why, new RegExp(`MAC has ${len} octets`));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('§5.1: a TSIG RR followed by another record, or outside the additional section, is refused', () => {
    for (const key of keys) {
      const { wire } = signed(key);
      // another RR after the TSIG (ARCOUNT + 1): the TSIG is no longer last
      const extra = Buffer.from('00000100010000003c0004c0000201', 'hex'); // . A IN 60 192.0.2.1
      const after = Buffer.concat([wire, extra]);
      after.writeUInt16BE(after.readUInt16BE(10) + 1, 10);
      assert.equal(verify(after, key).kind, 'bad');
      // the same bytes counted as answer or authority records: ARCOUNT 0
      for (const at of [6, 8]) {
        const moved = Buffer.from(wire);
        moved.writeUInt16BE(1, at);
        moved.writeUInt16BE(0, 10);
        assert.equal(verify(moved, key).kind, 'bad', `TSIG counted at offset ${at}`);
      }
    }
  });

  it('§4.3.2: a changed message ID still verifies (the original ID is signed); a changed original ID does not', () => {
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.integer({ min: 0, max: 0xffff }), (key, id) => {
        const { wire, tsigAt } = signed(key);
        const forwarded = Buffer.from(wire);
        forwarded.writeUInt16BE(id, 0);
        assert.equal(verify(forwarded, key).kind, 'verified');
        const l = layout(wire, tsigAt, key);
        const origAt = l.macAt + MAC_LEN[key.algorithm]!;
        fc.pre(id !== 0x4242);
        const lied = Buffer.from(wire);
        lied.writeUInt16BE(id, origAt);
        assert.equal(verify(lied, key).kind, 'bad');
      }),
      { numRuns: 200 },
    );
  });

  it('§4.2: a TSIG RR whose CLASS is not ANY or whose TTL is not 0 is refused', () => {
    for (const key of keys) {
      const { wire, tsigAt } = signed(key);
      const l = layout(wire, tsigAt, key);
      for (const [off, val] of [
        [2, 1],
        [4, 0],
        [6, 60],
      ] as const) {
        const w = Buffer.from(wire);
        w.writeUInt16BE(val, l.fixedAt + off);
        if (off === 4) w.writeUInt16BE(1, l.fixedAt + off);
        assert.equal(verify(w, key).kind, 'bad', `field at +${off}`);
      }
    }
  });

  it('any damaged byte: never throws; verified only when the ID or the case of a TSIG name changed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (key, at, xor) => {
          const { wire, tsigAt } = signed(key);
          const l = layout(wire, tsigAt, key);
          const pos = at % wire.length;
          const w = Buffer.from(wire);
          w[pos]! ^= xor;
          const v = verify(w, key);
          if (v.kind !== 'verified') return;
          // the exceptions, by the RFC: the ID (§4.3.2) and names compared case-insensitively
          // (§4.3.3 signs them in canonical, lower-case form)
          const inNames = (pos >= tsigAt && pos < l.fixedAt) || (pos >= l.rdAt && pos < l.algEnd);
          const caseOnly = xor === 0x20 && isLetter(wire[pos]!);
          assert.ok(pos < 2 || (inNames && caseOnly), `byte ${pos} ^ ${xor} still verified`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('cut, extended or spliced messages: never throws, never verified', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        (key, at, junk) => {
          const { wire } = signed(key);
          const pos = 2 + (at % (wire.length - 2));
          const spliced = Buffer.concat([wire.subarray(0, pos), junk, wire.subarray(pos)]);
          assert.notEqual(verify(spliced, key).kind, 'verified');
          assert.notEqual(verify(Buffer.concat([wire, junk]), key).kind, 'verified');
          assert.notEqual(verify(wire.subarray(0, pos), key).kind, 'verified');
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** The reason a verdict gives, for the table below. */
const why = (v: TsigVerdict) => (v.kind === 'bad' ? v.why : v.kind);

describe('tsigVerify: each refusal says what is wrong', () => {
  const key = keys[2]!; // hmac-sha256
  const { wire, tsigAt } = signed(key);
  const l = layout(wire, tsigAt, key);
  const set16 = (w: Buffer, at: number, v: number) => {
    const c = Buffer.from(w);
    c.writeUInt16BE(v, at);
    return c;
  };

  const cases: [string, Buffer, RegExp][] = [
    ['shorter than a header', wire.subarray(0, 11), /^the message is shorter than a header$/],
    ['question cut', wire.subarray(0, 14), /^the message is malformed \(/],
    ['record header cut', wire.subarray(0, l.fixedAt + 5), /record runs past the end\)$/],
    ['RDATA past the end', set16(wire, l.fixedAt + 8, 999), /record runs past the end\)$/],
    [
      'RDATA shorter than its fields',
      set16(wire, l.fixedAt + 8, l.algEnd - l.rdAt + 4).subarray(0, l.algEnd + 4),
      /TSIG RDATA is cut short\)$/,
    ],
    ['MAC size past the RDATA', set16(wire, l.macLenAt, 40), /TSIG RDATA is cut short\)$/],
    ['other-data length past the RDATA', set16(wire, l.end - 2, 1), /TSIG RDATA is cut short\)$/],
    [
      'TSIG in the answer section',
      set16(set16(wire, 6, 1), 10, 0),
      /^a TSIG record is not the last additional record$/,
    ],
    ['class IN', set16(wire, l.fixedAt + 2, 1), /CLASS other than ANY or a TTL other than 0$/],
    [
      'trailing byte',
      Buffer.concat([wire, Buffer.from([0])]),
      /^the message has trailing bytes after its TSIG record$/,
    ],
  ];
  for (const [what, w, re] of cases) {
    it(`${what}`, () => assert.match(why(verify(w, key)), re));
  }

  it('RDATA longer than its fields: trailing bytes in the TSIG RDATA', () => {
    const w = Buffer.concat([wire, Buffer.from([0])]);
    w.writeUInt16BE(w.readUInt16BE(l.fixedAt + 8) + 1, l.fixedAt + 8);
    assert.match(
      why(verify(w, key)),
      /its TSIG record is malformed \(TSIG RDATA has trailing bytes\)$/,
    );
  });

  it('another key name, another algorithm: said, with the fields', () => {
    const other = verify(wire, { ...key, name: 'someone-else.example' });
    assert.equal(why(other), 'it is signed with another TSIG key');
    assert.equal((other as { fields?: unknown }).fields !== undefined, true);
    assert.equal(
      why(verify(wire, { ...key, algorithm: 'hmac-sha512' })),
      'it is signed with another TSIG algorithm',
    );
  });

  it('a wrong MAC names the key; a stale one says by how much', () => {
    assert.equal(
      why(tsigVerify(wire, { ...key, secret: Buffer.alloc(32, 1) }, { now: NOW })),
      'its TSIG MAC does not verify with key "dk-fuzz.example"',
    );
    assert.equal(
      why(tsigVerify(wire, key, { now: NOW + 1000 })),
      'it was signed 1000 s from our clock, beyond the fudge of 300 s',
    );
    assert.equal(
      why(tsigVerify(wire, key, { now: NOW - 400 })),
      'it was signed -400 s from our clock, beyond the fudge of 300 s',
    );
    assert.equal(
      tsigVerify(wire, key, { now: NOW - 300 }).kind,
      'verified',
      'the fudge itself is inside',
    );
  });

  it('§5.3.2: only BADKEY or BADSIG without a MAC is an unsigned error; a MAC-less message otherwise is bad', () => {
    for (const [error, kind] of [
      [TSIG_BADKEY, 'unsigned-error'],
      [TSIG_BADSIG, 'unsigned-error'],
      [0, 'bad'],
      [TSIG_BADTIME, 'bad'],
    ] as const) {
      const m = withMac(key, Buffer.alloc(0));
      const at = layout(m, tsigAt, key).macAt + 2; // original ID, then error
      m.writeUInt16BE(error, at);
      assert.equal(verify(m, key).kind, kind, `error ${error}`);
    }
    // a signed BADKEY answer (MAC present) is checked as any signed message
    const signedError = tsigSign(
      encodeMessage({
        id: 1,
        opcode: OPCODE_QUERY,
        question: { name: 'example.test.', type: TYPE_SOA, class: CLASS_IN },
      }),
      key,
      { now: NOW, error: TSIG_BADKEY },
    ).wire;
    assert.equal(verify(signedError, key).kind, 'verified');
  });

  it('§5.2.3: a BADTIME answer is signed with the request time: verified however far off, and serverTime reads the server clock', () => {
    const server = 2 ** 33 + 5; // beyond 32 bits: the 48-bit time's high part counts
    const other = Buffer.alloc(6);
    other.writeUInt16BE(Math.floor(server / 2 ** 32), 0);
    other.writeUInt32BE(server % 2 ** 32, 2);
    const m = encodeMessage({
      id: 2,
      opcode: OPCODE_QUERY,
      question: { name: 'example.test.', type: TYPE_SOA, class: CLASS_IN },
    });
    const w = tsigSign(m, key, { now: NOW - 5000, error: TSIG_BADTIME, otherData: other }).wire;
    const v = tsigVerify(w, key, { now: NOW });
    assert.equal(v.kind, 'verified');
    assert.equal(serverTime((v as { fields: TsigFields }).fields), server);
    assert.equal(
      serverTime({ ...(v as { fields: TsigFields }).fields, otherData: Buffer.alloc(4) }),
      null,
    );
  });

  it('48-bit times: a message signed after 2106 verifies at that time and not 2^32 s earlier', () => {
    const later = 2 ** 32 + 1000;
    const m = encodeMessage({
      id: 3,
      opcode: OPCODE_QUERY,
      question: { name: 'example.test.', type: TYPE_SOA, class: CLASS_IN },
    });
    const w = tsigSign(m, key, { now: later }).wire;
    assert.equal(tsigVerify(w, key, { now: later }).kind, 'verified');
    assert.equal(tsigVerify(w, key, { now: 1000 }).kind, 'bad');
  });

  it('§4.3.3: names enter the MAC in canonical (lower-case) form, whatever case the key was written in', () => {
    const upper = { ...key, name: 'DK-Fuzz.EXAMPLE' };
    const m = encodeMessage({
      id: 4,
      opcode: OPCODE_QUERY,
      question: { name: 'example.test.', type: TYPE_SOA, class: CLASS_IN },
    });
    const w = tsigSign(m, upper, { now: NOW }).wire;
    assert.equal(tsigVerify(w, key, { now: NOW }).kind, 'verified');
    assert.equal(tsigVerify(signed(key).wire, upper, { now: NOW }).kind, 'verified');
  });
});

describe('tsigVerify: unsigned messages at the edges are none, not bad', () => {
  const key = keys[2]!;
  it('a bare 12-octet header', () => {
    assert.equal(verify(Buffer.alloc(12), key).kind, 'none');
  });
  it('a query ending in an OPT record with empty RDATA (RFC 6891 §6.1.2)', () => {
    const q = encodeMessage({
      id: 5,
      opcode: OPCODE_QUERY,
      question: { name: 'example.test.', type: TYPE_SOA, class: CLASS_IN },
    });
    // root owner, TYPE 41, UDP size 1232, TTL 0, RDLENGTH 0: the record ends the message exactly
    const opt = Buffer.from('0000290' + '4d0' + '00000000' + '0000', 'hex');
    const m = Buffer.concat([q, opt]);
    m.writeUInt16BE(1, 10);
    assert.equal(verify(m, key).kind, 'none');
  });
});
