import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyState, plan } from './plan.js';
import { restMark, resting } from './rest.js';
import type { Decision, RolloverState } from './types.js';

const NOW = '2026-03-01T00:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(NOW) + ms).toISOString();
const H = 3_600_000;

function restingState(): RolloverState {
  const s = emptyState();
  s.installed = {
    id: 'example.org#c1',
    keyId: 'example.org#k1',
    notBefore: NOW,
    notAfter: at(90 * 24 * H),
    serial: '01',
    issuerSpkis: [],
  };
  s.verified = true;
  s.rest = { until: at(60 * 24 * H), recheckAt: at(H), key: 'k' };
  return s;
}

const idle = (until: string): Extract<Decision, { kind: 'idle' }> => ({
  kind: 'idle',
  until,
  state: emptyState(),
  phase: 'idle',
  events: [],
});

test('restMark: the re-check, never past the idle decision until', () => {
  assert.deepEqual(restMark(idle(at(24 * H)), NOW, H, 'k'), {
    until: at(24 * H),
    recheckAt: at(H),
    key: 'k',
  });
  assert.equal(restMark(idle(at(60_000)), NOW, H, 'k').recheckAt, at(60_000));
});

test('resting: only at rest, same settings, before the re-check and the until', () => {
  const s = restingState();
  assert.ok(resting(s, at(1000), 'k'));
  assert.equal(resting(s, at(1000), 'other settings'), null);
  assert.equal(resting(s, at(H), 'k'), null);
  assert.equal(resting({ ...s, rest: { ...s.rest!, until: at(10) } }, at(10), 'k'), null);
  assert.equal(resting(null, at(1000), 'k'), null);
  assert.equal(resting({ ...s, rest: null }, at(1000), 'k'), null);
  assert.equal(resting({ ...s, verified: false }, at(1000), 'k'), null);
  assert.equal(resting({ ...s, pending: s.installed }, at(1000), 'k'), null);
  assert.equal(
    resting({ ...s, renewal: { ...s.renewal, requested: 'renew' } }, at(1000), 'k'),
    null,
  );
  assert.equal(resting({ ...s, renewal: { ...s.renewal, rotating: true } }, at(1000), 'k'), null);
  // a `renew --rotate-key` queued behind a rotation (plan.ts) is a request still to carry out
  assert.equal(
    resting({ ...s, renewal: { ...s.renewal, queuedRotations: 1 } }, at(1000), 'k'),
    null,
  );
  assert.equal(
    resting(
      { ...s, intent: { kind: 'install', certId: 'example.org#c1', at: NOW } },
      at(1000),
      'k',
    ),
    null,
  );
  assert.equal(
    resting(
      {
        ...s,
        failure: { step: 'install', code: 'E', message: 'm', attempts: 1, at: NOW, retryAt: at(H) },
      },
      at(1000),
      'k',
    ),
    null,
  );
});

test('plan drops the rest: any fresh decision ends it', () => {
  const s = restingState();
  const d = plan(
    s,
    { dns: {}, live: {}, keys: [], certificates: [], deployed: null, random: 0.5 },
    at(1000),
    {
      domain: 'example.org',
      owners: [],
      keyType: 'ec-p256',
      confirmationIntervalHours: 1,
      newKeyEachRenewal: false,
      issuerRecords: false,
      issuerSpkis: [],
    },
  );
  assert.equal(d.state.rest, undefined);
});
