/**
 * Retiring TLSA records: DANE turned off for a domain (`disable-dane`, the panel) or for the
 * whole server (`daneEnabled = false`), or an endpoint no longer listed. The owner then drops
 * out of `policy.owners`, but the records danekeeper published there are still served and
 * still cached by senders.
 *
 * Two rules keep DESIGN.md's invariant across it:
 * 1. The records go: every record danekeeper published at such an owner is removed (only ours,
 *    as always). A signed zone without a TLSA RRset makes senders fall back to unauthenticated
 *    TLS (RFC 7672 §2.2), so removing them never stops mail while the certificate is unchanged.
 * 2. Until they are gone from every authoritative server AND 2 x TTL has passed since (RFC 7671
 *    §8.1: a resolver may hold the old RRset for its TTL), no certificate with another key is
 *    installed: a sender holding the cached `3 1 1` of the key in use would refuse it (RFC 7672
 *    §3.1.1). A renewal with the same key still goes ahead; its `3 1 1` is unchanged.
 *
 * Pure, like the planner: state and observations in, state out.
 */
import type { IsoTime, Observations, RolloverPolicy, RolloverState } from './types.js';

/**
 * The TTL assumed for a retired RRset when no server was ever seen serving it (so its real TTL
 * is unknown): a day, the usual cap of resolvers' caches. Only a wait; never shorter than seen.
 */
export const UNKNOWN_TTL_S = 86_400;

/** Owners that hold (or held, and may still be cached with) our records but are no longer DANE owners. */
export function retiringOwners(s: RolloverState | null, policy: RolloverPolicy): string[] {
  if (!s) return [];
  const current = new Set(policy.owners);
  const out = new Set<string>();
  for (const [owner, rs] of Object.entries(s.managed)) {
    if (!current.has(owner) && rs.length > 0) out.add(owner);
  }
  for (const owner of Object.keys(s.retired ?? {})) if (!current.has(owner)) out.add(owner);
  return [...out].sort();
}

/**
 * Brings `s.retired` up to date with this look at the servers (call before the tracks of the
 * owners that left the policy are dropped: their TTLs are the best knowledge of what senders
 * may cache). Returns the owners whose retirement ended now (gone everywhere for 2 x TTL).
 */
export function updateRetired(
  s: RolloverState,
  obs: Pick<Observations, 'dns'>,
  policy: RolloverPolicy,
  now: IsoTime,
): string[] {
  const nowMs = Date.parse(now);
  const current = new Set(policy.owners);
  const retired = { ...(s.retired ?? {}) };
  const ended: string[] = [];
  for (const owner of new Set([...retiringOwners(s, policy), ...Object.keys(retired)])) {
    const before = retired[owner];
    const managed = s.managed[owner] ?? [];
    // DANE on again at an owner: what it manages is governed by the confirmation rule again,
    // but a record removed while DANE was off may still be served by a lagging server or held
    // in a cache, and is waited out as before (off, on and off again within a TTL).
    const back = current.has(owner);
    const records = [...new Set([...(before?.records ?? []), ...(back ? [] : managed)])].filter(
      (r) => !back || !managed.includes(r),
    );
    if (records.length === 0) {
      delete retired[owner];
      continue;
    }
    const servers = obs.dns[owner]?.servers ?? [];
    const ttl = Math.max(
      before?.ttl ?? 0,
      policy.ttl ?? 0,
      ...Object.values(s.tracks[owner] ?? {}).map((t) => t.ttl),
      ...servers.map((x) => (x.served?.some((r) => records.includes(r)) ? (x.ttl ?? 0) : 0)),
    );
    // Gone only when every server answered and none serves any of them: a server that gave no
    // authoritative answer may come back with an old copy of the zone.
    const clear =
      servers.length > 0 &&
      servers.every((x) => x.served !== null && !x.served.some((r) => records.includes(r)));
    const clearSince = clear ? (before?.clearSince ?? now) : null;
    const left = !back && managed.length > 0;
    if (!left && clearSince !== null && Date.parse(clearSince) + retiredWaitMs(ttl) <= nowMs) {
      delete retired[owner];
      ended.push(owner);
      continue;
    }
    retired[owner] = { records, ttl, clearSince };
  }
  if (Object.keys(retired).length > 0) s.retired = retired;
  else delete s.retired;
  return ended;
}

/** 2 x TTL, with the TTL assumed when it was never seen. */
export function retiredWaitMs(ttl: number): number {
  return 2 * (ttl > 0 ? ttl : UNKNOWN_TTL_S) * 1000;
}

/**
 * What holds back a certificate with another key: the retiring owners whose records may still
 * be served or cached, and when the last of them is out of every cache (null: not yet gone from
 * every server, so not known). Null when nothing holds it back.
 */
export function retiredHold(s: RolloverState): { owners: string[]; until: number | null } | null {
  const entries = Object.entries(s.retired ?? {});
  if (entries.length === 0) return null;
  let until: number | null = -Infinity;
  for (const [, r] of entries) {
    if (r.clearSince === null || until === null) until = null;
    else until = Math.max(until, Date.parse(r.clearSince) + retiredWaitMs(r.ttl));
  }
  return { owners: entries.map(([o]) => o), until };
}
