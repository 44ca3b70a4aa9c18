/**
 * Benchmark: one keep-secured pass (runPass, what `danekeeper run` does) over 10,000 domains
 * in a fresh store when nothing is due, next to the same over 100 domains. Every domain has a
 * verified certificate and is at rest (the planner said idle, the renewal moment and the
 * periodic re-check ahead), so the pass must not observe: the world it is given throws on
 * observe and execute, and the bench fails if either is called (no DNS, no probe, no network).
 *
 * Each run is its own Node process opening the store file, so its peak RSS (getrusage maxrss)
 * is that pass's own: store opened, domains listed, states read. Heap: the largest V8 heap in
 * use sampled every 100 domains. Medians of ROUNDS runs per size, the sizes interleaved.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import type { RolloverPolicy, RolloverState } from '../src/core/rollover/index.js';
import { restMark } from '../src/core/rollover/rest.js';
import { FakeWorld } from '../src/daemon/fake-world.js';
import { runPass, settingsKey, type DomainWorld } from '../src/daemon/pass.js';
import type { Domain, DomainSettings } from '../src/store/domains.js';
import { memoryState, openState } from '../src/store/state.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SIZES = [100, 10_000];
const T0 = new Date('2026-03-01T00:00:00.000Z');
const HOUR = 3_600_000;
const self = fileURLToPath(import.meta.url);

function settings(name: string): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
    dane: true,
    certDir: `/nonexistent/live/${name}`,
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

/** The policy of a production domain (24 h confirmation interval, the seed's default). */
function policy(d: Domain): RolloverPolicy {
  return {
    domain: d.name,
    owners: [`_25._tcp.mail.${d.name}.`],
    keyType: d.keyType,
    confirmationIntervalHours: 24,
    newKeyEachRenewal: d.newKeyEachRenewal,
    issuerRecords: d.issuerRecords,
    issuerSpkis: [],
  };
}

/** The state of a domain at rest: a real run of the planner through the fake world. */
async function template(): Promise<{ state: RolloverState; at: Date }> {
  const store = memoryState();
  store.domains.add(settings('example.org'), T0);
  const clock = { t: T0.getTime() };
  const world = new FakeWorld(clock);
  for (let i = 0; i < 30; i++) {
    const [r] = await runPass({ store, world, now: () => new Date(clock.t), holder: 'bench' });
    if (r!.result === 'idle') {
      const state = store.rollover.read('example.org')!.state as RolloverState;
      store.close();
      return { state, at: new Date(clock.t) };
    }
    clock.t += 10_000;
  }
  throw new Error('the fake world never came to rest');
}

async function makeStore(path: string, n: number): Promise<string> {
  const { state, at } = await template();
  const json = JSON.stringify(state);
  const store = openState(path);
  store.transaction(() => {
    for (let i = 0; i < n; i++) {
      const name = `d${String(i).padStart(5, '0')}.example`;
      const d = store.domains.add(settings(name), T0);
      const s = JSON.parse(json.replaceAll('example.org', name)) as RolloverState;
      const idle = {
        kind: 'idle' as const,
        until: s.rest!.until,
        state: s,
        phase: 'idle' as const,
        events: [],
      };
      s.rest = restMark(idle, at.toISOString(), HOUR, settingsKey(d, policy(d)));
      store.rollover.save(name, s, { expectedVersion: 0, now: at });
    }
  });
  store.close();
  return at.toISOString();
}

/** The measured part, in its own process. */
async function child(path: string, at: string): Promise<void> {
  const store = openState(path);
  let calls = 0;
  const refuse = () => {
    calls++;
    return Promise.reject(new Error('the pass touched the world'));
  };
  const world: DomainWorld = { policy, observe: refuse, execute: refuse };
  let n = 0;
  let heapPeak = getHeapStatistics().used_heap_size;
  const now = new Date(Date.parse(at) + 60_000); // a minute after the last full pass
  const t = process.hrtime.bigint();
  const out = await runPass({
    store,
    world,
    holder: 'bench',
    now: () => {
      if (++n % 100 === 0) heapPeak = Math.max(heapPeak, getHeapStatistics().used_heap_size);
      return now;
    },
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  heapPeak = Math.max(heapPeak, getHeapStatistics().used_heap_size);
  const notIdle = out.filter((o) => o.result !== 'idle').length;
  store.close();
  process.stdout.write(
    JSON.stringify({
      ms,
      rssMb: process.resourceUsage().maxRSS / 1024,
      heapMb: heapPeak / 2 ** 20,
      domains: out.length,
      notIdle,
      calls,
    }),
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dk-bench-pass-'));
  try {
    const stores = new Map<number, { path: string; at: string }>();
    for (const n of SIZES) {
      const path = join(dir, `state-${n}.db`);
      stores.set(n, { path, at: await makeStore(path, n) });
    }
    const runs = new Map<number, { ms: number; rssMb: number; heapMb: number }[]>();
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of SIZES) {
        const s = stores.get(n)!;
        const p = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', s.path, s.at], {
          encoding: 'utf8',
          timeout: 300_000,
        });
        if (p.status !== 0) throw new Error(`the pass over ${n} domains failed: ${p.stderr}`);
        const m = JSON.parse(p.stdout) as {
          ms: number;
          rssMb: number;
          heapMb: number;
          domains: number;
          notIdle: number;
          calls: number;
        };
        if (m.domains !== n || m.notIdle !== 0 || m.calls !== 0) {
          throw new Error(
            `the pass over ${n} domains was not a pass at rest: ${m.domains} domains, ${m.notIdle} not idle, ${m.calls} world calls`,
          );
        }
        runs.set(n, [...(runs.get(n) ?? []), m]);
      }
    }
    console.log(
      `one keep-secured pass, nothing due (every domain at rest, no world call), medians of ${ROUNDS} runs:`,
    );
    const rows = SIZES.map((n) => {
      const rs = runs.get(n)!;
      const ms = median(rs.map((x) => x.ms));
      return { n, ms, rss: median(rs.map((x) => x.rssMb)), heap: median(rs.map((x) => x.heapMb)) };
    });
    for (const x of rows) {
      console.log(
        `  ${String(x.n).padStart(6)} domains: ${x.ms.toFixed(1).padStart(8)} ms (${((x.ms / x.n) * 1000).toFixed(1)} µs/domain), peak RSS ${x.rss.toFixed(1)} MB, peak heap ${x.heap.toFixed(1)} MB`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!);
else await main();
