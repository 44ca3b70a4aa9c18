import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { daneGate } from './dane-gate.js';
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
