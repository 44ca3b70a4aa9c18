/**
 * The confirmation rule (DESIGN.md "The one invariant"): a record may be relied on only after
 * EVERY authoritative server of the zone, asked directly, serves it, and then the longer of the
 * confirmation interval and 2 x the RRset's TTL has passed (RFC 7671 §8.1: a resolver may hold
 * the old RRset for its TTL, so a new key is safe only once every cache can have the new set).
 */
import type { Observations, Rdata, RecordTrack, RolloverPolicy } from './types.js';

const HOUR = 3_600_000;

/**
 * New confirmation clocks from the old ones and this look at the servers. A record keeps its
 * clock only while every server serves it; a server that stops serving it (or gives no
 * authoritative answer: it may come back with an old copy of the zone) resets it. The clock
 * starts at the first look that finds all of them serving it, so it never starts early.
 */
export function updateTracks(
  old: Record<string, Record<Rdata, RecordTrack>>,
  obs: Observations,
  policy: RolloverPolicy,
  now: string,
): Record<string, Record<Rdata, RecordTrack>> {
  const out: Record<string, Record<Rdata, RecordTrack>> = {};
  for (const owner of policy.owners) {
    const servers = obs.dns[owner]?.servers ?? [];
    const prev = old[owner] ?? {};
    const next: Record<Rdata, RecordTrack> = {};
    if (servers.length > 0) {
      const candidates = new Set<Rdata>(servers.flatMap((s) => s.served ?? []));
      for (const r of candidates) {
        if (!servers.every((s) => s.served !== null && s.served.includes(r))) continue;
        const ttl = Math.max(0, ...servers.map((s) => s.ttl ?? 0));
        const p = prev[r];
        next[r] = p?.allServingSince
          ? { allServingSince: p.allServingSince, ttl: Math.max(p.ttl, ttl) }
          : { allServingSince: now, ttl };
      }
    }
    out[owner] = next;
  }
  return out;
}

/** The wait after every server serves a record: max(interval, 2 x TTL), in milliseconds. */
export function confirmationWaitMs(policy: RolloverPolicy, ttl: number): number {
  return Math.max(policy.confirmationIntervalHours * HOUR, 2 * ttl * 1000);
}

/**
 * When the record becomes confirmed at this owner (ms since the epoch), or null while not every
 * server serves it.
 */
export function confirmedAt(
  tracks: Record<string, Record<Rdata, RecordTrack>>,
  owner: string,
  r: Rdata,
  policy: RolloverPolicy,
): number | null {
  const t = tracks[owner]?.[r];
  if (!t?.allServingSince) return null;
  return Date.parse(t.allServingSince) + confirmationWaitMs(policy, t.ttl);
}

/**
 * When the record is confirmed at EVERY owner (the latest of them), or null while some owner's
 * servers do not all serve it yet.
 */
export function confirmedEverywhereAt(
  tracks: Record<string, Record<Rdata, RecordTrack>>,
  r: Rdata,
  policy: RolloverPolicy,
): number | null {
  let latest = -Infinity;
  for (const owner of policy.owners) {
    const at = confirmedAt(tracks, owner, r, policy);
    if (at === null) return null;
    latest = Math.max(latest, at);
  }
  return latest;
}
