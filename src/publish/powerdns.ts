/**
 * The `powerdns` backend: TLSA RRsets through the PowerDNS Authoritative HTTP API (v1; written
 * against and tested with 4.7.3, sqlite3 backend).
 *
 * PowerDNS edits whole RRsets: a PATCH with changetype REPLACE sets the complete record list of
 * one (name, type), DELETE drops it. There is no RFC 2136 prerequisite, no ETag/If-Match and no
 * "add one record" changetype in 4.7, so `apply` builds the nearest guard it can:
 *
 *   1. GET the zone and compare the served (enabled) records of the RRset with
 *      `change.expected`, order-insensitively and by value (PowerDNS normalises hex case):
 *      different -> E_PUBLISH_CONFLICT, nothing sent. (`read` asks for the one RRset with
 *      `?rrset_name=&rrset_type=`, which 4.7 supports; the write path cannot: see getRrset.)
 *   2. PATCH REPLACE with expected - remove + add, carrying over every other record exactly as
 *      PowerDNS returned it (hand-made records, disabled ones included), or DELETE when nothing
 *      is left. One PATCH is one backend transaction: all of it applies or none.
 *   3. GET again and confirm the served set is what was written.
 *
 * The race that remains: a writer that changes this RRset between our GET (1) and our PATCH (2)
 * is overwritten, and step 3 cannot see it because our write came last. The window is one HTTP
 * round trip (a few ms on a LAN). What 4.7 offers was checked and does not close it: responses
 * carry no ETag and PATCH honours no If-Match; RRset comments are replaced, not compared; the
 * X-PDNS-Old-Serial header that PATCH returns holds the serial *after* the edit (4.7.3 sends the
 * same value as X-PDNS-New-Serial), and edits made with pdnsutil or SQL do not bump the serial
 * at all, so the serial cannot serve as a version either. Writers that must never lose a record
 * to each other (two danekeeper runs on one owner) have to be serialised outside PowerDNS.
 *
 * DNSSEC: with the default `default-api-rectify=yes` PowerDNS rectifies a signed zone after
 * every PATCH (ordername/auth for NSEC/NSEC3), so no separate rectify call is needed; a zone
 * with API-RECTIFY metadata "0" (or a server with default-api-rectify=no) must be rectified by
 * its operator (powerdnsRectify in powerdns-dnssec.ts).
 */
import { DkError } from '../core/errors.js';
import { formatRdata } from '../core/tlsa/format.js';
import { parseTlsa } from '../core/tlsa/parse.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import { absName, PowerdnsApi, type Json, type PowerdnsApiOptions } from './powerdns-api.js';
import { listPowerdnsTlsa } from './powerdns-list.js';
import { parseTxtPresentation, txtPresentation } from './txt-rdata.js';
import type { Publisher, TlsaChange, TlsaRrset, TxtChange, TxtRrset } from './types.js';

export type PowerdnsOptions = PowerdnsApiOptions;

/** One record of an RRset as the API holds it. */
interface ApiRecord {
  content: string;
  disabled: boolean;
  /** parsed content; undefined for a record that is not TLSA-parsable (kept as it is) */
  record: TlsaRecord | undefined;
}

interface ApiRrset {
  ttl: number | null;
  records: ApiRecord[];
}

const has = (set: TlsaRecord[], r: TlsaRecord) => set.some((x) => sameRecord(x, r));
const sameSet = (a: TlsaRecord[], b: TlsaRecord[]) =>
  a.every((r) => has(b, r)) && b.every((r) => has(a, r));
const served = (rs: ApiRrset): TlsaRecord[] =>
  rs.records.filter((r) => !r.disabled && r.record).map((r) => r.record!);

function isObject(v: Json): v is { [k: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function createPowerdnsPublisher(opts: PowerdnsOptions): Publisher {
  const api = new PowerdnsApi(opts);
  const zone = api.zone;

  /**
   * The records at (name, type); empty when the RRset does not exist. `withDisabled`: 4.7.3
   * leaves disabled records out of an answer filtered with rrset_name/rrset_type (found in the
   * lab), so a REPLACE built from it would silently delete them: the write path reads the whole
   * zone instead, which lists them with `"disabled": true`.
   */
  async function getRrset(
    name: string,
    type: string,
    action: string,
    withDisabled = false,
  ): Promise<ApiRrset> {
    const q = withDisabled
      ? ''
      : `?rrset_name=${encodeURIComponent(name)}&rrset_type=${encodeURIComponent(type)}`;
    const body = await api.request('GET', api.zonePath(q), action);
    if (!isObject(body) || !Array.isArray(body.rrsets)) {
      throw api.protocol(action, 'no "rrsets" list in the zone');
    }
    // PowerDNS before 4.7 ignores the filter and sends every RRset: pick ours in any case.
    const sets = body.rrsets.filter(
      (s) =>
        isObject(s) &&
        typeof s.name === 'string' &&
        absName(s.name) === name &&
        typeof s.type === 'string' &&
        s.type.toUpperCase() === type,
    ) as { [k: string]: Json }[];
    const records: ApiRecord[] = [];
    let ttl: number | null = null;
    for (const s of sets) {
      if (typeof s.ttl === 'number') ttl = s.ttl;
      if (!Array.isArray(s.records)) throw api.protocol(action, 'an RRset without "records"');
      for (const r of s.records) {
        if (!isObject(r) || typeof r.content !== 'string') {
          throw api.protocol(action, 'a record without "content"');
        }
        let record: TlsaRecord | undefined;
        if (type === 'TLSA') {
          try {
            record = parseTlsa(r.content);
          } catch {
            throw api.protocol(action, `TLSA content "${r.content.slice(0, 80)}" does not parse`);
          }
        }
        records.push({ content: r.content, disabled: r.disabled === true, record });
      }
    }
    if (records.length === 0) ttl = null;
    else if (ttl === null) throw api.protocol(action, 'an RRset without a TTL');
    return { ttl, records };
  }

  async function read(ownerIn: string): Promise<TlsaRrset> {
    const owner = absName(ownerIn);
    const rs = await getRrset(owner, 'TLSA', `the read of the TLSA RRset at ${owner}`);
    const records = served(rs);
    // a set of disabled records only is not served: to DNS the RRset does not exist
    return { owner, ttl: records.length > 0 ? rs.ttl : null, records };
  }

  async function defaultTtl(): Promise<number> {
    const action = `the read of the SOA of ${zone}`;
    const rs = await getRrset(zone, 'SOA', action);
    if (rs.ttl === null) throw api.protocol(action, `the zone ${zone} has no SOA RRset`);
    return rs.ttl;
  }

  /**
   * Steps 1 and 2 without sending: the guard checked against a fresh read, and the PATCH body
   * that carries the change out (null when nothing needs writing). Shared by apply and
   * describeChange, so a dry run shows exactly what apply sends.
   */
  async function planPatch(change: TlsaChange): Promise<{
    owner: string;
    action: string;
    target: TlsaRecord[];
    body: { rrsets: { [k: string]: Json }[] } | null;
  }> {
    const owner = absName(change.owner);
    // RFC 2181 §8: a TTL is an unsigned 31-bit number; PowerDNS 4.7 stores larger ones as given.
    if (!Number.isInteger(change.ttl) || change.ttl < 0 || change.ttl > 2147483647) {
      throw new DkError('usage', 'E_TTL', `TTL ${change.ttl} is not a number from 0 to 2147483647`);
    }
    const action = `the update of the TLSA RRset at ${owner}`;
    const cur = await getRrset(owner, 'TLSA', action, true);
    const now = served(cur);
    if (!sameSet(now, change.expected)) {
      throw new DkError(
        'tempfail',
        'E_PUBLISH_CONFLICT',
        `The TLSA RRset at ${owner} on ${describe} changed since it was read ` +
          `(${now.length} records now, ${change.expected.length} expected); nothing was applied`,
      );
    }
    // expected - remove + add. Only `remove` records leave; a disabled record (never served, so
    // never in `expected`) stays untouched unless the same record is added, which enables it.
    const kept = cur.records.filter(
      (r) =>
        !(r.record && !r.disabled && has(change.remove, r.record)) &&
        !(r.record && r.disabled && has(change.add, r.record)),
    );
    const adds = change.add.filter(
      (a, i) =>
        !kept.some((k) => !k.disabled && k.record && sameRecord(k.record, a)) &&
        change.add.findIndex((x) => sameRecord(x, a)) === i,
    );
    const records = [
      ...kept.map((r) => ({ content: r.content, disabled: r.disabled })),
      ...adds.map((a) => ({ content: formatRdata(a), disabled: false })),
    ];
    const target = [...now.filter((r) => !has(change.remove, r)), ...adds];
    if (sameSet(target, now) && records.length === cur.records.length) {
      // nothing to do but perhaps the TTL; an unchanged RRset is not rewritten (no serial bump)
      if (target.length === 0 || cur.ttl === change.ttl) {
        return { owner, action, target, body: null };
      }
    }
    const rrset: { [k: string]: Json } =
      records.length === 0
        ? { name: owner, type: 'TLSA', changetype: 'DELETE' }
        : { name: owner, type: 'TLSA', changetype: 'REPLACE', ttl: change.ttl, records };
    return { owner, action, target, body: { rrsets: [rrset] } };
  }

  async function describeChange(change: TlsaChange): Promise<string[]> {
    const { owner, body } = await planPatch(change);
    // The X-API-Key header is left out on purpose: a dry run's output ends up in logs.
    if (body === null) return [`; nothing to send: the TLSA RRset at ${owner} is already so`];
    return [`PATCH ${api.base}/api/v1${api.zonePath()}`, JSON.stringify(body)];
  }

  async function apply(change: TlsaChange): Promise<void> {
    const { owner, action, target, body } = await planPatch(change);
    if (body === null) return;
    await api.request('PATCH', api.zonePath(), action, body);

    const after = await getRrset(owner, 'TLSA', `the check after ${action}`);
    const got = served(after);
    if (!sameSet(got, target) || (target.length > 0 && after.ttl !== change.ttl)) {
      throw new DkError(
        'tempfail',
        'E_PUBLISH_CONFLICT',
        `The TLSA RRset at ${owner} on ${describe} was changed by someone else right after ` +
          `this update (${got.length} records, ${target.length} written)`,
      );
    }
  }

  /** TXT values of an RRset as served (enabled records), in presentation form parsed. */
  function txtValues(rs: ApiRrset, action: string, enabledOnly: boolean): string[] {
    return rs.records
      .filter((r) => !enabledOnly || !r.disabled)
      .map((r) => {
        const v = parseTxtPresentation(r.content);
        if (v === undefined)
          throw api.protocol(action, `TXT content "${r.content.slice(0, 80)}" does not parse`);
        return v;
      });
  }

  async function readTxt(ownerIn: string): Promise<TxtRrset> {
    const owner = absName(ownerIn);
    const action = `the read of the TXT RRset at ${owner}`;
    const rs = await getRrset(owner, 'TXT', action);
    const values = txtValues(rs, action, true);
    return { owner, ttl: values.length > 0 ? rs.ttl : null, values };
  }

  /** The TXT counterpart of planPatch: the same guard, disabled records carried over. */
  async function planTxtPatch(change: TxtChange) {
    const owner = absName(change.owner);
    if (!Number.isInteger(change.ttl) || change.ttl < 0 || change.ttl > 2147483647) {
      throw new DkError('usage', 'E_TTL', `TTL ${change.ttl} is not a number from 0 to 2147483647`);
    }
    const action = `the update of the TXT RRset at ${owner}`;
    const cur = await getRrset(owner, 'TXT', action, true);
    const parsed = cur.records.map((r) => ({
      ...r,
      value: txtValues({ ttl: null, records: [r] }, action, false)[0]!,
    }));
    const now = parsed.filter((r) => !r.disabled).map((r) => r.value);
    const same = (a: string[], b: string[]) =>
      a.every((v) => b.includes(v)) && b.every((v) => a.includes(v));
    if (!same(now, change.expected)) {
      throw new DkError(
        'tempfail',
        'E_PUBLISH_CONFLICT',
        `The TXT RRset at ${owner} on ${describe} changed since it was read; nothing was applied`,
      );
    }
    const kept = parsed.filter((r) =>
      r.disabled ? !change.add.includes(r.value) : !change.remove.includes(r.value),
    );
    const adds = [...new Set(change.add)].filter(
      (v) => !kept.some((k) => !k.disabled && k.value === v),
    );
    const records = [
      ...kept.map((r) => ({ content: r.content, disabled: r.disabled })),
      ...adds.map((v) => ({ content: txtPresentation(v), disabled: false })),
    ];
    const target = [...now.filter((v) => !change.remove.includes(v)), ...adds];
    const rrset: { [k: string]: Json } =
      records.length === 0
        ? { name: owner, type: 'TXT', changetype: 'DELETE' }
        : { name: owner, type: 'TXT', changetype: 'REPLACE', ttl: change.ttl, records };
    const body =
      same(target, now) &&
      records.length === cur.records.length &&
      (target.length === 0 || cur.ttl === change.ttl)
        ? null
        : { rrsets: [rrset] };
    return { owner, action, target, body, same };
  }

  async function describeTxtChange(change: TxtChange): Promise<string[]> {
    const { owner, body } = await planTxtPatch(change);
    if (body === null) return [`; nothing to send: the TXT RRset at ${owner} is already so`];
    return [`PATCH ${api.base}/api/v1${api.zonePath()}`, JSON.stringify(body)];
  }

  async function applyTxt(change: TxtChange): Promise<void> {
    const { owner, action, target, body, same } = await planTxtPatch(change);
    if (body === null) return;
    await api.request('PATCH', api.zonePath(), action, body);
    const got = (await readTxt(owner)).values;
    if (!same(got, target)) {
      throw new DkError(
        'tempfail',
        'E_PUBLISH_CONFLICT',
        `The TXT RRset at ${owner} on ${describe} was changed by someone else right after this update`,
      );
    }
  }

  const describe = `powerdns at ${api.base} (server ${api.serverId})`;
  return {
    backend: 'powerdns',
    zone,
    describe,
    read,
    defaultTtl,
    apply,
    describeChange,
    readTxt,
    applyTxt,
    describeTxtChange,
    listAll: () => listPowerdnsTlsa(api),
  };
}
