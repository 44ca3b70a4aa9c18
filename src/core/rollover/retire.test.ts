/**
 * DANE turned off (retire.ts): the records danekeeper published go, and no certificate with
 * another key is installed while a sender may still hold one of them. Checked against what a
 * sender can hold: any non-empty TLSA RRset some authoritative server served within the last
 * TTL (RFC 7671 §8.1); whatever an address presents must match a record in each of them
 * (RFC 7672 §3.1.1), and an empty RRset means unauthenticated TLS (RFC 7672 §2.2).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plan, recordFailure } from './plan.js';
import { chainMatches } from './records.js';
import { resting } from './rest.js';
import { retiredHold, retiringOwners, updateRetired, UNKNOWN_TTL_S } from './retire.js';
import { persist } from './testing/drive.js';
import { World } from './testing/world.js';
import type { Observations, RolloverPolicy, RolloverState } from './types.js';

const MX = '_25._tcp.mail.example.org.';
const DAY = 86_400_000;
const TTL = 3600;

function policyOf(over: Partial<RolloverPolicy> = {}): RolloverPolicy {
  return {
    domain: 'example.org',
    owners: [MX],
    keyType: 'ec-p256',
    confirmationIntervalHours: 1,
    newKeyEachRenewal: false,
    issuerRecords: false,
    issuerSpkis: ['e1'.repeat(32)],
    ...over,
  };
}

/** The world, the sender-cache check after every change, and a keep-secured loop. */
class Run {
  readonly w: World;
  s: RolloverState | null = null;
  /** what each server served, and when it was looked at (a sender may cache it for TTL) */
  readonly seen: { at: number; rrsets: string[][] }[] = [];
  readonly problems: string[] = [];
  installs: string[] = [];

  constructor(readonly full: RolloverPolicy) {
    this.w = new World(full, {
      start: Date.parse('2026-01-01T00:00:00Z'),
      servers: 2,
      addressesPerOwner: 1,
      ttl: TTL,
    });
  }

  check() {
    this.seen.push({ at: this.w.now, rrsets: this.w.servers.map((x) => [...(x.zone[MX] ?? [])]) });
    for (const a of this.w.addresses[MX] ?? []) {
      // before the first install the files were never danekeeper's to keep matching
      if (a.presents === null) continue;
      const p = this.w.present({ ...a, unreachable: false });
      if ('error' in p) continue;
      for (const v of this.seen) {
        if (v.at + TTL * 1000 <= this.w.now) continue;
        for (const rrset of v.rrsets) {
          if (rrset.length > 0 && !rrset.some((r) => chainMatches(p, r))) {
            this.problems.push(
              `${new Date(this.w.now).toISOString()}: ${a.presents} matches none of [${rrset.join(', ')}] served at ${new Date(v.at).toISOString()}`,
            );
          }
        }
      }
    }
  }

  /** Passes until idle, the clock moved to each wait's end, servers catching up. */
  untilIdle(policy: RolloverPolicy, request: Observations['request'] = null) {
    for (let i = 0; i < 400; i++) {
      const d = plan(this.s, this.w.observe(0.5, request), this.w.iso(), policy);
      request = null;
      this.s = persist(d.state);
      if (d.kind === 'act') {
        const r = this.w.act(d.action);
        if (d.action.kind === 'install' && r.ok) this.installs.push(d.action.certId);
        if (!r.ok) this.s = persist(recordFailure(this.s, r, this.w.iso(), policy));
        this.check();
        continue;
      }
      if (d.kind === 'idle') return d;
      const until = d.until ? Date.parse(d.until) : NaN;
      this.w.advance(Number.isFinite(until) && until > this.w.now ? until - this.w.now : 600_000);
      this.check();
      this.w.sync();
      this.check();
    }
    throw new Error('the planner did not come to rest');
  }

  keyOf(certId: string) {
    return this.w.certs.get(certId)?.keyId;
  }
}

test('DANE off with a new key at every renewal: our records go, and no new key is installed while a sender may hold them', () => {
  const full = policyOf({ newKeyEachRenewal: true });
  const off = { ...full, owners: [] };
  const r = new Run(full);
  r.untilIdle(full);
  assert.ok((r.w.primary[MX] ?? []).length > 0, 'DANE on: a record is published');
  const firstKey = r.keyOf(r.installs.at(-1)!);

  // Turned off, then four renewals (each with a new key) over four months.
  for (let i = 0; i < 4; i++) {
    r.w.advance(30 * DAY);
    r.w.sync();
    r.untilIdle(off);
  }
  assert.deepEqual(r.problems, [], 'no sender ever holds a record the presented chain misses');
  assert.deepEqual(r.w.primary[MX], [], 'every record danekeeper published is removed');
  assert.ok(
    r.w.servers.every((x) => (x.zone[MX] ?? []).length === 0),
    'and no server serves one',
  );
  assert.notEqual(r.keyOf(r.installs.at(-1)!), firstKey, 'renewals with a new key still happen');
  assert.equal(r.s?.retired, undefined, 'the retirement ended');
  assert.equal(r.s?.managed[MX], undefined, 'nothing left to manage at the owner');
});

test('the old code broke this: without rule 2 a new key is installed while the removed record is cached', () => {
  // The same journey, but a certificate with a new key is installed right after the removal:
  // the check above must see it (so the test can fail).
  const full = policyOf({ newKeyEachRenewal: true });
  const r = new Run(full);
  r.untilIdle(full);
  const d = plan(r.s, r.w.observe(), r.w.iso(), { ...full, owners: [] });
  assert.equal(d.kind, 'act');
  assert.ok(
    d.kind === 'act' && d.action.kind === 'publishRecords',
    'the first step is the removal',
  );
  r.w.act(d.action);
  r.w.sync();
  r.check();
  // a foreign install of a new key now (what the old planner did at the next renewal)
  r.w.keys.set('k9', { id: 'k9', keyType: 'ec-p256', spki: World.spkiOf('k9') });
  r.w.certs.set('c9', {
    id: 'c9',
    keyId: 'k9',
    notBefore: r.w.iso(),
    notAfter: r.w.iso(),
    serial: 'ff',
    ariCertId: 'x',
    issuerSpkis: ['e1'.repeat(32)],
  });
  r.w.act({ kind: 'install', certId: 'c9' });
  r.check();
  assert.ok(r.problems.length > 0, 'the cached record no longer matches');
});

test('DANE off, default key policy: a rotation asked for waits out the caches, then runs', () => {
  const full = policyOf();
  const off = { ...full, owners: [] };
  const r = new Run(full);
  r.untilIdle(full);
  const before = r.keyOf(r.installs.at(-1)!);
  const d = r.untilIdle(off, 'rotate-key');
  assert.equal(d.kind, 'idle');
  assert.deepEqual(r.problems, []);
  assert.notEqual(r.keyOf(r.installs.at(-1)!), before, 'the rotation was carried out');
  assert.deepEqual(r.w.primary[MX], []);
});

test('the hold: a new-key install waits for every server to stop serving, then 2 x TTL', () => {
  const full = policyOf({ newKeyEachRenewal: true });
  const off = { ...full, owners: [] };
  const r = new Run(full);
  r.untilIdle(full);
  // removal handed out and done at the primary, but one server frozen with the old zone
  let d = plan(r.s, r.w.observe(), r.w.iso(), off);
  assert.ok(d.kind === 'act' && d.action.kind === 'publishRecords' && d.action.remove.length > 0);
  r.s = persist(d.state);
  r.w.act(d.action);
  r.w.servers[1]!.frozen = true;
  r.w.sync();
  r.w.advance(61 * DAY); // a renewal is due, with a new key
  for (let i = 0; i < 20; i++) {
    d = plan(r.s, r.w.observe(), r.w.iso(), off);
    r.s = persist(d.state);
    if (d.kind !== 'act') break;
    assert.notEqual(d.action.kind, 'install', 'no install while ns2 still serves the old record');
    r.w.act(d.action);
  }
  assert.equal(d.kind, 'wait');
  assert.ok(d.kind === 'wait' && d.until === null && /stop serving/.test(d.detail), d.kind);
  assert.deepEqual(retiredHold(r.s!)?.owners, [MX]);
  assert.equal(resting(r.s, r.w.iso(), 'k'), null, 'a domain retiring records never rests');

  r.w.servers[1]!.frozen = false;
  r.w.sync();
  d = plan(r.s, r.w.observe(), r.w.iso(), off);
  r.s = persist(d.state);
  assert.ok(d.kind === 'wait' && d.waitingFor === 'confirmation', 'now the caches');
  assert.equal(d.until, new Date(r.w.now + 2 * TTL * 1000).toISOString());
  r.w.advance(2 * TTL * 1000);
  d = plan(r.s, r.w.observe(), r.w.iso(), off);
  assert.ok(d.kind === 'act' && d.action.kind === 'install', 'then the new key goes in');
  assert.ok(d.events.some((e) => /gone from every authoritative server/.test(e.message)));
});

test('DANE on again before the records are gone: the owner is a DANE owner, nothing retired', () => {
  const full = policyOf();
  const r = new Run(full);
  r.untilIdle(full);
  const d = plan(r.s, r.w.observe(), r.w.iso(), { ...full, owners: [] });
  r.s = persist(d.state);
  assert.ok(r.s.retired?.[MX], 'retiring');
  r.untilIdle(full);
  assert.equal(r.s.retired, undefined);
  assert.ok((r.w.primary[MX] ?? []).length > 0, 'published again');
  r.untilIdle(full, 'rotate-key');
  assert.deepEqual(r.problems, []);
});

test('an unreadable backend holds the removal back and says so', () => {
  const full = policyOf();
  const r = new Run(full);
  r.untilIdle(full);
  r.w.backendDown = true;
  const d = plan(r.s, r.w.observe(), r.w.iso(), { ...full, owners: [] });
  assert.ok(d.kind === 'wait' && d.waitingFor === 'backend', d.kind);
  assert.deepEqual(r.w.primary[MX]?.length, 2, 'nothing removed');
});

test('retiringOwners / updateRetired: only owners with our records; unknown TTL assumed long', () => {
  const full = policyOf();
  const s = {
    ...(JSON.parse(JSON.stringify({})) as object),
  } as RolloverState;
  assert.deepEqual(retiringOwners(null, full), []);
  const st: RolloverState = {
    ...s,
    managed: { [MX]: ['3 1 1 aa'], '_465._tcp.mail.example.org.': [] },
    tracks: {},
  } as RolloverState;
  assert.deepEqual(retiringOwners(st, { ...full, owners: [] }), [MX]);
  assert.deepEqual(retiringOwners(st, full), []);
  const now = '2026-01-01T00:00:00.000Z';
  st.managed = {};
  st.retired = { [MX]: { records: ['3 1 1 aa'], ttl: 0, clearSince: null } };
  const obs = {
    dns: { [MX]: { published: [], servers: [{ name: 'ns1', served: [], ttl: null }] } },
  };
  assert.deepEqual(updateRetired(st, obs, { ...full, owners: [] }, now), []);
  assert.equal(st.retired?.[MX]?.clearSince, now);
  const hold = retiredHold(st);
  assert.equal(hold?.until, Date.parse(now) + 2 * UNKNOWN_TTL_S * 1000);
  const later = new Date(Date.parse(now) + 2 * UNKNOWN_TTL_S * 1000).toISOString();
  assert.deepEqual(updateRetired(st, obs, { ...full, owners: [] }, later), [MX]);
  assert.equal(st.retired, undefined);
});

test('a domain added again: records danekeeper published there before are taken over, and go once stale or when DANE is off', () => {
  const full = policyOf();
  const old = `3 1 1 ${'ab'.repeat(32)}`;
  for (const dane of [true, false]) {
    const r = new Run(full);
    r.w.primary[MX] = [old];
    r.w.sync();
    const policy = dane ? full : { ...full, owners: [] };
    const first = plan(null, { ...r.w.observe(), inherited: { [MX]: [old] } }, r.w.iso(), policy);
    assert.deepEqual(first.state.managed[MX], [old], 'taken over at the first plan');
    assert.ok(first.events.some((e) => /Took over 3 1 1 abab/.test(e.message)));
    const again = plan(
      first.state,
      { ...r.w.observe(), inherited: { [MX]: ['3 1 1 ff'] } },
      r.w.iso(),
      policy,
    );
    assert.ok(!(again.state.managed[MX] ?? []).includes('3 1 1 ff'), 'never once a state exists');
    r.s = persist(first.state);
    r.untilIdle(policy);
    assert.ok(!(r.w.primary[MX] ?? []).includes(old), `removed (DANE ${dane ? 'on' : 'off'})`);
    assert.deepEqual(r.problems, []);
  }
});

test('DANE off, on while the backend cannot be written, off again: the records still served are still waited out before a new key', () => {
  // Found by the model (model.test.ts, DANE toggles): DANE on again dropped the retirement at
  // once; with the backend down nothing was published, so DANE off again found no record of
  // ours and let a rotation install a new key while a server still served the old `3 1 1`.
  const full = policyOf();
  const off = { ...full, owners: [] };
  const r = new Run(full);
  r.untilIdle(full);
  // a rotation: the next key becomes current, a new next key's record is published at the
  // primary only (the server has not copied it: it serves the two older records)
  let d = plan(r.s, r.w.observe(0.5, 'rotate-key'), r.w.iso(), full);
  for (let i = 0; i < 20 && d.kind === 'act'; i++) {
    r.s = persist(d.state);
    r.w.act(d.action);
    r.check();
    d = plan(r.s, r.w.observe(), r.w.iso(), full);
  }
  r.s = persist(d.state);
  const before = r.keyOf(r.installs.at(-1)!);
  d = plan(r.s, r.w.observe(), r.w.iso(), off);
  assert.ok(d.kind === 'act' && d.action.kind === 'publishRecords' && d.action.remove.length > 0);
  r.s = persist(d.state);
  r.w.act(d.action); // removed at the primary; the servers have not copied it yet
  d = plan(r.s, r.w.observe(), r.w.iso(), off); // the removal seen: nothing of ours published
  r.s = persist(d.state);
  assert.deepEqual(r.s.managed[MX] ?? [], []);
  r.w.backendDown = true;
  d = plan(r.s, r.w.observe(), r.w.iso(), full); // DANE on: nothing can be published
  r.s = persist(d.state);
  assert.equal(d.kind, 'wait');
  // DANE off again, and a rotation asked for: no new key while the server serves the old record
  for (let i = 0; i < 20; i++) {
    d = plan(r.s, r.w.observe(0.5, i === 0 ? 'rotate-key' : null), r.w.iso(), off);
    r.s = persist(d.state);
    if (d.kind !== 'act') break;
    assert.notEqual(d.action.kind, 'install', 'no install while the server serves the old record');
    const res = r.w.act(d.action);
    if (!res.ok) r.s = persist(recordFailure(r.s, res, r.w.iso(), off));
    r.check();
  }
  assert.deepEqual(r.problems, []);
  // once the backend answers and the servers catch up, the rotation is carried out
  r.w.backendDown = false;
  r.w.sync();
  r.check();
  r.untilIdle(off);
  assert.deepEqual(r.problems, []);
  assert.notEqual(r.keyOf(r.installs.at(-1)!), before, 'the rotation was carried out');
});
