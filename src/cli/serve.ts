/**
 * `danekeeper serve` (DESIGN.md "The panel and the API (contract)", issue 10 item 1, issue 11):
 * the daemon. Reads flags and the config file, takes the one-serve-per-state lock, wires the
 * real world exactly as `run` does (src/cli/run.ts's RunDeps), hosts the JSON API and the panel
 * on the real services (./serve-web.ts), and turns signals into the daemon's stop and reload.
 * Everything it says goes to the JSON log on stdout; only a failure to start is the usual one
 * `danekeeper:` line on stderr.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { loadConfig, type ConfigFile } from '../config/config.js';
import { DkError } from '../core/errors.js';
import { holderGone, processHolder } from '../daemon/holder.js';
import { statePathFor } from '../store/path.js';
import { EXIT } from './exit.js';
import type { Io } from './io.js';
import { collect, parseHostPort } from './options.js';

interface Flags {
  listen?: string;
  config?: string;
  state?: string;
  resolver?: string[];
  tlsCert?: string;
  tlsKey?: string;
  passInterval?: string;
  logLevel?: string;
}

const DEFAULT_LISTEN = '127.0.0.1:8440';

function listenAddress(text: string): { host: string; port: number } {
  // port 0: the kernel picks one (tests); parseHostPort keeps ports 1-65535 for everyone else
  const zero = /^(.*):0$/.exec(text);
  const a = zero ? { ...parseHostPort(`${zero[1]!}:1`, 1), port: 0 } : parseHostPort(text, 8440);
  // an address, not a name: listening on a name would ask DNS at start-up and may bind to
  // whatever it resolves to
  if (isIP(a.host) === 0 && a.host !== 'localhost') {
    throw new DkError(
      'usage',
      'E_OPTION',
      `--listen "${text}" must be an IP address and port, e.g. 127.0.0.1:8440 or [::1]:8440`,
    );
  }
  return a;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** `90` (minutes), `30s`, `5m`, `12h`: from one second to a week. */
function duration(text: string): number {
  const m = /^([0-9]+)([smh]?)$/.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] || 'm']! : NaN;
  if (!(ms >= 1000 && ms <= 7 * 86_400_000)) {
    throw new DkError(
      'usage',
      'E_OPTION',
      `--pass-interval "${text}" must be minutes, or a number with s, m or h, from 1s to 168h`,
    );
  }
  return ms;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new DkError(
      'noinput',
      'E_SERVE_TLS',
      `Cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

async function serve(f: Flags): Promise<number> {
  const env = process.env;
  const { host, port } = listenAddress(f.listen ?? DEFAULT_LISTEN);
  const level = f.logLevel ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new DkError(
      'usage',
      'E_OPTION',
      `--log-level "${level}" must be debug, info, warn or error`,
    );
  }
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) {
    throw new DkError('usage', 'E_OPTION', '--tls-cert and --tls-key go together');
  }
  const intervalMs = f.passInterval === undefined ? 3_600_000 : duration(f.passInterval);
  const tls =
    f.tlsCert && f.tlsKey
      ? { cert: readPem(f.tlsCert, 'TLS certificate'), key: readPem(f.tlsKey, 'TLS key') }
      : undefined;
  let config: ConfigFile = loadConfig(f.config, env);
  const statePath = statePathFor(f.state, config, env, process.getuid?.() ?? 0);
  const [
    { createLogger },
    { acquireServeLock },
    { startDaemon },
    { openState },
    { openUsersStore },
    { withOverrides },
    run,
    web,
    net,
    { webFaces },
  ] = await Promise.all([
    import('../daemon/log.js'),
    import('../daemon/lock.js'),
    import('../daemon/daemon.js'),
    import('../store/state.js'),
    import('../store/users.js'),
    import('../daemon/settings.js'),
    import('./run.js'),
    import('../web/app.js'),
    import('../web/listen.js'),
    import('./serve-web.js'),
  ]);
  const holder = processHolder();
  const lock = acquireServeLock(statePath, holder);
  const log = createLogger({ level });
  // Signals from the start: a SIGTERM while starting up is kept and acted on once the daemon
  // runs, rather than killing the process by Node's default.
  const signals: { pending: NodeJS.Signals[]; handle: (s: NodeJS.Signals) => void } = {
    pending: [],
    handle: (s) => void signals.pending.push(s),
  };
  const onSignal = (s: NodeJS.Signals) => signals.handle(s);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onSignal);
  const unhook = () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onSignal);
  };
  let store;
  let users;
  try {
    store = openState(statePath);
    // the accounts, sessions, audit log and the admin's settings: same file, own handle
    users = openUsersStore(statePath);
  } catch (e) {
    store?.close();
    unhook();
    lock.release();
    throw e;
  }
  const theUsers = users;
  // what the world's pieces would print (a publisher's warning) goes to the log instead
  const logIo: Io = {
    out: (l) => log.info({ event: 'note' }, l),
    err: (l) => log.warn({ event: 'note' }, l.replace(/^danekeeper: /, '')),
    verbose: (l) => log.debug({ event: 'note' }, l),
    withVerbose: () => logIo,
  };
  const deps = run.processRunDeps();
  const theStore = store;
  // issue 11 item 3: what an admin set in the panel (daneEnabled, the confirmation interval)
  // overrides the INI file for every pass and status look, as it does for `run`
  const effective = () => withOverrides(config, theUsers.settings());
  const world = () =>
    deps.world({
      config: effective(),
      flags: {
        ...(f.config ? { config: f.config } : {}),
        ...(f.state ? { state: f.state } : {}),
        ...(f.resolver ? { resolver: f.resolver } : {}),
      },
      store: theStore,
      statePath,
      io: logIo,
      now: deps.now,
    });
  // listening first: a port in use is refused before any pass has started
  const started: { daemon?: Awaited<ReturnType<typeof startDaemon>> } = {};
  let server: Awaited<ReturnType<typeof net.listen>>;
  try {
    const faces = webFaces({
      config: () => config,
      ...(f.resolver ? { resolverFlags: f.resolver } : {}),
      state: theStore,
      users: theUsers,
      env,
      uid: process.getuid?.() ?? 0,
      secure: tls !== undefined,
      log,
      io: logIo,
      world,
      renew: (domain, by) => {
        if (!started.daemon) {
          throw new DkError(
            'tempfail',
            'E_SERVE_STARTING',
            'serve is starting: ask for the renewal again in a moment',
          );
        }
        started.daemon.requestRenewal(domain, 'renew', by);
      },
      lastOutcome: (domain) => started.daemon?.lastOutcome(domain),
      // daneEnabled off, a new confirmation interval: the next pass acts on it now
      settingsChanged: () => started.daemon?.scheduler.wake('pass'),
      // a new domain is issued now, a domain's DANE turned on publishes now
      domainChanged: () => started.daemon?.scheduler.wake('pass'),
    });
    server = await net.listen(
      web.daemonApp(
        {
          health: () => started.daemon?.health() ?? { ok: false, detail: { status: 'starting' } },
          metrics: () => started.daemon?.metrics.render() ?? '',
        },
        { ...faces, logger: log },
      ),
      host,
      port,
      tls,
    );
  } catch (e) {
    unhook();
    theUsers.close();
    store.close();
    lock.release();
    throw e;
  }
  log.info({ event: 'listening', listen: server.address }, `listening on ${server.address}`);
  // /metrics reads the monitor's open findings from the store per scrape, so they are true
  // from the first scrape after a restart, before this process has run a monitoring pass
  const { openMonitorStore } = await import('../store/monitor.js');
  const findingsStore = openMonitorStore(statePath);
  const d = await startDaemon({
    findings: () => findingsStore.findings({ open: true }),
    statePath,
    store: theStore,
    world,
    log,
    holder,
    holderGone,
    passIntervalMs: intervalMs,
  });
  started.daemon = d;
  // issue 10 item 2: F2's monitoring pass, on its own interval ([monitor] interval-minutes,
  // read at start), after the keep-secured pass when both are due
  const [{ openMonitorDeps, monitorIntervalMs }, { runMonitorPass }] = await Promise.all([
    import('../monitor/open.js'),
    import('../monitor/pass.js'),
  ]);
  d.scheduler.add(
    'monitor',
    async () => {
      const m = await openMonitorDeps({
        config,
        state: theStore,
        statePath,
        now: deps.now,
        ...(f.resolver ? { resolver: f.resolver } : {}),
      });
      const t0 = Date.now();
      try {
        const r = await runMonitorPass(m.deps);
        d.metrics.recordMonitor(new Date(), (Date.now() - t0) / 1000);
        log.info(
          {
            event: 'monitor',
            targets: r.targets.length,
            findings: r.findings.length,
            opened: r.opened.length,
            recovered: r.recovered.length,
            // the count only: a delivery error may quote a webhook URL, which can carry a token
            ...(r.notify?.errors.length ? { notifyErrors: r.notify.errors.length } : {}),
          },
          `monitored ${r.targets.length} domain(s): ${r.findings.length} open finding(s)`,
        );
      } finally {
        m.close();
      }
    },
    monitorIntervalMs(config),
  );
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // a second signal: leave now; every step is crash-safe, the next start carries on
        log.warn({ event: 'stopping', signal }, 'second signal: exiting at once');
        lock.release();
        process.exit(EXIT.interrupted);
      }
      stopping = true;
      log.info({ event: 'stopping', signal }, 'finishing the current step');
      // the listener first drains (requests in flight end and are answered) while the pass
      // finishes its step; only then are the stores closed under them
      void Promise.all([d.scheduler.stop(), server.close()])
        .then(() => d.stop())
        .then(
          () => {
            theUsers.close();
            findingsStore.close();
            unhook();
            lock.release();
            resolve(EXIT.ok);
          },
          (e: unknown) => {
            log.error({ event: 'stopping', error: { message: String(e) } }, 'stop failed');
            lock.release();
            resolve(EXIT.software);
          },
        );
    };
    const reload = () => {
      try {
        config = loadConfig(f.config, env);
        log.info({ event: 'reloaded', config: config.path }, 'configuration re-read');
        // the next pass builds its world from it; the listener stays where it is
        d.scheduler.wake('pass');
      } catch (e) {
        const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
        log.error(
          {
            event: 'reload-failed',
            error: { code: (e as DkError).code ?? 'E_CONFIG', message: msg },
          },
          'configuration not re-read; keeping the previous one',
        );
      }
    };
    signals.handle = (s) => (s === 'SIGHUP' ? reload() : stop(s));
    for (const s of signals.pending.splice(0)) signals.handle(s);
  });
}

export function registerServe(
  program: Command,
  _io: Io,
  setExit: (p: Promise<number>) => void,
): Command {
  return program
    .command('serve')
    .description(
      'The daemon: keep-secured passes on a schedule (at each deadline the planner reports, and regularly), the panel at /, the JSON API at /api/v1/ (OpenAPI at /api/openapi.json), /healthz and /metrics; JSON log on stdout',
    )
    .option('--listen <addr:port>', `HTTP listener (default ${DEFAULT_LISTEN})`)
    .option(
      '--config <file>',
      'config file (default $DANEKEEPER_CONFIG or /etc/danekeeper/danekeeper.ini); SIGHUP re-reads it',
    )
    .option(
      '--state <file>',
      'state database (default [store] path, else /var/lib/danekeeper/state.db for root)',
    )
    .option('--resolver <ip[:port]>', 'validating resolver; repeatable', collect)
    .option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM)')
    .option('--tls-key <file>', 'the key of --tls-cert (PEM)')
    .option(
      '--pass-interval <duration>',
      'regular pass: minutes, or 30s, 5m, 12h; plus up to 10 % jitter (default 60)',
    )
    .option('--log-level <level>', 'debug, info, warn or error (default info)')
    .action((f: Flags) => setExit(serve(f)));
}
