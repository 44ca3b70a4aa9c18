import { DkError } from '../errors.js';
import { fromHex } from './hex.js';
import { type Field, fieldValue } from './names.js';
import type { TlsaRecord } from './record.js';
import { decodeTlsaRdata } from './wire.js';

interface Token {
  text: string;
  offset: number;
}

function syntax(message: string, offset: number): DkError {
  return new DkError('data', 'E_TLSA_SYNTAX', `TLSA record: ${message}`, { offset });
}

/**
 * Splits presentation text into tokens the way a zone file does (RFC 1035 §5.1): whitespace
 * and newlines separate, `;` starts a comment, and parentheses only group lines, so they count
 * as whitespace once they balance.
 */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '(') {
      depth++;
      i++;
    } else if (c === ')') {
      if (depth === 0) throw syntax('")" without a matching "("', i);
      depth--;
      i++;
    } else if (/\s/.test(c)) {
      if (c === '\n' && depth === 0 && tokens.length > 0 && /\S/.test(text.slice(i))) {
        throw syntax('a line break outside parentheses ends the record early', i);
      }
      i++;
    } else {
      const start = i;
      while (i < text.length && !/[\s;()]/.test(text[i]!)) i++;
      tokens.push({ text: text.slice(start, i), offset: start });
    }
  }
  if (depth !== 0) throw syntax('"(" without a matching ")"', text.length);
  return tokens;
}

const FIELD_LABEL: Record<Field, string> = {
  usage: 'certificate usage',
  selector: 'selector',
  mtype: 'matching type',
};

function field(f: Field, tok: Token | undefined, end: number): number {
  if (!tok) throw syntax(`the ${FIELD_LABEL[f]} is missing`, end);
  const v = fieldValue(f, tok.text);
  if (v === undefined) {
    throw syntax(
      `${FIELD_LABEL[f]} "${tok.text}" is neither a number from 0 to 255 nor an RFC 7218 name`,
      tok.offset,
    );
  }
  return v;
}

function hexTokens(tokens: Token[], what: string): Buffer {
  return Buffer.concat(tokens.map((t) => fromHex(t.text, `TLSA record: ${what}`, t.offset)));
}

/** RFC 3597 §5: `\# LENGTH HEX...`, the generic form every DNS tool understands. */
function parseGeneric(tokens: Token[], end: number): TlsaRecord {
  const lenTok = tokens[1];
  if (!lenTok || !/^[0-9]{1,5}$/.test(lenTok.text)) {
    throw syntax('"\\#" must be followed by the RDATA length in decimal', lenTok?.offset ?? end);
  }
  const len = Number(lenTok.text);
  const wire = hexTokens(tokens.slice(2), 'RFC 3597 data');
  if (wire.length !== len) {
    throw syntax(
      `RFC 3597 length says ${len} octets but the data has ${wire.length}`,
      lenTok.offset,
    );
  }
  return decodeTlsaRdata(wire);
}

/**
 * Parses TLSA RDATA in presentation format: `U S M HEX` with numbers or RFC 7218 mnemonics
 * (RFC 6698 §2.2, RFC 7218 §2), hex split over spaces, lines and parentheses, or RFC 3597's
 * generic `\# 35 030101...`. Unassigned field values parse: deciding that a record is unusable
 * is the verifier's job, not the parser's (RFC 6698 §4.1).
 */
export function parseTlsa(text: string): TlsaRecord {
  return parseTokens(tokenize(text), text.length);
}

function parseTokens(tokens: Token[], end: number): TlsaRecord {
  if (tokens.length === 0) throw syntax('empty', 0);
  if (tokens[0]!.text === '\\#') return parseGeneric(tokens, end);
  const usage = field('usage', tokens[0], end);
  const selector = field('selector', tokens[1], end);
  const mtype = field('mtype', tokens[2], end);
  const rest = tokens.slice(3);
  // RFC 6698 §2.2: the association data is required in presentation form.
  if (rest.length === 0) throw syntax('the certificate association data is missing', end);
  return { usage, selector, mtype, data: hexTokens(rest, 'association data') };
}

export interface TlsaRr {
  owner: string | undefined;
  ttl: number | undefined;
  record: TlsaRecord;
}

const CLASSES = new Set(['IN', 'CH', 'HS', 'CS']);

/**
 * Accepts what people paste: bare RDATA, or a whole resource record as dig, a zone file or a
 * hosting panel shows it (`_25._tcp.mx.example. 3600 IN TLSA 3 1 1 ...`).
 */
export function parseTlsaRr(text: string): TlsaRr {
  const tokens = tokenize(text);
  const at = tokens.findIndex((t) => t.text.toUpperCase() === 'TLSA');
  if (at < 0) return { owner: undefined, ttl: undefined, record: parseTokens(tokens, text.length) };
  let owner: string | undefined;
  let ttl: number | undefined;
  for (const t of tokens.slice(0, at)) {
    if (/^[0-9]+$/.test(t.text)) ttl = Number(t.text);
    else if (CLASSES.has(t.text.toUpperCase())) continue;
    else if (owner === undefined) owner = t.text;
    else throw syntax(`unexpected "${t.text}" before TLSA`, t.offset);
  }
  if (ttl !== undefined && ttl > 2147483647) throw syntax(`TTL ${ttl} is too large`, 0);
  return { owner, ttl, record: parseTokens(tokens.slice(at + 1), text.length) };
}
