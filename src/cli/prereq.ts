/**
 * `danekeeper prereq DOMAIN`: does the domain meet the prerequisites for DANE (the seed's
 * list: STARTTLS, DKIM, danekeeper's DNS backend as the primary, MX to this server, DNSSEC)?
 * One line per requirement, the fix under each that is not met; --json the findings.
 */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { DkError, isDkError } from '../core/errors.js';
import {
  assessPrereq,
  prereqExitStatus,
  type BackendObservation,
  type PrereqReport,
  type PrereqStatus,
} from '../core/prereq/index.js';
import { openResolver, proveValidating } from '../io/dns/index.js';
import { queryDirect, rrsetIn } from '../io/dns/direct.js';
import { probe } from '../io/probe/index.js';
import { gatherPrereq } from '../io/prereq/gather.js';
import { openPublisher } from '../publish/backend.js';
import { dnssecStatus } from '../publish/dnssec-status.js';
import { absName } from '../publish/tlsa-set.js';
import type { PrereqSection } from '../config/config.js';
import { backendSettings, contextFor, type Context } from './dns.js';
import type { Io } from './io.js';
import { dnssecObservation } from './prereq-dnssec.js';
import { collect, parseHostPort, parseIntOption } from './options.js';

interface PrereqFlags {
  json?: boolean;
  resolver?: string[];
  config?: string;
  mailHost?: string;
  address?: string[];
  dkimSelector?: string[];
  timeout: string;
}

/**
 * The zone through the configured backend, read-only: its SOA (the default TTL the backend
 * reads from it) and, where the backend can list, its TLSA RRsets. A backend that cannot be
 * opened for want of settings is "not configured"; one that fails to read is "failed".
 */
export async function observeBackend(
  ctx: Context,
  domainZone: string | null,
  timeoutMs: number,
  io: Io,
): Promise<BackendObservation> {
  const zone = ctx.config.dns.zone ? ctx.zone : domainZone ? absName(domainZone) : null;
  if (zone === null) {
    return {
      state: 'not-configured',
      why: 'zone = is not set in [dns] and the zone was not found',
    };
  }
  const c: Context = { ...ctx, zone };
  let pub;
  try {
    pub = openPublisher(
      backendSettings({ timeout: String(Math.ceil(timeoutMs / 1000)) }, c, io),
      (w) => io.err(`danekeeper: warning: ${w}`),
    );
  } catch (e) {
    if (isDkError(e) && e.code === 'E_BACKEND_CONFIG') {
      return { state: 'not-configured', zone, why: e.message };
    }
    throw e;
  }
  const head = { describe: pub.describe, zone };
  try {
    await pub.defaultTtl();
    if (pub.listAll) {
      try {
        await pub.listAll();
      } catch (e) {
        // AXFR not allowed is the server's policy, not a sign that it does not serve the zone.
        if (!(isDkError(e) && e.code === 'E_XFR_REFUSED')) throw e;
      }
    }
  } catch (e) {
    return {
      state: 'failed',
      ...head,
      ...(isDkError(e) ? { code: e.code } : {}),
      why: e instanceof Error ? e.message : String(e),
    };
  } finally {
    await pub.close?.();
  }
  // rfc2136: the primary's own serial, to compare with what the delegated servers serve.
  let serial: number | null = null;
  const server = ctx.backend === 'rfc2136' ? ctx.config.dns.server : undefined;
  if (server) {
    const { host, port } = parseHostPort(server, 53);
    if (isIP(host)) {
      const r = await queryDirect(host, zone, 'SOA', { port, timeoutMs });
      if (r.outcome === 'answer' && r.message) {
        serial =
          rrsetIn(r.message, 'answer', zone.replace(/\.$/, ''), 'SOA').records[0]?.serial ?? null;
      }
    }
  }
  return { state: 'reachable', ...head, serial };
}

const MARK: Record<PrereqStatus, string> = {
  ok: 'ok     ',
  warn: 'WARN   ',
  fail: 'FAIL   ',
  unknown: 'UNKNOWN',
};

/** The text report; exported for tests. */
export function printPrereq(r: PrereqReport, io: Io): void {
  io.out(
    `${r.domain}${r.zone && r.zone !== r.domain ? ` (zone ${r.zone})` : ''}: prerequisites for DANE`,
  );
  for (const f of r.findings) {
    io.out(`${MARK[f.status]} ${f.title}: ${f.message}`);
    if (f.status !== 'ok' && f.fix) {
      const [first, ...rest] = f.fix.split('\n');
      io.out(`        fix: ${first}`);
      for (const l of rest) io.out(`             ${l}`);
    }
  }
  const count = (st: PrereqStatus) => r.findings.filter((f) => f.status === st).length;
  const [fail, unknown, warn] = [count('fail'), count('unknown'), count('warn')];
  if (fail + unknown === 0) {
    io.out(
      `All prerequisites are met${warn ? ` (${warn} with a warning)` : ''}: DANE can be turned on.`,
    );
  } else {
    io.out(
      `${fail} of ${r.findings.length} prerequisites not met${unknown ? `, ${unknown} not decided` : ''}.`,
    );
  }
}

/**
 * The addresses and DKIM selectors prereq looks for: the flags, else `[prereq] address` /
 * `dkim-selector` of the config (so `serve`, which has no flags, asks the same question), else
 * nothing, which means this machine's interfaces and the common selectors. A flag replaces the
 * key rather than adding to it: a one-off check of another address must not mix in the file's.
 */
export function prereqTargets(
  flags: Pick<PrereqFlags, 'address' | 'dkimSelector'>,
  file: PrereqSection,
): { addresses?: string[]; dkimSelectors?: string[] } {
  const addresses = flags.address?.length ? flags.address : file.address;
  const dkimSelectors = flags.dkimSelector?.length ? flags.dkimSelector : file['dkim-selector'];
  return {
    ...(addresses?.length ? { addresses } : {}),
    ...(dkimSelectors?.length ? { dkimSelectors } : {}),
  };
}

export async function runPrereq(domain: string, o: PrereqFlags, io: Io): Promise<number> {
  if (!/^[A-Za-z0-9_.-]+\.?$/.test(domain) || isIP(domain) !== 0) {
    throw new DkError('usage', 'E_OPTION', `"${domain}" is not a domain name`);
  }
  for (const a of o.address ?? []) {
    if (isIP(a) === 0)
      throw new DkError('usage', 'E_OPTION', `--address "${a}" is not an IP address`);
  }
  for (const s of o.dkimSelector ?? []) {
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(s)) {
      throw new DkError(
        'usage',
        'E_OPTION',
        `--dkim-selector "${s}" is not a selector (RFC 6376 §3.1)`,
      );
    }
  }
  const timeout = parseIntOption('--timeout', o.timeout, 1, 600)!;
  // The config is read first: a broken config file is a usage error, not a failed prerequisite.
  const ctx = contextFor({ ...(o.config ? { config: o.config } : {}) }, process.env, false);
  const resolver = await openResolver(o.resolver ?? [], ctx.config.dns.resolver);
  const proof = await proveValidating(resolver);
  if (!proof.validating && !o.json) io.err(`danekeeper: ${proof.summary}`);
  const obs = await gatherPrereq(
    {
      domain,
      ...(o.mailHost ? { mailHost: o.mailHost } : {}),
      ...prereqTargets(o, ctx.config.prereq),
      timeoutMs: timeout * 1000,
    },
    {
      resolver,
      probe,
      validating: proof,
      dnssec: async (zone) =>
        dnssecObservation(
          await dnssecStatus({
            zone,
            resolver,
            ...(ctx.backend === 'powerdns' ? { software: 'powerdns' as const } : {}),
          }),
        ),
      backend: (zone) => observeBackend(ctx, zone, timeout * 1000, io),
    },
  );
  const report = assessPrereq(obs, new Date());
  if (o.json) io.out(JSON.stringify({ ...report, observations: obs }, null, 2));
  else printPrereq(report, io);
  return prereqExitStatus(report.status);
}

export function registerPrereq(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
): Command {
  return program
    .command('prereq')
    .description(
      "Does a mail domain meet DANE's prerequisites (STARTTLS, DKIM, DNS backend, MX, DNSSEC)? Each finding with its fix",
    )
    .argument('<domain>', 'the mail domain, e.g. example.org')
    .option(
      '--resolver <ip[:port]>',
      'validating resolver; repeatable (default: resolver = in [dns], else resolv.conf)',
      collect,
    )
    .option(
      '--config <file>',
      'config file with [dns] (default $DANEKEEPER_CONFIG or /etc/danekeeper/danekeeper.ini)',
    )
    .option('--mail-host <host>', 'the mail host to probe (default: the MX hosts)')
    .option(
      '--address <ip>',
      "this server's address; repeatable (default: [prereq] address, else the machine's interfaces)",
      collect,
    )
    .option(
      '--dkim-selector <s>',
      'DKIM selector to look for; repeatable (default: [prereq] dkim-selector, else common ones)',
      collect,
    )
    .option('--timeout <s>', 'seconds to wait for each network step', '10')
    .option('--json', 'the findings (and what was observed) as JSON')
    .action((domain: string, o: PrereqFlags) => setExit(runPrereq(domain, o, io)));
}
