/**
 * Every TLSA RRset in a zone's master file and in danekeeper's include file, for `dns list`,
 * read with the same reader the zonefile backend edits with (zonefile-parse.ts). named merges
 * the RRs of one owner from the zone file and the file it $INCLUDEs into one RRset, and so does
 * this listing; other `$INCLUDE`d files are not followed (zonefile-parse.ts), so records only
 * there are not seen.
 */
import { readFileSync } from 'node:fs';
import { DkError } from '../core/errors.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import { byOwner } from './owner-order.js';
import { ioError } from './zonefile-lock.js';
import { canonicalName, parseZone, rrsetTtls, rrTlsa, type ZoneFile } from './zonefile-parse.js';
import type { TlsaRrset } from './types.js';

export interface ZoneFileSource {
  path: string;
  /** an include file that does not exist yet holds no records */
  missingOk: boolean;
}

function load(zone: string, src: ZoneFileSource): ZoneFile | null {
  let text: string;
  try {
    // latin1 as the editor reads it: one char per byte
    text = readFileSync(src.path, 'latin1');
  } catch (e) {
    if (src.missingOk && (e as { code?: string }).code === 'ENOENT') return null;
    throw ioError('read the zone file', src.path, e);
  }
  try {
    return parseZone(text, { origin: zone });
  } catch (e) {
    if (e instanceof DkError) {
      throw new DkError(e.kind, e.code, `${src.path}: ${e.message}`, {
        ...(e.offset === undefined ? {} : { offset: e.offset }),
      });
    }
    throw e;
  }
}

/** The TLSA RRsets of `zone` in the files, in order (a later file's TTL for an owner wins). */
export function listZoneFileTlsa(zoneIn: string, files: ZoneFileSource[]): TlsaRrset[] {
  const zone = canonicalName(zoneIn.trim(), '.');
  const byName = new Map<string, { ttl: number; records: TlsaRecord[] }>();
  for (const src of files) {
    const zf = load(zone, src);
    if (!zf) continue;
    const ttls = rrsetTtls(zf);
    for (const rr of zf.rrs) {
      if (rr.type !== 'TLSA') continue;
      // RFC 1035 §5.2 / named: records outside the zone are not loaded with it
      if (!(zone === '.' || rr.owner === zone || rr.owner.endsWith(`.${zone}`))) continue;
      let record: TlsaRecord;
      try {
        record = rrTlsa(rr);
      } catch (e) {
        throw e instanceof DkError ? new DkError(e.kind, e.code, `${src.path}: ${e.message}`) : e;
      }
      const cur = byName.get(rr.owner) ?? { ttl: rr.ttl, records: [] };
      // one RRset per owner (RFC 2181 §5): a record written twice is listed once
      if (!cur.records.some((x) => sameRecord(x, record))) cur.records.push(record);
      cur.ttl = ttls.get(`${rr.owner} TLSA`) ?? cur.ttl;
      byName.set(rr.owner, cur);
    }
  }
  return [...byName]
    .map(([owner, v]) => ({ owner, ttl: v.ttl, records: v.records }))
    .sort((a, b) => byOwner(a.owner, b.owner));
}
