/**
 * A strict DNS message decoder (RFC 1035 §4.1, RFC 6891 §6.1 for OPT). Pure: bytes in, a message
 * or a DkError out, in time linear in the message size.
 *
 * Why not dns-packet's decode: it decodes labels as UTF-8 joined with dots (ambiguous names), its
 * RDATA decoders read their own lengths instead of honouring RDLENGTH (an A record with RDLENGTH 2
 * reads the next record's bytes, a TLSA record shorter than 3 octets shifts everything after it),
 * and it throws plain Errors or RangeErrors. dns-packet still encodes our queries (query.ts) and
 * the tests check this decoder against its encoder.
 */
import { DkError } from '../../core/errors.js';
import { escapeLabelAt } from './name.js';

export interface WireHeader {
  id: number;
  /** QR: 1 in a response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** The 4-bit RCODE of the header; see WireMessage.rcode for the extended one. */
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface WireQuestion {
  name: string;
  type: number;
  class: number;
}

export interface WireRecord {
  name: string;
  type: number;
  class: number;
  /** RFC 2181 §8: a TTL with the top bit set is read as 0. */
  ttl: number;
  rdata: Buffer;
  /** Where the RDATA starts in the message: names inside it may point back before it. */
  rdataOffset: number;
}

/** RFC 6891 §6.1.2–6.1.3: the OPT pseudo-RR's fields. */
export interface WireOpt {
  udpSize: number;
  extendedRcode: number;
  version: number;
  dnssecOk: boolean;
  options: Buffer;
}

export interface WireMessage {
  header: WireHeader;
  questions: WireQuestion[];
  answers: WireRecord[];
  authorities: WireRecord[];
  /** The additional section without the OPT pseudo-RR. */
  additionals: WireRecord[];
  opt: WireOpt | null;
  /** RFC 6891 §6.1.3: 12-bit RCODE, the OPT's upper 8 bits above the header's 4. */
  rcode: number;
  /** The whole message, for names inside RDATA that are compressed against it. */
  buf: Buffer;
}

export const TYPE_OPT = 41;
const HEADER = 12;
/** RFC 1035 §3.1: 255 octets in wire form; 127 labels at most. */
const MAX_NAME = 255;
const MAX_LABELS = 127;
/** The smallest resource record: a root or pointer name plus TYPE, CLASS, TTL, RDLENGTH. */
const MIN_RR = 11;

function malformed(message: string, offset: number): DkError {
  return new DkError('protocol', 'E_DNS_MALFORMED', message, { offset });
}

/** Reads only the fixed header: enough to tell whose answer a datagram is. */
export function decodeHeader(buf: Buffer): WireHeader {
  if (buf.length < HEADER) {
    throw malformed(
      `message of ${buf.length} bytes is shorter than the 12-byte header`,
      buf.length,
    );
  }
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: buf.readUInt16BE(4),
    ancount: buf.readUInt16BE(6),
    nscount: buf.readUInt16BE(8),
    arcount: buf.readUInt16BE(10),
  };
}

/**
 * Decodes the name at `offset`. RFC 1035 §4.1.4: a pointer replaces the end of a name with a
 * *prior* occurrence, so every pointer must point strictly before the label run it ends; that
 * alone rules out loops (each jump goes further back). Pointers into the header, label types
 * 01 and 10 (RFC 6891 §5: extended labels are deprecated) and names over 255 octets are refused.
 * `end` is where the name ends at its original position, for the reader to carry on.
 */
export function decodeName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = offset;
  let runStart = offset;
  let end = -1;
  let length = 1;
  let hops = 0;
  for (;;) {
    if (pos >= buf.length) {
      throw malformed(`name at offset ${offset} runs past the end of the message`, pos);
    }
    const len = buf[pos]!;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) {
        throw malformed(`compression pointer at offset ${pos} is cut short`, pos);
      }
      const target = buf.readUInt16BE(pos) & 0x3fff;
      if (target >= runStart) {
        throw malformed(
          `compression pointer at offset ${pos} points forward to ${target} ` +
            `(a loop or a pointer past the end)`,
          pos,
        );
      }
      if (target < HEADER) {
        throw malformed(`compression pointer at offset ${pos} points into the header`, pos);
      }
      // Backward-only pointers end, but a chain of pointers to pointers can still cost
      // thousands of hops per name, for every record that uses it. A real name needs at most
      // one pointer (RFC 1035 §4.1.4); allow as many as a name can have labels.
      if (++hops > MAX_LABELS) {
        throw malformed(`name at offset ${offset} follows more than ${MAX_LABELS} pointers`, pos);
      }
      if (end < 0) end = pos + 2;
      pos = target;
      runStart = target;
      continue;
    }
    if (kind !== 0) {
      throw malformed(
        `label type 0x${len.toString(16)} at offset ${pos} is not a length or a pointer`,
        pos,
      );
    }
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    length += len + 1;
    if (length > MAX_NAME) {
      throw malformed(`name at offset ${offset} is longer than 255 octets`, pos);
    }
    if (pos + 1 + len > buf.length) {
      throw malformed(`label at offset ${pos} runs past the end of the message`, pos);
    }
    labels.push(escapeLabelAt(buf, pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.length === 0 ? '.' : labels.join('.'), end };
}

function need(buf: Buffer, pos: number, n: number, what: string): void {
  if (pos + n > buf.length) {
    throw malformed(`${what} at offset ${pos} runs past the end of the message`, pos);
  }
}

const SECTIONS = ['answer', 'authority', 'additional'] as const;

/** Decodes a whole message; anything out of bounds or inconsistent is a DkError. */
export function decodeMessage(buf: Buffer): WireMessage {
  const header = decodeHeader(buf);
  // Cheap bound first: a count that cannot fit is refused before any loop runs.
  const rrs = header.ancount + header.nscount + header.arcount;
  if (HEADER + header.qdcount * 5 + rrs * MIN_RR > buf.length) {
    throw malformed(
      `header announces ${header.qdcount} questions and ${rrs} records, ` +
        `more than ${buf.length} bytes can hold`,
      4,
    );
  }
  const q = readQuestions(buf, header.qdcount);
  const questions = q.questions;
  let pos = q.end;
  const lists: WireRecord[][] = [[], [], []];
  const counts = [header.ancount, header.nscount, header.arcount];
  let opt: WireOpt | null = null;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const what = `${SECTIONS[s]} record ${i + 1}`;
      const n = decodeName(buf, pos);
      need(buf, n.end, 10, what);
      const type = buf.readUInt16BE(n.end);
      const klass = buf.readUInt16BE(n.end + 2);
      const ttlRaw = buf.readUInt32BE(n.end + 4);
      const rdlength = buf.readUInt16BE(n.end + 8);
      const rdataOffset = n.end + 10;
      if (rdataOffset + rdlength > buf.length) {
        throw malformed(
          `${what}: RDLENGTH ${rdlength} at offset ${n.end + 8} runs past the end of the message`,
          n.end + 8,
        );
      }
      const rdata = buf.subarray(rdataOffset, rdataOffset + rdlength);
      pos = rdataOffset + rdlength;
      if (type === TYPE_OPT) {
        // RFC 6891 §6.1.1: one OPT at most, in the additional section, owned by the root.
        if (s !== 2 || opt !== null || n.name !== '.') {
          throw malformed(`${what}: misplaced or repeated OPT record`, n.end);
        }
        opt = {
          udpSize: klass,
          extendedRcode: ttlRaw >>> 24,
          version: (ttlRaw >>> 16) & 0xff,
          dnssecOk: (ttlRaw & 0x8000) !== 0,
          options: rdata,
        };
        continue;
      }
      lists[s]!.push({
        name: n.name,
        type,
        class: klass,
        ttl: ttlRaw > 0x7fffffff ? 0 : ttlRaw,
        rdata,
        rdataOffset,
      });
    }
  }
  // Trailing bytes after the last record are ignored: the sections are fully accounted for.
  return {
    header,
    questions,
    answers: lists[0]!,
    authorities: lists[1]!,
    additionals: lists[2]!,
    opt,
    rcode: ((opt?.extendedRcode ?? 0) << 4) | header.rcode,
    buf,
  };
}

/** Decodes the header and the question section only (RFC 2181 §9: the rest of a TC=1 answer is
 * to be ignored, and a server may cut it anywhere). */
export function decodeQuestionOnly(buf: Buffer): { header: WireHeader; questions: WireQuestion[] } {
  const header = decodeHeader(buf);
  if (HEADER + header.qdcount * 5 > buf.length) {
    throw malformed(`header announces ${header.qdcount} questions, more than fit`, 4);
  }
  return { header, questions: readQuestions(buf, header.qdcount).questions };
}

function readQuestions(buf: Buffer, count: number): { questions: WireQuestion[]; end: number } {
  let pos = HEADER;
  const questions: WireQuestion[] = [];
  for (let i = 0; i < count; i++) {
    const n = decodeName(buf, pos);
    need(buf, n.end, 4, `question ${i + 1}`);
    questions.push({
      name: n.name,
      type: buf.readUInt16BE(n.end),
      class: buf.readUInt16BE(n.end + 2),
    });
    pos = n.end + 4;
  }
  return { questions, end: pos };
}
