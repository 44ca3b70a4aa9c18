/**
 * Just enough DER (ITU-T X.690 §8.1, §10.1) to find where one object ends and to tell a
 * certificate, a CSR and an encrypted key apart before handing bytes to node:crypto, so
 * error messages can say what the input is rather than only that OpenSSL refused it.
 * Not part of x509's public API; core/dane reads names from the DER with it too.
 */

/** One tag-length-value header. `end` may lie past the buffer when the input is truncated. */
export interface Tlv {
  tag: number;
  /** offset of the tag byte */
  start: number;
  /** offset of the first content byte */
  contentStart: number;
  /** offset just past the content, as declared by the length */
  end: number;
}

export const TAG_INTEGER = 0x02;
export const TAG_OCTET_STRING = 0x04;
export const TAG_SEQUENCE = 0x30;
/** [0] constructed, context-specific: CSR attributes (RFC 2986 §4.1), cert version */
export const TAG_CONTEXT_0 = 0xa0;

/**
 * Reads the header at `offset`. Returns undefined when the header itself is malformed or
 * cut off, or not DER: high-tag-number form, indefinite length (X.690 §10.1 forbids it in
 * DER), lengths over 4 bytes.
 */
export function readTlv(buf: Uint8Array, offset: number): Tlv | undefined {
  if (offset + 2 > buf.length) return undefined;
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  const first = buf[offset + 1]!;
  let pos = offset + 2;
  let length = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || pos + n > buf.length) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos + i]!;
    pos += n;
  }
  return { tag, start: offset, contentStart: pos, end: pos + length };
}

/** The direct children of a constructed TLV, or undefined when they do not tile it exactly. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] | undefined {
  if (parent.end > buf.length) return undefined;
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const t = readTlv(buf, pos);
    if (!t || t.end > parent.end) return undefined;
    out.push(t);
    pos = t.end;
  }
  return out;
}

function tagsOf(buf: Uint8Array, tlv: Tlv | undefined): number[] | undefined {
  if (!tlv || tlv.tag !== TAG_SEQUENCE) return undefined;
  return children(buf, tlv)?.map((c) => c.tag);
}

/**
 * RFC 2986 §4: CertificationRequest ::= SEQUENCE { CertificationRequestInfo, alg, sig } and
 * CertificationRequestInfo ::= SEQUENCE { INTEGER version, Name, SubjectPublicKeyInfo, [0] }.
 * A TBSCertificate (RFC 5280 §4.1) has at least six fields, so four is a CSR.
 */
export function looksLikeCsr(der: Uint8Array): boolean {
  const outer = readTlv(der, 0);
  if (!outer || outer.tag !== TAG_SEQUENCE || outer.end > der.length) return false;
  const kids = children(der, outer);
  if (!kids || kids.length !== 3) return false;
  const info = tagsOf(der, kids[0]);
  return (
    info !== undefined &&
    info.join(',') === [TAG_INTEGER, TAG_SEQUENCE, TAG_SEQUENCE, TAG_CONTEXT_0].join(',')
  );
}

/**
 * RFC 5958 §3: EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING },
 * where an unencrypted OneAsymmetricKey starts with an INTEGER version.
 */
export function looksLikeEncryptedPkcs8(der: Uint8Array): boolean {
  const tags = tagsOf(der, readTlv(der, 0));
  return tags !== undefined && tags.join(',') === [TAG_SEQUENCE, TAG_OCTET_STRING].join(',');
}

/**
 * The fields of a certificate's TBSCertificate (RFC 5280 §4.1), or undefined when the outer
 * structure does not tile. `base` is 1 when the optional version [0] is present (v2/v3), 0 for
 * a v1 certificate: serialNumber is `fields[base]`, then signature, issuer, validity, subject,
 * subjectPublicKeyInfo, and optional unique IDs and [3] extensions.
 */
export function tbsFields(der: Buffer): { fields: Tlv[]; base: number } | undefined {
  const outer = readTlv(der, 0);
  const tbs = outer && children(der, outer)?.[0];
  const fields = tbs && tbs.tag === TAG_SEQUENCE ? children(der, tbs) : undefined;
  if (!fields || fields.length === 0) return undefined;
  return { fields, base: fields[0]!.tag === TAG_CONTEXT_0 ? 1 : 0 };
}

/**
 * The SubjectPublicKeyInfo bytes exactly as they appear in a certificate: the input of a TLSA
 * selector 1 digest (RFC 6698 §2.1.2).
 */
export function certificateSpki(der: Buffer): Buffer | undefined {
  const t = tbsFields(der);
  const spki = t?.fields[t.base + 5];
  return spki && spki.tag === TAG_SEQUENCE ? der.subarray(spki.start, spki.end) : undefined;
}
