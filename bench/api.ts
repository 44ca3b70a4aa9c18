/**
 * Benchmark: the JSON API and the panel with 10,000 domains in the store (issue 11 "Must
 * show"): p50/p99 latency of the domain list (first and last page, admin and a customer with
 * 300 domains), of a domain's API entry and of the panel's `/domains` and `/domains/NAME`, once
 * with nothing else running and once under load from a second process (bench/api-load.ts:
 * CLIENTS concurrent keep-alive clients on a mix of the same requests); then the panel's page
 * weight (bytes of each page's HTML and of everything it loads, compressed or not, and the
 * requests a browser makes for it).
 *
 * The server is `danekeeper serve` (the build in dist/, DK_BENCH_CLI for another) on a store
 * made by bench/api-fixture.ts: every domain at rest with a real certificate lineage, so
 * serve's own pass observes nothing, and an INI whose resolver and ACME directory are closed
 * loopback ports: a status's DNS lookups are refused at once and nothing outside the machine
 * is reached. While serve does not host the API and the panel yet, the same pieces run in
 * bench/api-server.ts instead, and the output says so.
 *
 * Latency is per request, from the request to the last byte of the body, one request at a
 * time on one keep-alive connection, the measured requests taking turns. Asserts nothing about
 * speed; fails if a measured request does not answer 200 or the list does not hold what the
 * store holds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  gzipSync,
  brotliCompressSync,
  gunzipSync,
  brotliDecompressSync,
  inflateSync,
} from 'node:zlib';
import { buildFixture, type Fixture } from './api-fixture.js';
import type { LoadPlan, LoadReport, LoadRequest } from './api-load.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 10_000);
const CUSTOMER_DOMAINS = Number(process.env.BENCH_CUSTOMER_DOMAINS ?? 300);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
/** per phase: SAMPLES of each request, or MAX_SECONDS, whichever comes first */
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 120);
/** requests per target for the server's CPU time per request */
const CPU_ROUNDS = Number(process.env.BENCH_CPU_ROUNDS ?? 20);
const cli = process.env.DK_BENCH_CLI ?? join(root, 'dist', 'cli', 'main.js');
const tsx = ['--import', 'tsx'];
const API_PER_PAGE = 50; // table.ts DomainList's default
const PANEL_PAGE = 20; // panel.ts PAGE_SIZE

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  ms: number;
}

function fetchOnce(
  agent: Agent,
  base: string,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const req = request(
      new URL(path, base),
      { agent, method: o.method ?? 'GET', headers: o.headers ?? {} },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
            ms: Number(process.hrtime.bigint() - t) / 1e6,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  // nearest rank: the smallest sample at or above a fraction q of them
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};

/** A panel session: the login form's CSRF cookie and field, then the session cookie. */
async function login(agent: Agent, base: string, name: string, password: string) {
  const page = await fetchOnce(agent, base, '/login');
  const csrfCookie = ([] as string[])
    .concat(page.headers['set-cookie'] ?? [])
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('dk_login_csrf='));
  const field = /name="_csrf" value="([^"]+)"/.exec(page.body.toString())?.[1];
  if (!csrfCookie || !field) throw new Error('the login page has no CSRF token');
  const r = await fetchOnce(agent, base, '/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
    body: new URLSearchParams({ _csrf: field, name, password }).toString(),
  });
  const session = ([] as string[])
    .concat(r.headers['set-cookie'] ?? [])
    .map((c) => c.split(';')[0]!)
    .find((c) => /^(__Host-)?dk_session=/.test(c));
  if (r.status !== 303 || !session) throw new Error(`logging in as ${name} failed: ${r.status}`);
  return session;
}

interface Server {
  base: string;
  kind: string;
  startup: string;
  /** the server's process, for its CPU time */
  pid: number;
  stop(): Promise<void>;
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout.trim()) || 100;
})();

/** User + system CPU time of a process so far (ms), from /proc; NaN where there is none. */
function cpuMs(pid: number): number {
  try {
    // proc(5): fields 14 and 15 (utime, stime) in clock ticks, counted after the ")" of comm
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /s, '')
      .split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Lines of a child's stdout as they come, and a wait for one. */
function lines(child: ChildProcess) {
  const seen: string[] = [];
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      seen.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const w of waiters) w();
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const wait = (what: string, f: (l: string) => boolean, ms: number) =>
    new Promise<string>((resolve, reject) => {
      let from = 0;
      const check = () => {
        for (; from < seen.length; from++) {
          if (f(seen[from]!)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(seen[from]!);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${what} within ${ms / 1000} s; stderr: ${err.slice(-2000)}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { wait, stderr: () => err };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** `danekeeper serve` when it hosts the API, else the stand-in (bench/api-server.ts). */
async function startServer(fx: Fixture): Promise<Server> {
  let why = `${cli} is not built (npm run build)`;
  if (existsSync(cli)) {
    const t = Date.now();
    const child = spawn(
      process.execPath,
      [cli, 'serve', '--config', fx.configPath, '--state', fx.statePath, '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out = lines(child);
    const listening = JSON.parse(
      await out.wait('listening line', (l) => l.includes('"event":"listening"'), 60_000),
    ) as { listen: string };
    const base = `http://${listening.listen}`;
    const probe = await fetchOnce(new Agent(), base, '/api/v1/domains?perPage=1', {
      headers: { authorization: `Bearer ${fx.admin.token}` },
    });
    if (probe.status === 200) {
      // serve's start: its keep-secured pass over every domain (all at rest), then the monitor
      // pass; measured only once both are done, so the figures are of a daemon at rest
      const pass = JSON.parse(
        await out.wait('first pass', (l) => l.includes('"event":"pass"'), 600_000),
      ) as { domains: number; seconds: number };
      const passAt = Date.now();
      await out.wait('first monitor pass', (l) => l.includes('"event":"monitor"'), 600_000);
      return {
        base,
        kind: 'danekeeper serve',
        startup:
          `serve's own first pass: ${pass.domains} domains in ${pass.seconds.toFixed(1)} s; ` +
          `monitor pass done ${((Date.now() - passAt) / 1000).toFixed(1)} s after it; ` +
          `${((Date.now() - t) / 1000).toFixed(1)} s from start to measuring`,
        pid: child.pid!,
        stop: () => stopChild(child),
      };
    }
    why = `serve answers ${probe.status} on /api/v1/domains: it does not host the API yet`;
    await stopChild(child);
  }
  const child = spawn(
    process.execPath,
    [...tsx, join(root, 'bench', 'api-server.ts'), fx.configPath, fx.statePath],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = lines(child);
  const l = JSON.parse(
    await out.wait('listening line', (x) => x.startsWith('{"listening"'), 60_000),
  ) as { listening: string };
  return {
    base: `http://${l.listening}`,
    kind: `stand-in bench/api-server.ts (${why}; the same apiRoutes/panelRoutes/listen/domainStatus, no daemon passes)`,
    startup: '',
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

interface Target {
  label: string;
  path: string;
  headers: Record<string, string>;
  /** what the answer must hold */
  check?: (r: Reply) => string | null;
}

function listCheck(total: number, count: number) {
  return (r: Reply) => {
    const j = JSON.parse(r.body.toString()) as { total: number; domains: unknown[] };
    return j.total === total && j.domains.length === count
      ? null
      : `total ${j.total}, ${j.domains.length} on the page; expected ${total}, ${count}`;
  };
}

/** Every target in turn, one request at a time, until each has `samples` or time is up. */
async function measure(base: string, targets: Target[], samples: number, seconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ms = new Map<string, number[]>(targets.map((t) => [t.label, []]));
  const until = Date.now() + seconds * 1000;
  let resets = 0;
  for (let i = 0; i < samples && Date.now() < until; i++) {
    for (const t of targets) {
      let r: Reply;
      try {
        r = await fetchOnce(agent, base, t.path, { headers: t.headers });
      } catch (e) {
        // a kept-alive connection the server closed as the request went out (its keep-alive
        // timer fired while its event loop was busy): a browser retries it on a new connection
        // (RFC 9112 §9.3.1); here it is counted, not timed, and the next round asks again
        if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') throw e;
        resets++;
        continue;
      }
      if (r.status !== 200) {
        throw new Error(
          `${t.label} (${t.path}) answered ${r.status}: ${r.body.toString().slice(0, 300)}`,
        );
      }
      ms.get(t.label)!.push(r.ms);
    }
  }
  agent.destroy();
  return { ms, resets, seconds: (Date.now() - until) / 1000 + seconds };
}

/**
 * The server's CPU time per request of each target: `k` requests of it back to back, the
 * server's user + system time before and after. Unlike wall time, this hardly depends on what
 * else the machine is doing (clock ticks of 10 ms, so k of them).
 */
async function cpuPerRequest(base: string, pid: number, targets: Target[], k: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const out = new Map<string, number>();
  for (const t of targets) {
    const c0 = cpuMs(pid);
    for (let i = 0; i < k; i++) {
      const r = await fetchOnce(agent, base, t.path, { headers: t.headers });
      if (r.status !== 200) throw new Error(`${t.label} (${t.path}) answered ${r.status}`);
    }
    out.set(t.label, (cpuMs(pid) - c0) / k);
  }
  agent.destroy();
  return out;
}

/** The load process, started; `stop()` ends it and gives its report. */
async function startLoad(plan: LoadPlan): Promise<{ stop(): Promise<LoadReport> }> {
  const child = spawn(
    process.execPath,
    [...tsx, join(root, 'bench', 'api-load.ts'), JSON.stringify(plan)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = lines(child);
  await out.wait('load start', (x) => x.startsWith('{"started"'), 60_000);
  return {
    async stop() {
      child.kill('SIGTERM');
      const l = await out.wait('load report', (x) => x.startsWith('{"requests"'), 120_000);
      await stopChild(child);
      return JSON.parse(l) as LoadReport;
    },
  };
}

/** The body as the server sent it, and decoded. */
function decode(r: Reply): Buffer {
  const enc = String(r.headers['content-encoding'] ?? '');
  if (enc === 'gzip') return gunzipSync(r.body);
  if (enc === 'br') return brotliDecompressSync(r.body);
  if (enc === 'deflate') return inflateSync(r.body);
  return r.body;
}

/** What a browser loads for a page: the HTML, its stylesheets, scripts, images and icons. */
async function pageWeight(base: string, path: string, cookie: string | null) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const headers = {
    'accept-encoding': 'gzip, deflate, br',
    ...(cookie ? { cookie } : {}),
  };
  const page = await fetchOnce(agent, base, path, { headers });
  if (page.status !== 200) throw new Error(`${path} answered ${page.status}`);
  const html = decode(page).toString();
  const refs = new Set<string>();
  for (const m of html.matchAll(/<(link|script|img)\b[^>]*>/gi)) {
    const tag = m[0];
    const url = /\b(?:href|src)="([^"]+)"/i.exec(tag)?.[1];
    if (!url) continue;
    if (
      m[1]!.toLowerCase() === 'link' &&
      !/rel="[^"]*(stylesheet|icon|preload|modulepreload)/i.test(tag)
    )
      continue;
    refs.add(url);
  }
  const hasIcon = /<link\b[^>]*rel="[^"]*icon/i.test(html);
  const parts = [{ url: path, reply: page }];
  for (const u of refs) {
    const r = await fetchOnce(agent, base, u, { headers });
    if (r.status !== 200) throw new Error(`${u} (from ${path}) answered ${r.status}`);
    parts.push({ url: u, reply: r });
  }
  // a browser asks for /favicon.ico by itself when the page names no icon
  const favicon = hasIcon ? null : await fetchOnce(agent, base, '/favicon.ico', { headers });
  agent.destroy();
  return {
    path,
    requests: parts.length + (favicon ? 1 : 0),
    parts: parts.map((p) => {
      const raw = decode(p.reply);
      return {
        url: p.url,
        type: String(p.reply.headers['content-type'] ?? '').split(';')[0],
        encoding: String(p.reply.headers['content-encoding'] ?? 'identity'),
        wire: p.reply.body.length,
        raw: raw.length,
        gzip: gzipSync(raw, { level: 6 }).length,
        br: brotliCompressSync(raw).length,
      };
    }),
    favicon: favicon ? `${favicon.status}, ${favicon.body.length} bytes` : null,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dk-bench-api-'));
  let server: Server | undefined;
  try {
    const tb = Date.now();
    const fx = await buildFixture(dir, { domains: DOMAINS, customerDomains: CUSTOMER_DOMAINS });
    const buildS = (Date.now() - tb) / 1000;
    server = await startServer(fx);
    const base = server.base;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const adminCookie = await login(agent, base, fx.admin.name, fx.admin.password);
    const customerCookie = await login(agent, base, fx.customer.name, fx.customer.password);
    const loadAdminCookie = await login(agent, base, fx.admin.name, fx.admin.password);
    const loadCustomerCookie = await login(agent, base, fx.customer.name, fx.customer.password);
    agent.destroy();

    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    const adminLast = Math.ceil(DOMAINS / API_PER_PAGE);
    const customerLast = Math.ceil(CUSTOMER_DOMAINS / API_PER_PAGE);
    const lastCount = (n: number, per: number) => n - (Math.ceil(n / per) - 1) * per;
    const oneName = fx.names[Math.floor(DOMAINS / 2)]!;
    const customerName = fx.customerNames[Math.floor(CUSTOMER_DOMAINS / 2)]!;
    const targets: Target[] = [
      {
        label: 'API list, admin, page 1',
        path: '/api/v1/domains',
        headers: bearer(fx.admin.token),
        check: listCheck(DOMAINS, Math.min(API_PER_PAGE, DOMAINS)),
      },
      {
        label: `API list, admin, page ${adminLast} (last)`,
        path: `/api/v1/domains?page=${adminLast}`,
        headers: bearer(fx.admin.token),
        check: listCheck(DOMAINS, lastCount(DOMAINS, API_PER_PAGE)),
      },
      {
        label: 'API list, customer, page 1',
        path: '/api/v1/domains',
        headers: bearer(fx.customer.token),
        check: listCheck(CUSTOMER_DOMAINS, Math.min(API_PER_PAGE, CUSTOMER_DOMAINS)),
      },
      {
        label: `API list, customer, page ${customerLast} (last)`,
        path: `/api/v1/domains?page=${customerLast}`,
        headers: bearer(fx.customer.token),
        check: listCheck(CUSTOMER_DOMAINS, lastCount(CUSTOMER_DOMAINS, API_PER_PAGE)),
      },
      {
        label: 'API domain, admin',
        path: `/api/v1/domains/${oneName}`,
        headers: bearer(fx.admin.token),
      },
      {
        label: 'API domain, customer',
        path: `/api/v1/domains/${customerName}`,
        headers: bearer(fx.customer.token),
      },
      {
        label: 'panel /domains, admin, page 1',
        path: '/domains',
        headers: { cookie: adminCookie },
      },
      {
        label: `panel /domains, admin, page ${Math.ceil(DOMAINS / PANEL_PAGE)} (last)`,
        path: `/domains?page=${Math.ceil(DOMAINS / PANEL_PAGE)}`,
        headers: { cookie: adminCookie },
      },
      {
        label: 'panel /domains, customer, page 1',
        path: '/domains',
        headers: { cookie: customerCookie },
      },
      {
        label: 'panel /domains/NAME, admin',
        path: `/domains/${oneName}`,
        headers: { cookie: adminCookie },
      },
    ];
    // what is measured is what it should be: every target answers 200 with the right list
    const check = new Agent({ keepAlive: true, maxSockets: 1 });
    for (const t of targets) {
      const r = await fetchOnce(check, base, t.path, { headers: t.headers });
      const bad = r.status !== 200 ? `status ${r.status}` : (t.check?.(r) ?? null);
      if (bad) throw new Error(`${t.label} (${t.path}): ${bad}`);
    }
    check.destroy();

    // the load: the same kinds of request, over random pages and domains
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const loadRequests: LoadRequest[] = [];
    for (let i = 0; i < 200; i++) {
      const pick = [
        { path: `/api/v1/domains?page=${1 + rnd(adminLast)}`, headers: bearer(fx.admin.token) },
        {
          path: `/api/v1/domains?page=${1 + rnd(customerLast)}`,
          headers: bearer(fx.customer.token),
        },
        { path: `/api/v1/domains/${fx.names[rnd(DOMAINS)]!}`, headers: bearer(fx.admin.token) },
        {
          path: `/domains?page=${1 + rnd(Math.ceil(DOMAINS / PANEL_PAGE))}`,
          headers: { cookie: loadAdminCookie },
        },
        { path: '/domains', headers: { cookie: loadCustomerCookie } },
        { path: `/domains/${fx.names[rnd(DOMAINS)]!}`, headers: { cookie: loadAdminCookie } },
      ];
      loadRequests.push(pick[i % pick.length]!);
    }

    // warm-up: the JIT and SQLite's page cache, as a running daemon has them
    await measure(base, targets, 3, 30);
    const cpu = await cpuPerRequest(base, server.pid, targets, CPU_ROUNDS);
    const load0 = loadavg()[0]!;
    const idle = await measure(base, targets, SAMPLES, MAX_SECONDS);
    const loadRun = await startLoad({
      base,
      clients: CLIENTS,
      seconds: MAX_SECONDS + 60,
      requests: loadRequests,
    });
    await new Promise((r) => setTimeout(r, 2000));
    const loaded = await measure(base, targets, SAMPLES, MAX_SECONDS);
    const load = await loadRun.stop();
    const load1 = loadavg()[0]!;

    const weights = [
      await pageWeight(base, '/login', null),
      await pageWeight(base, '/domains', adminCookie),
      await pageWeight(base, `/domains/${oneName}`, adminCookie),
    ];

    const f1 = (x: number) => x.toFixed(1);
    console.log(
      `API and panel with ${DOMAINS} domains (a customer owns ${CUSTOMER_DOMAINS}); server: ${server.kind}`,
    );
    if (server.startup) console.log(`  ${server.startup}`);
    console.log(
      `  store built in ${f1(buildS)} s; ${cpus().length} CPUs, load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after`,
    );
    console.log(
      `  latency per request (ms), from sending to the body's last byte, one at a time on one keep-alive connection,` +
        ` the requests taking turns, up to ${SAMPLES} each or ${MAX_SECONDS} s per column (idle ${f1(idle.seconds)} s, loaded ${f1(loaded.seconds)} s);` +
        ` p99 is the largest sample when n < 100; server CPU: the server process's user + system ms per request (${CPU_ROUNDS} in a row, nothing else running); connections the server reset under a kept-alive request: idle ${idle.resets}, loaded ${loaded.resets}`,
    );
    console.log(
      `  loaded: ${CLIENTS} clients in a second process (no pause between requests; lists at random pages, API` +
        ` and panel domain pages of random domains), ${load.requests} requests in ${f1(load.seconds)} s` +
        ` (${f1(load.requests / load.seconds)}/s, ${load.notOk} not 2xx)`,
    );
    for (const [what, n] of Object.entries(load.byStatus)) {
      if (!/^2\d\d$/.test(what)) console.log(`    not 2xx, ${n}x: ${what.replace(/\s+/g, ' ')}`);
    }
    const w = Math.max(...targets.map((t) => t.label.length));
    console.log(
      `  ${'request'.padEnd(w)}  ${'idle p50'.padStart(9)} ${'p99'.padStart(8)} ${'n'.padStart(5)}   ${'loaded p50'.padStart(10)} ${'p99'.padStart(8)} ${'n'.padStart(5)}   ${'server CPU'.padStart(10)}`,
    );
    for (const t of targets) {
      const a = idle.ms.get(t.label)!;
      const b = loaded.ms.get(t.label)!;
      console.log(
        `  ${t.label.padEnd(w)}  ${f1(quantile(a, 0.5)).padStart(9)} ${f1(quantile(a, 0.99)).padStart(8)} ${String(a.length).padStart(5)}   ${f1(quantile(b, 0.5)).padStart(10)} ${f1(quantile(b, 0.99)).padStart(8)} ${String(b.length).padStart(5)}   ${f1(cpu.get(t.label)!).padStart(10)}`,
      );
    }
    const enc = [...new Set(weights.flatMap((x) => x.parts.map((p) => p.encoding)))].join(', ');
    console.log(
      `  page weight (bytes; the server's content-encoding with "Accept-Encoding: gzip, deflate, br": ${enc}; gzip -6 and brotli of the same bytes for comparison):`,
    );
    for (const x of weights) {
      const sum = (k: 'wire' | 'raw' | 'gzip' | 'br') => x.parts.reduce((a, p) => a + p[k], 0);
      console.log(
        `  ${x.path.padEnd(24)} ${x.requests} requests: ${x.parts.map((p) => `${p.url} ${p.type} ${p.wire}`).join(' + ')}` +
          ` = ${sum('wire')} sent (gzip ${sum('gzip')}, br ${sum('br')})` +
          `${x.favicon ? `; /favicon.ico: ${x.favicon}` : ''}`,
      );
    }
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
