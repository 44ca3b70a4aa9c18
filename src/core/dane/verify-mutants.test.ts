/**
 * Issue 12 (mutation testing): the reason lines of verifyDane that verify.test.ts matches only
 * in part, pinned exactly (they are what `tlsa verify` and `check` print), and the record
 * ranking. Named by Stryker's survivors (docs/mutation.md).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { issue, makePki, tempDir, type Issued } from '../../../test/support/pki.js';
import { generateTlsa, type TlsaRecord } from '../tlsa/index.js';
import { certFromDer, type Cert } from '../x509/index.js';
import { verifyDane, type DaneInput, type DaneResult } from './verify.js';

// --- verifyDane: the reason lines a user reads (tlsa verify, check), pinned exactly ----------

describe('verifyDane: each way to verify or fail says so exactly', () => {
  let leaf: Cert, int: Cert, root: Cert, wild: Cert, two: Cert, cnOnly: Cert, reversed: Cert;
  const NOW = new Date();
  before(() => {
    const dir = tempDir();
    const a = makePki(dir, { names: ['mail.example.test'] });
    const c = (i: Issued) => certFromDer(i.der);
    const under = (name: string, o: Parameters<typeof issue>[2]) =>
      c(issue(dir, `dm-${name}`, o, a.intermediate));
    leaf = c(a.leaf);
    int = c(a.intermediate);
    root = c(a.root);
    wild = under('wild', { cn: '*.example.test', dnsNames: ['*.example.test'] });
    two = under('two', { cn: 'x', dnsNames: ['a.example.test', 'b.example.test'] });
    cnOnly = under('cnonly', { cn: 'other.example.test', dnsNames: [] });
    reversed = under('rev', { cn: 'mail.example.test', notBeforeDays: 10, notAfterDays: 5 });
  });
  const g = generateTlsa;
  const run = (records: TlsaRecord[], chain: Cert[], o: Partial<DaneInput> = {}): DaneResult =>
    verifyDane({ records, chain, names: ['mail.example.test'], time: NOW, mode: 'smtp', ...o });
  /** `u s m data` as reason lines start: 32-byte digests whole, longer data cut at 8 octets */
  const head = (r: TlsaRecord) => {
    const hex = r.data.toString('hex');
    const d = hex.length <= 64 ? hex : `${hex.slice(0, 16)}…(${r.data.length} bytes)`;
    return `${r.usage} ${r.selector} ${r.mtype} ${d}`;
  };
  const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');
  const EE = 'DANE-EE(3) checks no names or dates (RFC 7671 §5.1)';

  test('DANE-EE(3): key or certificate of the leaf; a reversed validity is noted, not held against it', () => {
    const k = g(leaf, 3, 1, 1);
    const r = run([k], [leaf, int]);
    assert.deepEqual(r.matched, { record: k, depth: 0 });
    assert.deepEqual(r.reasons, [
      `${head(k)} matches the leaf's public key (SPKI) at depth 0 (CN=mail.example.test); ${EE}`,
    ]);
    const cert = g(leaf, 3, 0, 1);
    assert.deepEqual(run([cert], [leaf, int]).reasons, [
      `${head(cert)} matches the leaf's certificate at depth 0 (CN=mail.example.test); ${EE}`,
    ]);
    const rk = g(reversed, 3, 1, 1);
    assert.deepEqual(run([rk], [reversed, int]).reasons, [
      `${head(rk)} matches the leaf's public key (SPKI) at depth 0 (CN=mail.example.test); ${EE}; ` +
        `its notAfter ${iso(reversed.notAfter)} is before its notBefore ${iso(reversed.notBefore)}, which DANE-EE ignores`,
    ]);
  });

  test('DANE-TA(2): valid from notBefore through notAfter, both instants included (RFC 5280 §4.1.2.5)', () => {
    const t = g(int, 2, 1, 1);
    for (const time of [leaf.notBefore, leaf.notAfter]) {
      const r = run([t], [leaf, int], { time });
      assert.equal(r.verdict, 'verified', `at ${iso(time)}: ${r.reasons.join('; ')}`);
    }
    // RFC 7672 §3.2.2: under DANE-TA(2) the leaf must match a reference identifier; none given is
    // said as such, not as "no match"
    const none = run([t], [leaf, int], { names: [] });
    assert.equal(none.verdict, 'failed');
    assert.match(none.reasons.join('\n'), /no reference name was given to check the leaf against/);
    const after = new Date(leaf.notAfter.getTime() + 1000);
    assert.match(run([t], [leaf, int], { time: after }).reasons.join('\n'), /expired on /);
  });

  test('DANE-TA(2): a validity period that ends before it starts is never valid (RFC 5280 §4.1.2.5)', () => {
    const t = g(int, 2, 1, 1);
    const r = run([t], [reversed, int]);
    assert.equal(r.verdict, 'failed');
    assert.deepEqual(
      r.records.map((x) => [x.matched, x.depth]),
      [[false, 1]],
    );
    assert.deepEqual(r.reasons, [
      `${head(t)}: matches the trust anchor at depth 1 (CN=Test Intermediate), but certificate at depth 0 ` +
        `(CN=mail.example.test) is never valid: notAfter ${iso(reversed.notAfter)} is before notBefore ${iso(reversed.notBefore)}`,
    ]);
  });

  test('DANE-TA(2) names: the wildcard that matched is named; several names, or a CN, in the failure', () => {
    const t = g(int, 2, 1, 1);
    assert.deepEqual(run([t], [wild, int]).reasons, [
      `${head(t)} matches the trust anchor at depth 1 (CN=Test Intermediate); the chain, the dates below it and ` +
        'the name mail.example.test (as *.example.test) check out (RFC 7671 §5.2)',
    ]);
    assert.deepEqual(run([t], [two, int]).reasons, [
      `${head(t)}: matches the trust anchor at depth 1 (CN=Test Intermediate), but the leaf's names ` +
        'DNS:a.example.test, DNS:b.example.test do not match any of mail.example.test',
    ]);
    // reference names: normalized, each once, patterns dropped (RFC 6125 §6.4.1)
    const names = ['MAIL.example.test.', 'mail.example.test', '*.bad', 'mx.example.test'];
    assert.deepEqual(run([t], [cnOnly, int], { names }).reasons, [
      `${head(t)}: matches the trust anchor at depth 1 (CN=Test Intermediate), but the leaf's name ` +
        'CN:other.example.test does not match any of mail.example.test, mx.example.test',
    ]);
  });

  test('DANE-TA(2) anchors: sent, or only in DNS as a certificate or a key (RFC 7671 §5.2.2, §5.2.3)', () => {
    const sent = g(root, 2, 1, 1);
    assert.deepEqual(run([sent], [leaf, int, root]).reasons, [
      `${head(sent)} matches the trust anchor at depth 2 (CN=Test Root CA); the chain, the dates below it and ` +
        'the name mail.example.test check out (RFC 7671 §5.2)',
    ]);
    const cert = g(root, 2, 0, 0);
    const rc = run([cert], [leaf, int]);
    assert.deepEqual(rc.matched, { record: cert, depth: 2 });
    assert.deepEqual(rc.reasons, [
      `${head(cert)} the trust anchor certificate in the record (not sent by the server) issued the certificate at ` +
        'depth 1; it counts at depth 2 (RFC 7671 §5.2.2); the chain, the dates and the name mail.example.test check out',
    ]);
    const key = g(root, 2, 1, 0);
    const rk = run([key], [leaf, int]);
    assert.deepEqual(rk.matched, { record: key, depth: 1 });
    assert.deepEqual(rk.reasons, [
      `${head(key)} the trust anchor key in the record signed the certificate at depth 1 (CN=Test Intermediate) ` +
        '(RFC 7671 §5.2.3); the chain, the dates and the name mail.example.test check out',
    ]);
  });

  test('PKIX-EE(1) and PKIX-TA(0) against a trust store (RFC 6698 §2.1.1), and without one', () => {
    const o = { mode: 'generic' as const, trustStore: [root] };
    const ee = g(leaf, 1, 1, 1);
    assert.deepEqual(run([ee], [leaf, int], o).reasons, [
      `${head(ee)} matches the leaf at depth 0 (CN=mail.example.test), which validates to the trusted ` +
        'CN=Test Root CA; dates and the name mail.example.test check out (RFC 6698 §2.1.1)',
    ]);
    const ta = g(int, 0, 1, 1);
    assert.deepEqual(run([ta], [leaf, int], o).reasons, [
      `${head(ta)} matches the CA certificate at depth 1 (CN=Test Intermediate) on the path to the trusted ` +
        'CN=Test Root CA; dates and the name mail.example.test check out (RFC 6698 §2.1.1)',
    ]);
    const none = run([ta, ee], [leaf, int], { mode: 'generic' });
    assert.equal(none.verdict, 'unusable');
    assert.deepEqual(none.reasons, [
      'every TLSA record is unusable: a client falls back to its ordinary certificate checks (RFC 6698 §4.1)',
    ]);
    assert.deepEqual(
      none.records.map((x) => x.reason),
      [
        'PKIX-TA(0) needs PKIX validation and no trust store was given',
        'PKIX-EE(1) needs PKIX validation and no trust store was given',
      ],
    );
  });

  test('several records match: DANE-TA before PKIX, PKIX-EE before PKIX-TA, whatever the order', () => {
    const o = { mode: 'generic' as const, trustStore: [root] };
    const pta = g(int, 0, 1, 1);
    const pee = g(leaf, 1, 1, 1);
    const dta = g(int, 2, 1, 1);
    assert.deepEqual(run([pta, pee, dta], [leaf, int], o).matched, { record: dta, depth: 1 });
    assert.deepEqual(run([pta, pee], [leaf, int], o).matched, { record: pee, depth: 0 });
    // the same usage twice: the first in the input
    const ee1 = g(leaf, 3, 0, 1);
    const ee2 = g(leaf, 3, 1, 1);
    assert.deepEqual(run([ee1, ee2], [leaf, int]).matched, { record: ee1, depth: 0 });
    assert.deepEqual(run([ee2, ee1], [leaf, int]).matched, { record: ee2, depth: 0 });
  });
});
