/**
 * Runs inside the lab namespace (callInNetns): the powerdns publisher and the tlsa-set policy
 * above it, as the CLI will use them, with the ownership store in a SQLite file that outlives
 * each call. Records cross as `U S M HEX` strings.
 */
import { readFileSync } from 'node:fs';
import { formatRdata } from '../../src/core/tlsa/format.js';
import { parseTlsa } from '../../src/core/tlsa/parse.js';
import {
  powerdnsDnssec,
  powerdnsSecureZone,
  powerdnsZoneSettings,
} from '../../src/publish/powerdns-dnssec.js';
import { createPowerdnsPublisher } from '../../src/publish/powerdns.js';
import {
  addTlsa,
  removeTlsa,
  replaceTlsa,
  type TlsaSetResult,
} from '../../src/publish/tlsa-set.js';
import type { Publisher, TlsaChange } from '../../src/publish/types.js';
import { openStore } from '../../src/store/store.js';

export interface DriverOpts {
  zone: string;
  apiUrl: string;
  /** read here, as the CLI reads --api-key-file */
  apiKeyFile: string;
  serverId?: string;
  timeoutMs?: number;
}

const conn = (o: DriverOpts) => ({
  zone: o.zone,
  apiUrl: o.apiUrl,
  apiKey: readFileSync(o.apiKeyFile, 'utf8').trim(),
  ...(o.serverId ? { serverId: o.serverId } : {}),
  ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
});
const pub = (o: DriverOpts) => createPowerdnsPublisher(conn(o));
const recs = (rs: string[]) => rs.map((r) => parseTlsa(r));

export async function read(o: DriverOpts, owner: string) {
  const rs = await pub(o).read(owner);
  return { ttl: rs.ttl, records: rs.records.map(formatRdata).sort() };
}

export function defaultTtl(o: DriverOpts): Promise<number> {
  return pub(o).defaultTtl();
}

export async function apply(
  o: DriverOpts,
  c: { owner: string; expected: string[]; add: string[]; remove: string[]; ttl: number },
): Promise<null> {
  const change: TlsaChange = {
    owner: c.owner,
    expected: recs(c.expected),
    add: recs(c.add),
    remove: recs(c.remove),
    ttl: c.ttl,
  };
  await pub(o).apply(change);
  return null;
}

function summary(r: TlsaSetResult) {
  return {
    changed: r.changed,
    tries: r.tries,
    ttl: r.ttl,
    after: r.after.map(formatRdata).sort(),
    added: r.added.map(formatRdata).sort(),
    removed: r.removed.map(formatRdata).sort(),
    foreign: r.foreign.map(formatRdata).sort(),
  };
}

export async function setOp(
  o: DriverOpts,
  storeFile: string,
  op: 'add' | 'remove' | 'replace',
  owner: string,
  records: string[],
  ttl?: number,
) {
  const store = openStore(storeFile);
  try {
    const opts = ttl === undefined ? {} : { ttl };
    const p = pub(o);
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

export function dnssecStatus(o: DriverOpts) {
  return powerdnsDnssec(conn(o));
}

export function secureZone(o: DriverOpts) {
  return powerdnsSecureZone(conn(o));
}

export function zoneSettings(o: DriverOpts) {
  return powerdnsZoneSettings(conn(o));
}

/**
 * addTlsa while another writer adds `concurrent` at the same owner between danekeeper's read
 * and its write (once): the guard must refuse the stale change, tlsa-set must retry, and both
 * records must end up published.
 */
export async function addRacing(
  o: DriverOpts,
  storeFile: string,
  owner: string,
  records: string[],
  concurrent: string,
) {
  const inner = pub(o);
  const other = pub(o);
  let raced = false;
  const racing: Publisher = {
    backend: inner.backend,
    zone: inner.zone,
    describe: inner.describe,
    read: (ow) => inner.read(ow),
    defaultTtl: () => inner.defaultTtl(),
    async apply(c) {
      if (!raced) {
        raced = true;
        await other.apply({ ...c, add: recs([concurrent]), remove: [] });
      }
      return inner.apply(c);
    },
  };
  const store = openStore(storeFile);
  try {
    return summary(await addTlsa(racing, store, owner, recs(records), { sleep: async () => {} }));
  } finally {
    store.close();
  }
}
