/**
 * One certificate with the facts danekeeper needs, read once. `der` and `spki` are exactly the
 * bytes a TLSA record hashes: selector 0 is the whole certificate, selector 1 its
 * SubjectPublicKeyInfo (RFC 6698 §2.1.2).
 */
import { X509Certificate } from 'node:crypto';
import { DkError } from '../errors.js';
import { certificateSpki, children, tbsFields } from './der.js';
import { keyTypeOf, reason } from './key.js';
import { readTime } from './time.js';

export interface Cert {
  /** exact DER bytes */
  der: Buffer;
  x509: X509Certificate;
  /** SubjectPublicKeyInfo DER */
  spki: Buffer;
  /**
   * one line, attributes in certificate order, e.g. "C=DE, O=Example, CN=mail.example.test";
   * "" for an empty name (see certLabel)
   */
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
  const tbs = tbsFields(der)!;
  const [issuerTlv, validity, subjectTlv] = tbs.fields.slice(tbs.base + 2, tbs.base + 5);
  const times = validity && children(der, validity);
  // RFC 5280 §4.1.2.5: Validity ::= SEQUENCE { notBefore Time, notAfter Time }. Read from the
  // DER: node's validFrom text cannot tell year 1 from 2001's "1" and has no Date on Node 20.
  if (!times || times.length !== 2) throw invalid(': the validity field is not two times');
  const [notBefore, notAfter] = times.map((t, i) => {
    const d = readTime(der, t.start, t.end);
    if (typeof d === 'string') throw invalid(`: ${i === 0 ? 'notBefore' : 'notAfter'} ${d}`);
    return d;
  }) as [Date, Date];
  // RFC 7671 §5.1: a DANE-EE certificate's names do not matter, and bare certificates made for
  // DANE often have empty ones; node then returns undefined rather than "".
  const subject = nameText(() => x509.subject);
  const issuer = nameText(() => x509.issuer);
  const sameName =
    issuerTlv !== undefined &&
    subjectTlv !== undefined &&
    der
      .subarray(issuerTlv.start, issuerTlv.end)
      .equals(der.subarray(subjectTlv.start, subjectTlv.end));
  try {
    return {
      der: Buffer.from(der),
      x509,
      spki: Buffer.from(spki),
      subject,
      issuer,
      // RFC 7671 §5.1: dates are facts to report, never a reason to refuse a certificate, even
      // when notAfter comes before notBefore.
      notBefore,
      notAfter,
      keyType: keyTypeOfCert(x509),
      isCA: x509.ca,
      // RFC 5280 §6.1: names compared as OpenSSL does loosely (node's text) or exactly (DER).
      selfIssued: sameName || (subject !== '' && subject === issuer),
    };
  } catch (e) {
    // Accessors on a certificate OpenSSL parsed only loosely must not leak node's errors.
    throw invalid(reason(e), e);
  }
}

/**
 * How a certificate is named in messages: its subject, or "empty subject" when it has none
 * (RFC 5280 §4.1.2.6 allows an empty subject; DANE-EE certificates often have one).
 */
export function certLabel(c: Pick<Cert, 'subject'>): string {
  return c.subject === '' ? 'empty subject' : c.subject;
}

function nameText(get: () => string | undefined): string {
  try {
    return oneLine(get() ?? '');
  } catch {
    return '';
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
