/**
 * Issue 12 follow-up: which issuer DANE-TA(2) takes when the server sent more than one candidate.
 * verify.ts builds the path as OpenSSL 3.0 does (crypto/x509/x509_vfy.c find_issuer): no issuer
 * above a self-signed certificate; else the first name-linked candidate valid now, or, if none
 * is, the one with the latest notAfter; and no backtracking to another candidate. Each verdict
 * here was compared with `openssl s_client -dane_tlsa_rrdata` (verify-shapes-openssl.test.ts
 * runs those shapes against s_client); expected data comes from the openssl CLI, reason lines
 * are written out in full.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { issue, makePki, openssl, tempDir, type Issued } from '../../../test/support/pki.js';
import { parseTlsa, type TlsaRecord } from '../tlsa/index.js';
import { certFromDer } from '../x509/index.js';
import { verifyDane, type DaneResult } from './verify.js';

const NAME = 'mail.example.test';
const NOW = new Date();
const DAY = 86_400_000;

/** `2 S M HEX` with HEX from openssl: M=1 the SHA-256 of the SPKI, M=0 the full certificate. */
function ta(i: Issued, full = false): TlsaRecord {
  if (full) return parseTlsa(`2 0 0 ${i.der.toString('hex')}`);
  const spki = openssl(
    ['pkey', '-pubin', '-outform', 'DER'],
    openssl(['x509', '-pubkey', '-noout'], i.certPem),
  );
  const hex = openssl(['dgst', '-sha256', '-r'], spki).toString('utf8').split(' ')[0]!;
  return parseTlsa(`2 1 1 ${hex}`);
}
const head = (r: TlsaRecord) => {
  const hex = r.data.toString('hex');
  return `${r.usage} ${r.selector} ${r.mtype} ${hex.length <= 64 ? hex : `${hex.slice(0, 16)}…(${r.data.length} bytes)`}`;
};
const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');

function run(r: TlsaRecord, chain: Issued[], time = NOW): DaneResult {
  return verifyDane({
    records: [r],
    chain: chain.map((i) => certFromDer(i.der)),
    names: [NAME],
    time,
    mode: 'smtp',
  });
}
const shown = (r: DaneResult) =>
  JSON.stringify({ verdict: r.verdict, matched: r.matched?.depth, reasons: r.reasons });

const notAfter = (i: Issued) => certFromDer(i.der).notAfter.getTime();
const notBefore = (i: Issued) => certFromDer(i.der).notBefore.getTime();

describe('which candidate issuer DANE-TA(2) takes (OpenSSL find_issuer)', () => {
  let tie: [Issued, Issued] | undefined;
  let a: ReturnType<typeof makePki>;
  let s: Record<string, Issued>;
  before(() => {
    const dir = tempDir();
    a = makePki(dir, { names: [NAME] });
    const oldRoot = issue(dir, 'old-root', { cn: 'Old Root', ca: true, notAfterDays: 3650 });
    // the intermediate's name and key certified again: by a root the server does not send, and
    // (expired, two different end dates) by the real root
    const again = (n: string, o: { notBeforeDays?: number; notAfterDays?: number }, by: Issued) =>
      issue(
        dir,
        n,
        { cn: 'Test Intermediate', ca: true, keyFile: a.intermediate.keyFile, ...o },
        by,
      );
    // two expired candidates ending in the same second: made again until they do
    for (let i = 0; i < 5; i++) {
      const x = again(`tie-old-${i}`, { notBeforeDays: -400, notAfterDays: -30 }, oldRoot);
      const y = again(`tie-root-${i}`, { notBeforeDays: -400, notAfterDays: -30 }, a.root);
      if (notAfter(x) === notAfter(y)) {
        tie = [x, y];
        break;
      }
    }
    s = {
      oldRoot,
      intValidOld: again('int-valid-old', { notAfterDays: 1800 }, oldRoot),
      intExpOld: again('int-exp-old', { notBeforeDays: -400, notAfterDays: -60 }, oldRoot),
      intExpRoot: again('int-exp-root', { notBeforeDays: -400, notAfterDays: -30 }, a.root),
      // valid for days 2 ago to 5 on (the intermediate from 1 day ago); not valid yet
      intShort: again('int-short', { notBeforeDays: -2, notAfterDays: 5 }, oldRoot),
      intFuture: again('int-future', { notBeforeDays: 1, notAfterDays: 1800 }, oldRoot),
      // the root's name and key certified by Old Root: above the self-signed root, OpenSSL stops
      crossRoot: issue(
        dir,
        'cross-root',
        { cn: 'Test Root CA', ca: true, keyFile: a.root.keyFile, notAfterDays: 1800 },
        oldRoot,
      ),
    };
  });

  test('both candidates valid now, the first leads nowhere: failed, no second try', () => {
    const t = ta(a.root);
    const r = run(t, [a.leaf, s.intValidOld!, a.intermediate, a.root]);
    assert.equal(r.verdict, 'failed', shown(r));
    assert.deepEqual(r.reasons, [
      `${head(t)}: digest matches the certificate at position 3 of the chain (CN=Test Root CA), but no valid ` +
        'issuer path leads from the leaf to it: the server sent no issuer of CN=Test Intermediate (depth 1)',
    ]);
    // the same certificates, the good candidate first: verified at depth 2
    const ok = run(t, [a.leaf, a.intermediate, s.intValidOld!, a.root]);
    assert.deepEqual(ok.matched, { record: t, depth: 2 }, shown(ok));
  });

  test('no candidate valid now: the one with the latest notAfter, wherever it was sent', () => {
    const t = ta(a.root);
    const end = iso(new Date(certFromDer(s.intExpRoot!.der).notAfter.getTime()));
    const want = [
      `${head(t)}: matches the trust anchor at depth 2 (CN=Test Root CA), but certificate at depth 1 ` +
        `(CN=Test Intermediate) expired on ${end}`,
    ];
    for (const chain of [
      [a.leaf, s.intExpOld!, s.intExpRoot!, a.root],
      [a.leaf, s.intExpRoot!, s.intExpOld!, a.root],
    ]) {
      const r = run(t, chain);
      assert.equal(r.verdict, 'failed', shown(r));
      assert.deepEqual(r.reasons, want, shown(r));
    }
    assert.ok(Date.parse(end) < NOW.getTime() - 29 * DAY, `int-exp-root ended ${end}`);
  });

  test('no issuer above a self-signed root: a 2 0 0 of the cross-signer is never reached', () => {
    const t = ta(s.oldRoot!, true);
    const r = run(t, [a.leaf, a.intermediate, a.root, s.crossRoot!]);
    assert.equal(r.verdict, 'failed', shown(r));
    assert.deepEqual(r.reasons, [
      `${head(t)}: the trust anchor certificate in the record signed no certificate on the path from the ` +
        'leaf: the path from the leaf ends at the self-signed CN=Test Root CA (depth 2)',
    ]);
    // without the root, the cross-certificate is the intermediate's issuer, and Old Root's
    const ok = run(t, [a.leaf, a.intermediate, s.crossRoot!]);
    assert.deepEqual(ok.matched, { record: t, depth: 3 }, shown(ok));
  });

  const NO_ISSUER =
    'issuer path leads from the leaf to it: the server sent no issuer of CN=Test Intermediate (depth 1)';

  test('valid now means from notBefore to notAfter, both included (RFC 5280 §4.1.2.5)', () => {
    const t = ta(a.root);
    const chain = [a.leaf, s.intShort!, a.intermediate, a.root];
    const failedAt = (when: number) => {
      const r = run(t, chain, new Date(when));
      assert.equal(r.verdict, 'failed', shown(r));
      assert.match(r.reasons[0]!, new RegExp(`${NO_ISSUER.replace(/[()]/g, '\\$&')}$`), shown(r));
    };
    // at its last second the short one is still valid, so it is taken and leads nowhere
    failedAt(notAfter(s.intShort!));
    // at its first second too (the intermediate is not valid yet then)
    failedAt(notBefore(s.intShort!));
    // a second after its end it is not: the intermediate is taken
    const after = run(t, chain, new Date(notAfter(s.intShort!) + 1000));
    assert.deepEqual(after.matched, { record: t, depth: 2 }, shown(after));
  });

  test('a candidate not valid yet is passed over for one valid now', () => {
    const t = ta(a.root);
    const r = run(t, [a.leaf, s.intFuture!, a.intermediate, a.root]);
    assert.deepEqual(r.matched, { record: t, depth: 2 }, shown(r));
  });

  test('two expired candidates ending in the same second: the first sent is taken', (ctx) => {
    if (!tie) return ctx.skip('could not make two certificates ending in the same second');
    const t = ta(a.root);
    const r = run(t, [a.leaf, tie[0], tie[1], a.root]);
    assert.equal(r.verdict, 'failed', shown(r));
    assert.deepEqual(r.reasons, [
      `${head(t)}: digest matches the certificate at position 3 of the chain (CN=Test Root CA), but no valid ` +
        NO_ISSUER,
    ]);
  });
});
