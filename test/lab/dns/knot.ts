/**
 * Knot DNS (knotd 3.2) for the lab: its own address in a lab namespace, zones it signs itself
 * (`dnssec-signing: on`, an automatic ECDSAP256SHA256 policy without rollovers) and TSIG keys
 * allowed to update them (RFC 2136), so their DS can go into the lab's parent as external zones:
 *
 *   const upd = labTsigKey('dk-knot');
 *   const knot = await startKnot(ns, { zones: [{ name: 'knot.test' }], updateKeys: [upd] });
 *   const lab = await startDnsLab(ns, { zones: [
 *     { name: 'knot.test', servers: [knot.address], external: { ds: knot.zone('knot.test').ds } },
 *   ] });
 *
 * Every zone gets NS `ns1.<zone>` with an A record of the server's address, matching the lab's
 * delegation. Config, zone files, KASP database and journal live in a 0700 temp dir. `deniedKeys`
 * are keys knotd knows, with an ACL rule that denies them updates: Knot answers those (as any
 * ACL denial of a signed request) with NOTAUTH and TSIG error BADKEY, not REFUSED.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../../support/pki.js';
import {
  lastLines,
  pidAlive,
  sleep,
  type ExecResult,
  type LabProcess,
  type Netns,
} from '../netns.js';
import { tsigKeyId, type TsigKeySpec } from './tsig.js';

export const KNOT_ADDRESS = '127.0.55.1';

export interface KnotZoneSpec {
  /** `knot.test` (trailing dot optional) */
  name: string;
  /** extra lines in zone-file syntax relative to the zone, e.g. `www 300 IN A 127.0.10.1` */
  records?: string[];
  /** default TTL and the SOA's; default 300 */
  ttl?: number;
  /** sign it (automatic policy); default true */
  signed?: boolean;
}

export interface KnotSpec {
  zones: KnotZoneSpec[];
  /** default 127.0.55.1 */
  address?: string;
  /** TSIG keys allowed to update every zone */
  updateKeys: TsigKeySpec[];
  /** TSIG keys knotd knows, denied updates by an ACL rule */
  deniedKeys?: TsigKeySpec[];
  /**
   * TSIG keys allowed to transfer every zone (AXFR; `acl` with `action: transfer`). Knot allows
   * no transfer without such a rule.
   */
  transferKeys?: TsigKeySpec[];
  /** default 10 s */
  startTimeoutMs?: number;
}

export interface KnotZone {
  name: string;
  address: string;
  /** DS RDATA (`tag 13 2 hex`, SHA-256) of the KSK, for the parent; [] when unsigned */
  ds: string[];
}

export interface KnotServer {
  readonly ns: Netns;
  readonly address: string;
  readonly dir: string;
  readonly confFile: string;
  /** how long the start took, in ms */
  readonly startMs: number;
  zone(name: string): KnotZone;
  /** `knotc -c conf ...` (on the host: it talks to the control socket in `dir`) */
  knotc(args: string[]): Promise<ExecResult>;
  output(): string;
  /** stops it and removes its directory */
  stop(): Promise<void>;
}

const abs = (n: string) => (n.endsWith('.') ? n.toLowerCase() : `${n.toLowerCase()}.`);
const q = (s: string) => JSON.stringify(s);

function run(cmd: string, args: string[]): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code !== 0 ? err.message : '') });
    });
  });
}

function sweepStaleDirs(): void {
  for (const e of readdirSync(tmpdir())) {
    const m = /^dk-knot-(\d+)-/.exec(e);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1])))
      rmSync(join(tmpdir(), e), { recursive: true, force: true });
  }
}

/** knot.conf (YAML). Knot's key ids are its TSIG key names. */
export function knotConf(o: {
  dir: string;
  address: string;
  zones: { name: string; file: string; signed: boolean }[];
  updateKeys: TsigKeySpec[];
  deniedKeys: TsigKeySpec[];
  transferKeys?: TsigKeySpec[];
}): string {
  const transfer = o.transferKeys ?? [];
  // one `key:` entry per key, however many rules name it
  const keys = [...o.deniedKeys, ...o.updateKeys, ...transfer].filter(
    (k, i, all) => all.findIndex((x) => tsigKeyId(x) === tsigKeyId(k)) === i,
  );
  const acls = [
    // Knot evaluates ACL rules in order; the first that matches address and key decides
    ...o.deniedKeys.map((k) => ({
      id: `deny-${tsigKeyId(k)}`,
      key: tsigKeyId(k),
      deny: true,
      action: 'update',
    })),
    ...o.updateKeys.map((k) => ({
      id: `update-${tsigKeyId(k)}`,
      key: tsigKeyId(k),
      deny: false,
      action: 'update',
    })),
    ...transfer.map((k) => ({
      id: `transfer-${tsigKeyId(k)}`,
      key: tsigKeyId(k),
      deny: false,
      action: 'transfer',
    })),
  ];
  return [
    '# danekeeper DNS lab: written by test/lab/dns/knot.ts',
    'server:',
    `    rundir: ${q(o.dir)}`,
    `    pidfile: ${q(join(o.dir, 'knot.pid'))}`,
    `    listen: ${o.address}@53`,
    // two cores shared by everything in the lab
    '    udp-workers: 1',
    '    tcp-workers: 2',
    '    background-workers: 1',
    'log:',
    '  - target: stderr',
    '    any: info',
    'database:',
    `    storage: ${q(join(o.dir, 'db'))}`,
    'control:',
    `    listen: ${q(join(o.dir, 'knot.sock'))}`,
    ...(keys.length > 0 ? ['key:'] : []),
    ...keys.flatMap((k) => [
      `  - id: ${tsigKeyId(k)}`,
      `    algorithm: ${k.algorithm}`,
      `    secret: ${k.secret}`,
    ]),
    ...(acls.length > 0 ? ['acl:'] : []),
    ...acls.flatMap((a) => [
      `  - id: ${a.id}`,
      `    key: ${a.key}`,
      `    action: ${a.action}`,
      ...(a.deny ? ['    deny: on'] : []),
    ]),
    'policy:',
    '  - id: lab',
    '    algorithm: ecdsap256sha256',
    // no rollovers while a test runs; a DNSKEY TTL as short as the lab's other zones
    '    ksk-lifetime: 0',
    '    zsk-lifetime: 0',
    '    dnskey-ttl: 300',
    '    nsec3: off',
    'zone:',
    ...o.zones.flatMap((z) => [
      `  - domain: ${q(z.name)}`,
      `    storage: ${q(o.dir)}`,
      `    file: ${q(z.file)}`,
      `    dnssec-signing: ${z.signed ? 'on' : 'off'}`,
      ...(z.signed ? ['    dnssec-policy: lab'] : []),
      ...(acls.length > 0 ? [`    acl: [${acls.map((a) => a.id).join(', ')}]`] : []),
    ]),
    '',
  ].join('\n');
}

export async function startKnot(ns: Netns, spec: KnotSpec): Promise<KnotServer> {
  const t0 = Date.now();
  sweepStaleDirs();
  const dir = tempDir(`dk-knot-${process.pid}-`);
  chmodSync(dir, 0o700);
  mkdirSync(join(dir, 'db'));
  const address = spec.address ?? KNOT_ADDRESS;
  const timeoutMs = spec.startTimeoutMs ?? 10_000;
  const zones = new Map<string, KnotZone & { signed: boolean; file: string }>();
  for (const z of spec.zones) {
    const name = abs(z.name);
    const ttl = z.ttl ?? 300;
    const file = `${name}zone`;
    writeFileSync(
      join(dir, file),
      [
        `$ORIGIN ${name}`,
        `$TTL ${ttl}`,
        `@ ${ttl} IN SOA ns1 hostmaster 1 3600 600 86400 60`,
        '@ IN NS ns1',
        `ns1 IN A ${address}`,
        ...(z.records ?? []),
        '',
      ].join('\n'),
    );
    zones.set(name, { name, address, ds: [], signed: z.signed !== false, file });
  }
  const confFile = join(dir, 'knot.conf');
  writeFileSync(
    confFile,
    knotConf({
      dir,
      address,
      zones: [...zones.values()],
      updateKeys: spec.updateKeys,
      deniedKeys: spec.deniedKeys ?? [],
      transferKeys: spec.transferKeys ?? [],
    }),
    { mode: 0o600 },
  );
  if (!ns.addresses.includes(address)) await ns.addAddress(address);

  const proc: LabProcess = ns.spawn('knotd', ['-c', confFile], { label: `knotd@${address}` });
  const halt = async () => {
    if (proc.exitCode() !== null) return;
    // LabProcess unrefs its child: keep the loop alive while waiting
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      await proc.stop(2_000);
    } finally {
      clearInterval(keepAlive);
    }
  };
  const fail = async (what: string): Promise<never> => {
    const out = lastLines(proc.output(), 6) || '(no output)';
    await halt();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Starting Knot in ${ns.name} failed: ${what}: ${out}`);
  };
  const knotc = (args: string[]) => run('knotc', ['-c', confFile, ...args]);

  // ready: every zone answers authoritatively, signed zones with their DNSKEY RRset
  const deadline = Date.now() + timeoutMs;
  for (const z of zones.values()) {
    for (;;) {
      if (proc.exitCode() !== null) await fail(`knotd exited ${proc.exitCode()}`);
      const r = await ns.exec(
        'dig',
        [`@${address}`, '+norec', '+time=1', '+tries=1', z.name, z.signed ? 'DNSKEY' : 'SOA'],
        { allowFail: true },
      );
      if (
        /status: NOERROR/.test(r.stdout) &&
        /flags: [^;]*\baa\b/.test(r.stdout) &&
        /ANSWER: [1-9]/.test(r.stdout)
      )
        break;
      if (Date.now() > deadline) await fail(`${z.name} is not served`);
      await sleep(20);
    }
    if (z.signed) {
      // `knot.test. DS 12345 13 2 abcd...` per KSK and digest type; the parent gets SHA-256
      const r = await run('keymgr', ['-c', confFile, z.name, 'ds']);
      z.ds = r.stdout
        .split('\n')
        .map((l) => /\sDS\s+(\d+ \d+ 2 [0-9a-fA-F]+)/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined);
      if (z.ds.length === 0)
        await fail(`keymgr ds ${z.name}: ${lastLines(r.stderr || r.stdout, 3)}`);
    }
  }

  return {
    ns,
    address,
    dir,
    confFile,
    startMs: Date.now() - t0,
    zone(name) {
      const z = zones.get(abs(name));
      if (!z) throw new Error(`Knot lab: no zone ${name}`);
      return { name: z.name, address: z.address, ds: z.ds };
    },
    knotc,
    output: () => proc.output(),
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
