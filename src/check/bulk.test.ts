/**
 * `check --file` underneath: the list format, and runBulk giving every domain exactly the
 * report checkDomain gives it alone while sharing DNS answers and probes, with its limits
 * (concurrency, connections per address, time per domain) and Ctrl-C.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { CachingResolver } from '../io/dns/cache.js';
import { StaticResolver, type StaticEntry } from '../io/dns/index.js';
import type { ProbeOptions, ProbeResult } from '../io/probe/index.js';
import { parseTlsa } from '../core/tlsa/index.js';
import { makePki, tempDir } from '../../test/support/pki.js';
import { parseDomainList, runBulk, sharedCertReader, type BulkResult } from './bulk.js';
import { checkDomain, exitStatus, type CheckDeps } from './check.js';
import { probePool } from './probe-pool.js';
import { judgeChain } from './check.js';
import { judgeMemo } from './verify-memo.js';

let chain: Cert[];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const NOW = new Date('2026-12-01T00:00:00Z');
const OPTS = { port: 25, starttls: 'smtp' as const, days: 14, timeoutMs: 1000 };

before(() => {
  const pki = makePki(tempDir(), { names: ['mx1.hoster.test'] });
  chain = parseCertificates(Buffer.from(pki.leaf.certPem + pki.intermediate.certPem), 'c');
});

test('the list: one domain per line, # comments, blank lines; bad lines kept in place with their error; repeats once', () => {
  const { entries, duplicates } = parseDomainList(
    [
      '# customers',
      'a.example',
      '',
      '   b.example   # trailing comment',
      'two words.example',
      'bad/name.example',
      'A.Example.',
      'c.example\r',
    ].join('\n'),
  );
  assert.deepEqual(
    entries.map((e) => [e.line, e.text, e.error?.code ?? null]),
    [
      [2, 'a.example', null],
      [4, 'b.example', null],
      [5, 'two words.example', 'E_BULK_LINE'],
      [6, 'bad/name.example', 'E_BULK_LINE'],
      [8, 'c.example', null],
    ],
  );
  assert.equal(duplicates, 1);
  assert.match(entries[3]!.error!.message, /^line 6: "bad\/name.example" is not a domain name$/);
});

/** A probe that answers with the lab chain after a tick, counting connections per address. */
function fakeProbe(opts: { hang?: Set<string>; delayMs?: number } = {}) {
  const calls: string[] = [];
  const open = new Map<string, number>();
  let peak = 0;
  const probe = async (o: ProbeOptions): Promise<ProbeResult> => {
    calls.push(`${o.address} ${o.servername}`);
    const n = (open.get(o.address!) ?? 0) + 1;
    open.set(o.address!, n);
    peak = Math.max(peak, n);
    try {
      if (opts.hang?.has(o.address!)) await new Promise(() => {});
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 1));
      return {
        chain: chain.map((c) => c.der),
        protocol: 'TLSv1.3',
        cipher: 'TLS_AES_128_GCM_SHA256',
        address: o.address!,
        port: o.port,
        servername: o.servername,
        transcript: [],
        chainSource: 'presented',
      };
    } finally {
      open.set(o.address!, open.get(o.address!)! - 1);
    }
  };
  return { probe, calls, peak: () => peak };
}

/** 40 domains on two shared MX hosts (one good, one mismatching), plus odd ones. */
function world(): Record<string, StaticEntry> {
  const good = `3 1 1 ${sha(chain[0]!.spki)}`;
  const d: Record<string, StaticEntry> = {
    'mx1.hoster.test/A': { records: ['192.0.2.1'] },
    'mx1.hoster.test/AAAA': {},
    '_25._tcp.mx1.hoster.test/TLSA': { records: [parseTlsa(good)] },
    'mx2.hoster.test/A': { records: ['192.0.2.2'] },
    'mx2.hoster.test/AAAA': {},
    '_25._tcp.mx2.hoster.test/TLSA': { records: [parseTlsa(`3 1 1 ${'ab'.repeat(32)}`)] },
    'bogus.example/MX': { status: 'bogus' },
    'insecure.example/MX': {
      status: 'insecure',
      records: [{ preference: 10, exchange: 'mx.insecure.example' }],
    },
    'mx.insecure.example/A': { status: 'insecure', records: ['192.0.2.3'] },
    'mx.insecure.example/AAAA': { status: 'insecure' },
    'nomx.example/MX': {},
    'nomx.example/A': { records: ['192.0.2.1'] },
    'nomx.example/AAAA': {},
    '_25._tcp.nomx.example/TLSA': { records: [parseTlsa(good)] },
  };
  for (let i = 0; i < 40; i++)
    d[`d${i}.example/MX`] = {
      records: [{ preference: 10, exchange: `mx${(i % 2) + 1}.hoster.test` }],
    };
  return d;
}

const names = () => [
  ...Array.from({ length: 40 }, (_, i) => `d${i}.example`),
  'bogus.example',
  'insecure.example',
  'nomx.example',
  'missing.example',
];

async function bulk(
  list: string,
  deps: Partial<CheckDeps> & { probe: CheckDeps['probe'] },
  o: { concurrency?: number; timeoutMs?: number; signal?: AbortSignal } = {},
) {
  const results: BulkResult[] = [];
  const summary = await runBulk(
    parseDomainList(list).entries,
    {
      resolver: new StaticResolver(world()),
      now: () => NOW,
      validating: { validating: true, summary: 'validates' },
      ...deps,
    },
    {
      concurrency: o.concurrency ?? 8,
      domainTimeoutMs: o.timeoutMs ?? 5_000,
      check: OPTS,
      ...(o.signal ? { signal: o.signal } : {}),
    },
    (r) => results.push(r),
  );
  return { results, summary };
}

test('every domain gets the report checkDomain gives it alone; each MX address is probed once', async () => {
  const shared = new CachingResolver(new StaticResolver(world()));
  const p = fakeProbe();
  const pool = probePool(p.probe);
  const { results, summary } = await bulk(names().join('\n'), {
    resolver: shared,
    probe: pool.probe,
    parseCert: sharedCertReader(),
  });
  assert.equal(results.length, names().length);
  for (const r of results) {
    assert.equal(r.kind, 'report');
    if (r.kind !== 'report') continue;
    const alone = await checkDomain(
      r.entry.text,
      {
        resolver: new StaticResolver(world()),
        probe: fakeProbe().probe,
        now: () => NOW,
        validating: { validating: true, summary: 'validates' },
      },
      OPTS,
    );
    assert.deepEqual(r.report, alone, r.entry.text);
    assert.equal(r.status, exitStatus(alone));
  }
  const verdict = (d: string) => {
    const r = results.find((x) => x.entry.text === d);
    return r?.kind === 'report' ? r.report.verdict : null;
  };
  assert.equal(verdict('d0.example'), 'verified');
  assert.equal(verdict('d1.example'), 'failed');
  assert.equal(verdict('bogus.example'), 'dnssec-failure');
  assert.equal(verdict('insecure.example'), 'no-dane');
  assert.equal(verdict('nomx.example'), 'verified');
  assert.equal(verdict('missing.example'), 'failed');
  // 192.0.2.1 as mx1.hoster.test, as nomx.example (another SNI), 192.0.2.2, 192.0.2.3
  assert.equal(p.calls.length, 4, p.calls.join(', '));
  assert.equal(pool.stats.connections, 4);
  assert.deepEqual(summary.counts, {
    verified: 21,
    failed: 21,
    'dnssec-failure': 1,
    'no-dane': 1,
  });
  assert.equal(summary.status, 2);
  assert.equal(summary.done, summary.total);
  // 40 domains share the hosters' A and TLSA answers (the AAAA denial has no TTL here)
  assert.ok(shared.stats.hits + shared.stats.joined >= 2 * 38, JSON.stringify(shared.stats));
});

test('DANE-TA through the shared judgement: each domain its own verdict by its next-hop domain (RFC 7672 §3.2.2), each equal to checkDomain alone', async () => {
  // one MX host with a 2 1 1 of the intermediate; the leaf names mx1.hoster.test only, so it
  // passes for the domain mx1.hoster.test (its next-hop domain) and fails for the others
  const d: Record<string, StaticEntry> = {
    'mx3.hoster.test/A': { records: ['192.0.2.9'] },
    'mx3.hoster.test/AAAA': {},
    '_25._tcp.mx3.hoster.test/TLSA': { records: [parseTlsa(`2 1 1 ${sha(chain[1]!.spki)}`)] },
  };
  const list = ['ta0.example', 'mx1.hoster.test', 'ta1.example', 'ta2.example'];
  for (const n of list)
    d[`${n}/MX`] = { records: [{ preference: 10, exchange: 'mx3.hoster.test' }] };
  // DANE-TA checks dates: a moment inside the leaf's validity
  const now = () => new Date(chain[0]!.notBefore.getTime() + 3_600_000);
  const memo = judgeMemo(judgeChain);
  const parseCert = sharedCertReader();
  const { results } = await bulk(
    list.join('\n'),
    {
      resolver: new CachingResolver(new StaticResolver(d)),
      probe: probePool(fakeProbe().probe).probe,
      parseCert,
      judgeChain: memo.judge,
      now,
    },
    { concurrency: 4 },
  );
  const verdicts: Record<string, string> = {};
  for (const r of results) {
    assert.equal(r.kind, 'report');
    if (r.kind !== 'report') continue;
    verdicts[r.entry.text] = r.report.verdict;
    const alone = await checkDomain(
      r.entry.text,
      {
        resolver: new StaticResolver(d),
        probe: fakeProbe().probe,
        now,
        validating: { validating: true, summary: 'validates' },
      },
      OPTS,
    );
    assert.deepEqual(r.report, alone, r.entry.text);
  }
  assert.deepEqual(verdicts, {
    'ta0.example': 'failed',
    'mx1.hoster.test': 'verified',
    'ta1.example': 'failed',
    'ta2.example': 'failed',
  });
  // one chain, one RRset: a judgement per next-hop domain, each asked once
  assert.deepEqual(memo.stats, { asked: 4, made: 4 });
  // the same domains again (the same certificates, the RRset anew): nothing judged afresh
  await bulk(list.join('\n'), {
    resolver: new CachingResolver(new StaticResolver(d)),
    probe: probePool(fakeProbe().probe).probe,
    parseCert,
    judgeChain: memo.judge,
    now,
  });
  assert.deepEqual(memo.stats, { asked: 8, made: 4 });
});

test('DANE-EE through the shared judgement: many domains on one MX host, one judgement', async () => {
  const memo = judgeMemo(judgeChain);
  const { results } = await bulk(names().join('\n'), {
    resolver: new CachingResolver(new StaticResolver(world())),
    probe: probePool(fakeProbe().probe).probe,
    parseCert: sharedCertReader(),
    judgeChain: memo.judge,
  });
  for (const r of results) {
    if (r.kind !== 'report') continue;
    const alone = await checkDomain(
      r.entry.text,
      {
        resolver: new StaticResolver(world()),
        probe: fakeProbe().probe,
        now: () => NOW,
        validating: { validating: true, summary: 'validates' },
      },
      OPTS,
    );
    assert.deepEqual(r.report, alone, r.entry.text);
  }
  // the shared cache's answer about mx1 is one DNS entry in every report that shows it
  const entry = (d: string) => {
    const r = results.find((x) => x.entry.text === d);
    return r?.kind === 'report'
      ? r.report.dns.find((e) => e.name === 'mx1.hoster.test' && e.type === 'A')
      : undefined;
  };
  assert.ok(entry('d0.example'), 'd0.example shows mx1/A');
  assert.equal(entry('d2.example'), entry('d0.example'));
  // 20 domains on mx1, 20 on mx2, nomx.example: each a next-hop domain of its own, but a
  // DANE-EE(3) RRset checks no names (RFC 7672 §3.1.1): one judgement per chain and RRset —
  // mx1's and nomx.example's (the same chain, the same record) and mx2's
  assert.deepEqual(memo.stats, { asked: 41, made: 2 });
});

test('never more than the set number of connections to one address, however many names it serves', async () => {
  const d = world();
  const list: string[] = [];
  for (let i = 0; i < 30; i++) {
    d[`own${i}.example/MX`] = { records: [{ preference: 10, exchange: `mx.own${i}.example` }] };
    d[`mx.own${i}.example/A`] = { records: ['192.0.2.9'] };
    d[`mx.own${i}.example/AAAA`] = {};
    list.push(`own${i}.example`);
  }
  const p = fakeProbe({ delayMs: 5 });
  const pool = probePool(p.probe, { perAddress: 2 });
  const { results } = await bulk(
    list.join('\n'),
    { resolver: new StaticResolver(d), probe: pool.probe },
    { concurrency: 16 },
  );
  assert.equal(results.length, 30);
  assert.equal(p.calls.length, 30, 'one probe per SNI');
  assert.equal(p.peak(), 2);
  assert.equal(pool.stats.peakPerAddress, 2);
});

test('a domain over its time limit is an error line (status 3); the others finish', async () => {
  const d = world();
  d['slow.example/MX'] = { records: [{ preference: 10, exchange: 'mx.slow.example' }] };
  d['mx.slow.example/A'] = { records: ['192.0.2.66'] };
  d['mx.slow.example/AAAA'] = {};
  const p = fakeProbe({ hang: new Set(['192.0.2.66']) });
  const t0 = Date.now();
  const { results, summary } = await bulk(
    'd0.example\nslow.example\nd1.example',
    { resolver: new StaticResolver(d), probe: probePool(p.probe).probe },
    { timeoutMs: 200 },
  );
  assert.ok(Date.now() - t0 < 2_000);
  const slow = results.find((r) => r.entry.text === 'slow.example')!;
  assert.equal(slow.kind, 'error');
  if (slow.kind === 'error') {
    assert.equal(slow.error.error.code, 'E_BULK_TIMEOUT');
    assert.match(slow.error.error.message, /slow\.example: the check did not finish within 0\.2 s/);
    assert.equal(slow.error.line, 2);
  }
  assert.equal(slow.status, 3);
  assert.deepEqual(summary.counts, { verified: 1, failed: 1, error: 1 });
  assert.equal(summary.status, 3);
});

test('past its time limit a domain asks nothing more; what it asked carries no listener for it (the lookup is shared)', async () => {
  const d = world();
  d['slow.example/MX'] = { records: [{ preference: 10, exchange: 'mx.slow.example' }] };
  d['mx.slow.example/A'] = { records: ['192.0.2.66'] };
  d['mx.slow.example/AAAA'] = {};
  const inner = new StaticResolver(d);
  const asked: string[] = [];
  const signals: unknown[] = [];
  const spy = {
    servers: inner.servers,
    async lookup(...a: Parameters<StaticResolver['lookup']>) {
      asked.push(`${a[0]}/${a[1]}`);
      signals.push(a[2]?.signal);
      // the slow domain's MX answer comes after its time is up
      if (a[0] === 'slow.example') await new Promise((r) => setTimeout(r, 300));
      return inner.lookup(...a);
    },
  } as unknown as StaticResolver;
  const { results } = await bulk(
    'slow.example\nd0.example',
    { resolver: spy, probe: fakeProbe().probe },
    { timeoutMs: 100 },
  );
  const slow = results.find((r) => r.entry.text === 'slow.example')!;
  assert.ok(slow.kind === 'error' && slow.error.error.code === 'E_BULK_TIMEOUT');
  // let the MX answer arrive: the timed-out check must not go on to the host's addresses
  await new Promise((r) => setTimeout(r, 350));
  assert.ok(!asked.some((q) => q.startsWith('mx.slow.example/')), asked.join(' '));
  assert.ok(asked.includes('mx1.hoster.test/A'), 'the other domain was checked');
  assert.deepEqual(
    signals.filter((x) => x !== undefined),
    [],
    'no lookup listens on a domain signal',
  );
});

test("a malformed line is that line's error, not a crash; a name the resolver refuses too", async () => {
  const { results, summary } = await bulk('d0.example\nno thing\na..b.example', {
    probe: fakeProbe().probe,
  });
  const byLine = new Map(results.map((r) => [r.entry.line, r]));
  assert.equal(byLine.get(1)!.kind, 'report');
  const two = byLine.get(2)!;
  const three = byLine.get(3)!;
  assert.ok(two.kind === 'error' && two.error.error.code === 'E_BULK_LINE');
  assert.ok(three.kind === 'error' && three.error.error.code === 'E_DNS_NAME');
  assert.equal(summary.counts.error, 2);
  assert.equal(summary.status, 3);
});

test('stopping the run (Ctrl-C): nothing new starts, unfinished domains are dropped, what finished stays', async () => {
  const stop = new AbortController();
  const d = world();
  const list: string[] = [];
  for (let i = 0; i < 50; i++) {
    d[`own${i}.example/MX`] = { records: [{ preference: 10, exchange: `mx.own${i}.example` }] };
    d[`mx.own${i}.example/A`] = { records: [`192.0.2.${100 + i}`] };
    d[`mx.own${i}.example/AAAA`] = {};
    list.push(`own${i}.example`);
  }
  const p = fakeProbe({ delayMs: 20 });
  const results: BulkResult[] = [];
  const run = runBulk(
    parseDomainList(list.join('\n')).entries,
    {
      resolver: new StaticResolver(d),
      probe: probePool(p.probe, { signal: stop.signal }).probe,
      now: () => NOW,
      validating: { validating: true, summary: 'validates' },
    },
    { concurrency: 4, domainTimeoutMs: 5_000, check: OPTS, signal: stop.signal },
    (r) => {
      results.push(r);
      if (results.length === 6) stop.abort();
    },
  );
  const summary = await run;
  assert.equal(summary.interrupted, true);
  assert.equal(results.length, 6);
  assert.equal(summary.done, 6);
  assert.ok(p.calls.length < 15, `${p.calls.length} probes started`);
});

test("one listener on the run's stop signal however many domains are in progress; none left after the run", async () => {
  const stop = new AbortController();
  let most = 0;
  const p = fakeProbe({ delayMs: 5 });
  const watching = async (o: ProbeOptions) => {
    most = Math.max(most, getEventListeners(stop.signal, 'abort').length);
    return p.probe(o);
  };
  const { results } = await bulk(
    names().join('\n'),
    { probe: watching },
    { concurrency: 16, signal: stop.signal },
  );
  assert.equal(results.length, names().length);
  assert.equal(most, 1);
  assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
});

test('concurrency bounds the domains in progress', async () => {
  let inFlight = 0;
  let peak = 0;
  const inner = new StaticResolver(world());
  const counting = {
    servers: inner.servers,
    async lookup(...a: Parameters<StaticResolver['lookup']>) {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return inner.lookup(...a);
    },
  } as unknown as StaticResolver;
  await bulk(
    names().join('\n'),
    { resolver: counting, probe: fakeProbe().probe },
    { concurrency: 3 },
  );
  // a domain asks A and AAAA at once: two lookups per domain at most
  assert.ok(peak <= 6, `peak ${peak}`);
  assert.ok(peak >= 3);
});

test('a presented certificate is read once for every domain it reaches; a bad one fails each time with its own label', () => {
  const read = sharedCertReader();
  const der = chain[0]!.der;
  assert.equal(read(der, 'a'), read(der, 'b'));
  const bad = Buffer.from('3003020100', 'hex');
  assert.throws(
    () => read(bad, '192.0.2.1 certificate 1'),
    /^DkError: 192\.0\.2\.1 certificate 1: /,
  );
  assert.throws(() => read(bad, '192.0.2.2 certificate 1'), /192\.0\.2\.2 certificate 1: /);
});

test('the same certificate presented by two probes (other buffers, same bytes) is read once', () => {
  const read = sharedCertReader();
  const der = chain[0]!.der;
  const a = read(Buffer.from(der), 'a');
  assert.equal(read(Buffer.from(der), 'b'), a);
  assert.notEqual(read(Buffer.from(chain[1]!.der), 'c'), a);
  // bounded: past the limit, the kept ones are let go and read again
  const small = sharedCertReader(1);
  const x = small(Buffer.from(der), 'x');
  small(Buffer.from(chain[1]!.der), 'y');
  assert.notEqual(small(Buffer.from(der), 'z'), x);
  assert.deepEqual(small(Buffer.from(der), 'z').spki, x.spki);
});
