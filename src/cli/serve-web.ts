/**
 * What `danekeeper serve` hosts besides /healthz and /metrics (issue 11 items 2 and 3;
 * DESIGN.md "The panel and the API (contract)"): the JSON API at `/api` and the panel at `/`,
 * on the real services. Each service is what the matching command runs, so the API's answer
 * equals the command's `--json`:
 *
 * - stores: the daemon's state store and the accounts store, on the same database file;
 * - settings: the INI file under the admin's overrides (src/daemon/settings.ts, the merge the
 *   pass applies too);
 * - certDir: `domain add`'s default; zoneCheck and mxAmongNames: `domain add`'s own;
 * - status: `status --json` (src/daemon/status.ts) on a world built as the pass builds it;
 * - check, dnssec, prereq: src/web/api/network.ts on the configured resolver;
 * - DNS: the configured backend's publisher for the zone holding the name (as `dns add`
 *   opens it), and for removals the endpoint check `dns remove` runs;
 * - renew: a request queued for the daemon's pass, which it wakes.
 *
 * The configuration is read through a function: after a SIGHUP the next request sees the new
 * file (the resolver is opened again when the file changed).
 */
import type { Context as HonoContext } from 'hono';
import type { Hono } from 'hono';
import { acmeCaName, type ConfigFile } from '../config/config.js';
import { DkError, isDkError } from '../core/errors.js';
import type { BackendObservation } from '../core/prereq/index.js';
import type { DomainWorld } from '../daemon/pass.js';
import type { Logger } from '../daemon/log.js';
import { domainStatus } from '../daemon/status.js';
import { openResolver } from '../io/dns/index.js';
import type { Resolver } from '../io/dns/types.js';
import { probe } from '../io/probe/index.js';
import { openPublisher } from '../publish/backend.js';
import { endpointGuard, endpointOf } from '../publish/endpoint-guard.js';
import { absName } from '../publish/tlsa-set.js';
import { findZone } from '../publish/zone-cut.js';
import type { Domain } from '../store/domains.js';
import type { StateStore } from '../store/state.js';
import type { UsersStore } from '../store/users.js';
import { apiRoutes, routeCaller, type ApiDeps } from '../web/api/api.js';
import type { ApiServices } from '../web/api/handlers.js';
import { networkServices, type NetworkServices } from '../web/api/network.js';
import { storedSettings } from '../web/api/settings.js';
import { socketAddress } from '../web/listen.js';
import { checkPage } from '../web/panel/check-page.js';
import { dnsPage } from '../web/panel/dns-page.js';
import { dnssecPage } from '../web/panel/dnssec-page.js';
import { listStatus, type LastOutcome } from '../daemon/list-status.js';
import { panelRoutes, type PanelPage } from '../web/panel/panel.js';
import { settingsPage } from '../web/panel/settings-page.js';
import { backendSettings, type Context } from './dns.js';
import { defaultCertDir } from './domain.js';
import { loadTrustStore } from './files.js';
import type { Io } from './io.js';
import { observeBackend, prereqTargets } from './prereq.js';

/**
 * The panel's page modules (src/web/panel/*-page.ts), each a `PanelPage`: adding a page is
 * one line here. (panel.ts registers the domain pages, add and show, itself.)
 */
export const PANEL_PAGES: readonly PanelPage[] = [dnsPage, checkPage, dnssecPage, settingsPage];

export interface WebOptions {
  /** the configuration as it is now (SIGHUP re-reads it) */
  config: () => ConfigFile;
  /** --resolver, over `resolver =` in [dns] */
  resolverFlags?: string[];
  state: StateStore;
  users: UsersStore;
  env: NodeJS.ProcessEnv;
  uid: number;
  /** served over TLS: the session cookie's name and Secure flag */
  secure: boolean;
  log: Logger;
  /** where a backend's warnings go (the log) */
  io: Io;
  /** a world as the pass builds it, for `status` (observed, never acted on) */
  world: () => Promise<DomainWorld>;
  /** queues a renewal for the daemon's next pass and wakes it */
  renew: (domain: string, by: string) => void;
  /** the daemon's last pass outcome for a domain: the lists' phase (no observation per row) */
  lastOutcome?: (domain: string) => LastOutcome | undefined;
  /** an admin changed the settings: the pass should act on them now, not at its interval */
  settingsChanged?: () => void;
  /** a domain was added, removed, or had DANE turned on or off: the same */
  domainChanged?: (domain: string) => void;
  now?: () => Date;
  /** per network step of a check, prereq or endpoint probe (default 10 s) */
  timeoutMs?: number;
}

/** RFC 1034 §4.3.2 / §3.1: a name is in a zone when it is the apex or below it. */
function inZone(name: string, zone: string): boolean {
  const n = absName(name);
  const z = absName(zone);
  return z === '.' || n === z || n.endsWith(`.${z}`);
}

export function webFaces(o: WebOptions): { api: Hono; panel: Hono } {
  const now = o.now ?? (() => new Date());
  const timeoutMs = o.timeoutMs ?? 10_000;

  // The resolver and the network services on it, opened again when the file changed.
  let net: { config: ConfigFile; v: Promise<{ resolver: Resolver; svc: NetworkServices }> } | null =
    null;
  const network = () => {
    const config = o.config();
    if (net?.config !== config) {
      const v = openResolver(o.resolverFlags, config.dns.resolver).then((resolver) => ({
        resolver,
        svc: networkServices(resolver, {
          backend: (zone) => backendLook(config, zone),
          targets: prereqTargets({}, config.prereq),
          now,
          timeoutMs,
        }),
      }));
      // a failure is not cached: the next request tries again
      v.catch(() => (net = null));
      net = { config, v };
    }
    return net.v;
  };

  const backendContext = (config: ConfigFile, zone: string): Context => {
    const backend = config.dns.backend;
    if (!backend) {
      throw new DkError(
        'config',
        'E_API_NO_BACKEND',
        'No DNS backend is configured on this server ([dns] backend = in the INI file): TLSA records cannot be read or published here',
      );
    }
    return { config, zone: absName(zone), backend, env: o.env };
  };

  const warn = (w: string) => o.io.err(`danekeeper: warning: ${w}`);

  /**
   * The prereq rule "danekeeper's DNS backend is the primary for the zone": `prereq`'s own
   * look (src/cli/prereq.ts), on the configured backend; none configured is said so, not
   * taken for the CLI's zonefile default.
   */
  const backendLook = (config: ConfigFile, zone: string | null): Promise<BackendObservation> => {
    if (!config.dns.backend) {
      return Promise.resolve({
        state: 'not-configured',
        ...(zone ? { zone: absName(config.dns.zone ?? zone) } : {}),
        why: 'No DNS backend is configured on this server ([dns] backend = in the INI file)',
      });
    }
    return observeBackend(backendContext(config, config.dns.zone ?? '.'), zone, timeoutMs, o.io);
  };

  /**
   * The world of a status look. A file the configuration names that cannot be read (the ACME
   * ca-file, say) is the operator's configuration, not a bug: a 409 naming it, not a 500.
   */
  const worldNow = async (): Promise<DomainWorld> => {
    try {
      return await o.world();
    } catch (e) {
      const x = e as NodeJS.ErrnoException;
      if (isDkError(e) || typeof x?.code !== 'string' || typeof x.syscall !== 'string') throw e;
      throw new DkError(
        'config',
        'E_SERVE_CONFIG_FILE',
        `Cannot look at the domain: a file the configuration names cannot be read (${x.code}${x.path ? ` ${x.path}` : ''})`,
      );
    }
  };

  const stored = storedSettings(o.users, o.config);
  const services: ApiServices = {
    state: o.state,
    settings: {
      read: () => stored.read(),
      // the INI file's read-only facts (acmeDirectory, dnsBackend, notifyEmail) for GET
      facts: () => stored.facts!(),
      change: (patch, at) => {
        const after = stored.change(patch, at);
        o.settingsChanged?.();
        return after;
      },
    },
    now,
    certDir: (domain) => defaultCertDir(domain, o.env, o.uid),
    zoneCheck: async (host) => (await network()).svc.zoneCheck(host),
    mxAmongNames: async (domain, names) => (await network()).svc.mxAmongNames(domain, names),
    check: async (domain, port) => (await network()).svc.check(domain, port),
    dnssec: async (domain) => (await network()).svc.dnssec(domain),
    prereq: async (domain) => (await network()).svc.prereq(domain),
    status: async (d: Domain) => {
      const world = await worldNow();
      try {
        return await domainStatus(o.state, world, d, now());
      } finally {
        await world.close?.();
      }
    },
    renew: (domain, by) => o.renew(domain, by),
    ...(o.lastOutcome ? { lastOutcome: o.lastOutcome } : {}),
    ...(o.domainChanged ? { domainChanged: o.domainChanged } : {}),
    dns: {
      async publisher(name) {
        const config = o.config();
        backendContext(config, '.'); // no backend: say so before any lookup
        // a configured zone is the one zone the backend serves (as `run` uses it); otherwise
        // the zone holding the name, by its closest authenticated SOA (src/publish/zone-cut.ts)
        const zone = config.dns.zone
          ? absName(config.dns.zone)
          : await findZone(name, (await network()).resolver);
        if (!inZone(name, zone)) {
          throw new DkError(
            'config',
            'E_API_ZONE',
            `${name} is not in the zone ${zone} that the [dns] backend serves`,
          );
        }
        return openPublisher(backendSettings({}, backendContext(config, zone), o.io), warn);
      },
      removeGuard(owner) {
        // DESIGN.md's invariant: the check `dns remove` runs (no --force from the API); the
        // resolver and probe are reached only once a change removes something
        let guard: Promise<ReturnType<typeof endpointGuard>> | undefined;
        return async (p) => {
          if (p.remove.length === 0) return;
          guard ??= network().then(({ resolver }) =>
            endpointGuard({
              resolver,
              probe,
              timeoutMs,
              now,
              // RFC 7671 §5.3/5.4: PKIX usages outside SMTP are judged against the trust store
              trustStore:
                (endpointOf(owner)?.port ?? 25) === 25 ? undefined : loadTrustStore(undefined),
            }),
          );
          await (
            await guard
          )(p);
        };
      },
    },
  };

  const clientAddress = (c: HonoContext) => socketAddress(c);
  const apiDeps: ApiDeps = {
    ...services,
    users: o.users,
    logger: o.log,
    secure: o.secure,
    clientAddress,
  };
  const api = apiRoutes(apiDeps);
  const panel = panelRoutes(
    {
      users: o.users,
      call: routeCaller(apiDeps),
      state: o.state,
      now,
      status: services.status,
      // the list's badges from the stored state and the last pass: no observation per row
      listStatus: (d: Domain) => listStatus(o.state, d, now(), o.lastOutcome?.(d.name)),
      secure: o.secure,
      clientAddress,
      // the checkbox "DANE support" is offered only while the effective setting is on
      daneEnabled: () => services.settings.read().daneEnabled,
      // the add form names the CA it gets certificates from (a SIGHUP may change it)
      acmeCa: () => acmeCaName(o.config().acme),
    },
    PANEL_PAGES,
  );
  return { api, panel };
}
