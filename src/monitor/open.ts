/**
 * Everything a monitor pass needs, from the config file: the resolver (`[dns] resolver`, else
 * resolv.conf) proven to validate or not, the STARTTLS probe, the monitor store beside the
 * state database, `[monitor]` and `[notify]`. For `watch check` and for `serve`'s scheduler:
 *
 *   const m = await openMonitorDeps({ config, state, statePath, now: () => new Date() });
 *   try { const r = await runMonitorPass(m.deps); ... } finally { m.close(); }
 */
import type { ConfigFile } from '../config/config.js';
import { openResolver, proveValidating } from '../io/dns/index.js';
import { probe } from '../io/probe/index.js';
import { monitorSettings, notifySettings } from '../notify/settings.js';
import { openMonitorStore, type MonitorStore } from '../store/monitor.js';
import type { StateStore } from '../store/state.js';
import type { MonitorDeps } from './pass.js';

export interface OpenMonitorOptions {
  config: ConfigFile;
  /** the open state database (managed domains, event log, rollover state) */
  state: Pick<StateStore, 'domains' | 'events' | 'rollover'>;
  /** its file: the monitor's tables are in the same database */
  statePath: string;
  now: () => Date;
  /** --resolver flags; default `[dns] resolver`, else resolv.conf */
  resolver?: string[];
  /** false: findings are stored, nobody is told (`watch check --no-notify`) */
  notify?: boolean;
  /** per network step, ms; default 10 s */
  timeoutMs?: number;
  /** an open monitor store to use instead of opening one at statePath */
  monitor?: MonitorStore;
}

/** The `[monitor] interval-minutes` a scheduler runs passes at; default 15 minutes. */
export function monitorIntervalMs(config: Pick<ConfigFile, 'monitor'>): number {
  return (config.monitor['interval-minutes'] ?? 15) * 60_000;
}

export async function openMonitorDeps(
  o: OpenMonitorOptions,
): Promise<{ deps: MonitorDeps; close(): void }> {
  // the secret file is read (and a readable one refused) before any network work
  const notify = o.notify === false ? undefined : notifySettings(o.config);
  const resolver = await openResolver(o.resolver ?? [], o.config.dns.resolver);
  const validating = await proveValidating(resolver);
  const own = o.monitor === undefined;
  const monitor = o.monitor ?? openMonitorStore(o.statePath);
  return {
    deps: {
      state: o.state,
      monitor,
      resolver,
      validating,
      probe,
      now: o.now,
      settings: {
        ...monitorSettings(o.config),
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      },
      ...(notify ? { notify } : {}),
    },
    close: () => {
      if (own) monitor.close();
    },
  };
}
