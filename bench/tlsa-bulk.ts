/**
 * Benchmark: 3 1 1 records for 1,000 certificates in one `danekeeper tlsa` call, next to the
 * seeds' openssl pipeline (`openssl x509 -pubkey -noout | openssl rsa -pubin -outform der |
 * sha256sum`, run once per certificate, as the how-to does) over the same certificates in the
 * same run. Prints medians of several rounds and the ratio. Not a test: nothing is asserted
 * about speed, only that both produce the same records.
 *
 *   npm run bench            (builds first; the 1,000 RSA certificates are made once and cached)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const N = Number(process.env.BENCH_CERTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const dir = join(root, 'bench', '.cache', `rsa-${N}`);

function makeCorpus() {
  mkdirSync(dir, { recursive: true });
  const have = readdirSync(dir).filter((f) => f.endsWith('.pem')).length;
  if (have >= N) return;
  process.stderr.write(`making ${N} RSA-2048 certificates in ${dir} (once)...\n`);
  // RSA key generation dominates; one shell loop per core.
  const lanes = availableParallelism();
  const script = `for i in $(seq $1 $2 ${N - 1}); do f=$(printf '%s/%04d.pem' "$3" $i); [ -s "$f" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=mx$i.example.test" -days 90 -out "$f" 2>/dev/null; done`;
  const procs = Array.from({ length: lanes }, (_, lane) =>
    spawnSync('bash', ['-c', script, 'corpus', String(lane), String(lanes), dir], {
      stdio: 'inherit',
    }),
  );
  if (procs.some((p) => p.status !== 0)) throw new Error('making the corpus failed');
}

function time(fn: () => string): { ms: number; out: string } {
  const t = process.hrtime.bigint();
  const out = fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, out };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

makeCorpus();
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.pem'))
  .sort()
  .slice(0, N)
  .map((f) => join(dir, f));
const cli = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(cli)) throw new Error('run `npm run build` first (npm run bench does)');

const danekeeper = () =>
  execFileSync(process.execPath, [cli, 'tlsa', ...files.flatMap((f) => ['--cert', f])], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
const seedsPipeline = () =>
  execFileSync(
    'bash',
    [
      '-c',
      'for f in "$@"; do h=$(openssl x509 -in "$f" -pubkey -noout | openssl rsa -pubin -outform der 2>/dev/null | sha256sum); echo "3 1 1 ${h%% *}"; done',
      'seeds',
      ...files,
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );

const dk: number[] = [];
const ossl: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const a = time(danekeeper);
  const b = time(seedsPipeline);
  if (a.out !== b.out) throw new Error('danekeeper and the openssl pipeline disagree');
  dk.push(a.ms);
  ossl.push(b.ms);
}
const mDk = median(dk);
const mOssl = median(ossl);
console.log(`tlsa 3 1 1 for ${files.length} RSA-2048 certificates, ${ROUNDS} rounds, medians:`);
console.log(
  `  danekeeper tlsa (one call):          ${mDk.toFixed(0)} ms  (${((mDk * 1000) / files.length).toFixed(0)} µs/cert)`,
);
console.log(
  `  seeds' openssl pipeline (per cert):  ${mOssl.toFixed(0)} ms  (${((mOssl * 1000) / files.length).toFixed(0)} µs/cert)`,
);
console.log(`  ratio openssl / danekeeper:          ${(mOssl / mDk).toFixed(1)}x`);
console.log(
  `  all rounds (ms): danekeeper ${dk.map((x) => x.toFixed(0)).join(' ')}; openssl ${ossl.map((x) => x.toFixed(0)).join(' ')}`,
);
