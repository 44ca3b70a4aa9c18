/**
 * Runs inside the lab namespace (callInNetns): DNS-01 through the zonefile backend, with the
 * state database's TXT ownership, against Pebble. Private keys go in as PEM, never come back.
 */
import { readFileSync } from 'node:fs';
import { ensureAccount } from '../../src/io/acme/account.js';
import { obtainCertificate } from '../../src/io/acme/obtain.js';
import { serverAddress } from '../../src/io/dns/config.js';
import { StubResolver } from '../../src/io/dns/resolver.js';
import { Dns01Solver } from '../../src/publish/acme-dns01.js';
import { addTxt } from '../../src/publish/txt-set.js';
import { createZonefilePublisher } from '../../src/publish/zonefile.js';
import { openTxtOwnership } from '../../src/store/txt-ownership.js';

export interface ZonefileDns {
  zone: string;
  file: string;
  reload: string[];
  store: string;
}

const publisher = (d: ZonefileDns) =>
  createZonefilePublisher({ zone: d.zone, file: d.file, reloadCommand: d.reload });

/** What a run that died before its cleanup leaves: a value published and recorded. */
export async function publishLeftover(d: ZonefileDns, owner: string, value: string) {
  const store = openTxtOwnership(d.store);
  try {
    return await addTxt(publisher(d), owner, [value], { store, ttl: 60 });
  } finally {
    store.close();
  }
}

export async function obtainDns01Zonefile(
  c: { directory: string; caFile: string; email: string },
  d: ZonefileDns & { names: string[]; keyPem: string; resolver: string },
) {
  const store = openTxtOwnership(d.store);
  try {
    const p = publisher(d);
    const looks: string[][] = [];
    const solver = new Dns01Solver({
      publisher: p,
      store,
      resolver: new StubResolver({
        servers: [serverAddress(d.resolver)],
        timeoutMs: 2000,
        tries: 2,
      }),
      ttl: 5,
      intervalMs: 250,
      propagationTimeoutMs: 30_000,
      onLook: (s) => looks.push(s.map((x) => `${x.address} ${x.state}`)),
    });
    const a = await ensureAccount(
      {
        directory: c.directory,
        ca: readFileSync(c.caFile, 'utf8'),
        email: c.email,
        pollLimitSeconds: 60,
      },
      undefined,
    );
    const obtained = await obtainCertificate(a.client, {
      names: d.names,
      keyPem: d.keyPem,
      solver,
    });
    const txtAfter: Record<string, string[]> = {};
    for (const n of d.names) txtAfter[n] = (await p.readTxt!(`_acme-challenge.${n}.`)).values;
    return {
      names: obtained.names,
      looks,
      leftovers: solver.leftovers.map((r) => ({ owner: r.owner, removed: r.removed })),
      txtAfter,
      storeAfter: store.list(d.zone).map((r) => r.value),
    };
  } finally {
    store.close();
  }
}
