/**
 * `danekeeper serve` without the command line (issue 10 items 1 and 4): the scheduler running
 * keep-secured passes (src/daemon/pass.ts) over one open state database, the metrics they
 * leave and the store's health. The HTTP face (src/web/) reads `health()` and `metrics`; the
 * CLI (src/cli/serve.ts) reads flags and config, builds the world, takes the lock, listens and
 * handles signals. This module never reads the environment itself.
 *
 * Stopping: `stop()` asks the running pass to stop after its current step. The pass checks
 * before each observation, so an action that has started (an ACME order, an install with its
 * reload and probe) runs to its end and is recorded; the next observation is refused, the
 * domain's lease released, and nothing is left half-done (the pass persists each intent before
 * its side effect, so even a kill -9 here would be carried on by the next start).
 */
import { statSync } from 'node:fs';
import { DkError, isDkError } from '../core/errors.js';
import type { Observations, RolloverPolicy, RolloverState } from '../core/rollover/index.js';
import type { Domain } from '../store/domains.js';
import type { StateStore } from '../store/state.js';
import type { Logger } from './log.js';
import {
  DaemonMetrics,
  type MetricFinding,
  domainFacts,
  restingFacts,
  type DomainFacts,
} from './metrics.js';
import type { LastOutcome } from './list-status.js';
import { runPass, type DomainOutcome, type DomainWorld, type Request } from './pass.js';
import { mergeOutcomes, passQueued } from './queued.js';
import { Scheduler } from './scheduler.js';

export interface DaemonOptions {
  statePath: string;
  store: StateStore;
  /** the world of one pass, from the configuration as it is now (SIGHUP may have changed it) */
  world: () => Promise<DomainWorld>;
  log: Logger;
  now?: () => Date;
  holder: string;
  holderGone?: (holder: string) => boolean;
  /** the regular pass, whatever the planner's deadlines say. Default 1 h */
  passIntervalMs?: number;
  /** default a tenth of the interval */
  jitterMs?: number;
  /** a deadline reported by the planner runs no sooner than this after a pass. Default 1 s */
  minDelayMs?: number;
  /** the monitor's open findings (F2's MonitorStore.findings({ open: true })), read per scrape */
  findings?: () => MetricFinding[];
}

export interface Health {
  ok: boolean;
  /** for the /healthz body; never a secret */
  detail: Record<string, unknown>;
}

export interface Daemon {
  readonly scheduler: Scheduler;
  readonly metrics: DaemonMetrics;
  /** whether the store is readable now */
  health(): Health;
  /**
   * Asks for `request` on `domain` (the API's and the panel's renew): a row in the state
   * database's renew_requests (src/store/requests.ts) for the next pass, which is woken to run
   * now rather than at its interval. The pass hands it to the planner exactly as `danekeeper
   * renew --force` / `--rotate-key` does (runPass's request) and removes the row in the
   * transaction that saves the state carrying it, so a restart or a kill -9 loses nothing and
   * repeats nothing. A request for a domain another process holds stays for the pass after.
   * `by` is who asked (the audit log's actor).
   */
  requestRenewal(domain: string, request?: Request, by?: string): void;
  /** the last pass's outcome for the domain since this start (the list's status, list-status.ts) */
  lastOutcome(domain: string): LastOutcome | undefined;
  /** the requests not yet taken by a pass */
  queuedRequests(): { domain: string; request: Request }[];
  /** finishes the current step and closes the store */
  stop(): Promise<void>;
}

const STOPPING = 'E_SERVE_STOPPING';

function outcomeLog(log: Logger, r: DomainOutcome): void {
  const fields = {
    event: 'domain',
    domain: r.domain,
    result: r.result,
    phase: r.phase,
    waitingFor: r.waitingFor,
    until: r.until,
    actions: r.actions,
    ...(r.error ? { error: r.error } : {}),
  };
  if (r.result === 'failed') log.error(fields, r.detail);
  else if (r.result === 'busy' || r.result === 'stopped') log.warn(fields, r.detail);
  else log.info(fields, r.detail);
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const now = o.now ?? (() => new Date());
  const { store, log } = o;
  const metrics = new DaemonMetrics(o.findings);
  let lastPass: string | null = null;
  const lastOutcomes = new Map<string, LastOutcome>();

  const passJob = async ({ signal }: { signal: AbortSignal }): Promise<Date | null> => {
    const t0 = now();
    const world = await o.world();
    const seen = new Map<
      string,
      {
        state: RolloverState | null;
        obs: Omit<Observations, 'request'>;
        policy: RolloverPolicy;
        start: number;
        end: number;
      }
    >();
    const touch = (d: Domain) => {
      const s = seen.get(d.name);
      if (s) s.end = now().getTime();
    };
    // The pass asks for an observation before every step: the place to stop between steps.
    const watched: DomainWorld = {
      policy: (d) => world.policy(d),
      // B's DNS-01 leftover sweep (pass.ts): a world without one has nothing to sweep
      ...(world.sweep ? { sweep: (d: Domain) => world.sweep!(d) } : {}),
      async observe(d, state, policy, opts) {
        if (signal.aborted) {
          throw new DkError(
            'tempfail',
            STOPPING,
            'serve is stopping; the next start carries on from here',
          );
        }
        const start = seen.get(d.name)?.start ?? now().getTime();
        const obs = await world.observe(d, state, policy, opts);
        seen.set(d.name, { state, obs, policy, start, end: now().getTime() });
        return obs;
      },
      async execute(d, action, state, policy) {
        // one line as a step starts and one as it ends: a stop asked in between shows as
        // `stopping` between the two, and the step still ends
        log.info({ event: 'step', domain: d.name, action: action.kind, at: 'start' }, action.kind);
        try {
          await world.execute(d, action, state, policy);
          log.info({ event: 'step', domain: d.name, action: action.kind, at: 'done' }, action.kind);
        } catch (e) {
          const code = isDkError(e) ? e.code : 'E_INTERNAL';
          log.info(
            { event: 'step', domain: d.name, action: action.kind, at: 'failed', error: { code } },
            action.kind,
          );
          throw e;
        } finally {
          touch(d);
        }
      },
      close: () => world.close?.() ?? Promise.resolve(),
    };
    const common = {
      store,
      now,
      holder: o.holder,
      ...(o.holderGone ? { holderGone: o.holderGone } : {}),
    };
    // The requests first, each as `renew DOMAIN --force` runs it (runPass with its request:
    // a domain at rest is then observed, and the planner remembers the request); the world
    // stays open for the regular pass that follows and closes it. A stop asked meanwhile
    // leaves the rest of the rows for the next start.
    const queued = await passQueued(common, watched, () => signal.aborted);
    for (const { row, outcome, error } of queued) {
      const { domain, request } = row;
      if (error) {
        log.warn(
          { event: 'renew-request', domain, request, error: { code: error.code } },
          error.message,
        );
        continue;
      }
      log.info(
        {
          event: 'renew-request',
          domain,
          request,
          result: outcome?.result ?? null,
          actions: outcome?.actions ?? [],
        },
        `${request} request for ${domain} handed to the pass`,
      );
    }
    const regular = await runPass({ ...common, world: watched });
    const outcomes = mergeOutcomes(queued, regular);
    const end = now();
    const facts: DomainFacts[] = [];
    for (const r of outcomes) {
      if (r.error?.code === STOPPING) {
        log.info({ event: 'domain', domain: r.domain, result: 'interrupted' }, r.detail);
        continue;
      }
      outcomeLog(log, r);
      const s = seen.get(r.domain);
      if (!s) {
        // a domain at rest (rest.ts) is not observed: its facts are the stored state's, and
        // the live chains stay as last observed (none yet after a restart: no claim is made)
        if (r.result === 'failed' || r.result === 'busy') continue;
        try {
          const stored = store.rollover.read(r.domain)?.state as RolloverState | null | undefined;
          facts.push(restingFacts(r, stored ?? null, metrics.facts(r.domain), end));
        } catch (e) {
          if (!isDkError(e)) throw e;
          log.warn({ event: 'metrics', domain: r.domain, error: { code: e.code } }, e.message);
        }
        continue;
      }
      try {
        // the state the pass left (persisted), with the last observation it made
        const stored = store.rollover.read(r.domain)?.state as RolloverState | null | undefined;
        facts.push({
          domain: r.domain,
          ...domainFacts(stored ?? s.state, s.obs, s.policy, end),
          lastPassAt: Math.floor(s.end / 1000),
          lastPassSeconds: (s.end - s.start) / 1000,
          atRest: false,
        });
      } catch (e) {
        if (!isDkError(e)) throw e;
        log.warn({ event: 'metrics', domain: r.domain, error: { code: e.code } }, e.message);
      }
    }
    const seconds = (end.getTime() - t0.getTime()) / 1000;
    metrics.recordPass({
      endedAt: end,
      seconds,
      facts,
      outcomes: outcomes.filter((r) => r.error?.code !== STOPPING),
      managed: store.domains.list().map((d) => d.name),
    });
    lastPass = end.toISOString();
    for (const r of outcomes) {
      if (r.error?.code !== STOPPING) lastOutcomes.set(r.domain, { outcome: r, at: lastPass });
    }
    const untils = outcomes
      .filter((r) => r.error?.code !== STOPPING)
      .map((r) => (r.until ? Date.parse(r.until) : NaN))
      .filter((t) => Number.isFinite(t));
    const next = untils.length ? new Date(Math.min(...untils)) : null;
    log.info(
      {
        event: 'pass',
        domains: outcomes.length,
        seconds,
        ...(next ? { nextDeadline: next.toISOString() } : {}),
      },
      `pass over ${outcomes.length} domain(s) took ${seconds.toFixed(1)} s`,
    );
    return next;
  };

  const interval = o.passIntervalMs ?? 3_600_000;
  const scheduler = new Scheduler({
    minDelayMs: o.minDelayMs ?? 1000,
    onError: (name, e) => {
      const code = isDkError(e) ? e.code : 'E_INTERNAL';
      const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      metrics.countFailure('', code);
      log.error({ event: 'job-failed', job: name, error: { code, message } }, `${name} failed`);
    },
    onRun: (name, i) =>
      log.debug({ event: 'job', job: name, next: new Date(i.next).toISOString() }, `${name} done`),
  });
  scheduler.add('pass', passJob, interval, { jitterMs: o.jitterMs ?? Math.round(interval / 10) });

  const health = (): Health => {
    try {
      // the file itself, not just the open handle: a deleted or unmounted file is a fault
      statSync(o.statePath);
      const n = store.domains.list().length;
      return {
        ok: true,
        detail: { store: o.statePath, domains: n, lastPass, running: scheduler.running() },
      };
    } catch (e) {
      const err = isDkError(e)
        ? { code: e.code, message: e.message }
        : { code: 'E_STORE_UNREADABLE', message: `State database ${o.statePath} is not readable` };
      return { ok: false, detail: { store: o.statePath, error: err } };
    }
  };
  scheduler.start();
  log.info(
    { event: 'started', state: o.statePath, passIntervalMs: interval },
    `keep-secured passes on ${o.statePath}`,
  );
  let stopped: Promise<void> | null = null;
  return {
    scheduler,
    metrics,
    health,
    requestRenewal(domain, request = 'renew', by = 'api') {
      store.requests.ask(domain, request, by, now());
      scheduler.wake('pass');
    },
    lastOutcome: (domain) => lastOutcomes.get(domain),
    queuedRequests: () => store.requests.list().map(({ domain, request }) => ({ domain, request })),
    stop: () =>
      (stopped ??= (async () => {
        await scheduler.stop();
        try {
          const left = store.requests.list();
          if (left.length > 0) {
            log.info(
              { event: 'renew-kept', domains: left.map((r) => r.domain) },
              'renew requests not yet taken are kept: the next start carries them out',
            );
          }
        } catch (e) {
          if (!isDkError(e)) throw e;
        }
        store.close();
        log.info({ event: 'stopped' }, 'stopped');
      })()),
  };
}
