/**
 * The lab's DNS: BIND serving a DNSSEC-signed private tree (root `.`, TLD `test.`, test zones)
 * and Unbound validating with the lab root as its only trust anchor, both inside a lab
 * namespace. Programs run in the namespace (`ip netns exec`) resolve through that Unbound:
 * /etc/netns/<ns>/resolv.conf is bind-mounted over /etc/resolv.conf.
 *
 *   const lab = await startDnsLab(ns, { zones: [{ name: 'secure.test', records: [...] }] });
 *   await lab.dig(['+dnssec', 'www.secure.test', 'A']);   // @lab.resolver, inside ns
 *   await lab.stop();
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../../support/pki.js';
import {
  lastLines,
  pidAlive,
  sleep,
  type ExecOptions,
  type ExecResult,
  type Netns,
} from '../netns.js';
import {
  labPolicyName,
  namedConf,
  rndcConf,
  unboundConf,
  UNBOUND_DEFAULT_TLDS,
  type NamedView,
  type NamedZone,
} from './conf.js';
import {
  absName,
  DnsTree,
  zoneAddresses,
  type LabZone,
  type RecordSpec,
  type ZoneSpec,
} from './tree.js';
import {
  labTsigKey,
  tsigKeyId,
  tsigKeyText,
  uniqueTsigKeys,
  writeTsigKeyFile,
  type TsigKeySpec,
} from './tsig.js';

export { labTsigKey, tsigKeyText, writeTsigKeyFile } from './tsig.js';
export type { TsigAlgorithm, TsigKeySpec } from './tsig.js';
export type { LabZone, RecordSpec, ZoneSpec } from './tree.js';

export const RESOLVER = '127.0.53.53';
const CONTROL = { address: '127.0.0.1', port: 953, keyName: 'dk-lab-rndc' };

export interface DnsLabSpec {
  /** test zones; `.` and `test.` are added (secure, default servers) unless given */
  zones: ZoneSpec[];
  /** addresses Unbound listens on; default [127.0.53.53] */
  resolvers?: string[];
  /** working directory (keys, zone files, configs, logs); default a fresh temp dir */
  dir?: string;
  /** write /etc/netns/<ns>/resolv.conf pointing at the lab resolver; default true */
  resolvConf?: boolean;
  /** default 10 s */
  startTimeoutMs?: number;
  /**
   * TSIG keys named knows but that may update nothing (unless also in a zone's `updateKeys`):
   * an update signed with one is REFUSED (RFC 2136 §3.3), not BADKEY.
   */
  tsigKeys?: TsigKeySpec[];
}

export interface NsupdateOptions {
  /** the address to send the update to; default the zone's primary */
  server?: string;
  /** the zone (`zone` line); default: the zone the lab knows `server` for, if any */
  zone?: string;
  /** signs the update; omitted: unsigned */
  key?: TsigKeySpec;
  /** nsupdate commands between `zone` and `send`, e.g. `update add _25._tcp.mx.z. 300 TLSA ...` */
  commands: string[];
}

export interface NsupdateResult extends ExecResult {
  /** `NOERROR` on success, else what nsupdate reported (`REFUSED`, `NOTAUTH`, ...) or '' */
  rcode: string;
}

export interface DigResult extends ExecResult {
  /** `NOERROR`, `SERVFAIL`, ...; '' when dig got no answer */
  status: string;
  /** header flags: `qr`, `rd`, `ra`, `ad`, `cd`, `aa` */
  flags: string[];
  /** answer-section RRs, one per line, as dig prints them */
  answer: string[];
}

export interface DnsLab {
  readonly ns: Netns;
  readonly dir: string;
  /** the first resolver address (127.0.53.53) */
  readonly resolver: string;
  readonly resolvers: string[];
  readonly tree: DnsTree;
  /** how long `startDnsLab` took, in ms */
  readonly startMs: number;
  zone(name: string): LabZone;
  /** `dig` inside the namespace, `@resolver` unless args hold an `@server` */
  dig(args: string[], opts?: ExecOptions): Promise<DigResult>;
  /**
   * Replaces a zone's records, re-signs it with the same keys and reloads it on its primaries
   * (secondaries lag until `refreshSecondary`). For a dynamic zone this overwrites what
   * updates added (rndc freeze, write, thaw).
   */
  setRecords(zone: string, records: RecordSpec[]): Promise<void>;
  addRecords(zone: string, records: RecordSpec[]): Promise<void>;
  /**
   * Replaces the DS RRs the parent of `zone` publishes (RDATA `12345 13 2 AB...` or whole RRs),
   * re-signs and reloads the parent, and flushes the resolver for `zone`.
   */
  setDs(zone: string, ds: string[]): Promise<void>;
  /**
   * Drops what Unbound cached at and below `zone` (the zone's DS too), with every bogus verdict
   * and negative answer, and what it remembers about the zone's servers being down; without a
   * zone, everything.
   */
  flushResolver(zone?: string): Promise<void>;
  /**
   * After `lab.zone(z).file` was edited (SOA serial bumped): reloads it on the primary and waits
   * until the primary serves that serial or newer. Not for dynamic zones: `rndc freeze` before
   * editing, `rndc thaw` after (`rndcCommand`).
   */
  reloadZone(zone: string): Promise<void>;
  /**
   * argv that runs `rndc VERB ZONE IN VIEW` inside the namespace (e.g. `ns.wrap(...)` or a
   * reload command given to danekeeper run in the namespace); `address` picks the view, default
   * the zone's primary.
   */
  rndcCommand(verb: string, zone: string, address?: string): string[];
  /** `rndcCommand('reload', zone)` */
  reloadCommand(zone: string): string[];
  /** The SOA serial `address` serves for `zone` (RD=0); null when it gives no SOA. */
  serial(zone: string, address: string): Promise<number | null>;
  /**
   * Makes every secondary of `zone` transfer now (`rndc retransfer`) and waits until each
   * serves the primary's serial.
   */
  refreshSecondary(zone: string): Promise<void>;
  /** Runs nsupdate inside the namespace (`-k` key file written 0600 in the lab dir). */
  nsupdate(o: NsupdateOptions): Promise<NsupdateResult>;
  /** Writes `key` as a BIND key file in the lab dir (0600) and returns its path. */
  tsigKeyFile(key: TsigKeySpec): string;
  /** the rndc.conf that talks to the lab's named (inside the namespace) */
  readonly rndcConfFile: string;
  rndc(args: string[]): Promise<ExecResult>;
  unboundControl(args: string[]): Promise<ExecResult>;
  namedLog(): string;
  unboundLog(): string;
  /** Stops both servers, restores resolv.conf and removes the working dir (if the lab made it). */
  stop(): Promise<void>;
}

const hostRun = (cmd: string, args: string[]): Promise<ExecResult> =>
  new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code !== 0 ? err.message : '') });
    });
  });

/**
 * resolv.conf for programs in the namespace. `trust-ad`: without it glibc (>= 2.31) clears the
 * AD bit before handing answers on. Give it to `createNetns({ resolvConf })` when processes
 * that resolve are started before the DNS lab: `ip netns exec` bind-mounts the file only if it
 * exists when the process starts.
 */
export function labResolvConf(resolvers: string[] = [RESOLVER]): string {
  return (
    `# danekeeper DNS lab\n${resolvers.map((r) => `nameserver ${r}`).join('\n')}\n` +
    'options trust-ad edns0\n'
  );
}

/** Removes work dirs of lab runs whose process is gone (killed before its stop() ran). */
function sweepStaleDirs(): void {
  for (const e of readdirSync(tmpdir())) {
    const m = /^dk-dns-(\d+)-/.exec(e);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1])))
      rmSync(join(tmpdir(), e), { recursive: true, force: true });
  }
}

/**
 * The TLSA records of dig's answer lines as `U S M hex`, sorted: dig splits long hex into
 * chunks and prints it in upper case; RRSIG lines covering TLSA are not records.
 */
export function tlsaIn(answer: string[]): string[] {
  return answer
    .filter((l) => / IN TLSA /.test(l))
    .map((l) => {
      const [u, s, m, ...hex] = l.split(' IN TLSA ')[1]!.split(' ');
      return `${u} ${s} ${m} ${hex.join('').toLowerCase()}`;
    })
    .sort();
}

export function parseDig(r: ExecResult): DigResult {
  const status = /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? '';
  const flags = (/;; flags: ([a-z ]*);/.exec(r.stdout)?.[1] ?? '').split(' ').filter(Boolean);
  const answer: string[] = [];
  let inAnswer = false;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith(';; ANSWER SECTION:')) inAnswer = true;
    else if (inAnswer && (line.trim() === '' || line.startsWith(';'))) inAnswer = false;
    else if (inAnswer) answer.push(line.replace(/\s+/g, ' ').trim());
  }
  return { ...r, status, flags, answer };
}

function viewName(address: string): string {
  return `ns-${address}`;
}

export async function startDnsLab(ns: Netns, spec: DnsLabSpec): Promise<DnsLab> {
  const t0 = Date.now();
  const ownDir = spec.dir === undefined;
  if (spec.dir === undefined) sweepStaleDirs();
  const dir = spec.dir ?? tempDir(`dk-dns-${process.pid}-`);
  mkdirSync(dir, { recursive: true });
  const timeoutMs = spec.startTimeoutMs ?? 10_000;
  const resolvers = spec.resolvers ?? [RESOLVER];
  let tree: DnsTree;
  try {
    tree = await DnsTree.build(dir, spec.zones);
  } catch (e) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  // One view per server address, holding every zone served there: primaries, secondaries.
  // External zones are only delegated to: their servers run elsewhere in the namespace.
  const served = [...tree.zones.values()].filter((z) => !z.external);
  const byAddr = new Map<string, NamedZone[]>();
  const addZone = (a: string, nz: NamedZone) => byAddr.set(a, [...(byAddr.get(a) ?? []), nz]);
  // The lab's own checks transfer every inline zone (waitFullySigned): a zone that allows
  // transfers only to some keys (or none) allows them to this one too.
  const restricted = served.some((z) => z.transferKeys !== null);
  const labXfrKey = labTsigKey('dk-lab-axfr');
  const keys = uniqueTsigKeys([
    ...(spec.tsigKeys ?? []),
    ...served.flatMap((z) => [...z.updateKeys, ...(z.transferKeys ?? [])]),
    ...(restricted ? [labXfrKey] : []),
  ]);
  for (const z of served) {
    const extra: string[] = [];
    if (z.signing === 'inline')
      extra.push(
        `dnssec-policy ${JSON.stringify(labPolicyName({ csk: z.keys.ksk === z.keys.zsk, nsec3: z.nsec3 }))};`,
        'inline-signing yes;',
        `key-directory ${JSON.stringify(z.dir)};`,
        // named signs a new zone in rounds of 10 signatures (each one a new serial, and a
        // secondary may transfer a half-signed zone): sign a lab zone in one go
        'sig-signing-signatures 100000;',
        'sig-signing-nodes 100000;',
      );
    if (z.updateKeys.length > 0)
      extra.push(
        `allow-update { ${z.updateKeys.map((k) => `key ${JSON.stringify(tsigKeyId(k))};`).join(' ')} };`,
      );
    if (z.transferKeys)
      extra.push(
        `allow-transfer { ${[...z.transferKeys, labXfrKey].map((k) => `key ${JSON.stringify(tsigKeyId(k))};`).join(' ')} };`,
      );
    for (const a of z.servers) addZone(a, { name: z.name, type: 'primary', file: z.file, extra });
    for (const a of z.secondaries)
      addZone(a, {
        name: z.name,
        type: 'secondary',
        // named writes a secondary's copy (and journal): one file per view
        file: join(z.dir, `secondary-${a.replace(/:/g, '_')}.db`),
        primaries: [z.servers[0]!],
      });
  }
  const externalAddrs = [...tree.zones.values()]
    .filter((z) => z.external)
    .flatMap((z) => z.servers);
  for (const a of [...byAddr.keys(), ...externalAddrs, ...resolvers])
    if (!ns.addresses.includes(a)) await ns.addAddress(a);
  const views: NamedView[] = [...byAddr].map(([a, zones]) => ({
    name: viewName(a),
    addresses: [a],
    zones,
  }));

  const control = { ...CONTROL, secret: randomBytes(32).toString('base64') };
  const namedConfFile = join(dir, 'named.conf');
  const rndcConfFile = join(dir, 'rndc.conf');
  const confExtra = keys.map((k) => tsigKeyText(k).trimEnd());
  if (served.some((z) => z.signing === 'inline'))
    confExtra.push(`include ${JSON.stringify(tree.policyFile)};`);
  // both hold secrets (TSIG, rndc)
  writeFileSync(namedConfFile, namedConf({ dir, views, control, extra: confExtra }), {
    mode: 0o600,
  });
  writeFileSync(rndcConfFile, rndcConf(control), { mode: 0o600 });
  const rootHintsFile = join(dir, 'root.hints');
  const trustAnchorFile = join(dir, 'root.ds');
  writeFileSync(rootHintsFile, tree.rootHints());
  writeFileSync(trustAnchorFile, tree.trustAnchor());
  const unboundLogFile = join(dir, 'unbound.log');
  const unboundConfFile = join(dir, 'unbound.conf');
  const controlSocket = join(dir, 'unbound.ctl');
  const tlds = [...tree.zones.keys()].filter((n) => /^[^.]+\.$/.test(n));
  writeFileSync(
    unboundConfFile,
    unboundConf({
      dir,
      interfaces: resolvers,
      rootHintsFile,
      trustAnchorFile,
      nodefaultZones: tlds.filter((t) => UNBOUND_DEFAULT_TLDS.has(t)),
      logFile: unboundLogFile,
      controlSocket,
    }),
  );

  // Unbound sends nothing before its first query (a static anchor needs no RFC 5011 probe),
  // so both start at once; it is only asked once named answers, or it would mark the lab's
  // servers as down (infra cache) and SERVFAIL for a while.
  const named = ns.spawn('named', ['-g', '-n', '2', '-c', namedConfFile], { label: 'named' });
  const unbound = ns.spawn('unbound', ['-d', '-c', unboundConfFile], { label: 'unbound' });
  const unboundLog = () =>
    existsSync(unboundLogFile) ? readFileSync(unboundLogFile, 'utf8') : unbound.output();

  const resolvConfFile = join('/etc/netns', ns.name, 'resolv.conf');
  let savedResolvConf: string | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // LabProcess unrefs its child and its kill timer: something must keep the event loop alive
    // while we wait, or an after() hook ends with "Promise resolution is still pending"
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      await Promise.all([named.stop(2_000), unbound.stop(2_000)]);
    } finally {
      clearInterval(keepAlive);
    }
    if (spec.resolvConf !== false) {
      try {
        if (savedResolvConf !== undefined) writeFileSync(resolvConfFile, savedResolvConf);
        else rmSync(resolvConfFile, { force: true });
      } catch {
        // the namespace (and its /etc/netns dir) may be gone already
      }
    }
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  const dig = async (args: string[], opts: ExecOptions = {}): Promise<DigResult> => {
    const at = args.some((a) => a.startsWith('@')) ? [] : [`@${resolvers[0]}`];
    const r = await ns.exec('dig', [...at, '+time=2', '+tries=1', ...args], {
      allowFail: true,
      ...opts,
    });
    return parseDig(r);
  };

  const rndc = (args: string[]) =>
    ns.exec('rndc', ['-c', rndcConfFile, ...args], { allowFail: true });
  const unboundControl = (args: string[]) =>
    hostRun('unbound-control', ['-c', unboundConfFile, ...args]);

  const primaryOf = (zone: string): LabZone => {
    const z = tree.zone(zone);
    if (z.external)
      throw new Error(`DNS lab: zone ${z.name} is external; the lab does not serve it`);
    return z;
  };
  const rndcCommand = (verb: string, zone: string, address?: string): string[] => {
    const z = primaryOf(zone);
    const a = address ?? z.servers[0]!;
    if (!zoneAddresses(z).includes(a)) throw new Error(`DNS lab: ${a} does not serve ${z.name}`);
    return ['rndc', '-c', rndcConfFile, verb, z.name, 'IN', viewName(a)];
  };
  const rndcZone = async (verb: string, zone: string, address?: string) => {
    const [, ...args] = rndcCommand(verb, zone, address);
    const r = await rndc(args);
    if (r.code !== 0)
      throw new Error(
        `rndc ${verb} ${absName(zone)} on ${address ?? primaryOf(zone).servers[0]} failed: ` +
          lastLines(r.stderr || r.stdout, 3),
      );
    return r;
  };

  const serial = async (zone: string, address: string): Promise<number | null> => {
    const r = await dig([`@${address}`, '+norec', absName(zone), 'SOA']);
    if (r.status !== 'NOERROR') return null;
    const soa = r.answer.find((l) => / IN SOA /.test(l));
    const n = soa?.split(' ')[6];
    return n === undefined ? null : Number(n);
  };

  /** Waits until `address` serves `zone` with a serial of at least `min` (and signed, if so). */
  const waitServed = async (
    z: LabZone,
    address: string,
    min: number | null,
    deadline: number,
    onIdle?: () => Promise<void>,
  ): Promise<void> => {
    let lastIdle = Date.now();
    for (;;) {
      const args = [`@${address}`, '+norec', '+dnssec', z.name, 'SOA'];
      const r = await dig(args);
      const soa = r.answer.find((l) => / IN SOA /.test(l));
      const s = soa === undefined ? null : Number(soa.split(' ')[6]);
      const signed = z.signing === 'none' || r.answer.some((l) => / IN RRSIG SOA /.test(l));
      // RFC 1982 serial arithmetic is not needed: lab serials start at 1 and only grow
      if (r.flags.includes('aa') && s !== null && signed && (min === null || s >= min)) return;
      if (Date.now() > deadline)
        throw new Error(
          `${address} does not serve ${z.name}` +
            (min === null ? '' : ` with serial ${min}`) +
            `: ${r.status || 'no answer'}${s === null ? '' : `, serial ${s}`}${signed ? '' : ', unsigned'}`,
        );
      if (onIdle && Date.now() - lastIdle > 500) {
        lastIdle = Date.now();
        await onIdle();
      }
      await sleep(20);
    }
  };

  /**
   * Waits until every authoritative RRset of an inline zone at `address` is signed. named signs
   * a newly loaded zone after serving its SOA signed: the SOA alone proves nothing.
   */
  const waitFullySigned = async (z: LabZone, address: string, deadline: number) => {
    for (;;) {
      const key = z.transferKeys
        ? ['-k', writeTsigKeyFile(join(dir, 'lab-axfr.key'), labXfrKey)]
        : [];
      const r = await ns.exec(
        'dig',
        [...key, `@${address}`, '+time=2', '+tries=1', z.name, 'AXFR'],
        { allowFail: true },
      );
      const sets = new Set<string>();
      const sigs = new Set<string>();
      const cuts = new Set<string>();
      for (const line of r.stdout.split('\n')) {
        const t = line.trim().split(/\s+/);
        if (line.startsWith(';') || t.length < 5) continue;
        const owner = t[0]!.toLowerCase();
        const type = t[3]!.toUpperCase();
        // the lab key's signature on the transfer (transferKeys), not zone data
        if (type === 'TSIG') continue;
        if (type === 'RRSIG') sigs.add(`${owner} ${t[4]!.toUpperCase()}`);
        else if (type === 'NS' && owner !== z.name) cuts.add(owner);
        else sets.add(`${owner} ${type}`);
      }
      // RFC 4035 §2.2: everything authoritative is signed; delegation NS and glue are not
      const below = (o: string) => [...cuts].some((c) => o === c || o.endsWith(`.${c}`));
      const unsigned = [...sets].filter((k) => {
        const [o, t] = k.split(' ') as [string, string];
        return !sigs.has(k) && !(below(o) && t !== 'DS');
      });
      if (sets.size > 0 && unsigned.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `${address} does not serve ${z.name} fully signed: ${unsigned.slice(0, 3).join(', ') || r.stderr.trim() || 'no AXFR'}`,
        );
      await sleep(50);
    }
  };

  /** Secondaries catch up: retransfer, then wait for the primary's serial. */
  const refreshSecondary = async (zone: string, deadline = Date.now() + 10_000) => {
    const z = primaryOf(zone);
    const want = await serial(z.name, z.servers[0]!);
    if (want === null) throw new Error(`${z.servers[0]} serves no SOA for ${z.name}`);
    await Promise.all(
      z.secondaries.map(async (a) => {
        await rndcZone('retransfer', z.name, a);
        // a transfer that raced a change on the primary ends a serial behind: ask again
        await waitServed(z, a, want, deadline, async () => {
          await rndcZone('retransfer', z.name, a);
        });
      }),
    );
  };

  const fail = async (what: string): Promise<never> => {
    const nlog = lastLines(named.output(), 8);
    const ulog = lastLines(unboundLog(), 8);
    await stop().catch(() => {});
    throw new Error(
      `Starting the DNS lab in ${ns.name} failed: ${what}\n  named: ${nlog || '(no output)'}` +
        `\n  unbound: ${ulog || '(no output)'}`,
    );
  };

  try {
    const deadline = t0 + timeoutMs;
    // named -g ends a line with "running" once every zone is loaded (or failed to load); its
    // first lines say "running on Linux ...", which is no sign of anything
    while (!/ running$/m.test(named.output())) {
      if (named.exitCode() !== null) await fail(`named exited ${named.exitCode()}`);
      if (unbound.exitCode() !== null) await fail(`unbound exited ${unbound.exitCode()}`);
      if (Date.now() > deadline) await fail('named did not report "running"');
      await sleep(20);
    }
    const loadErr =
      /zone (\S+): (not loaded due to errors|loading from master file .* failed.*)/.exec(
        named.output(),
      );
    if (loadErr) await fail(`zone ${loadErr[1]} ${loadErr[2]}`);
    // Offline zones are served once loaded: one SOA per address proves the view. Inline zones
    // are signed by named after loading: wait for the signed SOA. Secondaries: wait for the
    // primary's serial, asking for a transfer again if the first one came before the signing.
    const firstOffline = new Map<string, LabZone>();
    for (const z of served)
      for (const a of z.servers)
        if (z.signing !== 'inline' && !firstOffline.has(a)) firstOffline.set(a, z);
    const waits: Promise<void>[] = [];
    for (const [a, z] of firstOffline) waits.push(waitServed(z, a, null, deadline));
    for (const z of served)
      if (z.signing === 'inline' || z.secondaries.length > 0)
        waits.push(
          (async () => {
            if (z.signing === 'inline') {
              await waitServed(z, z.servers[0]!, null, deadline);
              await waitFullySigned(z, z.servers[0]!, deadline);
            }
            if (z.secondaries.length > 0) await refreshSecondary(z.name, deadline);
          })(),
        );
    const results = await Promise.allSettled(waits);
    const bad = results.find((r) => r.status === 'rejected');
    if (bad) await fail(String((bad as PromiseRejectedResult).reason?.message ?? bad));
    // The lab root's DNSKEY with AD proves Unbound runs, reaches the root and validates with the
    // lab anchor.
    for (const res of resolvers) {
      for (;;) {
        const r = await dig([`@${res}`, '+dnssec', '.', 'DNSKEY']);
        if (r.status === 'NOERROR' && r.flags.includes('ad')) break;
        if (r.status !== '' && r.status !== 'NOERROR')
          await fail(`Unbound on ${res} answered the root DNSKEY query with ${r.status}`);
        if (r.status === 'NOERROR')
          await fail(`Unbound on ${res} does not validate the lab root (no AD on its DNSKEY)`);
        if (unbound.exitCode() !== null) await fail(`unbound exited ${unbound.exitCode()}`);
        if (Date.now() > deadline) await fail(`Unbound on ${res} does not answer`);
        await sleep(20);
      }
    }
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }

  if (spec.resolvConf !== false) {
    mkdirSync(join('/etc/netns', ns.name), { recursive: true });
    if (existsSync(resolvConfFile)) savedResolvConf = readFileSync(resolvConfFile, 'utf8');
    writeFileSync(resolvConfFile, labResolvConf(resolvers));
  }

  /**
   * Rewrites zone `z` through the tree and makes its primary serve it: offline and static zones
   * by `rndc reload`; dynamic zones by freeze (named writes out its journal), write, thaw.
   * Inline and dynamic zones are served with serials named moved on (updates, signing), so the
   * tree's serial is first put above the served one.
   */
  const rewriteZone = async (z: LabZone, write: (minSerial: number) => Promise<unknown>) => {
    const live = z.signing === 'inline' || z.updateKeys.length > 0;
    const floor = live ? ((await serial(z.name, z.servers[0]!)) ?? 0) : 0;
    const dynamic = z.updateKeys.length > 0;
    if (dynamic) await rndcZone('freeze', z.name);
    try {
      await write(floor);
    } finally {
      if (dynamic) await rndcZone('thaw', z.name);
    }
    if (!dynamic) for (const a of z.servers) await rndcZone('reload', z.name, a);
    // rndc reload returns before the load ends: wait until every primary serves the new serial
    const deadline = Date.now() + 5_000;
    for (const a of z.servers) await waitServed(z, a, z.serial, deadline);
  };

  const flushResolver = async (zone?: string) => {
    // flush_zone drops RRsets, messages and validated keys at and below the name; verdicts and
    // negative answers live in caches of their own; infra holds "server is down" memories
    const cmds = [['flush_zone', absName(zone ?? '.')], ['flush_bogus'], ['flush_negative']];
    if (zone === undefined) cmds.push(['flush_infra', 'all']);
    else {
      const z = tree.zones.get(absName(zone));
      for (const a of z ? zoneAddresses(z) : []) cmds.push(['flush_infra', a]);
    }
    for (const c of cmds) {
      const r = await unboundControl(c);
      if (r.code !== 0)
        throw new Error(`Flushing the lab resolver failed: ${lastLines(r.stderr || r.stdout, 3)}`);
    }
  };

  const tsigKeyFile = (key: TsigKeySpec): string =>
    writeTsigKeyFile(join(dir, `tsig-${tsigKeyId(key).replace(/[^a-z0-9.-]/g, '_')}.key`), key);

  const nsupdate = async (o: NsupdateOptions): Promise<NsupdateResult> => {
    const zone = o.zone === undefined ? undefined : absName(o.zone);
    const server = o.server ?? (zone ? primaryOf(zone).servers[0]! : undefined);
    if (server === undefined) throw new Error('DNS lab: nsupdate needs a server or a zone');
    const script = [
      `server ${server} 53`,
      ...(zone ? [`zone ${zone}`] : []),
      ...o.commands,
      'send',
      'answer',
      '',
    ].join('\n');
    const args = o.key ? ['-k', tsigKeyFile(o.key)] : [];
    const r = await ns.exec('nsupdate', ['-t', '3', ...args], { input: script, allowFail: true });
    const failed = /update failed: ([A-Z]+)/.exec(r.stderr + r.stdout)?.[1];
    const answered = /status: ([A-Z]+)/.exec(r.stdout)?.[1];
    const rcode = r.code === 0 ? (answered ?? 'NOERROR') : (failed ?? answered ?? '');
    return { ...r, rcode };
  };

  const fileSerial = (file: string): number | null => {
    // the SOA's third field, across a parenthesised multi-line SOA; comments dropped
    const text = readFileSync(file, 'utf8').replace(/;[^\n]*/g, '');
    const m = /\sSOA\s+\S+\s+\S+\s+\(?\s*(\d+)/i.exec(text);
    return m ? Number(m[1]) : null;
  };

  return {
    ns,
    dir,
    resolver: resolvers[0]!,
    resolvers,
    tree,
    startMs: Date.now() - t0,
    rndcConfFile,
    zone: (name) => tree.zone(name),
    dig,
    async setRecords(zone, records) {
      await rewriteZone(primaryOf(zone), (min) => tree.setRecords(zone, records, min));
    },
    async addRecords(zone, records) {
      const z = primaryOf(zone);
      await rewriteZone(z, (min) => tree.setRecords(zone, [...z.records, ...records], min));
    },
    async setDs(zone, ds) {
      const parent = tree.zone(tree.zone(zone).parent ?? '.');
      await rewriteZone(parent, (min) => tree.setDs(zone, ds, min));
      await flushResolver(zone);
    },
    flushResolver,
    async reloadZone(zone) {
      const z = primaryOf(zone);
      if (z.updateKeys.length > 0)
        throw new Error(
          `DNS lab: ${z.name} is dynamic; rndc freeze before editing its file, rndc thaw after`,
        );
      const inFile = fileSerial(z.file);
      // named serves an inline zone with a serial of its own (it bumps it when it signs):
      // wait for one above what it served before; else for the file's
      const before = z.signing === 'inline' ? await serial(z.name, z.servers[0]!) : null;
      const want = before === null ? inFile : Math.max(before + 1, inFile ?? 0);
      await rndcZone('reload', z.name);
      try {
        await waitServed(z, z.servers[0]!, want, Date.now() + 5_000);
      } catch (e) {
        throw new Error(
          `${(e as Error).message} (was the SOA serial in ${z.file} bumped? it reads ${inFile})`,
        );
      }
      if (inFile !== null) z.serial = Math.max(z.serial, inFile);
    },
    rndcCommand,
    reloadCommand: (zone) => rndcCommand('reload', zone),
    serial,
    refreshSecondary: (zone) => refreshSecondary(zone),
    nsupdate,
    tsigKeyFile,
    rndc,
    unboundControl,
    namedLog: () => named.output(),
    unboundLog,
    stop,
  };
}
