/**
 * What every backend's lab driver does the same way (they run inside the namespace through
 * callInNetns): records cross as `U S M HEX` strings, tlsa-set runs above the publisher with
 * the ownership store in a SQLite file that outlives each call.
 */
import { formatRdata } from '../../src/core/tlsa/format.js';
import { parseTlsa } from '../../src/core/tlsa/parse.js';
import type { TlsaRecord } from '../../src/core/tlsa/record.js';
import {
  addTlsa,
  removeTlsa,
  replaceTlsa,
  type TlsaSetResult,
} from '../../src/publish/tlsa-set.js';
import type { Publisher } from '../../src/publish/types.js';
import { openStore } from '../../src/store/store.js';

export interface ChangeText {
  owner: string;
  expected: string[];
  add: string[];
  remove: string[];
  ttl: number;
}

export const recs = (rs: string[]): TlsaRecord[] => rs.map((r) => parseTlsa(r));
export const fmt = (rs: TlsaRecord[]): string[] => rs.map(formatRdata).sort();

export async function readVia(p: Publisher, owner: string) {
  const rs = await p.read(owner);
  return { ttl: rs.ttl, records: fmt(rs.records) };
}

export async function applyVia(p: Publisher, c: ChangeText): Promise<null> {
  await p.apply({
    owner: c.owner,
    expected: recs(c.expected),
    add: recs(c.add),
    remove: recs(c.remove),
    ttl: c.ttl,
  });
  return null;
}

function summary(r: TlsaSetResult) {
  return {
    changed: r.changed,
    tries: r.tries,
    ttl: r.ttl,
    after: fmt(r.after),
    added: fmt(r.added),
    removed: fmt(r.removed),
    foreign: fmt(r.foreign),
  };
}

/** add / remove / replace through tlsa-set, as the CLI's dns commands do. */
export async function setOpVia(
  p: Publisher,
  storeFile: string,
  op: 'add' | 'remove' | 'replace',
  owner: string,
  records: string[],
  ttl?: number,
) {
  const store = openStore(storeFile);
  try {
    const opts = ttl === undefined ? {} : { ttl };
    const r =
      op === 'add'
        ? await addTlsa(p, store, owner, recs(records), opts)
        : op === 'remove'
          ? await removeTlsa(p, store, owner, recs(records), opts)
          : await replaceTlsa(p, store, owner, recs(records), opts);
    return summary(r);
  } finally {
    store.close();
  }
}
