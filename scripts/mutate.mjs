#!/usr/bin/env node
// `npm run mutate [-- [--report] TARGET ...]`: StrykerJS over the security-critical code, one target at a
// time (stryker.config.mjs, DK_MUTATE), each with its own incremental file so that a re-run
// only tests what changed. Prints the mutation score per file and every surviving mutant.
// Not run on CI: on two cores a full first run takes the better part of an hour.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { targets } from '../stryker.config.mjs';

// `--report`: print the scores and survivors of the last runs without running Stryker again.
const reportOnly = process.argv.includes('--report');
const wanted = process.argv.slice(2).filter((a) => a !== '--report');
const names = wanted.length > 0 ? wanted : Object.keys(targets);
for (const n of names) {
  if (!(n in targets)) {
    console.error(`Unknown target ${n}: one of ${Object.keys(targets).join(', ')}`);
    process.exit(64);
  }
}

let failed = false;
for (const n of reportOnly ? [] : names) {
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
// One file may be split over several targets (verify.ts in line ranges): merge by file.
const byFile = new Map();
for (const n of names) {
  const f = `node_modules/.cache/stryker/${n}.mutation.json`;
  if (!existsSync(f)) continue;
  const report = JSON.parse(readFileSync(f, 'utf8'));
  for (const [path, file] of Object.entries(report.files)) {
    const seen = byFile.get(path) ?? { source: file.source, mutants: new Map() };
    for (const m of file.mutants) {
      const { start, end } = m.location;
      const key = `${start.line}:${start.column}-${end.line}:${end.column} ${m.mutatorName} ${m.replacement}`;
      seen.mutants.set(key, m);
    }
    byFile.set(path, seen);
  }
}
for (const [path, file] of byFile) {
  const ms = [...file.mutants.values()].filter((m) => VALID.has(m.status));
  const killed = ms.filter((m) => DETECTED.has(m.status)).length;
  const score = ms.length === 0 ? 100 : (100 * killed) / ms.length;
  console.log(
    `  ${score.toFixed(1).padStart(5)} %  ${String(killed).padStart(4)}/${String(ms.length).padEnd(4)} ${path}`,
  );
  const lines = file.source.split('\n');
  // The exact span a mutant replaced: several mutants start at the same line and column (a
  // whole condition and its first operand), so a start position alone is ambiguous.
  const span = ({ start, end }) => {
    const line = lines[start.line - 1] ?? '';
    const stop = start.line === end.line ? end.column - 1 : line.length;
    const more = start.line === end.line ? '' : ' …';
    return `${line.slice(0, start.column - 1)}⟦${line.slice(start.column - 1, stop)}${more}⟧${line.slice(stop)}`;
  };
  const flat = (x, n) => {
    const t = String(x ?? '')
      .replace(/\s+/g, ' ')
      .trim();
    return t.length > n ? `${t.slice(0, n - 1)}…` : t;
  };
  // Timeouts count as detected (a hang the tests would catch) but are listed to be checked: on
  // a loaded machine a slow survivor can pass for one.
  for (const m of ms.filter((x) => x.status !== 'Killed')) {
    const { start, end } = m.location;
    survivors.push(
      `${path}:${start.line}:${start.column}-${end.line}:${end.column} ${m.status} ${m.mutatorName}\n` +
        `      ${flat(span(m.location), 110)}\n      ⟦…⟧ -> ${flat(m.replacement, 100)}`,
    );
  }
}
console.log(`\nSurvivors, and timeouts to check (${survivors.length}):`);
for (const s of survivors) console.log(`  ${s}`);
process.exit(failed ? 1 : 0);
