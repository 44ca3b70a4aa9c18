/**
 * Edits one RRset (TLSA, or TXT for ACME DNS-01) at one owner of a master file in place: the lines of the RRs being
 * removed go, new RRs are written next to the owner's other TLSA RRs, the SOA serial goes up,
 * and every other byte stays as it was. The result is parsed again and compared with the
 * original, RR by RR, before anyone writes it: an edit that would change any other record
 * (through owner or TTL inheritance, say) is refused, never written. Pure: text in, text out.
 */
import { DkError } from '../core/errors.js';
import { formatZoneLine } from '../core/tlsa/format.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import { txtStringsPresentation } from './txt-rdata.js';
import {
  findSoa,
  nextSerial,
  parseZone,
  rrsetTtls,
  rrTlsa,
  rrTxt,
  type ZoneFile,
  type ZoneRr,
} from './zonefile-parse.js';

/** What the editor needs to know about an RR type it edits. */
export interface RrKind<R> {
  /** the type as the parser gives it (upper case, TYPEnnn mapped) */
  type: string;
  /** the RDATA of an RR of this type; DkError naming the line when malformed */
  read(rr: ZoneRr): R;
  /** same RDATA (RFC 2181 §5: an RRset holds each RDATA once) */
  same(a: R, b: R): boolean;
  /** a whole master-file line for the RR, owner absolute, TTL explicit, no line end */
  line(owner: string, r: R, ttl: number): string;
}

export const TLSA_KIND: RrKind<TlsaRecord> = {
  type: 'TLSA',
  read: rrTlsa,
  same: sameRecord,
  line: (owner, r, ttl) => formatZoneLine(owner, r, ttl),
};

/**
 * TXT RDATA as its character-strings (RFC 1035 §3.3.14): two RRs are the same only when their
 * strings are, split included, so a kept hand-made record is rewritten (its TTL, RFC 2181
 * §5.2) byte for byte as it was, whatever bytes it holds.
 */
export const TXT_KIND: RrKind<Buffer[]> = {
  type: 'TXT',
  read: rrTxt,
  same: (a, b) => a.length === b.length && a.every((x, i) => x.equals(b[i]!)),
  line: (owner, r, ttl) => `${owner} ${ttl} IN TXT ${txtStringsPresentation(r)}`,
};

export interface RrsetAt<R> {
  /** the RRset's TTL as named serves it (rrsetTtls); null when there is none */
  ttl: number | null;
  /** de-duplicated, in file order */
  records: R[];
  rrs: { rr: ZoneRr; record: R }[];
}

export type TlsaAt = RrsetAt<TlsaRecord>;

/** The RRs of `kind` at `owner` (canonical). */
export function rrsetAt<R>(zf: ZoneFile, kind: RrKind<R>, owner: string): RrsetAt<R> {
  const rrs = zf.rrs
    .filter((r) => r.type === kind.type && r.owner === owner)
    .map((rr) => ({ rr, record: kind.read(rr) }));
  const records: R[] = [];
  for (const { record } of rrs)
    if (!records.some((x) => kind.same(x, record))) records.push(record);
  return {
    ttl: rrs.length > 0 ? (rrsetTtls(zf).get(`${owner} ${kind.type}`) ?? null) : null,
    records,
    rrs,
  };
}

/** The TLSA RRs at `owner` (canonical). */
export function tlsaAt(zf: ZoneFile, owner: string): TlsaAt {
  return rrsetAt(zf, TLSA_KIND, owner);
}

/** The TXT RRs at `owner` (canonical), as character-strings. */
export function txtAt(zf: ZoneFile, owner: string): RrsetAt<Buffer[]> {
  return rrsetAt(zf, TXT_KIND, owner);
}

export interface ZoneEdit<R = TlsaRecord> {
  /** canonical absolute owner */
  owner: string;
  add: R[];
  remove: R[];
  /** TTL of the whole resulting RRset (RFC 2181 §5.2) */
  ttl: number;
  /** the RR type edited; TLSA when not given */
  kind?: RrKind<R>;
}

export interface EditOptions {
  /** canonical zone name; the initial $ORIGIN */
  zone: string;
  /** a zone's own master file: increment its SOA serial. An include file has none. */
  bumpSerial: boolean;
  now: Date;
}

export interface EditResult {
  text: string;
  /** the new serial, when bumped */
  serial?: number;
}

function unsafe(message: string): DkError {
  return new DkError('data', 'E_ZONEFILE_UNSAFE', message);
}

const kindOf = <R>(edit: ZoneEdit<R>): RrKind<R> =>
  edit.kind ?? (TLSA_KIND as unknown as RrKind<R>);

/** A record's identity for the before/after comparison: everything that reaches the wire. */
function rrKey(rr: ZoneRr, soaSerial?: number): string {
  const rdata = rr.rdata.map((t, i) =>
    rr.type === 'SOA' && i === 2 && soaSerial !== undefined ? 'SERIAL' : t.text,
  );
  return `${rr.owner} ${rr.ttl} ${rr.cls} ${rr.type} @${rr.origin} ${rdata.join(' ')}`;
}

function build<R>(
  zf: ZoneFile,
  edit: ZoneEdit<R> | null,
  opts: EditOptions,
  placement: 'grouped' | 'end',
): EditResult {
  const text = zf.text;
  const eol = zf.eol;
  const replace = new Map<number, string>();
  let insertAfter = -1; // entry index; -1: at the end
  let lines: string[] = [];
  if (edit) {
    const kind = kindOf(edit);
    const has = (set: R[], r: R) => set.some((x) => kind.same(x, r));
    const at = rrsetAt(zf, kind, edit.owner);
    for (const { rr, record } of at.rrs) {
      if (has(edit.remove, record)) replace.set(rr.index, '');
      else if (rr.ttl !== edit.ttl || rr.ttlStated !== edit.ttl) {
        // RFC 2181 §5.2: one TTL per RRset, so a kept record takes the new TTL: its line is
        // rewritten (the one case where a record we do not add or remove is touched).
        replace.set(rr.index, kind.line(edit.owner, record, edit.ttl) + eol);
      }
    }
    const kept = at.rrs.filter(({ record }) => !has(edit.remove, record)).map((x) => x.record);
    const toAdd: R[] = [];
    for (const r of edit.add) if (!has(kept, r) && !has(toAdd, r)) toAdd.push(r);
    lines = toAdd.map((r) => kind.line(edit.owner, r, edit.ttl));
    if (placement === 'grouped' && lines.length > 0) {
      const sameOwner = zf.rrs.filter((r) => r.owner === edit.owner);
      const anchor = at.rrs.length > 0 ? at.rrs[at.rrs.length - 1]!.rr : sameOwner.at(-1);
      if (anchor) insertAfter = anchor.index;
    }
  }
  let serial: number | undefined;
  let soaIndex = -1;
  let serialAt = 0;
  let serialLen = 0;
  if (opts.bumpSerial) {
    const soa = findSoa(zf, opts.zone);
    serial = nextSerial(soa.serial, opts.now);
    soaIndex = soa.rr.index;
    serialAt = soa.serialToken.start - soa.rr.entry.start;
    serialLen = soa.serialToken.end - soa.serialToken.start;
  }
  const ownerOf = new Map<number, ZoneRr>(zf.rrs.map((r) => [r.index, r]));
  const out: string[] = [];
  // The owner the next blank-owner line would inherit in the new text (RFC 1035 §5.1).
  let lastOwner: string | undefined;
  const emitInserted = () => {
    if (lines.length === 0) return;
    const prev = out.join('');
    if (prev.length > 0 && !prev.endsWith('\n')) out.push(eol);
    for (const l of lines) out.push(l + eol);
    lastOwner = edit!.owner;
  };
  zf.entries.forEach((entry, i) => {
    let piece = replace.get(i) ?? text.slice(entry.start, entry.end);
    const rr = ownerOf.get(i);
    if (rr && replace.get(i) !== '') {
      // A line that inherited its owner from a line now gone (or from one we inserted before
      // it) gets its owner written out, so it keeps the owner it had.
      if (!replace.has(i) && !rr.ownerExplicit && lastOwner !== rr.owner) {
        piece = rr.owner + piece;
      }
      lastOwner = rr.owner;
    }
    if (i === soaIndex && serial !== undefined) {
      const off = serialAt + (piece.length - (entry.end - entry.start));
      piece = piece.slice(0, off) + String(serial) + piece.slice(off + serialLen);
    }
    out.push(piece);
    if (i === insertAfter) emitInserted();
  });
  if (insertAfter === -1) emitInserted();
  return serial === undefined ? { text: out.join('') } : { text: out.join(''), serial };
}

/** Parses `result` and checks it holds exactly what the edit meant and nothing else changed. */
function verify<R>(
  before: ZoneFile,
  result: EditResult,
  edit: ZoneEdit<R> | null,
  opts: EditOptions,
): string | undefined {
  let after: ZoneFile;
  try {
    after = parseZone(result.text, { origin: opts.zone });
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  const type = edit ? kindOf(edit).type : '';
  const skip = (r: ZoneRr) => edit !== null && r.type === type && r.owner === edit.owner;
  const bump = opts.bumpSerial ? 0 : undefined;
  const a = before.rrs.filter((r) => !skip(r)).map((r) => rrKey(r, bump));
  const b = after.rrs.filter((r) => !skip(r)).map((r) => rrKey(r, bump));
  const firstDiff = a.findIndex((k, i) => k !== b[i]);
  if (a.length !== b.length || firstDiff >= 0) {
    const i = firstDiff >= 0 ? firstDiff : Math.min(a.length, b.length);
    const rr = before.rrs.filter((r) => !skip(r))[i];
    return rr
      ? `the ${rr.type} record at ${rr.owner} (line ${rr.entry.line}) would change`
      : 'a record would be added';
  }
  const dirs = (z: ZoneFile) =>
    z.directives.map((d) => d.entry.tokens.map((t) => t.text).join(' '));
  if (dirs(before).join('\n') !== dirs(after).join('\n')) return 'a directive would change';
  if (edit) {
    const kind = kindOf(edit);
    const has = (set: R[], r: R) => set.some((x) => kind.same(x, r));
    const want = rrsetAt(before, kind, edit.owner).records.filter((r) => !has(edit.remove, r));
    for (const r of edit.add) if (!has(want, r)) want.push(r);
    let got: RrsetAt<R>;
    try {
      got = rrsetAt(after, kind, edit.owner);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    const same = got.records.length === want.length && want.every((r) => has(got.records, r));
    if (!same) return `the ${type} RRset at ${edit.owner} would not come out as intended`;
    if (got.rrs.some(({ rr }) => rr.ttl !== edit.ttl)) {
      return `the ${type} RRset at ${edit.owner} would not get TTL ${edit.ttl}`;
    }
  }
  if (result.serial !== undefined && findSoa(after, opts.zone).serial !== result.serial) {
    return 'the SOA serial would not change';
  }
  return undefined;
}

/**
 * Applies `edit` (or only the serial bump, for null) to the parsed file and returns the new
 * text, verified. New RRs go after the owner's last RR of the type (or its last RR), else at the end;
 * if that would change another record through inheritance, at the end; if even that would,
 * DkError E_ZONEFILE_UNSAFE and nothing is written.
 */
export function editZone<R = TlsaRecord>(
  zf: ZoneFile,
  edit: ZoneEdit<R> | null,
  opts: EditOptions,
): EditResult {
  let why: string | undefined;
  for (const placement of ['grouped', 'end'] as const) {
    const result = build(zf, edit, opts, placement);
    why = verify(zf, result, edit, opts);
    if (why === undefined) return result;
  }
  throw unsafe(
    `Refusing to edit the zone file${edit ? ` at ${edit.owner}` : ''}: ${why}; edit it by hand or give the records explicit owners and TTLs`,
  );
}
