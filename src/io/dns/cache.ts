/**
 * A Resolver in front of another one, shared by many checks in one process (`check --file`):
 * each question is sent once while it is in flight (every other asker waits for that answer)
 * and its answer is kept for the RRset's TTL. What comes back is exactly what the inner
 * resolver gave, so a check through the cache sees what it would have seen on its own.
 */
import { DkError } from '../../core/errors.js';
import { queryName } from './name.js';
import type { LookupOptions, LookupResult, RecordType, RecordTypes, Resolver } from './types.js';

export interface CachingResolverOptions {
  /** milliseconds since some epoch; default Date.now */
  now?: () => number;
  /** longest time any answer is kept, whatever its TTL; default 1 h */
  maxTtlMs?: number;
  /**
   * How long an `indeterminate` result (timeout, server failure) is kept. RFC 9520 §3.2: a
   * resolution failure is cached for at least 1 s and at most 5 min, so that one broken
   * server does not make every asker wait for it again. Default 30 s.
   */
  failureTtlMs?: number;
  /** most answers kept; the oldest go first; default 100 000 */
  maxEntries?: number;
  /** aborts every lookup sent through this cache (Ctrl-C of the whole run) */
  signal?: AbortSignal;
}

export interface CacheStats {
  /** lookups asked of the cache */
  lookups: number;
  /** answered from a kept answer */
  hits: number;
  /** joined a question already in flight */
  joined: number;
  /** sent to the inner resolver */
  sent: number;
}

interface Entry {
  result: Promise<LookupResult<unknown>>;
  /** 0 while in flight */
  expires: number;
}

function abortError(what: string): DkError {
  return new DkError('unavailable', 'E_DNS_ABORTED', `Lookup of ${what} was cancelled`);
}

/** Resolves with `p`, or rejects as soon as `signal` fires (the shared lookup goes on). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(what));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export class CachingResolver implements Resolver {
  readonly stats: CacheStats = { lookups: 0, hits: 0, joined: 0, sent: 0 };
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxTtlMs: number;
  private readonly failureTtlMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly inner: Resolver,
    private readonly o: CachingResolverOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    this.maxTtlMs = o.maxTtlMs ?? 3_600_000;
    this.failureTtlMs = o.failureTtlMs ?? 30_000;
    this.maxEntries = o.maxEntries ?? 100_000;
  }

  get servers(): readonly string[] {
    return this.inner.servers;
  }

  /** Proofs go to each server itself, uncached: a cache must not vouch for a server. */
  perServer(): Resolver[] {
    return this.inner.perServer?.() ?? [this.inner];
  }

  lookup<K extends RecordType>(
    name: string,
    type: K,
    opts: LookupOptions = {},
  ): Promise<LookupResult<RecordTypes[K]>> {
    // The key keeps the name's case: the result names the question as it was asked, and a
    // check through the cache must print what a check on its own would have printed.
    const qname = queryName(name);
    const flags = `${(opts.rd ?? true) ? 1 : 0}${opts.cd ? 1 : 0}${opts.tcp ? 1 : 0}`;
    const key = `${qname}/${type}/${flags}`;
    const what = `${qname}/${type}`;
    this.stats.lookups++;
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && (hit.expires === 0 || hit.expires > now)) {
      if (hit.expires === 0) this.stats.joined++;
      else this.stats.hits++;
      return raceAbort(hit.result as Promise<LookupResult<RecordTypes[K]>>, opts.signal, what);
    }
    if (hit) this.entries.delete(key);
    this.stats.sent++;
    // The caller's signal only stops its own wait: others may be waiting for the same answer.
    const shared: LookupOptions = {
      ...(opts.rd !== undefined ? { rd: opts.rd } : {}),
      ...(opts.cd !== undefined ? { cd: opts.cd } : {}),
      ...(opts.tcp !== undefined ? { tcp: opts.tcp } : {}),
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    };
    const result = this.inner.lookup(qname, type, shared);
    const entry: Entry = { result, expires: 0 };
    this.entries.set(key, entry);
    result.then(
      (r) => {
        if (this.entries.get(key) !== entry) return;
        const ms = this.keepFor(r);
        if (ms <= 0) this.entries.delete(key);
        else entry.expires = this.now() + ms;
      },
      () => {
        // thrown only for usage errors and cancellation: nothing worth keeping
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.trim();
    return raceAbort(result, opts.signal, what);
  }

  /** Entries kept now, in flight included. */
  get size(): number {
    return this.entries.size;
  }

  private keepFor(r: LookupResult<unknown>): number {
    if (r.status === 'indeterminate') return this.failureTtlMs;
    // RFC 2308 §5 / RFC 1035 §3.2.1: an answer is good for its TTL (the negative TTL for a
    // denial); with no TTL at all it is not kept.
    if (r.ttl === null) return 0;
    return Math.min(r.ttl * 1000, this.maxTtlMs);
  }

  private trim(): void {
    if (this.entries.size <= this.maxEntries) return;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      if (e.expires !== 0) this.entries.delete(k);
    }
  }
}
