/**
 * TSIG (RFC 8945): signing a message we send and verifying the signed answer.
 *
 * The MAC (§4.3) covers, in order: the request MAC with its length (responses only, §4.3.1),
 * the message as it was before the TSIG RR was added (ARCOUNT one less, the ID the original ID),
 * then the TSIG variables (§4.3.3): key name and algorithm name in canonical (lower-case,
 * uncompressed) wire form, class ANY, TTL 0, time signed, fudge, error, other len, other data.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { decodeName } from '../../io/dns/wire.js';
import type { TsigAlgorithm, TsigKey } from './keyfile.js';
import { CLASS_ANY, encodeName, TYPE_TSIG } from './message.js';

/** RFC 8945 §10: the recommended fudge. */
export const DEFAULT_FUDGE = 300;
export const TSIG_BADSIG = 16;
export const TSIG_BADKEY = 17;
export const TSIG_BADTIME = 18;
export const TSIG_BADTRUNC = 22;

const HASH: Readonly<Record<TsigAlgorithm, string>> = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
};
const MAC_SIZE: Readonly<Record<TsigAlgorithm, number>> = {
  'hmac-sha1': 20,
  'hmac-sha224': 28,
  'hmac-sha256': 32,
  'hmac-sha384': 48,
  'hmac-sha512': 64,
};

export interface TsigFields {
  /** algorithm name as it appears on the wire (`hmac-sha256.`) */
  algorithm: string;
  /** seconds since the epoch, 48 bits */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(n / 2 ** 32) & 0xffff, 0);
  b.writeUInt32BE((n % 2 ** 32) >>> 0, 2);
  return b;
}

/** §4.3.3: the TSIG variables, names canonical. */
function variables(keyName: string, algorithm: string, f: TsigFields): Buffer {
  const ttlClass = Buffer.alloc(6);
  ttlClass.writeUInt16BE(CLASS_ANY, 0);
  return Buffer.concat([
    encodeName(keyName, true),
    ttlClass,
    encodeName(algorithm, true),
    u48(f.timeSigned),
    u16(f.fudge),
    u16(f.error),
    u16(f.otherData.length),
    f.otherData,
  ]);
}

function mac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(HASH[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** §4.3.1: a response's MAC starts with the request's MAC and its length. */
function prior(requestMac: Buffer | undefined): Buffer[] {
  return requestMac === undefined ? [] : [u16(requestMac.length), requestMac];
}

export function encodeTsigRdata(f: TsigFields): Buffer {
  return Buffer.concat([
    encodeName(f.algorithm, true),
    u48(f.timeSigned),
    u16(f.fudge),
    u16(f.mac.length),
    f.mac,
    u16(f.originalId),
    u16(f.error),
    u16(f.otherData.length),
    f.otherData,
  ]);
}

/** Appends a TSIG RR (§4.2: last in the additional section) and increments ARCOUNT. */
export function appendTsig(message: Buffer, keyName: string, f: TsigFields): Buffer {
  const rdata = encodeTsigRdata(f);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_TSIG, 0);
  fixed.writeUInt16BE(CLASS_ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([message, encodeName(keyName, true), fixed, rdata]);
  out.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return out;
}

export interface SignOptions {
  /** seconds since the epoch */
  now: number;
  fudge?: number;
  /** when signing a response (servers, and our fake ones in tests) */
  requestMac?: Buffer;
  error?: number;
  otherData?: Buffer;
}

/** Signs `message` (complete, without TSIG) with `key`; returns the wire form and its MAC. */
export function tsigSign(
  message: Buffer,
  key: TsigKey,
  o: SignOptions,
): { wire: Buffer; mac: Buffer } {
  const algorithm = `${key.algorithm}.`;
  const f: TsigFields = {
    algorithm,
    timeSigned: Math.floor(o.now),
    fudge: o.fudge ?? DEFAULT_FUDGE,
    mac: Buffer.alloc(0),
    originalId: message.readUInt16BE(0),
    error: o.error ?? 0,
    otherData: o.otherData ?? Buffer.alloc(0),
  };
  f.mac = mac(key, [...prior(o.requestMac), message, variables(key.name, algorithm, f)]);
  return { wire: appendTsig(message, key.name, f), mac: f.mac };
}

export type TsigVerdict =
  /** no TSIG RR at all */
  | { kind: 'none' }
  /** MAC verified; `error` may still be BADTIME (§5.2.3: such answers are signed) */
  | { kind: 'verified'; fields: TsigFields }
  /** §5.3.2: BADKEY / BADSIG answers carry a TSIG RR without a MAC */
  | { kind: 'unsigned-error'; fields: TsigFields }
  /** anything else: a wrong MAC, another key, a TSIG RR out of place, a time out of range */
  | { kind: 'bad'; why: string; fields?: TsigFields };

function skipRr(
  buf: Buffer,
  pos: number,
): { name: string; type: number; klass: number; ttl: number; rdStart: number; end: number } {
  const n = decodeName(buf, pos);
  if (n.end + 10 > buf.length) throw new Error('record runs past the end');
  const type = buf.readUInt16BE(n.end);
  const klass = buf.readUInt16BE(n.end + 2);
  const ttl = buf.readUInt32BE(n.end + 4);
  const rdlen = buf.readUInt16BE(n.end + 8);
  const rdStart = n.end + 10;
  if (rdStart + rdlen > buf.length) throw new Error('record runs past the end');
  return { name: n.name, type, klass, ttl, rdStart, end: rdStart + rdlen };
}

/** The fields of a TSIG RR's RDATA (RFC 8945 §4.2) in buf[start, end); throws when malformed. */
export function parseTsigRdata(buf: Buffer, start: number, end: number): TsigFields {
  const a = decodeName(buf, start);
  let p = a.end;
  const need = (n: number) => {
    if (p + n > end) throw new Error('TSIG RDATA is cut short');
  };
  need(10);
  const timeSigned = buf.readUInt16BE(p) * 2 ** 32 + buf.readUInt32BE(p + 2);
  const fudge = buf.readUInt16BE(p + 6);
  const macLen = buf.readUInt16BE(p + 8);
  p += 10;
  need(macLen + 6);
  const macBuf = Buffer.from(buf.subarray(p, p + macLen));
  p += macLen;
  const originalId = buf.readUInt16BE(p);
  const error = buf.readUInt16BE(p + 2);
  const otherLen = buf.readUInt16BE(p + 4);
  p += 6;
  need(otherLen);
  const otherData = Buffer.from(buf.subarray(p, p + otherLen));
  p += otherLen;
  if (p !== end) throw new Error('TSIG RDATA has trailing bytes');
  return {
    algorithm: a.name === '.' ? '.' : `${a.name}.`,
    timeSigned,
    fudge,
    mac: macBuf,
    originalId,
    error,
    otherData,
  };
}

export interface VerifyOptions {
  /** seconds since the epoch */
  now: number;
  /** the MAC of our request, when verifying its answer (§4.3.1) */
  requestMac?: Buffer;
}

/**
 * Finds and checks the TSIG RR of a received message (§5.3 for servers, §5.4 for clients).
 * Never throws: a malformed TSIG is a `bad` verdict.
 */
export function tsigVerify(message: Buffer, key: TsigKey, o: VerifyOptions): TsigVerdict {
  let tsigStart = -1;
  let tsig: { name: string; rdStart: number; end: number } | undefined;
  try {
    if (message.length < 12) return { kind: 'bad', why: 'the message is shorter than a header' };
    let pos = 12;
    const qd = message.readUInt16BE(4);
    for (let i = 0; i < qd; i++) {
      pos = decodeName(message, pos).end + 4;
      if (pos > message.length) throw new Error('question runs past the end');
    }
    const counts = [4, 6, 8, 10].map((o2) => message.readUInt16BE(o2));
    const rrs = counts[1]! + counts[2]! + counts[3]!;
    for (let i = 0; i < rrs; i++) {
      const start = pos;
      const r = skipRr(message, pos);
      pos = r.end;
      if (r.type === TYPE_TSIG) {
        // §5.1: the TSIG RR is the last record of the additional section, and there is one.
        // (Counted in the answer or authority section it would also leave ARCOUNT at 0.)
        if (i !== rrs - 1 || counts[3] === 0) {
          return { kind: 'bad', why: 'a TSIG record is not the last additional record' };
        }
        // §4.2: CLASS ANY and TTL 0. The MAC covers them only as those constants (§4.3.3), so
        // other values on the wire would be changes the MAC does not see.
        if (r.klass !== CLASS_ANY || r.ttl !== 0) {
          return {
            kind: 'bad',
            why: 'its TSIG record has a CLASS other than ANY or a TTL other than 0',
          };
        }
        tsigStart = start;
        tsig = r;
      }
    }
    // Bytes after the last record belong to no record: the MAC does not cover them.
    if (tsig && pos !== message.length) {
      return { kind: 'bad', why: 'the message has trailing bytes after its TSIG record' };
    }
  } catch (e) {
    return { kind: 'bad', why: `the message is malformed (${(e as Error).message})` };
  }
  if (!tsig) return { kind: 'none' };
  let f: TsigFields;
  try {
    f = parseTsigRdata(message, tsig.rdStart, tsig.end);
  } catch (e) {
    return { kind: 'bad', why: `its TSIG record is malformed (${(e as Error).message})` };
  }
  if (tsig.name.toLowerCase() !== key.name.toLowerCase()) {
    return { kind: 'bad', why: 'it is signed with another TSIG key', fields: f };
  }
  if (f.algorithm.toLowerCase() !== `${key.algorithm}.`) {
    return { kind: 'bad', why: 'it is signed with another TSIG algorithm', fields: f };
  }
  if (f.mac.length === 0 && (f.error === TSIG_BADKEY || f.error === TSIG_BADSIG)) {
    return { kind: 'unsigned-error', fields: f };
  }
  // §5.2.2.1 allows truncated MACs only when both sides agreed to them; we never ask for that.
  if (f.mac.length !== MAC_SIZE[key.algorithm]) {
    return { kind: 'bad', why: `its TSIG MAC has ${f.mac.length} octets`, fields: f };
  }
  const unsigned = Buffer.from(message.subarray(0, tsigStart));
  unsigned.writeUInt16BE(f.originalId, 0);
  unsigned.writeUInt16BE(message.readUInt16BE(10) - 1, 10);
  const want = mac(key, [
    ...prior(o.requestMac),
    unsigned,
    variables(key.name, `${key.algorithm}.`, f),
  ]);
  if (!timingSafeEqual(want, f.mac)) {
    return { kind: 'bad', why: `its TSIG MAC does not verify with key "${key.name}"`, fields: f };
  }
  // §5.2.3: outside the fudge window the message is not accepted (a BADTIME answer is signed
  // but carries the request's time, so the caller looks at `error` first).
  if (f.error !== TSIG_BADTIME && Math.abs(o.now - f.timeSigned) > f.fudge) {
    return {
      kind: 'bad',
      why: `it was signed ${Math.round(o.now - f.timeSigned)} s from our clock, beyond the fudge of ${f.fudge} s`,
      fields: f,
    };
  }
  return { kind: 'verified', fields: f };
}

/** The other party's clock from a BADTIME answer (§5.2.3: Other Data holds the server time). */
export function serverTime(f: TsigFields): number | null {
  if (f.otherData.length !== 6) return null;
  return f.otherData.readUInt16BE(0) * 2 ** 32 + f.otherData.readUInt32BE(2);
}
