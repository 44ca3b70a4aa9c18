/**
 * Issue 12: the RFC 7672 rules `check` applies through io/dns/dane-gate.ts, each pinned by a case
 * where breaking the rule changes the verdict (the other check tests pass either way).
 *
 * - §3.2.2: the next-hop domain is a reference identifier only when the MX RRset is secure.
 *   Only DANE-TA(2) checks names, so the cases use `2 1 1` of the intermediate and a leaf that
 *   names the domain alone.
 * - §2.2.3: whether the CNAME chain is secure decides the TLSA base domain: secure end to end,
 *   the expanded name; a signed alias into an unsigned zone, the original name only; an
 *   unsigned alias, no DANE at all.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { parseTlsa } from '../core/tlsa/index.js';
import { parseCertificates } from '../core/x509/index.js';
import { StaticResolver, type StaticEntry } from '../io/dns/index.js';
import type { ProbeOptions } from '../io/probe/index.js';
import { makePki, tempDir, type Pki } from '../../test/support/pki.js';
import { checkDomain } from './check.js';

let domainOnly: Pki;
let hostPki: Pki;
const spki = (pem: string) =>
  createHash('sha256')
    .update(parseCertificates(Buffer.from(pem), 'c')[0]!.spki)
    .digest('hex');

before(() => {
  const dir = tempDir();
  // the leaf names the next-hop domain only, not the MX host nor any TLSA base domain
  domainOnly = makePki(dir, { names: ['example.test'], prefix: 'd-' });
  hostPki = makePki(dir, { names: ['mx1.example.test'], prefix: 'h-' });
});

async function check(data: Record<string, StaticEntry>, pki: Pki) {
  const seen: ProbeOptions[] = [];
  const resolver = new StaticResolver(data);
  const report = await checkDomain(
    'example.test',
    {
      resolver,
      probe: async (o: ProbeOptions) => {
        seen.push(o);
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
      now: () => new Date(),
      validating: { validating: true, summary: 'validates' },
    },
    { port: 25, starttls: 'smtp', days: 14, timeoutMs: 1000 },
  );
  return { report, seen, calls: resolver.calls };
}

const ta = (p: Pki) => ({ records: [parseTlsa(`2 1 1 ${spki(p.intermediate.certPem)}`)] });

describe('RFC 7672 §3.2.2: the next-hop domain as a reference identifier', () => {
  const data = (mx: 'secure' | 'insecure'): Record<string, StaticEntry> => ({
    'example.test/MX': {
      records: [{ preference: 10, exchange: 'mx1.example.test' }],
      status: mx,
    },
    'mx1.example.test/A': { records: ['192.0.2.1'] },
    'mx1.example.test/AAAA': {},
    '_25._tcp.mx1.example.test/TLSA': ta(domainOnly),
  });

  test('secure MX: a DANE-TA leaf that names only the domain verifies', async () => {
    const { report, calls } = await check(data('secure'), domainOnly);
    assert.equal(report.hosts[0]!.verdict, 'verified', JSON.stringify(report.hosts[0]!.reasons));
    assert.ok(!calls.some((c) => c.endsWith('/CNAME')), calls.join(' '));
  });

  test('insecure MX: the same leaf fails (its only name is no longer a reference identifier)', async () => {
    const { report } = await check(data('insecure'), domainOnly);
    const host = report.hosts[0]!;
    assert.equal(host.verdict, 'failed');
    assert.match(
      host.addresses[0]!.reasons.join('\n'),
      /does not match any of mx1\.example\.test$/m,
    );
    assert.ok(
      report.reasons.some((r) => /next-hop domain is not a reference identifier/.test(r)),
      'report.reasons.some((r) => /next-hop domain is not a reference iden...',
    );
  });
});

describe('RFC 7672 §2.2.3: CNAME chain security and the TLSA base domain', () => {
  // mx1.example.test CNAME mx.other.test: both ends publish TLSA records that verify, so only
  // the base domain chosen (and the SNI sent) shows which rule was applied.
  const data = (alias: 'secure' | 'insecure', target: 'secure' | 'insecure') => ({
    'example.test/MX': { records: [{ preference: 10, exchange: 'mx1.example.test' }] },
    'mx1.example.test/CNAME': { cname: 'mx.other.test', status: alias },
    'mx.other.test/A': { records: ['192.0.2.7'], status: target },
    'mx.other.test/AAAA': { status: target },
    // as a resolver without the other zone's proof could be fooled into serving it
    '_25._tcp.mx.other.test/TLSA': ta(hostPki),
    '_25._tcp.mx1.example.test/TLSA': ta(hostPki),
  });

  test('secure end to end: the expanded name is the base domain, and the SNI', async () => {
    const { report, seen, calls } = await check(data('secure', 'secure'), hostPki);
    assert.equal(report.hosts[0]!.tlsaBase, 'mx.other.test');
    // the alias's own status is asked only when the chain came back insecure
    assert.ok(!calls.some((c) => c.endsWith('/CNAME')), calls.join(' '));
    assert.equal(seen[0]!.servername, 'mx.other.test');
  });

  test('signed alias into an unsigned zone: the original name only, never the expanded one', async () => {
    const { report, seen, calls } = await check(data('secure', 'insecure'), hostPki);
    const host = report.hosts[0]!;
    assert.equal(host.tlsaBase, 'mx1.example.test');
    assert.equal(host.verdict, 'verified', JSON.stringify(host.reasons));
    assert.equal(seen[0]!.servername, 'mx1.example.test');
    assert.ok(!calls.includes('_25._tcp.mx.other.test/TLSA'), calls.join(' '));
    assert.ok(
      host.reasons.some((r) => /secure alias/.test(r)),
      'host.reasons.some((r) => /secure alias/.test(r))',
    );
  });

  test('unsigned alias: insecure host, no TLSA lookup at either name', async () => {
    const { report, calls } = await check(data('insecure', 'secure'), hostPki);
    assert.equal(report.hosts[0]!.verdict, 'no-dane');
    assert.ok(!calls.some((c) => c.endsWith('/TLSA')), calls.join(' '));
  });
});
