/**
 * Runs inside the lab namespace (callInNetns): DNS-01 values for a domain whose mail name is a
 * delegated subzone. ZonedDns01Solver publishes each value in the zone holding its owner
 * (zonefile backend per zone), waits for each zone's servers, and cleans up; a run killed after
 * prepare leaves values recorded in both zones, which the next keep-secured pass's sweep removes
 * through each zone's backend.
 */
import { join } from 'node:path';
import { serverAddress } from '../../src/io/dns/config.js';
import { StubResolver } from '../../src/io/dns/resolver.js';
import { probe } from '../../src/io/probe/index.js';
import { ZonedDns01Solver } from '../../src/daemon/dns01-zones.js';
import { RealWorld } from '../../src/daemon/world.js';
import { createZonefilePublisher } from '../../src/publish/zonefile.js';
import { openState } from '../../src/store/state.js';
import type { Domain } from '../../src/store/domains.js';

export interface ZonesLab {
  /** zone (absolute) -> its master file and reload command */
  zones: Record<string, { file: string; reload: string[] }>;
  dir: string;
  resolver: string;
}

const zonefile = (l: ZonesLab, zone: string) =>
  l.zones[zone]
    ? createZonefilePublisher({
        zone,
        file: l.zones[zone].file,
        reloadCommand: l.zones[zone].reload,
      })
    : null;

const resolver = (l: ZonesLab) =>
  new StubResolver({ servers: [serverAddress(l.resolver)], timeoutMs: 2000 });

const items = (names: string[]) =>
  names.map((name) => ({ name, token: `t-${name}`, keyAuthorization: `ka-${name}` }));

async function txtAt(l: ZonesLab, zone: string, owner: string): Promise<string[]> {
  return (await zonefile(l, zone)!.readTxt!(owner)).values;
}

/** prepare (waits for every server of both zones), what each zone file holds, then cleanup. */
export async function solveAndClean(l: ZonesLab, names: string[]) {
  const store = openState(join(l.dir, 'state.db'));
  try {
    const s = new ZonedDns01Solver({
      publisher: (zone) => zonefile(l, zone),
      resolver: resolver(l),
      store: store.txt,
      propagationTimeoutMs: 30_000,
      intervalMs: 300,
    });
    await s.prepare(items(names));
    const during = {
      parent: await txtAt(l, 'zones.test.', '_acme-challenge.zones.test.'),
      child: await txtAt(l, 'mail.zones.test.', '_acme-challenge.mail.zones.test.'),
      recorded: Object.keys(l.zones).map((z) => store.txt.list(z).length),
    };
    await s.cleanup();
    const afterCleanup = {
      parent: await txtAt(l, 'zones.test.', '_acme-challenge.zones.test.'),
      child: await txtAt(l, 'mail.zones.test.', '_acme-challenge.mail.zones.test.'),
      recorded: Object.keys(l.zones).map((z) => store.txt.list(z).length),
    };
    return { during, afterCleanup };
  } finally {
    store.close();
  }
}

/** A backend for the parent zone only: the solver refuses before publishing anything. */
export async function refusedWithParentOnly(l: ZonesLab, names: string[]) {
  const store = openState(join(l.dir, 'state.db'));
  try {
    const s = new ZonedDns01Solver({
      publisher: () => zonefile(l, 'zones.test.'),
      resolver: resolver(l),
      store: store.txt,
    });
    try {
      await s.prepare(items(names));
      return 'not refused';
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`;
    } finally {
      await s.cleanup();
    }
  } finally {
    store.close();
  }
}

/** The killed run: prepare without cleanup (the values stay published and recorded). */
export async function killedAfterPrepare(l: ZonesLab, names: string[]) {
  const store = openState(join(l.dir, 'state.db'));
  try {
    const s = new ZonedDns01Solver({
      publisher: (zone) => zonefile(l, zone),
      resolver: resolver(l),
      store: store.txt,
      propagationTimeoutMs: 30_000,
      intervalMs: 300,
    });
    await s.prepare(items(names));
    return Object.keys(l.zones).map((z) => store.txt.list(z).length);
  } finally {
    store.close();
  }
}

/** The next pass's sweep over the domain, with a backend per zone. */
export async function sweep(l: ZonesLab, domain: string) {
  const store = openState(join(l.dir, 'state.db'));
  try {
    const d: Domain =
      store.domains.get(domain) ??
      store.domains.add(
        {
          name: domain,
          includeDomainName: true,
          subdomains: ['mail'],
          mailHosts: [`mail.${domain}`],
          endpoints: [{ host: `mail.${domain}`, port: 25, proto: 'tcp' }],
          dane: false,
          certDir: join(l.dir, 'live'),
          reload: [],
          keyType: 'ec-p256',
          newKeyEachRenewal: false,
          issuerRecords: false,
          challenge: 'dns-01',
        },
        new Date(),
      );
    const world = new RealWorld({
      store,
      now: () => new Date(),
      publisher: (_d, zone) => zonefile(l, zone ?? 'zones.test.'),
      resolver: resolver(l),
      probe,
      confirmationIntervalHours: 0.001,
      daneEnabled: true,
      acme: { directory: 'https://127.0.0.1:1/directory', accountFile: join(l.dir, 'acct.json') },
      solver: () => {
        throw new Error('no order in this test');
      },
      probeTimeoutMs: 2000,
    });
    const lines = await world.sweep(d);
    await world.close();
    return {
      lines,
      parent: await txtAt(l, 'zones.test.', '_acme-challenge.zones.test.'),
      child: await txtAt(l, 'mail.zones.test.', '_acme-challenge.mail.zones.test.'),
      recorded: Object.keys(l.zones).map((z) => store.txt.list(z).length),
    };
  } finally {
    store.close();
  }
}
