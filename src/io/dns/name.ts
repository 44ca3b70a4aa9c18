/**
 * Domain names as this module shows and compares them: presentation form without the trailing
 * dot (`mx.example.test`, the root is `.`), labels from the wire escaped so that one label can
 * never pass for two, compared case-insensitively.
 */
import { DkError } from '../../core/errors.js';

/**
 * Presentation form of one wire label. RFC 1035 §5.1: `\.` for a dot inside a label, `\\` for a
 * backslash, `\DDD` for any octet that is not printable ASCII. dns-packet decodes labels as
 * UTF-8 and joins them with dots, so the single label `a.b` and the two labels `a`, `b` come out
 * the same: a question check built on that could be fooled, hence our own form.
 */
export function escapeLabel(label: Uint8Array): string {
  let s = '';
  for (const c of label) {
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

/**
 * escapeLabel of `buf[start..end)`, without copying the label first: a label of plain
 * printable ASCII other than `.` and `\\` (nearly every label there is) reads as it is. A bulk
 * run decodes thousands of names; building each one character by character was most of the
 * decoder's allocations.
 */
export function escapeLabelAt(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c) {
      return escapeLabel(buf.subarray(start, end));
    }
  }
  return buf.toString('latin1', start, end);
}

/**
 * RFC 4343 §3: DNS compares names case-insensitively for ASCII letters only. Names from
 * escapeLabel are pure ASCII (everything else is `\DDD`), so lower-casing the string is exact.
 */
export function sameName(a: string, b: string): boolean {
  return canonicalKey(a) === canonicalKey(b);
}

/** The lower-case form used as a map key and for comparisons. */
export function canonicalKey(name: string): string {
  return name.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * Checks and normalises a name we are about to ask for. Only the characters that host names,
 * TLSA owners (`_25._tcp.mx.example.test`) and wildcards use are accepted, so the name needs no
 * escaping on the wire. RFC 1035 §2.3.4: labels of 1–63 octets, at most 255 octets in wire form
 * (253 characters in presentation form without the final dot).
 */
export function queryName(input: string): string {
  const known = checkedNames.get(input);
  if (known !== undefined) return known;
  const name = checkQueryName(input);
  // a bulk run asks about the same few thousand names again and again, each through the
  // cache, the resolver and the client: checked once each (the bound only stops a runaway)
  if (checkedNames.size >= 50_000) checkedNames.clear();
  checkedNames.set(input, name);
  return name;
}

/** Names already checked, as given -> as normalised. Only valid names are kept. */
const checkedNames = new Map<string, string>();

function checkQueryName(input: string): string {
  if (input === '.') return '.';
  const name = input.endsWith('.') ? input.slice(0, -1) : input;
  const labels = name.split('.');
  if (
    name.length > 253 ||
    labels.some((l) => l.length === 0 || l.length > 63 || !/^[A-Za-z0-9_*-]+$/.test(l))
  ) {
    throw new DkError(
      'usage',
      'E_DNS_NAME',
      `Cannot look up "${printable(input)}": not a valid domain name`,
    );
  }
  return name;
}

/** For messages: at most 80 characters, control characters shown as `?`. */
export function printable(s: string): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > 80 ? t.slice(0, 77) + '...' : t;
}
