/**
 * Issue 12 (mutation testing): a refusal Stryker showed was decided by the wrong rule. A TSIG RR
 * followed by another additional record must be refused for what it is (RFC 8945 §5.1: the TSIG
 * RR is the last record), not only because the MAC then fails to verify.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TsigKey } from './keyfile.js';
import { CLASS_IN, encodeMessage, OPCODE_QUERY, TYPE_SOA } from './message.js';
import { tsigSign, tsigVerify, type TsigVerdict } from './tsig.js';

const NOW = 1_700_000_000;
const key: TsigKey = {
  name: 'dk-m.example',
  algorithm: 'hmac-sha256',
  secret: Buffer.alloc(32, 3),
};
const why = (v: TsigVerdict) => (v.kind === 'bad' ? v.why : v.kind);

describe('tsigVerify: the TSIG RR must be the last additional record (RFC 8945 §5.1)', () => {
  it('a record after the TSIG RR is refused as such, whatever the MAC says', () => {
    const m = encodeMessage({
      id: 7,
      opcode: OPCODE_QUERY,
      question: { name: 'example.test.', type: TYPE_SOA, class: CLASS_IN },
    });
    const { wire } = tsigSign(m, key, { now: NOW });
    const extra = Buffer.from('00000100010000003c0004c0000201', 'hex'); // . A IN 60 192.0.2.1
    const after = Buffer.concat([wire, extra]);
    after.writeUInt16BE(after.readUInt16BE(10) + 1, 10);
    assert.equal(
      why(tsigVerify(after, key, { now: NOW })),
      'a TSIG record is not the last additional record',
    );
    assert.equal(tsigVerify(wire, key, { now: NOW }).kind, 'verified');
  });
});
