/**
 * Benchmark: `danekeeper check` on a lab domain with two MX hosts (the `mixed` scenario: mx1
 * verifies, mx2 fails), next to `posttls-finger` on the same domain in the same run. Wall time,
 * medians of several rounds. posttls-finger stops at the first MX host, so it is also timed
 * over both hosts one after the other, which is the work `check` does. Needs root (the lab).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labAvailable } from '../test/lab/netns.js';
import { postfixClientEnv } from '../test/lab/postfix.js';
import { startScenarioLab } from '../test/lab/scenarios.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const cli = join(root, 'dist', 'cli', 'main.js');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function timed(cmd: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 60_000 });
  if (r.status === null) throw new Error(`${cmd.join(' ')} did not finish`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const lab0 = labAvailable();
if (!lab0.ok) {
  console.log(`bench/check.ts: not run: ${lab0.reason}`);
  process.exit(0);
}
if (!existsSync(cli)) throw new Error('run `npm run build` first (npm run bench does)');

const lab = await startScenarioLab({ only: ['mixed'] });
try {
  const s = lab.scenario('mixed');
  const inNs = (...args: string[]) => ['ip', 'netns', 'exec', lab.ns.name, ...args];
  const finger = (dest: string) =>
    inNs(
      'env',
      `MAIL_CONFIG=${postfixClientEnv().MAIL_CONFIG}`,
      'posttls-finger',
      '-c',
      '-l',
      'dane',
      '-t',
      '10',
      '-T',
      '10',
      dest,
    );
  const bare: number[] = [];
  const dk: number[] = [];
  const pfDomain: number[] = [];
  const pfHosts: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    bare.push(timed(inNs(process.execPath, '-e', '0')));
    dk.push(
      timed(inNs(process.execPath, cli, 'check', s.domain, '--resolver', lab.resolver, '--json')),
    );
    pfDomain.push(timed(finger(s.domain)));
    pfHosts.push(s.hosts.reduce((sum, h) => sum + timed(finger(`[${h.name}]`)), 0));
  }
  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms`;
  console.log(`check ${s.domain} (2 MX hosts, ${ROUNDS} rounds, medians, wall time):`);
  console.log(`  node -e 0 (bare Node, for scale):                     ${f(bare)}`);
  console.log(`  danekeeper check (all hosts, all addresses, parallel): ${f(dk)}`);
  console.log(`  posttls-finger DOMAIN (first MX host only):           ${f(pfDomain)}`);
  console.log(`  posttls-finger [mx1] then [mx2]:                      ${f(pfHosts)}`);
  console.log(
    `  ratio danekeeper / posttls-finger both hosts:         ${(median(dk) / median(pfHosts)).toFixed(2)}`,
  );
  console.log(
    `  rounds (ms): danekeeper ${dk.map((x) => x.toFixed(0)).join(' ')}; posttls-finger domain ${pfDomain.map((x) => x.toFixed(0)).join(' ')}`,
  );
} finally {
  await lab.stop();
}
