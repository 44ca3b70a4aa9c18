/**
 * Issue 12 (mutation testing): the edges of core/dane that verify.test.ts and names.test.ts
 * leave open, named by Stryker's survivors (docs/mutation.md). Pure and fast: it runs first in
 * the mutation targets, so most mutants die here before the openssl-backed files run.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { issue, makePki, tempDir, type Issued } from '../../../test/support/pki.js';
import { generateTlsa, type TlsaRecord } from '../tlsa/index.js';
import { certFromDer, type Cert } from '../x509/index.js';
import { presentedIds } from './identity.js';
import { isReferenceName, isSubdomainRef, matchName } from './names.js';
import { verifyDane, type DaneInput, type DaneResult } from './verify.js';

describe('reference names at the limits (RFC 1035 §2.3.4)', () => {
  const label = (c: string, n: number) => c.repeat(n);
  test('a 63-octet label is a label; 64 is not', () => {
    assert.equal(isReferenceName(`${label('a', 63)}.test`), true);
    assert.equal(isReferenceName(`${label('a', 64)}.test`), false);
  });
  test('a 253-octet name is a name; 254 is not (the final dot not counted)', () => {
    const n253 = [label('a', 63), label('b', 63), label('c', 63), label('d', 61)].join('.');
    assert.equal(n253.length, 253);
    assert.equal(isReferenceName(n253), true);
    assert.equal(isReferenceName(`${n253}.`), true);
    assert.equal(isReferenceName(`${n253}d`), false);
    assert.equal(isReferenceName(`.${n253.slice(1)}`), true, 'leading dot counted in 253');
  });
  test('white space of any kind inside a label is refused', () => {
    assert.equal(isReferenceName('a\tb.test'), false);
    assert.equal(isReferenceName('ab.te\u00a0st'), false);
    assert.equal(isReferenceName('ab.test'), true);
  });
  test('a leading dot means subdomains only with something after it', () => {
    assert.equal(isSubdomainRef('.a'), true);
    assert.equal(isSubdomainRef('.'), false);
    assert.equal(isSubdomainRef('a.'), false);
  });
});

describe('matchName: the labels a wildcard may stand for and sit above (OpenSSL valid_star)', () => {
  const table: [string, string, boolean, string][] = [
    ['*.a.test', 'mx.a.test', true, 'a one-letter label after the wildcard'],
    ['*.a-b.example.test', 'mx.a-b.example.test', true, 'an inner hyphen'],
    ['*.-a.example.test', 'mx.-a.example.test', false, 'a label starting with a hyphen'],
    ['*.9x.example.test', 'mx.9x.example.test', true, 'digits'],
    ['*.example.test', 'mx1.example.test', true, 'digits in the label it stands for'],
    ['*.example.test', '-mx.example.test', true, 'hyphens anywhere in the label it stands for'],
    ['*.example.test', 'm.example.test', true, 'a one-letter label it stands for'],
    ['*.example.test', 'm*x.example.test', false, 'a reference with a star is no name'],
    ['*.ex_ample.test', 'mx.ex_ample.test', false, 'an underscore label above it'],
    ['*.example.test', 'é.example.test', false, 'a label that is not letters-digits-hyphens'],
    ['a\0b.example.test', '.example.test', false, 'a NUL in the part a leading dot skips'],
    ['ab.example.test', '.example.test', true, 'the same without the NUL'],
  ];
  for (const [p, r, want, why] of table) {
    test(`${JSON.stringify(p)} vs ${JSON.stringify(r)}: ${want} (${why})`, () => {
      assert.equal(matchName(p, r), want);
    });
  }
});

// --- presentedIds on hand-built DER (RFC 5280 §4.1): only the structure it walks -------------

const len = (n: number): Buffer =>
  n < 0x80
    ? Buffer.from([n])
    : n < 0x100
      ? Buffer.from([0x81, n])
      : Buffer.from([0x82, n >> 8, n & 0xff]);
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const oid = (...bytes: number[]) => tlv(0x06, Buffer.from(bytes));
const CN = oid(0x55, 0x04, 0x03);
const O = oid(0x55, 0x04, 0x0a);
const SAN = oid(0x55, 0x1d, 0x11);
const KU = oid(0x55, 0x1d, 0x0f);
const str = (tag: number, b: Buffer | string) => tlv(tag, Buffer.isBuffer(b) ? b : Buffer.from(b));
const atv = (type: Buffer, value: Buffer) => tlv(0x30, type, value);
const rdn = (...atvs: Buffer[]) => tlv(0x31, ...atvs);
const ext = (id: Buffer, value: Buffer, critical = false) =>
  tlv(0x30, id, ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
const gnames = (...names: Buffer[]) => tlv(0x30, ...names);

function cert(o: { v1?: boolean; subject: Buffer; exts?: Buffer[]; after?: Buffer[] }): Cert {
  const tbs = tlv(
    0x30,
    ...(o.v1 ? [] : [tlv(0xa0, tlv(0x02, Buffer.from([2])))]),
    tlv(0x02, Buffer.from([1])), // serial
    tlv(0x30, oid(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02)), // signature
    tlv(0x30), // issuer
    tlv(0x30), // validity
    o.subject,
    tlv(0x30), // spki
    ...(o.after ?? []),
    ...(o.exts ? [tlv(0xa3, tlv(0x30, ...o.exts))] : []),
  );
  const der = tlv(0x30, tbs, tlv(0x30), tlv(0x03, Buffer.from([0])));
  return { der } as unknown as Cert;
}

describe('presentedIds: the subject CNs and dNSName SANs as encoded (RFC 5280 §4.1.2.6, §4.2.1.6)', () => {
  test('CN in UTF8String, BMPString (UTF-16BE), T61String (read as Latin-1); other attributes ignored', () => {
    const subject = tlv(
      0x30,
      rdn(atv(O, str(0x0c, 'Example Org'))),
      rdn(atv(CN, str(0x0c, 'mx.example.test'))),
      rdn(atv(CN, str(0x1e, Buffer.from('\u0000b\u0000m\u0000p', 'latin1')))),
      rdn(atv(CN, str(0x14, Buffer.from([0x54, 0xeb, 0x73, 0x74])))),
      rdn(atv(CN, str(0x1e, Buffer.from([0x00, 0x61, 0x00])))), // odd length: no UTF-16
      rdn(atv(O, str(0x0c, 'x')), atv(CN, str(0x13, 'multi.example.test'))), // multi-valued RDN
    );
    assert.deepEqual(presentedIds(cert({ subject })), {
      dns: [],
      cn: ['mx.example.test', 'bmp', 'T\u00ebst', '', 'multi.example.test'],
    });
  });

  test('a v1 certificate (no version field) still has its subject read', () => {
    const subject = tlv(0x30, rdn(atv(CN, str(0x0c, 'v1.example.test'))));
    assert.deepEqual(presentedIds(cert({ v1: true, subject })), {
      dns: [],
      cn: ['v1.example.test'],
    });
  });

  test('dNSNames of the SAN extension only, in order, after other extensions, critical or not', () => {
    const subject = tlv(0x30, rdn(atv(CN, str(0x0c, 'cn.example.test'))));
    const exts = [
      ext(KU, tlv(0x03, Buffer.from([0x07, 0x80])), true),
      ext(
        SAN,
        gnames(
          str(0x82, 'a.example.test'),
          str(0x81, 'postmaster@example.test'),
          str(0x87, Buffer.from([192, 0, 2, 1])),
          str(0x82, 'b.example.test'),
        ),
        true,
      ),
    ];
    assert.deepEqual(presentedIds(cert({ subject, exts })), {
      dns: ['a.example.test', 'b.example.test'],
      cn: ['cn.example.test'],
    });
    // the same without the critical flag, and with an issuerUniqueID [1] before the extensions
    const plain = [ext(SAN, gnames(str(0x82, 'c.example.test')))];
    const uid = tlv(0x81, Buffer.from([0, 1]));
    assert.deepEqual(presentedIds(cert({ subject, exts: plain, after: [uid] })).dns, [
      'c.example.test',
    ]);
  });

  test('a SAN whose value is no OCTET STRING, or whose names overrun it, gives no names', () => {
    const subject = tlv(0x30);
    const notOctets = tlv(0x30, SAN, tlv(0x05, gnames(str(0x82, 'x.example.test'))));
    assert.deepEqual(presentedIds(cert({ subject, exts: [notOctets] })), { dns: [], cn: [] });
    // a GeneralNames SEQUENCE claiming one more byte than the OCTET STRING holds
    const names = gnames(str(0x82, 'y.example.test'));
    const overrun = Buffer.from(names);
    overrun[1]! += 1;
    const bad = tlv(0x30, SAN, tlv(0x04, overrun, Buffer.alloc(0)));
    assert.deepEqual(presentedIds(cert({ subject, exts: [bad] })).dns, []);
  });

  test('bytes that are no certificate give no identifiers, never an exception', () => {
    for (const der of [
      Buffer.alloc(0),
      Buffer.from([0x30, 0x05, 0x00]),
      Buffer.from([0x30, 0x00]),
    ]) {
      assert.deepEqual(presentedIds({ der } as unknown as Cert), { dns: [], cn: [] });
    }
  });
});

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
