/**
 * When the installed certificate is due for renewal.
 */
import type { Observations, RolloverState } from './types.js';

/** RFC 9773 §4.3: without a Retry-After, a client should poll renewalInfo about every 6 hours. */
const ARI_DEFAULT_POLL_MS = 6 * 3_600_000;

/**
 * Fold a renewalInfo answer into the state (returns the new `renewal` part). RFC 9773 §4.2: pick
 * a uniformly random moment inside the suggested window (the random number is an input, so the
 * planner stays pure) and keep it while the window stays the same, so successive runs do not
 * redraw it; a window that ends in the past means renew now. RFC 9773 §4.3: honour Retry-After.
 */
export function foldAri(
  renewal: RolloverState['renewal'],
  obs: Observations,
  now: number,
): RolloverState['renewal'] {
  const ari = obs.ari;
  if (!ari) return renewal;
  const start = Date.parse(ari.start);
  const end = Date.parse(ari.end);
  const next = { ...renewal };
  const retry = ari.retryAfter ? Date.parse(ari.retryAfter) : NaN;
  next.nextAriCheck = new Date(
    Number.isFinite(retry) && retry > now ? retry : now + ARI_DEFAULT_POLL_MS,
  ).toISOString();
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return next;
  const same =
    renewal.ariWindow !== null &&
    Date.parse(renewal.ariWindow.start) === start &&
    Date.parse(renewal.ariWindow.end) === end;
  if (!same || renewal.ariMoment === null) {
    const r = Math.min(Math.max(obs.random, 0), 1);
    const moment = end <= now ? now : start + r * (end - start);
    next.ariMoment = new Date(moment).toISOString();
    next.ariWindow = { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
  }
  return next;
}

/**
 * The moment the installed certificate is due (ms): the ARI moment when the CA gave a window,
 * else when a third of its lifetime is left (DESIGN.md; the seed's "30 days before expiry" of a
 * 90-day certificate). null when nothing is installed (due now).
 */
export function dueAt(state: RolloverState): number | null {
  const c = state.installed;
  if (!c) return null;
  if (state.renewal.ariMoment) return Date.parse(state.renewal.ariMoment);
  const nb = Date.parse(c.notBefore);
  const na = Date.parse(c.notAfter);
  return na - (na - nb) / 3;
}

/**
 * Should the caller ask the CA's renewalInfo for the installed certificate before planning?
 * RFC 9773 §4.3: not before the Retry-After it gave (`nextAriCheck`); only for a certificate that
 * is installed and verified (a renewal in progress has nothing to ask about yet).
 */
export function ariDue(state: RolloverState, now: string): boolean {
  if (!state.installed?.ariCertId || !state.verified) return false;
  const next = state.renewal.nextAriCheck;
  return next === null || Date.parse(next) <= Date.parse(now);
}
