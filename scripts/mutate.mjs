#!/usr/bin/env node
// `npm run mutate [-- TARGET ...]`: StrykerJS over the security-critical code, one target at a
// time (stryker.config.mjs, DK_MUTATE), each with its own incremental file so that a re-run
// only tests what changed. Prints the mutation score per file and every surviving mutant.
// Not run on CI: on two cores a full first run takes the better part of an hour.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { targets } from '../stryker.config.mjs';

const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : Object.keys(targets);
for (const n of names) {
  if (!(n in targets)) {
    console.error(`Unknown target ${n}: one of ${Object.keys(targets).join(', ')}`);
    process.exit(64);
  }
}

let failed = false;
for (const n of names) {
  console.log(`\n== stryker: ${n} (${targets[n].mutate.join(', ')})`);
  const r = spawnSync(
    'node_modules/.bin/stryker',
    ['run', '--reporters', 'progress-append-only,json'],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DK_MUTATE: n },
    },
  );
  if (r.status !== 0) {
    console.error(`stryker failed for ${n} (status ${r.status})`);
    failed = true;
  }
}

const DETECTED = new Set(['Killed', 'Timeout']);
const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
console.log('\nMutation score per file (killed + timed out, of mutants that compile and run):');
const survivors = [];
for (const n of names) {
  const f = `node_modules/.cache/stryker/${n}.mutation.json`;
  if (!existsSync(f)) continue;
  const report = JSON.parse(readFileSync(f, 'utf8'));
  for (const [path, file] of Object.entries(report.files)) {
    const ms = file.mutants.filter((m) => VALID.has(m.status));
    const killed = ms.filter((m) => DETECTED.has(m.status)).length;
    const score = ms.length === 0 ? 100 : (100 * killed) / ms.length;
    console.log(
      `  ${score.toFixed(1).padStart(5)} %  ${String(killed).padStart(4)}/${String(ms.length).padEnd(4)} ${path}`,
    );
    const lines = file.source.split('\n');
    for (const m of ms.filter((x) => !DETECTED.has(x.status))) {
      const { line, column } = m.location.start;
      survivors.push(
        `${path}:${line}:${column} ${m.status} ${m.mutatorName}: ${lines[line - 1]?.trim().slice(0, 90)}\n      -> ${String(
          m.replacement ?? '',
        )
          .replace(/\s+/g, ' ')
          .slice(0, 100)}`,
      );
    }
  }
}
console.log(`\nSurvivors (${survivors.length}):`);
for (const s of survivors) console.log(`  ${s}`);
process.exit(failed ? 1 : 0);
