/**
 * Splits PEM text (RFC 7468) into its blocks. Node's X509Certificate reads only the first
 * block of a bundle and createPrivateKey stops at the first key, so every block is found
 * here and each is decoded and validated on its own. Internal to x509/.
 */
import { DkError } from '../errors.js';
import { children, readTlv, TAG_SEQUENCE } from './der.js';

export interface PemBlock {
  /** the label between "BEGIN " and "-----", e.g. "CERTIFICATE" */
  label: string;
  /** RFC 1421 header lines ("Proc-Type: 4,ENCRYPTED"), empty for RFC 7468 blocks */
  headers: string[];
  /** the base64 text with all whitespace removed, not yet validated */
  base64: string;
  /** byte offset of the BEGIN line in the input */
  offset: number;
  /** 1-based line number of the BEGIN line, for messages */
  line: number;
}

const BEGIN = '-----BEGIN ';

/** Whether `buf` holds a PEM BEGIN line anywhere (text around blocks is allowed, RFC 7468 §2). */
export function hasPemBlock(buf: Buffer): boolean {
  return buf.includes(BEGIN, 0, 'latin1');
}

/**
 * Tells PEM from DER by content, never by file name (a ".pem" full of DER is common). DER
 * wins when its first object is complete and well formed, since a DER certificate may by
 * chance contain the bytes "-----BEGIN "; text that merely starts with "0" (0x30) does not
 * tile as DER objects, so a PEM file with such a preamble is still PEM.
 */
export function sniffFormat(input: Buffer): 'der' | 'pem' | 'truncated-der' | 'unknown' {
  const first = input[0] === TAG_SEQUENCE ? readTlv(input, 0) : undefined;
  const pem = hasPemBlock(input);
  if (first && first.end <= input.length && (!pem || children(input, first))) return 'der';
  if (pem) return 'pem';
  return first ? 'truncated-der' : 'unknown';
}

/** Every block in `input`, in order; throws E_PEM_TRUNCATED for a BEGIN without its END. */
export function splitPem(input: Buffer, source: string): PemBlock[] {
  // latin1 maps each byte to one char, so string offsets are byte offsets.
  const text = input.toString('latin1');
  const begin = /-----BEGIN ([^\r\n]*?)-----/g;
  const blocks: PemBlock[] = [];
  let m: RegExpExecArray | null;
  while ((m = begin.exec(text)) !== null) {
    const label = m[1]!;
    const bodyStart = m.index + m[0].length;
    const endLine = `-----END ${label}-----`;
    const end = text.indexOf(endLine, bodyStart);
    const nextBegin = text.indexOf(BEGIN, bodyStart);
    const line = lineOf(text, m.index);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) {
      throw new DkError(
        'data',
        'E_PEM_TRUNCATED',
        `${source}: PEM block "${label}" at line ${line} has no END line (truncated file?)`,
        { offset: m.index },
      );
    }
    const { headers, base64 } = splitBody(text.slice(bodyStart, end));
    blocks.push({ label, headers, base64, offset: m.index, line });
    begin.lastIndex = end + endLine.length;
  }
  return blocks;
}

/**
 * Decodes a block's base64 strictly: Buffer.from(…, 'base64') silently skips bad characters
 * and stops at a short final group, which would turn a damaged file into a different,
 * shorter DER object instead of an error.
 */
export function pemBytes(block: PemBlock, source: string): Buffer {
  const b = block.base64;
  if (b.length === 0 || b.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b)) {
    throw new DkError(
      'data',
      'E_PEM_BASE64',
      `${source}: PEM block "${block.label}" at line ${block.line} has invalid or truncated base64`,
      { offset: block.offset },
    );
  }
  return Buffer.from(b, 'base64');
}

/** Re-encodes DER as one canonical PEM block, for node APIs that only take PEM for a type. */
export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

function splitBody(body: string): { headers: string[]; base64: string } {
  const lines = body.split(/\r?\n|\r/);
  const headers: string[] = [];
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  // RFC 1421 §4.4 headers ("Name: value", continued by lines starting with white space),
  // ended by a blank line. Only legacy encrypted keys carry them.
  while (i < lines.length && /^[A-Za-z][A-Za-z0-9-]*:/.test(lines[i]!)) {
    let h = lines[i++]!.trim();
    while (i < lines.length && /^[ \t]+\S/.test(lines[i]!)) h += ' ' + lines[i++]!.trim();
    headers.push(h);
  }
  return { headers, base64: lines.slice(i).join('').replace(/\s+/g, '') };
}

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The one entry for reading a certificate or key file: empty input, DER, PEM, truncated DER or
 * neither, told apart by content (sniffFormat), each with its own error.
 */
export function byFormat<T>(
  input: Buffer,
  source: string,
  h: { der: (b: Buffer, s: string) => T; pem: (b: Buffer, s: string) => T; neither: string },
): T {
  if (input.length === 0 || input.toString('latin1').trim() === '') {
    throw new DkError('data', 'E_EMPTY_INPUT', `${source}: file is empty`);
  }
  const format = sniffFormat(input);
  if (format === 'der') return h.der(input, source);
  if (format === 'pem') return h.pem(input, source);
  if (format === 'truncated-der') {
    const declared = readTlv(input, 0)?.end ?? 0;
    throw new DkError(
      'data',
      'E_DER_TRUNCATED',
      `${source}: DER data is truncated (declares ${declared} bytes, file has ${input.length})`,
    );
  }
  throw new DkError('data', 'E_NOT_PEM_OR_DER', `${source}: ${h.neither}`);
}
