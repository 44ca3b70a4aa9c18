/**
 * `danekeeper run`, `status` and `renew` (DESIGN.md "Command-line contract, automatic path",
 * issue 9): the keep-secured pass over the managed domains, what each one is doing, and a
 * renewal asked for now. The pass itself is src/daemon/pass.ts; this file only reads the
 * configuration, wires the real world and prints. No secret reaches any output.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  acmeDirectoryUrl,
  daneEnabled,
  loadConfig,
  readSecret,
  type ConfigFile,
} from '../config/config.js';
import { DkError } from '../core/errors.js';
import type { DomainOutcome, DomainWorld, Request } from '../daemon/pass.js';
import type { DomainStatus } from '../daemon/status.js';
import type { Observations } from '../core/rollover/index.js';
import type { Domain } from '../store/domains.js';
import { holderGone, processHolder as holder } from '../daemon/holder.js';
import { runningServe } from '../daemon/serve-holder.js';
import { hostName } from '../store/guard.js';
import { withStoredSettings } from '../daemon/settings.js';
import { statePathFor } from '../store/path.js';
import { openState, type StateStore } from '../store/state.js';
import { EXIT } from './exit.js';
import type { Io } from './io.js';
import { collect } from './options.js';

interface Flags {
  config?: string;
  state?: string;
  resolver?: string[];
  json?: boolean;
}

export interface RunDeps {
  env: NodeJS.ProcessEnv;
  uid: number;
  now: () => Date;
  /** the real world of the pass (DNS, probe, ACME, deploy); a fake in tests */
  world: (o: {
    config: ConfigFile;
    flags: Flags;
    store: StateStore;
    statePath: string;
    io: Io;
    now: () => Date;
  }) => Promise<DomainWorld>;
}

/**
 * [acme] ca-file (the private CA's root, for a test CA such as Pebble): a file that cannot be
 * read is the operator's configuration (exit 78, one line naming it), not a crash.
 */
export function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new DkError(
      'config',
      'E_CONFIG_CA_FILE',
      `Cannot read [acme] ca-file ${path} (${code}): fix the path or remove the setting`,
    );
  }
}

/** The wiring of src/daemon/world.ts from the config file (loaded only when a pass runs). */
async function realWorld(o: Parameters<RunDeps['world']>[0]): Promise<DomainWorld> {
  const [{ RealWorld }, dnsIo, probeIo, acmeIo, dnsCli, dns01] = await Promise.all([
    import('../daemon/world.js'),
    import('../io/dns/index.js'),
    import('../io/probe/index.js'),
    import('../io/acme/index.js'),
    import('./dns.js'),
    import('../publish/acme-dns01.js'),
  ]);
  const { openPublisher } = await import('../publish/backend.js');
  const { absName } = await import('../publish/tlsa-set.js');
  const { config, flags, io, env } = { ...o, env: process.env };
  const resolver = await dnsIo.openResolver(flags.resolver, config.dns.resolver);
  // `zone`: the zone that holds a TLSA owner (world.ts finds it by the closest enclosing SOA);
  // a configured `[dns] zone` still names the one zone the backend serves.
  const publisher = (d: Domain, zone?: string) => {
    if (!config.dns.backend) return null;
    const ctx = dnsCli.contextFor(
      { ...(flags.config ? { config: flags.config } : {}) },
      env,
      false,
    );
    const z = absName(config.dns.zone ?? zone ?? d.name);
    return openPublisher(dnsCli.backendSettings({}, { ...ctx, zone: z }, io), (w) =>
      io.err(`danekeeper: ${w}`),
    );
  };
  const a = config.acme;
  const directory = acmeDirectoryUrl(a);
  const eabKey = readSecret(a['eab-hmac-key-file'], 'DANEKEEPER_EAB_HMAC_KEY', env, 'EAB key');
  const accountFile = join(
    dirname(o.statePath),
    `acme-account-${createHash('sha256').update(directory).digest('hex').slice(0, 12)}.json`,
  );
  return new RealWorld({
    store: o.store,
    now: o.now,
    publisher,
    resolver,
    probe: probeIo.probe,
    confirmationIntervalHours: config['ext-sslit']['dane-confirmation-interval-in-hours'] ?? 24,
    ...(config.run['retry-seconds'] !== undefined
      ? { backoffBaseSeconds: config.run['retry-seconds'] }
      : {}),
    ...(config.run['verify-grace-seconds'] !== undefined
      ? { verifyGraceSeconds: config.run['verify-grace-seconds'] }
      : {}),
    daneEnabled: daneEnabled(config),
    // [run] reload: for a domain added without its own (the panel, the API)
    ...(config.run.reload ? { defaultReload: config.run.reload } : {}),
    acme: {
      directory,
      accountFile,
      ...(a.email ? { email: a.email } : {}),
      ...(a['ca-file'] ? { ca: readCaFile(a['ca-file']) } : {}),
      ...(a['eab-kid'] && eabKey
        ? { eab: { kid: a['eab-kid'], hmacKey: eabKey.value.trim() } }
        : {}),
      ...(a.profile ? { profile: a.profile } : {}),
    },
    solver: (d) => {
      const challenge = d.challenge ?? a.challenge ?? 'http-01';
      if (challenge === 'dns-01') {
        const pub = publisher(d);
        if (!pub) {
          throw new DkError(
            'config',
            'E_DAEMON_NO_BACKEND',
            `${d.name} uses dns-01, which needs a [dns] backend`,
          );
        }
        // the store records each challenge value, so a run killed before cleanup is swept by the next
        return new dns01.Dns01Solver({ publisher: pub, resolver, store: o.store.txt });
      }
      return a.webroot
        ? new acmeIo.WebrootSolver(a.webroot)
        : new acmeIo.HttpListenerSolver(a['http-listen'] ?? '0.0.0.0:80');
    },
  });
}

export const processRunDeps = (): RunDeps => ({
  env: process.env,
  uid: process.getuid?.() ?? 0,
  now: () => new Date(),
  world: realWorld,
});

function open(f: Flags, deps: RunDeps, read = false) {
  const config = loadConfig(f.config, deps.env);
  const statePath = statePathFor(f.state, config, deps.env, deps.uid);
  if (read && !existsSync(statePath)) {
    throw new DkError(
      'noinput',
      'E_DOMAIN_NONE',
      `No managed domains yet (${statePath} does not exist): danekeeper domain add DOMAIN`,
    );
  }
  // issue 11: an admin's settings in the panel (daneEnabled, the confirmation interval)
  // override the INI file for the pass too (src/daemon/settings.ts, the API's own merge)
  return { config: withStoredSettings(config, statePath), statePath, store: openState(statePath) };
}

/**
 * The world as `run` and `renew` use it: a plain `renew DOMAIN` handed to the planner as its
 * 'retry' request (once), and the reasons the world gave (OwnerDns.readError) why a domain's
 * DNS backend could not be read at its last observation: the planner waits for the backend
 * only when that is what stands in the way, but a rollover that goes on meanwhile will need it.
 */
function wrapWorld(
  world: DomainWorld,
  retry?: string,
): { world: DomainWorld; unreadable: Map<string, string[]> } {
  let retryFor = retry;
  const unreadable = new Map<string, string[]>();
  const wrapped = new Proxy(world, {
    get(target, prop, receiver) {
      if (prop === 'observe') {
        return async (...a: Parameters<DomainWorld['observe']>) => {
          const obs: Observations = await target.observe(...a);
          const why = [
            ...new Set(
              Object.entries(obs.dns).flatMap(([o, x]) =>
                x.readError === undefined ? [] : [`${o} (${x.readError})`],
              ),
            ),
          ];
          if (why.length > 0) unreadable.set(a[0].name, why);
          else unreadable.delete(a[0].name);
          // handed over once (the pass hands over --force and --rotate-key itself, and passes
          // the observations on as they are)
          if (retryFor !== a[0].name) return obs;
          retryFor = undefined;
          return { ...obs, request: 'retry' };
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { world: wrapped, unreadable };
}

/**
 * A domain in trouble makes `run` exit EX_TEMPFAIL (75), so cron and systemd show it until it is
 * over: a step failed now, a failure is still being backed off (the next attempt is later), or
 * the DNS backend cannot be read (nothing can be published or removed). The state is safe in
 * each case (DESIGN.md "The one invariant"); the next run tries again by itself.
 */
function troubled(r: DomainOutcome): boolean {
  return (
    r.result === 'failed' ||
    (r.result === 'waiting' && (r.waitingFor === 'retry' || r.waitingFor === 'backend'))
  );
}

function outcomeLine(r: DomainOutcome): string {
  const acts = r.actions.length ? ` (${r.actions.join(', ')})` : '';
  switch (r.result) {
    case 'idle':
      return `${r.domain}: secured, idle${acts}; ${r.detail}`;
    case 'waiting':
      if (r.waitingFor === 'backend') {
        return `${r.domain}: ${r.phase}${acts}: ${r.detail} (check [dns] server = and tsig-key-file; every run tries again)`;
      }
      return `${r.domain}: ${r.phase}${acts}: ${r.detail}${r.until && !r.detail.includes(r.until) ? ` (until ${r.until})` : ''}`;
    case 'busy':
      return `${r.domain}: skipped: ${r.detail}`;
    case 'stopped':
      return `${r.domain}: ${r.phase ?? 'working'}${acts}: ${r.detail}`;
    case 'failed':
      return `${r.domain}: ${r.detail}${r.until ? ` (next attempt after ${r.until})` : ''}`;
  }
}

/** whether the domain's lease is held by the serve running on this state database */
function serveHolds(store: StateStore, statePath: string, domain: string, now: Date): boolean {
  const serve = runningServe(statePath);
  return serve !== null && store.rollover.lease(domain, now)?.holder === serve;
}

async function pass(
  f: Flags,
  io: Io,
  deps: RunDeps,
  one?: { domain: string; request?: Request },
): Promise<number> {
  const { config, statePath, store } = open(f, deps);
  try {
    const { world, unreadable } = wrapWorld(
      await deps.world({ config, flags: f, store, statePath, io, now: deps.now }),
      one && !one.request ? one.domain : undefined,
    );
    const { runPass } = await import('../daemon/pass.js');
    const common = { store, now: deps.now, holder: holder(), holderGone };
    // `run` (cron, a timer) carries out the queued renew requests too, exactly once, as serve
    // does (issue 10): a serve stopped with rows left, or an operator who moved to the timer
    const { passQueued, mergeOutcomes } = await import('../daemon/queued.js');
    const queuedRun = one ? [] : await passQueued(common, world);
    const results = mergeOutcomes(
      queuedRun,
      await runPass({
        ...common,
        world,
        ...(one ? { domain: one.domain } : {}),
        ...(one?.request ? { request: one.request } : {}),
      }),
    );
    const carried = queuedRun.filter((q) => q.outcome && q.outcome.result !== 'busy');
    // a request for a domain removed since is dropped (nothing to renew); any other error
    // leaves the row for the next run, and this run says so (exit 75)
    let failed = false;
    for (const q of queuedRun) {
      if (q.error && q.error.code !== 'E_DOMAIN_UNKNOWN') {
        failed = true;
        io.err(
          `danekeeper: ${q.row.domain}: the queued ${q.row.request} request was not carried out: ${q.error.message}`,
        );
      }
    }
    if (!f.json) {
      for (const { row } of carried) {
        io.out(
          `${row.domain}: queued ${row.request} request (asked by ${row.askedBy} at ${row.askedAt}) handed to the pass`,
        );
      }
    }
    // `renew --force` / `--rotate-key` while the running serve holds the domain: serve reads
    // the renew_requests table at every pass, so the request is queued there and taken exactly
    // once (issue 10); a lease held by a `run` is still a request not taken (below)
    const queued =
      one?.request !== undefined &&
      results[0]?.result === 'busy' &&
      serveHolds(store, statePath, one.domain, deps.now());
    if (queued) {
      store.requests.ask(one.domain, one.request!, 'cli', deps.now());
      if (f.json) io.out(JSON.stringify({ domains: results, queued: one.request }, null, 2));
      else
        io.out(
          `${one.domain}: queued: the running serve carries it out at its next pass (${one.request})`,
        );
      return EXIT.ok;
    }
    if (f.json) {
      io.out(
        JSON.stringify(
          one
            ? { domains: results }
            : {
                domains: results,
                requests: carried.map((q) => ({ ...q.row, result: q.outcome!.result })),
              },
          null,
          2,
        ),
      );
    }
    for (const r of results) {
      // the planner waits on something else (a confirmation, say) while the backend cannot be
      // read: the rollover goes on, but cannot publish or remove later; not fine either
      const meanwhile =
        r.result === 'waiting' && r.waitingFor !== 'backend' && r.waitingFor !== 'retry'
          ? unreadable.get(r.domain)
          : undefined;
      // `renew`: a domain another pass holds never saw the request (it is handed to this pass
      // only), so it was not taken: exit 0 would claim a renewal or rotation no one will do
      const notTaken = one !== undefined && r.result === 'busy';
      if (troubled(r) || meanwhile || notTaken) {
        failed = true;
        io.err(
          `danekeeper: ${outcomeLine(r)}${meanwhile ? `; meanwhile the DNS backend cannot be read at ${meanwhile.join('; ')}: check [dns] server = and tsig-key-file` : ''}${notTaken ? `; the request was not taken: run \`danekeeper renew ${r.domain}${one.request === 'rotate-key' ? ' --rotate-key' : one.request === 'renew' ? ' --force' : ''}\` again once it is done` : ''}`,
        );
      } else if (!f.json) io.out(outcomeLine(r));
    }
    if (results.length === 0 && !f.json) io.out('No managed domains: danekeeper domain add DOMAIN');
    // a domain another pass holds is not a failure of this one; the holder carries on
    return failed ? EXIT.tempfail : EXIT.ok;
  } finally {
    store.close();
  }
}

function statusText(s: DomainStatus, io: Io, now: Date): void {
  io.out(
    `${s.name}: ${s.phase ?? 'unknown'}${s.lease ? ` (a pass is working on it: ${s.lease.holder})` : ''}`,
  );
  if (s.error) {
    io.out(`  cannot look: ${s.error.message}`);
    return;
  }
  if (s.waitingFor) io.out(`  waiting for ${s.waitingFor}${s.until ? ` until ${s.until}` : ''}`);
  if (s.next) io.out(`  next: ${s.next}`);
  if (s.failure) {
    const when =
      Date.parse(s.failure.retryAt) > now.getTime()
        ? `next attempt at ${s.failure.retryAt}`
        : 'the next run tries again';
    io.out(
      `  last failure: ${s.failure.code}: ${s.failure.message} (attempt ${s.failure.attempts}; ${when})`,
    );
  }
  if (s.hint) io.out(`  what to do: ${s.hint}`);
  // DESIGN.md "The one invariant": say plainly whether mail is safe while something is wrong
  const live = s.live ?? [];
  if ((s.failure || s.hint) && live.length > 0) {
    io.out(
      live.every((l) => l.presents !== 'error' && l.matchesPublished)
        ? '  meanwhile: every endpoint presents a certificate that a published TLSA record matches'
        : '  meanwhile: WARNING: not every endpoint presents a certificate that a published TLSA record matches (see below)',
    );
  }
  const c = s.certificate;
  io.out(
    c
      ? `  certificate ${c.id}: serial ${c.serial}, valid ${c.notBefore} to ${c.notAfter}, key ${c.keyId}${c.verified ? ', verified live' : ', not yet verified live'}`
      : '  certificate: none installed yet',
  );
  if (s.pending)
    io.out(`  pending ${s.pending.id}: key ${s.pending.keyId}, valid to ${s.pending.notAfter}`);
  for (const t of s.tlsa ?? []) {
    io.out(
      `  TLSA ${t.owner} ${t.rdata} (${t.role}): ${t.published ? 'published' : s.waitingFor === 'backend' ? 'the DNS backend cannot be read' : 'not published'}; served by ${t.servedBy.join(', ') || 'none'}${t.notServedBy.length ? `; not by ${t.notServedBy.join(', ')}` : ''}${t.confirmedAt ? `; confirmed ${t.confirmedAt}` : ''}`,
    );
  }
  for (const l of s.live ?? []) {
    if (l.presents === 'error') io.out(`  ${l.owner} ${l.address}: cannot probe: ${l.error}`);
    else if (l.presents === 'other')
      io.out(
        `  WARNING: ${l.owner} ${l.address} presents another certificate than the installed one${l.matchesPublished ? ' (a published record still matches it)' : ' and NO published record matches it'}`,
      );
  }
}

/** `status` with nothing managed: not an error (a monitor may ask before the first domain). */
function noDomains(f: Flags, io: Io): number {
  if (f.json) io.out(JSON.stringify({ domains: [] }, null, 2));
  else io.out('No managed domains. Add one: danekeeper domain add example.org --subdomain mail');
  return EXIT.ok;
}

async function status(name: string | undefined, f: Flags, io: Io, deps: RunDeps): Promise<number> {
  let opened: ReturnType<typeof open>;
  try {
    opened = open(f, deps, true);
  } catch (e) {
    if (name === undefined && e instanceof DkError && e.code === 'E_DOMAIN_NONE') {
      return noDomains(f, io);
    }
    throw e;
  }
  const { config, statePath, store } = opened;
  try {
    if (name === undefined && store.domains.list().length === 0) return noDomains(f, io);
    const domains = name
      ? [store.domains.get(hostName(name))].filter((d): d is Domain => d !== undefined)
      : store.domains.list();
    if (name && domains.length === 0) {
      throw new DkError(
        'usage',
        'E_DOMAIN_UNKNOWN',
        `${hostName(name)} is not a managed domain (danekeeper domain list shows them)`,
      );
    }
    const world = await deps.world({ config, flags: f, store, statePath, io, now: deps.now });
    const { domainStatus } = await import('../daemon/status.js');
    const out: DomainStatus[] = [];
    try {
      for (const d of domains) out.push(await domainStatus(store, world, d, deps.now()));
    } finally {
      await world.close?.();
    }
    if (f.json) io.out(JSON.stringify({ domains: out }, null, 2));
    else for (const s of out) statusText(s, io, deps.now());
    return out.some((s) => s.error) ? EXIT.unavailable : EXIT.ok;
  } finally {
    store.close();
  }
}

function common(c: Command): Command {
  return c
    .option(
      '--config <file>',
      'config file (default $DANEKEEPER_CONFIG or /etc/danekeeper/danekeeper.ini)',
    )
    .option(
      '--state <file>',
      'state database (default [store] path, else /var/lib/danekeeper/state.db for root)',
    )
    .option(
      '--resolver <ip[:port]>',
      'validating resolver; repeatable (default: resolver = in [dns], else resolv.conf)',
      collect,
    )
    .option('--json', 'machine-readable output (no secrets)');
}

export function registerRun(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
  deps: RunDeps = processRunDeps(),
): void {
  common(
    program
      .command('run')
      .description(
        'One keep-secured pass: per domain obtain, publish, wait for confirmation, install, verify, renew (as far as possible now)',
      ),
  ).action((f: Flags) => setExit(pass(f, io, deps)));

  common(
    program
      .command('status [domain]')
      .description(
        'What each domain is doing: phase, what it waits for and until when, certificate, TLSA records and which servers serve them',
      ),
  ).action((name: string | undefined, f: Flags) => setExit(status(name, f, io, deps)));

  common(
    program
      .command('renew <domain>')
      .description(
        'Run a pass for DOMAIN now, trying a failed step again without waiting out its backoff; --force renews even if not due, --rotate-key moves to the next key',
      )
      .option('--force', 'renew now (same key: no TLSA change)')
      .option('--rotate-key', 'renew with the next key (its record is confirmed first)'),
  ).action((name: string, f: Flags & { force?: boolean; rotateKey?: boolean }) => {
    const request: Request | undefined = f.rotateKey ? 'rotate-key' : f.force ? 'renew' : undefined;
    setExit(pass(f, io, deps, { domain: hostName(name), ...(request ? { request } : {}) }));
  });
}
