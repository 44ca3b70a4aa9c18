/**
 * The verifier against a table of cases derived from RFC 7671 §5 and RFC 7672 §3, on
 * certificates made with openssl once per run. Where the RFCs leave a choice, the expected
 * verdict and depth are what OpenSSL 3's DANE code (Postfix's engine) reports; see verify.ts.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { issue, makePki, tempDir, type Issued } from '../../../test/support/pki.js';
import { generateTlsa, type TlsaRecord } from '../tlsa/index.js';
import { certFromDer, type Cert } from '../x509/index.js';
import { verifyDane, type DaneInput, type DaneResult } from './verify.js';

const NOW = new Date();
const DAY = 86400_000;

const c = (i: Issued): Cert => certFromDer(i.der);
const rec = (cert: Cert, u: number, s: number, m: number): TlsaRecord =>
  generateTlsa(cert, u, s, m);
const raw = (u: number, s: number, m: number, hex: string): TlsaRecord => ({
  usage: u,
  selector: s,
  mtype: m,
  data: Buffer.from(hex, 'hex'),
});

function run(
  records: TlsaRecord[],
  chain: Cert[],
  o: Partial<Omit<DaneInput, 'records' | 'chain'>> = {},
): DaneResult {
  return verifyDane({
    records,
    chain,
    names: o.names ?? ['mail.example.test'],
    time: o.time ?? NOW,
    mode: o.mode ?? 'smtp',
    trustStore: o.trustStore,
  });
}

function expect(
  r: DaneResult,
  verdict: DaneResult['verdict'],
  depth?: number | null,
  reason?: RegExp,
): void {
  const why = JSON.stringify(r, (k, v: unknown) => (k === 'data' ? undefined : v), 1);
  assert.equal(r.verdict, verdict, why);
  if (depth !== undefined) {
    // verified: where the matched record matched; otherwise where the first usable record did
    const got = r.matched ? r.matched.depth : (r.records.find((x) => x.usable)?.depth ?? null);
    assert.equal(got, depth, why);
  }
  if (reason)
    assert.match(
      r.reasons.join('\n') + '\n' + r.records.map((x) => x.reason).join('\n'),
      reason,
      why,
    );
}

let leaf: Cert, int: Cert, root: Cert;
let wildLeaf: Cert, cnOnlyLeaf: Cert, partialLeaf: Cert, sanOverCnLeaf: Cert;
let expiredLeaf: Cert, futureLeaf: Cert;
let expiredInt: Cert, leafUnderExpiredInt: Cert;
let expiredRoot: Cert, intUnderExpiredRoot: Cert, leafUnderExpiredRoot: Cert;
let selfSigned: Cert, selfSignedExpired: Cert;
let tamperedLeaf: Cert;
let otherLeaf: Cert, otherInt: Cert, otherRoot: Cert;
let rsaRoot: Cert, rsaInt: Cert, edLeaf: Cert;

before(() => {
  const dir = tempDir();
  const a = makePki(dir, { names: ['mail.example.test'] });
  leaf = c(a.leaf);
  int = c(a.intermediate);
  root = c(a.root);
  const under = (name: string, opts: Parameters<typeof issue>[2], issuer = a.intermediate) =>
    c(issue(dir, name, opts, issuer));
  wildLeaf = under('wild', { cn: '*.example.test', dnsNames: ['*.example.test'] });
  cnOnlyLeaf = under('cnonly', { cn: 'mail.example.test', dnsNames: [] });
  partialLeaf = under('partial', { cn: 'm.example.test', dnsNames: ['m*.example.test'] });
  sanOverCnLeaf = under('sanovercn', { cn: 'mail.example.test', dnsNames: ['other.example.test'] });
  expiredLeaf = under('expired', {
    cn: 'mail.example.test',
    notBeforeDays: -100,
    notAfterDays: -10,
  });
  futureLeaf = under('future', { cn: 'mail.example.test', notBeforeDays: 10, notAfterDays: 100 });

  const eInt = issue(
    dir,
    'eint',
    { cn: 'Expired Intermediate', ca: true, notBeforeDays: -400, notAfterDays: -5 },
    a.root,
  );
  expiredInt = c(eInt);
  leafUnderExpiredInt = under('leaf-eint', { cn: 'mail.example.test' }, eInt);

  const eRoot = issue(dir, 'eroot', {
    cn: 'Expired Root',
    ca: true,
    notBeforeDays: -4000,
    notAfterDays: -1,
  });
  expiredRoot = c(eRoot);
  const iER = issue(dir, 'int-eroot', { cn: 'Int Under Expired Root', ca: true }, eRoot);
  intUnderExpiredRoot = c(iER);
  leafUnderExpiredRoot = under('leaf-eroot', { cn: 'mail.example.test' }, iER);

  selfSigned = c(issue(dir, 'self', { cn: 'mail.example.test' }));
  selfSignedExpired = c(
    issue(dir, 'self-exp', { cn: 'mail.example.test', notBeforeDays: -30, notAfterDays: -1 }),
  );

  const t = Buffer.from(a.leaf.der);
  t.writeUInt8(t[t.length - 1]! ^ 0x01, t.length - 1); // the last byte of the signature value
  tamperedLeaf = certFromDer(t);

  const b = makePki(dir, { prefix: 'other-' });
  otherLeaf = c(b.leaf);
  otherInt = c(b.intermediate);
  otherRoot = c(b.root);

  const r = makePki(dir, { prefix: 'rsa-', caAlg: 'rsa2048', leafAlg: 'ed25519' });
  rsaRoot = c(r.root);
  rsaInt = c(r.intermediate);
  edLeaf = c(r.leaf);
});

describe('every usage x selector x matching type (RFC 6698 §2.1, RFC 7218)', () => {
  // The certificate each usage names, and where it sits in [leaf, int] + trust store [root].
  const target = (u: number) => (u === 1 || u === 3 ? leaf : int);
  for (const u of [0, 1, 2, 3]) {
    for (const s of [0, 1]) {
      for (const m of [0, 1, 2]) {
        const depth = u === 1 || u === 3 ? 0 : 1;
        test(`${u} ${s} ${m}: SMTP ${u < 2 ? 'unusable' : 'verified'}, generic verified at depth ${depth}`, () => {
          const r = rec(target(u), u, s, m);
          const smtp = run([r], [leaf, int], { mode: 'smtp', trustStore: [root] });
          if (u < 2) expect(smtp, 'unusable', null, /RFC 7672 §3\.1\.3/);
          else expect(smtp, 'verified', depth);
          expect(run([r], [leaf, int], { mode: 'generic', trustStore: [root] }), 'verified', depth);
        });
        test(`${u} ${s} ${m} of another CA's certificate: ${u < 2 ? 'unusable in SMTP, ' : ''}failed`, () => {
          const r = rec(u === 1 || u === 3 ? otherLeaf : otherInt, u, s, m);
          const why = /matches no|signed no certificate/;
          if (u >= 2) expect(run([r], [leaf, int]), 'failed', null, why);
          expect(
            run([r], [leaf, int], { mode: 'generic', trustStore: [root] }),
            'failed',
            null,
            why,
          );
        });
      }
    }
  }

  test('other key algorithms: RSA CA, Ed25519 leaf', () => {
    expect(run([rec(edLeaf, 3, 1, 1)], [edLeaf, rsaInt]), 'verified', 0);
    expect(run([rec(rsaInt, 2, 1, 1)], [edLeaf, rsaInt]), 'verified', 1);
    expect(run([rec(rsaRoot, 2, 1, 0)], [edLeaf, rsaInt]), 'verified', 1);
    expect(run([rec(rsaRoot, 2, 0, 0)], [edLeaf, rsaInt]), 'verified', 2);
  });
});

describe('DANE-EE(3): the leaf only, no names, no dates (RFC 7671 §5.1)', () => {
  test('names are not checked', () => {
    expect(run([rec(leaf, 3, 1, 1)], [leaf, int], { names: ['other.test'] }), 'verified', 0);
    expect(run([rec(leaf, 3, 1, 1)], [leaf], { names: [] }), 'verified', 0);
  });
  test('an expired or not yet valid leaf is verified, and the reason says so', () => {
    expect(
      run([rec(expiredLeaf, 3, 1, 1)], [expiredLeaf, int]),
      'verified',
      0,
      /expired on .*DANE-EE ignores/,
    );
    expect(run([rec(futureLeaf, 3, 0, 1)], [futureLeaf, int]), 'verified', 0, /not valid before/);
    expect(
      run([rec(leaf, 3, 1, 2)], [leaf, int], { time: new Date(NOW.getTime() + 1000 * DAY) }),
      'verified',
      0,
    );
  });
  test('self-signed leaves, expired ones too', () => {
    expect(run([rec(selfSigned, 3, 1, 1)], [selfSigned]), 'verified', 0);
    expect(run([rec(selfSignedExpired, 3, 0, 1)], [selfSignedExpired]), 'verified', 0);
  });
  test('no chain checks: a leaf whose signature is broken still matches', () => {
    expect(run([rec(tamperedLeaf, 3, 1, 1)], [tamperedLeaf, int]), 'verified', 0);
  });
  test('a DANE-EE record for the intermediate does not match', () => {
    expect(
      run([rec(int, 3, 1, 1)], [leaf, int]),
      'failed',
      null,
      /position 1 .*only the server's own certificate/,
    );
  });
});

describe('DANE-TA(2): trust anchor at each depth (RFC 7671 §5.2)', () => {
  test('the intermediate, sent', () => {
    expect(run([rec(int, 2, 1, 1)], [leaf, int]), 'verified', 1, /trust anchor at depth 1/);
    expect(run([rec(int, 2, 0, 1)], [leaf, int, root]), 'verified', 1);
  });
  test('the root, sent', () => {
    expect(run([rec(root, 2, 1, 1)], [leaf, int, root]), 'verified', 2, /trust anchor at depth 2/);
    expect(run([rec(root, 2, 0, 2)], [leaf, int, root]), 'verified', 2);
  });
  test('the root, not sent, as a full certificate 2 0 0 (RFC 7671 §5.2.2): depth 2 as OpenSSL', () => {
    expect(run([rec(root, 2, 0, 0)], [leaf, int]), 'verified', 2, /not sent by the server/);
  });
  test('the root, not sent, as a bare key 2 1 0 (RFC 7671 §5.2.3): depth of the cert it signed', () => {
    expect(
      run([rec(root, 2, 1, 0)], [leaf, int]),
      'verified',
      1,
      /key in the record signed the certificate at depth 1/,
    );
  });
  test('a bare key 2 1 0 whose certificate was sent matches in the chain', () => {
    expect(run([rec(int, 2, 1, 0)], [leaf, int]), 'verified', 1, /trust anchor at depth 1/);
  });
  test('the root, not sent, as a digest: failed, and the reason says it must be sent', () => {
    expect(
      run([rec(root, 2, 1, 1)], [leaf, int]),
      'failed',
      null,
      /must send it \(RFC 7671 §5\.2\.2\)/,
    );
  });
  test('trust anchor missing: a CA that is not in the chain', () => {
    expect(
      run([rec(otherInt, 2, 1, 1)], [leaf, int, root]),
      'failed',
      null,
      /digest matches no certificate in the chain/,
    );
    expect(
      run([rec(otherRoot, 2, 1, 0)], [leaf, int]),
      'failed',
      null,
      /signed no certificate on the path/,
    );
    expect(
      run([rec(otherRoot, 2, 0, 0)], [leaf, int]),
      'failed',
      null,
      /signed no certificate on the path/,
    );
  });
  test('a trust anchor that did not issue the leaf: no path to it', () => {
    expect(
      run([rec(otherInt, 2, 1, 1)], [leaf, otherInt]),
      'failed',
      null,
      /position 1 .*no valid issuer path .*sent no issuer of CN=mail\.example\.test/,
    );
  });
  test('depth 0: a DANE-TA digest of the leaf itself never matches (OpenSSL: TA usages at depth >= 1)', () => {
    expect(
      run([rec(selfSigned, 2, 1, 1)], [selfSigned]),
      'failed',
      null,
      /matches the leaf itself/,
    );
    expect(run([rec(leaf, 2, 0, 1)], [leaf, int]), 'failed', null, /matches the leaf itself/);
    expect(
      run([rec(selfSigned, 2, 0, 0)], [selfSigned]),
      'failed',
      null,
      /matches the leaf itself/,
    );
  });
  test('…but a 2 1 0 bare key that signed a self-signed leaf authenticates it at depth 0 (as OpenSSL)', () => {
    expect(
      run([rec(selfSigned, 2, 1, 0)], [selfSigned]),
      'verified',
      0,
      /signed the certificate at depth 0/,
    );
    expect(run([rec(selfSigned, 2, 1, 0)], [selfSigned], { names: ['other.test'] }), 'failed', 0);
  });
  test('the presented order does not matter past the leaf (RFC 8446 §4.4.2); depth is the path depth', () => {
    expect(run([rec(root, 2, 1, 1)], [leaf, root, int]), 'verified', 2);
    expect(run([rec(int, 2, 1, 1)], [leaf, otherInt, otherRoot, int]), 'verified', 1);
  });
  test('the leaf must come first: a chain presented CA first fails, and says why', () => {
    expect(
      run([rec(leaf, 3, 1, 1)], [int, leaf]),
      'failed',
      null,
      /position 1 [\s\S]*CA certificate: a server must present its own certificate first/,
    );
  });
  test('a broken signature below the anchor: "chain signature invalid at depth 0"', () => {
    expect(
      run([rec(int, 2, 1, 1)], [tamperedLeaf, int]),
      'failed',
      null,
      /chain signature invalid at depth 0/,
    );
    expect(
      run([rec(root, 2, 1, 1)], [tamperedLeaf, int, root]),
      'failed',
      null,
      /chain signature invalid at depth 0/,
    );
  });
});

describe('DANE-TA(2) names (RFC 6125, RFC 7672 §3.2.3)', () => {
  const ta = () => [rec(int, 2, 1, 1)];
  const cases: [string, () => Cert, string[], boolean][] = [
    ['exact name', () => leaf, ['mail.example.test'], true],
    ['case and trailing dot', () => leaf, ['MAIL.Example.Test.'], true],
    ['any of several reference names', () => leaf, ['example.test', 'mail.example.test'], true],
    ['other name', () => leaf, ['mx.example.test'], false],
    ['no reference name at all', () => leaf, [], false],
    ['*.example.test vs mx.example.test', () => wildLeaf, ['mx.example.test'], true],
    ['*.example.test vs a.b.example.test', () => wildLeaf, ['a.b.example.test'], false],
    ['*.example.test vs example.test', () => wildLeaf, ['example.test'], false],
    ['m*.example.test vs mx.example.test', () => partialLeaf, ['mx.example.test'], false],
    ['CN used when there is no DNS SAN', () => cnOnlyLeaf, ['mail.example.test'], true],
    ['CN ignored when there is a DNS SAN', () => sanOverCnLeaf, ['mail.example.test'], false],
  ];
  for (const [what, leafOf, names, ok] of cases) {
    test(`${what}: ${ok ? 'verified' : 'failed'}`, () => {
      const r = run(ta(), [leafOf(), int], { names });
      if (ok) expect(r, 'verified', 1);
      else
        expect(
          r,
          'failed',
          1,
          /matches the trust anchor at depth 1 .*, but (the leaf's name|no reference name)/,
        );
    });
  }
  test('the failure names the leaf name and the reference names', () => {
    expect(
      run(ta(), [leaf, int], { names: ['mx.example.test', 'example.test'] }),
      'failed',
      1,
      /the leaf's name DNS:mail\.example\.test does not match any of mx\.example\.test, example\.test/,
    );
  });
});

describe('DANE-TA(2) dates: below the anchor only', () => {
  test('expired leaf: failed', () => {
    expect(
      run([rec(int, 2, 1, 1)], [expiredLeaf, int]),
      'failed',
      1,
      /certificate at depth 0 \(CN=mail\.example\.test\) expired on \d{4}-/,
    );
  });
  test('leaf not yet valid: failed', () => {
    expect(
      run([rec(int, 2, 1, 1)], [futureLeaf, int]),
      'failed',
      1,
      /depth 0 .* is not valid before/,
    );
  });
  test('time is an argument: a valid chain checked 200 days later fails, 3 1 1 still verifies', () => {
    const later = new Date(NOW.getTime() + 200 * DAY);
    expect(run([rec(int, 2, 1, 1)], [leaf, int], { time: later }), 'failed', 1, /expired on/);
    expect(
      run([rec(int, 2, 1, 1), rec(leaf, 3, 1, 1)], [leaf, int], { time: later }),
      'verified',
      0,
    );
  });
  test('an expired intermediate that is itself the trust anchor: verified', () => {
    expect(run([rec(expiredInt, 2, 1, 1)], [leafUnderExpiredInt, expiredInt]), 'verified', 1);
  });
  test('an expired intermediate below the trust anchor: failed at depth 1', () => {
    expect(
      run([rec(root, 2, 1, 1)], [leafUnderExpiredInt, expiredInt, root]),
      'failed',
      2,
      /certificate at depth 1 \(CN=Expired Intermediate\) expired on/,
    );
  });
  test('an expired root that is the trust anchor: verified (sent, 2 0 0 or 2 1 0 not sent)', () => {
    const chain = [leafUnderExpiredRoot, intUnderExpiredRoot];
    expect(run([rec(expiredRoot, 2, 1, 1)], [...chain, expiredRoot]), 'verified', 2);
    expect(run([rec(expiredRoot, 2, 0, 0)], chain), 'verified', 2);
    expect(run([rec(expiredRoot, 2, 1, 0)], chain), 'verified', 1);
  });
});

describe('unusable records (RFC 6698 §4.1, RFC 7671 §4, RFC 7672 §2.2)', () => {
  test('SMTP with only PKIX-TA/PKIX-EE: unusable, TLS still mandatory', () => {
    const r = run([rec(int, 0, 1, 1), rec(leaf, 1, 1, 1)], [leaf, int], { trustStore: [root] });
    expect(r, 'unusable', null, /TLS is still mandatory.*RFC 7672 §2\.2/);
    assert.ok(
      r.records.every((x) => !x.usable && /RFC 7672 §3\.1\.3/.test(x.reason)),
      'r.records.every((x) => !x.usable && /RFC 7672 §3\\.1\\.3/.test(x.re...',
    );
  });
  test('malformed or unknown parameters are unusable, never an exception', () => {
    const bad = [
      raw(3, 1, 1, 'abcd'), // SHA2-256 must be 32 bytes
      raw(3, 1, 2, 'ab'.repeat(32)), // SHA2-512 must be 64
      raw(4, 1, 1, 'ab'.repeat(32)), // unassigned usage
      raw(255, 1, 1, 'ab'.repeat(32)), // PrivCert
      raw(3, 2, 1, 'ab'.repeat(32)), // unassigned selector
      raw(3, 1, 3, 'ab'.repeat(32)), // unassigned matching type
      raw(2, 1, 0, 'deadbeef'), // full data that is not DER
      raw(3, 1, 1, ''), // empty data
    ];
    for (const mode of ['smtp', 'generic'] as const) {
      const r = run(bad, [leaf, int], { mode });
      expect(r, 'unusable', null);
      assert.ok(
        r.records.every((x) => !x.usable && x.reason.length > 0),
        'r.records.every((x) => !x.usable && x.reason.length > 0)',
      );
    }
  });
  test('generic mode without a trust store: PKIX usages are unusable', () => {
    expect(
      run([rec(leaf, 1, 1, 1)], [leaf, int], { mode: 'generic' }),
      'unusable',
      null,
      /no trust store/,
    );
  });
  test('one unusable and one good record: verified by the good one', () => {
    const r = run([raw(3, 1, 1, 'abcd'), rec(leaf, 3, 1, 1)], [leaf, int]);
    expect(r, 'verified', 0);
    assert.deepEqual(
      r.records.map((x) => [x.usable, x.matched]),
      [
        [false, false],
        [true, true],
      ],
    );
  });
  test('a 2 1 0 whose key cannot be loaded still compares byte-wise', () => {
    const r = run([raw(2, 1, 0, '3003020100')], [leaf, int]);
    expect(r, 'failed', null, /matches no certificate/);
  });
});

describe('record sets', () => {
  test('one bad digest, one good: verified with the good one matched', () => {
    const good = rec(int, 2, 1, 1);
    const r = run([rec(otherLeaf, 3, 1, 1), good], [leaf, int]);
    expect(r, 'verified', 1);
    assert.equal(r.matched?.record, good);
    assert.deepEqual(
      r.records.map((x) => x.matched),
      [false, true],
    );
    assert.match(r.records[0]!.reason, /matches no certificate/);
  });
  test('current + next key (RFC 7671 §8.1): either verifies', () => {
    const set = [rec(leaf, 3, 1, 1), rec(otherLeaf, 3, 1, 1)];
    expect(run(set, [leaf, int]), 'verified', 0);
    expect(run(set, [otherLeaf, otherInt]), 'verified', 0);
  });
  test('when several match, DANE-EE is reported before DANE-TA, whatever the order', () => {
    const ee = rec(leaf, 3, 1, 1);
    const r = run([rec(int, 2, 1, 1), ee], [leaf, int]);
    assert.equal(r.matched?.record, ee);
    assert.ok(
      r.records.every((x) => x.matched),
      'r.records.every((x) => x.matched)',
    );
  });
  test('every usable record failed: failed with a reason per record', () => {
    const r = run(
      [rec(otherLeaf, 3, 1, 1), rec(otherInt, 2, 0, 1), raw(3, 1, 1, 'ab')],
      [leaf, int],
    );
    expect(r, 'failed');
    assert.equal(r.reasons.length, 2);
    assert.match(r.reasons[0]!, /^3 1 1 [0-9a-f]{64}: digest matches no certificate/);
  });
  test('no records: no-dane; no certificate: failed', () => {
    expect(run([], [leaf, int]), 'no-dane', null);
    expect(run([rec(leaf, 3, 1, 1)], []), 'failed', null, /presented no certificate/);
  });
  test('long data is shortened in reason lines', () => {
    const r = run([rec(otherRoot, 2, 0, 0)], [leaf, int]);
    assert.match(r.reasons[0]!, /^2 0 0 [0-9a-f]{16}…\(\d+ bytes\): /);
  });
});

describe('PKIX-TA(0) / PKIX-EE(1) in generic mode, against a trust store', () => {
  const g = { mode: 'generic' as const, trustStore: [] as Cert[] };
  before(() => {
    g.trustStore = [root];
  });
  test('PKIX-TA matching the root in the store that the server did not send: depth 2', () => {
    expect(run([rec(root, 0, 1, 1)], [leaf, int], g), 'verified', 2);
  });
  test('a chain to a root not in the store: failed', () => {
    expect(
      run([rec(otherLeaf, 1, 1, 1)], [otherLeaf, otherInt], g),
      'failed',
      null,
      /no valid path .* trust store/,
    );
    expect(
      run([rec(otherInt, 0, 1, 1)], [otherLeaf, otherInt, otherRoot], g),
      'failed',
      null,
      /no valid path .* trust store/,
    );
  });
  test('PKIX checks names and dates', () => {
    expect(
      run([rec(leaf, 1, 1, 1)], [leaf, int], { ...g, names: ['other.test'] }),
      'failed',
      0,
      /leaf's name/,
    );
    expect(run([rec(expiredLeaf, 1, 1, 1)], [expiredLeaf, int], g), 'failed', 0, /expired on/);
    expect(
      run([rec(root, 0, 1, 1)], [leafUnderExpiredInt, expiredInt], g),
      'failed',
      2,
      /certificate at depth 1 \(CN=Expired Intermediate\) expired on/,
    );
  });
  test('PKIX-TA of a CA on another path than the validated one: failed', () => {
    expect(
      run([rec(otherInt, 0, 1, 1)], [leaf, int, otherInt], g),
      'failed',
      2,
      /does not contain the certificate the record names/,
    );
  });
});

test('never throws: arbitrary records and chains give a verdict', () => {
  const certs = () => [leaf, int, root, otherInt, selfSigned, tamperedLeaf];
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          usage: fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.integer({ min: 0, max: 255 })),
          selector: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 255 })),
          mtype: fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 255 })),
          data: fc.oneof(
            fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u)),
            fc.constantFrom(...certs()).map((x) => x.spki),
            fc.constantFrom(...certs()).map((x) => x.der),
          ),
        }),
        { maxLength: 4 },
      ),
      fc.array(fc.constantFrom(...certs()), { maxLength: 4 }),
      fc.constantFrom('smtp' as const, 'generic' as const),
      (records, chain, mode) => {
        const r = run(records, chain, { mode, trustStore: [root] });
        assert.ok(
          ['verified', 'failed', 'unusable', 'no-dane'].includes(r.verdict),
          "['verified', 'failed', 'unusable', 'no-dane'].includes(r.ve...",
        );
        assert.equal(r.records.length, records.length);
        assert.equal(r.verdict === 'verified', r.matched !== null);
      },
    ),
    { numRuns: 300 },
  );
});
