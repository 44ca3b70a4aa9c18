/**
 * `danekeeper dns list`: every TLSA RRset of the zone, each record marked as danekeeper's (and
 * since when) or made by hand, plus records danekeeper remembers that are no longer published.
 * The whole zone comes from the backend's listAll (a zone transfer, the PowerDNS API, the zone
 * file); `--name/--port` shows one owner. When the server refuses the transfer, the listing
 * falls back to the owners danekeeper knows and says so, with how to allow the transfer.
 */
import type { Command } from 'commander';
import { isDkError } from '../core/errors.js';
import { formatRdata } from '../core/tlsa/format.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import { byOwner } from '../publish/owner-order.js';
import type { OwnedRecord, OwnershipStore, Publisher, TlsaRrset } from '../publish/types.js';
import {
  addBackendOptions,
  contextFor,
  ownerFrom,
  withPublisher,
  type BackendFlags,
} from './dns.js';
import type { Io } from './io.js';

interface ListFlags extends BackendFlags {
  name?: string;
  port?: string;
  proto?: string;
}

export interface ListedRecord {
  record: string;
  danekeeper: boolean;
  /** when danekeeper published it; null for records made by hand */
  since: string | null;
}

export interface ListedOwner {
  owner: string;
  /** null: no TLSA RRset is served there */
  ttl: number | null;
  records: ListedRecord[];
  /** remembered by danekeeper but no longer published: someone removed them */
  missing: string[];
  /** held by the source but not served (PowerDNS disabled records) */
  disabled: ListedRecord[];
}

export interface Listing {
  zone: string;
  backend: string;
  /** every TLSA RRset of the zone (or of the one owner asked for) is listed */
  complete: boolean;
  /** why the listing is not complete, and what to do about it */
  notice: string | null;
  owners: ListedOwner[];
}

/** The notice in two parts, for the text output: what is missing, and why. */
interface Incomplete {
  missing: string;
  why: string;
}

/**
 * Merges what the source holds with what danekeeper remembers: every owner of either, each
 * record marked as danekeeper's or by hand. Pure: the reading is done by the caller.
 */
export function mergeListing(
  sets: TlsaRrset[],
  mine: OwnedRecord[],
  extraOwners: string[] = [],
): ListedOwner[] {
  const owners = [
    ...new Set([...sets.map((s) => s.owner), ...mine.map((m) => m.owner), ...extraOwners]),
  ].sort(byOwner);
  return owners.map((owner) => {
    const cur = sets.find((s) => s.owner === owner) ?? { owner, ttl: null, records: [] };
    const ours = mine.filter((m) => m.owner === owner);
    const mark = (r: TlsaRecord): ListedRecord => {
      const m = ours.find((x) => formatRdata(x.record) === formatRdata(r));
      return { record: formatRdata(r), danekeeper: !!m, since: m?.createdAt ?? null };
    };
    const held = [...cur.records, ...(cur.disabled ?? [])].map(formatRdata);
    return {
      owner,
      ttl: cur.records.length > 0 ? cur.ttl : null,
      records: cur.records.map(mark),
      missing: ours.map((m) => formatRdata(m.record)).filter((r) => !held.includes(r)),
      disabled: (cur.disabled ?? []).map(mark),
    };
  });
}

async function listing(
  o: ListFlags,
  pub: Publisher,
  store: OwnershipStore,
  zone: string,
): Promise<Listing & { incomplete?: Incomplete }> {
  const base = { zone, backend: pub.backend };
  if (o.name !== undefined || o.port !== undefined) {
    const owner = ownerFrom(o, zone);
    const mine = store.list(zone).filter((m) => m.owner === owner);
    const set = await pub.read(owner);
    return {
      ...base,
      complete: true,
      notice: null,
      owners: mergeListing(set.records.length > 0 ? [set] : [], mine, [owner]),
    };
  }
  const mine = store.list(zone);
  let why: string;
  if (pub.listAll) {
    try {
      const sets = await pub.listAll();
      return { ...base, complete: true, notice: null, owners: mergeListing(sets, mine) };
    } catch (e) {
      if (!(isDkError(e) && e.code === 'E_XFR_REFUSED')) throw e;
      why = e.message;
    }
  } else {
    why = `The ${pub.backend} backend cannot list a whole zone`;
  }
  // Fallback: only the owners danekeeper published at, each read from the source
  const owners = [...new Set(mine.map((m) => m.owner))].sort(byOwner);
  const sets: TlsaRrset[] = [];
  for (const owner of owners) sets.push(await pub.read(owner));
  const n = owners.length;
  const missing =
    `only the ${n} name${n === 1 ? '' : 's'} danekeeper published at ${n === 1 ? 'is' : 'are'} listed; ` +
    'TLSA records made by hand at other names are not shown';
  return {
    ...base,
    complete: false,
    notice: `Not the whole zone: ${missing}. ${why}`,
    owners: mergeListing(sets, mine),
    incomplete: { missing, why },
  };
}

function print(l: Listing & { incomplete?: Incomplete }, io: Io): void {
  if (l.incomplete) {
    io.out(`Not the whole zone: ${l.incomplete.missing}.`);
    io.out(`  ${l.incomplete.why}`);
  }
  if (l.owners.length === 0)
    io.out(
      l.complete
        ? `No TLSA records in ${l.zone}`
        : `No TLSA records published by danekeeper in ${l.zone}`,
    );
  for (const x of l.owners) {
    io.out(`${x.owner}${x.ttl === null ? '  (no TLSA RRset)' : `  TTL ${x.ttl}`}`);
    const who = (r: ListedRecord) => (r.danekeeper ? `danekeeper, since ${r.since}` : 'by hand');
    for (const r of x.records) io.out(`  ${r.record}  ${who(r)}`);
    for (const r of x.disabled) io.out(`  ${r.record}  disabled (not served), ${who(r)}`);
    for (const m of x.missing) io.out(`  ${m}  danekeeper's, but no longer published`);
  }
}

async function runList(o: ListFlags, io: Io): Promise<number> {
  const ctx = contextFor(o, process.env);
  return withPublisher(
    o,
    io,
    async (pub, store) => {
      // everything is read before anything is printed: an error leaves no half listing
      const l = await listing(o, pub, store, ctx.zone);
      if (o.json) {
        const { zone, backend, complete, notice, owners } = l;
        io.out(JSON.stringify({ zone, backend, complete, notice, owners }, null, 2));
      } else print(l, io);
      return 0;
    },
    ctx,
    true,
  );
}

export function registerDnsList(
  dns: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
): Command {
  const list = dns
    .command('list')
    .description(
      'Show every TLSA record in a zone: those danekeeper published (and since when) and those made by hand',
    )
    .option(
      '--name <name>',
      'only this host: relative to the zone (mail), @, or absolute with a dot',
    )
    .option('--port <n>', 'only this port (default 25 when --name is given)')
    .option('--proto <p>', 'tcp | udp | sctp', 'tcp');
  addBackendOptions(list).action((o: ListFlags) => setExit(runList(o, io)));
  return list;
}
