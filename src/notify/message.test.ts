import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { relayAddress } from './email.js';
import { mailText, payload } from './message.js';
import type { Notice } from './policy.js';

const n = (over: Partial<Notice> = {}): Notice => ({
  type: 'problem',
  kind: 'live-mismatch',
  key: 'a.test|live-mismatch|mx',
  domain: 'a.test',
  title: 'Live certificate does not match',
  text: 'mx presents another chain',
  fix: 'install the right one',
  since: '2026-01-01T00:00:00.000Z',
  at: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('notification text', () => {
  it('one notice: its own subject; the body says what, what to do and since when', () => {
    const m = mailText([n()]);
    assert.equal(m.subject, '[danekeeper] PROBLEM a.test: Live certificate does not match');
    assert.match(m.text, /^PROBLEM: Live certificate does not match\n {2}domain: a\.test\n/);
    assert.match(m.text, /what to do: install the right one/);
    assert.match(m.text, /first seen: 2026-01-01T00:00:00\.000Z/);
  });

  it('a digest names how many and which domains; no header injection through a title', () => {
    const m = mailText([n(), n({ domain: 'b.test', title: 'x\r\nBcc: evil@example.org' })]);
    assert.equal(m.subject, '[danekeeper] 2 notices (a.test, b.test)');
    assert.ok(!/[\r\n]/.test(mailText([n({ title: 'x\r\nBcc: e@x' })]).subject));
  });

  it('the webhook payload is versioned and carries the notices as they are', () => {
    const p = payload([n()], new Date('2026-01-02T00:00:00Z'));
    assert.deepEqual(Object.keys(p), ['version', 'sentAt', 'notices']);
    assert.equal(p.version, 1);
    assert.equal(p.notices[0]!.kind, 'live-mismatch');
  });

  it('reads the relay as host, host:port or [v6]:port (25 by default)', () => {
    assert.deepEqual(relayAddress('relay.example'), { host: 'relay.example', port: 25 });
    assert.deepEqual(relayAddress('127.0.0.1:2525'), { host: '127.0.0.1', port: 2525 });
    assert.deepEqual(relayAddress('[::1]:465'), { host: '::1', port: 465 });
  });
});
