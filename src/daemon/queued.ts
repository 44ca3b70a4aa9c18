/**
 * The queued renew requests (src/store/requests.ts) carried out by a pass: serve's scheduler
 * and `danekeeper run` (cron, a systemd timer) both call this before their regular pass, so a
 * request left by a stopped serve, or asked of an operator who moved to the timer, is carried
 * out by whichever runs next — exactly once (issue 10): each row is removed in the same store
 * transaction as the save of the state that carries it (pass.ts `taken`).
 */
import { isDkError, type DkError } from '../core/errors.js';
import type { RenewRequest } from '../store/requests.js';
import { runPass, type DomainOutcome, type DomainWorld, type PassOptions } from './pass.js';

export interface QueuedResult {
  row: RenewRequest;
  /** the pass's outcome for the domain (busy: another process holds it; the row stays) */
  outcome?: DomainOutcome;
  /** a DkError that stopped this domain's pass (the row stays, unless the domain is gone) */
  error?: DkError;
}

/**
 * Runs one pass per queued request, oldest first. `world` stays open (the caller's regular pass
 * closes it). `stopped()` true skips the rest: their rows stay for the next pass. Errors other
 * than DkError are bugs and propagate.
 */
export async function passQueued(
  common: Omit<PassOptions, 'world' | 'domain' | 'request' | 'taken'>,
  world: DomainWorld,
  stopped: () => boolean = () => false,
): Promise<QueuedResult[]> {
  const open = new Proxy(world, {
    get(target, prop, receiver) {
      if (prop === 'close') return undefined;
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
  const out: QueuedResult[] = [];
  for (const row of common.store.requests.list()) {
    if (stopped()) continue;
    try {
      const [outcome] = await runPass({
        ...common,
        world: open,
        domain: row.domain,
        request: row.request,
        requestedBy: row.askedBy,
        // removed with the save of the state that carries it (pass.ts); a domain another
        // process holds, or a pass that failed before that save, leaves it for the next pass
        taken: () => void common.store.requests.take(row),
      });
      out.push(outcome ? { row, outcome } : { row });
    } catch (e) {
      if (!isDkError(e)) throw e;
      // the domain was removed since the request: nothing to renew
      if (e.code === 'E_DOMAIN_UNKNOWN') common.store.requests.drop(row.domain);
      out.push({ row, error: e });
    }
  }
  return out;
}

/** a domain passed twice (its request, then the regular pass): the last outcome stands */
export function mergeOutcomes(
  queued: readonly QueuedResult[],
  regular: readonly DomainOutcome[],
): DomainOutcome[] {
  const requested = queued.flatMap((q) => (q.outcome ? [q.outcome] : []));
  return [...requested.filter((r) => !regular.some((x) => x.domain === r.domain)), ...regular];
}
