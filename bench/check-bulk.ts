/**
 * Benchmark: `danekeeper check --file` over a generated lab of mail domains (default 1,200;
 * test/lab/dns/bulk-tree.ts: a signed zone tree, most domains on 12 shared MX hosts over 6
 * Postfix listeners, the rest insecure, bogus, without MX), domains per second and peak
 * memory (max RSS from /usr/bin/time), next to a `posttls-finger` loop over the same domains
 * in the same run, and every verdict compared with the single-domain check's (`check DOMAIN`'s
 * code path, runCheck, one domain at a time with nothing shared). Medians of several rounds.
 *
 * posttls-finger takes one domain per process and talks to one MX host: the loop is timed on
 * a sample (every Nth domain, the same mix) and extrapolated, as the output says. Needs root
 * (the lab) and a build (`npm run build`; DK_BENCH_CLI points at another build).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBulkLab } from '../test/lab/dns/bulk-tree.js';
import type { SingleCheck } from '../test/lab/check-bulk-driver.js';
import { labAvailable } from '../test/lab/netns.js';
import { postfixClientEnv } from '../test/lab/postfix.js';
import { callInNetns } from '../test/support/netns-call.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 1200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * posttls-finger is timed on every SAMPLE-th domain; 7 is prime to the generator's period of 20
 * (bulk-tree.ts), so the sample holds every kind of domain in the list's proportions
 */
const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 7);
const cli = process.env.DK_BENCH_CLI ?? join(root, 'dist', 'cli', 'main.js');
/**
 * Another build to time in the same rounds, alternating with this one (e.g. the build of an
 * earlier commit: `DK_BUILD_OUT=/tmp/old node scripts/build.mjs` there): before and after from
 * the same machine state, whatever the neighbours do. Its verdicts are compared too.
 */
const other = process.env.DK_BENCH_COMPARE;

/** clock ticks per second of /proc's CPU times (sysconf(_SC_CLK_TCK)); 100 on Linux */
const CLK_TCK =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const lab0 = labAvailable();
if (!lab0.ok) {
  console.log(`bench/check-bulk.ts: not run: ${lab0.reason}`);
  process.exit(0);
}
if (!existsSync(cli)) throw new Error(`${cli}: run \`npm run build\` first (npm run bench does)`);
if (other !== undefined && !existsSync(other)) throw new Error(`${other}: no such build`);

const lab = await startBulkLab({ domains: DOMAINS });
try {
  const inNs = (...args: string[]) => ['ip', 'netns', 'exec', lab.ns.name, ...args];
  const names = lab.domains.map((d) => d.domain);

  /**
   * CPU time so far (ms, user + system, children reaped included) of the lab's servers, by
   * program: what the same 2 cores spend answering us. A server child that exits during a run
   * moves its whole time into its parent's children time, and its time before the run was in
   * the earlier snapshot under its own pid: the difference counts only the run.
   */
  const POSTFIX = /^(master|smtpd|tlsmgr|postlogd|pickup|qmgr|anvil|proxymap|scache|cleanup)$/;
  const serverCpu = (): Map<string, number> => {
    const pids = spawnSync('ip', ['netns', 'pids', lab.ns.name], { encoding: 'utf8' }).stdout;
    const out = new Map<string, number>();
    for (const pid of pids.split('\n').filter((x) => x !== '')) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // proc(5): after the name, fields 3.. ; utime stime cutime cstime are fields 14-17
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = [11, 12, 13, 14].reduce((a, i) => a + Number(f[i]), 0);
      const group = POSTFIX.test(comm) ? 'postfix' : comm;
      out.set(group, (out.get(group) ?? 0) + ticks * (1000 / CLK_TCK));
    }
    return out;
  };

  /** one `check --file` run: wall ms, max RSS in MB, the verdict of each domain */
  const bulk = (entry = cli, list = lab.listFile) => {
    const cpu0 = serverCpu();
    const t = process.hrtime.bigint();
    const cmd = inNs(
      '/usr/bin/time',
      '-f',
      'dk-bench-maxrss %M cpu %U %S',
      process.execPath,
      entry,
      'check',
      '--file',
      list,
      '--resolver',
      lab.resolver,
    );
    const r = spawnSync(cmd[0]!, cmd.slice(1), {
      encoding: 'utf8',
      timeout: 600_000,
      maxBuffer: 1 << 30,
    });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    const cpu1 = serverCpu();
    const servers = new Map([...cpu1].map(([k, v]) => [k, v - (cpu0.get(k) ?? 0)]));
    if (r.status === null) throw new Error('check --file did not finish');
    const rss = /dk-bench-maxrss (\d+) cpu (\S+) (\S+)/.exec(r.stderr);
    // user + system CPU of the whole process (start-up included): on a loaded machine the
    // wall time says as much about the neighbours as about us
    const cpuMs = rss ? (Number(rss[2]) + Number(rss[3])) * 1000 : NaN;
    const verdicts = new Map<string, string>();
    for (const l of r.stdout.trim().split('\n')) {
      const j = JSON.parse(l) as { domain: string; verdict?: string };
      verdicts.set(j.domain, j.verdict ?? 'error');
    }
    const summary = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('danekeeper:'))
      .join('\n    ');
    return {
      ms,
      cpuMs,
      rssMb: rss ? Number(rss[1]) / 1024 : NaN,
      verdicts,
      summary,
      code: r.status,
      servers,
    };
  };

  /** the posttls-finger loop over the sample, one process per domain, one after the other */
  const sample = names.filter((_, i) => i % SAMPLE === 0);
  const fingerLoop = () => {
    const env = { ...process.env, ...postfixClientEnv() };
    const t = process.hrtime.bigint();
    for (const d of sample) {
      const cmd = inNs('posttls-finger', '-c', '-l', 'dane', '-t', '10', '-T', '10', d);
      const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 60_000, env });
      if (r.status === null) throw new Error(`posttls-finger ${d} did not finish`);
    }
    return Number(process.hrtime.bigint() - t) / 1e6;
  };

  const load0 = loadavg();
  // warm the resolver's cache once, so that both sides meet the same warm Unbound
  const warm = bulk();
  const runs: ReturnType<typeof bulk>[] = [];
  const others: ReturnType<typeof bulk>[] = [];
  const loops: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // the other build first in odd rounds: neither always meets the machine right after the loop
    if (other !== undefined && i % 2 === 1) others.push(bulk(other));
    runs.push(bulk());
    if (other !== undefined && i % 2 === 0) others.push(bulk(other));
    loops.push(fingerLoop());
  }

  // every verdict against the single-domain check (the CLI's runCheck, nothing shared)
  const t = Date.now();
  const singles = await callInNetns<SingleCheck[]>(
    lab.ns,
    'test/lab/check-bulk-driver.ts',
    'singleChecks',
    [names, lab.resolver, 8],
    { timeoutMs: 900_000 },
  );
  const singleMs = Date.now() - t;
  const single = new Map(singles.map((s) => [s.domain, (s.report as { verdict: string }).verdict]));
  const differ = [warm, ...runs, ...others].flatMap((r) =>
    names.filter((d) => r.verdicts.get(d) !== single.get(d)),
  );

  const dkMs = median(runs.map((r) => r.ms));
  const dkRate = DOMAINS / (dkMs / 1000);
  const pfPer = median(loops) / sample.length;
  const pfRate = 1000 / pfPer;
  const mix = new Map<string, number>();
  for (const v of single.values()) mix.set(v, (mix.get(v) ?? 0) + 1);
  const f1 = (x: number) => x.toFixed(1);
  console.log(
    `check --file over ${DOMAINS} lab domains (${lab.hosts.length} shared MX hosts on 6 Postfix listeners; ` +
      `verdicts: ${[...mix].map(([v, n]) => `${n} ${v}`).join(', ')}); ${ROUNDS} rounds, medians, wall time:`,
  );
  console.log(
    `  danekeeper check --file (default concurrency 64, one process): ${(dkMs / 1000).toFixed(2)} s, ` +
      `${dkRate.toFixed(0)} domains/s, peak RSS ${f1(median(runs.map((r) => r.rssMb)))} MB`,
  );
  console.log(
    `  posttls-finger loop, one process per domain (timed on a sample of ${sample.length}, every ${SAMPLE}th domain, extrapolated): ` +
      `${pfPer.toFixed(0)} ms/domain, ${f1(pfRate)} domains/s, ${DOMAINS} domains ≈ ${((pfPer * DOMAINS) / 1000).toFixed(0)} s`,
  );
  console.log(
    `  rate ratio danekeeper / posttls-finger loop: ${(dkRate / pfRate).toFixed(0)}x (goal: at least 50x)`,
  );
  if (other !== undefined) {
    const oMs = median(others.map((r) => r.ms));
    const oRate = DOMAINS / (oMs / 1000);
    const oCpu = median(others.map((r) => r.cpuMs));
    console.log(
      `  compared build ${other} in the same rounds: ${(oMs / 1000).toFixed(2)} s, ${oRate.toFixed(0)} domains/s ` +
        `(${(oRate / pfRate).toFixed(0)}x), CPU ${(oCpu / 1000).toFixed(2)} s = ${(oCpu / DOMAINS).toFixed(2)} ms/domain, ` +
        `peak RSS ${f1(median(others.map((r) => r.rssMb)))} MB; rounds (s) ${others.map((r) => (r.ms / 1000).toFixed(2)).join(' ')}`,
    );
  }
  // the fixed cost: the same command over one domain (start-up, the resolver proof, one check)
  const oneList = join(lab.dir, 'one-domain.txt');
  writeFileSync(oneList, `${names[0]}\n`);
  const ones = [1, 2, 3].map(() => bulk(cli, oneList));
  console.log(
    `  fixed cost (check --file over 1 domain, median of 3): ${(median(ones.map((r) => r.ms)) / 1000).toFixed(2)} s wall, ` +
      `${(median(ones.map((r) => r.cpuMs)) / 1000).toFixed(2)} s CPU, peak RSS ${f1(median(ones.map((r) => r.rssMb)))} MB; ` +
      `lab start-up (not timed above): ${Object.entries(lab.timings)
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
        .join(', ')}`,
  );
  const nRuns = 1 + runs.length + others.length;
  console.log(
    `  verdicts equal to the single-domain check's (runCheck per domain, nothing shared; ${f1(singleMs / 1000)} s for all ${DOMAINS}): ` +
      `${differ.length === 0 ? `all, in all ${nRuns} runs` : `${differ.length} differ: ${[...new Set(differ)].slice(0, 5).join(', ')}`}`,
  );
  const cpu = median(runs.map((r) => r.cpuMs));
  console.log(
    `  CPU of check --file (user + system, start-up included): ${(cpu / 1000).toFixed(2)} s, ${(cpu / DOMAINS).toFixed(2)} ms/domain`,
  );
  const groups = [...new Set(runs.flatMap((r) => [...r.servers.keys()]))].sort();
  const srv = groups.map((g) => [g, median(runs.map((r) => r.servers.get(g) ?? 0))] as const);
  const srvTotal = srv.reduce((a, [, v]) => a + v, 0);
  const tls = Number(/(\d+) TLS connections/.exec(runs[runs.length - 1]!.summary)?.[1] ?? NaN);
  const pfMs = srv.find(([g]) => g === 'postfix')?.[1] ?? 0;
  console.log(
    `  CPU of the lab's servers during a check --file run (medians, on the same ${cpus().length} CPUs): ` +
      `${srv.map(([g, v]) => `${g} ${v.toFixed(0)} ms`).join(', ')}; ${(srvTotal / 1000).toFixed(2)} s, ` +
      `${(srvTotal / DOMAINS).toFixed(2)} ms/domain (Postfix ${(pfMs / tls).toFixed(2)} ms per TLS connection); ` +
      `with check --file: ${((cpu + srvTotal) / 1000).toFixed(2)} s of CPU, at best ${((cpu + srvTotal) / cpus().length / 1000).toFixed(2)} s on ${cpus().length} CPUs`,
  );
  const load1 = loadavg();
  const la = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  console.log(
    `  load average (1 5 15 min) on ${cpus().length} CPUs: ${la(load0)} at the start, ${la(load1)} at the end`,
  );
  console.log(`  exit status of check --file: ${runs.map((r) => r.code).join(' ')}`);
  console.log(
    `  rounds (s): check --file ${runs.map((r) => (r.ms / 1000).toFixed(2)).join(' ')}; posttls-finger sample ${loops.map((x) => (x / 1000).toFixed(1)).join(' ')}`,
  );
  console.log(`  last run's summary:\n    ${runs[runs.length - 1]!.summary}`);
} finally {
  await lab.stop();
}
