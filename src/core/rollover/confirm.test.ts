import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confirmedAt, confirmedEverywhereAt, confirmationWaitMs, updateTracks } from './confirm.js';
import type { Observations, RolloverPolicy, ServerObservation } from './types.js';

const A = '_25._tcp.mail.example.org.';
const B = '_465._tcp.mail.example.org.';
const R = '3 1 1 ' + 'aa'.repeat(32);
const policy = (h: number, owners = [A]): RolloverPolicy => ({
  domain: 'example.org',
  owners,
  keyType: 'ec-p256',
  confirmationIntervalHours: h,
  newKeyEachRenewal: false,
  issuerRecords: false,
  issuerSpkis: [],
});
const sv = (
  name: string,
  served: string[] | null,
  ttl: number | null = 300,
): ServerObservation => ({
  name,
  served,
  ttl: served === null ? null : ttl,
});
const obs = (dns: Record<string, ServerObservation[]>): Observations => ({
  dns: Object.fromEntries(
    Object.entries(dns).map(([o, servers]) => [o, { published: [R], servers }]),
  ),
  live: {},
  keys: [],
  certificates: [],
  deployed: null,
  random: 0.5,
});
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:10:00.000Z';

test('the wait is the longer of the interval (decimal hours) and 2 x TTL (DESIGN.md)', () => {
  const rows: [hours: number, ttl: number, seconds: number][] = [
    [24, 300, 86_400],
    [1, 3600, 7200],
    [0.5, 300, 1800],
    [0.001, 60, 120],
    [0.001, 0, 3.6],
    [0, 0, 0],
  ];
  for (const [h, ttl, s] of rows) {
    assert.equal(confirmationWaitMs(policy(h), ttl), s * 1000, `${h} h, TTL ${ttl}`);
  }
});

test('the clock starts only at the first look that finds EVERY server serving the record', () => {
  const rows: [servers: ServerObservation[], since: string | null][] = [
    [[sv('ns1', [R]), sv('ns2', [R])], T0],
    [[sv('ns1', [R]), sv('ns2', [])], null],
    [[sv('ns1', [R]), sv('ns2', null)], null], // unreachable or lame: not serving, as far as we know
    [[sv('ns1', [R])], T0],
    [[], null], // no server answered: nothing is confirmed
  ];
  for (const [servers, since] of rows) {
    const t = updateTracks({}, obs({ [A]: servers }), policy(1), T0);
    assert.equal(t[A]?.[R]?.allServingSince ?? null, since, JSON.stringify(servers));
  }
  // an owner with no observation at all counts as no server serving
  assert.deepEqual(updateTracks({}, obs({}), policy(1), T0), { [A]: {} });
});

test('a server that stops serving the record resets the clock; the TTL kept is the largest seen', () => {
  const p = policy(1);
  let t = updateTracks({}, obs({ [A]: [sv('ns1', [R], 300), sv('ns2', [R], 600)] }), p, T0);
  t = updateTracks(t, obs({ [A]: [sv('ns1', [R], 300), sv('ns2', [R], 300)] }), p, T1);
  assert.deepEqual(t[A]?.[R], { allServingSince: T0, ttl: 600 });
  assert.equal(confirmedAt(t, A, R, p), Date.parse(T0) + 3_600_000);
  t = updateTracks(t, obs({ [A]: [sv('ns1', [R]), sv('ns2', [])] }), p, '2026-01-01T00:20:00.000Z');
  assert.equal(t[A]?.[R], undefined);
  assert.equal(confirmedAt(t, A, R, p), null);
  t = updateTracks(
    t,
    obs({ [A]: [sv('ns1', [R]), sv('ns2', [R])] }),
    p,
    '2026-01-01T00:30:00.000Z',
  );
  assert.equal(t[A]?.[R]?.allServingSince, '2026-01-01T00:30:00.000Z');
});

test('confirmed everywhere: the latest of the owners, null while one owner is not all served', () => {
  const p = policy(1, [A, B]);
  let t = updateTracks({}, obs({ [A]: [sv('ns1', [R])], [B]: [sv('ns1', [])] }), p, T0);
  assert.equal(confirmedEverywhereAt(t, R, p), null);
  t = updateTracks(t, obs({ [A]: [sv('ns1', [R])], [B]: [sv('ns1', [R], 3600)] }), p, T1);
  // A confirmed at T0 + 1 h; B at T1 + max(1 h, 2 x 3600 s) = T1 + 2 h
  assert.equal(confirmedEverywhereAt(t, R, p), Date.parse(T1) + 7_200_000);
});
