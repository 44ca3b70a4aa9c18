/**
 * Runs inside the lab namespace (callInNetns): tlsa-set with `dryRun` (and a beforeApply hook
 * that counts its calls) through any of the three backends, and the same call for real, so the
 * lab test can compare what a dry run said with what the real run did. Records cross as
 * `U S M HEX` strings.
 */
import { readFileSync } from 'node:fs';
import { formatRdata } from '../../src/core/tlsa/format.js';
import { createPowerdnsPublisher } from '../../src/publish/powerdns.js';
import {
  addTlsa,
  removeTlsa,
  type SetOptions,
  type TlsaSetResult,
} from '../../src/publish/tlsa-set.js';
import type { Publisher } from '../../src/publish/types.js';
import { createZonefilePublisher, type ZonefileOptions } from '../../src/publish/zonefile.js';
import { openStore } from '../../src/store/store.js';
import { fmt, recs } from './publish-driver.js';
import type { DriverOpts as PdnsOpts } from './publish-powerdns-driver.js';
import { publisher as rfc2136, type DriverOpts as Rfc2136Opts } from './publish-rfc2136-driver.js';

export type Backend =
  | { kind: 'rfc2136'; o: Rfc2136Opts }
  | { kind: 'powerdns'; o: PdnsOpts }
  | { kind: 'zonefile'; o: ZonefileOptions };

function publisherOf(b: Backend): Publisher {
  if (b.kind === 'rfc2136') return rfc2136(b.o);
  if (b.kind === 'zonefile') return createZonefilePublisher(b.o);
  return createPowerdnsPublisher({
    zone: b.o.zone,
    apiUrl: b.o.apiUrl,
    apiKey: readFileSync(b.o.apiKeyFile, 'utf8').trim(),
  });
}

export interface RunText {
  dryRun: boolean;
  changed: boolean;
  added: string[];
  removed: string[];
  after: string[];
  change: { expected: string[]; add: string[]; remove: string[]; ttl: number } | null;
  wire: string[];
  /** beforeApply calls */
  hooks: number;
  /** rows in the store afterwards */
  owned: string[];
}

/** `op` 'add' with `records`, or 'remove-owned' (dns remove --all); dry or for real. */
export async function run(
  b: Backend,
  storeFile: string,
  op: 'add' | 'remove-owned',
  owner: string,
  records: string[],
  dryRun: boolean,
): Promise<RunText> {
  const store = openStore(storeFile);
  let hooks = 0;
  const opts: SetOptions = {
    dryRun,
    beforeApply: () => Promise.resolve(void hooks++),
  };
  try {
    const pub = publisherOf(b);
    const r: TlsaSetResult =
      op === 'add'
        ? await addTlsa(pub, store, owner, recs(records), opts)
        : await removeTlsa(pub, store, owner, 'owned', opts);
    return {
      dryRun: r.dryRun,
      changed: r.changed,
      added: fmt(r.added),
      removed: fmt(r.removed),
      after: fmt(r.after),
      change: r.change && {
        expected: fmt(r.change.expected),
        add: fmt(r.change.add),
        remove: fmt(r.change.remove),
        ttl: r.change.ttl,
      },
      wire: r.wire,
      hooks,
      owned: store.list().map((x) => `${x.owner} ${formatRdata(x.record)}`),
    };
  } finally {
    store.close();
  }
}
