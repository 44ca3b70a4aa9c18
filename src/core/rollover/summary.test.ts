import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, recordFailure } from './plan.js';
import { eeRecord } from './records.js';
import { summarize } from './summary.js';
import { pass, untilIdle } from './testing/drive.js';
import { World } from './testing/world.js';
import type { RolloverPolicy } from './types.js';

const MX = '_25._tcp.mail.example.org.';
const DAY = 86_400_000;

function setup() {
  const policy: RolloverPolicy = {
    domain: 'example.org',
    owners: [MX],
    keyType: 'ec-p256',
    confirmationIntervalHours: 24,
    newKeyEachRenewal: false,
    issuerRecords: false,
    issuerSpkis: [],
  };
  const w = new World(policy, {
    start: Date.parse('2026-01-01T00:00:00Z'),
    servers: 2,
    addressesPerOwner: 1,
    ttl: 300,
  });
  return { policy, w };
}

test('status while waiting: phase, until, which server serves each record, what happens next', () => {
  const { policy, w } = setup();
  let s = pass(w, null, policy).state;
  w.advance(60_000);
  w.sync((i) => i === 0);
  const obs = w.observe();
  const d = plan(s, obs, w.iso(), policy);
  const sum = summarize(d, obs, policy);
  assert.equal(sum.phase, 'propagating');
  assert.equal(sum.waitingFor, 'propagation');
  assert.equal(sum.until, null);
  assert.match(sum.next, /ns2\.example\.net/);
  assert.equal(sum.certificate, null);
  assert.equal(sum.pending?.keyId, 'example.org#k1');
  assert.deepEqual(
    sum.tlsa.map((t) => [t.role, t.published, t.servedBy, t.notServedBy, t.confirmedAt]),
    [
      ['current-key', true, ['ns1.example.net'], ['ns2.example.net'], null],
      ['next-key', true, ['ns1.example.net'], ['ns2.example.net'], null],
    ],
  );
  w.sync();
  s = d.state;
  const obs2 = w.observe();
  const d2 = plan(s, obs2, w.iso(), policy);
  const sum2 = summarize(d2, obs2, policy);
  assert.equal(sum2.phase, 'confirming');
  assert.equal(sum2.until, new Date(w.now + DAY).toISOString());
  assert.equal(sum2.tlsa[0]!.confirmedAt, sum2.until);
});

test('status at rest and after a rotation: the old record is stale until removed; no key material', () => {
  const { policy, w } = setup();
  const r = untilIdle(w, null, policy);
  const obs = w.observe();
  const sum = summarize(plan(r.state, obs, w.iso(), policy), obs, policy);
  assert.equal(sum.phase, 'idle');
  assert.equal(sum.certificate?.verified, true);
  assert.equal(sum.failure, null);
  assert.doesNotMatch(JSON.stringify(sum), /PRIVATE/);
  assert.deepEqual(sum.live, [
    { owner: MX, address: '192.0.2.1', presents: 'installed', matchesPublished: true },
  ]);
  // a service that came back from older files of the same key: shown, still matched
  const old = w.clone();
  old.addresses[MX]![0]!.presents = r.state.installed!.id.replace(/c\d+$/, 'c0');
  old.certs.set('example.org#c0', { ...r.state.installed!, id: 'example.org#c0', serial: 'ff' });
  const o3 = old.observe();
  assert.equal(
    summarize(plan(r.state, o3, old.iso(), policy), o3, policy).live[0]!.presents,
    'other',
  );
  // rotated, verified, before the old current record is removed
  w.advance(DAY);
  const p = pass(w, r.state, policy, { request: 'rotate-key', max: 4 });
  const obs2 = w.observe();
  const d = plan(p.state, obs2, w.iso(), policy);
  const sum2 = summarize(d, obs2, policy);
  assert.equal(sum2.phase, 'removing-stale');
  assert.deepEqual(
    sum2.tlsa.filter((t) => t.role === 'stale').map((t) => t.rdata),
    [eeRecord(World.spkiOf('example.org#k1'))],
  );
  assert.match(sum2.next, /^Remove the stale 3 1 1 /);
});

test('a failure: status names it, says when the next attempt is and what a person can do', () => {
  const { policy, w } = setup();
  const r = untilIdle(w, null, policy);
  w.advance(DAY);
  const cases: [string, RegExp, string?][] = [
    ['E_ACME_RATE_LIMITED', /rate limit .* after 2026-01-0\dT.*when the CA said it may/],
    [
      'E_DEPLOY_ROLLED_BACK',
      /reload command failed: run it by hand/,
      'Installing example.org#c3: Reload command "/usr/sbin/postfix reload" exited 1: fatal',
    ],
    [
      'E_DEPLOY_ROLLED_BACK',
      /still presents another certificate after the reload/,
      'Installing example.org#c3: The new certificate is not served as installed: mail.example.org:25 presents CN=old',
    ],
    [
      'E_DEPLOY_ROLLED_BACK_RELOAD',
      /reload command failed: run it by hand/,
      'Installing example.org#c3: Reload command "/usr/sbin/postfix reload" exited 1: fatal; the previous pair is back in place',
    ],
    [
      'E_DEPLOY_ROLLED_BACK_NOT_SERVED',
      /still presents another certificate after the reload/,
      'Installing example.org#c3: The new certificate is not served as installed: mail.example.org:25 presents CN=old; the previous pair is back in place',
    ],
    ['E_DEPLOY_FAILED', /^URGENT: .* could not be put back/],
    ['E_ACME_CHALLENGE_FAILED', /http-01 .* port 80 .* dns-01/],
    ['E_ACME_EAB_REQUIRED', /\[acme\]/],
    ['E_PUBLISH_REFUSED', /refuses the update: check that tsig-key-file .* update-policy/],
    ['E_PUBLISH_UNREACHABLE', /\[dns\] server = is running and reachable/],
    [
      'E_DEPLOY_RELOAD_FAILED',
      /reload command failed: run it by hand \(danekeeper domain show example\.org/,
    ],
    ['E_ROLLOVER_VERIFY', /still presents another certificate after the reload/],
    [
      'E_SOMETHING_NEW',
      /Remove the cause named above, then `danekeeper renew example\.org` to try now; otherwise the next run after \S+ tries again/,
    ],
  ];
  // a person who fixed the cause is told how to try now (the planner's 'retry' request); a
  // rate limit and a failed rollback are not theirs to retry
  const tryNow = /then `danekeeper renew example\.org` to try now/;
  for (const [code, hint, message = 'it failed'] of cases) {
    const d0 = plan(r.state, w.observe(), w.iso(), policy);
    // any action will do as the one that failed: a renewal is asked for
    const act = plan(r.state, w.observe(0.5, 'renew'), w.iso(), policy);
    assert.equal(act.kind, 'act', `${code}: ${d0.kind}`);
    const failed = recordFailure(act.state, { code, message }, w.iso(), policy);
    const obs = w.observe();
    const sum = summarize(plan(failed, obs, w.iso(), policy), obs, policy);
    assert.equal(sum.failure?.code, code);
    assert.equal(sum.waitingFor, 'retry');
    assert.match(sum.next, /next attempt at /);
    assert.match(sum.hint ?? '', hint, code);
    if (/RATE_LIMITED|E_DEPLOY_FAILED/.test(code)) assert.doesNotMatch(sum.hint ?? '', tryNow);
    else assert.match(sum.hint ?? '', tryNow, code);
  }
  const obs = w.observe();
  assert.equal(summarize(plan(r.state, obs, w.iso(), policy), obs, policy).hint, null);
});

test('a DNS backend that cannot be read: status waits for the backend (not for servers) and says what to check', () => {
  const { policy, w } = setup();
  let s = pass(w, null, policy).state;
  w.advance(60_000);
  w.backendDown = true;
  const obs = w.observe();
  const d = plan(s, obs, w.iso(), policy);
  const sum = summarize(d, obs, policy);
  assert.equal(sum.waitingFor, 'backend');
  assert.match(
    sum.next,
    /^Cannot read the records at _25\._tcp\.mail\.example\.org\. \(no answer from 192\.0\.2\.53:53 \(timed out\)\) from the DNS backend/,
  );
  // the backend's own reason, not a guess, said once (in next)
  assert.equal(JSON.stringify(sum).match(/no answer from 192\.0\.2\.53/g)?.length, 1);
  assert.match(sum.hint ?? '', /\[dns\] server = is running and reachable/);
  // said once, and the endpoints are judged by what the servers serve
  assert.equal(sum.next.match(/Cannot read/g)?.length, 1);
  w.backendDown = false;
  s = d.state;
  const obs2 = w.observe();
  const sum2 = summarize(plan(s, obs2, w.iso(), policy), obs2, policy);
  assert.notEqual(sum2.waitingFor, 'backend');
  assert.equal(sum2.hint, null);
});

test('the backend unreadable at rest: an endpoint is still judged matched by what every server serves', () => {
  const { policy, w } = setup();
  const r = untilIdle(w, null, policy);
  w.backendDown = true;
  const obs = w.observe();
  const sum = summarize(plan(r.state, obs, w.iso(), policy), obs, policy);
  assert.equal(sum.waitingFor, 'backend');
  assert.deepEqual(
    sum.live.map((l) => [l.presents, l.matchesPublished]),
    [['installed', true]],
  );
});
