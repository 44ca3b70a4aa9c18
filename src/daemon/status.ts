/**
 * What `status` shows per domain (DESIGN.md "Command-line contract, automatic path":
 * `{"domains": [{"name", "phase", "waitingFor", "until", "certificate", "tlsa", ...}]}`): the
 * planner's decision on a fresh observation, summarized, never persisted and never acted on.
 * Public facts only (key ids, SPKI digests, serials): no private key reaches this.
 */
import { isDkError } from '../core/errors.js';
import { plan, summarize, type RolloverState } from '../core/rollover/index.js';
import type { RolloverSummary } from '../core/rollover/index.js';
import type { Domain } from '../store/domains.js';
import type { StateStore } from '../store/state.js';
import type { DomainWorld } from './pass.js';

export interface DomainStatus extends Partial<RolloverSummary> {
  name: string;
  dane: boolean;
  certDir: string;
  /** a pass holding the domain now */
  lease: { holder: string; expiresAt: string } | null;
  /** why the domain could not be looked at */
  error?: { code: string; message: string };
}

export async function domainStatus(
  store: StateStore,
  world: DomainWorld,
  d: Domain,
  now: Date,
): Promise<DomainStatus> {
  const l = store.rollover.lease(d.name, now);
  const base: DomainStatus = {
    name: d.name,
    dane: d.dane,
    certDir: d.certDir,
    lease: l ? { holder: l.holder, expiresAt: l.expiresAt } : null,
  };
  try {
    const raw = store.rollover.read(d.name)?.state;
    const state = (raw ?? null) as RolloverState | null;
    const policy = world.policy(d);
    const obs = await world.observe(d, state, policy, { ari: false });
    const dec = plan(state, obs, now.toISOString(), policy);
    return { ...base, ...summarize(dec, obs, policy) };
  } catch (e) {
    if (!isDkError(e)) throw e;
    return { ...base, error: { code: e.code, message: e.message.replace(/\s*\n\s*/g, ' ') } };
  }
}
