/**
 * Issue 12 (mutation testing): what `check` reports, pinned exactly where the other check tests
 * only look at the verdict. Each case is a rule of RFC 7672 §2.2 or a field of the report a user
 * reads; Stryker's survivors in check.ts named the gaps (docs/mutation.md).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { DkError } from '../core/errors.js';
import { parseTlsa } from '../core/tlsa/index.js';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { StaticResolver, type StaticEntry } from '../io/dns/index.js';
import type { ProbeOptions, ProbeResult } from '../io/probe/index.js';
import { makePki, tempDir, type Pki } from '../../test/support/pki.js';
import { checkDomain, checkService } from './check.js';

let pki: Pki;
let leaf: Cert;
let root: Cert;
let ee: string;
let pkixEe: string;
const NOW = new Date();
/**
 * Each suite's bound: the resolver, probe and sleeps here are fakes, so a suite takes well under a
 * second; a bug that leaves a promise pending behind a live timer (a retry or probe that never
 * ends) fails here instead of hanging `npm test`. A synchronous loop cannot be cut by it.
 */
const SUITE_TIMEOUT = 30_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(() => {
  pki = makePki(tempDir(), { names: ['mx1.example.test', 'mx.other.test'], prefix: 'm-' });
  leaf = parseCertificates(Buffer.from(pki.leaf.certPem), 'leaf')[0]!;
  root = parseCertificates(Buffer.from(pki.root.certPem), 'root')[0]!;
  ee = `3 1 1 ${sha(leaf.spki)}`;
  pkixEe = `1 1 1 ${sha(leaf.spki)}`;
});

const tlsa = (...r: string[]): StaticEntry => ({ records: r.map((x) => parseTlsa(x)) });

type Probe = (o: ProbeOptions) => Promise<ProbeResult>;

/** The chain the test PKI's server presents, with what a real probe would say about it. */
const presents =
  (ders?: Buffer[], servername?: string | null): Probe =>
  (o) =>
    Promise.resolve({
      chain:
        ders ??
        parseCertificates(Buffer.from(pki.leaf.certPem + pki.intermediate.certPem), 'c').map(
          (c) => c.der,
        ),
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      address: o.address ?? o.host,
      port: o.port,
      servername: servername === null ? undefined : (servername ?? o.servername),
      transcript: [],
      chainSource: 'presented' as const,
    });

interface Run {
  probe?: Probe;
  port?: number;
  now?: Date;
  validating?: boolean;
  trustStore?: Cert[];
}

function deps(data: Record<string, StaticEntry>, o: Run = {}) {
  const seen: ProbeOptions[] = [];
  const resolver = new StaticResolver(data);
  const probe = o.probe ?? presents();
  return {
    seen,
    resolver,
    deps: {
      resolver,
      probe: (p: ProbeOptions) => {
        seen.push(p);
        return probe(p);
      },
      now: () => o.now ?? NOW,
      validating: { validating: o.validating ?? true, summary: 'the resolver sets AD' },
      ...(o.trustStore ? { trustStore: o.trustStore } : {}),
    },
    opts: {
      port: o.port ?? 25,
      starttls: (o.port ?? 25) === 25 ? ('smtp' as const) : ('none' as const),
      days: 14,
      timeoutMs: 1000,
    },
  };
}

async function domain(data: Record<string, StaticEntry>, o: Run = {}, name = 'example.test') {
  const d = deps(data, o);
  const report = await checkDomain(name, d.deps, d.opts);
  return { report, seen: d.seen, calls: d.resolver.calls };
}

async function service(data: Record<string, StaticEntry>, host: string, o: Run = {}) {
  const d = deps(data, o);
  const report = await checkService(host, d.deps, d.opts);
  return { report, seen: d.seen, calls: d.resolver.calls };
}

const MX = { records: [{ preference: 10, exchange: 'mx1.example.test' }] };
const secureHost = (): Record<string, StaticEntry> => ({
  'example.test/MX': MX,
  'mx1.example.test/A': { records: ['192.0.2.1'] },
  'mx1.example.test/AAAA': {},
});
const refused: Probe = () =>
  Promise.reject(new DkError('protocol', 'probe-starttls-refused', 'refused STARTTLS: 454'));
const down: Probe = () =>
  Promise.reject(new DkError('unavailable', 'probe-connect', 'connection refused'));

describe('the report of a verified domain, field by field', { timeout: SUITE_TIMEOUT }, () => {
  test('DNS entries as shown (data with status, MX and TLSA as text), base fields, probe options', async () => {
    const {
      report: r,
      seen,
      calls,
    } = await domain(
      { ...secureHost(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) },
      {},
      'Example.TEST.',
    );
    assert.equal(r.domain, 'example.test');
    assert.equal(r.verdict, 'verified');
    assert.deepEqual(r.service, { port: 25, starttls: 'smtp', mode: 'smtp' });
    assert.deepEqual(r.resolver, {
      servers: ['static'],
      validating: true,
      summary: 'the resolver sets AD',
    });
    assert.deepEqual(r.mx, {
      status: 'secure',
      implicit: false,
      records: [{ preference: 10, exchange: 'mx1.example.test' }],
    });
    assert.equal(r.checkedAt, NOW.toISOString());
    // a secure MX adds no reason; a plain secure host needs no CNAME lookup (RFC 7672 §2.2.3)
    assert.deepEqual(r.reasons, []);
    assert.deepEqual(calls, [
      'example.test/MX',
      'mx1.example.test/A',
      'mx1.example.test/AAAA',
      '_25._tcp.mx1.example.test/TLSA',
    ]);
    assert.deepEqual(r.dns, [
      {
        name: 'example.test',
        type: 'MX',
        status: 'secure',
        rcode: 'NOERROR',
        ttl: 300,
        records: ['10 mx1.example.test'],
        cnameChain: [],
      },
      {
        name: 'mx1.example.test',
        type: 'A',
        status: 'secure',
        rcode: 'NOERROR',
        ttl: 300,
        records: ['192.0.2.1'],
        cnameChain: [],
      },
      {
        name: 'mx1.example.test',
        type: 'AAAA',
        status: 'secure',
        rcode: 'NOERROR',
        ttl: null,
        records: [],
        cnameChain: [],
      },
      {
        name: '_25._tcp.mx1.example.test',
        type: 'TLSA',
        status: 'secure',
        rcode: 'NOERROR',
        ttl: 300,
        records: [ee],
        cnameChain: [],
      },
    ]);
    const h = r.hosts[0]!;
    assert.deepEqual(h.reasons, []);
    assert.deepEqual(h.tlsa, {
      owner: '_25._tcp.mx1.example.test',
      status: 'secure',
      ttl: 300,
      records: [ee],
    });
    const a = h.addresses[0]!;
    assert.deepEqual(a.tls, {
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      servername: 'mx1.example.test',
    });
    assert.deepEqual(a.matched, { record: ee, depth: 0 });
    assert.deepEqual(a.inUse, [{ record: ee, depth: 0 }]);
    // the chain as the report shows it: the SPKI digest is the one a 3 1 1 record carries
    assert.equal(a.chain.length, 2);
    assert.equal(a.chain[0]!.spkiSha256, sha(leaf.spki));
    assert.equal(a.chain[0]!.match, ee);
    assert.equal(a.chain[1]!.match, null);
    // RFC 7672 §8.1: SNI is the TLSA base domain; the whole dialogue gets four read timeouts
    assert.deepEqual(seen, [
      {
        host: 'mx1.example.test',
        address: '192.0.2.1',
        port: 25,
        starttls: 'smtp',
        servername: 'mx1.example.test',
        connectTimeoutMs: 1000,
        readTimeoutMs: 1000,
        totalTimeoutMs: 4000,
      },
    ]);
  });

  test('a resolver that does not validate is the first warning, naming its servers', async () => {
    const { report: r } = await domain(
      { ...secureHost(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) },
      { validating: false },
    );
    assert.deepEqual(r.warnings[0], {
      severity: 'warning',
      code: 'resolver-not-validating',
      subject: 'static',
      message: 'the resolver sets AD',
    });
    const ok = await domain({ ...secureHost(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) });
    assert.ok(
      !ok.report.warnings.some((w) => w.code === 'resolver-not-validating'),
      'a validating resolver is not warned about',
    );
  });

  test('a matched leaf close to expiry is named with its address in the warning', async () => {
    const soon = new Date(leaf.notAfter.getTime() - 3 * 86400_000);
    const { report: r } = await domain(
      { ...secureHost(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) },
      { now: soon },
    );
    const w = r.warnings.find((x) => x.code === 'expires-soon');
    assert.ok(w, JSON.stringify(r.warnings));
    // the message names the certificate and the address that presented it
    assert.match(w.message, / at 192\.0\.2\.1 expires in 3 day\(s\)/);
    assert.ok(!w.message.startsWith(' at'), w.message);
  });

  test('a record that is not in use is not listed in use (stale records are warned about)', async () => {
    const other = `3 1 1 ${'ab'.repeat(32)}`;
    const { report: r } = await domain({
      ...secureHost(),
      '_25._tcp.mx1.example.test/TLSA': tlsa(other, ee),
    });
    assert.deepEqual(r.hosts[0]!.addresses[0]!.inUse, [{ record: ee, depth: 0 }]);
  });
});

describe('MX RRset (RFC 7672 §2.2.1, RFC 5321 §5.1, RFC 7505)', { timeout: SUITE_TIMEOUT }, () => {
  test('hosts in preference order, each exchange once whatever its case', async () => {
    const { report: r } = await domain({
      'example.test/MX': {
        records: [
          { preference: 20, exchange: 'mx2.example.test' },
          { preference: 10, exchange: 'mx1.example.test' },
          { preference: 30, exchange: 'MX1.example.test' },
          { preference: 5, exchange: 'mx0.example.test' },
        ],
      },
      'mx0.example.test/A': { records: ['192.0.2.5'] },
      'mx1.example.test/A': { records: ['192.0.2.1'] },
      'mx2.example.test/A': { records: ['192.0.2.2'] },
    });
    assert.deepEqual(
      r.hosts.map((h) => [h.name, h.preference]),
      [
        ['mx0.example.test', 5],
        ['mx1.example.test', 10],
        ['mx2.example.test', 20],
      ],
    );
  });

  test('an insecure MX RRset says why the domain is no reference identifier (§2.2.1)', async () => {
    const { report: r } = await domain({
      ...secureHost(),
      'example.test/MX': { ...MX, status: 'insecure' },
      '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    });
    assert.deepEqual(r.reasons, [
      'example.test/MX is insecure: the next-hop domain is not a reference identifier (RFC 7672 §2.2.1)',
    ]);
    assert.equal(r.mx!.status, 'insecure');
  });

  const nothing = {
    ok: false,
    via: [],
    failingHosts: [],
    preferredFails: false,
  };

  test('bogus MX: dnssec-failure for the domain, no host, no warning (§2.1.1)', async () => {
    const { report: r } = await domain({ 'example.test/MX': { status: 'bogus' } });
    const reason =
      'example.test/MX is bogus (validation failed): a DANE sender defers all mail (RFC 7672 §2.1.1)';
    assert.equal(r.verdict, 'dnssec-failure');
    assert.deepEqual(r.reasons, [reason]);
    assert.deepEqual(r.delivery, { ...nothing, summary: `mail cannot be delivered: ${reason}` });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.hosts, []);
    const why = await domain({ 'example.test/MX': { status: 'bogus', why: 'RRSIG expired' } });
    assert.match(why.report.reasons[0]!, /^example\.test\/MX is bogus \(RRSIG expired\)/);
  });

  test('MX that cannot be resolved: indeterminate, not dnssec-failure', async () => {
    const { report: r } = await domain({
      'example.test/MX': { status: 'indeterminate', rcode: 'SERVFAIL' },
    });
    assert.equal(r.verdict, 'indeterminate');
    assert.deepEqual(r.reasons, ['example.test/MX could not be resolved: no answer']);
    const why = await domain({
      'example.test/MX': { status: 'indeterminate', rcode: 'SERVFAIL', why: 'timed out' },
    });
    assert.deepEqual(why.report.reasons, ['example.test/MX could not be resolved: timed out']);
    // the DNS list a user reads (--json) says why the lookup failed, next to its status
    assert.deepEqual(
      why.report.dns.map((e) => [e.name, e.type, e.status, e.why]),
      [['example.test', 'MX', 'indeterminate', 'timed out']],
    );
  });

  test('NXDOMAIN: failed; null MX: no-dane, with the reasons a user reads', async () => {
    const nx = await domain({});
    assert.equal(nx.report.verdict, 'failed');
    assert.deepEqual(nx.report.reasons, ['example.test does not exist (NXDOMAIN)']);
    assert.deepEqual(nx.report.mx, { status: 'secure', implicit: false, records: [] });
    const nullMx = await domain({
      'example.test/MX': { records: [{ preference: 0, exchange: '.' }] },
    });
    assert.equal(nullMx.report.verdict, 'no-dane');
    assert.deepEqual(nullMx.report.reasons, [
      'example.test publishes a null MX (RFC 7505): it accepts no mail',
    ]);
  });
});

describe('address records (RFC 7672 §2.2.2)', { timeout: SUITE_TIMEOUT }, () => {
  test('bogus A: dnssec-failure for the host, no probe (§2.1.1)', async () => {
    const { report: r, seen } = await domain({
      ...secureHost(),
      'mx1.example.test/A': { status: 'bogus', why: 'no valid RRSIG' },
    });
    const h = r.hosts[0]!;
    assert.equal(h.verdict, 'dnssec-failure');
    assert.deepEqual(h.reasons, [
      'mx1.example.test/A is bogus (no valid RRSIG): a DANE sender will not deliver to this host (RFC 7672 §2.1.1)',
    ]);
    assert.deepEqual(h.addresses, []);
    assert.equal(seen.length, 0);
    const bare = await domain({ ...secureHost(), 'mx1.example.test/AAAA': { status: 'bogus' } });
    assert.deepEqual(bare.report.hosts[0]!.reasons, [
      'mx1.example.test/AAAA is bogus (validation failed): a DANE sender will not deliver to this host (RFC 7672 §2.1.1)',
    ]);
  });

  test('A that cannot be resolved: indeterminate', async () => {
    const { report: r } = await domain({
      ...secureHost(),
      'mx1.example.test/A': { status: 'indeterminate', rcode: 'SERVFAIL', why: 'timed out' },
    });
    assert.equal(r.hosts[0]!.verdict, 'indeterminate');
    assert.deepEqual(r.hosts[0]!.reasons, ['mx1.example.test/A could not be resolved: timed out']);
    const bare = await domain({
      ...secureHost(),
      'mx1.example.test/A': { status: 'indeterminate', rcode: 'SERVFAIL' },
    });
    assert.deepEqual(bare.report.hosts[0]!.reasons, [
      'mx1.example.test/A could not be resolved: no answer',
    ]);
  });

  test('no A and no AAAA: unreachable, and no TLSA lookup', async () => {
    const { report: r, calls } = await domain({
      'example.test/MX': MX,
      'mx1.example.test/A': {},
      'mx1.example.test/AAAA': {},
      '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    });
    assert.equal(r.hosts[0]!.verdict, 'unreachable');
    assert.deepEqual(r.hosts[0]!.reasons, ['mx1.example.test has no A or AAAA records']);
    assert.ok(!calls.some((c) => c.endsWith('/TLSA')), calls.join(' '));
  });

  test('insecure addresses without an alias: no CNAME lookup, no TLSA lookup, the reason', async () => {
    const {
      report: r,
      calls,
      seen,
    } = await domain({
      ...secureHost(),
      'mx1.example.test/A': { records: ['192.0.2.1'], status: 'insecure' },
      '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    });
    assert.deepEqual(calls, ['example.test/MX', 'mx1.example.test/A', 'mx1.example.test/AAAA']);
    assert.deepEqual(r.hosts[0]!.reasons, [
      "mx1.example.test's address records are insecure: no TLSA lookup, no DANE (RFC 7672 §2.2.2)",
    ]);
    // no TLSA base domain to verify against: no SNI either
    assert.equal(seen[0]!.servername, 'mx1.example.test');
    assert.equal(r.hosts[0]!.addresses[0]!.verdict, 'no-dane');
    assert.deepEqual(r.hosts[0]!.addresses[0]!.reasons, []);
    assert.equal(r.hosts[0]!.addresses[0]!.matched, null);
  });

  test('a secure alias: the CNAME is not asked, TLSA at the target first (§2.2.3)', async () => {
    const { report: r, calls } = await domain({
      'example.test/MX': MX,
      'mx1.example.test/CNAME': { cname: 'mx.other.test' },
      'mx.other.test/A': { records: ['192.0.2.7'] },
      '_25._tcp.mx.other.test/TLSA': tlsa(ee),
    });
    assert.equal(r.hosts[0]!.verdict, 'verified');
    assert.deepEqual(calls, [
      'example.test/MX',
      'mx1.example.test/A',
      'mx1.example.test/AAAA',
      '_25._tcp.mx.other.test/TLSA',
    ]);
  });

  test('a signed alias whose target is insecure for A only: the CNAME decides, original name only', async () => {
    // A is insecure (through the chain), AAAA securely absent at the target: one insecure
    // answer through a chain is enough to ask the CNAME (RFC 7672 §2.2.3).
    const { report: r, calls } = await domain({
      'example.test/MX': MX,
      'mx1.example.test/CNAME': { cname: 'mx.other.test' },
      'mx.other.test/A': { records: ['192.0.2.7'], status: 'insecure' },
      '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    });
    assert.ok(calls.includes('mx1.example.test/CNAME'), calls.join(' '));
    assert.equal(r.hosts[0]!.tlsaBase, 'mx1.example.test');
    assert.equal(r.hosts[0]!.verdict, 'verified');
    assert.equal(r.hosts[0]!.reasons.length, 1);
    assert.match(r.hosts[0]!.reasons[0]!, /secure alias/);
  });

  test('insecure through a chain but the other lookup failed: no CNAME lookup, indeterminate', async () => {
    const { report: r, calls } = await domain({
      'example.test/MX': MX,
      'mx1.example.test/CNAME': { cname: 'mx.other.test' },
      'mx.other.test/A': { records: ['192.0.2.7'], status: 'insecure' },
      'mx.other.test/AAAA': { status: 'indeterminate', rcode: 'SERVFAIL' },
    });
    assert.ok(!calls.includes('mx1.example.test/CNAME'), calls.join(' '));
    assert.equal(r.hosts[0]!.verdict, 'indeterminate');
  });
});

describe('TLSA RRset (RFC 7672 §2.2.3)', { timeout: SUITE_TIMEOUT }, () => {
  const alias = (): Record<string, StaticEntry> => ({
    'example.test/MX': MX,
    'mx1.example.test/CNAME': { cname: 'mx.other.test' },
    'mx.other.test/A': { records: ['192.0.2.7'] },
  });

  test('secure NODATA at both names: no DANE, and the reason names the original owner', async () => {
    const { report: r, calls } = await domain(alias());
    assert.ok(calls.includes('_25._tcp.mx.other.test/TLSA'), calls.join(' '));
    assert.ok(calls.includes('_25._tcp.mx1.example.test/TLSA'), calls.join(' '));
    assert.equal(r.hosts[0]!.verdict, 'no-dane');
    assert.deepEqual(r.hosts[0]!.reasons, [
      'no TLSA records at _25._tcp.mx1.example.test: DANE does not apply',
    ]);
  });

  test('insecure TLSA at the expanded name: the original is not tried, DANE does not apply', async () => {
    const { report: r, calls } = await domain({
      ...alias(),
      // insecure NODATA: nothing usable here, and the answer is not proven, so no fallback
      '_25._tcp.mx.other.test/TLSA': { status: 'insecure' },
      '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    });
    assert.ok(!calls.includes('_25._tcp.mx1.example.test/TLSA'), calls.join(' '));
    assert.equal(r.hosts[0]!.tlsaBase, 'mx.other.test');
    assert.equal(r.hosts[0]!.verdict, 'no-dane');
    assert.deepEqual(r.hosts[0]!.reasons, [
      'TLSA RRset at _25._tcp.mx.other.test is insecure: DANE does not apply',
    ]);
    assert.equal(r.hosts[0]!.addresses[0]!.matched, null);
  });

  test('records at the expanded name that cannot be decoded are present: the original is not tried', async () => {
    const { report: r, calls } = await domain({
      ...alias(),
      '_25._tcp.mx.other.test/TLSA': { records: [], skipped: 1 },
      '_25._tcp.mx1.example.test/TLSA': tlsa(ee),
    });
    assert.ok(!calls.includes('_25._tcp.mx1.example.test/TLSA'), calls.join(' '));
    assert.equal(r.hosts[0]!.tlsaBase, 'mx.other.test');
  });

  test('TLSA that cannot be resolved: indeterminate, with the resolver reason, rcode or none', async () => {
    const tail = 'a DANE sender treats the host as unreachable (RFC 7672 §2.2.3)';
    const why = await domain({
      ...secureHost(),
      '_25._tcp.mx1.example.test/TLSA': {
        status: 'indeterminate',
        rcode: 'SERVFAIL',
        why: 'timed out',
      },
    });
    assert.equal(why.report.hosts[0]!.verdict, 'indeterminate');
    assert.deepEqual(why.report.hosts[0]!.reasons, [
      `TLSA lookup at _25._tcp.mx1.example.test is indeterminate (timed out): ${tail}`,
    ]);
    const rcode = await domain({
      ...secureHost(),
      '_25._tcp.mx1.example.test/TLSA': { status: 'indeterminate', rcode: 'SERVFAIL' },
    });
    assert.deepEqual(rcode.report.hosts[0]!.reasons, [
      `TLSA lookup at _25._tcp.mx1.example.test is indeterminate (SERVFAIL): ${tail}`,
    ]);
    const none = await domain({
      ...secureHost(),
      '_25._tcp.mx1.example.test/TLSA': { status: 'bogus', rcode: null },
    });
    assert.equal(none.report.hosts[0]!.verdict, 'dnssec-failure');
    assert.deepEqual(none.report.hosts[0]!.reasons, [
      `TLSA lookup at _25._tcp.mx1.example.test is bogus (no answer): ${tail}`,
    ]);
  });
});

describe('each address (RFC 7672 §2.2, §3.1)', { timeout: SUITE_TIMEOUT }, () => {
  test('TLS refused with no TLSA records: no-dane (opportunistic TLS), not unreachable', async () => {
    const { report: r } = await domain(secureHost(), { probe: refused });
    const a = r.hosts[0]!.addresses[0]!;
    assert.equal(a.verdict, 'no-dane');
    assert.deepEqual(a.reasons, ['refused STARTTLS: 454']);
    assert.deepEqual(a.inUse, []);
    assert.equal(a.tls, null);
    const gone = await domain(secureHost(), { probe: down });
    assert.equal(gone.report.hosts[0]!.addresses[0]!.verdict, 'unreachable');
  });

  test('a chain that does not parse: failed with TLSA records, no-dane without; the reason names it', async () => {
    const good = parseCertificates(Buffer.from(pki.leaf.certPem), 'c')[0]!.der;
    const bad = presents([good, Buffer.from('not a certificate')]);
    const withTlsa = await domain(
      { ...secureHost(), '_25._tcp.mx1.example.test/TLSA': tlsa(ee) },
      { probe: bad },
    );
    const a = withTlsa.report.hosts[0]!.addresses[0]!;
    assert.equal(a.verdict, 'failed');
    assert.equal(a.reasons.length, 1);
    assert.match(a.reasons[0]!, /^192\.0\.2\.1 certificate 2: not a valid X\.509 certificate/);
    const without = await domain(secureHost(), { probe: bad });
    assert.equal(without.report.hosts[0]!.addresses[0]!.verdict, 'no-dane');
  });

  test('the TLS facts say no SNI when the server saw none', async () => {
    const { report: r } = await domain(secureHost(), { probe: presents(undefined, null) });
    assert.deepEqual(r.hosts[0]!.addresses[0]!.tls, {
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      servername: null,
    });
  });

  test('port 25 is SMTP: PKIX usages are unusable even with a trusted CA (RFC 7672 §3.1.3)', async () => {
    const { report: r } = await domain(
      { ...secureHost(), '_25._tcp.mx1.example.test/TLSA': tlsa(pkixEe) },
      { trustStore: [root] },
    );
    assert.equal(r.verdict, 'unusable');
    assert.deepEqual(r.service, { port: 25, starttls: 'smtp', mode: 'smtp' });
  });
});

describe('check --host', { timeout: SUITE_TIMEOUT }, () => {
  test('an address literal: no DNS, no TLSA, TLS shown (RFC 7672 §2.2)', async () => {
    const { report: r, calls, seen } = await service({}, '192.0.2.9', { port: 443 });
    assert.deepEqual(calls, []);
    assert.deepEqual(r.reasons, []);
    const h = r.hosts[0]!;
    assert.deepEqual(h.reasons, ['an address literal has no TLSA records (RFC 7672 §2.2)']);
    assert.equal(h.verdict, 'no-dane');
    assert.deepEqual(
      h.addresses.map((a) => [a.address, a.family, a.status, a.verdict]),
      [['192.0.2.9', 4, 'insecure', 'no-dane']],
    );
    assert.equal(h.addresses[0]!.chain.length, 2);
    assert.equal(seen[0]!.servername, undefined);
    assert.deepEqual(r.service, { port: 443, starttls: 'none', mode: 'generic' });
    const v6 = await service({}, '2001:db8::9', { port: 443, probe: down });
    assert.deepEqual(
      v6.report.hosts[0]!.addresses.map((a) => [a.address, a.family, a.verdict]),
      [['2001:db8::9', 6, 'unreachable']],
    );
    assert.equal(v6.report.verdict, 'unreachable');
  });

  test('a host typed with its final dot is the same host (RFC 1034 §3.1: an absolute name)', async () => {
    const { report: r, calls } = await service(
      { 'mx1.example.test/A': { records: ['192.0.2.1'] }, 'mx1.example.test/AAAA': {} },
      'mx1.example.test.',
      { port: 443 },
    );
    assert.equal(r.hosts[0]!.name, 'mx1.example.test');
    assert.deepEqual(calls.slice(0, 2), ['mx1.example.test/A', 'mx1.example.test/AAAA']);
    assert.deepEqual(
      r.hosts[0]!.addresses.map((a) => a.address),
      ['192.0.2.1'],
    );
  });
});
