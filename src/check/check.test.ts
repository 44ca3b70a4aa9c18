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
  assert.ok(r.warnings.some((w) => w.code === 'no-rollover'));
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
  assert.ok(codes.includes('long-ttl'));
  // current + one more DANE-EE key: the next key, a note that leaves the exit status alone
  const next = r.warnings.find((w) => w.code === 'next-key');
  assert.equal(next?.severity, 'note');
  assert.ok(!codes.includes('unmatched-record'));
  assert.ok(!codes.includes('no-rollover'));
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
  assert.ok(staleWarnings.every((w) => w.severity === 'warning'));
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
