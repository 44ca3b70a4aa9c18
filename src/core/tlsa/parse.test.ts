import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DkError } from '../errors.js';
import { parseTlsa, parseTlsaRr } from './parse.js';
import { formatRdata, formatZoneLine, recordToJson } from './format.js';
import { decodeTlsaRdata, encodeTlsaRdata } from './wire.js';
import type { TlsaRecord } from './record.js';
import { tlsaOwner } from './record.js';

const H32 = 'a'.repeat(64);

function parseError(text: string): DkError {
  try {
    parseTlsa(text);
  } catch (e) {
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    assert.equal(e.kind, 'data');
    assert.ok(!e.message.includes('\n'), 'message must be one line');
    return e;
  }
  assert.fail(`parsed: ${text}`);
}

test('numbers and RFC 7218 mnemonics give the same record', () => {
  const a = parseTlsa(`3 1 1 ${H32}`);
  const b = parseTlsa(`DANE-EE SPKI SHA2-256 ${H32.toUpperCase()}`);
  const c = parseTlsa(`dane-ee spki sha2-256 ${H32}`);
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assert.deepEqual([a.usage, a.selector, a.mtype, a.data.length], [3, 1, 1, 32]);
  assert.deepEqual(parseTlsa(`PKIX-TA Cert Full 3082`).usage, 0);
  assert.deepEqual(parseTlsa(`PrivCert PrivSel PrivMatch 00`), {
    usage: 255,
    selector: 255,
    mtype: 255,
    data: Buffer.from([0]),
  });
});

test('hex split by spaces, lines, parentheses and comments as zone files allow', () => {
  const want = parseTlsa(`2 1 1 ${H32}`);
  const split = `2 1 1 ( ${H32.slice(0, 20)} ; first part\n   ${H32.slice(20, 40)}\n ${H32.slice(40)} )`;
  assert.deepEqual(parseTlsa(split), want);
  assert.deepEqual(parseTlsa(`( 2 1 1\n ${H32} )`), want);
  assert.deepEqual(parseTlsa(`2 1 1 ${H32.slice(0, 32)} ${H32.slice(32)}`), want);
});

test('RFC 3597 generic form', () => {
  const want = parseTlsa(`3 1 1 ${H32}`);
  assert.deepEqual(parseTlsa(`\\# 35 030101${H32}`), want);
  assert.deepEqual(parseTlsa(`\\# 35 ( 0301 01${H32.slice(0, 10)}\n ${H32.slice(10)} )`), want);
  assert.equal(parseError(`\\# 34 030101${H32}`).code, 'E_TLSA_SYNTAX');
  assert.equal(parseError(`\\# 2 0301`).code, 'E_TLSA_WIRE');
  assert.equal(parseError(`\\# x 0301`).code, 'E_TLSA_SYNTAX');
});

test('whole resource records as dig or a zone file prints them', () => {
  const rr = parseTlsaRr(`_25._tcp.mail.example.com. 3600 IN TLSA 3 1 1 ${H32}`);
  assert.equal(rr.owner, '_25._tcp.mail.example.com.');
  assert.equal(rr.ttl, 3600);
  assert.equal(formatRdata(rr.record), `3 1 1 ${H32}`);
  const bare = parseTlsaRr(`3 1 1 ${H32}`);
  assert.equal(bare.owner, undefined);
});

test('malformed text: one-line errors with offsets', () => {
  const e = parseError('3 1 1 zz');
  assert.equal(e.code, 'E_HEX');
  assert.equal(e.offset, 6);
  assert.match(e.message, /"z" at offset 6 is not a hex digit/);
  assert.match(parseError('3 1 1 abc').message, /odd number of hex digits/);
  assert.match(parseError('3 1 1').message, /association data is missing/);
  assert.match(parseError('3 1').message, /matching type is missing/);
  assert.match(parseError('').message, /empty/);
  assert.match(parseError('DANE-XX 1 1 00').message, /certificate usage "DANE-XX"/);
  assert.match(parseError('256 1 1 00').message, /certificate usage "256"/);
  assert.match(parseError('3 1 1 ( 00').message, /without a matching "\)"/);
  assert.match(parseError('3 1 1 00 )').message, /without a matching "\("/);
  assert.match(parseError('3 1 1 00\n3 1 1 00').message, /line break/);
});

test('unassigned values and wrong digest lengths still parse (unusable is not malformed)', () => {
  assert.equal(parseTlsa('4 1 1 00').usage, 4);
  assert.equal(parseTlsa('3 1 1 0011').data.length, 2);
  assert.equal(parseTlsa('3 7 9 0011').mtype, 9);
});

test('wire round trip and short RDATA', () => {
  const r = parseTlsa(`2 0 2 ${'b'.repeat(128)}`);
  assert.deepEqual(decodeTlsaRdata(encodeTlsaRdata(r)), r);
  assert.throws(() => decodeTlsaRdata(Buffer.from([3, 1])), { code: 'E_TLSA_WIRE' });
});

test('owner names and zone lines', () => {
  assert.equal(tlsaOwner('Mail.Example.COM', 25), '_25._tcp.mail.example.com.');
  assert.equal(tlsaOwner('mail.example.com.', 443, 'tcp'), '_443._tcp.mail.example.com.');
  assert.throws(() => tlsaOwner('bad..name', 25), { code: 'E_HOSTNAME' });
  assert.throws(() => tlsaOwner('mail.example.com', 70000), { code: 'E_PORT' });
  const r = parseTlsa(`3 1 1 ${H32}`);
  assert.equal(
    formatZoneLine('_25._tcp.mail.example.com.', r, 3600),
    `_25._tcp.mail.example.com. 3600 IN TLSA 3 1 1 ${H32}`,
  );
  assert.equal(
    formatZoneLine('_25._tcp.mail.example.com.', r),
    `_25._tcp.mail.example.com. IN TLSA 3 1 1 ${H32}`,
  );
  assert.deepEqual(recordToJson(r).names, {
    usage: 'DANE-EE',
    selector: 'SPKI',
    mtype: 'SHA2-256',
  });
});

const arbRecord: fc.Arbitrary<TlsaRecord> = fc
  .tuple(
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.uint8Array({ minLength: 1, maxLength: 300 }),
  )
  .map(([usage, selector, mtype, data]) => ({ usage, selector, mtype, data: Buffer.from(data) }));

test('property: format then parse gives back the record (rdata, RR line, RFC 3597, wire)', () => {
  fc.assert(
    fc.property(arbRecord, fc.integer({ min: 0, max: 86400 }), (r, ttl) => {
      assert.deepEqual(parseTlsa(formatRdata(r)), r);
      assert.deepEqual(parseTlsa(formatRdata(r).toUpperCase()), r);
      const wire = encodeTlsaRdata(r);
      assert.deepEqual(parseTlsa(`\\# ${wire.length} ${wire.toString('hex')}`), r);
      assert.deepEqual(decodeTlsaRdata(wire), r);
      const rr = parseTlsaRr(formatZoneLine('_25._tcp.mx.example.', r, ttl));
      assert.deepEqual(rr.record, r);
      assert.equal(rr.ttl, ttl);
    }),
    { numRuns: 500 },
  );
});

test('property: malformed text only ever yields the parse error', () => {
  const alphabet = fc.constantFrom(...'0123456789abcdefXYZ ()\n;\\#-.PKIXDANE'.split(''));
  const junk = fc.oneof(
    fc.string(),
    fc.string({ unit: alphabet, maxLength: 80 }),
    fc.string({ unit: 'binary', maxLength: 80 }),
  );
  fc.assert(
    fc.property(junk, (text) => {
      for (const parse of [parseTlsa, parseTlsaRr]) {
        try {
          parse(text);
        } catch (e) {
          assert.ok(e instanceof DkError, `${JSON.stringify(text)} threw ${String(e)}`);
          assert.equal(e.kind, 'data');
          assert.ok(!e.message.includes('\n'));
        }
      }
    }),
    { numRuns: 3000 },
  );
});
