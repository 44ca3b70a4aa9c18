/**
 * Structurally valid but unusual certificates (issue 8): empty names, no extensions, v1,
 * notAfter before notBefore, UTCTime/GeneralizedTime edges, every key type a server may use.
 * RFC 7671 §5.1 makes names and dates irrelevant for DANE-EE, so every one of them must parse
 * and verify against its own 3 x x record; the only refusal allowed is a DkError for a date that
 * is not a date at all, exactly where OpenSSL prints "Bad time value".
 *
 * The certificates are built from DER and signed for real (test/support/der.ts): openssl's
 * commands will not write most of them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  type KeyPairKeyObjectResult,
} from 'node:crypto';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  basicConstraints,
  buildCert,
  extension,
  name,
  OID,
  rfcTime,
  sanExtension,
  seq,
  time,
  type Attr,
  type StringType,
} from '../../../test/support/der.js';
import { openssl, tempDir } from '../../../test/support/pki.js';
import { presentedIds, verifyDane } from '../dane/index.js';
import { isDkError } from '../errors.js';
import { formatRdata, generateTlsa } from '../tlsa/index.js';
import { certFromDer, certLabel } from './cert.js';
import { orderChain } from './chain.js';
import { parseCertificates } from './parse.js';
import { parseAsn1Time } from './time.js';

interface PoolKey {
  keyType: string;
  privateKey: KeyObject;
  spki: Buffer;
}

const KEY_SPECS: [string, () => KeyPairKeyObjectResult][] = [
  ['rsa 1024', () => generateKeyPairSync('rsa', { modulusLength: 1024 })],
  ['rsa 4096', () => generateKeyPairSync('rsa', { modulusLength: 4096 })],
  ['ec P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ['ec P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
  ['ec P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' })],
  ['ed25519', () => generateKeyPairSync('ed25519')],
  ['ed448', () => generateKeyPairSync('ed448')],
  ['dsa 2048', () => generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 })],
];

let keys: PoolKey[];

before(() => {
  keys = KEY_SPECS.map(([keyType, make]) => {
    const { privateKey, publicKey } = make();
    return { keyType, privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
  });
});

const STRING_TYPES: StringType[] = ['utf8', 'printable', 'teletex', 'ia5', 'bmp'];

const attrArb: fc.Arbitrary<Attr> = fc.record({
  oid: fc.constantFrom(OID.cn, OID.o, OID.c, OID.ou),
  type: fc.constantFrom(...STRING_TYPES),
  value: fc.oneof(
    fc.constantFrom('', 'mail.example.test', 'Example, Inc.', 'a=b+c', 'ü', '\n', 'x\u0000y'),
    fc.string({ maxLength: 12 }),
  ),
});

/** Empty, single attributes, several RDNs, multi-valued RDNs. */
const nameArb = fc.array(fc.array(attrArb, { minLength: 1, maxLength: 3 }), { maxLength: 4 });

/** A time encoded one of the ways OpenSSL reads, with the instant it stands for. */
interface TimeCase {
  der: Buffer;
  at: Date;
}

const p2 = (n: number) => String(n).padStart(2, '0');

const timeArb: fc.Arbitrary<TimeCase> = fc.oneof(
  // RFC 5280 §4.1.2.5: UTCTime 1950–2049, GeneralizedTime outside, seconds and Z.
  fc
    .date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('2049-12-31T23:59:59Z') })
    .filter((d) => !Number.isNaN(d.getTime()))
    .map((d) => {
      const at = new Date(Math.floor(d.getTime() / 1000) * 1000);
      return { der: rfcTime(at), at };
    }),
  // GeneralizedTime over its whole range, year 0000 to 9999 (Date.UTC would map 0–99 wrongly).
  fc
    .record({
      y: fc.integer({ min: 0, max: 9999 }),
      mo: fc.integer({ min: 1, max: 12 }),
      d: fc.integer({ min: 1, max: 28 }),
      h: fc.integer({ min: 0, max: 23 }),
      mi: fc.integer({ min: 0, max: 59 }),
      s: fc.integer({ min: 0, max: 59 }),
      secs: fc.boolean(),
      frac: fc.option(fc.stringMatching(/^[0-9]{1,4}$/)),
    })
    .map(({ y, mo, d, h, mi, s, secs, frac }) => {
      const sec = secs ? p2(s) + (frac === null ? '' : `.${frac}`) : '';
      const at = new Date(0);
      at.setUTCFullYear(y, mo - 1, d);
      at.setUTCHours(h, mi, secs ? s : 0, 0);
      const text = `${String(y).padStart(4, '0')}${p2(mo)}${p2(d)}${p2(h)}${p2(mi)}${sec}Z`;
      return { der: time('gen', text), at };
    }),
  // UTCTime with a +hhmm/-hhmm offset and optional seconds; 49/50 is the century edge.
  fc
    .record({
      yy: fc.constantFrom(0, 49, 50, 99, 26),
      mo: fc.integer({ min: 1, max: 12 }),
      d: fc.integer({ min: 1, max: 28 }),
      h: fc.integer({ min: 0, max: 23 }),
      mi: fc.integer({ min: 0, max: 59 }),
      secs: fc.boolean(),
      sign: fc.constantFrom('+', '-'),
      oh: fc.integer({ min: 0, max: 12 }),
      om: fc.integer({ min: 0, max: 59 }),
    })
    .map(({ yy, mo, d, h, mi, secs, sign, oh, om }) => {
      const year = yy >= 50 ? 1900 + yy : 2000 + yy;
      const local = new Date(0);
      local.setUTCFullYear(year, mo - 1, d);
      local.setUTCHours(h, mi, secs ? 7 : 0, 0);
      const off = (sign === '+' ? 1 : -1) * (oh * 60 + om) * 60_000;
      const text = `${p2(yy)}${p2(mo)}${p2(d)}${p2(h)}${p2(mi)}${secs ? '07' : ''}${sign}${p2(oh)}${p2(om)}`;
      return { der: time('utc', text), at: new Date(local.getTime() - off) };
    }),
  // Leap days, both sides of the rule.
  fc.constantFrom<TimeCase>(
    { der: time('gen', '20000229120000Z'), at: new Date('2000-02-29T12:00:00Z') },
    { der: time('utc', '240229000000Z'), at: new Date('2024-02-29T00:00:00Z') },
    { der: time('gen', '99991231235959Z'), at: new Date('9999-12-31T23:59:59Z') },
  ),
);

const dnsArb = fc.array(
  fc.constantFrom('mail.example.test', '*.example.test', 'a.b.example.test', 'x', '', 'm*.t'),
  { maxLength: 3 },
);

const extArb = fc.record({
  ca: fc.option(fc.boolean()),
  san: fc.option(dnsArb),
  unknown: fc.option(fc.uint8Array({ maxLength: 8 })),
});

const specArb = fc.record({
  key: fc.nat(),
  signer: fc.option(fc.nat()),
  v1: fc.boolean(),
  subject: nameArb,
  issuer: fc.oneof(nameArb, fc.constant(null)), // null: the subject, as self-signed
  notBefore: timeArb,
  notAfter: timeArb,
  ext: extArb,
});

type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

function build(s: Spec) {
  const key = keys[s.key % keys.length]!;
  const signer = s.signer === null ? key : keys[s.signer % keys.length]!;
  const subject = name(s.subject);
  const issuer = s.issuer === null ? subject : name(s.issuer);
  const exts: Buffer[] = [];
  if (s.ext.ca !== null) exts.push(basicConstraints(s.ext.ca));
  if (s.ext.san !== null) exts.push(sanExtension(s.ext.san));
  if (s.ext.unknown !== null) {
    exts.push(extension('1.3.6.1.4.1.32473.1', false, Buffer.from(s.ext.unknown)));
  }
  const der = buildCert({
    version: s.v1 ? 1 : 3,
    issuer,
    subject,
    notBefore: s.notBefore.der,
    notAfter: s.notAfter.der,
    spki: key.spki,
    extensions: exts,
    signer: signer.privateKey,
  });
  return { der, key, subject, issuer };
}

describe('unusual but valid certificates parse, and DANE-EE verifies them', () => {
  test("the issue's certificate: empty subject and issuer, notAfter before notBefore", () => {
    const key = keys.find((k) => k.keyType === 'ed25519')!;
    const der = buildCert({
      issuer: seq(),
      subject: seq(),
      notBefore: rfcTime(new Date('2030-01-01T00:00:00Z')),
      notAfter: rfcTime(new Date('2029-01-01T00:00:00Z')),
      spki: key.spki,
      signer: key.privateKey,
    });
    const [c] = parseCertificates(der, 'bare.der');
    assert.equal(c!.subject, '');
    assert.equal(c!.issuer, '');
    assert.equal(certLabel(c!), 'empty subject');
    assert.equal(c!.selfIssued, true);
    assert.equal(c!.isCA, false);
    assert.equal(c!.notBefore.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(c!.notAfter.toISOString(), '2029-01-01T00:00:00.000Z');
    assert.deepEqual(presentedIds(c!), { dns: [], cn: [] });
    const rec = generateTlsa(c!, 3, 1, 1);
    const r = verifyDane({
      records: [rec],
      chain: [c!],
      names: ['mail.example.test'],
      time: new Date('2031-01-01T00:00:00Z'),
      mode: 'smtp',
    });
    assert.equal(r.verdict, 'verified', r.reasons.join('\n'));
    assert.match(
      r.reasons[0]!,
      /depth 0 \(empty subject\).*notAfter 2029-01-01T00:00:00Z is before its notBefore/,
    );
    // DANE-TA takes dates into account: a reversed period is never valid, and says so.
    const ta = verifyDane({
      records: [generateTlsa(c!, 2, 1, 1)],
      chain: [c!, c!],
      names: ['x.test'],
      time: new Date('2029-06-01T00:00:00Z'),
      mode: 'smtp',
    });
    assert.equal(ta.verdict, 'failed');
  });

  test("openssl's `req -x509 -subj /` certificate (empty names) parses", () => {
    const dir = tempDir();
    const keyFile = `${dir}/k.pem`;
    openssl([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-384',
      '-out',
      keyFile,
    ]);
    const pem = openssl(['req', '-new', '-x509', '-key', keyFile, '-subj', '/', '-days', '1']);
    const [c] = parseCertificates(pem, 'empty.pem');
    assert.equal(c!.subject, '');
    assert.equal(c!.keyType, 'ec P-384');
    assert.equal(c!.isCA, true); // openssl req -x509 writes basicConstraints CA:TRUE
  });

  test('property: every generated certificate parses with the facts it was built with', () => {
    fc.assert(
      fc.property(specArb, fc.date({ noInvalidDate: true }), (s, when) => {
        const { der, key, subject, issuer } = build(s);
        let certs;
        try {
          certs = parseCertificates(der, 'gen.der');
        } catch (e) {
          assert.fail(`refused: ${isDkError(e) ? e.message : String(e)}`);
        }
        assert.equal(certs.length, 1);
        const c = certs[0]!;
        assert.ok(c.spki.equals(key.spki));
        assert.equal(c.keyType, key.keyType);
        assert.equal(c.notBefore.getTime(), s.notBefore.at.getTime());
        assert.equal(c.notAfter.getTime(), s.notAfter.at.getTime());
        assert.equal(typeof c.subject, 'string');
        assert.equal(typeof c.issuer, 'string');
        assert.doesNotMatch(certLabel(c) + c.issuer, /\n/);
        assert.equal(c.subject === '', s.subject.length === 0);
        if (issuer.equals(subject)) assert.equal(c.selfIssued, true);
        assert.equal(c.isCA, !s.v1 && s.ext.ca === true);
        const ids = presentedIds(c);
        assert.deepEqual(ids.dns, s.v1 ? [] : (s.ext.san ?? []));
        // PEM and DER give the same certificate.
        const pem = parseCertificates(
          Buffer.from(
            `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`,
          ),
          'gen.pem',
        );
        assert.ok(pem[0]!.der.equals(c.der));
        // RFC 7671 §5.1: its own DANE-EE record verifies it, whatever the name, time and dates.
        for (const [sel, mt] of [
          [1, 1],
          [0, 2],
          [1, 0],
        ] as const) {
          const rec = generateTlsa(c, 3, sel, mt);
          const r = verifyDane({
            records: [rec],
            chain: [c],
            names: ['mail.example.test'],
            time: when,
            mode: 'smtp',
          });
          assert.equal(r.verdict, 'verified', `${formatRdata(rec)}: ${r.reasons.join('; ')}`);
        }
        // DANE-TA and chain ordering over it give a verdict, never an exception.
        const ta = verifyDane({
          records: [generateTlsa(c, 2, 1, 1)],
          chain: [c, c],
          names: ['mail.example.test', '.example.test'],
          time: when,
          mode: 'generic',
        });
        assert.ok(['verified', 'failed'].includes(ta.verdict));
        assert.equal(orderChain([c, c]).length, 1);
      }),
      { numRuns: 300 },
    );
  });

  test('property: arbitrary bytes inside the time fields give a Cert or E_CERT_INVALID', () => {
    const key = () => keys[5]!;
    const junkTime = fc.record({
      tag: fc.constantFrom<'utc' | 'gen'>('utc', 'gen'),
      text: fc.oneof(
        fc.string({ maxLength: 20, unit: 'binary-ascii' }),
        fc.stringMatching(/^[0-9]{10,16}[Z+\-.0-9]{0,6}$/),
      ),
    });
    fc.assert(
      fc.property(junkTime, junkTime, (a, b) => {
        const der = buildCert({
          issuer: seq(),
          subject: seq(),
          notBefore: time(a.tag, a.text),
          notAfter: time(b.tag, b.text),
          spki: key().spki,
          signer: key().privateKey,
        });
        const tagOf = (t: 'utc' | 'gen') => (t === 'utc' ? 0x17 : 0x18);
        const valid =
          parseAsn1Time(tagOf(a.tag), a.text) !== undefined &&
          parseAsn1Time(tagOf(b.tag), b.text) !== undefined;
        try {
          certFromDer(der);
          assert.ok(valid, 'accepted a date the time parser calls invalid');
        } catch (e) {
          if (!isDkError(e)) throw e;
          assert.equal(e.code, 'E_CERT_INVALID');
          assert.doesNotMatch(e.message, /\n/);
        }
      }),
      { numRuns: 400 },
    );
  });
});

/** `openssl x509 -dateopt iso_8601` prints "notBefore=   1-01-01 00:00:00Z" or "Bad time value". */
function opensslDates(der: Buffer): (Date | 'bad')[] {
  const r = spawnSync(
    'openssl',
    ['x509', '-inform', 'der', '-noout', '-startdate', '-enddate', '-dateopt', 'iso_8601'],
    { input: der, encoding: 'utf8' },
  );
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const v = line.replace(/^not(?:Before|After)=/, '');
      if (v === 'Bad time value') return 'bad';
      const m = /^\s*(\d+)-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.\d+)?Z$/.exec(v);
      assert.ok(m, `unexpected openssl date ${line}`);
      const d = new Date(0);
      d.setUTCFullYear(+m[1]!, +m[2]! - 1, +m[3]!);
      d.setUTCHours(+m[4]!, +m[5]!, +m[6]!, 0);
      return d;
    });
}

test('dates agree with OpenSSL to the second, and "Bad time value" is exactly E_CERT_INVALID', () => {
  const key = keys[2]!;
  const textArb = fc.oneof(
    timeArb.map((t) => ({
      tag: t.der[0] === 0x17 ? ('utc' as const) : ('gen' as const),
      text: t.der.subarray(2).toString('latin1'),
    })),
    fc.record({
      tag: fc.constantFrom<'utc' | 'gen'>('utc', 'gen'),
      // near misses: day 0/31/32, hour 24, minute/second 60, offsets past 12 hours, '.' alone
      text: fc
        .tuple(
          fc.constantFrom('26', '1999', '0000', '50', '49'),
          fc.constantFrom('01', '02', '12', '13', '00'),
          fc.constantFrom('01', '28', '29', '30', '31', '32', '00'),
          fc.constantFrom('00', '23', '24'),
          fc.constantFrom('00', '59', '60'),
          fc.constantFrom('', '00', '59', '60', '00.5', '00.'),
          fc.constantFrom('Z', '+0000', '-1200', '+1300', '+0060', 'z', ''),
        )
        .map((parts) => parts.join('')),
    }),
  );
  fc.assert(
    fc.property(textArb, textArb, (a, b) => {
      const der = buildCert({
        issuer: seq(),
        subject: seq(),
        notBefore: time(a.tag, a.text),
        notAfter: time(b.tag, b.text),
        spki: key.spki,
        signer: key.privateKey,
      });
      const ref = opensslDates(der);
      let mine: (Date | 'bad')[];
      try {
        const c = certFromDer(der);
        mine = [c.notBefore, c.notAfter];
      } catch (e) {
        assert.ok(isDkError(e) && e.code === 'E_CERT_INVALID', String(e));
        mine = ref.includes('bad') ? ref : ['bad', 'bad'];
        assert.ok(ref.includes('bad'), `refused what openssl reads: ${JSON.stringify([a, b])}`);
      }
      assert.deepEqual(
        mine.map((d) => (d === 'bad' ? d : d.getTime())),
        ref.map((d) => (d === 'bad' ? d : d.getTime())),
        JSON.stringify([a, b]),
      );
    }),
    { numRuns: 60 },
  );
});

test('the public key of every key type is what a DANE client hashes', () => {
  for (const k of keys) {
    const der = buildCert({
      issuer: seq(),
      subject: seq(),
      notBefore: rfcTime(new Date('2026-01-01T00:00:00Z')),
      notAfter: rfcTime(new Date('2026-01-02T00:00:00Z')),
      spki: k.spki,
      signer: k.privateKey,
    });
    const c = certFromDer(der);
    assert.equal(c.keyType, k.keyType);
    // openssl's own reading of the certificate's key, re-exported by node, is the same SPKI.
    const pub = openssl(['x509', '-inform', 'der', '-noout', '-pubkey'], der);
    assert.ok(
      createPublicKey(pub).export({ type: 'spki', format: 'der' }).equals(c.spki),
      k.keyType,
    );
  }
});
