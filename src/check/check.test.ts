/**
 * Unit tests of the check logic with plain-data DNS and a stand-in probe. The real path (Unbound,
 * BIND, Postfix, posttls-finger) is tested in test/lab/check.test.ts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DkError } from '../core/errors.js';
import { parseTlsa } from '../core/tlsa/index.js';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { StaticResolver, type StaticEntry } from '../io/dns/index.js';
import type { ProbeOptions, ProbeResult } from '../io/probe/index.js';
import { makePki, tempDir, type Pki } from '../../test/support/pki.js';
import { checkDomain, checkService, exitStatus } from './check.js';

let pki: Pki;
let leaf: Cert;
let ee: string;
const NOW = new Date();

before(() => {
  pki = makePki(tempDir(), { names: ['mx1.example.test', 'mx.other.test'] });
  leaf = parseCertificates(Buffer.from(pki.leaf.certPem), 'leaf')[0]!;
  ee = `3 1 1 ${createHash('sha256').update(leaf.spki).digest('hex')}`;
});

const tlsa = (...r: string[]) => ({ records: r.map((x) => parseTlsa(x)) });

function run(data: Record<string, StaticEntry>, probe?: (o: ProbeOptions) => Promise<ProbeResult>) {
  const seen: ProbeOptions[] = [];
  const deps = {
    resolver: new StaticResolver(data),
    probe: async (o: ProbeOptions) => {
      seen.push(o);
      if (probe) return probe(o);
      const chain = parseCertificates(
        Buffer.from(pki.leaf.certPem + pki.intermediate.certPem),
        'c',
      );
      return {
        chain: chain.map((c) => c.der),
        protocol: 'TLSv1.3',
        cipher: 'TLS_AES_128_GCM_SHA256',
        address: o.address ?? o.host,
        port: o.port,
        servername: o.servername,
        transcript: [],
        chainSource: 'presented' as const,
      };
    },
    now: () => NOW,
    validating: { validating: true, summary: 'validates' },
  };
  const opts = { port: 25, starttls: 'smtp' as const, days: 14, timeoutMs: 1000 };
  return { seen, report: () => checkDomain('example.test', deps, opts) };
}

const base = (): Record<string, StaticEntry> => ({
  'example.test/MX': { records: [{ preference: 10, exchange: 'mx1.example.test' }] },
  'mx1.example.test/A': { records: ['192.0.2.1'] },
  'mx1.example.test/AAAA': { records: ['2001:db8::1'] },
});

test('secure MX, secure addresses, matching 3 1 1: verified on every address, SNI = TLSA base', async () => {
  const { seen, report } = run({ ...base(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) });
  const r = await report();
  assert.equal(r.verdict, 'verified');
  assert.deepEqual(
    r.hosts[0]!.addresses.map((a) => [a.address, a.verdict]),
    [
      ['192.0.2.1', 'verified'],
      ['2001:db8::1', 'verified'],
    ],
  );
  assert.deepEqual(
    seen.map((s) => s.servername),
    ['mx1.example.test', 'mx1.example.test'],
  );
  assert.equal(r.hosts[0]!.addresses[0]!.chain[0]!.match, ee);
  assert.ok(
    r.warnings.some((w) => w.code === 'no-rollover'),
    "r.warnings.some((w) => w.code === 'no-rollover')",
  );
  assert.equal(exitStatus(r), 1, 'verified with warnings is WARNING');
});

test('insecure address records: no TLSA lookup, no DANE (RFC 7672 §2.2.2)', async () => {
  const data = base();
  data['mx1.example.test/A'] = { records: ['192.0.2.1'], status: 'insecure' };
  data['_25._tcp.mx1.example.test/TLSA'] = tlsa(ee);
  const r = await run(data).report();
  assert.equal(r.hosts[0]!.verdict, 'no-dane');
  assert.ok(!r.dns.some((d) => d.type === 'TLSA'), 'TLSA not looked up');
});

test('bogus TLSA: dnssec-failure, CRITICAL; bogus MX: the whole domain', async () => {
  const r = await run({
    ...base(),
    '_25._tcp.mx1.example.test/TLSA': { status: 'bogus' },
  }).report();
  assert.equal(r.verdict, 'dnssec-failure');
  assert.equal(exitStatus(r), 2);
  const m = await run({ 'example.test/MX': { status: 'bogus' } }).report();
  assert.equal(m.verdict, 'dnssec-failure');
  assert.equal(m.hosts.length, 0);
});

test('secure CNAME: TLSA at the expanded name first, then the original (RFC 7672 §2.2.3)', async () => {
  const data: Record<string, StaticEntry> = {
    'example.test/MX': { records: [{ preference: 10, exchange: 'mx1.example.test' }] },
    'mx1.example.test/CNAME': { cname: 'mx.other.test' },
    'mx.other.test/A': { records: ['192.0.2.7'] },
    'mx.other.test/AAAA': {},
    '_25._tcp.mx.other.test/TLSA': tlsa(ee),
  };
  const { seen, report } = run(data);
  const r = await report();
  assert.equal(r.hosts[0]!.tlsaBase, 'mx.other.test');
  assert.equal(r.hosts[0]!.verdict, 'verified');
  assert.equal(seen[0]!.servername, 'mx.other.test');
  // No TLSA at the expanded name: the original name's records count.
  delete data['_25._tcp.mx.other.test/TLSA'];
  data['_25._tcp.mx1.example.test/TLSA'] = tlsa(ee);
  const r2 = await run(data).report();
  assert.equal(r2.hosts[0]!.tlsaBase, 'mx1.example.test');
  assert.equal(r2.hosts[0]!.verdict, 'verified');
});

test('only PKIX records: unusable; STARTTLS refused with TLSA: failed; mixed hosts: worst wins', async () => {
  const u = await run({
    ...base(),
    '_25._tcp.mx1.example.test/TLSA': tlsa(`1 1 1 ${'ab'.repeat(32)}`),
  }).report();
  assert.equal(u.verdict, 'unusable');
  const refused = async (): Promise<ProbeResult> => {
    throw new DkError('protocol', 'probe-starttls-refused', 'refused STARTTLS: 454');
  };
  const f = await run({ ...base(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) }, refused).report();
  assert.equal(f.verdict, 'failed');
  const data = {
    ...base(),
    'example.test/MX': {
      records: [
        { preference: 10, exchange: 'mx1.example.test' },
        { preference: 20, exchange: 'mx2.example.test' },
      ],
    },
    'mx2.example.test/A': { records: ['192.0.2.2'] },
    'mx2.example.test/AAAA': {},
    '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    '_25._tcp.mx2.example.test/TLSA': tlsa(`3 1 1 ${'cd'.repeat(32)}`),
  };
  const mixed = await run(data).report();
  assert.deepEqual(
    mixed.hosts.map((h) => [h.name, h.verdict]),
    [
      ['mx1.example.test', 'verified'],
      ['mx2.example.test', 'failed'],
    ],
  );
  assert.equal(mixed.verdict, 'failed');
});

test('no MX: the domain itself; null MX: no mail; unreachable address: UNKNOWN', async () => {
  const implicit = await run({
    'example.test/MX': {},
    'example.test/A': { records: ['192.0.2.9'] },
    'example.test/AAAA': {},
  }).report();
  assert.equal(implicit.mx!.implicit, true);
  assert.equal(implicit.hosts[0]!.name, 'example.test');
  assert.equal(implicit.verdict, 'no-dane');
  const nullMx = await run({
    'example.test/MX': { records: [{ preference: 0, exchange: '.' }] },
  }).report();
  assert.match(nullMx.reasons[0]!, /null MX/);
  const down = async (): Promise<ProbeResult> => {
    throw new DkError('unavailable', 'probe-connect', 'connection refused');
  };
  const un = await run({ ...base(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) }, down).report();
  assert.equal(un.verdict, 'unreachable');
  assert.equal(exitStatus(un), 3);
});

test('expiring and expired matched certificates, long TTL and stale records are warned about', async () => {
  const data = base();
  data['_25._tcp.mx1.example.test/TLSA'] = { ...tlsa(ee, `3 1 1 ${'ef'.repeat(32)}`), ttl: 172800 };
  const { report } = run(data);
  const r = await report();
  const codes = r.warnings.map((w) => w.code);
  assert.ok(codes.includes('long-ttl'), "codes.includes('long-ttl')");
  // current + one more DANE-EE key: the next key, a note that leaves the exit status alone
  const next = r.warnings.find((w) => w.code === 'next-key');
  assert.equal(next?.severity, 'note');
  assert.ok(!codes.includes('unmatched-record'), "!codes.includes('unmatched-record')");
  assert.ok(!codes.includes('no-rollover'), "!codes.includes('no-rollover')");
  assert.ok(!codes.includes('expires-soon'), 'the leaf is valid for 90 days');
  // two records that match nothing cannot both be the next key: some are stale
  data['_25._tcp.mx1.example.test/TLSA'] = tlsa(
    ee,
    `3 1 1 ${'ef'.repeat(32)}`,
    `3 1 1 ${'12'.repeat(32)}`,
  );
  const stale = await run(data).report();
  const staleWarnings = stale.warnings.filter((w) => w.code === 'unmatched-record');
  assert.equal(staleWarnings.length, 2);
  assert.ok(
    staleWarnings.every((w) => w.severity === 'warning'),
    "staleWarnings.every((w) => w.severity === 'warning')",
  );
  assert.equal(exitStatus(stale), 1);
});

test('check --host: one service; outside port 25 PKIX usages count against the trust store', async () => {
  const root = parseCertificates(Buffer.from(pki.root.certPem), 'root')[0]!;
  const pkixEe = `1 1 1 ${createHash('sha256').update(leaf.spki).digest('hex')}`;
  const data = {
    'mx1.example.test/A': { records: ['192.0.2.1'] },
    'mx1.example.test/AAAA': {},
    '_443._tcp.mx1.example.test/TLSA': tlsa(pkixEe),
  };
  const probeFor = (o: ProbeOptions): Promise<ProbeResult> => {
    const chain = parseCertificates(Buffer.from(pki.leaf.certPem + pki.intermediate.certPem), 'c');
    return Promise.resolve({
      chain: chain.map((c) => c.der),
      protocol: 'TLSv1.3',
      cipher: 'x',
      address: o.address!,
      port: o.port,
      servername: o.servername,
      transcript: [],
      chainSource: 'presented',
    });
  };
  const deps = (trustStore: Cert[]) => ({
    resolver: new StaticResolver(data),
    probe: probeFor,
    now: () => NOW,
    validating: { validating: true, summary: 'validates' },
    trustStore,
  });
  const opts = { port: 443, starttls: 'none' as const, days: 14, timeoutMs: 1000 };
  const trusted = await checkService('mx1.example.test', deps([root]), opts);
  assert.equal(trusted.service.mode, 'generic');
  assert.equal(trusted.hosts[0]!.tlsa!.owner, '_443._tcp.mx1.example.test');
  assert.equal(trusted.verdict, 'verified');
  // Without the CA in the trust store the PKIX-EE record cannot be satisfied.
  const untrusted = await checkService('mx1.example.test', deps([]), opts);
  assert.notEqual(untrusted.verdict, 'verified');
});

// --- issue 8: the recommended 3 1 1 + 2 1 1 pair, and delivery through several MX hosts ---------

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const certOf = (pem: string) => parseCertificates(Buffer.from(pem), 'c')[0]!;
const presenting =
  (chains: Record<string, string[]>, fallback?: string[]) =>
  (o: ProbeOptions): Promise<ProbeResult> => {
    const pems = chains[o.address ?? ''] ?? chains[o.host] ?? fallback;
    if (!pems) {
      return Promise.reject(new DkError('unavailable', 'probe-connect', 'connection refused'));
    }
    return Promise.resolve({
      chain: pems.map((p) => certOf(p).der),
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      address: o.address ?? o.host,
      port: o.port,
      servername: o.servername,
      transcript: [],
      chainSource: 'presented' as const,
    });
  };

test('3 1 1 + 2 1 1 of the presented intermediate: both in use, no stale warning, exit 0', async () => {
  const ta = `2 1 1 ${sha(certOf(pki.intermediate.certPem).spki)}`;
  const r = await run({ ...base(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee, ta) }).report();
  assert.equal(r.verdict, 'verified');
  const a = r.hosts[0]!.addresses[0]!;
  assert.equal(a.matched!.record, ee, 'DANE-EE decides the verdict');
  assert.deepEqual(a.inUse, [
    { record: ee, depth: 0 },
    { record: ta, depth: 1 },
  ]);
  assert.deepEqual(r.warnings, [], 'the recommended pair draws no warning at all');
  assert.equal(exitStatus(r), 0);
  // with a next key beside the pair, that key is the one note
  const withNext = await run({
    ...base(),
    '_25._tcp.mx1.example.test/TLSA': tlsa(ee, `3 1 1 ${'ef'.repeat(32)}`, ta),
  }).report();
  assert.deepEqual(
    withNext.warnings.map((w) => [w.code, w.severity]),
    [['next-key', 'note']],
  );
  assert.equal(exitStatus(withNext), 0);
});

test('in use means matched at a depth the usage allows, not only the deciding record', async () => {
  const int = certOf(pki.intermediate.certPem);
  const root = certOf(pki.root.certPem);
  const data = base();
  const codesFor = async (...records: string[]) => {
    data['_25._tcp.mx1.example.test/TLSA'] = tlsa(...records);
    const r = await run(data).report();
    return { r, codes: r.warnings.map((w) => `${w.code} ${w.message.slice(0, 12)}`) };
  };
  // RFC 7671 §5.2.3 / §5.2.2: a root key or certificate the server does not send, in the record
  const rootKey = `2 1 0 ${root.spki.toString('hex')}`;
  const rootCert = `2 0 0 ${root.der.toString('hex')}`;
  const both = await codesFor(ee, rootKey, rootCert);
  // (2 0 0 draws its own warning: a full certificate breaks on renewal)
  assert.deepEqual(both.codes, [`full-cert-ta ${rootCert.slice(0, 12)}`]);
  assert.deepEqual(both.r.hosts[0]!.addresses[0]!.inUse.slice(1), [
    { record: rootKey, depth: 1 },
    { record: rootCert, depth: 2 },
  ]);
  // a 2 1 1 of the root the server does not send names nothing it presents: stale
  const rootDigest = `2 1 1 ${sha(root.spki)}`;
  const missing = await codesFor(ee, rootDigest);
  assert.deepEqual(missing.codes, [`unmatched-record ${rootDigest.slice(0, 12)}`]);
  // DANE-EE of the intermediate, DANE-TA of the leaf: wrong depth, in use nowhere
  const eeOfInt = `3 1 1 ${sha(int.spki)}`;
  const taOfLeaf = `2 1 1 ${sha(leaf.spki)}`;
  const wrong = await codesFor(ee, `3 1 1 ${'ef'.repeat(32)}`, eeOfInt, taOfLeaf);
  assert.deepEqual(wrong.codes.filter((c) => c.startsWith('unmatched')).length, 3);
  // the 2 1 1 of the intermediate stays in use when the leaf's name fails its check: the
  // certificate is at fault, deleting the record would not help
  const other = makePki(tempDir(), { names: ['wrong.example.test'] });
  const ta = `2 1 1 ${sha(certOf(other.intermediate.certPem).spki)}`;
  data['_25._tcp.mx1.example.test/TLSA'] = tlsa(ta);
  const failed = await run(
    data,
    presenting({}, [other.leaf.certPem, other.intermediate.certPem]),
  ).report();
  assert.equal(failed.verdict, 'failed');
  assert.deepEqual(failed.hosts[0]!.addresses[0]!.inUse, [{ record: ta, depth: 1 }]);
  assert.ok(
    !failed.warnings.some((w) => w.code === 'unmatched-record'),
    "!failed.warnings.some((w) => w.code === 'unmatched-record')",
  );
});

test('one RRset shared through a CNAME by two MX hosts: each host key is in use somewhere', async () => {
  const second = makePki(tempDir(), { names: ['mx2.example.test'] });
  const ee2 = `3 1 1 ${sha(certOf(second.leaf.certPem).spki)}`;
  const data: Record<string, StaticEntry> = {
    ...twoMx(),
    '_25._tcp.mx1.example.test/CNAME': { cname: '_dane.example.test' },
    '_25._tcp.mx2.example.test/CNAME': { cname: '_dane.example.test' },
    '_dane.example.test/TLSA': tlsa(ee, ee2),
  };
  const probe = presenting({
    'mx1.example.test': [pki.leaf.certPem, pki.intermediate.certPem],
    'mx2.example.test': [second.leaf.certPem, second.intermediate.certPem],
  });
  const r = await run(data, probe).report();
  assert.equal(r.verdict, 'verified');
  assert.ok(!r.warnings.some((w) => w.code === 'unmatched-record'), JSON.stringify(r.warnings));
  // the same two records as separate RRsets: mx2's key at mx1 is stale there (or the next key)
  delete data['_25._tcp.mx1.example.test/CNAME'];
  delete data['_25._tcp.mx2.example.test/CNAME'];
  data['_25._tcp.mx1.example.test/TLSA'] = tlsa(ee, ee2, `3 1 1 ${'ef'.repeat(32)}`);
  data['_25._tcp.mx2.example.test/TLSA'] = tlsa(ee, ee2);
  const apart = await run(data, probe).report();
  assert.deepEqual(
    apart.warnings.filter((w) => w.code === 'unmatched-record').map((w) => w.subject),
    ['_25._tcp.mx1.example.test', '_25._tcp.mx1.example.test'],
  );
});

function twoMx(): Record<string, StaticEntry> {
  return {
    'example.test/MX': {
      records: [
        { preference: 10, exchange: 'mx1.example.test' },
        { preference: 20, exchange: 'mx2.example.test' },
      ],
    },
    'mx1.example.test/A': { records: ['192.0.2.1'] },
    'mx1.example.test/AAAA': {},
    'mx2.example.test/A': { records: ['192.0.2.2'] },
    'mx2.example.test/AAAA': {},
  };
}

test('delivery: a failing backup MX host, a failing preferred one, none working (RFC 5321 §5.1)', async () => {
  const bad = `3 1 1 ${'cd'.repeat(32)}`;
  const next = `3 1 1 ${'ef'.repeat(32)}`;
  const backupFails = await run({
    ...twoMx(),
    '_25._tcp.mx1.example.test/TLSA': tlsa(ee, next),
    '_25._tcp.mx2.example.test/TLSA': tlsa(bad),
  }).report();
  assert.equal(backupFails.verdict, 'failed', 'the verdict stays the worst host’s');
  assert.equal(exitStatus(backupFails), 2);
  const d1 = backupFails.delivery!;
  assert.deepEqual(
    [d1.ok, d1.via, d1.failingHosts, d1.preferredFails],
    [true, ['mx1.example.test'], ['mx2.example.test'], false],
  );
  assert.match(
    d1.summary,
    /^mail still flows: senders deliver to mx1\.example\.test \(MX 10, verified\)/,
  );
  assert.match(
    d1.summary,
    /mx2\.example\.test \(MX 20, failed\) is failing: a DANE sender will not fall back to it/,
  );

  const preferredFails = await run({
    ...twoMx(),
    '_25._tcp.mx1.example.test/TLSA': tlsa(bad),
    '_25._tcp.mx2.example.test/TLSA': tlsa(ee, next),
  }).report();
  assert.equal(preferredFails.verdict, 'failed');
  const d2 = preferredFails.delivery!;
  assert.deepEqual(
    [d2.ok, d2.via, d2.failingHosts, d2.preferredFails],
    [true, ['mx2.example.test'], ['mx1.example.test'], true],
  );
  assert.match(
    d2.summary,
    /after a detour; senders try mx1\.example\.test \(MX 10, failed\) first and, when it fails, fall back to mx2\.example\.test \(MX 20, verified\)/,
  );

  const down = await run(
    {
      ...twoMx(),
      '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
      '_25._tcp.mx2.example.test/TLSA': tlsa(ee),
    },
    presenting({ '192.0.2.1': [pki.leaf.certPem, pki.intermediate.certPem] }),
  ).report();
  assert.equal(down.verdict, 'unreachable');
  assert.deepEqual([down.delivery!.ok, down.delivery!.failingHosts], [true, ['mx2.example.test']]);
  assert.match(down.delivery!.summary, /mx2\.example\.test \(MX 20, unreachable\) is failing/);

  const none = await run({
    ...twoMx(),
    '_25._tcp.mx1.example.test/TLSA': tlsa(bad),
    '_25._tcp.mx2.example.test/TLSA': { status: 'bogus' },
  }).report();
  assert.deepEqual(
    [none.delivery!.ok, none.delivery!.via, none.delivery!.failingHosts],
    [false, [], ['mx1.example.test', 'mx2.example.test']],
  );
  assert.match(none.delivery!.summary, /^mail cannot be delivered: no MX host takes mail/);

  const fine = await run({ ...base(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee, next) }).report();
  assert.deepEqual(fine.delivery, {
    ok: true,
    via: ['mx1.example.test'],
    failingHosts: [],
    preferredFails: false,
    summary: 'mail can be delivered: mx1.example.test (MX 10, verified) takes it',
  });
});

test('delivery: one bad address of a host, a bogus MX RRset, and none for check --host', async () => {
  const data = base();
  data['_25._tcp.mx1.example.test/TLSA'] = tlsa(ee);
  const partly = await run(
    data,
    presenting({
      '192.0.2.1': [pki.leaf.certPem, pki.intermediate.certPem],
      '2001:db8::1': [pki.intermediate.certPem],
    }),
  ).report();
  assert.equal(partly.verdict, 'failed');
  const d = partly.delivery!;
  assert.deepEqual(
    [d.ok, d.via, d.failingHosts],
    [true, ['mx1.example.test'], ['mx1.example.test']],
  );
  assert.match(
    d.summary,
    /mx1\.example\.test fails on 2001:db8::1 \(failed\), and senders move on to its other address/,
  );

  const bogus = await run({ 'example.test/MX': { status: 'bogus' } }).report();
  assert.equal(bogus.delivery!.ok, false);
  assert.match(bogus.delivery!.summary, /^mail cannot be delivered: example\.test\/MX is bogus/);

  const service = await checkService(
    'mx1.example.test',
    {
      resolver: new StaticResolver({ ...base(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) }),
      probe: presenting({}, [pki.leaf.certPem]),
      now: () => NOW,
      validating: { validating: true, summary: 'validates' },
    },
    { port: 25, starttls: 'smtp', days: 14, timeoutMs: 1000 },
  );
  assert.equal(service.delivery, null);
});

test('an address that presented no chain: no record is called stale, a note says why', async () => {
  const data = base();
  data['_25._tcp.mx1.example.test/TLSA'] = tlsa(
    ee,
    `3 1 1 ${'ef'.repeat(32)}`,
    `3 1 1 ${'12'.repeat(32)}`,
  );
  // the IPv6 address refuses: it may present a key the IPv4 one does not
  const r = await run(
    data,
    presenting({ '192.0.2.1': [pki.leaf.certPem, pki.intermediate.certPem] }),
  ).report();
  assert.equal(r.verdict, 'unreachable');
  const codes = r.warnings.map((w) => w.code);
  assert.ok(!codes.includes('unmatched-record'), codes.join(','));
  const note = r.warnings.find((w) => w.code === 'in-use-unknown');
  assert.equal(note?.severity, 'note');
  assert.match(
    note.message,
    /2 record\(s\) match no certificate seen, but 2001:db8::1 presented none/,
  );
  // every address heard from: the two extra records are judged again
  const all = await run(data).report();
  assert.equal(all.warnings.filter((w) => w.code === 'unmatched-record').length, 2);
});

test('warnings follow the MX preference order, whichever host answers first', async () => {
  const fast = presenting({}, [pki.leaf.certPem, pki.intermediate.certPem]);
  const slowFirst = async (o: ProbeOptions): Promise<ProbeResult> => {
    if (o.host === 'mx1.example.test') await new Promise((r) => setTimeout(r, 50));
    return fast(o);
  };
  const r = await run(
    {
      ...twoMx(),
      '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
      '_25._tcp.mx2.example.test/TLSA': tlsa(ee),
    },
    slowFirst,
  ).report();
  assert.deepEqual(
    r.warnings.map((w) => w.subject),
    ['_25._tcp.mx1.example.test', '_25._tcp.mx2.example.test'],
  );
});

test('dns[] is in a fixed order (MX, then each host by preference, its questions as asked), whatever order the answers arrive in', async () => {
  const data: Record<string, StaticEntry> = {
    'example.test/MX': {
      records: [
        { preference: 20, exchange: 'mx2.example.test' },
        { preference: 10, exchange: 'mx1.example.test' },
      ],
    },
    'mx1.example.test/A': { records: ['192.0.2.1'] },
    'mx1.example.test/AAAA': { records: ['2001:db8::1'] },
    'mx2.example.test/A': { records: ['192.0.2.2'] },
    'mx2.example.test/AAAA': { records: [] },
    '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    '_25._tcp.mx2.example.test/TLSA': tlsa(ee),
  };
  const inner = new StaticResolver(data);
  /** answers held back by `delay(name/type)` ms: arrival order is the test's choice */
  const order = async (delay: (key: string) => number) => {
    const resolver = {
      servers: inner.servers,
      lookup: (async (name: string, type: string) => {
        await new Promise((res) => setTimeout(res, delay(`${name}/${type}`)));
        return inner.lookup(name, type as never);
      }) as typeof inner.lookup,
    };
    const deps = {
      resolver,
      probe: async (o: ProbeOptions): Promise<ProbeResult> => ({
        chain: parseCertificates(Buffer.from(pki.leaf.certPem), 'c').map((c) => c.der),
        protocol: 'TLSv1.3',
        cipher: 'TLS_AES_128_GCM_SHA256',
        address: o.address ?? o.host,
        port: o.port,
        servername: o.servername,
        transcript: [],
        chainSource: 'presented' as const,
      }),
      now: () => NOW,
      validating: { validating: true, summary: 'validates' },
    };
    const opts = { port: 25, starttls: 'smtp' as const, days: 14, timeoutMs: 1000 };
    const rep = await checkDomain('example.test', deps, opts);
    return rep.dns.map((d) => `${d.name}/${d.type}`);
  };
  const expected = [
    'example.test/MX',
    'mx1.example.test/A',
    'mx1.example.test/AAAA',
    '_25._tcp.mx1.example.test/TLSA',
    'mx2.example.test/A',
    'mx2.example.test/AAAA',
    '_25._tcp.mx2.example.test/TLSA',
  ];
  // mx2 before mx1, AAAA before A
  const slowFirst = (k: string) =>
    (k.startsWith('mx1') || k.includes('.mx1.') ? 30 : 0) + (k.endsWith('/A') ? 15 : 0);
  assert.deepEqual(await order(slowFirst), expected);
  assert.deepEqual(await order(() => 0), expected);
});

test('MX hosts of equal preference and RRset records come in the same order however the RRset is rotated', async () => {
  const data = (mx: string[], a: string[]): Record<string, StaticEntry> => ({
    'example.test/MX': { records: mx.map((exchange) => ({ preference: 10, exchange })) },
    'mx1.example.test/A': { records: a },
    'mx1.example.test/AAAA': { records: [] },
    'mx2.example.test/A': { records: ['192.0.2.9'] },
    'mx2.example.test/AAAA': { records: [] },
    '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    '_25._tcp.mx2.example.test/TLSA': tlsa(ee),
  });
  const one = await run(
    data(['mx1.example.test', 'mx2.example.test'], ['192.0.2.1', '192.0.2.2']),
  ).report();
  const two = await run(
    data(['mx2.example.test', 'mx1.example.test'], ['192.0.2.2', '192.0.2.1']),
  ).report();
  assert.deepEqual(
    two.hosts.map((h) => h.name),
    ['mx1.example.test', 'mx2.example.test'],
  );
  assert.deepEqual(two.mx, one.mx);
  assert.deepEqual(two.dns, one.dns);
});

test('a rotated TLSA RRset gives the same report: records listed sorted, records in use by depth', async () => {
  const inter = parseCertificates(Buffer.from(pki.intermediate.certPem), 'i')[0]!;
  const ta = `2 1 1 ${createHash('sha256').update(inter.spki).digest('hex')}`;
  const unused = `3 1 1 ${'ab'.repeat(32)}`;
  const report = (order: string[]) =>
    run({ ...base(), '_25._tcp.mx1.example.test/TLSA': tlsa(...order) }).report();
  const one = await report([ee, ta, unused]);
  const two = await report([unused, ta, ee]);
  assert.deepEqual(one.hosts[0]!.tlsa!.records, [ta, ee, unused].sort());
  assert.deepEqual(two.hosts[0]!.tlsa!.records, one.hosts[0]!.tlsa!.records);
  assert.deepEqual(
    two.hosts[0]!.addresses[0]!.inUse.map((u) => [u.depth, u.record]),
    [
      [0, ee],
      [1, ta],
    ],
  );
  assert.deepEqual(two.hosts[0]!.addresses[0]!.inUse, one.hosts[0]!.addresses[0]!.inUse);
  assert.deepEqual(two.hosts[0]!.addresses[0]!.matched, one.hosts[0]!.addresses[0]!.matched);
  assert.equal(two.verdict, one.verdict);
});
