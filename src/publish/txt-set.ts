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
 */
import { DkError } from '../core/errors.js';
import type { Publisher, TxtChange } from './types.js';

export interface TxtSetOptions {
  /** TTL for the RRset; default the RRset's own, or the zone's default when it is new */
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
  plan: (current: string[]) => { add: string[]; remove: string[] },
): Promise<TxtSetResult> {
  const b = txtBackend(p);
  const tries = o.tries ?? 5;
  const sleep = o.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    const rr = await b.readTxt(owner);
    const { add, remove } = plan(rr.values);
    const after = [...rr.values.filter((v) => !remove.includes(v)), ...add];
    const result: TxtSetResult = {
      owner: rr.owner,
      before: rr.values,
      after,
      added: add,
      removed: remove,
      applied: false,
    };
    if (add.length === 0 && remove.length === 0) return result;
    const ttl = o.ttl ?? rr.ttl ?? (await p.defaultTtl());
    const change: TxtChange = { owner: rr.owner, expected: rr.values, add, remove, ttl };
    if (o.dryRun) {
      return { ...result, plan: p.describeTxtChange ? await p.describeTxtChange(change) : [] };
    }
    try {
      await b.applyTxt(change);
      return { ...result, applied: true };
    } catch (e) {
      if (!(e instanceof DkError) || e.code !== 'E_PUBLISH_CONFLICT') throw e;
      if (attempt >= tries) {
        throw new DkError(
          'tempfail',
          'E_PUBLISH_CONFLICT',
          `The TXT RRset at ${rr.owner} kept changing under us (${tries} tries); try again later`,
        );
      }
      await sleep(50 * attempt);
    }
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
  return guarded(p, owner, o, (cur) => ({ add: [], remove: drop.filter((v) => cur.includes(v)) }));
}
