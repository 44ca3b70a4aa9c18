/**
 * Every state x every relevant observation (issue 9). The states are every point of whole
 * journeys (first issuance, renewal, rotation, forced renewal) under the four key policies; the
 * observations are each state's world, changed one way at a time: a server lagging or silent, the
 * backend unreadable, an address that cannot be probed or presents the previous or a foreign
 * certificate, --cert-dir emptied, a renewal or rotation asked for, ARI windows. Whatever the
 * planner decides must keep the rules:
 * - install only when the certificate's 3 1 1 (or, with issuer records, 2 1 1) record is served by
 *   every server of every owner, for max(interval, 2 x TTL) by the planner's own clock, and seen
 *   served by all of them in this very observation;
 * - remove only after the installed certificate is verified, only records danekeeper published,
 *   never one a presented chain matches, never while an address of that owner cannot be probed;
 * - roll back only an unverified install;
 * - the state it returns survives JSON and names the action as its intent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confirmationWaitMs } from './confirm.js';
import { plan } from './plan.js';
import { chainMatches, eeRecord, taRecord } from './records.js';
import { persist } from './testing/drive.js';
import { World } from './testing/world.js';
import type { Decision, Observations, RolloverPolicy, RolloverState } from './types.js';

const MX = '_25._tcp.mail.example.org.';
const SUB = '_993._tcp.mail.example.org.';
const DAY = 86_400_000;

const policies: Partial<RolloverPolicy>[] = [
  {},
  { newKeyEachRenewal: true },
  { issuerRecords: true },
  { newKeyEachRenewal: true, issuerRecords: true },
];
const journey: { advance: number; request: Observations['request'] }[] = [
  { advance: 0, request: null },
  { advance: 61 * DAY, request: null },
  { advance: DAY, request: 'rotate-key' },
  { advance: DAY, request: 'renew' },
];

/** Every (state, world) a journey passes through. */
function states(over: Partial<RolloverPolicy>) {
  const policy: RolloverPolicy = {
    domain: 'example.org',
    owners: [MX, SUB],
    keyType: 'ec-p384',
    confirmationIntervalHours: 1.5,
    newKeyEachRenewal: false,
    issuerRecords: false,
    issuerSpkis: ['e1'.repeat(32), 'e2'.repeat(32)],
    ...over,
  };
  const w = new World(policy, {
    start: Date.parse('2026-06-01T00:00:00Z'),
    servers: 2,
    addressesPerOwner: 2,
    ttl: 3600,
  });
  const out: { w: World; s: RolloverState | null }[] = [];
  let s: RolloverState | null = null;
  for (const seg of journey) {
    w.advance(seg.advance);
    let request = seg.request;
    for (let i = 0; i < 100; i++) {
      out.push({ w: w.clone(), s });
      const d = plan(s, w.observe(0.5, request), w.iso(), policy);
      request = null;
      s = persist(d.state);
      if (d.kind === 'act') {
        w.act(d.action);
        continue;
      }
      if (d.kind === 'idle') break;
      w.advance(d.until ? Math.max(1, Date.parse(d.until) - w.now) : 600_000);
      w.sync();
    }
  }
  return { policy, out };
}

type Variant = [
  name: string,
  change: (w: World) => void,
  request?: Observations['request'],
  ari?: 'past' | 'future',
];
const variants: Variant[] = [
  ['as it is', () => {}],
  ['a server lags at one owner', (w) => (w.servers[1]!.zone[SUB] = [])],
  ['a server is silent', (w) => (w.servers[0]!.down = true)],
  ['all servers caught up', (w) => w.sync()],
  ['the backend cannot be read', (w) => (w.backendDown = true)],
  ['an address cannot be probed', (w) => (w.addresses[MX]![1]!.unreachable = true)],
  [
    'an address presents the previous certificate',
    (w) => {
      const a = w.addresses[SUB]![0]!;
      if (a.previous !== undefined) a.presents = a.previous;
    },
  ],
  ['an address presents pre-danekeeper files', (w) => (w.addresses[MX]![0]!.presents = null)],
  ['--cert-dir emptied', (w) => (w.deployed = null)],
  ['an hour later', (w) => w.advance(3_600_000)],
  ['a month later', (w) => (w.advance(30 * DAY), w.sync())],
  ['renew --force', () => {}, 'renew'],
  ['renew --rotate-key', () => {}, 'rotate-key'],
  ['ARI window already past', () => {}, null, 'past'],
  ['ARI window ahead', () => {}, null, 'future'],
];

/** The rules every decision keeps. */
function checkDecision(
  d: Decision,
  s: RolloverState | null,
  obs: Observations,
  now: number,
  policy: RolloverPolicy,
  where: string,
) {
  assert.deepEqual(persist(d.state), d.state, `${where}: JSON`);
  if (d.kind !== 'act') return;
  const a = d.action;
  assert.deepEqual(
    { ...d.state.intent, at: undefined },
    { ...a, at: undefined },
    `${where}: intent`,
  );
  if (a.kind === 'install' && !(s?.installed?.id === a.certId && s.verified)) {
    const cert = obs.certificates.find((c) => c.id === a.certId)!;
    const key = obs.keys.find((k) => k.id === cert.keyId)!;
    const usable = [
      eeRecord(key.spki),
      ...(policy.issuerRecords && cert.issuerSpkis[0] ? [taRecord(cert.issuerSpkis[0])] : []),
    ];
    const ok = usable.some((r) =>
      policy.owners.every((o) => {
        const servers = obs.dns[o]?.servers ?? [];
        const t = d.state.tracks[o]?.[r];
        return (
          servers.length > 0 &&
          servers.every((x) => x.served?.includes(r)) &&
          !!t?.allServingSince &&
          Date.parse(t.allServingSince) + confirmationWaitMs(policy, t.ttl) <= now &&
          t.ttl >= Math.max(...servers.map((x) => x.ttl ?? 0))
        );
      }),
    );
    assert.ok(ok, `${where}: install of ${a.certId} without a confirmed record`);
  }
  if (a.kind === 'publishRecords' && a.remove.length > 0) {
    assert.ok(d.state.installed && d.state.verified, `${where}: removal before verification`);
    const live = obs.live[a.owner] ?? [];
    assert.ok(
      live.length > 0 && live.every((x) => !('error' in x)),
      `${where}: removal while blind`,
    );
    for (const r of a.remove) {
      assert.ok(
        !live.some((x) => chainMatches(x, r)),
        `${where}: removal of ${r}, still presented`,
      );
      assert.ok((s?.managed[a.owner] ?? []).includes(r), `${where}: removal of a record not ours`);
    }
  }
  if (a.kind === 'rollback') {
    assert.ok(
      s?.intent?.kind === 'rollback' || (s?.installed && !s.verified),
      `${where}: rollback of a verified pair`,
    );
  }
}

for (const over of policies) {
  test(`every state x every observation keeps the rules (${JSON.stringify(over)})`, () => {
    const { policy, out } = states(over);
    let n = 0;
    for (const [i, { w, s }] of out.entries()) {
      for (const [name, change, request, ari] of variants) {
        const v = w.clone();
        change(v);
        const obs = v.observe(0.3, request ?? null);
        if (ari === 'past')
          obs.ari = {
            start: new Date(v.now - 3 * DAY).toISOString(),
            end: new Date(v.now - DAY).toISOString(),
          };
        if (ari === 'future')
          obs.ari = {
            start: new Date(v.now + 3 * DAY).toISOString(),
            end: new Date(v.now + 5 * DAY).toISOString(),
          };
        const d = plan(s, obs, v.iso(), policy);
        checkDecision(d, s, obs, v.now, policy, `state ${i}, ${name}`);
        n++;
      }
    }
    assert.ok(n > 300, `${n} cases`);
  });
}
