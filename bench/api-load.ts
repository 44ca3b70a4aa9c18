/**
 * The background load of bench/api.ts, in a process of its own: CLIENTS concurrent clients,
 * each one request at a time on its own keep-alive connection (no pause between requests),
 * cycling through the requests it is given (each client starts at a different place in the
 * list), until SIGTERM or `seconds` at most. Prints `{"started": true}` once running, and
 * one JSON line when done: requests made, how many were not 2xx, per status (a refusal with
 * its path and the start of its body, a failed connection with its error).
 *
 *   node --import tsx bench/api-load.ts '{"base": "http://127.0.0.1:PORT", "clients": 8,
 *     "seconds": 300, "requests": [{"path": "/api/v1/domains?page=3", "headers": {...}}]}'
 */
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
}

export interface LoadPlan {
  base: string;
  clients: number;
  seconds: number;
  requests: LoadRequest[];
}

export interface LoadReport {
  requests: number;
  notOk: number;
  byStatus: Record<string, number>;
  seconds: number;
}

/** One GET, the body read to its end; resolves with the status (0: the connection failed). */
export function get(agent: Agent, base: string, r: LoadRequest): Promise<string> {
  return new Promise((resolve) => {
    const req = request(new URL(r.path, base), { agent, headers: r.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => {
        const s = String(res.statusCode ?? 0);
        // what a refusal said, for the report (an error body is small)
        resolve(
          s.startsWith('2')
            ? s
            : `${s} ${r.path.replace(/\?.*/, '')}: ${Buffer.concat(parts).toString().slice(0, 200)}`,
        );
      });
      res.on('error', (e) => resolve(`response error: ${e.message}`));
    });
    req.on('error', (e) =>
      resolve(`request error: ${(e as NodeJS.ErrnoException).code ?? e.message}`),
    );
    req.end();
  });
}

async function main(plan: LoadPlan): Promise<void> {
  let until = Date.now() + plan.seconds * 1000;
  // SIGTERM: the clients finish the request in flight and stop
  process.once('SIGTERM', () => (until = 0));
  const byStatus: Record<string, number> = {};
  let n = 0;
  const t = Date.now();
  process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  await Promise.all(
    Array.from({ length: plan.clients }, async (_, c) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let i = Math.floor((c * plan.requests.length) / plan.clients);
      while (Date.now() < until) {
        const s = await get(agent, plan.base, plan.requests[i++ % plan.requests.length]!);
        byStatus[s] = (byStatus[s] ?? 0) + 1;
        n++;
      }
      agent.destroy();
    }),
  );
  const notOk = Object.entries(byStatus)
    .filter(([s]) => !/^2\d\d$/.test(s))
    .reduce((a, [, k]) => a + k, 0);
  const report: LoadReport = { requests: n, notOk, byStatus, seconds: (Date.now() - t) / 1000 };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// scripts/bench.sh runs every bench/*.ts without arguments: this one is bench/api.ts's helper
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === undefined)
    console.log('bench/api-load.ts: the load process of bench/api.ts');
  else await main(JSON.parse(process.argv[2]) as LoadPlan);
}
