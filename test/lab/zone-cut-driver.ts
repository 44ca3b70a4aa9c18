/**
 * Runs inside the lab namespace (callInNetns): the daemon's world publishing a TLSA record
 * whose owner lives in a delegated subzone, through the zonefile backend of each zone, and
 * observing it at that subzone's servers.
 */
import { join } from 'node:path';
import { serverAddress } from '../../src/io/dns/config.js';
import { StubResolver } from '../../src/io/dns/resolver.js';
import { probe } from '../../src/io/probe/index.js';
import { emptyState } from '../../src/core/rollover/index.js';
import { RealWorld } from '../../src/daemon/world.js';
import { createZonefilePublisher } from '../../src/publish/zonefile.js';
import { memoryState } from '../../src/store/state.js';
import type { Domain } from '../../src/store/domains.js';
import type { Publisher } from '../../src/publish/types.js';

export interface ZoneCutLab {
  /** zone (absolute) -> its master file and reload command */
  zones: Record<string, { file: string; reload: string[] }>;
  /** the zone [dns] zone would name when the backend serves one zone only */
  fixed: string;
  dir: string;
  resolver: string;
}

export async function publishAndObserve(l: ZoneCutLab, domain: string, rdata: string) {
  const store = memoryState();
  const d = store.domains.add(
    {
      name: domain,
      includeDomainName: false,
      subdomains: ['mail'],
      mailHosts: [`mail.${domain}`],
      endpoints: [{ host: `mail.${domain}`, port: 25, proto: 'tcp' }],
      dane: true,
      certDir: join(l.dir, 'live'),
      reload: [],
      keyType: 'ec-p256',
      newKeyEachRenewal: false,
      issuerRecords: false,
      challenge: null,
    },
    new Date(),
  );
  const zonefile = (zone: string) =>
    createZonefilePublisher({
      zone,
      file: l.zones[zone]!.file,
      reloadCommand: l.zones[zone]!.reload,
    });
  const world = (publisher: (d: Domain, zone?: string) => Publisher | null) =>
    new RealWorld({
      store,
      now: () => new Date(),
      publisher,
      resolver: new StubResolver({ servers: [serverAddress(l.resolver)], timeoutMs: 2000 }),
      probe,
      confirmationIntervalHours: 0.001,
      daneEnabled: true,
      acme: { directory: 'https://127.0.0.1:1/directory', accountFile: join(l.dir, 'acct.json') },
      solver: () => {
        throw new Error('no order in this test');
      },
      probeTimeoutMs: 2000,
    });
  const owner = `_25._tcp.mail.${domain}.`;
  // the backend opened for the zone that was found (no [dns] zone configured)
  const w = world((_d, zone) => zonefile(zone && l.zones[zone] ? zone : l.fixed));
  const policy = w.policy(d);
  await w.execute(
    d,
    { kind: 'publishRecords', owner, add: [rdata], remove: [] },
    emptyState(),
    policy,
  );
  // the servers need a moment after the reload; look until they serve it (or 20 s)
  let obs = await w.observe(d, null, policy, { ari: false });
  for (let i = 0; i < 40 && !obs.dns[owner]!.servers.every((s) => s.served?.includes(rdata)); i++) {
    await new Promise((r) => setTimeout(r, 500));
    obs = await w.observe(d, null, policy, { ari: false });
  }
  await w.close();
  // a backend that serves the parent zone only ([dns] zone = the parent)
  const fixed = world(() => zonefile(l.fixed));
  let refused = '';
  try {
    await fixed.execute(
      d,
      { kind: 'publishRecords', owner, add: [rdata], remove: [] },
      emptyState(),
      policy,
    );
  } catch (e) {
    refused = `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
  store.close();
  return { dns: obs.dns[owner], refused };
}
