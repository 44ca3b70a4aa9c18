/**
 * A domain's status for a list (the panel's Domains page, GET /v1/domains): read from the stored
 * rollover state and the outcome of the last pass over the domain, with no DNS query and no
 * TLS probe. `status` (src/daemon/status.ts) observes every authoritative server and endpoint,
 * which is right for one domain's page but, once per row, made a 20-row page 20 full
 * observations and a 10,000-domain list unusable. The fields the list shows (its badge) are
 * `status --json`'s names, so the panel's `badge()` reads either.
 */
import type { Phase, RolloverState } from '../core/rollover/index.js';
import { failureView } from '../core/rollover/summary.js';
import type { Domain } from '../store/domains.js';
import type { StateStore } from '../store/state.js';
import type { DomainOutcome } from './pass.js';

export interface ListStatus {
  name: string;
  dane: boolean;
  /** where it stands; null before the first pass over it */
  phase: Phase | null;
  /** what it waits for (`status`'s reasons, or `pass`: a step under way); null: nothing */
  waitingFor: string | null;
  until: string | null;
  failure: { code: string; message: string; attempts: number; retryAt: string } | null;
  /** the installed certificate, and whether it was seen live at every address */
  certificate: { id: string; serial: string; notAfter: string; verified: boolean } | null;
  /** a pass holding the domain now (its holder is the operator's business: not named) */
  busy: boolean;
  /** `stored`: from the state and the last pass, not a fresh look */
  source: 'stored';
}

/** the last pass's word on a domain, and when it was said (ISO 8601) */
export interface LastOutcome {
  outcome: DomainOutcome;
  at: string;
}

const INTENT_PHASE: Record<string, Phase> = {
  generateKey: 'generating-key',
  publishRecords: 'publishing',
  orderCertificate: 'ordering',
  install: 'installing',
  rollback: 'rolling-back',
};

export function listStatus(
  store: StateStore,
  d: Domain,
  now: Date,
  last?: LastOutcome,
): ListStatus {
  const stored = store.rollover.read(d.name);
  const s = (stored?.state ?? null) as RolloverState | null;
  const base = {
    name: d.name,
    dane: d.dane,
    busy: store.rollover.lease(d.name, now) !== undefined,
    source: 'stored' as const,
    failure: failureView(s?.failure ?? null),
    certificate: s?.installed
      ? {
          id: s.installed.id,
          serial: s.installed.serial,
          notAfter: s.installed.notAfter,
          verified: s.verified,
        }
      : null,
  };
  if (s === null) return { ...base, phase: null, waitingFor: 'pass', until: null };
  // the last pass's outcome, unless the state changed after it (a `run` or `renew` since)
  const o = last && stored && last.at >= stored.updatedAt ? last.outcome : undefined;
  if (o && o.result !== 'busy' && o.result !== 'failed' && o.phase) {
    return { ...base, phase: o.phase as Phase, waitingFor: o.waitingFor, until: o.until };
  }
  if (s.failure) {
    return { ...base, phase: 'backing-off', waitingFor: 'retry', until: s.failure.retryAt };
  }
  // at rest: the planner said idle and nothing is due before the rest ends (rest.ts)
  if (s.rest && s.intent === null) {
    return { ...base, phase: 'idle', waitingFor: null, until: s.rest.until };
  }
  const phase = s.intent ? (INTENT_PHASE[s.intent.kind] ?? null) : null;
  return { ...base, phase, waitingFor: 'pass', until: null };
}
