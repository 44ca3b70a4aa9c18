/**
 * A master-file reader (RFC 1035 §5) good enough to find and edit resource records in place: it
 * keeps, for every RR, where it sits in the text, so an editor can change those lines and leave
 * every other byte alone. Pure: text in, structure out.
 *
 * What it understands (RFC 1035 §5.1, RFC 2308 §4, BIND's extensions it must not trip over):
 * owner inheritance from the previous RR (a line starting with white space), `@`, relative
 * names and `$ORIGIN`, `$TTL`, TTL and class in either order, TTL units (`1h30m`, BIND),
 * parentheses spanning lines, `;` comments, quoted strings, backslash escapes, `TYPEnnn` and
 * RFC 3597 `\#` data, CR LF line ends. `$INCLUDE` and `$GENERATE` are kept but not followed:
 * records they bring in are invisible here (see zonefile.ts).
 *
 * The text is handled as latin1 (one char per byte) so any byte survives a round trip.
 */
import { DkError } from '../core/errors.js';
import { parseTlsa } from '../core/tlsa/parse.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import { txtRdataStrings, txtTokenBytes } from './txt-rdata.js';

export interface Token {
  /** the token as written (escapes and quotes included) */
  text: string;
  start: number;
  end: number;
}

/** One logical line: a directive, an RR, or nothing (blank / comment only). */
export interface Entry {
  /** 1-based line where the entry starts */
  line: number;
  /** offsets of the whole lines the entry covers, trailing newline included */
  start: number;
  end: number;
  tokens: Token[];
  /** the entry starts with white space: the owner is inherited */
  blankOwner: boolean;
}

export interface ZoneRr {
  entry: Entry;
  /** index in ZoneFile.entries */
  index: number;
  /** absolute, canonical (lower case, trailing dot) */
  owner: string;
  ownerExplicit: boolean;
  ttl: number;
  ttlExplicit: boolean;
  /** the TTL the line states or inherits, before named's "TTL set to prior TTL" */
  ttlStated: number;
  cls: string;
  /** upper case; TYPE52 is given as TLSA */
  type: string;
  rdata: Token[];
  /** $ORIGIN in effect, for relative names in the RDATA */
  origin: string;
}

export interface Directive {
  entry: Entry;
  index: number;
  name: string;
  args: Token[];
}

export interface ZoneFile {
  text: string;
  entries: Entry[];
  rrs: ZoneRr[];
  directives: Directive[];
  /** the line ending the file mostly uses, for lines an editor adds */
  eol: '\n' | '\r\n';
}

export function zoneSyntax(message: string, line: number, offset?: number): DkError {
  return new DkError('data', 'E_ZONEFILE_SYNTAX', `Zone file line ${line}: ${message}`, {
    ...(offset === undefined ? {} : { offset }),
  });
}

const MAX_TTL = 2147483647;

/**
 * Splits the text into entries (RFC 1035 §5.1): a newline ends an entry unless parentheses are
 * open; `;` starts a comment outside quotes; `\` escapes the next character (or `\DDD`).
 */
export function splitEntries(text: string): Entry[] {
  const entries: Entry[] = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const start = i;
    const startLine = line;
    const tokens: Token[] = [];
    let depth = 0;
    let openLine = 0;
    const blankOwner = text[i] === ' ' || text[i] === '\t';
    for (;;) {
      if (i >= text.length) {
        if (depth > 0) throw zoneSyntax('"(" is never closed', openLine, i);
        break;
      }
      const c = text[i]!;
      if (c === '\n') {
        i++;
        line++;
        if (depth === 0) break;
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        i++;
      } else if (c === ';') {
        while (i < text.length && text[i] !== '\n') i++;
      } else if (c === '(') {
        if (depth === 0) openLine = line;
        depth++;
        i++;
      } else if (c === ')') {
        if (depth === 0) throw zoneSyntax('")" without a matching "("', line, i);
        depth--;
        i++;
      } else {
        const tStart = i;
        if (c === '"') {
          i++;
          for (;;) {
            if (i >= text.length || text[i] === '\n') {
              throw zoneSyntax('a quoted string is not closed on its line', line, tStart);
            }
            if (text[i] === '\\') i += 2;
            else if (text[i] === '"') {
              i++;
              break;
            } else i++;
          }
        } else {
          // RFC 1035 §5.1 tokens end at ASCII white space only, as named reads bytes: a
          // Unicode space (U+00A0 pasted from a web page) is part of the token. Stopping at \s
          // here while the branch above skips only ASCII space would never move past it.
          while (i < text.length && !/[ \t\r\n\f\v;()"]/.test(text[i]!)) {
            if (text[i] === '\\') {
              if (i + 1 >= text.length || text[i + 1] === '\n') {
                throw zoneSyntax('a backslash at the end of a line', line, i);
              }
              i += 2;
            } else i++;
          }
        }
        tokens.push({ text: text.slice(tStart, i), start: tStart, end: i });
      }
    }
    entries.push({ line: startLine, start, end: i, tokens, blankOwner });
  }
  return entries;
}

/**
 * The octets of the character at `i` as named reads the file: its UTF-8 bytes (named reads
 * bytes, so U+00A0 is the two octets \194\160), and how many UTF-16 units it took.
 */
function charOctets(raw: string, i: number): { octets: number[]; units: number } {
  const cp = raw.codePointAt(i)!;
  if (cp < 0x80) return { octets: [cp], units: 1 };
  const ch = String.fromCodePoint(cp);
  return { octets: [...Buffer.from(ch, 'utf8')], units: ch.length };
}

/** `\DDD` and `\X` decoded, for names. Returns the labels and whether the name is absolute. */
function nameLabels(raw: string, line: number): { labels: number[][]; absolute: boolean } {
  const labels: number[][] = [];
  let cur: number[] = [];
  let absolute = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const d = raw.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw zoneSyntax(`"\\${d}" in "${raw}" is not a byte`, line);
        cur.push(v);
        i += 3;
      } else if (i + 1 < raw.length) {
        const o = charOctets(raw, i + 1);
        cur.push(...o.octets);
        i += o.units;
      } else throw zoneSyntax(`"${raw}" ends in a backslash`, line);
    } else if (c === '.') {
      if (cur.length === 0 && !(raw === '.' && i === 0)) {
        throw zoneSyntax(`"${raw}" has an empty label`, line);
      }
      if (raw !== '.') labels.push(cur);
      cur = [];
      if (i === raw.length - 1) absolute = true;
    } else {
      const o = charOctets(raw, i);
      cur.push(...o.octets);
      i += o.units - 1;
    }
  }
  if (cur.length > 0) labels.push(cur);
  if (raw === '.') absolute = true;
  for (const l of labels) {
    // RFC 1035 §2.3.4: labels of 63 octets or less.
    if (l.length > 63) throw zoneSyntax(`a label of "${raw}" is longer than 63 octets`, line);
  }
  return { labels, absolute };
}

function labelText(bytes: number[], keepCase = false): string {
  let s = '';
  for (const b0 of bytes) {
    // DNS compares names case-insensitively for ASCII letters only (RFC 4343).
    const b = !keepCase && b0 >= 0x41 && b0 <= 0x5a ? b0 + 0x20 : b0;
    const ch = String.fromCharCode(b);
    if (b > 0x20 && b < 0x7f && !'."();\\@$'.includes(ch)) s += ch;
    else s += `\\${String(b).padStart(3, '0')}`;
  }
  return s;
}

/**
 * The canonical absolute form of a name written in a zone file: lower case, escapes only where
 * needed, trailing dot. `origin` is canonical absolute already.
 */
export function canonicalName(raw: string, origin: string, line = 0, keepCase = false): string {
  if (raw === '@') return origin;
  const { labels, absolute } = nameLabels(raw, line);
  const own = labels.map((l) => labelText(l, keepCase));
  const all = absolute ? own : [...own, ...(origin === '.' ? [] : origin.slice(0, -1).split('.'))];
  const name = all.length === 0 ? '.' : `${all.join('.')}.`;
  // RFC 1035 §2.3.4: 255 octets in wire form (each label plus its length octet, plus the root).
  const originWire =
    absolute || origin === '.'
      ? 1
      : nameLabels(origin, line).labels.reduce((n, l) => n + l.length + 1, 1);
  const wire = labels.reduce((n, l) => n + l.length + 1, originWire);
  if (wire > 255 || name.length > 1024) throw zoneSyntax(`the name "${raw}" is too long`, line);
  return name;
}

/** RFC 2308 §4 / BIND: a TTL in seconds, or with units `1w2d3h4m5s`. */
export function parseTtlText(text: string): number | undefined {
  let total: number;
  if (/^[0-9]+$/.test(text)) total = Number(text);
  else if (/^([0-9]+[wdhms])+$/i.test(text)) {
    const unit: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
    total = 0;
    for (const m of text.toLowerCase().matchAll(/([0-9]+)([wdhms])/g)) {
      total += Number(m[1]) * unit[m[2]!]!;
    }
  } else return undefined;
  // RFC 2181 §8: TTLs are unsigned 31-bit numbers.
  return total <= MAX_TTL ? total : undefined;
}

const CLASS_RE = /^(IN|CH|CS|HS|CLASS[0-9]{1,5})$/i;
const TYPE_RE = /^([A-Z][A-Z0-9-]*|TYPE[0-9]{1,5})$/i;

export interface ParseOptions {
  /** the zone's name: the initial $ORIGIN, as named gives it (canonical absolute) */
  origin: string;
}

/**
 * Reads the entries into RRs and directives, resolving owners, TTLs and classes the way BIND
 * does: a blank owner is the previous RR's (RFC 1035 §5.1); a blank TTL is $TTL if one was
 * given (RFC 2308 §4), else the last TTL stated (RFC 1035 §5.1), else, for the SOA, its MINIMUM
 * (what BIND does for files without $TTL); a blank class is the previous one.
 */
export function parseZone(text: string, opts: ParseOptions): ZoneFile {
  const entries = splitEntries(text);
  const rrs: ZoneRr[] = [];
  const directives: Directive[] = [];
  let origin = opts.origin;
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined;
  let lastOwner: string | undefined;
  // named's runs: consecutive RRs whose owner is written the same, case included (what
  // named-checkzone -D shows); inside a run an RRset keeps its first TTL.
  let runKey: string | undefined;
  let lastRunKey: string | undefined;
  const runTtl = new Map<string, number>();
  let originKeep = opts.origin;
  let lastClass: string | undefined;
  // An owner inherited across $INCLUDE/$GENERATE depends on what they contain: refuse it.
  let ownerAmbiguousAfter: string | undefined;

  entries.forEach((entry, index) => {
    const toks = entry.tokens;
    if (toks.length === 0) return;
    const first = toks[0]!;
    if (!entry.blankOwner && first.text.startsWith('$')) {
      const name = first.text.toUpperCase();
      const args = toks.slice(1);
      directives.push({ entry, index, name, args });
      if (name === '$ORIGIN') {
        if (args.length !== 1) throw zoneSyntax('$ORIGIN takes one name', entry.line);
        originKeep = canonicalName(args[0]!.text, originKeep, entry.line, true);
        origin = canonicalName(args[0]!.text, origin, entry.line);
      } else if (name === '$TTL') {
        const t = args.length === 1 ? parseTtlText(args[0]!.text) : undefined;
        if (t === undefined) throw zoneSyntax('$TTL takes one TTL', entry.line);
        defaultTtl = t;
      } else if (name === '$INCLUDE' || name === '$GENERATE') {
        if (args.length === 0) throw zoneSyntax(`${name} needs arguments`, entry.line);
        ownerAmbiguousAfter = name;
      } else {
        throw zoneSyntax(`unknown directive ${first.text}`, entry.line);
      }
      return;
    }
    let k = 0;
    let owner: string;
    if (entry.blankOwner) {
      if (lastOwner === undefined) throw zoneSyntax('the first record has no owner', entry.line);
      if (ownerAmbiguousAfter !== undefined) {
        throw zoneSyntax(
          `the owner is inherited across ${ownerAmbiguousAfter}; write it out`,
          entry.line,
        );
      }
      owner = lastOwner;
      runKey = lastRunKey;
    } else {
      owner = canonicalName(first.text, origin, entry.line);
      runKey =
        first.text === '@' ? originKeep : canonicalName(first.text, originKeep, entry.line, true);
      k = 1;
    }
    let ttl: number | undefined;
    let cls: string | undefined;
    let type: string | undefined;
    for (; k < toks.length && type === undefined; k++) {
      const t = toks[k]!.text;
      const asTtl = ttl === undefined ? parseTtlText(t) : undefined;
      if (asTtl !== undefined) ttl = asTtl;
      else if (cls === undefined && CLASS_RE.test(t)) cls = t.toUpperCase();
      else if (TYPE_RE.test(t) && !CLASS_RE.test(t)) type = t.toUpperCase();
      else throw zoneSyntax(`"${t}" is not a TTL, class or record type`, entry.line);
    }
    if (type === undefined) throw zoneSyntax('the record type is missing', entry.line);
    if (type === 'TYPE52') type = 'TLSA';
    if (type === 'TYPE16') type = 'TXT';
    const rdata = toks.slice(k);
    if (rdata.length === 0) throw zoneSyntax(`the ${type} record has no data`, entry.line);
    const ttlExplicit = ttl !== undefined;
    if (ttl === undefined) {
      if (defaultTtl !== undefined) ttl = defaultTtl;
      else if (lastTtl !== undefined) ttl = lastTtl;
      else if (type === 'SOA' && rdata.length === 7) ttl = parseTtlText(rdata[6]!.text);
      if (ttl === undefined) throw zoneSyntax('no TTL given and no $TTL before', entry.line);
    }
    cls = cls ?? lastClass ?? 'IN';
    if (runKey !== lastRunKey || lastRunKey === undefined) runTtl.clear();
    const ttlStated = ttl;
    const prior = runTtl.get(type);
    // named: "TTL set to prior TTL"; without $TTL the next blank TTL inherits the adjusted one
    if (prior !== undefined) ttl = prior;
    else runTtl.set(type, ttl);
    rrs.push({
      entry,
      index,
      owner,
      ownerExplicit: !entry.blankOwner,
      ttl,
      ttlExplicit,
      ttlStated,
      cls,
      type,
      rdata,
      origin,
    });
    lastOwner = owner;
    lastRunKey = runKey;
    lastTtl = ttl;
    lastClass = cls;
    ownerAmbiguousAfter = undefined;
  });
  const crlf = (text.match(/\r\n/g) ?? []).length;
  const lf = (text.match(/\n/g) ?? []).length;
  return { text, entries, rrs, directives, eol: crlf * 2 > lf ? '\r\n' : '\n' };
}

/**
 * The TTL named serves for each RRset (key `owner TYPE`) when its RRs have different TTLs.
 * named loads a file in runs of consecutive lines with the same owner as written (case
 * included): inside a run the first TTL wins ("TTL set to prior TTL"), and a later run's RRs
 * merged into the RRset bring their TTL with them (named-checkzone -D, BIND 9.18). So: the
 * first TTL of the last run.
 */
export function rrsetTtls(zf: ZoneFile): Map<string, number> {
  // each RR carries its run's TTL already (parseZone); a later run's TTL replaces an earlier
  const out = new Map<string, number>();
  for (const rr of zf.rrs) out.set(`${rr.owner} ${rr.type}`, rr.ttl);
  return out;
}

/** The TLSA record an RR holds; a DkError naming the line when its data is malformed. */
export function rrTlsa(rr: ZoneRr): TlsaRecord {
  try {
    return parseTlsa(rr.rdata.map((t) => t.text).join(' '));
  } catch (e) {
    const why = e instanceof DkError ? e.message.replace(/^TLSA record: /, '') : String(e);
    throw zoneSyntax(`TLSA record at ${rr.owner}: ${why}`, rr.entry.line);
  }
}

/**
 * The character-strings a TXT RR holds (RFC 1035 §3.3.14): one per token, quoted or not, with
 * its escapes decoded (§5.1), or RFC 3597 `\# n hex`; a DkError naming the line when one is
 * malformed or longer than 255 octets.
 */
export function rrTxt(rr: ZoneRr): Buffer[] {
  const toks = rr.rdata.map((t) => t.text);
  try {
    if (toks[0] === '\\#') {
      const n = Number(toks[1]);
      const hex = toks.slice(2).join('');
      if (
        !/^[0-9]+$/.test(toks[1] ?? '') ||
        !/^([0-9a-f]{2})*$/i.test(hex) ||
        hex.length !== n * 2
      ) {
        throw new Error('the \\# data does not match its length');
      }
      return txtRdataStrings(Buffer.from(hex, 'hex'));
    }
    return toks.map(txtTokenBytes);
  } catch (e) {
    throw zoneSyntax(`TXT record at ${rr.owner}: ${(e as Error).message}`, rr.entry.line);
  }
}

export interface SoaInfo {
  rr: ZoneRr;
  serial: number;
  serialToken: Token;
  minimum: number;
}

/** The zone's SOA: exactly one, at the zone's apex, with a decimal serial. */
export function findSoa(zf: ZoneFile, zone: string): SoaInfo {
  const soas = zf.rrs.filter((r) => r.type === 'SOA');
  if (soas.length === 0) {
    throw new DkError('data', 'E_ZONEFILE_SOA', `Zone file has no SOA record for ${zone}`);
  }
  if (soas.length > 1) throw zoneSyntax('a second SOA record', soas[1]!.entry.line);
  const rr = soas[0]!;
  if (rr.owner !== zone) {
    throw new DkError(
      'config',
      'E_ZONEFILE_SOA',
      `Zone file line ${rr.entry.line}: the SOA is for ${rr.owner}, not the zone ${zone}`,
    );
  }
  if (rr.rdata.length !== 7) throw zoneSyntax('the SOA needs 7 fields', rr.entry.line);
  const serialToken = rr.rdata[2]!;
  // RFC 1982: a serial is an unsigned 32-bit number; named-checkzone wants it in decimal.
  if (!/^[0-9]{1,10}$/.test(serialToken.text) || Number(serialToken.text) > 0xffffffff) {
    throw zoneSyntax(
      `SOA serial "${serialToken.text}" is not a number I can increment`,
      rr.entry.line,
    );
  }
  const minimum = parseTtlText(rr.rdata[6]!.text);
  if (minimum === undefined) throw zoneSyntax('the SOA MINIMUM is not a TTL', rr.entry.line);
  return { rr, serial: Number(serialToken.text), serialToken, minimum };
}

/**
 * The next serial (RFC 1982 §3.1: add 1 modulo 2^32). A date serial YYYYMMDDnn stays one:
 * today's `YYYYMMDD00` when that is ahead of the old serial, else the old one plus 1 (a busy
 * day spills into tomorrow's numbers, as with every date-serial tool).
 */
export function nextSerial(old: number, now: Date): number {
  const plus = (old + 1) % 2 ** 32;
  const s = String(old);
  const dateLike =
    /^(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{2}$/.test(s) && s.length === 10;
  if (!dateLike) return plus;
  const today =
    now.getUTCFullYear() * 1_000_000 + (now.getUTCMonth() + 1) * 10_000 + now.getUTCDate() * 100;
  return today > old && today < 2 ** 32 ? today : plus;
}

/** RFC 1982 §3.2: s1 < s2 in serial number arithmetic (32 bits). */
export function serialLess(s1: number, s2: number): boolean {
  return (s1 < s2 && s2 - s1 < 2 ** 31) || (s1 > s2 && s1 - s2 > 2 ** 31);
}
