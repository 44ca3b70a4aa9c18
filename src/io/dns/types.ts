/**
 * The shapes the rest of danekeeper sees: record types, lookup results with their DNSSEC status,
 * and the Resolver interface that `check`, the rollover executor and test doubles implement.
 */
import type { DkError } from '../../core/errors.js';
import type { TlsaRecord } from '../../core/tlsa/record.js';

/**
 * RFC 4035 §4.3 / RFC 7672 §2.1.1, as a stub behind a validating resolver sees them:
 * - secure: the resolver validated the answer (AD=1);
 * - insecure: answered, not validated (AD=0): unsigned zone, or a resolver that does not validate;
 * - bogus: validation failed (SERVFAIL, yet with CD=1 the same server answers);
 * - indeterminate: no usable answer (timeouts, SERVFAIL even with CD=1, malformed answers).
 */
export type DnssecStatus = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export type Rcode =
  | 'NOERROR'
  | 'FORMERR'
  | 'SERVFAIL'
  | 'NXDOMAIN'
  | 'NOTIMP'
  | 'REFUSED'
  | 'YXDOMAIN'
  | 'YXRRSET'
  | 'NXRRSET'
  | 'NOTAUTH'
  | 'NOTZONE'
  | 'BADVERS'
  | 'BADCOOKIE'
  | `RCODE${number}`;

const RCODES: Record<number, Rcode> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADVERS', // RFC 6891 §9
  23: 'BADCOOKIE', // RFC 7873 §8
};

export function rcodeName(n: number): Rcode {
  return RCODES[n] ?? `RCODE${n}`;
}

export interface MxRecord {
  preference: number;
  /** Presentation form without the final dot; `.` is the null MX of RFC 7505. */
  exchange: string;
}

export interface SoaRecord {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** RFC 4034 §5.1. */
export interface DsRecord {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: Buffer;
}

/** RFC 4034 §2.1, with the key tag of Appendix B computed for matching against DS records. */
export interface DnskeyRecord {
  flags: number;
  protocol: number;
  algorithm: number;
  key: Buffer;
  keyTag: number;
}

/** What each record type decodes to. A and AAAA are addresses in text form (AAAA per RFC 5952). */
export interface RecordTypes {
  A: string;
  AAAA: string;
  CNAME: string;
  NS: string;
  MX: MxRecord;
  SOA: SoaRecord;
  DS: DsRecord;
  DNSKEY: DnskeyRecord;
  TLSA: TlsaRecord;
}

export type RecordType = keyof RecordTypes;

/** IANA RR TYPE numbers (RFC 1035 §3.2.2, RFC 3596, RFC 4034, RFC 6698). */
export const TYPE_CODES: { readonly [K in RecordType]: number } = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  AAAA: 28,
  DS: 43,
  DNSKEY: 48,
  TLSA: 52,
};

export const CLASS_IN = 1;
export const TYPE_CNAME = 5;
export const TYPE_RRSIG = 46;

export function isRecordType(s: string): s is RecordType {
  return Object.hasOwn(TYPE_CODES, s);
}

export interface LookupResult<T> {
  /** The name asked for, presentation form without the final dot. */
  name: string;
  type: RecordType;
  status: DnssecStatus;
  /** null when no server gave a usable answer (status is then indeterminate). */
  rcode: Rcode | null;
  /**
   * The RRset of `type` at the end of the CNAME chain. When status is `bogus` these come from the
   * CD=1 retry: shown for diagnosis, never to be acted on.
   */
  records: T[];
  /** CNAME targets followed from `name`, in order (empty when there was no CNAME). */
  cnameChain: string[];
  /** The last name of the chain: `name` itself when there was no CNAME (RFC 7672 §2.2.3). */
  canonicalName: string;
  /**
   * The RRset's TTL (the smallest of its records, as the resolver counts it down); for NXDOMAIN
   * and NODATA the negative-caching TTL from the SOA (RFC 2308 §5); null when neither is known.
   */
  ttl: number | null;
  /** `IP:port` of the server that answered; when none did, every server tried, comma-separated. */
  server: string;
  /** AA bit: the answer came from an authoritative server (meaningful with rd: false). */
  authoritative: boolean;
  /** Records of `type` whose RDATA could not be decoded (e.g. TLSA shorter than 3 octets). */
  skipped: number;
  /** Why the status is what it is, when that is not plain AD=1/AD=0: one sentence. */
  why?: string;
  /** The error behind an indeterminate status, with its stable code and kind. */
  error?: DkError;
}

export interface LookupOptions {
  /** RD bit, default true. false to ask an authoritative server directly (RFC 1035 §4.1.1). */
  rd?: boolean;
  /**
   * CD bit, default false. With CD=1 the resolver does not validate (RFC 4035 §3.2.2), so an
   * answer without AD is `indeterminate` rather than `insecure`.
   */
  cd?: boolean;
  /** Skip UDP and ask over TCP only (RFC 7766). */
  tcp?: boolean;
  signal?: AbortSignal;
}

export interface Resolver {
  lookup<K extends RecordType>(
    name: string,
    type: K,
    opts?: LookupOptions,
  ): Promise<LookupResult<RecordTypes[K]>>;
  /** `IP:port` of each server, in the order they are asked. */
  readonly servers: readonly string[];
  /** One resolver per server, so that each can be proven to validate on its own. */
  perServer?(): Resolver[];
}
