/**
 * JSON-callable entry points for the zone-file backend, for callInNetns (test/support/
 * netns-call.ts): inside a lab namespace (the reload command talks to the lab's named there),
 * or in plain child processes (several danekeeper processes editing one file at once).
 */
import type { TlsaRecord } from '../../src/core/tlsa/record.js';
import type { TlsaChange } from '../../src/publish/types.js';
import {
  addTlsa,
  removeTlsa,
  replaceTlsa,
  type TlsaSetResult,
} from '../../src/publish/tlsa-set.js';
import { createZonefilePublisher, type ZonefileOptions } from '../../src/publish/zonefile.js';
import { openStore } from '../../src/store/store.js';

export interface SetCall {
  publisher: ZonefileOptions;
  /** the state database */
  store: string;
  op: 'add' | 'replace' | 'remove';
  owner: string;
  /** 'owned': remove everything danekeeper created there */
  records: TlsaRecord[] | 'owned';
  ttl?: number | null;
  force?: boolean;
  tries?: number;
}

export async function zonefileSet(c: SetCall): Promise<TlsaSetResult> {
  const pub = createZonefilePublisher(c.publisher);
  const store = openStore(c.store);
  const opts = {
    ...(c.ttl === undefined ? {} : { ttl: c.ttl }),
    ...(c.force === undefined ? {} : { force: c.force }),
    ...(c.tries === undefined ? {} : { tries: c.tries }),
  };
  try {
    const list = c.records === 'owned' ? [] : c.records;
    if (c.op === 'add') return await addTlsa(pub, store, c.owner, list, opts);
    if (c.op === 'replace') return await replaceTlsa(pub, store, c.owner, list, opts);
    return await removeTlsa(pub, store, c.owner, c.records, opts);
  } finally {
    store.close();
  }
}

/** Several calls one after the other in one process (each with its own retries). */
export async function zonefileSetMany(calls: SetCall[]): Promise<number[]> {
  const tries: number[] = [];
  for (const c of calls) tries.push((await zonefileSet(c)).tries);
  return tries;
}

/** One raw Publisher.apply, below tlsa-set (to show the guard). */
export async function zonefileApply(o: ZonefileOptions, change: TlsaChange): Promise<null> {
  await createZonefilePublisher(o).apply(change);
  return null;
}
