/**
 * Issue 12 (mutation testing): the edges of names.ts and identity.ts that names.test.ts leaves
 * open, named by Stryker's survivors (docs/mutation.md). Pure (hand-built DER, no openssl), so
 * it is cheap to run for every mutant.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Cert } from '../x509/index.js';
import { presentedIds } from './identity.js';
import { effectiveIds, isReferenceName, isSubdomainRef, matchName } from './names.js';

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

test('without a dNSName the CN counts, and is named as a CN (RFC 6125 §6.4.4)', () => {
  assert.deepEqual(effectiveIds({ dns: [], cn: ['x.example.test'] }), {
    kind: 'CN',
    names: ['x.example.test'],
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
    ['*.example.test', 'mx.other.test', false, 'a wildcard stands for one label, not the rest'],
    ['mx..example.test', 'mx.example.test', false, 'an empty presented label never matches'],
    ['a b.test', 'a b.test', false, 'a reference that is no name matches nothing, itself neither'],
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
const IAN = oid(0x55, 0x1d, 0x12);
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
    // a GeneralNames SEQUENCE claiming the bytes after its OCTET STRING too, where a dNSName
    // follows: names are read within the extension only
    const after = str(0x82, 'z.example.test');
    const names = gnames(str(0x82, 'y.example.test'));
    const overrun = Buffer.from(names);
    overrun[1] = overrun[1]! + after.length;
    const bad = tlv(0x30, SAN, tlv(0x04, overrun));
    assert.deepEqual(presentedIds(cert({ subject, exts: [bad, after] })).dns, []);
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

  test("UTF8String is UTF-8, not Latin-1; an issuer's alternative name is not the certificate's", () => {
    const subject = tlv(0x30, rdn(atv(CN, str(0x0c, 'b\u00fccher.example.test'))));
    const exts = [
      ext(IAN, gnames(str(0x82, 'issuer.example.test'))), // RFC 5280 §4.2.1.7
      ext(SAN, gnames(str(0x82, 'own.example.test'))),
    ];
    assert.deepEqual(presentedIds(cert({ subject, exts })), {
      dns: ['own.example.test'],
      cn: ['b\u00fccher.example.test'],
    });
  });

  test('a TBSCertificate cut short, or an attribute without a value: nothing read, no exception', () => {
    const cut = [
      Buffer.from([0x30, 0x02, 0x30, 0x00]), // empty TBSCertificate
      Buffer.from([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x01]), // a serial, no subject
    ];
    for (const der of cut) {
      assert.deepEqual(presentedIds({ der } as unknown as Cert), { dns: [], cn: [] });
    }
    const subject = tlv(0x30, rdn(tlv(0x30, CN)), rdn(atv(CN, str(0x0c, 'v.example.test'))));
    assert.deepEqual(presentedIds(cert({ subject })).cn, ['v.example.test']);
  });
});
