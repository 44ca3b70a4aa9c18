/**
 * A zone transfer (AXFR, RFC 5936) from the primary over TCP, TSIG-signed with the configured
 * key when there is one, so `dns list` can show every TLSA RRset of the zone, hand-made ones at
 * names danekeeper never touched included.
 *
 * A transfer is many DNS messages on one connection: the zone's SOA, every RR, the SOA again
 * (RFC 5936 §2.2). Every message is decoded by the strict decoder (io/dns/wire.ts) and checked:
 * our ID, QR, no TC, RCODE 0, the question (first message) or none/the same (later ones). With a
 * key, the answer is believed only when signed as RFC 8945 §5.3.1 asks: the first and the last
 * message signed, at most 99 unsigned ones in a row, each MAC chained over the previous one.
 * Limits bound what a hostile or broken server can make us hold: total bytes, messages, an idle
 * timeout and an overall deadline.
 *
 * A server that will not transfer the zone to us (REFUSED, NOTAUTH, NOTIMP) is not an error of
 * the listing: E_XFR_REFUSED lets the caller fall back to the owners it knows, and its message
 * says how to allow the transfer.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { DkError, type ErrorKind } from '../../core/errors.js';
import { decodeTlsaRdata } from '../../core/tlsa/wire.js';
import type { TlsaRecord } from '../../core/tlsa/record.js';
import { decodeMessage, decodeName, type WireMessage, type WireRecord } from '../../io/dns/wire.js';
import { byOwner } from '../owner-order.js';
import type { TlsaRrset } from '../types.js';
import type { TsigKey } from './keyfile.js';
import {
  CLASS_IN,
  encodeMessage,
  OPCODE_QUERY,
  rcodeName,
  TYPE_SOA,
  TYPE_TLSA,
  TYPE_TSIG,
} from './message.js';
import {
  appendTsig,
  DEFAULT_FUDGE,
  parseTsigRdata,
  TSIG_BADKEY,
  TSIG_BADSIG,
  TSIG_BADTIME,
  tsigSign,
  tsigVerify,
  type TsigFields,
} from './tsig.js';
import { netErrorReason } from '../../io/net-errors.js';

/** RFC 5936 §2.1: QTYPE AXFR. */
export const TYPE_AXFR = 252;

const RCODE_NOTIMP = 4;
const RCODE_REFUSED = 5;
const RCODE_NOTAUTH = 9;

/** RFC 8945 §5.3.1: a signed message is needed at least every 100 envelopes. */
export const MAX_UNSIGNED_RUN = 99;

export interface AxfrOptions {
  /** the zone, absolute (`example.org.`) */
  zone: string;
  server: { host: string; port: number };
  /** null: an unsigned transfer (a server that allows it by address) */
  key: TsigKey | null;
  /** no byte from the server for this long ends the transfer; default 10 s */
  idleTimeoutMs?: number;
  /** the whole transfer, connect to closing SOA; default 60 s */
  deadlineMs?: number;
  /** bytes received, length prefixes included; default 64 MiB */
  maxBytes?: number;
  /** DNS messages received; default 100,000 */
  maxMessages?: number;
  /** RR types to keep (the rest is checked and counted, not kept); default all */
  types?: number[];
  /** seconds since the epoch, for TSIG; tests set it */
  now?: () => number;
  /** the query's ID; tests set it */
  id?: number;
}

export interface AxfrRecord {
  /** absolute, lower case, trailing dot */
  name: string;
  type: number;
  ttl: number;
  rdata: Buffer;
}

export interface AxfrResult {
  serial: number;
  records: AxfrRecord[];
  messages: number;
  bytes: number;
  /** every message was covered by a verified TSIG (a key was given) */
  signed: boolean;
}

const absolute = (n: string) => {
  const l = n.toLowerCase();
  return l === '.' ? '.' : l.endsWith('.') ? l : `${l}.`;
};

function inZone(name: string, zone: string): boolean {
  return zone === '.' || name === zone || name.endsWith(`.${zone}`);
}

function serverLabel(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

/** What to tell an operator whose server refused the transfer. */
export function transferHint(key: TsigKey | null): string {
  return key
    ? `to allow it, BIND: allow-transfer { key "${key.name}"; }; in the zone; ` +
        `Knot: an acl with action: transfer and key: ${key.name} on the zone`
    : 'to allow it, give danekeeper a TSIG key (--tsig-key) and allow transfers with it ' +
        '(BIND: allow-transfer { key NAME; }; Knot: an acl with action: transfer and key: NAME)';
}

/** The TSIG RR of a message: where it starts (to cut it off) and its fields. */
interface TsigAt extends TsigFields {
  start: number;
  keyName: string;
}

/**
 * Finds the TSIG RR, which RFC 8945 §5.1 puts last in the message; null when there is none.
 * The message has been through decodeMessage already, so the walk stays in bounds; a TSIG RR
 * anywhere but last, or with malformed RDATA, throws.
 */
function findTsig(buf: Buffer): TsigAt | null {
  let pos = 12;
  const qd = buf.readUInt16BE(4);
  for (let i = 0; i < qd; i++) pos = decodeName(buf, pos).end + 4;
  const rrs = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  for (let i = 0; i < rrs; i++) {
    const start = pos;
    const n = decodeName(buf, pos);
    const type = buf.readUInt16BE(n.end);
    const rdStart = n.end + 10;
    const end = rdStart + buf.readUInt16BE(n.end + 8);
    pos = end;
    if (type !== TYPE_TSIG) continue;
    if (i !== rrs - 1) throw new Error('a TSIG record is not the last record');
    return { start, keyName: absolute(n.name), ...parseTsigRdata(buf, rdStart, end) };
  }
  return null;
}

/** The message as it was before its TSIG RR was added (RFC 8945 §4.3.1): ID and ARCOUNT back. */
function withoutTsig(buf: Buffer, t: TsigAt): Buffer {
  const out = Buffer.from(buf.subarray(0, t.start));
  out.writeUInt16BE(t.originalId, 0);
  out.writeUInt16BE(buf.readUInt16BE(10) - 1, 10);
  return out;
}

/** RFC 8945 §4.3.2.1 / §5.3.1: "TSIG timers" are Time Signed (48 bits) and Fudge. */
function timers(timeSigned: number, fudge: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(Math.floor(timeSigned / 2 ** 32) & 0xffff, 0);
  b.writeUInt32BE((timeSigned % 2 ** 32) >>> 0, 2);
  b.writeUInt16BE(fudge, 6);
  return b;
}

/**
 * RFC 8945 §5.3.1: the MAC of a later message of a TCP session covers the previous MAC (its
 * length, then the MAC), every unsigned message since then as sent, this message without its
 * TSIG RR, and only the TSIG timers, not the whole variables.
 */
export function chainedMac(
  key: TsigKey,
  priorMac: Buffer,
  unsigned: Buffer[],
  message: Buffer,
  timeSigned: number,
  fudge: number,
): Buffer {
  const h = createHmac(key.algorithm.slice('hmac-'.length), key.secret);
  h.update(u16(priorMac.length));
  h.update(priorMac);
  for (const m of unsigned) h.update(m);
  h.update(message);
  h.update(timers(timeSigned, fudge));
  return h.digest();
}

/**
 * Signs a later message of a transfer as a server does (RFC 8945 §5.3.1), for the fake servers
 * of the tests; `message` is complete without a TSIG RR.
 */
export function signNext(
  message: Buffer,
  key: TsigKey,
  o: { priorMac: Buffer; unsigned?: Buffer[]; now: number; fudge?: number },
): { wire: Buffer; mac: Buffer } {
  const timeSigned = Math.floor(o.now);
  const fudge = o.fudge ?? DEFAULT_FUDGE;
  const mac = chainedMac(key, o.priorMac, o.unsigned ?? [], message, timeSigned, fudge);
  const wire = appendTsig(message, key.name, {
    algorithm: `${key.algorithm}.`,
    timeSigned,
    fudge,
    mac,
    originalId: message.readUInt16BE(0),
    error: 0,
    otherData: Buffer.alloc(0),
  });
  return { wire, mac };
}

/** SOA serial from RDATA: two names (possibly compressed), then SERIAL (RFC 1035 §3.3.13). */
function soaSerial(msg: WireMessage, rr: WireRecord): number {
  const end = rr.rdataOffset + rr.rdata.length;
  const mname = decodeName(msg.buf, rr.rdataOffset);
  const rname = decodeName(msg.buf, mname.end);
  if (mname.end > end || rname.end + 20 !== end) throw new Error('a malformed SOA record');
  return msg.buf.readUInt32BE(rname.end);
}

/** Runs one transfer; throws DkError E_XFR_* (see the module comment). */
export function axfr(o: AxfrOptions): Promise<AxfrResult> {
  const zone = absolute(o.zone);
  const label = serverLabel(o.server.host, o.server.port);
  const key = o.key;
  const now = o.now ?? (() => Date.now() / 1000);
  const idleMs = o.idleTimeoutMs ?? 10_000;
  const deadlineMs = o.deadlineMs ?? 60_000;
  const maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
  const maxMessages = o.maxMessages ?? 100_000;
  const keep = o.types ? new Set(o.types) : null;
  const id = o.id ?? randomInt(0, 65536);
  const ctx = `Zone transfer (AXFR) of ${zone} from ${label}`;
  const keyText = key ? ` with TSIG key "${key.name}"` : ' (unsigned)';

  const query = encodeMessage({
    id,
    opcode: OPCODE_QUERY,
    question: { name: zone, type: TYPE_AXFR, class: CLASS_IN },
  });
  const signedQuery = key ? tsigSign(query, key, { now: now() }) : null;

  return new Promise((resolve, reject) => {
    let done = false;
    let pending: Buffer = Buffer.alloc(0);
    let bytes = 0;
    let messages = 0;
    let serial = -1;
    let rrCount = 0;
    const records: AxfrRecord[] = [];
    // RFC 8945 §5.3.1 state: the MAC the next signed message chains on, and the unsigned
    // messages since the last signed one
    let priorMac = signedQuery?.mac ?? Buffer.alloc(0);
    let unsigned: Buffer[] = [];

    const sock = net.connect({ host: o.server.host, port: o.server.port });
    sock.setNoDelay(true);

    const finish = (err: DkError | null, value?: AxfrResult) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearTimeout(idle);
      sock.removeAllListeners('data');
      sock.on('error', () => {});
      sock.destroy();
      pending = Buffer.alloc(0);
      unsigned = [];
      if (err) reject(err);
      else resolve(value!);
    };
    const fail = (kind: ErrorKind, code: string, why: string) =>
      finish(new DkError(kind, code, `${ctx} failed: ${why}`));
    const broken = (why: string) => fail('protocol', 'E_XFR_PROTOCOL', why);

    const deadline = setTimeout(
      () =>
        fail(
          'unavailable',
          'E_XFR_TIMEOUT',
          `not finished within ${fmtMs(deadlineMs)} (${messages} messages, ${bytes} bytes so far)`,
        ),
      deadlineMs,
    );
    let idle = setTimeout(() => {}, 0);
    const resetIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          fail(
            'unavailable',
            'E_XFR_TIMEOUT',
            messages === 0 && bytes === 0
              ? `no answer within ${fmtMs(idleMs)}`
              : `the server went quiet for ${fmtMs(idleMs)} after ${messages} messages, before the closing SOA`,
          ),
        idleMs,
      );
    };
    resetIdle();

    /** RFC 8945 §5.3.1 for the message `raw`; returns whether it was signed. */
    const checkTsig = (raw: Buffer, first: boolean): boolean => {
      if (!key) return false;
      if (first) {
        // the first answer is an ordinary signed response to our query (§5.3, §4.3.1)
        const v = tsigVerify(raw, key, { now: now(), requestMac: signedQuery!.mac });
        if (v.kind !== 'verified') {
          throw new DkError(
            'protocol',
            'E_XFR_PROTOCOL',
            `${ctx} failed: the answer is not trusted: ${v.kind === 'bad' ? v.why : 'it is not signed with TSIG key "' + key.name + '"'}`,
          );
        }
        if (v.fields.error !== 0)
          throw new DkError(
            'protocol',
            'E_XFR_PROTOCOL',
            `${ctx} failed: the answer carries TSIG error ${rcodeName(v.fields.error)}`,
          );
        priorMac = v.fields.mac;
        return true;
      }
      let t: TsigAt | null;
      try {
        t = findTsig(raw);
      } catch (e) {
        throw new DkError(
          'protocol',
          'E_XFR_PROTOCOL',
          `${ctx} failed: message ${messages} is malformed (${(e as Error).message})`,
        );
      }
      if (!t) {
        unsigned.push(raw);
        if (unsigned.length > MAX_UNSIGNED_RUN) {
          throw new DkError(
            'protocol',
            'E_XFR_PROTOCOL',
            `${ctx} failed: more than ${MAX_UNSIGNED_RUN} messages in a row carry no TSIG (RFC 8945 §5.3.1), so the transfer is not trusted`,
          );
        }
        return false;
      }
      const bad = (why: string) =>
        new DkError(
          'protocol',
          'E_XFR_PROTOCOL',
          `${ctx} failed: message ${messages} is not trusted: ${why}`,
        );
      if (t.keyName !== absolute(key.name)) throw bad('it is signed with another TSIG key');
      if (t.algorithm !== `${key.algorithm}.`)
        throw bad('it is signed with another TSIG algorithm');
      if (t.error !== 0) throw bad(`its TSIG carries error ${rcodeName(t.error)}`);
      const want = chainedMac(key, priorMac, unsigned, withoutTsig(raw, t), t.timeSigned, t.fudge);
      if (want.length !== t.mac.length || !timingSafeEqual(want, t.mac))
        throw bad(`its TSIG MAC does not verify with key "${key.name}"`);
      // RFC 8945 §5.2.3: every signed message is held to the fudge window
      if (Math.abs(now() - t.timeSigned) > t.fudge)
        throw bad(
          `it was signed ${Math.round(now() - t.timeSigned)} s from our clock, beyond the fudge of ${t.fudge} s`,
        );
      priorMac = t.mac;
      unsigned = [];
      return true;
    };

    /** The first message's RCODE: a refusal is what the caller falls back on. */
    const refusal = (msg: WireMessage, raw: Buffer): DkError | null => {
      const rc = msg.rcode;
      if (rc === 0) return null;
      // RFC 8945 §5.3.2: error answers may come unsigned or with a TSIG error; they are
      // failures either way, so they are reported for what they say
      const v =
        key && signedQuery
          ? tsigVerify(raw, key, { now: now(), requestMac: signedQuery.mac })
          : null;
      const tsigError =
        v && (v.kind === 'verified' || v.kind === 'unsigned-error') ? v.fields.error : 0;
      if (tsigError === TSIG_BADSIG || tsigError === TSIG_BADTIME)
        return new DkError(
          'noperm',
          'E_PUBLISH_AUTH',
          `${ctx} refused: the server does not accept the signature of TSIG key "${key!.name}" (${rcodeName(tsigError)}); its secret, algorithm or clock differs there`,
        );
      const why = `${rcodeName(rc)}${tsigError ? `, TSIG ${rcodeName(tsigError)}` : ''}`;
      // Knot answers an ACL denial of a signed request with NOTAUTH + BADKEY; BIND a
      // transfer it does not allow with REFUSED; NOTIMP: no transfers at all
      if (
        rc === RCODE_REFUSED ||
        rc === RCODE_NOTAUTH ||
        rc === RCODE_NOTIMP ||
        tsigError === TSIG_BADKEY
      )
        return new DkError(
          'noperm',
          'E_XFR_REFUSED',
          `${ctx} was refused${keyText} (${why}); ${transferHint(key)}`,
        );
      return new DkError('protocol', 'E_XFR_FAILED', `${ctx} failed: the server answered ${why}`);
    };

    const onMessage = (raw: Buffer): boolean => {
      messages++;
      if (messages > maxMessages)
        throw new DkError(
          'protocol',
          'E_XFR_LIMIT',
          `${ctx} stopped: more than ${maxMessages} messages without the closing SOA`,
        );
      let msg: WireMessage;
      try {
        msg = decodeMessage(raw);
      } catch (e) {
        throw new DkError(
          'protocol',
          'E_XFR_PROTOCOL',
          `${ctx} failed: message ${messages} is malformed (${(e as Error).message})`,
        );
      }
      const h = msg.header;
      const first = messages === 1;
      // RFC 5936 §2.2.1: every message copies the query's ID; QR=1; TC is never set on TCP
      const why =
        h.id !== id
          ? `has ID ${h.id}, not ${id}`
          : !h.qr
            ? 'is not a response'
            : h.opcode !== OPCODE_QUERY
              ? `has opcode ${h.opcode}`
              : h.tc
                ? 'has TC=1'
                : msg.questions.length > 1
                  ? `has ${msg.questions.length} questions`
                  : msg.questions.length === 1 &&
                      (absolute(msg.questions[0]!.name) !== zone ||
                        msg.questions[0]!.type !== TYPE_AXFR ||
                        msg.questions[0]!.class !== CLASS_IN)
                    ? 'is for another question'
                    : // RFC 5936 §2.2.1: the first message repeats the question (errors may not)
                      first && msg.questions.length === 0 && msg.rcode === 0
                      ? 'has no question'
                      : null;
      if (why)
        throw new DkError(
          'protocol',
          'E_XFR_PROTOCOL',
          `${ctx} failed: message ${messages} ${why}`,
        );
      if (first) {
        const r = refusal(msg, raw);
        if (r) throw r;
      } else if (msg.rcode !== 0) {
        // RFC 5936 §2.2: an error in a later message aborts the transfer
        throw new DkError(
          'protocol',
          'E_XFR_FAILED',
          `${ctx} failed: the server broke off with ${rcodeName(msg.rcode)} after ${messages - 1} messages`,
        );
      }
      const signed = checkTsig(raw, first);
      let ended = false;
      for (const rr of msg.answers) {
        if (ended)
          throw new DkError(
            'protocol',
            'E_XFR_PROTOCOL',
            `${ctx} failed: records follow the closing SOA`,
          );
        const name = absolute(rr.name);
        rrCount++;
        if (rrCount === 1) {
          // RFC 5936 §2.2: the transfer starts with the zone's SOA
          if (rr.type !== TYPE_SOA || name !== zone)
            throw new DkError(
              'protocol',
              'E_XFR_PROTOCOL',
              `${ctx} failed: the transfer does not start with the SOA of ${zone}`,
            );
          try {
            serial = soaSerial(msg, rr);
          } catch (e) {
            throw new DkError(
              'protocol',
              'E_XFR_PROTOCOL',
              `${ctx} failed: ${(e as Error).message}`,
            );
          }
          continue;
        }
        if (rr.type === TYPE_SOA && name === zone) {
          // RFC 5936 §2.2: ... and ends with it again, the same serial
          let s: number;
          try {
            s = soaSerial(msg, rr);
          } catch (e) {
            throw new DkError(
              'protocol',
              'E_XFR_PROTOCOL',
              `${ctx} failed: ${(e as Error).message}`,
            );
          }
          if (s !== serial)
            throw new DkError(
              'protocol',
              'E_XFR_PROTOCOL',
              `${ctx} failed: it ends with serial ${s}, not the ${serial} it began with (the zone changed; try again)`,
            );
          ended = true;
          continue;
        }
        // RFC 5936 §3.5 / §6: records outside the zone are not the zone's data
        if (rr.class !== CLASS_IN || !inZone(name, zone)) continue;
        if (keep && !keep.has(rr.type)) continue;
        records.push({ name, type: rr.type, ttl: rr.ttl, rdata: Buffer.from(rr.rdata) });
      }
      if (ended && key && !signed)
        throw new DkError(
          'protocol',
          'E_XFR_PROTOCOL',
          `${ctx} failed: its last message carries no TSIG (RFC 8945 §5.3.1), so the transfer is not trusted`,
        );
      return ended;
    };

    sock.on('connect', () => {
      const wire = signedQuery ? signedQuery.wire : query;
      sock.write(Buffer.concat([u16(wire.length), wire]));
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (bytes > 0) broken(`the connection broke after ${bytes} bytes (${netErrorReason(err)})`);
      else fail('unavailable', 'E_XFR_UNREACHABLE', netErrorReason(err));
    });
    sock.on('close', () => {
      if (bytes === 0)
        fail(
          'unavailable',
          'E_XFR_UNREACHABLE',
          'the server closed the connection without answering',
        );
      else
        broken(
          `the connection closed after ${messages} messages (${bytes} bytes), before the closing SOA`,
        );
    });
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      resetIdle();
      bytes += chunk.length;
      if (bytes > maxBytes) {
        finish(
          new DkError(
            'protocol',
            'E_XFR_LIMIT',
            `${ctx} stopped: more than ${maxBytes} bytes without the closing SOA`,
          ),
        );
        return;
      }
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      try {
        while (pending.length >= 2) {
          const len = pending.readUInt16BE(0);
          if (len < 12)
            throw new DkError(
              'protocol',
              'E_XFR_PROTOCOL',
              `${ctx} failed: a message of ${len} bytes is shorter than a DNS header`,
            );
          if (pending.length < 2 + len) break;
          const raw = Buffer.from(pending.subarray(2, 2 + len));
          pending = pending.subarray(2 + len);
          if (onMessage(raw)) {
            finish(null, { serial, records, messages, bytes, signed: key !== null });
            return;
          }
        }
      } catch (e) {
        if (e instanceof DkError) finish(e);
        else broken((e as Error).message);
      }
    });
  });
}

/** Every TLSA RRset of the zone, by transfer, sorted by owner. */
export async function transferTlsa(o: AxfrOptions): Promise<TlsaRrset[]> {
  const r = await axfr({ ...o, types: [TYPE_TLSA] });
  const byName = new Map<string, { ttl: number; records: TlsaRecord[] }>();
  for (const rr of r.records) {
    let rec: TlsaRecord;
    try {
      rec = decodeTlsaRdata(rr.rdata);
    } catch (e) {
      throw new DkError(
        'protocol',
        'E_XFR_PROTOCOL',
        `Zone transfer of ${absolute(o.zone)}: the TLSA record at ${rr.name} is malformed (${(e as Error).message})`,
      );
    }
    const cur = byName.get(rr.name) ?? { ttl: rr.ttl, records: [] };
    cur.ttl = Math.min(cur.ttl, rr.ttl);
    cur.records.push(rec);
    byName.set(rr.name, cur);
  }
  return [...byName]
    .map(([owner, v]) => ({ owner, ttl: v.ttl, records: v.records }))
    .sort((a, b) => byOwner(a.owner, b.owner));
}
