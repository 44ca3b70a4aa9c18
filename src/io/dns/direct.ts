/**
 * Questions put straight to one authoritative server with RD=0 (RFC 1035 §4.1.1), as a
 * propagation or DNSSEC check needs them: not "what is the answer" but "what does this server
 * serve". The outcome sorts servers into answering, lame (RFC 1912 §2.8: listed as a
 * nameserver, yet not authoritative for the zone) and unreachable; the raw message is kept
 * for the caller to read any section (referrals, glue, signatures).
 */
import { DkError } from '../../core/errors.js';
import { DnsClient } from './client.js';
import { serverAddress, type ServerAddress } from './config.js';
import { sameName } from './name.js';
import { decodeRdata, decodeRrsig, type RrsigRecord } from './rdata.js';
import {
  CLASS_IN,
  TYPE_CODES,
  TYPE_RRSIG,
  rcodeName,
  type Rcode,
  type RecordType,
  type RecordTypes,
} from './types.js';
import type { WireMessage, WireRecord } from './wire.js';

export interface DirectOptions {
  /** per try; default 2000 ms */
  timeoutMs?: number;
  /** UDP tries before the TCP fallback; default 2 */
  tries?: number;
  /** default 53 */
  port?: number;
  /** Where to send a question for `address` (tests map lab addresses to local ports). */
  serverFor?: (address: string) => ServerAddress;
  signal?: AbortSignal;
}

export const DIRECT_DEFAULTS = { timeoutMs: 2000, tries: 2, port: 53 } as const;

export type DirectOutcome = 'answer' | 'lame' | 'unreachable';

export interface DirectResult {
  /** the address asked */
  address: string;
  /** `IP:port` as messages name it */
  server: string;
  name: string;
  type: RecordType;
  /**
   * answer: NOERROR or NXDOMAIN with AA=1. lame: REFUSED, NOTAUTH, SERVFAIL (a secondary whose
   * copy expired, a zone that failed to load) or an answer without AA (a referral, a cached
   * answer). unreachable: no answer at all (timeout, port closed, malformed answers).
   */
  outcome: DirectOutcome;
  rcode: Rcode | null;
  authoritative: boolean;
  transport: 'udp' | 'tcp' | null;
  /** the decoded answer, when there was one */
  message: WireMessage | null;
  /** one sentence, for lame and unreachable */
  why?: string;
  error?: DkError;
}

function target(address: string, o: DirectOptions): ServerAddress {
  return o.serverFor
    ? o.serverFor(address)
    : serverAddress(address, o.port ?? DIRECT_DEFAULTS.port);
}

/**
 * Asks `address` for `name`/`type` with RD=0 and DO=1, over UDP (TCP when truncated, RFC 7766
 * §5) and, when UDP only timed out, once more over TCP: a firewall that drops large UDP answers
 * (DNSSEC makes them large) must not pass for a dead server. Never throws except for a bad name
 * (usage) or cancellation.
 */
export async function queryDirect(
  address: string,
  name: string,
  type: RecordType,
  o: DirectOptions = {},
): Promise<DirectResult> {
  const server = target(address, o);
  const client = new DnsClient({
    servers: [server],
    timeoutMs: o.timeoutMs ?? DIRECT_DEFAULTS.timeoutMs,
    tries: o.tries ?? DIRECT_DEFAULTS.tries,
  });
  const base = { address, server: server.label, name, type };
  const signal = o.signal ? { signal: o.signal } : {};
  let answer;
  try {
    answer = await client.query(name, type, { rd: false, ...signal });
  } catch (e) {
    const err = asDkError(e);
    if (err.code === 'E_DNS_ABORTED' || err.kind === 'usage') throw err;
    if (err.code === 'E_DNS_TIMEOUT') {
      try {
        answer = await client.query(name, type, { rd: false, tcp: true, ...signal });
      } catch (e2) {
        const err2 = asDkError(e2);
        if (err2.code === 'E_DNS_ABORTED' || err2.kind === 'usage') throw err2;
        return unreachable(base, err, `UDP timed out and TCP failed too: ${err2.message}`);
      }
    } else {
      return unreachable(base, err);
    }
  }
  const m = answer.message;
  const rcode = rcodeName(m.rcode);
  const common = {
    ...base,
    rcode,
    authoritative: m.header.aa,
    transport: answer.transport,
    message: m,
  };
  if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') {
    return {
      ...common,
      outcome: 'lame',
      why: `${server.label} answered ${rcode} for ${name}/${type}: it does not serve the zone`,
    };
  }
  if (!m.header.aa) {
    return {
      ...common,
      outcome: 'lame',
      why: `${server.label} answered ${name}/${type} without the AA bit: it is not authoritative for the zone`,
    };
  }
  return { ...common, outcome: 'answer' };
}

function unreachable(
  base: { address: string; server: string; name: string; type: RecordType },
  err: DkError,
  why = err.message,
): DirectResult {
  return {
    ...base,
    outcome: 'unreachable',
    rcode: null,
    authoritative: false,
    transport: null,
    message: null,
    why,
    error: err,
  };
}

function asDkError(e: unknown): DkError {
  if (e instanceof DkError) return e;
  return new DkError('internal', 'E_DNS_INTERNAL', `DNS query failed: ${String(e)}`, { cause: e });
}

export type Section = 'answer' | 'authority' | 'additional';

function section(m: WireMessage, s: Section): WireRecord[] {
  return s === 'answer' ? m.answers : s === 'authority' ? m.authorities : m.additionals;
}

export interface SectionRrset<T> {
  records: T[];
  /** smallest TTL of the RRset; null when empty */
  ttl: number | null;
  /** records that could not be decoded */
  skipped: number;
}

/** The RRset of `type` owned by `name` in one section (no CNAME following: RD=0 answers). */
export function rrsetIn<K extends RecordType>(
  m: WireMessage,
  where: Section,
  name: string,
  type: K,
): SectionRrset<RecordTypes[K]> {
  const rrs = section(m, where).filter(
    (r) => r.class === CLASS_IN && r.type === TYPE_CODES[type] && sameName(r.name, name),
  );
  const records: RecordTypes[K][] = [];
  let skipped = 0;
  for (const rr of rrs) {
    try {
      records.push(decodeRdata(type, m.buf, rr));
    } catch {
      skipped++;
    }
  }
  return { records, ttl: rrs.length ? Math.min(...rrs.map((r) => r.ttl)) : null, skipped };
}

/** Every record of `type` in a section, whatever its owner (glue lists many owners). */
export function recordsIn<K extends RecordType>(
  m: WireMessage,
  where: Section,
  type: K,
): { owner: string; data: RecordTypes[K]; ttl: number }[] {
  const out: { owner: string; data: RecordTypes[K]; ttl: number }[] = [];
  for (const rr of section(m, where)) {
    if (rr.class !== CLASS_IN || rr.type !== TYPE_CODES[type]) continue;
    try {
      out.push({ owner: rr.name, data: decodeRdata(type, m.buf, rr), ttl: rr.ttl });
    } catch {
      // a broken glue or NS record is as good as absent
    }
  }
  return out;
}

/** RRSIGs owned by `name` covering `covered` in one section (RFC 4035 §3.1.1). */
export function rrsigsIn(
  m: WireMessage,
  where: Section,
  name: string,
  covered: RecordType,
): RrsigRecord[] {
  const out: RrsigRecord[] = [];
  for (const rr of section(m, where)) {
    if (rr.class !== CLASS_IN || rr.type !== TYPE_RRSIG || !sameName(rr.name, name)) continue;
    try {
      const sig = decodeRrsig(rr);
      if (sig.typeCovered === TYPE_CODES[covered]) out.push(sig);
    } catch {
      // an undecodable signature is as good as none
    }
  }
  return out;
}
