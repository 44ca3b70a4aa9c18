/**
 * Runs inside the lab namespace (callInNetns): what a `run` killed in the middle of a DNS-01
 * order leaves (a challenge value published into the zone file and recorded in the state
 * database), and the next keep-secured pass over that domain, with the real world (zonefile
 * backend, the lab's resolver, the probe).
 */
import { join } from 'node:path';
import { serverAddress } from '../../src/io/dns/config.js';
import { StubResolver } from '../../src/io/dns/resolver.js';
import { probe } from '../../src/io/probe/index.js';
import { runPass } from '../../src/daemon/pass.js';
import { RealWorld } from '../../src/daemon/world.js';
import { addTxt } from '../../src/publish/txt-set.js';
import { createZonefilePublisher } from '../../src/publish/zonefile.js';
import { openState } from '../../src/store/state.js';

export interface LeftoverLab {
  zone: string;
  file: string;
  reload: string[];
  dir: string;
  resolver: string;
}

const publisher = (l: LeftoverLab) =>
  createZonefilePublisher({ zone: l.zone, file: l.file, reloadCommand: l.reload });

/** The killed run: its value published and recorded (txt-set records before it sends). */
export async function publishLeftover(l: LeftoverLab, owner: string, value: string) {
  const store = openState(join(l.dir, 'state.db'));
  try {
    return (await addTxt(publisher(l), owner, [value], { store: store.txt, ttl: 60 })).added;
  } finally {
    store.close();
  }
}

/** One pass over `name` (DANE off: nothing else is published; no CA reachable). */
export async function passOver(l: LeftoverLab, name: string) {
  const store = openState(join(l.dir, 'state.db'));
  try {
    if (!store.domains.get(name)) {
      store.domains.add(
        {
          name,
          includeDomainName: false,
          subdomains: ['mail'],
          mailHosts: [`mail.${name}`],
          endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
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
    }
    const world = new RealWorld({
      store,
      now: () => new Date(),
      publisher: () => publisher(l),
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
    const out = await runPass({ store, world, now: () => new Date(), holder: 'lab' });
    return {
      outcomes: out.map((o) => ({ domain: o.domain, result: o.result })),
      events: store.events
        .list({ domain: name })
        .filter((e) => e.kind.startsWith('leftover'))
        .map((e) => `${e.kind}: ${e.message}`),
      recorded: store.txt.list(l.zone).map((r) => `${r.owner} ${r.value}`),
      txt: (await publisher(l).readTxt!(`_acme-challenge.mail.${name}.`)).values,
    };
  } finally {
    store.close();
  }
}
