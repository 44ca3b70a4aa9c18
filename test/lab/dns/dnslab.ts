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
import { namedConf, rndcConf, unboundConf, UNBOUND_DEFAULT_TLDS, type NamedView } from './conf.js';
import { absName, DnsTree, type LabZone, type RecordSpec, type ZoneSpec } from './tree.js';

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
  /** Replaces a zone's records, re-signs it with the same keys and reloads it everywhere. */
  setRecords(zone: string, records: RecordSpec[]): Promise<void>;
  addRecords(zone: string, records: RecordSpec[]): Promise<void>;
  /**
   * Drops what Unbound cached at and below `zone`, with every bogus verdict and negative answer;
   * without a zone, everything (and what it remembers about unreachable servers).
   */
  flushResolver(zone?: string): Promise<void>;
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

  // One view per server address, holding every zone served there.
  const byAddr = new Map<string, LabZone[]>();
  for (const z of tree.zones.values())
    for (const a of z.servers) byAddr.set(a, [...(byAddr.get(a) ?? []), z]);
  for (const a of [...byAddr.keys(), ...resolvers])
    if (!ns.addresses.includes(a)) await ns.addAddress(a);
  const views: NamedView[] = [...byAddr].map(([a, zs]) => ({
    name: viewName(a),
    addresses: [a],
    zones: zs.map((z) => ({ name: z.name, type: 'primary', file: z.file })),
  }));

  const control = { ...CONTROL, secret: randomBytes(32).toString('base64') };
  const namedConfFile = join(dir, 'named.conf');
  const rndcConfFile = join(dir, 'rndc.conf');
  writeFileSync(namedConfFile, namedConf({ dir, views, control }));
  writeFileSync(rndcConfFile, rndcConf(control));
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
    await Promise.all(
      [...byAddr].map(async ([a, zs]) => {
        const z = zs[0]!;
        for (;;) {
          const r = await dig([`@${a}`, '+norec', z.name, 'SOA']);
          if (r.status === 'NOERROR' && r.flags.includes('aa')) return;
          // named is running, so any rcode is final; only silence is worth a retry
          if (r.status !== '' || Date.now() > deadline)
            await fail(`${a} does not serve ${z.name}: ${r.status || lastLines(r.stdout, 1)}`);
          await sleep(20);
        }
      }),
    );
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

  const rndc = (args: string[]) =>
    ns.exec('rndc', ['-c', rndcConfFile, ...args], { allowFail: true });
  const unboundControl = (args: string[]) =>
    hostRun('unbound-control', ['-c', unboundConfFile, ...args]);

  const reloadZones = async (zs: LabZone[]) => {
    for (const z of zs)
      for (const a of z.servers) {
        const r = await rndc(['reload', z.name, 'IN', viewName(a)]);
        if (r.code !== 0)
          throw new Error(
            `Reloading ${z.name} on ${a} failed: ${lastLines(r.stderr || r.stdout, 3)}`,
          );
      }
    // rndc reload returns before the load ends: wait until every server serves the new serial
    const deadline = Date.now() + 5_000;
    for (const z of zs)
      for (const a of z.servers)
        for (;;) {
          const r = await dig([`@${a}`, '+norec', '+short', z.name, 'SOA']);
          if (r.stdout.trim().split(/\s+/)[2] === String(z.serial)) break;
          if (Date.now() > deadline)
            throw new Error(`Reloading ${z.name} on ${a} failed: serial ${z.serial} not served`);
          await sleep(20);
        }
  };

  const flushResolver = async (zone?: string) => {
    // flush_zone drops RRsets, messages and validated keys at and below the name; verdicts and
    // negative answers live in caches of their own; infra holds "server is down" memories
    const cmds = [['flush_zone', absName(zone ?? '.')], ['flush_bogus'], ['flush_negative']];
    if (zone === undefined) cmds.push(['flush_infra', 'all']);
    for (const c of cmds) {
      const r = await unboundControl(c);
      if (r.code !== 0)
        throw new Error(`Flushing the lab resolver failed: ${lastLines(r.stderr || r.stdout, 3)}`);
    }
  };

  return {
    ns,
    dir,
    resolver: resolvers[0]!,
    resolvers,
    tree,
    startMs: Date.now() - t0,
    zone: (name) => tree.zone(name),
    dig,
    async setRecords(zone, records) {
      await reloadZones(await tree.setRecords(zone, records));
    },
    async addRecords(zone, records) {
      await reloadZones(await tree.setRecords(zone, [...tree.zone(zone).records, ...records]));
    },
    flushResolver,
    rndc,
    unboundControl,
    namedLog: () => named.output(),
    unboundLog,
    stop,
  };
}
