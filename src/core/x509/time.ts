/**
 * Reads a certificate's validity dates from its DER: UTCTime or GeneralizedTime (RFC 5280
 * §4.1.2.5). Node's `validFrom` is OpenSSL's ASN1_TIME_print text, which is ambiguous for years
 * before 1000 ("Jan  1 00:00:00 1 GMT"), carries fractions, and Node 20 has no Date accessor.
 * Internal to x509/.
 *
 * What is accepted is what OpenSSL accepts when it reads a certificate (ossl_asn1_time_to_tm in
 * non-strict mode), so that a certificate a DANE client takes is one danekeeper takes: seconds
 * may be left out, GeneralizedTime may carry a fraction, and either may end in an offset
 * (+hhmm / -hhmm) instead of Z. RFC 5280 forbids all three for certificates it profiles, but
 * RFC 7671 §5.1 makes the dates of a DANE-EE certificate irrelevant, so they are not judged.
 */
import { readTlv } from './der.js';

export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;

const MDAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * The instant a UTCTime (tag 0x17) or GeneralizedTime (tag 0x18) body stands for, or undefined
 * when the text is not one (OpenSSL prints "Bad time value" for those).
 */
export function parseAsn1Time(tag: number, text: string): Date | undefined {
  const utc = tag === TAG_UTC_TIME;
  if (!utc && tag !== TAG_GENERALIZED_TIME) return undefined;
  // Two-digit fields: [CC] YY MM DD hh mm [ss]; seconds are optional (OpenSSL's `btz`).
  const m = utc
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(.*)$/s.exec(text)
    : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:(\d{2})(\.\d+)?)?(.*)$/s.exec(text);
  if (!m) return undefined;
  let year = Number(m[1]);
  // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, YY < 50 is 20YY.
  if (utc) year += year >= 50 ? 1900 : 2000;
  const [month, day, hour, minute] = [m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const zone = utc ? m[7]! : m[8]!;
  if (month < 1 || month > 12) return undefined;
  const mdays = MDAYS[month - 1]! + (month === 2 && isLeap(year) ? 1 : 0);
  // No leap seconds: OpenSSL's upper bound for seconds is 59.
  if (day < 1 || day > mdays || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const z = /^([+-])(\d{2})(\d{2})$/.exec(zone);
    if (!z || Number(z[2]) > 12 || Number(z[3]) > 59) return undefined;
    offsetMinutes = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  }
  const d = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  d.setUTCFullYear(year, month - 1, day);
  // A fraction of a second is dropped, as OpenSSL's struct tm drops it.
  d.setUTCHours(hour, minute, second, 0);
  return new Date(d.getTime() - offsetMinutes * 60_000);
}

/** The Time object at `offset` (ending by `limit`), or why it is unreadable. */
export function readTime(der: Buffer, offset: number, limit: number): Date | string {
  const t = readTlv(der, offset);
  if (!t || t.end > limit) return 'not a complete DER object';
  const text = der.subarray(t.contentStart, t.end).toString('latin1');
  const kind =
    t.tag === TAG_UTC_TIME ? 'UTCTime' : t.tag === TAG_GENERALIZED_TIME ? 'GeneralizedTime' : '';
  if (!kind) return `tag 0x${t.tag.toString(16)} is neither UTCTime nor GeneralizedTime`;
  return parseAsn1Time(t.tag, text) ?? `${JSON.stringify(text)} is not a valid ${kind}`;
}
