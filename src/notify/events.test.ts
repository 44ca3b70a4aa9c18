/**
 * The 'key rotated' notice comes from the planner's `key-rotated` event (plan.ts: the next key
 * became the current one once a certificate for it was verified live), not from a guess on a
 * next key's `key-generated`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DkEvent } from '../store/events.js';
import { eventNotices, stepFailedProblem } from './events.js';

const NOW = new Date('2026-03-01T00:00:00.000Z');
let id = 0;
const ev = (kind: string, message: string): DkEvent => ({
  id: ++id,
  domain: 'example.org',
  at: new Date(NOW.getTime() - 60_000 + id).toISOString(),
  kind,
  message,
  details: {},
});
const rotated = (events: DkEvent[]) =>
  eventNotices(events, NOW).filter((n) => n.kind === 'key-rotated');

test("a rotation (the planner's key-rotated event) is one 'Key rotated' notice that names the keys", () => {
  const log = [
    ev('certificate-verified', 'Certificate c2 is presented at every endpoint'),
    ev(
      'key-rotated',
      'Key rotation done: example.org#k2 is now the current key (was example.org#k1)',
    ),
    ev('key-generated', 'Generated the next key example.org#k3 (ec-p256)'),
  ];
  const n = rotated(log);
  assert.equal(n.length, 1);
  assert.equal(n[0]!.title, 'Key rotated');
  assert.equal(n[0]!.key, `event:${log[1]!.id}`);
  assert.match(
    n[0]!.text,
    /^Key rotation done: example\.org#k2 is now the current key \(was example\.org#k1\)\. /,
  );
});

test('a next key generated after a verified certificate, with no rotation done yet, is no key-rotated notice', () => {
  // plan.ts with a new key at every renewal: the next key is generated when a renewal falls
  // due, before the rotation (which may still fail); the old guess announced it then
  const log = [
    ev('certificate-verified', 'Certificate c1 is presented at every endpoint'),
    ev('key-generated', 'Generated the next key example.org#k4 (ec-p256)'),
  ];
  assert.deepEqual(rotated(log), []);
});

test('a rotation whose next key is generated later (or in another pass) is still noticed, once', () => {
  const first = [ev('key-rotated', 'Key rotation done: example.org#k5 is now the current key')];
  const later = [ev('key-generated', 'Generated the next key example.org#k6 (ec-p256)')];
  assert.equal(rotated(first).length, 1);
  assert.deepEqual(rotated(later), []);
});

test('a rotation done ends a failed step', () => {
  const log = [
    ev('failed', 'install failed: reload exited 1'),
    ev('key-rotated', 'Key rotation done: example.org#k2 is now the current key'),
  ];
  assert.equal(stepFailedProblem('example.org', log), null);
  assert.ok(stepFailedProblem('example.org', log.slice(0, 1)));
});
