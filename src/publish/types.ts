/**
 * The one interface every publishing backend implements (rfc2136, powerdns, zonefile). A
 * backend knows how to read a TLSA RRset and how to apply one guarded change atomically; the
 * policy (which records are ours, retries after a conflict, the TTL left blank) lives above it,
 * in tlsa-set.ts, so each backend stays small.
 *
 * Names: owners and zones are absolute, lower case, with the trailing dot
 * (`_25._tcp.mail.example.org.`, `example.org.`).
 */
import type { TlsaRecord } from '../core/tlsa/record.js';

export type BackendKind = 'rfc2136' | 'powerdns' | 'zonefile';

/** A TLSA RRset as the authoritative source (primary server, API, file) holds it now. */
export interface TlsaRrset {
  owner: string;
  /** null when the RRset does not exist */
  ttl: number | null;
  records: TlsaRecord[];
  /** listAll only: records the source holds but does not serve (PowerDNS `disabled`) */
  disabled?: TlsaRecord[];
}

/**
 * One change to the TLSA RRset at `owner`, applied all or nothing.
 *
 * `expected` is the guard: the change applies only if the RRset is still exactly that set
 * (order does not matter; [] means "no TLSA RRset exists"). Otherwise nothing is applied and
 * `apply` throws DkError E_PUBLISH_CONFLICT, so a concurrent writer causes a retry, never a
 * lost record. RFC 2136 §2.4.2 "RRset exists (value dependent)" / §2.4.3 "RRset does not
 * exist" are exactly this guard; other backends give the nearest equivalent they have.
 *
 * `remove` deletes those RRs only (RFC 2136 §2.5.4), `add` adds RRs (§2.5.1); records of the
 * RRset in neither list stay as they are. `ttl` applies to the whole resulting RRset: one TTL
 * per RRset (RFC 2181 §5.2).
 */
export interface TlsaChange {
  owner: string;
  expected: TlsaRecord[];
  add: TlsaRecord[];
  remove: TlsaRecord[];
  ttl: number;
}

/**
 * A TXT RRset (RFC 1035 §3.3.14), for ACME DNS-01 (RFC 8555 §8.4) at `_acme-challenge.NAME`.
 * Each value is one RR's text: its character-strings joined (an ACME value is one string of
 * 43 characters).
 */
export interface TxtRrset {
  owner: string;
  /** null when the RRset does not exist */
  ttl: number | null;
  values: string[];
}

/** One guarded change to a TXT RRset: the same contract as TlsaChange, for TXT values. */
export interface TxtChange {
  owner: string;
  expected: string[];
  add: string[];
  remove: string[];
  ttl: number;
}

export interface Publisher {
  readonly backend: BackendKind;
  /** the zone this publisher writes to */
  readonly zone: string;
  /** for messages: `rfc2136 at 127.0.0.1:53`, `powerdns at http://...`; never a secret */
  readonly describe: string;
  /** The RRset as the primary / API / file holds it (not a cache or a secondary). */
  read(owner: string): Promise<TlsaRrset>;
  /**
   * The zone's default TTL: what a record published with a blank TTL gets, as in the seed's
   * DNS form. For DNS backends the SOA RRset's TTL; for a zone file its $TTL.
   */
  defaultTtl(): Promise<number>;
  /**
   * Applies one guarded change atomically (see TlsaChange). Throws DkError with a stable code:
   *   E_PUBLISH_CONFLICT    (tempfail)    the guard failed; nothing applied; re-read and retry
   *   E_PUBLISH_AUTH        (noperm)      TSIG BADKEY/BADSIG/BADTIME, API 401/403
   *   E_PUBLISH_REFUSED     (noperm)      the server refused the update (policy)
   *   E_PUBLISH_NOTAUTH     (config)      the server is not authoritative for the zone / API 404
   *   E_PUBLISH_REJECTED    (protocol)    the server rejected the data (FORMERR, API 422, ...)
   *   E_PUBLISH_UNREACHABLE (unavailable) no answer, connection refused, timeout
   *   E_PUBLISH_PROTOCOL    (protocol)    a malformed or unverifiable answer
   *   E_PUBLISH_IO          (noinput)     the zone file cannot be read or written
   * Messages are one line naming the server and the owner, never a secret.
   */
  apply(change: TlsaChange): Promise<void>;
  /**
   * What apply(change) would send or write, for --dry-run; never a secret. Reads (the API's
   * RRset, the zone file) but changes nothing. Throws E_PUBLISH_CONFLICT as apply would when
   * the guard no longer holds.
   */
  describeChange?(change: TlsaChange): Promise<string[]>;
  /**
   * Every TLSA RRset in the zone as the primary / API / file holds it, sorted by owner
   * (owner-order.ts), for `dns list`. rfc2136 transfers the zone (AXFR): a server that does not
   * allow that throws E_XFR_REFUSED (noperm), and the caller falls back to the owners it knows.
   */
  listAll?(): Promise<TlsaRrset[]>;
  /** The TXT RRset as the primary / API / file holds it (as read). */
  readTxt?(owner: string): Promise<TxtRrset>;
  /** One guarded TXT change, all or nothing, with the error codes of apply. */
  applyTxt?(change: TxtChange): Promise<void>;
  /** What applyTxt(change) would send or write, for --dry-run; never a secret. */
  describeTxtChange?(change: TxtChange): Promise<string[]>;
  /** Releases sockets/handles; optional. */
  close?(): Promise<void>;
}

/** Records danekeeper created, so it never changes or deletes one it did not create. */
export interface OwnedRecord {
  zone: string;
  owner: string;
  record: TlsaRecord;
  /** ISO 8601, when danekeeper published it */
  createdAt: string;
}

/** A record danekeeper meant to publish and has not yet settled (see OwnershipStore.intend). */
export interface PendingRecord {
  record: TlsaRecord;
  /** the intend() call that wrote it */
  intent: string;
  /** ISO 8601 */
  createdAt: string;
}

export interface OwnershipStore {
  /** the records danekeeper created at `owner` in `zone` */
  owned(zone: string, owner: string): TlsaRecord[];
  /** after a successful add; idempotent; settles every pending row of these records */
  remember(zone: string, owner: string, records: TlsaRecord[], now: Date): void;
  /**
   * after a successful remove (or when the record is found gone); idempotent; drops their
   * pending rows too
   */
  forget(zone: string, owner: string, records: TlsaRecord[]): void;
  /**
   * Before a change is sent: these records are about to be published by danekeeper. Returns
   * the intent's id for abandon(). A record that is published and pending is danekeeper's even
   * if the process that sent it died before remember().
   */
  intend(zone: string, owner: string, records: TlsaRecord[], now: Date): string;
  /** the pending rows at `owner` in `zone` */
  pending(zone: string, owner: string): PendingRecord[];
  /** the change was certainly not applied: drop that intent's rows (and no one else's) */
  abandon(intent: string): void;
  /** everything remembered, optionally for one zone, sorted by owner */
  list(zone?: string): OwnedRecord[];
  close(): void;
}
