/**
 * Issue 12 (mutation testing), second round on verify.ts: the shapes of chain that no other test
 * builds, each named by Stryker survivors (docs/mutation.md) — issuer paths that loop or run
 * long, a second candidate issuer, a certificate with the right key but the wrong name, a
 * validity period of one instant, a leaf with no name at all, a self-signed leaf named by a
 * DANE-TA(2) record — and the reason lines a user reads for each way a record fails.
 *
 * Expected association data comes from the openssl CLI (never from generateTlsa) and reason lines
 * are written out in full. The verdicts of the new chain shapes were compared by hand with
 * OpenSSL 3.0's DANE code (what Postfix and posttls-finger use), `openssl s_client
 * -dane_tlsa_rrdata` against each chain: they agree, except the path-length limit (MAX_PATH),
 * which is verify.ts's own (docs/mutation.md).
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  basicConstraints,
  buildCert,
  name as derName,
  OID,
  rfcTime,
  sanExtension,
} from '../../../test/support/der.js';
import {
  issue,
  makeKey,
  makePki,
  makeSelfSigned,
  openssl,
  tempDir,
  type Issued,
} from '../../../test/support/pki.js';
import { parseTlsa, type TlsaRecord } from '../tlsa/index.js';
import { certFromDer, type Cert } from '../x509/index.js';
import { verifyDane, type DaneInput, type DaneResult } from './verify.js';

const NAME = 'mail.example.test';
const NOW = new Date();
const c = (i: Issued): Cert => certFromDer(i.der);

/** The DER SPKI of a certificate or key, as openssl prints it. */
function spkiOf(i: { certPem?: string; keyFile?: string }): Buffer {
  const pem = i.certPem
    ? openssl(['x509', '-pubkey', '-noout'], i.certPem)
    : openssl(['pkey', '-in', i.keyFile!, '-pubout']);
  return openssl(['pkey', '-pubin', '-outform', 'DER'], pem);
}

/** `U S M HEX` with the data made by openssl (RFC 6698 §2.1.2, §2.1.3), as how-to guides do. */
function record(u: number, s: 0 | 1, m: 0 | 1 | 2, der: Buffer): TlsaRecord {
  const hex =
    m === 0
      ? der.toString('hex')
      : openssl(['dgst', m === 1 ? '-sha256' : '-sha512', '-r'], der)
          .toString('utf8')
          .split(' ')[0]!;
  return parseTlsa(`${u} ${s} ${m} ${hex}`);
}
const ofCert = (i: Issued, u: number, s: 0 | 1, m: 0 | 1 | 2) =>
  record(u, s, m, s === 0 ? i.der : spkiOf(i));

/** `u s m data` as reason lines start: 32-byte digests whole, longer data cut at 8 octets. */
function head(r: TlsaRecord): string {
  const hex = r.data.toString('hex');
  const d = hex.length <= 64 ? hex : `${hex.slice(0, 16)}…(${r.data.length} bytes)`;
  return `${r.usage} ${r.selector} ${r.mtype} ${d}`;
}
const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');

function run(records: TlsaRecord[], chain: Cert[], o: Partial<DaneInput> = {}): DaneResult {
  return verifyDane({ records, chain, names: [NAME], time: NOW, mode: 'smtp', ...o });
}

/** Everything a user sees of a result, for assertion messages. */
const shown = (r: DaneResult) =>
  JSON.stringify({
    verdict: r.verdict,
    reasons: r.reasons,
    records: r.records.map((x) => x.reason),
  });

/** One record's outcome: matched, depth and reason, exactly. */
function outcome(r: DaneResult, matched: boolean, depth: number | null, reason: string) {
  assert.equal(r.records.length, 1, shown(r));
  const x = r.records[0]!;
  assert.deepEqual([x.matched, x.depth, x.reason], [matched, depth, reason], shown(r));
}

const FAILED_CA_FIRST = (label: string) =>
  `the first certificate presented (${label}) is a CA certificate: a server must present its own certificate first`;

let dir: string;
let a: ReturnType<typeof makePki>;
let other: { keyFile: string }; // an unrelated key, never in any chain
let oldRoot: Issued;
before(() => {
  dir = tempDir();
  a = makePki(dir, { names: [NAME] });
  other = { keyFile: join(dir, 'other.key') };
  makeKey(other.keyFile, 'p256');
  oldRoot = issue(dir, 'old-root', { cn: 'Old Root', ca: true, notAfterDays: 3650 });
});

// --- issuer paths: how long, loops, and which of two candidate issuers (RFC 4158) ------------

describe('issuer paths (RFC 5280 §6.1, path building as in RFC 4158)', () => {
  let long: Issued[]; // long[0] the leaf, long[k] the CA k levels above it (k = 1..10)
  let twoIssuers: { intOld: Issued };
  before(() => {
    // ten CAs in a line under an eleventh that is not sent: "Long CA 10" issues the leaf
    let up = issue(dir, 'long-root', { cn: 'Long Root', ca: true, notAfterDays: 3650 });
    const cas: Issued[] = [];
    for (let k = 1; k <= 10; k++) {
      up = issue(dir, `long-${k}`, { cn: `Long CA ${k}`, ca: true, notAfterDays: 1800 }, up);
      cas.unshift(up);
    }
    const leaf = issue(dir, 'long-leaf', { cn: NAME }, up);
    long = [leaf, ...cas];
    // the intermediate's name and key, also certified by another root that is not sent (an old
    // cross-certificate, expired): the leaf has two candidate issuers, only the second leads to
    // the anchor. Expired, because OpenSSL takes the first candidate that is valid now and does
    // not try another; with both valid, it fails where this verifies (docs/mutation.md).
    const intOld = issue(
      dir,
      'int-old',
      {
        cn: 'Test Intermediate',
        ca: true,
        keyFile: a.intermediate.keyFile,
        notBeforeDays: -400,
        notAfterDays: -30,
      },
      oldRoot,
    );
    twoIssuers = { intOld };
  });

  test('a DANE-TA(2) anchor 9 certificates above the leaf verifies; 10 above is past the limit of 10', () => {
    // MAX_PATH (10 certificates in a path) is verify.ts's own guard: `openssl s_client` (default
    // verify depth 100) also verifies the anchor at depth 10. Pinned so that changing it is a choice.
    const chain = long.map(c);
    const at9 = ofCert(long[9]!, 2, 1, 1);
    const ok = run([at9], chain);
    assert.deepEqual(ok.matched, { record: at9, depth: 9 }, shown(ok));
    const at10 = ofCert(long[10]!, 2, 1, 1);
    const r = run([at10], chain);
    assert.equal(r.verdict, 'failed', shown(r));
    outcome(
      r,
      false,
      null,
      'digest matches the certificate at position 10 of the chain (CN=Long CA 1), but no valid ' +
        'issuer path leads from the leaf to it: the issuer path is too long',
    );
  });

  test('two candidate issuers with the same name and key: the first (expired) leads nowhere, the second to the anchor', () => {
    const t = ofCert(a.root, 2, 1, 1);
    const chain = [a.leaf, twoIssuers.intOld, a.intermediate, a.root].map(c);
    const r = run([t], chain);
    // depth counts along the validated path (leaf, intermediate, root), not the order sent
    assert.deepEqual(r.matched, { record: t, depth: 2 }, shown(r));
    assert.deepEqual(r.reasons, [
      `${head(t)} matches the trust anchor at depth 2 (CN=Test Root CA); the chain, the dates below it and ` +
        'the name mail.example.test check out (RFC 7671 §5.2)',
    ]);
  });
});

describe('loops: CAs that certify each other', () => {
  let loopLeaf: Issued, loopCa: Issued;
  let cycLeaf: Issued, cycX: Issued, cycY: Issued;
  before(() => {
    // the leaf is itself a CA (keyCertSign) and certifies its own issuer's key and name
    const tmp = issue(dir, 'loop-tmp', { cn: 'Loop CA', ca: true });
    loopLeaf = issue(dir, 'loop-leaf', { cn: NAME, dnsNames: [NAME], ca: true }, tmp);
    loopCa = issue(dir, 'loop-ca', { cn: 'Loop CA', ca: true, keyFile: tmp.keyFile }, loopLeaf);
    // two CAs above an ordinary leaf that certify each other
    const x = issue(dir, 'cyc-xtmp', { cn: 'Cycle X', ca: true });
    const y = issue(dir, 'cyc-ytmp', { cn: 'Cycle Y', ca: true });
    cycX = issue(dir, 'cyc-x', { cn: 'Cycle X', ca: true, keyFile: x.keyFile }, y);
    cycY = issue(dir, 'cyc-y', { cn: 'Cycle Y', ca: true, keyFile: y.keyFile }, x);
    cycLeaf = issue(dir, 'cyc-leaf', { cn: NAME }, x);
  });

  test('a DANE-TA(2) record of the leaf does not verify when a loop leads back to the leaf (sent twice)', () => {
    // leaf -> Loop CA -> leaf again: a path never holds a certificate twice, so the leaf is
    // never above itself; OpenSSL's chain building refuses a certificate already in the chain
    const t = ofCert(loopLeaf, 2, 1, 1);
    const chain = [loopLeaf, loopCa, loopLeaf].map(c);
    const r = run([t], chain);
    assert.equal(r.verdict, 'failed', shown(r));
    const x = r.records[0]!;
    assert.deepEqual([x.matched, x.depth], [false, null], shown(r));
    // it names the later copy, not "the leaf itself"
    assert.ok(
      x.reason.startsWith(
        'digest matches the certificate at position 2 of the chain (CN=mail.example.test), but no ' +
          'valid issuer path leads from the leaf to it: ',
      ),
      shown(r),
    );
    assert.equal(r.reasons[1], FAILED_CA_FIRST('CN=mail.example.test'), shown(r));
  });

  test('PKIX-TA(0) of that leaf, with Loop CA trusted: the leaf is not a CA above itself', () => {
    const t = ofCert(loopLeaf, 0, 1, 1);
    const chain = [loopLeaf, loopCa, loopLeaf].map(c);
    const r = run([t], chain, { mode: 'generic', trustStore: [c(loopCa)] });
    assert.equal(r.verdict, 'failed', shown(r));
    outcome(
      r,
      false,
      1,
      'the path from the leaf to the trusted CN=Loop CA does not contain the certificate the record names',
    );
  });

  test('a loop above the leaf is not a bad signature, and ends the search', () => {
    // a bare key in DNS that signed nothing: the reason always says where the path from the
    // leaf stops (a digest's reason says it only when an issuer is missing)
    const t = record(2, 1, 0, spkiOf(other));
    const r = run([t], [cycLeaf, cycX, cycY].map(c));
    assert.equal(r.verdict, 'failed', shown(r));
    const why = r.records[0]!.reason;
    assert.ok(
      why.startsWith(
        'the trust anchor key in the record signed no certificate on the path from the leaf: ',
      ),
      shown(r),
    );
    // every link of the loop verifies: nothing may call a signature invalid
    assert.doesNotMatch(why, /signature invalid/, shown(r));
    // and the anchor, when it is in the loop, is found
    const y = ofCert(cycY, 2, 1, 1);
    assert.deepEqual(run([y], [cycLeaf, cycX, cycY].map(c)).matched, { record: y, depth: 2 });
  });
});

// --- names on the issuer link (RFC 5280 §6.1.3 (a)(4): subject = issuer, not the key alone) ---

describe('an issuer must be named as such, not only hold the key', () => {
  let impostor: Issued; // the intermediate's key under another name
  before(() => {
    impostor = issue(
      dir,
      'impostor',
      { cn: 'Impostor CA', ca: true, keyFile: a.intermediate.keyFile, notAfterDays: 1800 },
      a.root,
    );
  });

  test('DANE-TA(2) of a sent certificate whose key signed the leaf but whose name is not its issuer', () => {
    const t = ofCert(impostor, 2, 0, 1);
    const r = run([t], [a.leaf, impostor].map(c));
    assert.equal(r.verdict, 'failed', shown(r));
    outcome(
      r,
      false,
      null,
      'digest matches the certificate at position 1 of the chain (CN=Impostor CA), but no valid issuer ' +
        'path leads from the leaf to it: the server sent no issuer of CN=mail.example.test (depth 0)',
    );
  });

  test('2 0 0 of that certificate, not sent: its key verifies the leaf, its name does not link', () => {
    const t = ofCert(impostor, 2, 0, 0);
    const r = run([t], [a.leaf, a.intermediate].map(c));
    assert.equal(r.verdict, 'failed', shown(r));
    outcome(
      r,
      false,
      null,
      'the trust anchor certificate in the record signed no certificate on the path from the leaf: ' +
        'the server sent no issuer of CN=Test Intermediate (depth 1)',
    );
  });
});

// --- validity: RFC 5280 §4.1.2.5, both ends inclusive, one instant long -----------------------

describe('a validity period of one instant (notBefore = notAfter)', () => {
  const T = new Date('2031-03-04T05:06:07Z');
  let ca: Cert, leaf: Cert, caKey: KeyObject, noName: Cert;
  before(() => {
    const k = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    caKey = k();
    const caName = derName([[{ oid: OID.cn, type: 'utf8', value: 'Instant CA' }]]);
    const spki = (key: KeyObject) =>
      createPublicKey(key).export({ type: 'spki', format: 'der' }) as Buffer;
    ca = certFromDer(
      buildCert({
        issuer: caName,
        subject: caName,
        notBefore: rfcTime(new Date('2030-01-01T00:00:00Z')),
        notAfter: rfcTime(new Date('2040-01-01T00:00:00Z')),
        spki: spki(caKey),
        extensions: [basicConstraints(true)],
        signer: caKey,
      }),
    );
    leaf = certFromDer(
      buildCert({
        issuer: caName,
        subject: derName([[{ oid: OID.cn, type: 'utf8', value: NAME }]]),
        notBefore: rfcTime(T),
        notAfter: rfcTime(T),
        spki: spki(k()),
        extensions: [basicConstraints(false), sanExtension([NAME])],
        signer: caKey,
      }),
    );
    // no subjectAltName and no CN: nothing to match a reference identifier against
    noName = certFromDer(
      buildCert({
        issuer: caName,
        subject: derName([[{ oid: OID.o, type: 'utf8', value: 'No Name Org' }]]),
        notBefore: rfcTime(new Date('2030-01-01T00:00:00Z')),
        notAfter: rfcTime(new Date('2040-01-01T00:00:00Z')),
        spki: spki(k()),
        extensions: [basicConstraints(false)],
        signer: caKey,
      }),
    );
    assert.equal(leaf.notBefore.getTime(), T.getTime(), 'the test certificate starts at T');
    assert.equal(leaf.notAfter.getTime(), T.getTime(), 'the test certificate ends at T');
  });

  test('DANE-TA(2): valid at that instant, expired a second later, not yet valid a second before', () => {
    const t = record(2, 1, 1, ca.spki);
    const at = run([t], [leaf, ca], { time: T });
    assert.deepEqual(at.matched, { record: t, depth: 1 }, shown(at));
    const later = run([t], [leaf, ca], { time: new Date(T.getTime() + 1000) });
    outcome(
      later,
      false,
      1,
      'matches the trust anchor at depth 1 (CN=Instant CA), but certificate at depth 0 ' +
        `(CN=mail.example.test) expired on ${iso(T)}`,
    );
    const sooner = run([t], [leaf, ca], { time: new Date(T.getTime() - 1000) });
    outcome(
      sooner,
      false,
      1,
      'matches the trust anchor at depth 1 (CN=Instant CA), but certificate at depth 0 ' +
        `(CN=mail.example.test) is not valid before ${iso(T)}`,
    );
  });

  test('DANE-EE(3): no note at that instant; the notes a second after and before', () => {
    const e = record(3, 1, 1, leaf.spki);
    const base = `${head(e)} matches the leaf's public key (SPKI) at depth 0 (CN=mail.example.test); DANE-EE(3) checks no names or dates (RFC 7671 §5.1)`;
    assert.deepEqual(run([e], [leaf, ca], { time: T }).reasons, [base]);
    assert.deepEqual(run([e], [leaf, ca], { time: new Date(T.getTime() + 1000) }).reasons, [
      `${base}; it expired on ${iso(T)}, which DANE-EE ignores`,
    ]);
    assert.deepEqual(run([e], [leaf, ca], { time: new Date(T.getTime() - 1000) }).reasons, [
      `${base}; it is not valid before ${iso(T)}, which DANE-EE ignores`,
    ]);
  });

  test('DANE-TA(2): a leaf with no DNS name and no CN says so (RFC 6125 §6.4)', () => {
    const t = record(2, 1, 1, ca.spki);
    const r = run([t], [noName, ca], { time: T, names: [NAME, 'mx.example.test'] });
    outcome(
      r,
      false,
      1,
      'matches the trust anchor at depth 1 (CN=Instant CA), but the leaf has no DNS name or CN to ' +
        'match any of mail.example.test, mx.example.test',
    );
  });
});

// --- DANE-TA(2) of a self-signed leaf (RFC 6698 §2.1.1: the anchor is above the leaf) ----------

describe('a self-signed leaf named by a DANE-TA(2) record', () => {
  let ss: Issued;
  before(() => {
    ss = makeSelfSigned(dir, 'ss', NAME);
  });

  test('2 0 0 of the leaf, sent: not its own trust anchor; publish DANE-EE(3)', () => {
    const t = ofCert(ss, 2, 0, 0);
    // an unrelated CA sent after it changes nothing
    for (const chain of [[ss], [ss, a.intermediate]]) {
      const r = run([t], chain.map(c));
      assert.equal(r.verdict, 'failed', shown(r));
      outcome(
        r,
        false,
        null,
        'data matches the leaf itself; a DANE-TA(2) record names an issuer above the leaf (RFC 6698 §2.1.1), ' +
          'so publish a DANE-EE(3) record for the leaf instead',
      );
    }
  });

  test('PKIX-TA(0) of the leaf, with the leaf in the trust store: still not a CA above it', () => {
    const t = ofCert(ss, 0, 0, 1);
    const r = run([t], [c(ss)], { mode: 'generic', trustStore: [c(ss)] });
    assert.equal(r.verdict, 'failed', shown(r));
    outcome(
      r,
      false,
      0,
      `the path from the leaf to the trusted CN=${NAME} does not contain the certificate the record names`,
    );
  });
});

// --- reason lines of each failure, exactly (what `tlsa verify` and `check` print) -------------

describe('how each record fails, word for word', () => {
  let stale: Issued; // expired, and named for another host: two problems at once
  let notCa: Issued, underNotCa: Issued;
  before(() => {
    stale = issue(
      dir,
      'stale',
      { cn: 'other.example.test', notBeforeDays: -30, notAfterDays: -1 },
      a.intermediate,
    );
    notCa = byHand(
      'notca',
      'Not A CA',
      ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,keyCertSign,digitalSignature'],
      a.root,
    );
    underNotCa = byHand(
      'under-notca',
      NAME,
      ['basicConstraints=critical,CA:FALSE', `subjectAltName=DNS:${NAME}`],
      notCa,
    );
  });

  /** A certificate with exactly these extensions (CA:FALSE with keyCertSign), by `openssl x509 -req`. */
  function byHand(name: string, cn: string, ext: string[], issuer: Issued): Issued {
    const keyFile = join(dir, `${name}.key`);
    const keyPem = makeKey(keyFile, 'p256');
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, ext.join('\n') + '\n');
    const csr = openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${cn}`]);
    const certPem = openssl(
      ['x509', '-req', '-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-days', '30'],
      csr,
    ).toString('utf8');
    const certFile = join(dir, `${name}.crt`);
    writeFileSync(certFile, certPem);
    const der = openssl(['x509', '-outform', 'DER'], certPem);
    return { certPem, certFile, keyPem, keyFile, der };
  }

  const twoProblems = (s: Cert) =>
    "the leaf's name DNS:other.example.test does not match any of mail.example.test; certificate at " +
    `depth 0 (CN=other.example.test) expired on ${iso(s.notAfter)}`;

  test('DANE-TA(2) in the chain, DNS-only key, and PKIX-EE(1): several problems joined by "; "', () => {
    const s = c(stale);
    const sent = ofCert(a.intermediate, 2, 1, 1);
    outcome(
      run([sent], [s, c(a.intermediate)]),
      false,
      1,
      `matches the trust anchor at depth 1 (CN=Test Intermediate), but ${twoProblems(s)}`,
    );
    const key = ofCert(a.root, 2, 1, 0);
    outcome(
      run([key], [s, c(a.intermediate)]),
      false,
      1,
      'the trust anchor key in the record signed the certificate at depth 1 (CN=Test Intermediate) ' +
        `(RFC 7671 §5.2.3), but ${twoProblems(s)}`,
    );
    const ee = ofCert(stale, 1, 1, 1);
    outcome(
      run([ee], [s, c(a.intermediate)], { mode: 'generic', trustStore: [c(a.root)] }),
      false,
      0,
      'matches the leaf at depth 0 (CN=other.example.test), which validates to the trusted CN=Test Root CA, ' +
        `but ${twoProblems(s)}`,
    );
  });

  test('PKIX: a CA:FALSE certificate between the leaf and the trusted root is refused (RFC 5280 §6.1.4 (k))', () => {
    const ee = ofCert(underNotCa, 1, 1, 1);
    // `openssl x509 -req` dates it from its own now: look a day later
    const r = run([ee], [underNotCa, notCa].map(c), {
      mode: 'generic',
      trustStore: [c(a.root)],
      time: new Date(Date.now() + 86400_000),
    });
    outcome(
      r,
      false,
      0,
      'matches the leaf at depth 0 (CN=mail.example.test), which validates to the trusted CN=Test Root CA, ' +
        'but certificate at depth 1 (CN=Not A CA) is not a CA certificate, yet issued the one below it',
    );
  });

  test('a record that matches only a certificate above the leaf: "data" for full data, "digest" for a hash', () => {
    const chain = [a.leaf, a.intermediate].map(c);
    const ee = ofCert(a.intermediate, 3, 0, 0);
    outcome(
      run([ee], chain),
      false,
      null,
      'data matches the certificate at position 1 of the chain (CN=Test Intermediate), but DANE-EE(3) ' +
        "matches only the server's own certificate, which comes first (RFC 7671 §5.1)",
    );
    const pee = ofCert(a.intermediate, 1, 1, 1);
    outcome(
      run([pee], chain, { mode: 'generic', trustStore: [c(a.root)] }),
      false,
      null,
      'digest matches the certificate at position 1 of the chain (CN=Test Intermediate), but PKIX-EE(1) ' +
        "matches only the server's own certificate (RFC 6698 §2.1.1)",
    );
    // a sent certificate in a 2 0 0 record that does not issue anything on the leaf's path
    const ta = ofCert(oldRoot, 2, 0, 0);
    outcome(
      run([ta], [a.leaf, oldRoot].map(c)),
      false,
      null,
      'data matches the certificate at position 1 of the chain (CN=Old Root), but no valid issuer path ' +
        'leads from the leaf to it: the server sent no issuer of CN=mail.example.test (depth 0)',
    );
  });

  test('PKIX-TA(0) that matches no CA certificate: "data" or "digest"', () => {
    const o = { mode: 'generic' as const, trustStore: [c(a.root)] };
    const chain = [a.leaf, a.intermediate].map(c);
    outcome(
      run([ofCert(oldRoot, 0, 0, 0)], chain, o),
      false,
      null,
      'data matches no CA certificate in the chain or the trust store',
    );
    outcome(
      run([record(0, 1, 1, spkiOf(other))], chain, o),
      false,
      null,
      'digest matches no CA certificate in the chain or the trust store',
    );
  });

  test('DANE-TA(2) anchors from DNS that sign nothing, and a digest with nothing to say about the path', () => {
    const full = [a.leaf, a.intermediate, a.root].map(c);
    const key = record(2, 1, 0, spkiOf(other));
    outcome(
      run([key], full),
      false,
      null,
      'the trust anchor key in the record signed no certificate on the path from the leaf: the path from ' +
        'the leaf ends at the self-signed CN=Test Root CA (depth 2)',
    );
    // the path ends at a root the server sent: no hint to send the issuer
    outcome(
      run([record(2, 1, 1, spkiOf(other))], full),
      false,
      null,
      'digest matches no certificate in the chain',
    );
    // full data that is DER-shaped but no key (RFC 6698 §2.1.3): unusable as an anchor, no crash
    const junk: TlsaRecord = {
      usage: 2,
      selector: 1,
      mtype: 0,
      data: Buffer.from('3003020100', 'hex'),
    };
    outcome(
      run([junk], [a.leaf, a.intermediate].map(c)),
      false,
      null,
      'data matches no certificate in the chain; the server sent no issuer of CN=Test Intermediate (depth 1) ' +
        '— if that issuer is the trust anchor, the server must send it (RFC 7671 §5.2.2)',
    );
  });

  test('a SHA2-512 digest is never read as a key, even when its 64 bytes are a valid SPKI (RFC 6698 §2.1.3)', () => {
    // secp160r1's uncompressed SPKI is exactly 64 bytes: as "2 1 2" data it is a digest to
    // compare, not a bare-key anchor (RFC 7671 §5.2.3 is for matching type 0 only)
    const spki = openssl(
      ['pkey', '-pubin', '-outform', 'DER'],
      openssl(
        ['pkey', '-pubout'],
        openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp160r1']),
      ),
    );
    assert.equal(spki.length, 64, 'a 64-byte SPKI');
    const t: TlsaRecord = { usage: 2, selector: 1, mtype: 2, data: spki };
    outcome(
      run([t], [a.leaf, a.intermediate].map(c)),
      false,
      null,
      'digest matches no certificate in the chain; the server sent no issuer of CN=Test Intermediate (depth 1) ' +
        '— if that issuer is the trust anchor, the server must send it (RFC 7671 §5.2.2)',
    );
  });

  test('unusable records: each reason once, several joined by "; "; no records at all', () => {
    const chain = [a.leaf, a.intermediate].map(c);
    const pkix = ofCert(a.intermediate, 0, 1, 1);
    const r = run([pkix], chain);
    assert.equal(r.verdict, 'unusable', shown(r));
    outcome(r, false, null, 'certificate usage 0 (PKIX-TA) is unusable for SMTP (RFC 7672 §3.1.3)');
    const odd: TlsaRecord = { usage: 4, selector: 2, mtype: 1, data: Buffer.alloc(32, 7) };
    outcome(
      run([odd], chain),
      false,
      null,
      'certificate usage 4 (unassigned) is not supported; selector 2 (unassigned) is not supported',
    );
    const none = run([], chain);
    assert.deepEqual(
      [none.verdict, none.matched, none.records, none.reasons],
      ['no-dane', null, [], ['no TLSA records: DANE does not apply']],
    );
  });
});
