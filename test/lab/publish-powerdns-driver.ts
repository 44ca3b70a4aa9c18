/**
 * Runs inside the lab namespace (callInNetns): the powerdns publisher and the tlsa-set policy
 * above it, as the CLI will use them, with the ownership store in a SQLite file that outlives
 * each call. Records cross as `U S M HEX` strings.
 */
import { readFileSync } from 'node:fs';
import {
  powerdnsDnssec,
  powerdnsSecureZone,
  powerdnsZoneSettings,
} from '../../src/publish/powerdns-dnssec.js';
import { createPowerdnsPublisher } from '../../src/publish/powerdns.js';
import type { Publisher } from '../../src/publish/types.js';
import { applyVia, readVia, recs, setOpVia, type ChangeText } from './publish-driver.js';

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

export function read(o: DriverOpts, owner: string) {
  return readVia(pub(o), owner);
}

export function defaultTtl(o: DriverOpts): Promise<number> {
  return pub(o).defaultTtl();
}

export function apply(o: DriverOpts, c: ChangeText): Promise<null> {
  return applyVia(pub(o), c);
}

export function setOp(
  o: DriverOpts,
  storeFile: string,
  op: 'add' | 'remove' | 'replace',
  owner: string,
  records: string[],
  ttl?: number,
) {
  return setOpVia(pub(o), storeFile, op, owner, records, ttl);
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
  return setOpVia(racing, storeFile, 'add', owner, records);
}
