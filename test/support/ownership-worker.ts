/**
 * A danekeeper process for the ownership race tests (src/publish/tlsa-set-processes.test.ts),
 * run through callInNetns(null, ...): it opens the zone-file publisher and the state database
 * first, waits for a shared start time so that every process reaches tlsa-set at the same
 * moment, then makes its calls one after the other, as `dns add-tlsa` runs do.
 */
import type { TlsaRecord } from '../../src/core/tlsa/record.js';
import { addTlsa, removeTlsa } from '../../src/publish/tlsa-set.js';
import { createZonefilePublisher, type ZonefileOptions } from '../../src/publish/zonefile.js';
import { openStore } from '../../src/store/store.js';

export interface WorkerCall {
  publisher: ZonefileOptions;
  /** the state database */
  store: string;
  owner: string;
  /** each added by its own addTlsa call, in order */
  records: TlsaRecord[];
  /** epoch ms to start at */
  startAt: number;
  /** after the adds, remove them again one by one (churn for the other processes) */
  removeAfter?: boolean;
  tries?: number;
}

/** Returns the tries each call took. */
export async function addRace(c: WorkerCall): Promise<number[]> {
  const pub = createZonefilePublisher(c.publisher);
  const store = openStore(c.store);
  try {
    const wait = c.startAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const tries: number[] = [];
    const opts = { tries: c.tries ?? 50, sleep: (ms: number) => jitter(ms) };
    for (const r of c.records) tries.push((await addTlsa(pub, store, c.owner, [r], opts)).tries);
    if (c.removeAfter) {
      for (const r of c.records) {
        tries.push((await removeTlsa(pub, store, c.owner, [r], opts)).tries);
      }
    }
    return tries;
  } finally {
    store.close();
  }
}

/** A random wait up to `ms`, so that retrying processes do not run in lockstep. */
function jitter(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * ms));
}
