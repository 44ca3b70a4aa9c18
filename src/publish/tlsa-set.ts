/**
 * The policy above every backend: which TLSA records danekeeper may touch, and how a change is
 * retried when someone else changed the RRset first.
 *
 * - danekeeper only removes records it created (the OwnershipStore remembers them), unless told
 *   to with `force`. A record made by hand at the same owner is carried over untouched.
 * - A record that is already published is never added twice and never claimed: if a person
 *   typed it in, it stays theirs.
 * - Every change is guarded by the RRset just read (TlsaChange.expected); a concurrent writer
 *   makes the backend refuse, and the change is recomputed from a fresh read.
 * - The store is written only after the server accepted the change. A crash in between leaves a
 *   published record the store does not know: it is then treated as foreign and never removed,
 *   which errs on the side of mail delivery.
 */
import { DkError } from '../core/errors.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import type { OwnershipStore, Publisher, TlsaChange, TlsaRrset } from './types.js';

export interface SetOptions {
  /** TTL for the RRset; null/undefined keeps the RRset's TTL, or the zone default if new */
  ttl?: number | null;
  /** remove records danekeeper did not create (dns remove --force) */
  force?: boolean;
  /** tries in all when the guard fails; default 5 */
  tries?: number;
  now?: Date;
  /** waits between tries; default a short growing delay (tests pass a no-op) */
  sleep?: (ms: number) => Promise<void>;
  /** compute the change and stop: nothing applied, the store untouched */
  dryRun?: boolean;
  /**
   * called with the planned change before it is applied (and in a dry run); throwing aborts
   * with nothing changed. Called again on each retry with the fresh plan. Not called when
   * there is nothing to change.
   */
  beforeApply?: (p: BeforeApply) => Promise<void>;
}

/** The planned change as beforeApply sees it. */
export interface BeforeApply {
  owner: string;
  /** the RRset as read */
  before: TlsaRecord[];
  /** the RRset once the change is applied */
  after: TlsaRecord[];
  add: TlsaRecord[];
  remove: TlsaRecord[];
  /** the TTL of the whole resulting RRset */
  ttl: number;
}

export interface TlsaSetResult {
  zone: string;
  owner: string;
  changed: boolean;
  /** the RRset before and after, as the backend holds it */
  before: TlsaRecord[];
  after: TlsaRecord[];
  ttl: number;
  added: TlsaRecord[];
  removed: TlsaRecord[];
  /** asked for, already published: left as it is (and not claimed if someone else made it) */
  present: TlsaRecord[];
  /** records at the owner danekeeper did not create, left untouched */
  foreign: TlsaRecord[];
  /** asked to remove, but not created by danekeeper (and no force): left in place */
  notOwned: TlsaRecord[];
  /** asked to remove, but not published */
  absent: TlsaRecord[];
  /** tries used (1 unless a concurrent change forced a retry) */
  tries: number;
  /**
   * a dry run: `changed` is false and nothing was applied, while `after`, `ttl`, `added` and
   * `removed` say what the change would have done
   */
  dryRun: boolean;
  /** the change that was (or, in a dry run, would be) applied; null when nothing to do */
  change: TlsaChange | null;
  /**
   * in a dry run, what the backend would send: nsupdate-style UPDATE text, the API call
   * (method, URL, JSON body; never a key), or the zone-file lines added/removed. Empty
   * otherwise, and when the backend cannot describe its changes.
   */
  wire: string[];
}

const has = (set: TlsaRecord[], r: TlsaRecord): boolean => set.some((x) => sameRecord(x, r));
const minus = (a: TlsaRecord[], b: TlsaRecord[]): TlsaRecord[] => a.filter((r) => !has(b, r));
const both = (a: TlsaRecord[], b: TlsaRecord[]): TlsaRecord[] => a.filter((r) => has(b, r));
const unique = (a: TlsaRecord[]): TlsaRecord[] =>
  a.filter((r, i) => a.findIndex((x) => sameRecord(x, r)) === i);

/** Lower case with the trailing dot: the form the store and the backends compare. */
export function absName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

/** The owner must be the zone's apex or below it; anything else is a usage error. */
export function assertInZone(owner: string, zone: string): void {
  const o = absName(owner);
  const z = absName(zone);
  if (!(z === '.' || o === z || o.endsWith(`.${z}`))) {
    throw new DkError('usage', 'E_NOT_IN_ZONE', `${o} is not in the zone ${z}`);
  }
}

interface Plan {
  add: TlsaRecord[];
  remove: TlsaRecord[];
  present: TlsaRecord[];
  notOwned: TlsaRecord[];
  absent: TlsaRecord[];
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Read, plan, apply guarded by what was read; on E_PUBLISH_CONFLICT start over. `plan` sees the
 * current RRset and the records danekeeper owns there.
 */
async function run(
  pub: Publisher,
  store: OwnershipStore,
  ownerIn: string,
  opts: SetOptions,
  plan: (current: TlsaRecord[], owned: TlsaRecord[]) => Plan,
): Promise<TlsaSetResult> {
  const zone = absName(pub.zone);
  const owner = absName(ownerIn);
  assertInZone(owner, zone);
  const tries = opts.tries ?? 5;
  const sleep = opts.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    const cur: TlsaRrset = await pub.read(owner);
    // Records the store remembers but the server no longer has were removed by someone else:
    // forget them, or a later hand-made record with the same data would be taken for ours.
    const ownedAll = store.owned(zone, owner);
    const gone = minus(ownedAll, cur.records);
    if (gone.length > 0 && !opts.dryRun) store.forget(zone, owner, gone);
    const owned = both(ownedAll, cur.records);
    const p = plan(cur.records, owned);
    const ttl = await chooseTtl(pub, cur, opts.ttl);
    const after = [...minus(cur.records, p.remove), ...p.add];
    // Hand-made records left as they are (those asked about are listed under present/notOwned).
    const foreign = minus(minus(cur.records, owned), [...p.remove, ...p.present, ...p.notOwned]);
    // RFC 2181 §5.2: one TTL per RRset, so a new TTL changes the hand-made records' TTL too.
    const ttlChanges = cur.ttl !== null && after.length > 0 && ttl !== cur.ttl;
    if (ttlChanges && foreign.length > 0 && !opts.force) {
      throw new DkError(
        'usage',
        'E_TTL_FOREIGN',
        `The TLSA RRset at ${owner} holds records danekeeper did not create, with TTL ${cur.ttl}; ` +
          `TTL ${ttl} would change theirs too (one TTL per RRset): use --ttl ${cur.ttl} or --force`,
      );
    }
    const result: TlsaSetResult = {
      zone,
      owner,
      changed: false,
      before: cur.records,
      after: cur.records,
      ttl: cur.ttl ?? ttl,
      added: [],
      removed: [],
      present: p.present,
      foreign,
      notOwned: p.notOwned,
      absent: p.absent,
      tries: attempt,
      dryRun: opts.dryRun === true,
      change: null,
      wire: [],
    };
    if (p.add.length === 0 && p.remove.length === 0 && !ttlChanges) return result;
    const change: TlsaChange = { owner, expected: cur.records, add: p.add, remove: p.remove, ttl };
    const planned = { ...result, after, ttl, added: p.add, removed: p.remove, change };
    try {
      await opts.beforeApply?.({
        owner,
        before: cur.records,
        after,
        add: p.add,
        remove: p.remove,
        ttl,
      });
      if (opts.dryRun) {
        const wire = pub.describeChange ? await pub.describeChange(change) : [];
        return { ...planned, wire };
      }
      await pub.apply(change);
    } catch (e) {
      // The zone file was written but the reload failed: the records are published as far as
      // the file goes, so they are ours; forgetting that would strand them as "hand-made".
      if (e instanceof DkError && e.code === 'E_PUBLISH_RELOAD') {
        if (p.add.length > 0) store.remember(zone, owner, p.add, opts.now ?? new Date());
        if (p.remove.length > 0) store.forget(zone, owner, p.remove);
      }
      if (e instanceof DkError && e.code === 'E_PUBLISH_CONFLICT' && attempt < tries) {
        await sleep(50 * attempt);
        continue;
      }
      if (e instanceof DkError && e.code === 'E_PUBLISH_CONFLICT') {
        throw new DkError(
          'tempfail',
          'E_PUBLISH_CONFLICT',
          `The TLSA RRset at ${owner} kept changing under us (${attempt} tries); nothing was changed, try again`,
          { cause: e },
        );
      }
      throw e;
    }
    if (p.add.length > 0) store.remember(zone, owner, p.add, opts.now ?? new Date());
    if (p.remove.length > 0) store.forget(zone, owner, p.remove);
    return { ...planned, changed: true };
  }
}

async function chooseTtl(pub: Publisher, cur: TlsaRrset, ttl: number | null | undefined) {
  if (ttl !== null && ttl !== undefined) {
    // RFC 2181 §8: a TTL is an unsigned 31-bit number.
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2147483647) {
      throw new DkError('usage', 'E_TTL', `TTL ${ttl} is not a number from 0 to 2147483647`);
    }
    return ttl;
  }
  // Blank TTL: as in the seed's DNS form, the zone's default; an existing RRset keeps its own.
  return cur.ttl ?? (await pub.defaultTtl());
}

/** Publishes `records` at `owner` next to whatever is there. Repeating it changes nothing. */
export function addTlsa(
  pub: Publisher,
  store: OwnershipStore,
  owner: string,
  records: TlsaRecord[],
  opts: SetOptions = {},
): Promise<TlsaSetResult> {
  const want = unique(records);
  return run(pub, store, owner, opts, (current) => ({
    add: minus(want, current),
    remove: [],
    present: both(want, current),
    notOwned: [],
    absent: [],
  }));
}

/**
 * Removes `records` (or every record danekeeper created there, for 'owned') from `owner`.
 * All or nothing: if any named record was not created by danekeeper and `force` is not set,
 * nothing is removed and those records are reported in `notOwned`.
 */
export function removeTlsa(
  pub: Publisher,
  store: OwnershipStore,
  owner: string,
  records: TlsaRecord[] | 'owned',
  opts: SetOptions = {},
): Promise<TlsaSetResult> {
  return run(pub, store, owner, opts, (current, owned) => {
    const want = records === 'owned' ? owned : unique(records);
    const published = both(want, current);
    const notOwned = opts.force ? [] : minus(published, owned);
    return {
      add: [],
      remove: notOwned.length > 0 ? [] : published,
      present: [],
      notOwned,
      absent: minus(want, current),
    };
  });
}

/**
 * Makes danekeeper's records at `owner` exactly `desired`: adds what is missing and removes
 * what danekeeper published before and is no longer wanted. Records made by hand stay.
 * With `desired` empty this removes every record danekeeper owns there.
 */
export function replaceTlsa(
  pub: Publisher,
  store: OwnershipStore,
  owner: string,
  desired: TlsaRecord[],
  opts: SetOptions = {},
): Promise<TlsaSetResult> {
  const want = unique(desired);
  return run(pub, store, owner, opts, (current, owned) => ({
    add: minus(want, current),
    remove: minus(owned, want),
    present: both(want, current),
    notOwned: [],
    absent: [],
  }));
}
