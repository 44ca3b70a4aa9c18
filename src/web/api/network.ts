/**
 * The API's network-facing services on a real resolver (the daemon's), as the CLI's `check`,
 * `dnssec status`, `prereq` and `domain add` compute them: the same functions, so a report
 * from the API equals the command's `--json`. The daemon supplies the rest of ApiServices
 * (its store, its DNS backend, its pass).
 */
import { checkDomain } from '../../check/check.js';
import { mxAmongNames, zoneCheck } from '../../cli/domain.js';
import { dnssecObservation } from '../../cli/prereq-dnssec.js';
import { assessPrereq } from '../../core/prereq/index.js';
import { hostName } from '../../store/guard.js';
import { gatherPrereq, type GatherDeps } from '../../io/prereq/gather.js';
import { proveValidating } from '../../io/dns/index.js';
import type { Resolver } from '../../io/dns/types.js';
import { defaultStarttls, probe } from '../../io/probe/index.js';
import { dnssecStatus } from '../../publish/dnssec-status.js';
import type { ApiServices } from './handlers.js';

export type NetworkServices = Pick<
  ApiServices,
  'check' | 'dnssec' | 'prereq' | 'zoneCheck' | 'mxAmongNames'
>;

/** RFC 1034 §4.3.2: the zone holding a name is the closest enclosing name with an SOA RRset. */
export async function zoneOf(resolver: Resolver, name: string): Promise<string> {
  const labels = name.replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    const r = await resolver.lookup(candidate, 'SOA');
    if (r.records.length > 0 && hostName(r.canonicalName) === candidate) return candidate;
  }
  return labels.slice(-2).join('.');
}

export function networkServices(
  resolver: Resolver,
  o: {
    /** reads a zone through the server's DNS backend (the `prereq` primary rule) */
    backend: GatherDeps['backend'];
    /**
     * this server's addresses and the DKIM selectors to look at: the config's [prereq]
     * address / dkim-selector (cli/prereq.ts prereqTargets), as `prereq` takes them
     */
    targets?: { addresses?: string[]; dkimSelectors?: string[] };
    /** the gathering itself; a test's stand-in */
    gather?: typeof gatherPrereq;
    now?: () => Date;
    timeoutMs?: number;
  },
): NetworkServices {
  const now = o.now ?? (() => new Date());
  const timeoutMs = o.timeoutMs ?? 10_000;
  // RFC 7672 §2.1.3: the AD bit is only worth what the resolver is; proven once, then reused.
  let proof: ReturnType<typeof proveValidating> | undefined;
  const validating = () => (proof ??= proveValidating(resolver));
  return {
    zoneCheck: zoneCheck(resolver),
    mxAmongNames: (domain, names) => mxAmongNames(resolver, domain, names),
    check: async (domain, port = 25) =>
      checkDomain(
        domain,
        { resolver, probe, now, validating: await validating() },
        { port, starttls: defaultStarttls(port), days: 14, timeoutMs },
      ),
    dnssec: async (domain) => dnssecStatus({ zone: await zoneOf(resolver, domain), resolver }),
    prereq: async (domain) => {
      const obs = await (o.gather ?? gatherPrereq)(
        { domain, ...o.targets, timeoutMs },
        {
          resolver,
          probe,
          validating: await validating(),
          dnssec: async (zone) => dnssecObservation(await dnssecStatus({ zone, resolver })),
          backend: o.backend,
        },
      );
      return { ...assessPrereq(obs, now()), observations: obs };
    },
  };
}
