/**
 * Benchmark: how long each command takes to start, next to bare Node in the same run. A
 * command's start is `danekeeper CMD --help`: its modules loaded, its options parsed, nothing
 * done. `tlsa explain` and `verify` are also timed doing their (offline, small) work. Wall time,
 * medians of ROUNDS runs interleaved, so a noisy neighbour hits every command alike.
 * The goal (issue 8): every command within 50 ms of bare Node.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from '../test/support/pki.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const cli = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(cli)) throw new Error('run `npm run build` first (npm run bench does)');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function timed(args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status === null) throw new Error(`node ${args.join(' ')} did not finish`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const dir = mkdtempSync(join(tmpdir(), 'dk-bench-startup-'));
try {
  const pki = makePki(dir, { leafAlg: 'p256' });
  const spki = spawnSync(process.execPath, [cli, 'tlsa', '--cert', pki.leaf.certFile], {
    encoding: 'utf8',
  }).stdout.trim();
  const chain = pki.chainFile;

  const cases: [string, string[]][] = [
    ['node -e 0 (bare Node)', ['-e', '0']],
    ['danekeeper --version', [cli, '--version']],
    ['danekeeper --help', [cli, '--help']],
    ['danekeeper tlsa --help', [cli, 'tlsa', '--help']],
    ['danekeeper verify --help', [cli, 'verify', '--help']],
    ['danekeeper check --help', [cli, 'check', '--help']],
    ['danekeeper dns add-tlsa --help', [cli, 'dns', 'add-tlsa', '--help']],
    ['danekeeper dnssec status --help', [cli, 'dnssec', 'status', '--help']],
    ['danekeeper domain add --help', [cli, 'domain', 'add', '--help']],
    ['danekeeper tlsa explain "3 1 1 …"', [cli, 'tlsa', 'explain', spki]],
    ['danekeeper tlsa --cert leaf.pem', [cli, 'tlsa', '--cert', pki.leaf.certFile]],
    [
      'danekeeper verify --chain … --smtp',
      [cli, 'verify', '--chain', chain, '--tlsa', spki, '--name', 'x.test', '--smtp'],
    ],
  ];
  const times = cases.map(() => [] as number[]);
  for (let i = 0; i < ROUNDS; i++) cases.forEach(([, args], j) => times[j]!.push(timed(args)));
  const bare = median(times[0]!);
  console.log(`start-up, ${ROUNDS} rounds, medians, wall time (node ${process.version}):`);
  cases.forEach(([label], j) => {
    const m = median(times[j]!);
    const extra = j === 0 ? '' : `  (+${(m - bare).toFixed(0)} ms over bare Node)`;
    console.log(`  ${label.padEnd(38)} ${m.toFixed(0).padStart(4)} ms${extra}`);
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
