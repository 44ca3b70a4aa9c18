import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { presentedChain } from './presented.js';

// TLS 1.2-style records carrying a ServerHello and a Certificate message, built by hand.
function record(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, 3, 3, body.length >> 8, body.length & 0xff]), body]);
}
function handshake(type: number, body: Buffer): Buffer {
  const n = body.length;
  return Buffer.concat([Buffer.from([type, n >> 16, (n >> 8) & 0xff, n & 0xff]), body]);
}
function u24(n: number): Buffer {
  return Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
}
const hello = handshake(
  2,
  Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0, 0xc0, 0x2b, 0])]),
);
const certs = [Buffer.from('first'), Buffer.from('second one')];
const list = Buffer.concat(certs.map((c) => Buffer.concat([u24(c.length), c])));
const certificate = handshake(11, Buffer.concat([u24(list.length), list]));

test('a TLS 1.2 Certificate message, split across records, in order', () => {
  const hs = Buffer.concat([hello, certificate]);
  const wire = Buffer.concat([record(22, hs.subarray(0, 50)), record(22, hs.subarray(50))]);
  assert.deepEqual(presentedChain(wire, []), certs);
});

test('anything unexpected gives undefined, never a throw', () => {
  const hs = Buffer.concat([hello, certificate]);
  const wire = record(22, hs);
  for (let cut = 0; cut < wire.length; cut++)
    assert.equal(presentedChain(wire.subarray(0, cut), []), undefined);
  assert.equal(presentedChain(record(21, Buffer.from([2, 40])), []), undefined);
  for (let i = 0; i < 500; i++) presentedChain(randomBytes(1 + (i % 300)), []);
  // A ServerHello whose last extension header claims more than is there.
  const short = handshake(
    2,
    Buffer.concat([
      Buffer.from([3, 3]),
      Buffer.alloc(32, 7),
      Buffer.from([0, 0x13, 1, 0, 0, 4, 0, 43, 0, 2]),
    ]),
  );
  assert.equal(presentedChain(record(22, short), []), undefined);
  // A TLS 1.3 ServerHello but no key log: cannot decrypt, so undefined.
  const hello13 = handshake(
    2,
    Buffer.concat([
      Buffer.from([3, 3]),
      Buffer.alloc(32, 7),
      Buffer.from([0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]),
    ]),
  );
  const wire13 = Buffer.concat([record(22, hello13), record(23, randomBytes(64))]);
  assert.equal(presentedChain(wire13, []), undefined);
});
