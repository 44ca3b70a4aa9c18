/**
 * One certificate with the facts danekeeper needs, read once. `der` and `spki` are exactly the
 * bytes a TLSA record hashes: selector 0 is the whole certificate, selector 1 its
 * SubjectPublicKeyInfo (RFC 6698 §2.1.2).
 */
import { X509Certificate } from 'node:crypto';
import { DkError } from '../errors.js';
import { certificateSpki } from './der.js';
import { keyTypeOf, reason } from './key.js';

export interface Cert {
  /** exact DER bytes */
  der: Buffer;
  x509: X509Certificate;
  /** SubjectPublicKeyInfo DER */
  spki: Buffer;
  /** one line, attributes in certificate order, e.g. "C=DE, O=Example, CN=mail.example.test" */
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** 'rsa 2048', 'ec P-256', 'ed25519', 'ed448', ... */
  keyType: string;
  /** basicConstraints cA (RFC 5280 §4.2.1.9) */
  isCA: boolean;
  /** subject and issuer names are equal (RFC 5280 §6.1); true for roots */
  selfIssued: boolean;
}

/**
 * Reads one DER certificate. `source` names it in error messages (default "certificate").
 * Throws DkError E_CERT_INVALID when the bytes are not exactly one X.509 certificate.
 */
export function certFromDer(der: Buffer, source = 'certificate'): Cert {
  const invalid = (why: string, cause?: unknown) =>
    new DkError('data', 'E_CERT_INVALID', `${source}: not a valid X.509 certificate${why}`, {
      cause,
    });
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (e) {
    // OpenSSL tries PEM first, so its reason for DER input is often "no start line": useless.
    throw invalid(/no start line/i.test(String(e)) ? '' : reason(e), e);
  }
  // Node accepts trailing bytes after the DER, and reads PEM text if the bytes hold any; the
  // certificate it parsed must be exactly the bytes we were given, or we would hash others.
  if (!x509.raw.equals(der)) throw invalid(': extra data around the DER');
  // The SPKI is taken from the certificate's own bytes rather than re-exported by node, so it
  // is exactly what was signed and works for key algorithms node cannot load.
  const spki = certificateSpki(der);
  if (!spki) throw invalid(': no SubjectPublicKeyInfo');
  try {
    return {
      der: Buffer.from(der),
      x509,
      spki: Buffer.from(spki),
      subject: oneLine(x509.subject),
      issuer: oneLine(x509.issuer),
      notBefore: asn1Time(x509.validFrom),
      notAfter: asn1Time(x509.validTo),
      keyType: keyTypeOfCert(x509),
      isCA: x509.ca,
      selfIssued: x509.subject === x509.issuer,
    };
  } catch (e) {
    // Accessors on a certificate OpenSSL parsed only loosely must not leak node's errors.
    throw invalid(reason(e), e);
  }
}

function keyTypeOfCert(x509: X509Certificate): string {
  try {
    return keyTypeOf(x509.publicKey);
  } catch {
    // node cannot load every key algorithm a certificate may carry (GOST, ...); the SPKI
    // digest does not need it.
    return 'unknown';
  }
}

/** Node joins attributes with newlines and escapes commas inside values ("O=Foo\, Inc."). */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Parses OpenSSL's ASN1_TIME_print output ("Nov  2 18:20:30 2026 GMT"). Node 20 has no
 * validFromDate, and Date's own parsing of this format is implementation-defined.
 */
function asn1Time(s: string): Date {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? (\d{4}) GMT$/.exec(s);
  const month = m ? MONTHS.indexOf(m[1]!) : -1;
  if (!m || month < 0) throw new Error(`unreadable validity date ${JSON.stringify(s)}`);
  return new Date(Date.UTC(+m[6]!, month, +m[2]!, +m[3]!, +m[4]!, +m[5]!));
}
