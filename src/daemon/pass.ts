/**
 * One keep-secured pass (DESIGN.md "The automatic path", docs/rollover.md "The keep-secured
 * pass"): per domain take the lease, load the planner's state, observe, plan, persist the
 * returned state BEFORE the side effect, run the one action, and loop until the planner says
 * wait or idle. The world (DNS, probe, ACME, deploy, store writes) is behind `DomainWorld`, so
 * the loop itself is tested with fakes and the real wiring lives in world.ts.
 *
 * Every step is idempotent: `kill -9` anywhere leaves a persisted intent, and the next pass
 * plans from what it then observes (the planner checks whether the intent happened).
 */
import { createHash } from 'node:crypto';
import { DkError, isDkError } from '../core/errors.js';
import { restMark, resting } from '../core/rollover/rest.js';
import {
  ariDue,
  plan,
  recordFailure,
  type Action,
  type Decision,
  type Observations,
  type Phase,
  type RolloverPolicy,
  type RolloverState,
  type WaitReason,
} from '../core/rollover/index.js';
import type { Domain } from '../store/domains.js';
import type { StateStore } from '../store/state.js';

export type Request = 'renew' | 'rotate-key';

/** The world a pass acts on, for one domain. */
export interface DomainWorld {
  policy(d: Domain): RolloverPolicy;
  /** everything `plan` needs; `ari`: ask the CA's renewalInfo (RFC 9773 §4.3, when ariDue) */
  observe(
    d: Domain,
    state: RolloverState | null,
    policy: RolloverPolicy,
    o: { ari: boolean },
  ): Promise<Omit<Observations, 'request'>>;
  /** runs one action exactly as asked; throws a DkError when it did not happen */
  execute(d: Domain, action: Action, state: RolloverState, policy: RolloverPolicy): Promise<void>;
  /**
   * Housekeeping that needs the domain's lease, before it is observed: removes what a killed
   * run left behind (DNS-01 challenge values). Returns one line per thing done, for the event
   * log; throws a DkError when it could not (the pass goes on: nothing relies on it).
   */
  sweep?(d: Domain): Promise<string[]>;
  /** releases sockets and the like at the end of the pass */
  close?(): Promise<void>;
}

export interface PassOptions {
  store: StateStore;
  world: DomainWorld;
  now: () => Date;
  /** who holds the leases (pid and host, for `status` and a second pass's message) */
  holder: string;
  /** lease length; renewed before every step. Default 10 min */
  leaseMs?: number;
  /** plan/act rounds per domain before the pass stops (a planner loop would be a bug). Default 25 */
  maxSteps?: number;
  /** only this domain */
  domain?: string;
  /** `renew --force` / `--rotate-key` for `domain`: handed to the planner once */
  request?: Request;
  /** who asked for `request` (a queued row's asked_by): the event's words name them */
  requestedBy?: string;
  /**
   * Runs in the same store transaction as the save of the state that carries `request` (the
   * daemon removes its queued row there): a kill at any moment leaves either the row or the
   * state with the request, never both and never neither (issue 10: exactly once).
   */
  taken?: () => void;
  /**
   * Whether a lease holder is certainly gone (a pass on this host whose process no longer
   * exists, e.g. after `kill -9`): its lease is then taken over at once instead of after it
   * expires. Default: never.
   */
  holderGone?: (holder: string) => boolean;
  /**
   * How often a domain at rest is observed anyway, so that a drift (a record the backend lost,
   * --cert-dir overwritten) is noticed by `run`. Default: 1 hour, and never longer than the
   * domain's confirmation interval.
   */
  recheckMs?: number;
}

export interface DomainOutcome {
  domain: string;
  /**
   * idle / waiting: the pass did what could be done now; busy: another pass holds the lease;
   * failed: an action failed (recorded, backoff); stopped: maxSteps reached
   */
  result: 'idle' | 'waiting' | 'busy' | 'failed' | 'stopped';
  phase: Phase | null;
  waitingFor: WaitReason | null;
  until: string | null;
  /** one line, for the CLI: what failed or what is awaited */
  detail: string;
  error?: { code: string; message: string };
  /** actions run in this pass */
  actions: Action['kind'][];
}

const DEFAULT_LEASE_MS = 10 * 60_000;
const DEFAULT_MAX_STEPS = 25;
const DEFAULT_RECHECK_MS = 3_600_000;

/** What a rest was decided under: the domain's row and its policy (another one ends the rest). */
export function settingsKey(d: Domain, policy: RolloverPolicy): string {
  return createHash('sha256')
    .update(JSON.stringify([d, policy]))
    .digest('base64url')
    .slice(0, 22);
}

function recheckMsOf(o: PassOptions, policy: RolloverPolicy): number {
  return o.recheckMs ?? Math.min(DEFAULT_RECHECK_MS, policy.confirmationIntervalHours * 3_600_000);
}

/** The stored JSON is the planner's own type (docs/rollover.md); a foreign version is refused. */
function loadState(raw: unknown, domain: string): RolloverState | null {
  if (raw === null || raw === undefined) return null;
  const v = (raw as { version?: unknown }).version;
  if (typeof raw !== 'object' || v !== 1) {
    throw new DkError(
      'data',
      'E_DAEMON_STATE',
      `The rollover state of ${domain} has version ${String(v)}, which this danekeeper does not know`,
    );
  }
  return raw as RolloverState;
}

function retryAfterOf(e: unknown, now: Date): string | undefined {
  const s = (e as { retryAfter?: unknown }).retryAfter;
  return typeof s === 'number' && s > 0
    ? new Date(now.getTime() + s * 1000).toISOString()
    : undefined;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

function describeAction(a: Action): string {
  switch (a.kind) {
    case 'generateKey':
      return `generated the ${a.role} key ${a.keyId} (${a.keyType})`;
    case 'publishRecords':
      return [
        a.add.length ? `published ${a.add.join(', ')}` : '',
        a.remove.length ? `removed ${a.remove.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')
        .concat(` at ${a.owner}`);
    case 'orderCertificate':
      return `obtained certificate ${a.certId} for key ${a.keyId}`;
    case 'install':
      return `installed certificate ${a.certId}`;
    case 'rollback':
      return `put back ${a.certId ?? 'the files from before danekeeper'}: ${a.reason}`;
  }
}

const EVENT_KIND: Record<Action['kind'], string> = {
  generateKey: 'action-generate-key',
  publishRecords: 'action-publish-records',
  orderCertificate: 'action-order-certificate',
  install: 'action-install',
  rollback: 'action-rollback',
};

/**
 * A domain at rest (the planner said idle, nothing is due yet, the re-check not yet come and its
 * settings unchanged) is not observed: no DNS query, no probe, no store write. A request
 * (`renew`, with or without a flag), a lease held by another pass or anything in progress
 * means a full pass.
 */
function atRest(d: Domain, o: PassOptions): DomainOutcome | null {
  // `renew DOMAIN` (the domain named, no flag) asks for a look now: whoever ran it fixed
  // something or wants the real state, not the rest decided at the last pass
  if (o.request || o.domain !== undefined) return null;
  const raw = o.store.rollover.read(d.name)?.state;
  if (!raw) return null;
  const state = loadState(raw, d.name);
  const now = o.now();
  const r = resting(state, now.toISOString(), settingsKey(d, o.world.policy(d)));
  if (!r || o.store.rollover.lease(d.name, now)) return null;
  return {
    domain: d.name,
    actions: [],
    result: 'idle',
    phase: 'idle',
    waitingFor: null,
    until: r.until,
    detail: `nothing to do until ${r.until}`,
  };
}

/**
 * The world's housekeeping (DNS-01 leftovers of a killed run), logged; a failure is logged and
 * the pass goes on: the rollover does not depend on it, and the next pass tries again.
 */
async function sweep(d: Domain, o: PassOptions): Promise<void> {
  if (!o.world.sweep) return;
  try {
    for (const line of await o.world.sweep(d)) {
      o.store.events.append(d.name, 'leftover-removed', oneLine(line), {}, o.now());
    }
  } catch (e) {
    if (!isDkError(e)) throw e;
    o.store.events.append(
      d.name,
      'leftover-failed',
      `Could not remove what an earlier run left behind: ${oneLine(e.message)}`,
      { code: e.code },
      o.now(),
    );
  }
}

/** Runs the pass over one domain, holding its lease. */
async function passDomain(d: Domain, o: PassOptions): Promise<DomainOutcome> {
  const rest = atRest(d, o);
  if (rest) return rest;
  const { store, world } = o;
  const leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
  const base = { domain: d.name, actions: [] as Action['kind'][] };
  let taken = store.rollover.acquireLease(d.name, o.holder, leaseMs, o.now());
  const held = taken ? undefined : store.rollover.lease(d.name, o.now());
  if (!taken && held && o.holderGone?.(held.holder)) {
    // the holder died mid-pass: its intent is persisted, so carrying on is safe; two passes
    // that both see this still cannot both acquire (one SQLite statement each)
    store.rollover.releaseLease(d.name, held.holder);
    taken = store.rollover.acquireLease(d.name, o.holder, leaseMs, o.now());
  }
  if (!taken) {
    const l = store.rollover.lease(d.name, o.now());
    return {
      ...base,
      result: 'busy',
      phase: null,
      waitingFor: null,
      until: l?.expiresAt ?? null,
      detail: `another pass (${l?.holder ?? 'unknown'}) is working on it`,
    };
  }
  try {
    const stored = store.rollover.read(d.name);
    let version = stored?.stateVersion ?? 0;
    let state = loadState(stored?.state, d.name);
    const policy = world.policy(d);
    let request: Request | null = o.request ?? null;
    const save = (s: RolloverState, now: Date) => {
      version = store.rollover.save(d.name, s, { expectedVersion: version, holder: o.holder, now });
      state = s;
    };
    await sweep(d, o);
    const maxSteps = o.maxSteps ?? DEFAULT_MAX_STEPS;
    let last: Decision | null = null;
    for (let step = 0; step < maxSteps; step++) {
      if (!store.rollover.renewLease(d.name, o.holder, leaseMs, o.now())) {
        throw new DkError(
          'tempfail',
          'E_DAEMON_LEASE',
          `Lost the lease on ${d.name} to another pass; stopping here`,
        );
      }
      const now = o.now();
      const iso = now.toISOString();
      const seen = await world.observe(d, state, policy, {
        ari: state !== null && ariDue(state, iso),
      });
      // the request is the planner's to remember (renewal.requested): hand it over once
      const obs: Observations = request
        ? { ...seen, request, ...(o.requestedBy ? { requestedBy: o.requestedBy } : {}) }
        : seen;
      const handing = request !== null;
      request = null;
      const dec = plan(state, obs, iso, policy);
      last = dec;
      // docs/rollover.md: persist d.state (with the intent) BEFORE the action runs; an idle
      // decision is persisted with its rest, so the next pass need not observe (rest.ts)
      const next =
        dec.kind === 'idle'
          ? {
              ...dec.state,
              rest: restMark(dec, iso, recheckMsOf(o, policy), settingsKey(d, policy)),
            }
          : dec.state;
      const taken = handing ? o.taken : undefined;
      if (taken) {
        store.transaction(() => {
          save(next, now);
          taken();
        });
      } else save(next, now);
      for (const ev of dec.events) store.events.append(d.name, ev.kind, ev.message, {}, now);
      if (dec.kind !== 'act') {
        return {
          ...base,
          actions: base.actions,
          result: dec.kind === 'idle' ? 'idle' : 'waiting',
          phase: dec.phase,
          waitingFor: dec.kind === 'wait' ? dec.waitingFor : null,
          until: dec.until,
          detail: dec.kind === 'wait' ? dec.detail : `nothing to do until ${dec.until}`,
        };
      }
      const action = dec.action;
      base.actions.push(action.kind);
      try {
        await world.execute(d, action, dec.state, policy);
      } catch (e) {
        if (!isDkError(e)) throw e;
        const at = o.now();
        const error = { code: e.code, message: oneLine(e.message) };
        const retryAfter = retryAfterOf(e, at);
        save(
          recordFailure(
            dec.state,
            { ...error, ...(retryAfter ? { retryAfter } : {}) },
            at.toISOString(),
            policy,
          ),
          at,
        );
        store.events.append(
          d.name,
          'failed',
          `${action.kind} failed: ${error.message}`,
          { action: action.kind, code: error.code },
          at,
        );
        return {
          ...base,
          result: 'failed',
          phase: 'backing-off',
          waitingFor: 'retry',
          until: state!.failure?.retryAt ?? null,
          detail: `${action.kind} failed: ${error.message}`,
          error,
        };
      }
      store.events.append(
        d.name,
        EVENT_KIND[action.kind],
        oneLine(describeAction(action)),
        { action: action.kind },
        o.now(),
      );
    }
    return {
      ...base,
      result: 'stopped',
      phase: last?.phase ?? null,
      waitingFor: null,
      until: null,
      detail: `stopped after ${maxSteps} steps in one pass; the next run carries on`,
    };
  } finally {
    store.rollover.releaseLease(d.name, o.holder);
  }
}

/**
 * One pass over every managed domain (or `o.domain`). A domain's failure does not stop the
 * others; a store error (the database gone, a lost lease) does stop that domain and is
 * reported as failed.
 */
export async function runPass(o: PassOptions): Promise<DomainOutcome[]> {
  const domains = o.domain
    ? [o.store.domains.get(o.domain)].filter((x): x is Domain => x !== undefined)
    : o.store.domains.list();
  if (o.domain && domains.length === 0) {
    throw new DkError(
      'usage',
      'E_DOMAIN_UNKNOWN',
      `${o.domain} is not a managed domain (danekeeper domain list shows them)`,
    );
  }
  const out: DomainOutcome[] = [];
  try {
    for (const d of domains) {
      try {
        out.push(await passDomain(d, o));
      } catch (e) {
        if (!isDkError(e)) throw e;
        out.push({
          domain: d.name,
          actions: [],
          result: 'failed',
          phase: null,
          waitingFor: null,
          until: null,
          detail: oneLine(e.message),
          error: { code: e.code, message: oneLine(e.message) },
        });
      }
    }
  } finally {
    await o.world.close?.();
  }
  return out;
}
