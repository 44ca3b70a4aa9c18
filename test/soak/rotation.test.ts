/**
 * The soak's judgement of a `renew --rotate-key` (rotation.ts), without the lab: a rotation
 * carried out passes; a lost request, a rotation to the wrong key, one not verified live or not
 * served each fail and say why.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  judgeRotation,
  type DomainView,
  type RotationAsked,
  type RotationSeen,
} from './rotation.js';

const K1 = { id: 'soak.test#k1', spki: '11'.repeat(32) };
const K2 = { id: 'soak.test#k2', spki: '22'.repeat(32) };
const K5 = { id: 'soak.test#k5', spki: '55'.repeat(32) };

const view = (
  cur: typeof K1,
  next: typeof K1 | null,
  cert = { id: `c-${cur.id}`, keyId: cur.id, verified: true },
): DomainView => ({ name: 'soak.test', certificate: cert, keys: { current: cur, next } });

const asked: RotationAsked = { before: view(K1, K2), leafBefore: { spki: K1.spki }, exits: [0] };
const carried: RotationSeen = {
  events: [
    {
      kind: 'renewal-requested',
      message: `Key rotation asked for (renew --rotate-key): to the next key ${K2.id}`,
    },
    { kind: 'action-order-certificate', message: 'obtained certificate' },
    {
      kind: 'key-rotated',
      message: `Key rotation done: ${K2.id} is now the current key (was ${K1.id})`,
    },
  ],
  after: view(K2, K5),
  leafAfter: { spki: K2.spki },
  served: [`3 1 1 ${K2.spki}`, `3 1 1 ${K5.spki}`].sort(),
  probeFailures: 0,
};

test('a rotation carried out: recorded, done, to the next key', () => {
  assert.deepEqual(judgeRotation(asked, carried), {
    recorded: true,
    done: true,
    to: K2.id,
    why: [],
  });
  // asked again after a failed attempt: still one request, carried out
  assert.equal(judgeRotation({ ...asked, exits: [75, 0] }, carried).done, true);
});

test('a lost request fails and says why', () => {
  const lost: RotationSeen = {
    events: [carried.events[0]!],
    after: view(K1, K2),
    leafAfter: { spki: K1.spki },
    served: [`3 1 1 ${K1.spki}`, `3 1 1 ${K2.spki}`],
    probeFailures: 0,
  };
  const v = judgeRotation(asked, lost);
  assert.equal(v.recorded, true);
  assert.equal(v.done, false);
  assert.ok(v.why.includes('no key-rotated event'), v.why.join('; '));
  assert.ok(v.why.includes(`the current key is still ${K1.id}`), v.why.join('; '));
  assert.ok(
    v.why.includes('--cert-dir holds a certificate of the same key as before'),
    v.why.join('; '),
  );
});

test('not recorded: renew never exited 0, or no renewal-requested event', () => {
  const v = judgeRotation({ ...asked, exits: [75, 75] }, carried);
  assert.equal(v.recorded, false);
  assert.equal(v.done, false);
  assert.match(v.why[0]!, /exited 75, then 75: not accepted/);
  const w = judgeRotation(asked, { ...carried, events: carried.events.slice(1) });
  assert.equal(w.recorded, false);
  assert.ok(w.why.includes('no renewal-requested event for the rotation'), w.why.join('; '));
});

test('a rotation to another key than the next one, not verified, not served, or with failed probes fails', () => {
  const wrong = judgeRotation(asked, {
    ...carried,
    events: [
      carried.events[0]!,
      { kind: 'key-rotated', message: `Key rotation done: ${K5.id} is now the current key` },
    ],
    after: view(K5, null),
    leafAfter: { spki: K5.spki },
    served: [`3 1 1 ${K5.spki}`],
  });
  assert.equal(wrong.done, false);
  assert.match(wrong.why.join('; '), /not the next key soak\.test#k2/);
  const unverified = judgeRotation(asked, {
    ...carried,
    after: view(K2, K5, { id: 'c9', keyId: K2.id, verified: false }),
  });
  assert.deepEqual(unverified.why, ['certificate c9 is not verified live']);
  const unserved = judgeRotation(asked, { ...carried, served: [`3 1 1 ${K5.spki}`] });
  assert.deepEqual(unserved.why, [`the primary does not serve 3 1 1 of the current key ${K2.id}`]);
  const probed = judgeRotation(asked, { ...carried, probeFailures: 2 });
  assert.deepEqual(probed.why, ['2 DANE probes failed meanwhile']);
});
