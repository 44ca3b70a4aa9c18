/**
 * The shared DNS cache of `check --file`: one question in flight at a time, answers kept for
 * their TTL, failures for a short while (RFC 9520 §3.2), and a caller's abort stops only its
 * own wait.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CachingResolver } from './cache.js';
import { StaticResolver } from './static-resolver.js';
import type { LookupOptions, LookupResult, RecordType, Resolver } from './types.js';

/** A resolver that answers only when told to, counting what it was asked. */
function slowResolver(result: Partial<LookupResult<unknown>> = {}) {
  const asked: string[] = [];
  const pending: (() => void)[] = [];
  const seen: LookupOptions[] = [];
  const r: Resolver = {
    servers: ['192.0.2.53:53'],
    lookup(name: string, type: RecordType, opts: LookupOptions = {}) {
      asked.push(`${name}/${type}`);
      seen.push(opts);
      return new Promise((resolve) =>
        pending.push(() =>
          resolve({
            name,
            type,
            status: 'secure',
            rcode: 'NOERROR',
            records: ['192.0.2.1'],
            cnameChain: [],
            canonicalName: name,
            ttl: 300,
            server: '192.0.2.53:53',
            authoritative: false,
            skipped: 0,
            ...result,
          } as never),
        ),
      );
    },
  };
  return { r, asked, seen, release: () => pending.splice(0).forEach((f) => f()) };
}

test('one question in flight: concurrent askers share one lookup and get the same answer', async () => {
  const s = slowResolver();
  const c = new CachingResolver(s.r);
  const a = c.lookup('mx.example.test', 'A');
  const b = c.lookup('mx.example.test', 'A');
  const other = c.lookup('mx.example.test', 'AAAA');
  s.release();
  const [ra, rb] = await Promise.all([a, b, other]);
  assert.deepEqual(s.asked, ['mx.example.test/A', 'mx.example.test/AAAA']);
  assert.equal(ra, rb);
  assert.deepEqual(c.stats, { lookups: 3, hits: 0, joined: 1, sent: 2 });
});

test('answers are kept for their TTL, then asked again', async () => {
  let now = 1_000_000;
  const inner = new StaticResolver({ 'mx.example.test/A': { records: ['192.0.2.1'], ttl: 60 } });
  const c = new CachingResolver(inner, { now: () => now });
  await c.lookup('mx.example.test', 'A');
  await c.lookup('mx.example.test.', 'A');
  assert.equal(inner.calls.length, 1, 'the final dot is the same question');
  now += 59_000;
  await c.lookup('mx.example.test', 'A');
  assert.equal(inner.calls.length, 1);
  now += 2_000;
  await c.lookup('mx.example.test', 'A');
  assert.equal(inner.calls.length, 2, 'asked again once the TTL ran out');
});

test('a failure is kept for failureTtlMs only; an answer without TTL is not kept', async () => {
  let now = 0;
  const inner = new StaticResolver({
    'down.example.test/A': { status: 'indeterminate', rcode: null, ttl: null },
    'nottl.example.test/A': { records: [], ttl: null },
  });
  const c = new CachingResolver(inner, { now: () => now, failureTtlMs: 5_000 });
  await c.lookup('down.example.test', 'A');
  await c.lookup('down.example.test', 'A');
  assert.equal(inner.calls.filter((x) => x.startsWith('down')).length, 1);
  now += 6_000;
  await c.lookup('down.example.test', 'A');
  assert.equal(inner.calls.filter((x) => x.startsWith('down')).length, 2);
  await c.lookup('nottl.example.test', 'A');
  await c.lookup('nottl.example.test', 'A');
  assert.equal(inner.calls.filter((x) => x.startsWith('nottl')).length, 2);
});

test('the case of the name asked is kept: a check prints the name as it asked it', async () => {
  const inner = new StaticResolver({ 'mx.example.test/A': { records: ['192.0.2.1'] } });
  const c = new CachingResolver(inner);
  const a = await c.lookup('MX.example.test', 'A');
  const b = await c.lookup('mx.example.test', 'A');
  assert.equal(a.name, 'MX.example.test');
  assert.equal(b.name, 'mx.example.test');
});

test('different flags are different questions (CD=1 is not the validated answer)', async () => {
  const s = slowResolver();
  const c = new CachingResolver(s.r);
  const p = [c.lookup('x.example.test', 'A'), c.lookup('x.example.test', 'A', { cd: true })];
  s.release();
  await Promise.all(p);
  assert.equal(s.asked.length, 2);
});

test("a caller's abort ends its own wait; the others still get the answer; the run's signal goes to the inner lookup", async () => {
  const s = slowResolver();
  const run = new AbortController();
  const c = new CachingResolver(s.r, { signal: run.signal });
  const mine = new AbortController();
  const a = c.lookup('mx.example.test', 'A', { signal: mine.signal });
  const b = c.lookup('mx.example.test', 'A');
  mine.abort();
  await assert.rejects(a, (e: Error & { code?: string }) => e.code === 'E_DNS_ABORTED');
  s.release();
  assert.equal((await b).records[0], '192.0.2.1');
  assert.equal(s.seen[0]!.signal, run.signal, 'the shared lookup carries the run signal only');
});

test('a malformed name is a usage error, as from the resolver itself', async () => {
  const c = new CachingResolver(new StaticResolver({}));
  assert.throws(
    () => c.lookup('a..b', 'A'),
    (e: Error & { code?: string }) => e.code === 'E_DNS_NAME',
  );
});

test('at most maxEntries answers are kept', async () => {
  const inner = new StaticResolver({}, { missing: 'secure' });
  const c = new CachingResolver(inner, { maxEntries: 10 });
  for (let i = 0; i < 30; i++) await c.lookup(`n${i}.example.test`, 'A');
  assert.ok(c.size <= 11, `kept ${c.size}`);
});
