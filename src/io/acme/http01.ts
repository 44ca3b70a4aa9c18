/**
 * HTTP-01 (RFC 8555 §8.3): the CA fetches http://NAME/.well-known/acme-challenge/TOKEN and
 * expects the key authorization. Either our own listener on `http-listen`, serving only those
 * paths and closed afterwards, or files written into `webroot` and removed afterwards.
 */
import { createServer, type Server } from 'node:http';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DkError } from '../../core/errors.js';
import type { ChallengeItem, ChallengeSolver } from './solver.js';

const PREFIX = '/.well-known/acme-challenge/';
/** RFC 8555 §8.1: a token is base64url; nothing else may reach the file system. */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** `http-listen` as host:port ([v6]:port); port required. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new DkError(
      'config',
      'E_ACME_HTTP_LISTEN',
      `Cannot use http-listen ${JSON.stringify(value)}: give HOST:PORT, e.g. 0.0.0.0:80`,
    );
  }
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!), port };
}

export class HttpListenerSolver implements ChallengeSolver {
  readonly type = 'http-01';
  private server: Server | undefined;
  private readonly answers = new Map<string, string>();
  private readonly listen: { host: string; port: number };
  /** requests served, for the caller's report and tests */
  readonly served: string[] = [];

  constructor(listen: string) {
    this.listen = parseListen(listen);
  }

  /** the bound port (useful with port 0) */
  get port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async prepare(items: ChallengeItem[]): Promise<void> {
    for (const it of items) this.answers.set(it.token, it.keyAuthorization);
    if (this.server) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      const token = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : undefined;
      const answer =
        token !== undefined && req.method === 'GET' ? this.answers.get(token) : undefined;
      if (answer === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      this.served.push(token!);
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new DkError(
            e.code === 'EACCES' ? 'noperm' : 'unavailable',
            'E_ACME_HTTP_LISTEN',
            `Cannot listen on ${this.listen.host}:${this.listen.port} for HTTP-01: ${e.code ?? e.message}`,
          ),
        ),
      );
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    this.server = server;
  }

  async cleanup(): Promise<void> {
    this.answers.clear();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

export class WebrootSolver implements ChallengeSolver {
  readonly type = 'http-01';
  private readonly written: string[] = [];
  constructor(private readonly webroot: string) {}

  async prepare(items: ChallengeItem[]): Promise<void> {
    const dir = join(this.webroot, '.well-known', 'acme-challenge');
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      for (const it of items) {
        if (!TOKEN.test(it.token)) {
          throw new DkError(
            'protocol',
            'E_ACME_TOKEN',
            `Cannot write the HTTP-01 answer: the CA's token is not base64url`,
          );
        }
        const file = join(dir, it.token);
        this.written.push(file);
        // world-readable: the web server that serves it usually runs as another user
        await writeFile(file, it.keyAuthorization, { mode: 0o644 });
      }
    } catch (e) {
      if (e instanceof DkError) throw e;
      throw new DkError(
        'noinput',
        'E_ACME_WEBROOT',
        `Cannot write the HTTP-01 answer into ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  }

  async cleanup(): Promise<void> {
    for (const f of this.written.splice(0)) await rm(f, { force: true });
  }
}
