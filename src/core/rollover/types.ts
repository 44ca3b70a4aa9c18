/**
 * The rollover planner's persisted state, its inputs and its output. Everything here is plain
 * JSON (strings, numbers, arrays, records): the store keeps `RolloverState` per domain as opaque
 * JSON next to `STATE_VERSION`, and never interprets it. Times are ISO 8601 strings; the planner
 * never reads a clock (DESIGN.md: core/ is pure), `now` is an argument.
 *
 * Records are the contract's rdata text, `U S M hex` with lower-case hex (`3 1 1 ab12…`), so that
 * they compare as strings and match what src/publish/propagation.ts reports as `served`.
 */

export const STATE_VERSION = 1;

/** ISO 8601 time, e.g. `2026-12-04T21:33:09.000Z`. */
export type IsoTime = string;

/** `U S M hex`, lower-case hex. */
export type Rdata = string;

/** A key's public facts. The private key lives in the store and in privkey.pem only. */
export interface KeyFacts {
  id: string;
  /** ec-p256 | ec-p384 | rsa-2048 | ... */
  keyType: string;
  /** SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex: the `3 1 1` data */
  spki: string;
}

/** A certificate obtained from the CA (stored; the PEM chain stays in the store). */
export interface CertFacts {
  id: string;
  keyId: string;
  notBefore: IsoTime;
  notAfter: IsoTime;
  /** hex, as in AddressObservation.leafSerial */
  serial: string;
  /** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial) */
  ariCertId?: string;
  /** SHA-256 of each issuer's SPKI in the chain the CA returned, leaf's issuer first: `2 1 1` data */
  issuerSpkis: string[];
}

export type KeyRole = 'current' | 'next';

/** What one side effect was asked to do. Persisted (as `RolloverState.intent`) before it runs. */
export type Action =
  /** make a key of policy.keyType under `keyId`; idempotent: an existing key of that id is kept */
  | { kind: 'generateKey'; role: KeyRole; keyId: string; keyType: string }
  /** change the TLSA RRset at `owner` through the publisher: add these, remove these (and no other) */
  | { kind: 'publishRecords'; owner: string; add: Rdata[]; remove: Rdata[]; ttl?: number }
  /** order a certificate for the domain's names with the key `keyId`, store it as `certId` */
  | { kind: 'orderCertificate'; certId: string; keyId: string; replaces?: string }
  /** install the certificate `certId` with its key as a pair in --cert-dir, then reload */
  | { kind: 'install'; certId: string }
  /** put back the pair `certId` (null: what was there before danekeeper), then reload */
  | { kind: 'rollback'; certId: string | null; reason: string };

export type ActionKind = Action['kind'];

/** Confirmation clock of one record at one owner (DESIGN.md, the confirmation rule). */
export interface RecordTrack {
  /** when every authoritative server was first seen serving it, in an unbroken run; null: not all */
  allServingSince: IsoTime | null;
  /** the largest TTL any server gave the RRset while this run lasted (the wait is >= 2 x TTL) */
  ttl: number;
}

export interface Failure {
  /** what failed: an action kind, or `verify` for a live verification that did not pass */
  step: ActionKind | 'verify';
  code: string;
  message: string;
  at: IsoTime;
  /** consecutive failures of this step */
  attempts: number;
  /** no new attempt before this moment */
  retryAt: IsoTime;
}

export type Phase =
  | 'idle'
  | 'generating-key'
  | 'publishing'
  | 'propagating'
  | 'confirming'
  | 'ordering'
  | 'installing'
  | 'verifying'
  | 'rolling-back'
  | 'removing-stale'
  | 'backing-off';

export interface RolloverState {
  version: typeof STATE_VERSION;
  /** counter for the ids this planner hands out (keys and certificates) */
  seq: number;
  keys: {
    current: KeyFacts | null;
    /** default policy: published ahead; newKeyEachRenewal: the key of a renewal in progress */
    next: KeyFacts | null;
  };
  /** the certificate danekeeper installed and verified live (or installed, verifying) */
  installed: CertFacts | null;
  /** whether `installed` has been seen live at every endpoint address */
  verified: boolean;
  /** when `installed` was installed (start of the verification grace) */
  installedAt: IsoTime | null;
  /** the pair to roll back to when `installed` fails verification (null: pre-danekeeper files) */
  previous: CertFacts | null;
  /** a certificate obtained and stored, waiting for its record's confirmation to be installed */
  pending: CertFacts | null;
  /** records danekeeper published and is responsible for, per owner (the only ones it removes) */
  managed: Record<string, Rdata[]>;
  /** confirmation clocks, per owner, per record */
  tracks: Record<string, Record<Rdata, RecordTrack>>;
  renewal: {
    /** `renew --force` / `--rotate-key` asked for and not yet carried out */
    requested: 'renew' | 'rotate-key' | null;
    /** the key rotation in progress: the pending/next certificate uses keys.next */
    rotating: boolean;
    /**
     * 1 when `renew --rotate-key` was taken after the rotation under way had installed its
     * certificate (so it asks to move off that key too): one more rotation, started when the one
     * under way is verified live (plan.ts; a request that exited 0 is carried out exactly once).
     * Absent in states saved before it existed: 0.
     */
    queuedRotations?: number;
    /** RFC 9773 §4.2: the moment picked inside the window, and the window it was picked from */
    ariMoment: IsoTime | null;
    ariWindow: { start: IsoTime; end: IsoTime } | null;
    /** RFC 9773 §4.3: do not ask renewalInfo again before this */
    nextAriCheck: IsoTime | null;
  };
  /** the last action handed out (persisted before it ran): the next plan checks whether it happened */
  intent: (Action & { at: IsoTime }) | null;
  failure: Failure | null;
  /**
   * Set by the keep-secured pass when the planner said idle (rest.ts): until `recheckAt` (and
   * never past `until`, the renewal moment or the next renewalInfo check), the next pass may skip
   * observing. `plan` drops it: any decision that is not idle ends the rest.
   */
  rest?: RestMark | null;
  /**
   * Owners no longer DANE owners (DANE turned off, an endpoint dropped) whose records danekeeper
   * published: what was there, the longest TTL seen, and since when no server serves any of it
   * (retire.ts). Absent when there is none (and in states saved before it existed).
   */
  retired?: Record<string, RetiredOwner>;
}

/** See `RolloverState.retired` and retire.ts. */
export interface RetiredOwner {
  records: Rdata[];
  /** seconds */
  ttl: number;
  /** the first look at which every server answered and none served any of `records` */
  clearSince: IsoTime | null;
}

/** See `RolloverState.rest` and rest.ts. */
export interface RestMark {
  /** the idle decision's `until`: the renewal moment or the next renewalInfo check */
  until: IsoTime;
  /** the periodic re-check (a drift in DNS or --cert-dir is noticed by then) */
  recheckAt: IsoTime;
  /** the domain's settings and policy this rest was decided under; another one ends it */
  key: string;
}

export interface RolloverPolicy {
  /** the domain; ids handed out are `${domain}#k1`, `${domain}#c2`, ... */
  domain: string;
  /** TLSA owner of every endpoint, `_25._tcp.mail.example.org.` */
  owners: string[];
  keyType: string;
  /** `dane-confirmation-interval-in-hours`, decimals allowed */
  confirmationIntervalHours: number;
  /** the seed's panel: a new key at every renewal, no next key kept */
  newKeyEachRenewal: boolean;
  /** `2 1 1` records of the CA's issuers next to the `3 1 1` ones */
  issuerRecords: boolean;
  /**
   * SHA-256 SPKI hex of ALL current issuers of the CA for the key type (DESIGN.md: never one
   * intermediate alone). The issuers of the certificates in use are added to it.
   */
  issuerSpkis: string[];
  /** TTL for records danekeeper publishes (undefined: the zone's default) */
  ttl?: number;
  /** how long an install may take to show live before it is rolled back; default 60 */
  verifyGraceSeconds?: number;
  /** backoff after a failure: base, doubled per attempt, capped; defaults 300 and 86400 */
  backoffBaseSeconds?: number;
  backoffMaxSeconds?: number;
}

/** What one authoritative server serves at an owner (as propagation.ts reports per server). */
export interface ServerObservation {
  name: string;
  /** the records served; null when it gave no authoritative answer (unreachable, lame) */
  served: Rdata[] | null;
  ttl: number | null;
}

export interface OwnerDns {
  /** what the publishing backend holds (publisher.read); null when it could not be read */
  published: Rdata[] | null;
  /**
   * Why `published` is null, in the backend's own words (a timeout, BADSIG, no backend
   * configured): status and run quote it instead of guessing.
   */
  readError?: string;
  /** every authoritative server of the zone, asked directly (RD=0) */
  servers: ServerObservation[];
}

/** What one address of an endpoint presents (the probe). */
export type AddressObservation =
  | {
      address: string;
      /** SHA-256 SPKI hex of the leaf */
      leafSpki: string;
      /**
       * The leaf's serial number, hex (case, colons and leading zeros do not matter): tells the
       * renewed certificate from the old one when both have the same key.
       */
      leafSerial: string;
      /** SHA-256 SPKI hex of each certificate presented, leaf first */
      chainSpkis: string[];
    }
  | { address: string; error: string };

export interface AriObservation {
  /** RFC 9773 §4.2 suggestedWindow */
  start: IsoTime;
  end: IsoTime;
  /** RFC 9773 §4.3: Retry-After of the renewalInfo response, as a time */
  retryAfter?: IsoTime;
}

export interface Observations {
  /** per owner of policy.owners; an owner left out counts as no server serving anything */
  dns: Record<string, OwnerDns>;
  /** per owner (endpoint), per address */
  live: Record<string, AddressObservation[]>;
  /** keys the store holds for the domain (public facts) */
  keys: KeyFacts[];
  /** certificates the store holds for the domain */
  certificates: CertFacts[];
  /** the certificate id deploy reports in --cert-dir (null: none of ours) */
  deployed: string | null;
  /** renewalInfo for the installed certificate, when the directory offers it and it was asked */
  ari?: AriObservation | null;
  /** a uniform random number in [0, 1): RFC 9773 §4.2 asks for a random moment in the window */
  random: number;
  /**
   * `renew --force` or `renew --rotate-key` from the command line; `retry`: a plain `renew
   * DOMAIN` (try what failed now, renew only if due). Every request ends a failure's backoff.
   */
  request?: 'renew' | 'rotate-key' | 'retry' | null;
  /**
   * Who asked for `request` when it came queued (a user name from the panel or the API); absent
   * for `danekeeper renew` itself. Only for the event's words.
   */
  requestedBy?: string | null;
  /**
   * Only with no state yet (a domain added, or removed and added again): records danekeeper
   * published earlier at this domain's owners (the ownership store: a removed domain's, or the
   * manual path's) that no other managed domain uses. They become this domain's to manage, so
   * they go when stale or when DANE is turned off, instead of staying forever.
   */
  inherited?: Record<string, Rdata[]>;
}

export type WaitReason =
  'propagation' | 'confirmation' | 'live-verification' | 'retry' | 'renewal' | 'backend';

export interface DomainEvent {
  kind:
    | 'key-generated'
    | 'records-published'
    | 'records-removed'
    | 'certificate-obtained'
    | 'certificate-installed'
    | 'certificate-verified'
    | 'rolled-back'
    | 'failed'
    | 'republished'
    | 'renewal-due'
    /** `renew --force` / `--rotate-key` taken: started now, or queued behind a rotation */
    | 'renewal-requested'
    /** a key rotation verified live: the next key is the current one now */
    | 'key-rotated';
  message: string;
}

interface DecisionBase {
  /** persist this (with the action as its intent) before doing anything else */
  state: RolloverState;
  phase: Phase;
  /** what happened since the last plan, for the event log and notifications */
  events: DomainEvent[];
}

export type Decision =
  | (DecisionBase & { kind: 'act'; action: Action })
  | (DecisionBase & {
      kind: 'wait';
      waitingFor: WaitReason;
      /** when to look again; null: at the next pass (e.g. secondaries catching up) */
      until: IsoTime | null;
      /** what is awaited, in a sentence, for `status` */
      detail: string;
    })
  | (DecisionBase & { kind: 'idle'; until: IsoTime });
