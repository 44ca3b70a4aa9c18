/**
 * The facts of an issued certificate the store keeps, and its ARI CertID (RFC 9773 §4.1).
 */
import { X509Certificate } from 'node:crypto';
import { DkError } from '../../core/errors.js';
import { children, readTlv, tbsFields, type Tlv } from '../../core/x509/der.js';

export interface IssuedFacts {
  /** ISO 8601 */
  notBefore: string;
  notAfter: string;
  /** upper-case hex, as node:crypto prints it */
  serial: string;
  /** RFC 9773 §4.1, or null when the certificate has no AKI keyIdentifier */
  certId: string | null;
  /** every DNS name in subjectAltName */
  names: string[];
}

const AKI_OID = Buffer.from('0603551d23', 'hex');

function bad(what: string): DkError {
  return new DkError('data', 'E_ACME_CERT', `Cannot read the issued certificate: ${what}`);
}

/**
 * RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial), where the serial is the
 * DER INTEGER's content octets (a leading zero octet included), without padding.
 */
export function ariCertId(der: Buffer): string | null {
  const t = tbsFields(der);
  if (!t) throw bad('not DER');
  const serial = t.fields[t.base];
  if (!serial || serial.tag !== 0x02) throw bad('no serial number');
  const ext = t.fields.find((f) => f.tag === 0xa3);
  if (!ext) return null;
  const list = readTlv(der, ext.contentStart);
  const exts: Tlv[] = (list && children(der, list)) ?? [];
  for (const e of exts) {
    const parts = children(der, e);
    const first = parts?.[0];
    if (!parts || !first || !der.subarray(first.start, first.end).equals(AKI_OID)) continue;
    // extnValue is the last part (critical BOOLEAN optional); it wraps AuthorityKeyIdentifier
    // ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... } (RFC 5280 §4.2.1.1).
    const value = parts[parts.length - 1]!;
    const aki = readTlv(der, value.contentStart);
    const keyId = aki && children(der, aki)?.find((c) => c.tag === 0x80);
    if (!keyId) return null;
    return (
      der.subarray(keyId.contentStart, keyId.end).toString('base64url') +
      '.' +
      der.subarray(serial.contentStart, serial.end).toString('base64url')
    );
  }
  return null;
}

/** Facts of the leaf (the first certificate of the chain the CA returned). */
export function issuedFacts(leafPem: string): IssuedFacts {
  let x: X509Certificate;
  try {
    x = new X509Certificate(leafPem);
  } catch {
    throw bad('not a certificate');
  }
  const names = (x.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return {
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    serial: x.serialNumber,
    certId: ariCertId(x.raw),
    names,
  };
}

/** Splits a PEM chain into its certificates, in the order given (leaf first from an ACME CA). */
export function splitChain(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}
