/**
 * A small DER writer (ITU-T X.690) and an X.509 certificate builder on node:crypto, for tests
 * that need certificates openssl's commands will not make: empty names, no extensions, notAfter
 * before notBefore, GeneralizedTime before 1950 or after 2049, UTCTime without seconds, v1
 * certificates, unknown string types. Every certificate is signed for real by the key given, so
 * it is structurally valid; only what RFC 5280 profiles (dates, names, extensions) is unusual.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';

export function tlv(tag: number, body: Buffer | Buffer[]): Buffer {
  const content = Array.isArray(body) ? Buffer.concat(body) : body;
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

export const seq = (...items: Buffer[]) => tlv(0x30, items);
export const set = (...items: Buffer[]) => tlv(0x31, items);
export const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);
export const octets = (b: Buffer) => tlv(0x04, b);
export const bitString = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
export const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
export const nul = () => Buffer.from([0x05, 0x00]);

/** A non-negative INTEGER from big-endian magnitude bytes (a leading 0 added when needed). */
export function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
  if (b.length === 0) b = Buffer.from([0]);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128))
      chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** Directory string types (X.520): how an attribute value is encoded. */
export const STRING_TAGS = {
  utf8: 0x0c,
  printable: 0x13,
  teletex: 0x14,
  ia5: 0x16,
  bmp: 0x1e,
} as const;
export type StringType = keyof typeof STRING_TAGS;

export function dirString(type: StringType, value: string): Buffer {
  if (type === 'bmp') return tlv(0x1e, Buffer.from(value, 'utf16le').swap16());
  return tlv(STRING_TAGS[type], Buffer.from(value, type === 'utf8' ? 'utf8' : 'latin1'));
}

export const OID = {
  cn: '2.5.4.3',
  o: '2.5.4.10',
  c: '2.5.4.6',
  ou: '2.5.4.11',
  san: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  skid: '2.5.29.14',
};

export interface Attr {
  oid: string;
  type: StringType;
  value: string;
}

/** A Name: each inner array is one RDN (several attributes = a multi-valued RDN). */
export function name(rdns: Attr[][]): Buffer {
  return seq(
    ...rdns.map((rdn) => set(...rdn.map((a) => seq(oid(a.oid), dirString(a.type, a.value))))),
  );
}

/** A Time as written, tag chosen by the caller: UTCTime 0x17 or GeneralizedTime 0x18. */
export function time(kind: 'utc' | 'gen', text: string): Buffer {
  return tlv(kind === 'utc' ? 0x17 : 0x18, Buffer.from(text, 'latin1'));
}

/** RFC 5280 §4.1.2.5: UTCTime for 1950–2049, GeneralizedTime otherwise. */
export function rfcTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const rest =
    p(d.getUTCMonth() + 1) +
    p(d.getUTCDate()) +
    p(d.getUTCHours()) +
    p(d.getUTCMinutes()) +
    p(d.getUTCSeconds()) +
    'Z';
  return y >= 1950 && y <= 2049 ? time('utc', p(y % 100) + rest) : time('gen', p(y, 4) + rest);
}

export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

export function sanExtension(dnsNames: string[]): Buffer {
  return extension(
    OID.san,
    false,
    seq(...dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'latin1')))),
  );
}

export function basicConstraints(ca: boolean): Buffer {
  return extension(OID.basicConstraints, true, ca ? seq(bool(true)) : seq());
}

/** AlgorithmIdentifier and digest for signing with `key`, by key type. */
function signatureAlgorithm(key: KeyObject): { alg: Buffer; digest: string | null } {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { alg: seq(oid('1.2.840.113549.1.1.11'), nul()), digest: 'sha256' };
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'secp384r1') return { alg: seq(oid('1.2.840.10045.4.3.3')), digest: 'sha384' };
      if (curve === 'secp521r1') return { alg: seq(oid('1.2.840.10045.4.3.4')), digest: 'sha512' };
      return { alg: seq(oid('1.2.840.10045.4.3.2')), digest: 'sha256' };
    }
    case 'ed25519':
      return { alg: seq(oid('1.3.101.112')), digest: null };
    case 'ed448':
      return { alg: seq(oid('1.3.101.113')), digest: null };
    case 'dsa':
      return { alg: seq(oid('2.16.840.1.101.3.4.3.2')), digest: 'sha256' };
    default:
      throw new Error(`cannot sign with ${key.asymmetricKeyType}`);
  }
}

export interface CertSpec {
  /** omitted: a v1 certificate (no version field, no extensions allowed) */
  version?: 1 | 3;
  serial?: Buffer;
  issuer: Buffer;
  subject: Buffer;
  notBefore: Buffer;
  notAfter: Buffer;
  /** SubjectPublicKeyInfo DER of the certified key */
  spki: Buffer;
  /** Extension DERs; [] writes an empty-free certificate with no [3] field at all */
  extensions?: Buffer[];
  /** the issuer's private key (the subject's own for self-signed) */
  signer: KeyObject;
}

/** Builds and signs a certificate; returns its DER. */
export function buildCert(s: CertSpec): Buffer {
  const { alg, digest } = signatureAlgorithm(s.signer);
  const serial =
    s.serial ?? createHash('sha256').update(s.spki).update(s.subject).digest().subarray(0, 12);
  const fields = [
    ...(s.version === 1 ? [] : [explicit(0, integer(Buffer.from([2])))]),
    integer(serial),
    alg,
    s.issuer,
    seq(s.notBefore, s.notAfter),
    s.subject,
    s.spki,
  ];
  if (s.version !== 1 && s.extensions && s.extensions.length > 0) {
    fields.push(tlv(0xa3, seq(...s.extensions)));
  }
  const tbs = seq(...fields);
  const signature = sign(digest, tbs, s.signer);
  return seq(tbs, alg, bitString(signature));
}
