/**
 * The keep-secured loop in miniature, for tests: observe -> plan -> persist -> act, as the daemon
 * will do it, against a World. The state goes through JSON at every persist, as the store keeps it.
 */
import { DkError } from '../../errors.js';
import { plan, recordFailure } from '../plan.js';
import type { Decision, Observations, RolloverPolicy, RolloverState } from '../types.js';
import type { World } from './world.js';

export interface Step {
  decision: Decision;
  /** the state persisted before the action ran */
  persisted: RolloverState;
}

export function persist(s: RolloverState): RolloverState {
  return JSON.parse(JSON.stringify(s)) as RolloverState;
}

/** One plan and, for an action, its side effect (a failure is recorded as the daemon would). */
export function step(
  w: World,
  s: RolloverState | null,
  policy: RolloverPolicy,
  opts: { random?: number; request?: Observations['request']; crash?: 'before' | 'after' } = {},
): { state: RolloverState; decision: Decision } {
  const d = plan(s, w.observe(opts.random ?? 0.5, opts.request ?? null), w.iso(), policy);
  let st = persist(d.state);
  if (d.kind === 'act' && opts.crash !== 'before') {
    const r = w.act(d.action);
    if (!r.ok && opts.crash !== 'after') st = persist(recordFailure(st, r, w.iso(), policy));
  }
  return { state: st, decision: d };
}

/**
 * One pass: act until the planner waits or is idle (at most `max` actions), stopping after a
 * failure as the daemon does.
 */
export function pass(
  w: World,
  s: RolloverState | null,
  policy: RolloverPolicy,
  opts: { random?: number; request?: Observations['request']; max?: number } = {},
): { state: RolloverState; decisions: Decision[] } {
  const decisions: Decision[] = [];
  let st = s;
  let request = opts.request ?? null;
  for (let i = 0; i < (opts.max ?? 20); i++) {
    const r = step(w, st, policy, { random: opts.random ?? 0.5, request });
    request = null;
    decisions.push(r.decision);
    st = r.state;
    if (r.decision.kind !== 'act' || st.failure?.at === w.iso()) break;
  }
  return { state: st!, decisions };
}

/**
 * Passes until idle, moving the clock to each wait's end (or `poll` ms when the wait names no
 * end) and letting every server catch up. Returns every decision.
 */
export function untilIdle(
  w: World,
  s: RolloverState | null,
  policy: RolloverPolicy,
  opts: { poll?: number; maxPasses?: number; request?: Observations['request'] } = {},
): { state: RolloverState; decisions: Decision[] } {
  const all: Decision[] = [];
  let st = s;
  let request = opts.request ?? null;
  for (let i = 0; i < (opts.maxPasses ?? 50); i++) {
    const p = pass(w, st, policy, { request });
    request = null;
    all.push(...p.decisions);
    st = p.state;
    const last = p.decisions[p.decisions.length - 1]!;
    if (last.kind === 'idle') return { state: st, decisions: all };
    const until = last.kind === 'wait' && last.until ? Date.parse(last.until) : NaN;
    w.advance(Number.isFinite(until) && until > w.now ? until - w.now : (opts.poll ?? 600_000));
    w.sync();
  }
  throw new DkError('internal', 'E_ROLLOVER_RESTLESS', 'The planner did not come to rest');
}
