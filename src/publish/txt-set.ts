/**
 * The policy above every backend for TXT records, as tlsa-set.ts is for TLSA: used for ACME
 * DNS-01 (RFC 8555 §8.4) at `_acme-challenge.NAME`.
 *
 * - Ownership: addTxt returns the values it added; removeTxt removes only values it is given,
 *   and the caller gives only what addTxt added. A value already published (another client's
 *   challenge, a hand-made record) is never added twice, never claimed, never removed.
 * - Guard: every change carries the RRset just read (TxtChange.expected); a concurrent writer
 *   (another ACME client answering its own challenge at the same name) makes the backend refuse
 *   with E_PUBLISH_CONFLICT and the change is recomputed from a fresh read.
 * - Dry run: the change and what the backend would send, nothing applied.
 * - Crash-proof ownership (with `store`): the values about to be added are written to the
 *   state database as pending before the change is sent and settled after it applied; a
 *   removal forgets them. A run that dies in between leaves rows behind, not orphans:
 *   removeLeftoverTxt (the next run) removes exactly the recorded values that are still
 *   published, never a value it did not add. An ACME value is base64url(SHA-256) of a key
 *   authorization that holds the challenge's token (RFC 8555 §8.1, §8.4), so no one else
 *   publishes the same value by chance: a recorded value found published is ours.
 */
import { DkError } from '../core/errors.js';
import { NOT_APPLIED } from './tlsa-set.js';
import type { Publisher, TxtChange } from './types.js';

/** A TXT value danekeeper published (or was about to: `intent` set, not yet settled). */
export interface OwnedTxt {
  /** absolute, lower case, trailing dot */
  owner: string;
  value: string;
  /** ISO 8601 */
  createdAt: string;
  /** pending rows only: the intend() call that wrote it */
  intent?: string;
}

/** Where TXT ownership persists (src/store/txt-ownership.ts): the state database. */
export interface TxtOwnership {
  /** every owned and pending value in `zone`, sorted by owner */
  list(zone: string): OwnedTxt[];
  /** before a change is sent; returns the intent's id for abandon() */
  intend(zone: string, owner: string, values: string[], now: Date): string;
  /** after the change applied; idempotent; settles the values' pending rows */
  remember(zone: string, owner: string, values: string[], now: Date): void;
  /** after a removal (or when found gone); idempotent; drops pending rows too */
  forget(zone: string, owner: string, values: string[]): void;
  /** the change certainly did not apply: drop that intent's rows, no one else's */
  abandon(intent: string): void;
  close(): void;
}

export interface TxtSetOptions {
  /** persists what this call publishes and removes; without it, ownership is the caller's */
  store?: TxtOwnership;
  /** for the store's timestamps; default the clock */
  now?: Date;
  /** TTL for an RRset this call creates (default the zone's); an existing RRset keeps its own */
  ttl?: number | null;
  /** tries in all when the guard fails; default 5 */
  tries?: number;
  sleep?: (ms: number) => Promise<void>;
  dryRun?: boolean;
}

export interface TxtSetResult {
  owner: string;
  before: string[];
  after: string[];
  /** addTxt: the values this call published (the only ones the caller may remove later) */
  added: string[];
  removed: string[];
  /** false when there was nothing to change, or in a dry run */
  applied: boolean;
  /** dry run: what the backend would send or write */
  plan?: string[];
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function txtBackend(p: Publisher): Required<Pick<Publisher, 'readTxt' | 'applyTxt'>> {
  if (!p.readTxt || !p.applyTxt) {
    throw new DkError(
      'config',
      'E_PUBLISH_NO_TXT',
      `The ${p.backend} backend cannot publish TXT records`,
    );
  }
  return { readTxt: p.readTxt.bind(p), applyTxt: p.applyTxt.bind(p) };
}

async function guarded(
  p: Publisher,
  owner: string,
  o: TxtSetOptions,
  plan: (current: string[]) => { add: string[]; remove: string[]; gone?: string[] },
): Promise<TxtSetResult> {
  const b = txtBackend(p);
  const tries = o.tries ?? 5;
  const sleep = o.sleep ?? defaultSleep;
  const store = o.dryRun ? undefined : o.store;
  /** this call's intents whose change was not seen to apply: owner -> values, by intent */
  let open: { intent: string; values: string[] }[] = [];
  for (let attempt = 1; ; attempt++) {
    const rr = await b.readTxt(owner);
    const now = o.now ?? new Date();
    if (store) {
      // An earlier try that failed in a way that may still have applied (a timeout, a
      // PowerDNS write overtaken): what the read shows of it is ours, the rest never landed.
      for (const x of open) {
        const landed = x.values.filter((v) => rr.values.includes(v));
        if (landed.length > 0) store.remember(p.zone, rr.owner, landed, now);
        store.abandon(x.intent);
      }
      open = [];
    }
    const { add, remove, gone = [] } = plan(rr.values);
    const after = [...rr.values.filter((v) => !remove.includes(v)), ...add];
    const result: TxtSetResult = {
      owner: rr.owner,
      before: rr.values,
      after,
      added: add,
      removed: remove,
      applied: false,
    };
    // Asked to remove and already gone: nothing left to own.
    if (store && gone.length > 0) store.forget(p.zone, rr.owner, gone);
    if (add.length === 0 && remove.length === 0) return result;
    // RFC 2181 §5.2: one TTL per RRset, so a TTL of ours would change the values others put
    // there (a hand-made record, another client's challenge) for good: an existing RRset keeps
    // its TTL, ours applies only to an RRset we create.
    const ttl = rr.ttl ?? o.ttl ?? (await p.defaultTtl());
    const change: TxtChange = { owner: rr.owner, expected: rr.values, add, remove, ttl };
    if (o.dryRun) {
      return { ...result, plan: p.describeTxtChange ? await p.describeTxtChange(change) : [] };
    }
    // Before the change is sent, so a crash after it applied still leaves a record of it.
    const intent = store && add.length > 0 ? store.intend(p.zone, rr.owner, add, now) : null;
    const settle = () => {
      if (!store) return;
      if (add.length > 0) store.remember(p.zone, rr.owner, add, now);
      if (remove.length > 0) store.forget(p.zone, rr.owner, remove);
    };
    try {
      await b.applyTxt(change);
    } catch (e) {
      const code = e instanceof DkError ? e.code : '';
      // The zone file was written, only the reload failed: the values are published.
      if (code === 'E_PUBLISH_RELOAD') settle();
      else if (store && intent !== null) {
        if (NOT_APPLIED.has(code)) store.abandon(intent);
        else open.push({ intent, values: add });
      }
      if (code !== 'E_PUBLISH_CONFLICT') throw e;
      if (attempt >= tries) {
        throw new DkError(
          'tempfail',
          'E_PUBLISH_CONFLICT',
          `The TXT RRset at ${rr.owner} kept changing under us (${tries} tries); try again later`,
        );
      }
      await sleep(50 * attempt);
      continue;
    }
    settle();
    return { ...result, applied: true };
  }
}

/** Publishes `values` at `owner` next to whatever is there; returns which it added. */
export function addTxt(
  p: Publisher,
  owner: string,
  values: string[],
  o: TxtSetOptions = {},
): Promise<TxtSetResult> {
  const want = [...new Set(values)];
  return guarded(p, owner, o, (cur) => ({ add: want.filter((v) => !cur.includes(v)), remove: [] }));
}

/** Removes `values` (those addTxt added) from `owner`; others stay; gone ones are no error. */
export function removeTxt(
  p: Publisher,
  owner: string,
  values: string[],
  o: TxtSetOptions = {},
): Promise<TxtSetResult> {
  const drop = [...new Set(values)];
  return guarded(p, owner, o, (cur) => ({
    add: [],
    remove: drop.filter((v) => cur.includes(v)),
    gone: drop.filter((v) => !cur.includes(v)),
  }));
}

export interface LeftoverOptions extends TxtSetOptions {
  store: TxtOwnership;
  /** only these owners (absolute); default every owner the store knows in the zone */
  owners?: string[];
  /**
   * Leave values recorded less than this long ago: they may belong to a run that is still
   * answering its challenge. Default 15 minutes, far above a DNS-01 round (propagation wait
   * plus the CA's validation); 0 when the caller holds the lease of every owner's domain.
   */
  minAgeMs?: number;
}

export const LEFTOVER_MIN_AGE_MS = 15 * 60_000;

/**
 * The next run's cleanup: removes the TXT values a run that died before its cleanup left
 * published (RFC 8555 §8.4 asks for nothing of the kind, but a stale `_acme-challenge` value
 * is clutter at best), and forgets those already gone. Only values the store recorded are
 * touched; a hand-made value at the same owner stays. Returns one result per owner looked at.
 */
export async function removeLeftoverTxt(p: Publisher, o: LeftoverOptions): Promise<TxtSetResult[]> {
  const now = o.now ?? new Date();
  const cutoff = now.getTime() - (o.minAgeMs ?? LEFTOVER_MIN_AGE_MS);
  const only = o.owners?.map((x) => x.toLowerCase().replace(/\.?$/, '.'));
  const byOwner = new Map<string, string[]>();
  for (const r of o.store.list(p.zone)) {
    if (only && !only.includes(r.owner)) continue;
    if (Date.parse(r.createdAt) > cutoff) continue;
    byOwner.set(r.owner, [...new Set([...(byOwner.get(r.owner) ?? []), r.value])]);
  }
  const out: TxtSetResult[] = [];
  for (const [owner, values] of byOwner) out.push(await removeTxt(p, owner, values, o));
  return out;
}
