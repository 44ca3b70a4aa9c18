import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessDelivery, type DeliveryHost } from './delivery.js';
import type { CheckVerdict } from './verdict.js';

const host = (name: string, preference: number | null, ...vs: CheckVerdict[]): DeliveryHost => ({
  name,
  preference,
  verdict: vs.reduce<CheckVerdict>((w, v) => (v === 'verified' ? w : v), 'verified'),
  addresses: vs.map((verdict, i) => ({ address: `192.0.2.${i + 1}`, verdict })),
});

test('equal preferences: only the senders that pick the failing host first take the detour', () => {
  const d = assessDelivery([host('a.test', 10, 'failed'), host('b.test', 10, 'verified')]);
  assert.equal(d.ok, true);
  assert.equal(d.preferredFails, true);
  assert.match(
    d.summary,
    /senders that pick a\.test \(MX 10, failed\) first \(hosts of equal preference are tried in random order\) fall back to b\.test \(MX 10, verified\)/,
  );
});

test('unusable and no-dane hosts take mail (RFC 7672 §2.2); a DNSSEC failure does not', () => {
  const d = assessDelivery([
    host('a.test', 10, 'unusable'),
    host('b.test', 20, 'no-dane'),
    { name: 'c.test', preference: 30, verdict: 'dnssec-failure', addresses: [] },
  ]);
  assert.deepEqual(
    [d.ok, d.via, d.failingHosts, d.preferredFails],
    [true, ['a.test', 'b.test'], ['c.test'], false],
  );
});

test('implicit MX, one host: delivered or not, said plainly', () => {
  assert.equal(
    assessDelivery([host('example.test', null, 'verified')]).summary,
    'mail can be delivered: example.test (verified) takes it',
  );
  const d = assessDelivery([host('example.test', null, 'unreachable')]);
  assert.equal(d.ok, false);
  assert.match(
    d.summary,
    /^mail cannot be delivered: no MX host takes mail from a DANE sender \(example\.test \(unreachable\)\)/,
  );
  assert.equal(assessDelivery([]).ok, false);
});

test('a preferred host failing on one address: senders move to its other address', () => {
  const d = assessDelivery([
    host('a.test', 10, 'verified', 'failed'),
    host('b.test', 20, 'verified'),
  ]);
  assert.deepEqual(
    [d.via, d.failingHosts, d.preferredFails],
    [['a.test', 'b.test'], ['a.test'], true],
  );
  assert.equal(
    d.summary,
    'mail still flows, after a detour; a.test fails on 192.0.2.2 (failed), and senders move on to its other address',
  );
});
