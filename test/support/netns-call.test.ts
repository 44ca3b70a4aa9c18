import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isDkError } from '../../src/core/errors.js';
import { callInNetns } from './netns-call.js';

it('callInNetns: results keep Buffers, DkErrors come back as DkErrors', async () => {
  const hex = 'ab'.repeat(32);
  const r = await callInNetns<{ usage: number; data: Buffer }>(
    null,
    'src/core/tlsa/parse.ts',
    'parseTlsa',
    [`3 1 1 ${hex}`],
  );
  assert.equal(r.usage, 3);
  assert.ok(Buffer.isBuffer(r.data));
  assert.equal(r.data.toString('hex'), hex);
  await assert.rejects(
    callInNetns(null, 'src/core/tlsa/parse.ts', 'parseTlsa', ['3 1 1 zz']),
    (e: unknown) => isDkError(e) && e.kind === 'data' && e.code === 'E_HEX',
  );
  await assert.rejects(
    callInNetns(null, 'src/core/tlsa/parse.ts', 'noSuchFn'),
    /exports no function/,
  );
});
