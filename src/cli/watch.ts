/**
 * `danekeeper watch`: domains monitored without being managed (customers', partners'), and one
 * monitor pass from the command line (issue 10). The shape follows `domain`:
 *
 *   danekeeper watch DOMAIN              (= watch add DOMAIN) monitor only, never managed
 *   danekeeper watch list [--json]
 *   danekeeper watch remove DOMAIN
 *   danekeeper watch check [DOMAIN] [--json] [--resolver IP] [--no-notify]
 *       one monitor pass over every managed and watched domain (or one): findings stored with
 *       first/last seen, notifications sent per [notify]; exit 0 OK, 1 WARNING, 2 CRITICAL,
 *       3 UNKNOWN (a domain could not be looked at), as `check`.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig, type ConfigFile } from '../config/config.js';
import { DkError } from '../core/errors.js';
import type { MonitorResult } from '../monitor/pass.js';
import { memoryMonitorStore, openMonitorStore, type MonitorStore } from '../store/monitor.js';
import { statePathFor } from '../store/path.js';
import { memoryState, openState, type StateStore } from '../store/state.js';
import { parseDomainName } from './domain.js';
import { EXIT } from './exit.js';
import type { Io } from './io.js';
import { collect, parseIntOption } from './options.js';

interface Flags {
  config?: string;
  state?: string;
  json?: boolean;
  resolver?: string[];
  notify?: boolean;
  timeout?: string;
}

export interface WatchDeps {
  env: NodeJS.ProcessEnv;
  uid: number;
  now: () => Date;
}

const processDeps = (): WatchDeps => ({
  env: process.env,
  uid: process.getuid?.() ?? 0,
  now: () => new Date(),
});

function statePath(f: Flags, config: ConfigFile, deps: WatchDeps): string {
  return statePathFor(f.state, config, deps.env, deps.uid);
}

/** `read`: a database that does not exist yet is not created by list. */
function openMonitor(f: Flags, config: ConfigFile, deps: WatchDeps, read = false): MonitorStore {
  const path = statePath(f, config, deps);
  if (read && !existsSync(path)) return memoryMonitorStore();
  return openMonitorStore(path);
}

function openStateFor(f: Flags, config: ConfigFile, deps: WatchDeps): StateStore {
  const path = statePath(f, config, deps);
  return existsSync(path) ? openState(path) : memoryState();
}

export function runWatchAdd(name: string, f: Flags, io: Io, deps: WatchDeps): number {
  const domain = parseDomainName(name);
  const config = loadConfig(f.config, deps.env);
  const m = openMonitor(f, config, deps);
  try {
    const added = m.watch(domain, deps.now());
    io.out(
      added
        ? `Watching ${domain} (monitor only); "danekeeper watch check" looks at it now`
        : `${domain} is watched already`,
    );
    return EXIT.ok;
  } finally {
    m.close();
  }
}

export function runWatchList(f: Flags, io: Io, deps: WatchDeps): number {
  const config = loadConfig(f.config, deps.env);
  const m = openMonitor(f, config, deps, true);
  try {
    const open = m.findings({ open: true });
    const list = m.watched().map((w) => ({
      name: w.name,
      addedAt: w.addedAt,
      openFindings: open.filter((x) => x.domain === w.name).length,
    }));
    if (f.json) io.out(JSON.stringify({ watched: list }, null, 2));
    else if (list.length === 0)
      io.out('No watched domains; add one with "danekeeper watch DOMAIN"');
    else
      for (const w of list)
        io.out(`${w.name}  watched since ${w.addedAt}, ${w.openFindings} open finding(s)`);
    return EXIT.ok;
  } finally {
    m.close();
  }
}

export function runWatchRemove(name: string, f: Flags, io: Io, deps: WatchDeps): number {
  const domain = parseDomainName(name);
  const config = loadConfig(f.config, deps.env);
  const m = openMonitor(f, config, deps);
  try {
    if (!m.unwatch(domain)) {
      throw new DkError(
        'usage',
        'E_WATCH_UNKNOWN',
        `${domain} is not watched ("danekeeper watch list" shows what is)`,
      );
    }
    io.out(`Stopped watching ${domain}; its findings are forgotten`);
    return EXIT.ok;
  } finally {
    m.close();
  }
}

/** The monitoring-plugin status of a pass: CRITICAL > WARNING > UNKNOWN (not looked) > OK. */
export function passStatus(r: MonitorResult): number {
  if (r.findings.some((x) => x.severity === 'critical')) return EXIT.critical;
  if (r.findings.some((x) => x.severity === 'warning')) return EXIT.warning;
  if (r.targets.some((t) => t.verdict === null)) return EXIT.unknown;
  return EXIT.ok;
}

export function printPass(r: MonitorResult, io: Io): void {
  if (r.targets.length === 0) {
    io.out(
      'Nothing to monitor: no managed domains and no watched ones ("danekeeper watch DOMAIN")',
    );
    return;
  }
  for (const t of r.targets) {
    const what = t.verdict === null ? `NOT CHECKED: ${t.error ?? ''}` : t.verdict.toUpperCase();
    io.out(`${t.domain} (${t.source}): ${what}`);
    for (const f of r.findings.filter((x) => x.domain === t.domain)) {
      const isNew = r.opened.some((o) => o.key === f.key) ? ' (new)' : '';
      io.out(`  ${f.severity.toUpperCase()} ${f.code} ${f.subject}${isNew}: ${f.message}`);
      io.out(`      first seen ${f.firstSeen}, last seen ${f.lastSeen}`);
      if (f.fix) io.out(`      fix: ${f.fix}`);
    }
    for (const f of r.recovered.filter((x) => x.domain === t.domain)) {
      io.out(`  RECOVERED ${f.code} ${f.subject} (seen ${f.firstSeen} to ${f.lastSeen})`);
    }
  }
  if (r.notify?.configured) {
    const n = r.notify;
    if (n.notices.length === 0) io.out('Notifications: nothing new to send');
    else if (n.delivered.length > 0)
      io.out(`Notifications: ${n.notices.length} notice(s) sent by ${n.delivered.join(' and ')}`);
  }
}

export async function runWatchCheck(
  domain: string | undefined,
  f: Flags,
  io: Io,
  deps: WatchDeps,
): Promise<number> {
  const only = domain === undefined ? undefined : parseDomainName(domain);
  const config = loadConfig(f.config, deps.env);
  const timeout = parseIntOption('--timeout', f.timeout, 1, 600) ?? 10;
  const [{ runMonitorPass }, { openMonitorDeps }] = await Promise.all([
    import('../monitor/pass.js'),
    import('../monitor/open.js'),
  ]);
  const state = openStateFor(f, config, deps);
  const store = openMonitor(f, config, deps);
  try {
    if (
      only !== undefined &&
      !state.domains.get(only) &&
      !store.watched().some((w) => w.name === only)
    ) {
      throw new DkError(
        'usage',
        'E_WATCH_UNKNOWN',
        `${only} is neither managed nor watched (add it with "danekeeper watch ${only}")`,
      );
    }
    const m = await openMonitorDeps({
      monitor: store,
      config,
      state,
      statePath: statePath(f, config, deps),
      now: deps.now,
      ...(f.resolver ? { resolver: f.resolver } : {}),
      notify: f.notify !== false,
      timeoutMs: timeout * 1000,
    });
    try {
      if (!m.deps.validating.validating && !f.json) {
        io.err(`danekeeper: ${m.deps.validating.summary}`);
      }
      const r = await runMonitorPass({ ...m.deps, ...(only !== undefined ? { only } : {}) });
      if (f.json) io.out(JSON.stringify(r, null, 2));
      else printPass(r, io);
      for (const e of r.notify?.errors ?? []) io.err(`danekeeper: ${e}`);
      return passStatus(r);
    } finally {
      m.close();
    }
  } finally {
    store.close();
    state.close();
  }
}

export function registerWatch(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
  deps: WatchDeps = processDeps(),
): Command {
  const common = (c: Command, json = false) => {
    c.option(
      '--config <file>',
      'config file (default $DANEKEEPER_CONFIG or /etc/danekeeper/danekeeper.ini)',
    ).option(
      '--state <file>',
      'state database (default [store] path, else /var/lib/danekeeper/state.db for root)',
    );
    if (json) c.option('--json', 'machine-readable output');
    return c;
  };
  const watch = program
    .command('watch')
    .description('Monitor domains: watch DOMAIN (monitor only), list, remove, check');
  const add = watch
    .command('add', { isDefault: true })
    .description('Watch a domain (monitor only, never managed); "watch DOMAIN" does the same')
    .argument('<domain>', 'e.g. partner.example');
  common(add).action((name: string, o: Flags) =>
    setExit(Promise.resolve().then(() => runWatchAdd(name, o, io, deps))),
  );
  const list = watch.command('list').description('The watched domains');
  common(list, true).action((o: Flags) =>
    setExit(Promise.resolve().then(() => runWatchList(o, io, deps))),
  );
  const remove = watch.command('remove').description('Stop watching a domain').argument('<domain>');
  common(remove).action((name: string, o: Flags) =>
    setExit(Promise.resolve().then(() => runWatchRemove(name, o, io, deps))),
  );
  const check = watch
    .command('check')
    .description(
      'One monitor pass over every managed and watched domain (or DOMAIN): findings stored, notifications sent',
    )
    .argument('[domain]', 'only this managed or watched domain')
    .option(
      '--resolver <ip[:port]>',
      'validating resolver; repeatable (default: resolver = in [dns], else resolv.conf)',
      collect,
    )
    .option('--timeout <s>', 'seconds to wait for each network step', '10')
    .option('--no-notify', 'store the findings, send no notification');
  common(check, true).action((name: string | undefined, o: Flags) =>
    setExit(runWatchCheck(name, o, io, deps)),
  );
  for (const c of [watch, add, list, remove, check]) c.exitOverride();
  return watch;
}
