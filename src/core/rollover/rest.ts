/**
 * When a keep-secured pass may skip observing a domain (docs/rollover.md "The keep-secured
 * pass"). Observing is DNS queries to every authoritative server and a TLS probe of every
 * address; for a domain at rest none of that can change the plan before the renewal moment,
 * except a drift (a record lost by the backend, --cert-dir overwritten), which the periodic
 * re-check still finds. Pure: `now` and the settings key are inputs.
 */
import type { Decision, IsoTime, RestMark, RolloverState } from './types.js';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The mark to persist with an idle decision: rest until the earlier of the planner's `until`
 * and `now + recheckMs`.
 */
export function restMark(
  d: Extract<Decision, { kind: 'idle' }>,
  now: IsoTime,
  recheckMs: number,
  key: string,
): RestMark {
  const until = Date.parse(d.until);
  const recheck = Math.min(until, Date.parse(now) + Math.max(0, recheckMs));
  return { until: d.until, recheckAt: iso(recheck), key };
}

/**
 * The rest the state is in at `now`, or null when the domain must be observed: nothing in
 * progress (no intent, failure, pending certificate, request, rotation or queued rotation; the installed
 * certificate verified), the same settings as when the rest was decided, and the re-check and
 * `until` still ahead. `until` is the renewal moment or the next renewalInfo check (RFC 9773
 * §4.3), whichever is first. A CA without renewalInfo leaves no next check: renewalInfo is then
 * asked again at the re-check, which RFC 9773 §4.3's "about every 6 hours" allows.
 */
export function resting(state: RolloverState | null, now: IsoTime, key: string): RestMark | null {
  const r = state?.rest;
  if (!state || !r) return null;
  const t = Date.parse(now);
  if (
    r.key !== key ||
    !state.installed ||
    !state.verified ||
    state.intent !== null ||
    state.failure !== null ||
    state.pending !== null ||
    state.renewal.requested !== null ||
    state.renewal.rotating ||
    (state.renewal.queuedRotations ?? 0) > 0 ||
    // records being retired (retire.ts): every pass looks until they are out of every cache
    Object.keys(state.retired ?? {}).length > 0 ||
    !(t < Date.parse(r.recheckAt)) ||
    !(t < Date.parse(r.until))
  ) {
    return null;
  }
  return r;
}
