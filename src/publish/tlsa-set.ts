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
 * - A record no client can use (RFC 6698 §2.1, RFC 7671 §9; at `_25._tcp` owners also the PKIX
 *   usages, RFC 7672 §3.1.3) is refused unless forced, as `tlsa explain` calls it unusable.
 *
 * Ownership is race-free across processes (several `dns add-tlsa` at once, the daemon next to
 * the CLI), by two rules:
 * - Intent before the change: the records to add are written to the store as *pending*
 *   before the change is sent, and settled (remembered) after the server accepted it. A
 *   published record with a pending row is danekeeper's even if its process died in between;
 *   the next run settles it. A pending row whose record never appeared is dropped by the run
 *   that wrote it, or by anyone once it is PENDING_STALE_MS old.
 * - The store is read before the RRset. A record is remembered only after the server took it,
 *   so a record the store remembers was published before the RRset read began: if that read
 *   lacks it, someone removed it, and it is forgotten at once (else a later hand-made copy of
 *   the same data would be taken for danekeeper's). In the other order, a record applied and
 *   remembered by another run between the two reads would look removed and be forgotten.
 */
import { DkError } from '../core/errors.js';
import { formatRdata } from '../core/tlsa/format.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import { usability } from '../core/tlsa/usable.js';
import type { OwnershipStore, Publisher, TlsaChange, TlsaRrset } from './types.js';

/**
 * A pending row this old whose record is not published belongs to a run that died before it
 * sent its change (or whose change was refused): anyone may drop it. Far above any apply's
 * duration (the reload command's limit is 60 s, a zone-file lock wait 30 s).
 */
export const PENDING_STALE_MS = 15 * 60_000;

/**
 * Errors after which a change (TLSA or TXT) was certainly not applied: the intent can be
 * dropped. Anything else (a timeout, a dropped connection) may have applied.
 */
export const NOT_APPLIED: ReadonlySet<string> = new Set([
  'E_PUBLISH_AUTH',
  'E_PUBLISH_REFUSED',
  'E_PUBLISH_NOTAUTH',
  'E_PUBLISH_REJECTED',
  'E_PUBLISH_TTL',
  'E_PUBLISH_OWNER',
  'E_PUBLISH_NAME',
  'E_PUBLISH_NO_TXT',
  'E_TTL',
  'E_NOT_IN_ZONE',
  'E_ZONEFILE_UNSAFE',
  'E_ZONEFILE_SYNTAX',
]);

export interface SetOptions {
  /** TTL for the RRset; null/undefined keeps the RRset's TTL, or the zone default if new */
  ttl?: number | null;
  /**
   * remove records danekeeper did not create (dns remove --force; with 'owned': every TLSA
   * record at the owner), change the TTL of hand-made ones, publish unusable records
   */
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
  const dry = opts.dryRun === true;
  /** this run's intents whose change was not seen to apply */
  let open: string[] = [];
  for (let attempt = 1; ; attempt++) {
    // Store first, then the server (see the header): what the store remembers was published
    // before this read started.
    const remembered = store.owned(zone, owner);
    const pending = store.pending(zone, owner);
    const cur: TlsaRrset = await pub.read(owner);
    const now = opts.now ?? new Date();
    // Published and pending: sent by a danekeeper run, finished or not. Ours.
    const sent = unique(pending.map((x) => x.record).filter((r) => has(cur.records, r)));
    const owned = unique([...both(remembered, cur.records), ...sent]);
    // Remembered before the read began, and not in it: removed by someone since.
    const gone = minus(remembered, cur.records);
    if (!dry) {
      if (sent.length > 0) store.remember(zone, owner, sent, now);
      if (gone.length > 0) store.forget(zone, owner, gone);
      // Our own earlier tries that did not land (what did land was just remembered), and
      // anyone's intent that never got published in PENDING_STALE_MS.
      const stale = pending.filter(
        (x) =>
          !has(cur.records, x.record) && now.getTime() - Date.parse(x.createdAt) > PENDING_STALE_MS,
      );
      for (const intent of new Set([...open, ...stale.map((x) => x.intent)])) {
        store.abandon(intent);
      }
      open = [];
    }
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
      dryRun: dry,
      change: null,
      wire: [],
    };
    if (p.add.length === 0 && p.remove.length === 0 && !ttlChanges) return result;
    const change: TlsaChange = { owner, expected: cur.records, add: p.add, remove: p.remove, ttl };
    const planned = { ...result, after, ttl, added: p.add, removed: p.remove, change };
    await opts.beforeApply?.({
      owner,
      before: cur.records,
      after,
      add: p.add,
      remove: p.remove,
      ttl,
    });
    if (dry) {
      try {
        return { ...planned, wire: pub.describeChange ? await pub.describeChange(change) : [] };
      } catch (e) {
        if (e instanceof DkError && e.code === 'E_PUBLISH_CONFLICT' && attempt < tries) {
          await sleep(50 * attempt);
          continue;
        }
        throw e;
      }
    }
    const intent = p.add.length > 0 ? store.intend(zone, owner, p.add, now) : null;
    // What this run removed is no longer ours; what it added is, even when an earlier copy of
    // the same record was removed by hand (forgotten above, and published again now).
    const settle = () => {
      if (p.remove.length > 0) store.forget(zone, owner, p.remove);
      if (p.add.length > 0) store.remember(zone, owner, p.add, now);
    };
    try {
      await pub.apply(change);
    } catch (e) {
      const code = e instanceof DkError ? e.code : '';
      // The zone file was written but the reload failed: the records are published as far as
      // the file goes, so they are ours; forgetting that would strand them as "hand-made".
      if (code === 'E_PUBLISH_RELOAD') settle();
      else if (intent !== null && NOT_APPLIED.has(code)) store.abandon(intent);
      // Any other failure may have applied (a timeout after the update was sent; a PowerDNS
      // write overtaken right after): the pending rows stay for the next read to settle.
      else if (intent !== null) open.push(intent);
      if (code === 'E_PUBLISH_CONFLICT' && attempt < tries) {
        await sleep(50 * attempt);
        continue;
      }
      if (code === 'E_PUBLISH_CONFLICT') {
        throw new DkError(
          'tempfail',
          'E_PUBLISH_CONFLICT',
          `The TLSA RRset at ${owner} kept changing under us (${attempt} tries); nothing was changed, try again`,
          { cause: e },
        );
      }
      throw e;
    }
    settle();
    return { ...planned, changed: true };
  }
}

/** `3 1 1 hex`, long data cut short: enough to tell which record a message means. */
function shortRdata(r: TlsaRecord): string {
  const text = formatRdata(r);
  return r.data.length > 66 ? `${text.slice(0, 6 + 64)}… (${r.data.length} bytes)` : text;
}

/**
 * RFC 6698 §2.1 and RFC 7671 §9 (unknown usage, selector or matching type; a digest of the
 * wrong length; full data that is no DER) and, at a `_25._tcp` owner, RFC 7672 §3.1.3 (PKIX
 * usages 0/1): a client skips such a record, so publishing it protects nothing. Refused with
 * the reasons unless forced; the rules are `tlsa explain`'s (core/tlsa/usable.ts).
 */
function refuseUnusable(ownerIn: string, records: TlsaRecord[], force: boolean | undefined): void {
  if (force) return;
  const owner = absName(ownerIn);
  const mode = owner.startsWith('_25._tcp.') ? 'smtp' : 'generic';
  const bad = records
    .map((r) => ({ r, u: usability(r, mode) }))
    .filter(({ u }) => !u.usable)
    .map(({ r, u }) => `${shortRdata(r)} (${u.reasons.join('; ')})`);
  if (bad.length === 0) return;
  throw new DkError(
    'usage',
    'E_UNUSABLE_RECORD',
    `${bad.length === 1 ? 'The TLSA record' : 'TLSA records'} ${bad.join(', ')} at ${owner} ` +
      `${bad.length === 1 ? 'is' : 'are'} unusable: refusing to publish; ` +
      `add --force to publish ${bad.length === 1 ? 'it' : 'them'} anyway`,
  );
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

/**
 * Publishes `records` at `owner` next to whatever is there. Repeating it changes nothing.
 * An unusable record is refused (E_UNUSABLE_RECORD) unless `force`.
 */
export async function addTlsa(
  pub: Publisher,
  store: OwnershipStore,
  owner: string,
  records: TlsaRecord[],
  opts: SetOptions = {},
): Promise<TlsaSetResult> {
  const want = unique(records);
  refuseUnusable(owner, want, opts.force);
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
 * nothing is removed and those records are reported in `notOwned`. 'owned' with `force`
 * (dns remove --all --force) removes every TLSA record at the owner, danekeeper's or not.
 */
export function removeTlsa(
  pub: Publisher,
  store: OwnershipStore,
  owner: string,
  records: TlsaRecord[] | 'owned',
  opts: SetOptions = {},
): Promise<TlsaSetResult> {
  return run(pub, store, owner, opts, (current, owned) => {
    const want = records === 'owned' ? (opts.force ? current : owned) : unique(records);
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
 * With `desired` empty this removes every record danekeeper owns there. An unusable record
 * in `desired` is refused (E_UNUSABLE_RECORD) unless `force`.
 */
export async function replaceTlsa(
  pub: Publisher,
  store: OwnershipStore,
  owner: string,
  desired: TlsaRecord[],
  opts: SetOptions = {},
): Promise<TlsaSetResult> {
  const want = unique(desired);
  refuseUnusable(owner, want, opts.force);
  return run(pub, store, owner, opts, (current, owned) => ({
    add: minus(want, current),
    remove: minus(owned, want),
    present: both(want, current),
    notOwned: [],
    absent: [],
  }));
}
