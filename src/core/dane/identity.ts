/**
 * The presented identifiers of a certificate (RFC 6125 §1.8): dNSName subjectAltNames and the
 * subject's CN attributes, read from the DER itself. node formats `subjectAltName` and `subject`
 * as display strings with its own escaping; the DER is exact.
 */
import type { Cert } from '../x509/index.js';
import { children, readTlv, type Tlv } from '../x509/der.js';
import type { PresentedIds } from './names.js';

/** The certificate was already parsed by node, so its DER is well-formed; a part that still does
 * not tile reads as absent rather than throwing. */
function kids(buf: Buffer, parent: Tlv): Tlv[] {
  return children(buf, parent) ?? [];
}

function within(buf: Buffer, offset: number, limit: number): Tlv | undefined {
  const t = readTlv(buf, offset);
  return t && t.end <= limit ? t : undefined;
}

const OID_CN = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
const OID_SAN = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x11]);
/** GeneralName dNSName [2] IA5String, implicitly tagged (RFC 5280 §4.2.1.6) */
const TAG_DNS_NAME = 0x82;

function directoryString(buf: Buffer, t: Tlv): string {
  const body = buf.subarray(t.contentStart, t.end);
  // BMPString is UTF-16BE (X.680 §41.16)
  if (t.tag === 0x1e) return body.length % 2 ? '' : Buffer.from(body).swap16().toString('utf16le');
  if (t.tag === 0x14) return body.toString('latin1');
  return body.toString('utf8');
}

export function presentedIds(cert: Cert): PresentedIds {
  const der = cert.der;
  const ids: PresentedIds = { dns: [], cn: [] };
  const outer = within(der, 0, der.length);
  const tbs = outer && kids(der, outer)[0];
  if (!tbs) return ids;
  const fields = kids(der, tbs);
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  // RFC 5280 §4.1: version?, serial, signature, issuer, validity, subject, spki, ... [3] extensions
  const subject = fields[base + 4];
  if (subject) {
    for (const rdn of kids(der, subject)) {
      for (const atv of kids(der, rdn)) {
        const [oid, value] = kids(der, atv);
        if (oid && value && der.subarray(oid.start, oid.end).equals(OID_CN)) {
          ids.cn.push(directoryString(der, value));
        }
      }
    }
  }
  const extsWrap = fields.slice(base + 6).find((f) => f.tag === 0xa3);
  const exts = extsWrap && kids(der, extsWrap)[0];
  for (const ext of exts ? kids(der, exts) : []) {
    const parts = kids(der, ext);
    const oid = parts[0];
    if (!oid || !der.subarray(oid.start, oid.end).equals(OID_SAN)) continue;
    const octets = parts[parts.length - 1];
    const names =
      octets && octets.tag === 0x04 ? within(der, octets.contentStart, octets.end) : undefined;
    for (const gn of names ? kids(der, names) : []) {
      if (gn.tag === TAG_DNS_NAME)
        ids.dns.push(der.subarray(gn.contentStart, gn.end).toString('latin1'));
    }
  }
  return ids;
}
