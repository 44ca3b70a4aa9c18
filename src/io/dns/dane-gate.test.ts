import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { daneGate, referenceNames } from './dane-gate.js';
import { StaticResolver } from './static-resolver.js';
import type { DnssecStatus } from './types.js';

const r = (type: string, status: DnssecStatus, records: unknown[] = [], skipped = 0) => ({
  name: 'mx.example.test',
  type: type as 'A',
  status,
  records,
  skipped,
});

describe('daneGate (RFC 7672 §2.1.1, §2.2)', () => {
  test('secure addresses, no TLSA yet: go and look up TLSA', () => {
    const g = daneGate({ addresses: [r('A', 'secure', ['192.0.2.1']), r('AAAA', 'secure')] });
    assert.equal(g.decision, 'dane');
    assert.equal(g.stage, 'address');
  });

  test('any insecure address RRset: no TLSA lookup, no DANE', () => {
    const { lookup, ...g } = daneGate({
      addresses: [r('A', 'secure', ['192.0.2.1']), r('AAAA', 'insecure')],
    });
    assert.equal(lookup?.type, 'AAAA');
    assert.deepEqual(g, {
      decision: 'no-dane',
      stage: 'address',
      why: 'mx.example.test/AAAA is insecure: TLSA records are not looked up, DANE does not apply',
    });
  });

  test('bogus or indeterminate addresses win over insecure: do not deliver', () => {
    for (const bad of ['bogus', 'indeterminate'] as const) {
      const g = daneGate({ addresses: [r('A', 'insecure'), r('AAAA', bad)] });
      assert.equal(g.decision, 'dnssec-failure');
      assert.equal(g.stage, 'address');
    }
  });

  test('a failed MX lookup stops everything; an insecure one does not (§2.2.1)', () => {
    const addresses = [r('A', 'secure', ['192.0.2.1'])];
    assert.equal(daneGate({ mx: r('MX', 'bogus'), addresses }).stage, 'mx');
    assert.equal(daneGate({ mx: r('MX', 'insecure'), addresses }).decision, 'dane');
  });

  test('TLSA outcomes', () => {
    const addresses = [r('A', 'secure', ['192.0.2.1'])];
    const tlsa = (t: ReturnType<typeof r>) => daneGate({ addresses, tlsa: t }).decision;
    assert.equal(tlsa(r('TLSA', 'secure', [{}])), 'dane');
    assert.equal(tlsa(r('TLSA', 'secure', [], 1)), 'dane', 'present but undecodable is not absent');
    assert.equal(tlsa(r('TLSA', 'secure')), 'no-dane');
    assert.equal(tlsa(r('TLSA', 'insecure', [{}])), 'no-dane');
    assert.equal(tlsa(r('TLSA', 'bogus', [{}])), 'dnssec-failure');
    assert.equal(tlsa(r('TLSA', 'indeterminate')), 'dnssec-failure');
  });

  test('no address lookups at all: no DANE', () => {
    assert.equal(daneGate({ addresses: [] }).decision, 'no-dane');
  });
});

describe('StaticResolver', () => {
  const res = new StaticResolver({
    'example.test/MX': { records: [{ preference: 10, exchange: 'mx.example.test' }] },
    'mx.example.test/CNAME': { cname: 'host.provider.test.' },
    'host.provider.test/A': { records: ['192.0.2.1'], ttl: 60 },
    'host.provider.test/AAAA': { status: 'insecure' },
    'weak.example.test/CNAME': { cname: 'host.provider.test', status: 'insecure' },
    '_25._tcp.host.provider.test/TLSA': { status: 'bogus', records: [] },
  });

  test('plain data, secure by default, NXDOMAIN for the rest', async () => {
    const mx = await res.lookup('Example.TEST.', 'MX');
    assert.equal(mx.status, 'secure');
    assert.equal(mx.rcode, 'NOERROR');
    assert.deepEqual(mx.records, [{ preference: 10, exchange: 'mx.example.test' }]);
    const none = await res.lookup('nothing.test', 'A');
    assert.equal(none.rcode, 'NXDOMAIN');
    assert.deepEqual(res.calls, ['Example.TEST/MX', 'nothing.test/A']);
  });

  test('CNAMEs followed; the chain status is its weakest link', async () => {
    const a = await res.lookup('mx.example.test', 'A');
    assert.deepEqual(a.cnameChain, ['host.provider.test']);
    assert.equal(a.canonicalName, 'host.provider.test');
    assert.deepEqual(a.records, ['192.0.2.1']);
    assert.equal(a.status, 'secure');
    assert.equal((await res.lookup('weak.example.test', 'A')).status, 'insecure');
    assert.equal((await res.lookup('mx.example.test', 'AAAA')).status, 'insecure');
    assert.deepEqual((await res.lookup('mx.example.test', 'CNAME')).records, [
      'host.provider.test',
    ]);
  });

  test('drives daneGate like the real resolver would', async () => {
    const addresses = [await res.lookup('mx.example.test', 'A')];
    const tlsa = await res.lookup('_25._tcp.host.provider.test', 'TLSA');
    assert.equal(daneGate({ addresses, tlsa }).decision, 'dnssec-failure');
  });
});

describe('daneGate: TLSA base domains (RFC 7672 §2.2.3) and reference names (§3.2.2)', () => {
  const via = (status: DnssecStatus, chain: string[]) => ({
    name: 'mx.example.test',
    type: 'A' as const,
    status,
    records: ['192.0.2.1'],
    skipped: 0,
    cnameChain: chain,
    canonicalName: chain.at(-1) ?? 'mx.example.test',
  });
  const alias = (status: DnssecStatus) => ({
    name: 'mx.example.test',
    type: 'CNAME' as const,
    status,
    records: ['host.provider.test'],
    skipped: 0,
  });

  test('no CNAME: the host name; a chain secure end to end: expanded first, then original', () => {
    assert.deepEqual(daneGate({ addresses: [via('secure', [])] }).bases, ['mx.example.test']);
    assert.deepEqual(daneGate({ addresses: [via('secure', ['host.provider.test'])] }).bases, [
      'host.provider.test',
      'mx.example.test',
    ]);
  });

  test('insecure through a chain: a secure first link gives the original name only; an insecure one, no DANE', () => {
    const addresses = [via('insecure', ['host.provider.test'])];
    const g = daneGate({ addresses, alias: alias('secure') });
    assert.equal(g.decision, 'dane');
    assert.deepEqual(g.bases, ['mx.example.test']);
    assert.equal(daneGate({ addresses, alias: alias('insecure') }).decision, 'no-dane');
    assert.equal(daneGate({ addresses }).decision, 'no-dane');
    assert.equal(
      daneGate({ addresses, alias: { ...alias('secure'), records: [] } }).decision,
      'no-dane',
    );
  });

  test('bogus is reported before indeterminate, whichever lookup came first', () => {
    const g = daneGate({ addresses: [r('A', 'indeterminate'), r('AAAA', 'bogus')] });
    assert.equal(g.lookup?.status, 'bogus');
  });

  test('referenceNames: the next-hop domain only under a secure MX RRset', () => {
    const o = { tlsaBase: 'b.test', host: 'mx.test' };
    assert.deepEqual(referenceNames({ ...o, nextHop: 'd.test', mxSecure: true }), [
      'b.test',
      'mx.test',
      'd.test',
    ]);
    assert.deepEqual(referenceNames({ ...o, nextHop: 'd.test', mxSecure: false }), [
      'b.test',
      'mx.test',
    ]);
    assert.deepEqual(referenceNames({ ...o, nextHop: null, mxSecure: true }), [
      'b.test',
      'mx.test',
    ]);
  });
});
