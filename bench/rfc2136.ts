/**
 * Benchmark: 1,000 TLSA changes at 1,000 different owners through the rfc2136 publisher (one
 * guarded, TSIG-signed UPDATE per change over TCP, as the tool makes them), next to `nsupdate`
 * making the same changes with the same guard in the same run, against BIND 9 serving an
 * inline-signed, TSIG-updatable lab zone (every update is signed by named at once). Wall time,
 * medians of several rounds; every record is removed again and the zone checked empty of TLSA.
 * Needs root (the lab).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { callInNetns } from '../test/support/netns-call.js';
import { tempDir } from '../test/support/pki.js';
import { labTsigKey, startDnsLab, writeTsigKeyFile } from '../test/lab/dns/dnslab.js';
import { createNetns, labAvailable } from '../test/lab/netns.js';
import type { DriverOpts } from '../test/lab/publish-rfc2136-driver.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_CHANGES ?? 1000);
/** nsupdate started once per change: costly, so a sample of this many changes */
const PER_PROCESS = Number(process.env.BENCH_NSUPDATE_PROCESSES ?? 100);
const ZONE = 'bench.test.';
const DATA = 'ab'.repeat(32);
const RECORD = `3 1 1 ${DATA}`;
const TTL = 300;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const lab0 = labAvailable();
if (!lab0.ok) {
  console.log(`bench/rfc2136.ts: not run: ${lab0.reason}`);
  process.exit(0);
}

const ns = await createNetns();
const key = labTsigKey('dk-bench', 'hmac-sha256');
const lab = await startDnsLab(ns, {
  zones: [{ name: ZONE, signing: 'inline', updateKeys: [key] }],
});
const dir = tempDir(`dk-bench-rfc2136-${process.pid}-`);
const keyFile = writeTsigKeyFile(join(dir, 'bench.key'), key);
try {
  const host = lab.zone(ZONE).servers[0]!;
  const owners = (round: number, tool: string) =>
    Array.from({ length: N }, (_, i) => `_25._tcp.${tool}${round}-${i}.${ZONE}`);
  const o: DriverOpts = { zone: ZONE, host, keyFile, timeoutMs: 10_000 };

  /** the same changes as the publisher makes: prerequisite, then add or delete */
  const script = (names: string[], op: 'add' | 'delete') =>
    [
      `server ${host} 53`,
      `zone ${ZONE}`,
      ...names.flatMap((n) =>
        op === 'add'
          ? [`prereq nxrrset ${n} TLSA`, `update add ${n} ${TTL} TLSA ${RECORD}`, 'send']
          : [`prereq yxrrset ${n} TLSA ${RECORD}`, `update delete ${n} TLSA ${RECORD}`, 'send'],
      ),
      '',
    ].join('\n');
  // async: named runs with -g and its log goes through a pipe to this process; a blocking
  // spawnSync would stop draining it and named would stall mid-update
  const nsupdate = async (input: string, tcp: boolean): Promise<number> => {
    const t = process.hrtime.bigint();
    const r = await ns.exec('nsupdate', [...(tcp ? ['-v'] : []), '-k', keyFile], {
      input,
      timeoutMs: 600_000,
      allowFail: true,
    });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.code !== 0) throw new Error(`nsupdate failed: ${(r.stderr || r.stdout).slice(0, 300)}`);
    return ms;
  };

  const dkAdd: number[] = [];
  const dkRemove: number[] = [];
  const dkCall: number[] = [];
  const nuAdd: number[] = [];
  const nuRemove: number[] = [];
  const nuTcpAdd: number[] = [];
  const nuTcpRemove: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runDk = async () => {
      const t = process.hrtime.bigint();
      const r = await callInNetns<{ addMs: number; removeMs: number }>(
        ns,
        'test/lab/publish-rfc2136-driver.ts',
        'bench',
        [o, owners(round, 'dk'), RECORD, TTL],
        { timeoutMs: 600_000 },
      );
      dkCall.push(Number(process.hrtime.bigint() - t) / 1e6);
      dkAdd.push(r.addMs);
      dkRemove.push(r.removeMs);
    };
    const runNu = async () => {
      const names = owners(round, 'nu');
      nuAdd.push(await nsupdate(script(names, 'add'), false));
      nuRemove.push(await nsupdate(script(names, 'delete'), false));
      const tnames = owners(round, 'nt');
      nuTcpAdd.push(await nsupdate(script(tnames, 'add'), true));
      nuTcpRemove.push(await nsupdate(script(tnames, 'delete'), true));
    };
    // alternate who goes first: the zone grows and named's journal with it
    if (round % 2 === 0) {
      await runDk();
      await runNu();
    } else {
      await runNu();
      await runDk();
    }
  }

  // nsupdate once per change (what a script calling nsupdate per record does): a sample
  const sample = owners(0, 'np').slice(0, PER_PROCESS);
  let perProcess = 0;
  for (const n of sample) perProcess += await nsupdate(script([n], 'add'), false);
  for (const n of sample) perProcess += await nsupdate(script([n], 'delete'), false);
  const perProcessEach = perProcess / (2 * sample.length);

  // everything removed: no TLSA left in the zone
  const axfr = await lab.dig([
    `@${host}`,
    '-y',
    `hmac-sha256:${key.name}:${key.secret}`,
    ZONE,
    'AXFR',
  ]);
  const left = axfr.stdout.split('\n').filter((l) => /\sTLSA\s/.test(l)).length;
  if (!/XFR size/.test(axfr.stdout))
    throw new Error(`AXFR of ${ZONE} failed: ${axfr.stdout.slice(0, 200)}`);

  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms`;
  const per = (xs: number[]) => `${((median(xs) / N) * 1000).toFixed(0)} µs/change`;
  console.log(
    `rfc2136: ${N} TLSA changes at ${N} owners, BIND ${spawnSync('named', ['-v'], { encoding: 'utf8' }).stdout.trim().split(' ')[1]} inline-signed zone, TSIG hmac-sha256; ${ROUNDS} rounds, medians, wall time`,
  );
  console.log(
    '  method: each change is one UPDATE with its guard as prerequisite (add: nxrrset; remove: yxrrset value-dependent), sent and answered before the next;',
  );
  console.log(
    '          danekeeper timed inside one node process (publisher.apply per change, TCP, a connection each); nsupdate one process reading all changes, one `send` each',
  );
  const row = (label: string, add: number[], rm: number[]) =>
    console.log(
      `  ${label.padEnd(44)} add ${f(add).padStart(8)} (${per(add)})   remove ${f(rm).padStart(8)} (${per(rm)})`,
    );
  row('danekeeper rfc2136 publisher (TCP):', dkAdd, dkRemove);
  row('nsupdate -k, one process (UDP):', nuAdd, nuRemove);
  row('nsupdate -v -k, one process (TCP):', nuTcpAdd, nuTcpRemove);
  console.log(`  danekeeper incl. node + tsx start-up (add + remove): ${f(dkCall)}`);
  console.log(
    `  nsupdate, one process per change (${2 * sample.length} changes sampled): ${perProcessEach.toFixed(1)} ms/change -> ${((perProcessEach * N) / 1000).toFixed(1)} s per ${N}`,
  );
  const dk = median(dkAdd) + median(dkRemove);
  console.log(
    `  ratio danekeeper / nsupdate (add + remove): UDP ${(dk / (median(nuAdd) + median(nuRemove))).toFixed(2)}, TCP ${(dk / (median(nuTcpAdd) + median(nuTcpRemove))).toFixed(2)}`,
  );
  console.log(
    `  rounds (ms, add/remove): danekeeper ${dkAdd.map((x, i) => `${x.toFixed(0)}/${dkRemove[i]!.toFixed(0)}`).join(' ')}; nsupdate ${nuAdd.map((x, i) => `${x.toFixed(0)}/${nuRemove[i]!.toFixed(0)}`).join(' ')}; nsupdate -v ${nuTcpAdd.map((x, i) => `${x.toFixed(0)}/${nuTcpRemove[i]!.toFixed(0)}`).join(' ')}`,
  );
  console.log(`  afterwards: ${left} TLSA records left in ${ZONE} (AXFR)`);
  if (left !== 0) process.exitCode = 1;
} finally {
  const keepAlive = setInterval(() => {}, 1_000);
  try {
    await lab.stop();
    await ns.destroy();
  } finally {
    clearInterval(keepAlive);
  }
  spawnSync('rm', ['-rf', dir]);
}
