/**
 * bench/api.ts measures what it says only if its store is what it claims (bench/api-fixture.ts):
 * every domain at rest for the pass `serve` runs on the same INI (so serve's own pass reaches
 * for nothing), a status with a deployed, verified certificate to work on, and an admin and a
 * customer whose tokens and passwords work against the stand-in server (bench/api-server.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFixture, type Fixture } from '../bench/api-fixture.js';
import type { Io } from '../src/cli/io.js';
import { processRunDeps } from '../src/cli/run.js';
import { loadConfig } from '../src/config/config.js';
import { runPass, type DomainWorld } from '../src/daemon/pass.js';
import { domainStatus } from '../src/daemon/status.js';
import { openState } from '../src/store/state.js';
import { tempDir } from './support/pki.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const quiet: Io = { out: () => {}, err: () => {}, verbose: () => {}, withVerbose: () => quiet };

describe('bench/api-fixture.ts', { timeout: 120_000 }, () => {
  let dir: string;
  let fx: Fixture;
  before(async () => {
    dir = tempDir('dk-bench-api-test-');
    fx = await buildFixture(dir, { domains: 30, customerDomains: 10 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const realWorld = async (store: ReturnType<typeof openState>) =>
    processRunDeps().world({
      config: loadConfig(fx.configPath, {}),
      flags: { config: fx.configPath },
      store,
      statePath: fx.statePath,
      io: quiet,
      now: () => new Date(),
    });

  it('leaves every domain at rest for the real pass: it observes and executes nothing', async () => {
    const store = openState(fx.statePath);
    try {
      const real = await realWorld(store);
      const touched: string[] = [];
      const world: DomainWorld = {
        policy: (d) => real.policy(d),
        observe: (d) => {
          touched.push(`observe ${d.name}`);
          return Promise.reject(new Error('observed'));
        },
        execute: (d, a) => {
          touched.push(`${a.kind} ${d.name}`);
          return Promise.reject(new Error('executed'));
        },
      };
      const out = await runPass({ store, world, now: () => new Date(), holder: 'test' });
      assert.equal(out.length, 30, 'one outcome per domain');
      assert.deepEqual(touched, [], 'the pass touched the world');
      assert.deepEqual(
        out.filter((o) => o.result !== 'idle').map((o) => o.domain),
        [],
        'domains not idle',
      );
    } finally {
      store.close();
    }
  });

  it('gives status a deployed, verified certificate and keys to look at, no network answer', async () => {
    const store = openState(fx.statePath);
    try {
      const world = await realWorld(store);
      const d = store.domains.get(fx.names[7]!)!;
      const s = await domainStatus(store, world, d, new Date());
      assert.equal(s.error, undefined, `status failed: ${JSON.stringify(s.error)}`);
      assert.equal(s.certificate?.verified, true, 'the installed certificate is verified');
      assert.notEqual(s.phase, 'installing', 'the pair is found deployed in the cert dir');
      assert.equal(s.keys?.current?.id, `${d.name}#k1`, 'current key');
      assert.equal(s.keys?.next?.id, `${d.name}#k2`, 'next key');
      assert.match(
        JSON.stringify(s.live),
        /connection refused/,
        'the live lookup went to the closed loopback resolver',
      );
    } finally {
      store.close();
    }
  });

  it('serves the lists to the admin and the customer through the stand-in server', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'bench', 'api-server.ts'), fx.configPath, fx.statePath],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout!.setEncoding('utf8').on('data', (d: string) => {
          buf += d;
          const m = /\{"listening":"([^"]+)"\}/.exec(buf);
          if (m) resolve(`http://${m[1]!}`);
        });
        child.once('exit', (c) => reject(new Error(`the stand-in exited with ${c}`)));
      });
      const list = async (token: string) => {
        const r = await fetch(`${base}/api/v1/domains?perPage=5`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(r.status, 200, 'list status');
        return (await r.json()) as { total: number; domains: { name: string }[] };
      };
      const admin = await list(fx.admin.token);
      assert.equal(admin.total, 30, 'the admin sees every domain');
      const customer = await list(fx.customer.token);
      assert.equal(customer.total, 10, 'the customer sees their own');
      assert.ok(
        customer.domains.every((d) => fx.customerNames.includes(d.name)),
        'only the customer’s domains',
      );
      const login = await fetch(`${base}/login`);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? '';
      const r = await fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({
          _csrf: csrf,
          name: fx.customer.name,
          password: fx.customer.password,
        }),
      });
      assert.equal(r.status, 303, 'the customer’s password logs in');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
