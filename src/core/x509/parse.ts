/**
 * Reads every certificate in a file: a PEM bundle (RFC 7468: any number of blocks, any text
 * around them, CRLF or LF) or DER (one certificate, or several concatenated), told apart by
 * content (sniffFormat).
 *
 * In a PEM file, blocks other than certificates (a private key in a Postfix chain file or a
 * HAProxy bundle, EC PARAMETERS, a CRL) are skipped as long as there is at least one
 * certificate; with none, the error says what the file holds instead.
 */
import { DkError } from '../errors.js';
import { certFromDer, type Cert } from './cert.js';
import { children, looksLikeCsr, readTlv, TAG_SEQUENCE } from './der.js';
import { CERT_LABELS, CSR_LABELS, keyFromDer, keyLabel } from './key.js';
import { byFormat, pemBytes, splitPem, type PemBlock } from './pem.js';

export function parseCertificates(input: Buffer, source: string): Cert[] {
  return byFormat(input, source, {
    der: fromDer,
    pem: fromPem,
    neither: 'not a certificate: no "-----BEGIN CERTIFICATE-----" line and not DER',
  });
}

function fromPem(input: Buffer, source: string): Cert[] {
  const blocks = splitPem(input, source);
  const certBlocks = blocks.filter((b) => CERT_LABELS.has(b.label));
  if (certBlocks.length === 0) throw noCertificate(blocks, source);
  return certBlocks.map((b, i) => {
    const where = `certificate ${i + 1} (line ${b.line})`;
    let der = pemBytes(b, source);
    const t = readTlv(der, 0);
    if (t && t.end > der.length) {
      throw new DkError('data', 'E_DER_TRUNCATED', `${source}: ${where} is truncated`, {
        offset: b.offset,
      });
    }
    // OpenSSL's TRUSTED CERTIFICATE is the certificate followed by its trust settings
    // (X509_AUX); the certificate is the first DER object.
    if (b.label === 'TRUSTED CERTIFICATE' && t) der = der.subarray(0, t.end);
    try {
      return certFromDer(der, `${source}: ${where}`);
    } catch (e) {
      throw e instanceof DkError
        ? new DkError(e.kind, e.code, e.message, { offset: b.offset, cause: e.cause })
        : e;
    }
  });
}

function noCertificate(blocks: PemBlock[], source: string): DkError {
  const isKey = blocks.map((b) => keyLabel(b.label)).filter((k) => k !== undefined);
  if (isKey.length > 0) {
    const what = isKey.some((p) => p) ? 'a private key' : 'a public key';
    return new DkError(
      'data',
      'E_CERT_EXPECTED_GOT_KEY',
      `${source}: contains ${what}, not a certificate`,
    );
  }
  if (blocks.some((b) => CSR_LABELS.has(b.label))) {
    return new DkError(
      'data',
      'E_CERT_EXPECTED_GOT_CSR',
      `${source}: contains a certificate request (CSR), not a certificate`,
    );
  }
  if (blocks.some((b) => b.label === 'PKCS7')) {
    return new DkError(
      'data',
      'E_CERT_MISSING',
      `${source}: contains PKCS#7, not PEM certificates; convert it (openssl pkcs7 -print_certs -in FILE)`,
    );
  }
  const found = blocks.map((b) => b.label).join(', ');
  return new DkError(
    'data',
    'E_CERT_MISSING',
    `${source}: contains no certificate (found ${found})`,
  );
}

/** One DER certificate, or several concatenated (`cat a.der b.der`). */
function fromDer(input: Buffer, source: string): Cert[] {
  const certs: Cert[] = [];
  let pos = 0;
  while (pos < input.length) {
    const t = readTlv(input, pos);
    if (!t || t.tag !== TAG_SEQUENCE || t.end > input.length) {
      throw new DkError(
        'data',
        'E_DER_TRAILING',
        `${source}: ${input.length - pos} bytes of trailing data after the DER certificate`,
        { offset: pos },
      );
    }
    const der = input.subarray(pos, t.end);
    if (pos === 0) rejectNonCertificate(der, source);
    const where = certs.length === 0 ? source : `${source}: certificate ${certs.length + 1}`;
    certs.push(certFromDer(der, where));
    pos = t.end;
  }
  return certs;
}

/** Names what a lone DER object is when it is not a certificate, for a useful message. */
function rejectNonCertificate(der: Buffer, source: string): void {
  // A certificate is SEQUENCE { tbs SEQUENCE, alg SEQUENCE, sig BIT STRING } (RFC 5280 §4.1);
  // anything of that shape goes to X509Certificate, which gives the precise verdict.
  const kids = children(der, readTlv(der, 0)!);
  if (kids?.length === 3 && kids[0]!.tag === TAG_SEQUENCE && !looksLikeCsr(der)) return;
  if (looksLikeCsr(der)) {
    throw new DkError(
      'data',
      'E_CERT_EXPECTED_GOT_CSR',
      `${source}: contains a certificate request (CSR), not a certificate`,
    );
  }
  const key = keyFromDer(der);
  if (key !== undefined) {
    const what = key === 'encrypted' || key.isPrivate ? 'a private key' : 'a public key';
    throw new DkError(
      'data',
      'E_CERT_EXPECTED_GOT_KEY',
      `${source}: contains ${what}, not a certificate`,
    );
  }
}
