/**
 * The rollover planner: (persisted state, observations, now, policy) -> the next step.
 *
 * It keeps DESIGN.md's one invariant: every endpoint always presents a chain that matches a
 * record served by all authoritative servers for at least max(confirmation interval, 2 x TTL).
 * So: publish first, wait for the confirmation, install, verify live, and only then remove what
 * is stale (RFC 7671 §8.1 and §8.4; RFC 7672 §3.1.1).
 *
 * Crash safety: the caller persists `decision.state` (whose `intent` is the action) BEFORE it
 * runs the action. The next plan looks at the world to see whether the intent happened, takes
 * its result if so, and otherwise hands out the same action again (same ids): every action is
 * idempotent, and a world that already moved on is taken as it is.
 */
import { DkError } from '../errors.js';
import { confirmedAt, confirmedEverywhereAt, updateTracks } from './confirm.js';
import { chainMatches, desiredRecords, eeRecord, recordsFor } from './records.js';
import { dueAt, foldAri } from './renewal.js';
import { retiredHold, retiringOwners, updateRetired } from './retire.js';
import {
  STATE_VERSION,
  type Action,
  type ActionKind,
  type CertFacts,
  type Decision,
  type DomainEvent,
  type Failure,
  type KeyFacts,
  type KeyRole,
  type Observations,
  type Phase,
  type Rdata,
  type RolloverPolicy,
  type RolloverState,
  type WaitReason,
} from './types.js';

const DEFAULT_GRACE_S = 60;
const DEFAULT_BACKOFF_BASE_S = 300;
const DEFAULT_BACKOFF_MAX_S = 86_400;

/** The state of a domain nothing has been done for yet. */
export function emptyState(): RolloverState {
  return {
    version: STATE_VERSION,
    seq: 0,
    keys: { current: null, next: null },
    installed: null,
    verified: false,
    installedAt: null,
    previous: null,
    pending: null,
    managed: {},
    tracks: {},
    renewal: {
      requested: null,
      rotating: false,
      ariMoment: null,
      ariWindow: null,
      nextAriCheck: null,
    },
    intent: null,
    failure: null,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Serial numbers compare as hex integers: `0A:1b` = `a1b`. */
function normSerial(s: string): string {
  return s
    .replace(/[:\s]/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
}

/** `_25._tcp.mail.example.org.` -> `mail.example.org:25`, for messages. */
export function endpointName(owner: string): string {
  const m = /^_(\d+)\._[a-z]+\.(.+?)\.?$/i.exec(owner);
  return m ? `${m[2]}:${m[1]}` : owner;
}

/** An install whose reload fails and the live check that then fails are one failing step. */
function family(step: Failure['step']): string {
  return step === 'verify' ? 'install' : step;
}

function backoff(
  prev: Failure | null,
  step: Failure['step'],
  code: string,
  message: string,
  now: number,
  policy: RolloverPolicy,
  retryAfter?: string,
): Failure {
  // The live check judging an install whose reload failed is the same attempt, not a new one.
  const attempts =
    prev?.step === 'install' && step === 'verify'
      ? prev.attempts
      : prev && family(prev.step) === family(step)
        ? prev.attempts + 1
        : 1;
  const base = (policy.backoffBaseSeconds ?? DEFAULT_BACKOFF_BASE_S) * 1000;
  const max = (policy.backoffMaxSeconds ?? DEFAULT_BACKOFF_MAX_S) * 1000;
  let at = now + Math.min(max, base * 2 ** (attempts - 1));
  // RFC 8555 §6.6 / RFC 9773 §4.3: a server's Retry-After is a floor for the next attempt.
  const ra = retryAfter ? Date.parse(retryAfter) : NaN;
  if (Number.isFinite(ra) && ra > at) at = ra;
  return { step, code, message, at: iso(now), attempts, retryAt: iso(at) };
}

/**
 * The action handed out last failed (ACME error, DNS refused, reload failed, ...): record why and
 * when to try again. The world is as the failure left it; the invariant holds because nothing is
 * removed or installed that the planner did not first check, and the next plan after `retryAt`
 * looks again and hands out what is still needed. `retryAfter` is the server's, when it gave one.
 */
export function recordFailure(
  state: RolloverState,
  error: { code: string; message: string; retryAfter?: string },
  now: string,
  policy: RolloverPolicy,
): RolloverState {
  const s = structuredClone(state);
  if (!s.intent) {
    throw new DkError(
      'internal',
      'E_ROLLOVER_NO_INTENT',
      'Cannot record a failure: the rollover state names no action in progress',
    );
  }
  const step: ActionKind = s.intent.kind;
  s.failure = backoff(
    s.failure,
    step,
    error.code,
    error.message,
    Date.parse(now),
    policy,
    error.retryAfter,
  );
  return s;
}

function phaseOf(a: Action): Phase {
  switch (a.kind) {
    case 'generateKey':
      return 'generating-key';
    case 'publishRecords':
      return a.add.length > 0 ? 'publishing' : 'removing-stale';
    case 'orderCertificate':
      return 'ordering';
    case 'install':
      return 'installing';
    case 'rollback':
      return 'rolling-back';
  }
}

const WAIT_PHASE: Record<WaitReason, Phase> = {
  propagation: 'propagating',
  confirmation: 'confirming',
  'live-verification': 'verifying',
  retry: 'backing-off',
  renewal: 'idle',
  backend: 'publishing',
};

class Planner {
  readonly ev: DomainEvent[] = [];
  readonly nowMs: number;
  readonly keyIndex = new Map<string, KeyFacts>();
  /** owners whose records the DNS backend could not be read for (nothing can change there) */
  unreadable: string[] = [];

  constructor(
    readonly s: RolloverState,
    readonly obs: Observations,
    readonly now: string,
    readonly policy: RolloverPolicy,
  ) {
    this.nowMs = Date.parse(now);
    for (const k of obs.keys) this.keyIndex.set(k.id, k);
    for (const k of [s.keys.current, s.keys.next]) if (k) this.keyIndex.set(k.id, k);
  }

  act(action: Action): Decision {
    this.s.intent = { ...action, at: this.now };
    return { kind: 'act', action, state: this.s, phase: phaseOf(action), events: this.ev };
  }

  wait(waitingFor: WaitReason, until: number | null, detail: string): Decision {
    return {
      kind: 'wait',
      waitingFor,
      until: until === null ? null : iso(until),
      detail,
      state: this.s,
      phase: WAIT_PHASE[waitingFor],
      events: this.ev,
    };
  }

  event(kind: DomainEvent['kind'], message: string) {
    this.ev.push({ kind, message });
  }

  /** The intent finished: drop it and the failure of its kind. */
  done(kind: ActionKind) {
    this.s.intent = null;
    if (this.s.failure?.step === kind) this.s.failure = null;
  }

  /** Did the last action happen? Take its result (idempotency: the world may be ahead of us). */
  absorb() {
    const { s, obs } = this;
    const i = s.intent;
    if (!i) return;
    switch (i.kind) {
      case 'generateKey': {
        const k = obs.keys.find((x) => x.id === i.keyId);
        if (k) {
          s.keys[i.role] = k;
          this.done(i.kind);
          this.event('key-generated', `Generated the ${i.role} key ${k.id} (${k.keyType})`);
        }
        return;
      }
      case 'publishRecords': {
        const pub = obs.dns[i.owner]?.published;
        if (pub && i.add.every((r) => pub.includes(r)) && !i.remove.some((r) => pub.includes(r))) {
          s.managed[i.owner] = (s.managed[i.owner] ?? []).filter((r) => !i.remove.includes(r));
          this.done(i.kind);
          if (i.add.length > 0) {
            this.event('records-published', `Published ${i.add.join(', ')} at ${i.owner}`);
          }
          if (i.remove.length > 0) {
            this.event('records-removed', `Removed ${i.remove.join(', ')} at ${i.owner}`);
          }
        }
        return;
      }
      case 'orderCertificate': {
        const c = obs.certificates.find((x) => x.id === i.certId);
        if (c) {
          s.pending = c;
          s.renewal.requested = null;
          this.done(i.kind);
          this.event(
            'certificate-obtained',
            `Obtained certificate ${c.id} (serial ${c.serial}, valid until ${c.notAfter})`,
          );
        }
        return;
      }
      case 'install': {
        if (obs.deployed !== i.certId) return;
        const c =
          s.pending?.id === i.certId
            ? s.pending
            : (obs.certificates.find((x) => x.id === i.certId) ?? null);
        if (!c) return;
        if (s.installed?.id === c.id && s.verified) {
          // The verified pair put back after --cert-dir changed: it has been live before, and
          // there is nothing better to roll back to (the files before danekeeper match no record).
          this.done(i.kind);
          this.event('certificate-installed', `Put certificate ${c.id} back into --cert-dir`);
          return;
        }
        if (s.installed?.id !== c.id) s.previous = s.installed;
        s.installed = c;
        s.verified = false;
        s.installedAt = this.now;
        if (s.pending?.id === c.id) s.pending = null;
        // A failed reload is kept as the failure until the live check decides (verify()).
        s.intent = null;
        this.event('certificate-installed', `Installed certificate ${c.id}`);
        return;
      }
      case 'rollback': {
        if (obs.deployed !== i.certId) return;
        s.installed = s.previous;
        s.verified = s.installed !== null;
        s.installedAt = this.now;
        s.previous = null;
        this.done(i.kind);
        this.event(
          'rolled-back',
          `Put back ${i.certId ? `certificate ${i.certId}` : 'the files that were there before'}: ${i.reason}`,
        );
        return;
      }
    }
  }

  /** An id for a new key or certificate, or the one the unfinished intent already named. */
  newId(kind: 'generateKey' | 'orderCertificate', role?: KeyRole): string {
    const i = this.s.intent;
    if (i?.kind === 'generateKey' && kind === 'generateKey' && i.role === role) return i.keyId;
    if (i?.kind === 'orderCertificate' && kind === 'orderCertificate') return i.certId;
    this.s.seq += 1;
    return `${this.policy.domain}#${kind === 'generateKey' ? 'k' : 'c'}${this.s.seq}`;
  }

  generate(role: KeyRole): Decision {
    return this.act({
      kind: 'generateKey',
      role,
      keyId: this.newId('generateKey', role),
      keyType: this.policy.keyType,
    });
  }

  /** Which addresses of which endpoints do not (visibly) present the certificate. */
  notPresenting(cert: CertFacts, spki: string): string[] {
    const out: string[] = [];
    // Every endpoint, DANE on or off (the world probes them all): a service left on the old
    // certificate while DANE is off would be presenting it when DANE is turned on again, under
    // records published for the installed key only.
    const endpoints = [...new Set([...this.policy.owners, ...Object.keys(this.obs.live)])];
    for (const owner of endpoints) {
      const live = this.obs.live[owner] ?? [];
      if (live.length === 0) out.push(`${endpointName(owner)}: no address could be probed`);
      for (const a of live) {
        if ('error' in a) out.push(`${endpointName(owner)} ${a.address}: ${a.error}`);
        else if (a.leafSpki.toLowerCase() !== spki) {
          out.push(`${endpointName(owner)} ${a.address} presents another key`);
        } else if (normSerial(a.leafSerial) !== normSerial(cert.serial)) {
          // Same key, older certificate: the reload did not take (DESIGN.md: verify live).
          out.push(`${endpointName(owner)} ${a.address} still presents the previous certificate`);
        }
      }
    }
    return out;
  }

  /**
   * After an install: every address of every endpoint must present the installed certificate:
   * its key (whose record was confirmed before the install) and its serial (a same-key renewal
   * whose reload did not take still shows the old one). The reload may take a moment to show,
   * hence a grace; after it, the previous pair is put back (DESIGN.md: verify live, else roll
   * back).
   */
  verify(): Decision | null {
    const { s, policy } = this;
    if (!s.installed || s.verified) return null;
    const cert = s.installed;
    const key = this.keyIndex.get(cert.keyId);
    const missing = key ? this.notPresenting(cert, key.spki) : ['the installed key is unknown'];
    if (missing.length === 0) {
      s.verified = true;
      s.previous = null;
      if (s.failure?.step === 'verify' || s.failure?.step === 'install') s.failure = null;
      // RFC 9773 §4.1: renewalInfo is per certificate; the new one needs its own window.
      s.renewal.ariMoment = null;
      s.renewal.ariWindow = null;
      s.renewal.nextAriCheck = null;
      this.event('certificate-verified', `Certificate ${cert.id} is presented at every endpoint`);
      // The key of a rotation becomes the current one only now that it is live everywhere
      // (RFC 7671 §8.1). Only the rotation's own certificate ends the rotation: a same-key
      // renewal verified after `renew --rotate-key` was taken leaves the rotation still to do.
      if (s.keys.next && cert.keyId === s.keys.next.id) {
        const was = s.keys.current;
        s.keys.current = s.keys.next;
        s.keys.next = null;
        this.event(
          'key-rotated',
          `Key rotation done: ${s.keys.current.id} is now the current key${was ? ` (was ${was.id})` : ''}`,
        );
        // A rotation asked for while this one was under way starts now, with a new next key.
        const queued = s.renewal.queuedRotations ?? 0;
        s.renewal.rotating = queued > 0;
        if (queued > 0) s.renewal.queuedRotations = queued - 1;
      }
      return null;
    }
    const graceEnd =
      Date.parse(s.installedAt ?? this.now) + (policy.verifyGraceSeconds ?? DEFAULT_GRACE_S) * 1000;
    if (this.nowMs < graceEnd) {
      return this.wait(
        'live-verification',
        graceEnd,
        `Waiting for every endpoint to present certificate ${cert.id}: ${missing.join('; ')}`,
      );
    }
    const reload = s.failure?.step === 'install' ? ` (after: ${s.failure.message})` : '';
    const reason = `live verification of certificate ${cert.id} failed: ${missing.join('; ')}${reload}`;
    s.failure = backoff(
      s.failure,
      'verify',
      'E_ROLLOVER_VERIFY',
      `${reason[0]!.toUpperCase()}${reason.slice(1)}; the previous pair is put back`,
      this.nowMs,
      policy,
    );
    // Kept to try again after the backoff: the certificate itself may be fine (reload failed).
    s.pending = cert;
    this.event('failed', s.failure.message);
    return this.act({ kind: 'rollback', certId: s.previous?.id ?? null, reason });
  }

  run(): Decision {
    const { s, obs, policy, nowMs } = this;

    // A rollback handed out and not yet done comes first, backoff or not: it restores the pair
    // that matches a confirmed record.
    if (s.intent?.kind === 'rollback') {
      const { at: _at, ...a } = s.intent;
      return this.act(a);
    }

    const v = this.verify();
    if (v) return v;

    // Someone (or something) replaced our verified pair in --cert-dir: put it back.
    if (s.installed && s.verified && obs.deployed !== s.installed.id && !s.intent) {
      this.event(
        'failed',
        `--cert-dir holds ${obs.deployed ?? 'no certificate of ours'} instead of ${s.installed.id}; putting it back`,
      );
      return this.act({ kind: 'install', certId: s.installed.id });
    }

    if (s.failure && nowMs < Date.parse(s.failure.retryAt)) {
      return this.wait(
        'retry',
        Date.parse(s.failure.retryAt),
        `${s.failure.message}; next attempt at ${s.failure.retryAt}`,
      );
    }

    const due = dueAt(s);
    const isDue =
      !s.installed ||
      s.renewal.requested !== null ||
      s.renewal.rotating ||
      (due !== null && nowMs >= due);
    if (isDue && s.installed && !s.pending && !s.renewal.rotating && policy.newKeyEachRenewal) {
      // The seed's panel: every renewal is a new key, published next to the old one first.
      s.renewal.rotating = true;
    }

    if (!s.keys.current) return this.generate('current');
    const wantNext = policy.newKeyEachRenewal ? s.renewal.rotating : true;
    if (wantNext && !s.keys.next) return this.generate('next');

    const r = this.retire();
    if (r) return r;

    // Publish what the key policy asks for, at every owner, before anything relies on it.
    const desired = desiredRecords(s, policy);
    for (const owner of policy.owners) {
      const pub = obs.dns[owner]?.published;
      if (!pub) {
        this.unreadable.push(owner);
        continue;
      }
      const add = desired.filter((r) => !pub.includes(r));
      if (add.length === 0) continue;
      const managed = s.managed[owner] ?? [];
      const lost = add.filter((r) => managed.includes(r));
      const retry =
        s.intent?.kind === 'publishRecords' &&
        s.intent.owner === owner &&
        lost.every((r) => s.intent?.kind === 'publishRecords' && s.intent.add.includes(r));
      if (lost.length > 0 && !retry) {
        this.event(
          'republished',
          `${lost.join(', ')} at ${owner} is no longer held by the DNS backend; publishing it again`,
        );
      }
      // Recorded as ours before it is sent, so a crash after the UPDATE still knows it owns it.
      s.managed[owner] = [...new Set([...managed, ...add])];
      return this.act({
        kind: 'publishRecords',
        owner,
        add,
        remove: [],
        ...(policy.ttl === undefined ? {} : { ttl: policy.ttl }),
      });
    }

    const wantKey = s.renewal.rotating ? s.keys.next : s.keys.current;
    if (!wantKey) return this.generate(s.renewal.rotating ? 'next' : 'current');
    if (s.pending && (s.pending.keyId !== wantKey.id || Date.parse(s.pending.notAfter) <= nowMs)) {
      s.pending = null;
    }
    if (isDue && !s.pending) {
      if (s.installed && s.intent?.kind !== 'orderCertificate') {
        this.event(
          'renewal-due',
          `Certificate ${s.installed.id} is due for renewal: ordering one for key ${wantKey.id}`,
        );
      }
      return this.act({
        kind: 'orderCertificate',
        certId: this.newId('orderCertificate'),
        keyId: wantKey.id,
        // RFC 9773 §5: name the certificate this one replaces, so the CA can relax limits.
        ...(s.installed?.ariCertId ? { replaces: s.installed.ariCertId } : {}),
      });
    }

    if (s.pending) return this.install(s.pending);

    const c = this.cleanup(desired);
    if (c) return c;

    if (s.intent) s.intent = null;
    if (this.unreadable.length > 0) return this.backendWait();
    // Nothing left to do: whatever failed before has been overtaken (status shows no old error).
    s.failure = null;
    // a retirement under way ends at its own time (retire.ts): the pass should look then
    const retiredEnd = retiredHold(s)?.until ?? Infinity;
    const until = Math.min(
      due ?? nowMs,
      s.renewal.nextAriCheck ? Date.parse(s.renewal.nextAriCheck) : Infinity,
      retiredEnd,
    );
    return { kind: 'idle', until: iso(until), state: s, phase: 'idle', events: this.ev };
  }

  /**
   * Nothing can be published or removed at an owner whose records the backend cannot read
   * (RFC 7671 §8.1 and §8.4 need both): wait for the backend, in its own words.
   */
  backendWait(): Decision {
    const byReason = new Map<string, string[]>();
    for (const owner of this.unreadable) {
      const why = this.obs.dns[owner]?.readError ?? 'no reason given';
      byReason.set(why, [...(byReason.get(why) ?? []), owner]);
    }
    const parts = [...byReason].map(([why, owners]) => `${owners.join(', ')} (${why})`);
    return this.wait(
      'backend',
      null,
      `Cannot read the records at ${parts.join('; ')} from the DNS backend: nothing is published or removed there until it can`,
    );
  }

  /**
   * retire.ts rule 1: every record danekeeper published at an owner that is no longer a DANE
   * owner is removed, whatever the live chain matches (no TLSA RRset means unauthenticated TLS,
   * RFC 7672 §2.2, while the certificate stays the same: rule 2 holds back a new key).
   */
  retire(): Decision | null {
    const { s, obs, policy } = this;
    for (const owner of retiringOwners(s, policy)) {
      const pub = obs.dns[owner]?.published;
      if (!pub) {
        if ((s.managed[owner] ?? []).length > 0) this.unreadable.push(owner);
        continue;
      }
      // Forget what the backend no longer holds (removed by hand, or by our last step).
      const ours = (s.managed[owner] ?? []).filter((r) => pub.includes(r));
      if (ours.length === 0) {
        delete s.managed[owner];
        continue;
      }
      s.managed[owner] = ours;
      return this.act({ kind: 'publishRecords', owner, add: [], remove: ours });
    }
    return null;
  }

  /**
   * Install only a certificate whose key's `3 1 1` (or, with issuer records, whose issuer's
   * `2 1 1`) is confirmed at every endpoint owner (DESIGN.md, the confirmation rule).
   */
  install(cert: CertFacts): Decision {
    const { s, policy, nowMs } = this;
    // retire.ts rule 2: a new key only once no sender can hold a retired record of the old one
    // (the first install too: a domain added again finds the old pair still deployed under
    // the records it inherited)
    const hold = !s.installed || cert.keyId !== s.installed.keyId ? retiredHold(s) : null;
    if (hold) {
      const owners = hold.owners.join(', ');
      return hold.until === null
        ? this.wait(
            'propagation',
            null,
            `Waiting for every authoritative server to stop serving the TLSA records danekeeper published at ${owners} (DANE is off there) before certificate ${cert.id} with a new key is installed`,
          )
        : this.wait(
            'confirmation',
            hold.until,
            `Waiting until ${iso(hold.until)}: the TLSA records removed at ${owners} (DANE is off there) may be cached for 2 x TTL, and certificate ${cert.id} has a new key`,
          );
    }
    const key = this.keyIndex.get(cert.keyId);
    const recs = recordsFor(cert, key?.spki, policy);
    const ats = recs.map((r) => confirmedEverywhereAt(s.tracks, r, policy));
    if (ats.some((a) => a !== null && a <= nowMs)) {
      return this.act({ kind: 'install', certId: cert.id });
    }
    const known = ats.filter((a): a is number => a !== null);
    if (known.length > 0) {
      const until = Math.min(...known);
      return this.wait(
        'confirmation',
        until,
        `Waiting until ${iso(until)}: ${recs[0]} must be served by every authoritative server for max(${policy.confirmationIntervalHours} h, 2 x TTL) before certificate ${cert.id} is installed`,
      );
    }
    const r = recs[0] ?? eeRecord('');
    const lagging: string[] = [];
    for (const owner of policy.owners) {
      if (confirmedAt(s.tracks, owner, r, policy) !== null) continue;
      // a record the backend cannot even be read for may never have been published: waiting
      // on the servers would be endless, the backend is what stands in the way
      if (this.unreadable.includes(owner)) return this.backendWait();
      const servers = this.obs.dns[owner]?.servers ?? [];
      const not = servers.filter((x) => !x.served?.includes(r)).map((x) => x.name);
      lagging.push(`${owner} (${servers.length === 0 ? 'no server answered' : not.join(', ')})`);
    }
    return this.wait(
      'propagation',
      null,
      `Waiting for every authoritative server to serve ${r}: not yet at ${lagging.join('; ')}`,
    );
  }

  /**
   * Remove what is stale: only after the installed chain is verified live, only records
   * danekeeper published, and never one that a presented chain still matches (DESIGN.md). An
   * address that cannot be probed holds the removal back: what it presents is unknown.
   */
  cleanup(desired: Rdata[]): Decision | null {
    const { s, obs, policy } = this;
    if (!s.installed || !s.verified) return null;
    const keep = new Set(desired);
    const key = this.keyIndex.get(s.installed.keyId);
    for (const r of recordsFor(s.installed, key?.spki, policy)) keep.add(r);
    for (const owner of policy.owners) {
      const pub = obs.dns[owner]?.published;
      if (!pub) continue;
      const managed = s.managed[owner] ?? [];
      const live = obs.live[owner] ?? [];
      const stale = managed.filter(
        (r) => pub.includes(r) && !keep.has(r) && !live.some((a) => chainMatches(a, r)),
      );
      // Forget what we meant to publish but never did, and no longer want.
      s.managed[owner] = managed.filter((r) => pub.includes(r) || keep.has(r));
      if (stale.length === 0) continue;
      const unseen = live.filter((a) => 'error' in a);
      if (live.length === 0 || unseen.length > 0) {
        return this.wait(
          'live-verification',
          null,
          `Stale ${stale.join(', ')} at ${owner} stays until every address of ${endpointName(owner)} can be probed`,
        );
      }
      return this.act({ kind: 'publishRecords', owner, add: [], remove: stale });
    }
    return null;
  }
}

/**
 * The next step for one domain. Pure: the same inputs give the same decision; `now` and
 * `obs.random` are the only sources of time and chance.
 */
export function plan(
  state: RolloverState | null,
  obs: Observations,
  now: string,
  policy: RolloverPolicy,
): Decision {
  const nowMs = Date.parse(now);
  if (!Number.isFinite(nowMs)) {
    throw new DkError(
      'internal',
      'E_ROLLOVER_TIME',
      `Cannot plan at "${now}": not an ISO 8601 time`,
    );
  }
  if (state && state.version !== STATE_VERSION) {
    throw new DkError(
      'data',
      'E_ROLLOVER_STATE',
      `Cannot plan from rollover state version ${String(state.version)}: this danekeeper reads version ${STATE_VERSION}`,
    );
  }
  const s = structuredClone(state ?? emptyState());
  const inherited = state ? [] : Object.entries(obs.inherited ?? {}).filter(([, rs]) => rs.length);
  for (const [owner, rs] of inherited) s.managed[owner] = [...new Set(rs)];
  // A rest is the pass's mark on an idle decision (rest.ts); a fresh plan decides anew.
  delete s.rest;
  // before updateTracks drops the tracks of owners that left the policy: their TTLs are what
  // senders may still cache (retire.ts)
  const retiredNow = updateRetired(s, obs, policy, iso(nowMs));
  s.tracks = updateTracks(s.tracks, obs, policy, iso(nowMs));
  const p = new Planner(s, obs, iso(nowMs), policy);
  p.absorb();
  for (const [owner, rs] of inherited) {
    p.event(
      'records-published',
      `Took over ${rs.join(', ')} at ${owner}: published by danekeeper before this domain was added; removed once stale (never while a presented chain matches) or when DANE is off`,
    );
  }
  for (const owner of retiredNow) {
    p.event(
      'records-removed',
      `The TLSA records danekeeper published at ${owner} are gone from every authoritative server for 2 x TTL: no sender can hold them any more`,
    );
  }
  // A person asked (`renew`): they may have removed the cause of the failure, so the next
  // attempt is now, not after the backoff. The failure stays on record (status, the attempt
  // count) until the step succeeds; a CA still rate limiting answers with
  // its Retry-After again (RFC 8555 §6.6), which the next failure keeps.
  if (obs.request && s.failure && Date.parse(s.failure.retryAt) > nowMs) {
    s.failure = { ...s.failure, retryAt: iso(nowMs) };
  }
  // The event says who asked in the words they used: a command, or a user of the panel/API.
  const how = (cli: string) =>
    obs.requestedBy && obs.requestedBy !== 'cli' ? `asked for by ${obs.requestedBy}` : cli;
  if (obs.request === 'renew') {
    p.event(
      'renewal-requested',
      s.renewal.requested === 'renew'
        ? `Renewal asked for (${how('renew --force')}) again before the first was ordered: one new certificate serves both`
        : `Renewal asked for (${how('renew --force')}): a new certificate is ordered`,
    );
    s.renewal.requested = 'renew';
  }
  // --rotate-key: renew now with the next key (published ahead, so usually confirmed already).
  // A request that exited 0 is carried out exactly once: by the first rotation installed after it
  // was taken, which moves off the key in use when it was asked for. One taken while a rotation
  // is under way and not yet installed is carried out by that rotation (asking twice, e.g. again
  // after a failed attempt, rotates once); one taken once the rotation's certificate is installed
  // (being verified) asks to move off that key too: it is queued and started once the rotation
  // is verified (verify()), never dropped.
  if (obs.request === 'rotate-key') {
    const next = s.keys.next;
    const queued = s.renewal.queuedRotations ?? 0;
    if (!s.renewal.rotating) {
      s.renewal.rotating = true;
      p.event(
        'renewal-requested',
        `Key rotation asked for (${how('renew --rotate-key')}): ${next ? `to the next key ${next.id}` : 'a next key is made, published and confirmed first'}`,
      );
    } else if (next && s.installed?.keyId === next.id) {
      if (queued === 0) s.renewal.queuedRotations = 1;
      p.event(
        'renewal-requested',
        `Key rotation asked for (${how('renew --rotate-key')}) while the rotation to ${next.id} is being verified: ${queued === 0 ? 'queued' : 'already queued'}; one more rotation starts once it is verified live`,
      );
    } else {
      p.event(
        'renewal-requested',
        `Key rotation asked for (${how('renew --rotate-key')}) while one ${next ? `to ${next.id} ` : ''}is under way and not yet installed: that rotation carries it out`,
      );
    }
  }
  if (s.installed && s.verified) s.renewal = foldAri(s.renewal, obs, nowMs);
  return p.run();
}
