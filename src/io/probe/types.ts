/**
 * Types of the TLS probe: what to dial, how to upgrade, and what the server presented.
 */
import { DkError } from '../../core/errors.js';

/** How the connection is upgraded to TLS; `none` means TLS from the first byte (implicit TLS). */
export type StarttlsProto =
  | 'smtp'
  | 'lmtp'
  | 'imap'
  | 'pop3'
  | 'ftp'
  | 'xmpp'
  | 'xmpp-server'
  | 'ldap'
  | 'sieve'
  | 'nntp'
  | 'postgres'
  | 'none';

export const STARTTLS_PROTOS: readonly StarttlsProto[] = [
  'smtp',
  'lmtp',
  'imap',
  'pop3',
  'ftp',
  'xmpp',
  'xmpp-server',
  'ldap',
  'sieve',
  'nntp',
  'postgres',
  'none',
];

export interface ProbeOptions {
  /** Name or IPv4/IPv6 literal to connect to (brackets around IPv6 are accepted). */
  host: string;
  port: number;
  /** Connect to this IP instead of resolving `host` (check passes each MX address). */
  address?: string;
  starttls: StarttlsProto;
  /** SNI; default `host` when it is a name (without a trailing dot), none for IP literals. */
  servername?: string;
  /**
   * Name the client gives in EHLO/LHLO. Default `danekeeper.invalid` (RFC 2606: an honest
   * name that cannot belong to anyone). For XMPP the stream's `to` is the servername/host.
   */
  ehloName?: string;
  /** Default 10000. */
  connectTimeoutMs?: number;
  /** Per read step (one reply, one TLS handshake). Default 15000. */
  readTimeoutMs?: number;
  /** Whole probe. Default 60000. */
  totalTimeoutMs?: number;
  /** Longest line accepted before TLS. Default 4096 (SMTP allows 512; be generous). */
  maxLineBytes?: number;
  /** Total bytes accepted from the server before TLS. Default 64 KiB. */
  maxBytes?: number;
  /** Called with every line as it is exchanged (for --verbose). */
  transcript?: (dir: 'C' | 'S' | '*', line: string) => void;
  signal?: AbortSignal;
}

export interface ProbeResult {
  /** DER of each certificate exactly as presented, in the order sent, leaf first. */
  chain: Buffer[];
  /** e.g. `TLSv1.3` */
  protocol: string;
  /** IANA name, e.g. `TLS_AES_256_GCM_SHA384` */
  cipher: string;
  /** The peer actually connected to. */
  address: string;
  port: number;
  /** The SNI sent, if any. */
  servername: string | undefined;
  /** `C: EHLO x`, `S: 250 ...`, `* TLS established ...`: what the callback got. */
  transcript: string[];
  /**
   * How `chain` was obtained: `presented` when read from the server's Certificate message
   * (exact order, duplicates and strays included); `issuer-links` when rebuilt from Node's
   * issuer links (leaf first, only certificates on the issuer path, in issuer order).
   */
  chainSource: 'presented' | 'issuer-links';
}

/**
 * The STARTTLS dialogue usually spoken on `port`; `none` (implicit TLS) for the TLS ports
 * (465 submissions, 993 imaps, 995 pop3s, 443, 636 ldaps, 563 nntps, 853, 5061, ...) and for
 * unknown ports.
 */
export function defaultStarttls(port: number): StarttlsProto {
  switch (port) {
    case 25: // RFC 5321 SMTP relay
    case 587: // RFC 6409 submission
      return 'smtp';
    case 24: // RFC 2033 LMTP
      return 'lmtp';
    case 143:
      return 'imap';
    case 110:
      return 'pop3';
    case 21:
      return 'ftp';
    case 5222:
      return 'xmpp';
    case 5269:
      return 'xmpp-server';
    case 389:
      return 'ldap';
    case 4190:
      return 'sieve';
    case 119:
      return 'nntp';
    case 5432:
      return 'postgres';
    default:
      return 'none';
  }
}

/** The port each dialogue is registered on (IANA service names); 443 for implicit TLS. */
const STANDARD_PORT: Record<StarttlsProto, number> = {
  smtp: 25,
  lmtp: 24,
  imap: 143,
  pop3: 110,
  ftp: 21,
  xmpp: 5222,
  'xmpp-server': 5269,
  ldap: 389,
  sieve: 4190,
  nntp: 119,
  postgres: 5432,
  none: 443,
};

/** The port to dial for `--fetch HOST --starttls P` when HOST has no :PORT. */
export function defaultPort(proto: StarttlsProto): number {
  return STANDARD_PORT[proto];
}

/** Reads a protocol name as the command line gives it; throws a usage error for others. */
export function parseStarttlsProto(name: string): StarttlsProto {
  const n = name.trim().toLowerCase();
  const found = STARTTLS_PROTOS.find((p) => p === n);
  if (found === undefined)
    throw new DkError(
      'usage',
      'probe-bad-protocol',
      `Unknown STARTTLS protocol "${printable(name, 40)}": use one of ${STARTTLS_PROTOS.join(', ')}`,
    );
  return found;
}

/** Server- or user-supplied text made safe for a one-line message. */
export function printable(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? clean.slice(0, max) + '...' : clean;
}
