/**
 * Builds the lab's private DNS tree at test time: a signed root `.`, a signed TLD `test.` and
 * any zones below, each with the records a test gives as data. Keys come from `dnssec-keygen`
 * (ECDSAP256SHA256: fast), signing from `dnssec-signzone` (whole-zone, offline), DS records
 * from `dnssec-dsfromkey`. Nothing here touches the network: the files are handed to BIND by
 * `startDnsLab` (dnslab.ts).
 *
 * Every delegation is real: the parent holds NS + glue (+ DS when the child is secure), the
 * child its own NS and address records, so a resolver walks root -> TLD -> zone.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { labDnssecPolicies, labPolicyName } from './conf.js';
import { uniqueTsigKeys, type TsigKeySpec } from './tsig.js';

/**
 * How a zone looks to a validating resolver:
 * - `secure`: signed, DS in the parent.
 * - `insecure`: unsigned, delegated without DS.
 * - `island`: signed, but the parent holds no DS (insecure to a resolver; "give the registrar
 *   this DS" scenarios).
 * - `bogus-ds`: signed, the parent's DS matches no key of the zone.
 * - `bogus-expired`: signed with signatures that expired 30 days ago.
 * - `bogus-sig`: signed, then every signature except those over the DNSKEY RRset corrupted.
 */
export type ZoneSecurity =
  'secure' | 'insecure' | 'island' | 'bogus-ds' | 'bogus-expired' | 'bogus-sig';

export interface RecordSpec {
  /** owner: relative to the zone (`@`, `www`, `_25._tcp.mx`) or absolute with a trailing dot */
  name: string;
  /** `A`, `AAAA`, `MX`, `CNAME`, `TLSA`, `TXT`, ... */
  type: string;
  /** RDATA in presentation format, as in a zone file (`10 mx1`, `3 1 1 ab12...`) */
  data: string;
  ttl?: number;
  /** In a signed zone: corrupt this RRset's signatures, so only this name/type is bogus. */
  bogus?: boolean;
}

export interface ZoneSpec {
  /** `secure.test.` (the trailing dot is optional); `.` and `test.` may be given to override */
  name: string;
  /** default `secure` */
  security?: ZoneSecurity;
  records?: RecordSpec[];
  /**
   * Addresses of the zone's nameservers (`ns1.<zone>`, `ns2.<zone>`, ..., glue in the parent;
   * the root's are `a.root-servers.`, `b.root-servers.`, ...). Default: root 127.0.53.1,
   * `test.` 127.0.53.2, other TLDs 127.0.53.3.., every other zone its own 127.0.54.N.
   */
  servers?: string[];
  /** default TTL of the zone's records; default 300 */
  ttl?: number;
  /** negative-caching TTL (SOA minimum); default 60 */
  negativeTtl?: number;
  /** NSEC3 (no salt, 0 iterations, RFC 9276) instead of NSEC */
  nsec3?: boolean;
  /** one combined signing key (flags 257) instead of a KSK + ZSK pair */
  csk?: boolean;
  /**
   * A zone the lab does not serve (Knot, PowerDNS, ... started by the test on `servers`): the
   * parent only delegates to it — NS `ns1.<zone>`, `ns2.<zone>`, ... with glue for `servers`
   * (required) — and publishes the DS RRs given, as presentation RDATA (`12345 13 2 AB12...`;
   * a whole `zone. IN DS ...` line is taken too). No DS: delegated insecurely. Change the DS
   * later with `lab.setDs`. `security`, `records`, `signing`, `updateKeys` and `secondaries`
   * do not apply.
   */
  external?: { ds?: string[] };
  /**
   * `offline` (default): the lab signs the zone file with dnssec-signzone. `inline`: named
   * loads the unsigned file and signs it itself (`dnssec-policy` + `inline-signing yes`) with
   * keys the lab made beforehand for that policy, so the DS is in the parent from the start.
   * Inline zones are `secure`, `island` or `bogus-ds`, and have exactly one server (add
   * `secondaries` for more).
   */
  signing?: 'offline' | 'inline';
  /**
   * TSIG keys allowed to update the zone (RFC 2136; `allow-update { key ...; }`). Only for
   * `inline` or `insecure` zones with one server: named signs updates with keys it holds.
   */
  updateKeys?: TsigKeySpec[];
  /**
   * Addresses of secondaries (`type secondary`, one view each): in the zone's NS set after the
   * primaries (`ns2.<zone>`, ...) and in the parent's delegation with glue. They transfer the
   * (signed) zone at start and then lag: no NOTIFY, SOA refresh one day, until
   * `lab.refreshSecondary(zone)`.
   */
  secondaries?: string[];
  /**
   * Who may transfer the zone (AXFR, RFC 5936): only these TSIG keys (`allow-transfer { key
   * ...; }` in the zone); `[]`: nobody (REFUSED). Default: anyone, the lab-wide
   * `allow-transfer { any; }`. Not with `secondaries`, which transfer without a key.
   */
  transferKeys?: TsigKeySpec[];
}

export interface KeyInfo {
  /** path without extension: `<base>.key`, `<base>.private` */
  base: string;
  tag: number;
  flags: number;
  /** the DNSKEY RR in presentation format */
  dnskey: string;
}

export interface LabZone {
  /** absolute, lower-case, with the trailing dot; `.` for the root */
  readonly name: string;
  /** the enclosing zone that delegates to this one; null for the root */
  readonly parent: string | null;
  readonly security: ZoneSecurity;
  /** not served by the lab: the parent only delegates to it (ZoneSpec.external) */
  readonly external: boolean;
  /** `none` for unsigned and external zones */
  readonly signing: 'offline' | 'inline' | 'none';
  /** primaries (for external zones: the external servers) */
  readonly servers: string[];
  /** secondaries, lagging until `refreshSecondary` (ZoneSpec.secondaries) */
  readonly secondaries: string[];
  /** the NS names, in the order of `[...servers, ...secondaries]` */
  readonly nsNames: string[];
  /** TSIG keys allowed to update the zone; the zone is dynamic when not empty */
  readonly updateKeys: TsigKeySpec[];
  /** TSIG keys allowed to transfer the zone; null: anyone (ZoneSpec.transferKeys) */
  readonly transferKeys: TsigKeySpec[] | null;
  readonly dir: string;
  /**
   * The zone file BIND loads: the signed one for offline-signed zones, the unsigned one that
   * named signs for inline zones (edit it, bump the SOA serial, `lab.reloadZone`); '' for
   * external zones.
   */
  readonly file: string;
  readonly ttl: number;
  readonly negativeTtl: number;
  readonly nsec3: boolean;
  serial: number;
  records: RecordSpec[];
  /** empty for unsigned zones; for a CSK zone `ksk === zsk` */
  keys: { ksk?: KeyInfo; zsk?: KeyInfo };
  /**
   * DS RRs the parent publishes for this zone (presentation format, absolute owner). Empty
   * when delegated without DS; for `bogus-ds`, the DS of a key the zone never publishes.
   */
  ds: string[];
  /** DS RRs that match this zone's KSK, whether or not the parent publishes them */
  ownDs: string[];
}

/** Every address a zone is served on: its primaries, then its secondaries (the NS order). */
export function zoneAddresses(z: LabZone): string[] {
  return [...z.servers, ...z.secondaries];
}

export const ROOT_SERVER = '127.0.53.1';
export const TLD_SERVER = '127.0.53.2';

const run = (cmd: string, args: string[], cwd?: string): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const why = (stderr || err.message).trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`Running ${cmd} ${args.join(' ')} failed: ${why}`));
      } else resolve(stdout);
    });
  });

/** `Secure.Test` -> `secure.test.`; `` and `.` -> `.` */
export function absName(name: string): string {
  const n = name.trim().toLowerCase();
  if (n === '' || n === '.') return '.';
  return n.endsWith('.') ? n : `${n}.`;
}

/** An owner name from a RecordSpec, made absolute in `zone`. */
export function ownerIn(zone: string, owner: string): string {
  if (owner === '@') return zone;
  if (owner.endsWith('.')) return owner.toLowerCase();
  return zone === '.' ? `${owner.toLowerCase()}.` : `${owner.toLowerCase()}.${zone}`;
}

function isBelow(name: string, zone: string): boolean {
  return zone === '.' ? name !== '.' : name !== zone && name.endsWith(`.${zone}`);
}

function labelCount(name: string): number {
  return name === '.' ? 0 : name.split('.').length - 1;
}

function nsName(zone: string, i: number): string {
  if (zone === '.') return `${String.fromCharCode(97 + i)}.root-servers.`;
  return `ns${i + 1}.${zone}`;
}

function addressType(a: string): 'A' | 'AAAA' {
  const v = isIP(a);
  if (v === 0) throw new Error(`DNS lab: server address "${a}" is not an IP address`);
  return v === 4 ? 'A' : 'AAAA';
}

/**
 * DS RRs for `zone` from presentation RDATA (`12345 13 2 AB12...`) or whole RR lines
 * (`zone. 300 IN DS 12345 13 2 AB12...`, as dnssec-dsfromkey, keymgr or pdnsutil print them).
 */
export function dsRecords(zone: string, ds: string[]): string[] {
  return ds.map((line) => {
    const t = line.trim().split(/\s+/);
    const at = t.findIndex((x) => x.toUpperCase() === 'DS');
    const rdata = at >= 0 ? t.slice(at + 1) : t;
    const [tag, alg, dtype, ...hex] = rdata;
    const digest = hex.join('');
    if (
      ![tag, alg, dtype].every((x) => x !== undefined && /^\d+$/.test(x)) ||
      !/^[0-9a-f]+$/i.test(digest)
    )
      throw new Error(`DNS lab: "${line}" is not a DS record for ${zone}`);
    return `${zone} IN DS ${tag} ${alg} ${dtype} ${digest.toUpperCase()}`;
  });
}

function dirName(zone: string): string {
  return zone === '.' ? 'root' : zone.slice(0, -1);
}

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, '');
}

/** The private tree: zones, their keys and files. Build with `DnsTree.build`. */
export class DnsTree {
  private constructor(
    readonly dir: string,
    readonly zones: Map<string, LabZone>,
  ) {}

  /**
   * Generates keys, zone files and signatures for `specs` (plus `.` and `test.` when not given)
   * under `dir`. Zones whose nearest enclosing zone is not in the set hang off that ancestor
   * anyway (`a.b.test.` without `b.test.` is delegated by `test.`).
   */
  static async build(dir: string, specs: ZoneSpec[]): Promise<DnsTree> {
    const byName = new Map<string, ZoneSpec>();
    for (const s of specs) {
      const n = absName(s.name);
      if (byName.has(n)) throw new Error(`DNS lab: zone ${n} is given twice`);
      byName.set(n, s);
    }
    if (!byName.has('.')) byName.set('.', { name: '.' });
    if (!byName.has('test.')) byName.set('test.', { name: 'test.' });

    const names = [...byName.keys()].sort((a, b) => labelCount(a) - labelCount(b));
    const zones = new Map<string, LabZone>();
    let nextTld = 3;
    let nextZone = 1;
    for (const name of names) {
      const s = byName.get(name)!;
      const parent =
        name === '.'
          ? null
          : names.filter((p) => isBelow(name, p)).sort((a, b) => labelCount(b) - labelCount(a))[0]!;
      const external = s.external !== undefined;
      const why = checkSpec(name, s);
      if (why) throw new Error(`DNS lab: zone ${name}: ${why}`);
      if (parent !== null && zones.get(parent)!.external)
        throw new Error(`DNS lab: zone ${name} is below ${parent}, which the lab does not serve`);
      const security = external
        ? (s.external?.ds ?? []).length > 0
          ? 'secure'
          : 'insecure'
        : (s.security ?? 'secure');
      let servers = s.servers;
      if (!servers || servers.length === 0) {
        if (name === '.') servers = [ROOT_SERVER];
        else if (name === 'test.') servers = [TLD_SERVER];
        else if (labelCount(name) === 1) servers = [`127.0.53.${nextTld++}`];
        else servers = [`127.0.54.${nextZone++}`];
      }
      if (nextTld > 52 || nextZone > 254) throw new Error('DNS lab: too many zones for defaults');
      const secondaries = [...(s.secondaries ?? [])];
      [...servers, ...secondaries].forEach(addressType);
      const zdir = join(dir, 'zones', dirName(name));
      mkdirSync(zdir, { recursive: true });
      const signing = external || security === 'insecure' ? 'none' : (s.signing ?? 'offline');
      zones.set(name, {
        name,
        parent,
        security,
        external,
        signing,
        servers: [...servers],
        secondaries,
        nsNames: [...servers, ...secondaries].map((_, i) => nsName(name, i)),
        updateKeys: uniqueTsigKeys(s.updateKeys ?? []),
        transferKeys: s.transferKeys ? uniqueTsigKeys(s.transferKeys) : null,
        dir: zdir,
        file: external ? '' : join(zdir, signing === 'offline' ? 'db.signed' : 'db'),
        ttl: s.ttl ?? 300,
        negativeTtl: s.negativeTtl ?? 60,
        nsec3: s.nsec3 ?? false,
        serial: 1,
        records: [...(s.records ?? [])],
        keys: {},
        ds: external ? dsRecords(name, s.external?.ds ?? []) : [],
        ownDs: [],
      });
    }
    const used = new Map<string, string>();
    for (const z of zones.values())
      for (const a of zoneAddresses(z)) {
        const other = used.get(a);
        // One named view per address: an external server cannot share it, and a zone cannot
        // be both primary and secondary on one address.
        if (other !== undefined && (other === z.name || z.external || zones.get(other)!.external))
          throw new Error(`DNS lab: address ${a} is given to ${other} and ${z.name}`);
        used.set(a, z.name);
      }
    const tree = new DnsTree(dir, zones);
    if ([...zones.values()].some((z) => z.signing === 'inline'))
      writeFileSync(tree.policyFile, labDnssecPolicies());
    await Promise.all(
      [...zones.values()].map((z) => tree.makeKeys(z, byName.get(z.name)!.csk ?? false)),
    );
    // Every DS is known now, so every zone can be written and signed at once.
    await Promise.all([...zones.values()].map((z) => tree.writeAndSign(z)));
    return tree;
  }

  /** the dnssec-policy statements inline zones use (included by named.conf) */
  get policyFile(): string {
    return join(this.dir, 'dnssec-policy.conf');
  }

  zone(name: string): LabZone {
    const z = this.zones.get(absName(name));
    if (!z) throw new Error(`DNS lab: no zone ${absName(name)} in the tree`);
    return z;
  }

  children(name: string): LabZone[] {
    const n = absName(name);
    return [...this.zones.values()].filter((z) => z.parent === n);
  }

  /** The root's DS RRs: Unbound's `trust-anchor-file`. */
  trustAnchor(): string {
    return this.zone('.').ownDs.join('\n') + '\n';
  }

  /** Root hints: the root's NS RRset and its servers' addresses. */
  rootHints(): string {
    const root = this.zone('.');
    const lines = root.nsNames.map((n) => `.\t3600000\tIN\tNS\t${n}`);
    root.servers.forEach((a, i) =>
      lines.push(`${root.nsNames[i]}\t3600000\tIN\t${addressType(a)}\t${a}`),
    );
    return lines.join('\n') + '\n';
  }

  /**
   * Replaces a zone's records, bumps its serial (to above `minSerial` when given: the serial a
   * dynamic or inline zone is served with) and re-signs it with the same keys (inline zones:
   * writes the unsigned file for named to sign). Returns the zones whose files changed (to
   * reload); the parent is untouched since the DS is unchanged.
   */
  async setRecords(name: string, records: RecordSpec[], minSerial = 0): Promise<LabZone[]> {
    const z = this.zone(name);
    if (z.external) throw new Error(`DNS lab: zone ${z.name} is external; the lab has no records`);
    z.records = [...records];
    z.serial = Math.max(z.serial, minSerial) + 1;
    await this.writeAndSign(z);
    return [z];
  }

  /**
   * Replaces the DS RRs the parent publishes for `name` (RDATA or whole RRs, see `dsRecords`)
   * and re-signs the parent. Returns the parent, to reload.
   */
  async setDs(name: string, ds: string[], parentMinSerial = 0): Promise<LabZone> {
    const z = this.zone(name);
    if (z.parent === null) throw new Error('DNS lab: the root has no parent to hold a DS');
    z.ds = dsRecords(z.name, ds);
    const p = this.zone(z.parent);
    await this.setRecords(p.name, p.records, parentMinSerial);
    return p;
  }

  /** The unsigned zone file text (what is signed). */
  zoneText(z: LabZone): string {
    const out: string[] = [`$TTL ${z.ttl}`, `$ORIGIN ${z.name}`];
    const rname = z.name === '.' ? 'hostmaster.root-servers.' : `hostmaster.${z.name}`;
    // RFC 1035 §3.3.13: secondaries ask for changes every REFRESH seconds; a day keeps a lab
    // secondary behind for as long as a test runs (and NOTIFY is off)
    const timers = z.secondaries.length > 0 ? '86400 600 1209600' : '3600 600 86400';
    out.push(`@ IN SOA ${z.nsNames[0]} ${rname} ${z.serial} ${timers} ${z.negativeTtl}`);
    for (const n of z.nsNames) out.push(`@ IN NS ${n}`);
    zoneAddresses(z).forEach((a, i) => out.push(`${z.nsNames[i]} IN ${addressType(a)} ${a}`));
    for (const r of z.records) {
      const ttl = r.ttl === undefined ? [] : [String(r.ttl)];
      out.push([r.name, ...ttl, 'IN', r.type.toUpperCase(), r.data].join(' '));
    }
    for (const c of this.children(z.name)) {
      out.push(`; delegation to ${c.name} (${c.external ? 'external, ' : ''}${c.security})`);
      for (const n of c.nsNames) out.push(`${c.name} IN NS ${n}`);
      zoneAddresses(c).forEach((a, i) => {
        // glue only for in-bailiwick names (always the case for lab-made NS names)
        if (isBelow(c.nsNames[i]!, c.name)) out.push(`${c.nsNames[i]} IN ${addressType(a)} ${a}`);
      });
      out.push(...c.ds);
    }
    // inline zones: named adds the DNSKEY RRset from its key directory when it signs
    if (z.signing === 'offline') {
      if (z.keys.ksk) out.push(`$INCLUDE ${z.keys.ksk.base}.key`);
      if (z.keys.zsk && z.keys.zsk !== z.keys.ksk) out.push(`$INCLUDE ${z.keys.zsk.base}.key`);
    }
    return out.join('\n') + '\n';
  }

  private async keygen(z: LabZone, ksk: boolean): Promise<KeyInfo> {
    const args = ['-q', '-a', 'ECDSAP256SHA256', '-K', z.dir, '-n', 'ZONE'];
    if (ksk) args.push('-f', 'KSK');
    return keyInfo(join(z.dir, (await run('dnssec-keygen', [...args, z.name])).trim()));
  }

  /**
   * Keys for an inline zone, made by `dnssec-keygen -k` for the very policy named runs the zone
   * with: with their .state files named adopts them instead of making its own, so the DS is
   * known before named starts.
   */
  private async policyKeys(z: LabZone, csk: boolean): Promise<KeyInfo[]> {
    const policy = labPolicyName({ csk, nsec3: z.nsec3 });
    const out = await run('dnssec-keygen', [
      ...['-q', '-k', policy, '-l', this.policyFile, '-K', z.dir, z.name],
    ]);
    return out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => keyInfo(join(z.dir, l.trim())));
  }

  private async makeKeys(z: LabZone, csk: boolean): Promise<void> {
    if (z.signing === 'none') return;
    let ksk: KeyInfo;
    let zsk: KeyInfo | undefined;
    if (z.signing === 'inline') {
      const keys = await this.policyKeys(z, csk);
      ksk = keys.find((k) => k.flags === 257)!;
      zsk = keys.find((k) => k.flags === 256);
      if (!ksk || keys.length !== (csk ? 1 : 2))
        throw new Error(`DNS lab: dnssec-keygen -k made ${keys.length} keys for ${z.name}`);
    } else {
      [ksk, zsk] = await Promise.all([
        this.keygen(z, true),
        csk ? Promise.resolve(undefined) : this.keygen(z, false),
      ]);
    }
    z.keys = { ksk, zsk: zsk ?? ksk };
    z.ownDs = await dsFromKey(ksk.base);
    if (z.security === 'bogus-ds') {
      // RFC 4035 §5.2: a DS that matches no DNSKEY of the child makes the child bogus. The
      // decoy key is never published; its files are kept apart so signing never picks it up.
      const decoyDir = join(z.dir, 'decoy');
      mkdirSync(decoyDir, { recursive: true });
      const decoy = await this.keygen({ ...z, dir: decoyDir }, true);
      z.ds = await dsFromKey(decoy.base);
    } else if (z.security !== 'island') {
      z.ds = z.ownDs;
    }
  }

  private async writeAndSign(z: LabZone): Promise<void> {
    if (z.external) return;
    const unsigned = join(z.dir, 'db');
    writeFileSync(unsigned, this.zoneText(z));
    if (z.signing !== 'offline') return;
    const args = ['-q', '-O', 'full', '-K', z.dir, '-d', z.dir, '-o', z.name, '-f', z.file];
    if (z.nsec3) args.push('-3', '-', '-H', '0');
    // a CSK (flags 257) signs every RRset: tell dnssec-signzone not to look for a ZSK
    if (z.keys.ksk === z.keys.zsk) args.push('-z');
    if (z.security === 'bogus-expired') {
      const now = Date.now();
      const day = 86_400_000;
      // -P: dnssec-signzone's own verification would (rightly) reject expired signatures
      args.push('-P', '-s', stamp(new Date(now - 60 * day)), '-e', stamp(new Date(now - 30 * day)));
    }
    await run('dnssec-signzone', [...args, unsigned], z.dir);
    const bogusSets = new Set(
      z.records.filter((r) => r.bogus).map((r) => `${ownerIn(z.name, r.name)} ${r.type}`),
    );
    if (z.security === 'bogus-sig' || bogusSets.size > 0) {
      const all = z.security === 'bogus-sig';
      const text = readFileSync(z.file, 'utf8')
        .split('\n')
        .map((line) => {
          const t = line.split(/\s+/);
          if (t[3] !== 'RRSIG' || t.length < 13) return line;
          const covered = t[4]!.toUpperCase();
          const hit = all
            ? covered !== 'DNSKEY'
            : bogusSets.has(`${t[0]!.toLowerCase()} ${covered}`);
          return hit ? corruptSignature(t) : line;
        })
        .join('\n');
      writeFileSync(z.file, text);
    }
  }
}

function keyInfo(base: string): KeyInfo {
  const dnskey = readFileSync(`${base}.key`, 'utf8')
    .split('\n')
    .find((l) => l !== '' && !l.startsWith(';'))!
    .trim();
  const m = /\+(\d+)$/.exec(base);
  const flags = Number(/\sDNSKEY\s+(\d+)\s/.exec(dnskey)?.[1]);
  return { base, tag: Number(m![1]), flags, dnskey };
}

/** Why a zone spec cannot be built, or null. */
function checkSpec(name: string, s: ZoneSpec): string | null {
  const security = s.security ?? 'secure';
  const nServers = s.servers?.length ?? 1;
  if (name === '.' && (security !== 'secure' || s.external || s.signing === 'inline'))
    return 'the root is the trust anchor and must be secure and offline-signed';
  if (s.external) {
    if (!s.servers || s.servers.length === 0) return 'an external zone needs its servers';
    const extra = (
      ['security', 'records', 'signing', 'updateKeys', 'secondaries', 'transferKeys'] as const
    ).filter((k) => s[k] !== undefined);
    if (extra.length > 0) return `${extra.join(', ')} do not apply to an external zone`;
    return null;
  }
  if (s.signing === 'inline') {
    if (!['secure', 'island', 'bogus-ds'].includes(security))
      return `an inline-signed zone cannot be ${security}`;
    // one named plays every server: two views signing one zone would fight over its keys
    if (nServers !== 1) return 'an inline-signed zone has one server (add secondaries)';
  }
  if (s.transferKeys && (s.secondaries ?? []).length > 0)
    return 'transferKeys would lock out the secondaries, which transfer without a key';
  if ((s.updateKeys ?? []).length > 0) {
    if (security !== 'insecure' && s.signing !== 'inline')
      return 'updateKeys needs signing: inline (or an insecure zone): named signs the updates';
    if (nServers !== 1) return 'a dynamic zone has one server (add secondaries)';
  }
  return null;
}

async function dsFromKey(base: string): Promise<string[]> {
  const out = await run('dnssec-dsfromkey', ['-2', `${base}.key`]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Changes the first character of an RRSIG's signature (tokens from `-O full` output). */
function corruptSignature(t: string[]): string {
  // owner ttl IN RRSIG covered alg labels origttl expiration inception tag signer signature...
  const sig = t[12]!;
  const c = sig[0] === 'A' ? 'B' : 'A';
  return [...t.slice(0, 12), c + sig.slice(1), ...t.slice(13)].join(' ');
}
