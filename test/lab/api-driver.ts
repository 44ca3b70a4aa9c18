/**
 * Entry point for callInNetns (test/support/netns-call.ts): the JSON API app on the real
 * network services (src/web/api/network.ts) with the lab's resolver, real stores in a temp
 * dir, and an admin's API token; calls the given routes and, for comparison, the same
 * functions `check --json` and `dnssec status --json` call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { newApiToken } from '../../src/auth/tokens.js';
import { checkDomain } from '../../src/check/check.js';
import { parseConfig } from '../../src/config/config.js';
import { DkError } from '../../src/core/errors.js';
import { serverAddress } from '../../src/io/dns/config.js';
import { proveValidating } from '../../src/io/dns/index.js';
import { StubResolver } from '../../src/io/dns/resolver.js';
import { probe } from '../../src/io/probe/index.js';
import { dnssecStatus } from '../../src/publish/dnssec-status.js';
import { openState } from '../../src/store/state.js';
import { openUsersStore } from '../../src/store/users.js';
import { apiRoutes } from '../../src/web/api/api.js';
import { networkServices, zoneOf } from '../../src/web/api/network.js';
import { storedSettings } from '../../src/web/api/settings.js';

const unused = () => {
  throw new DkError('config', 'E_TEST_UNUSED', 'not used by this test');
};

export async function apiCalls(o: { resolver: string; domain: string }) {
  const resolver = new StubResolver({
    servers: [serverAddress(o.resolver)],
    timeoutMs: 2000,
    tries: 2,
  });
  const dir = mkdtempSync(join(tmpdir(), 'dk-api-lab-'));
  const path = join(dir, 'state.db');
  const state = openState(path);
  const users = openUsersStore(path);
  try {
    users.addUser({ name: 'admin', role: 'admin', domains: [], passwordHash: 'x' }, new Date());
    const t = newApiToken();
    users.addToken({ id: t.id, user: 'admin', sha256: t.sha256, expiresAt: null }, new Date());
    const config = parseConfig('', 'lab.ini');
    const logged: string[] = [];
    const app = new Hono();
    app.route(
      '/api',
      apiRoutes({
        ...networkServices(resolver, { backend: unused, timeoutMs: 3000 }),
        users,
        state,
        settings: storedSettings(users, () => config),
        now: () => new Date(),
        logger: { error: (_d, m) => void logged.push(m) },
        certDir: (d) => join(dir, d),
        status: unused,
        renew: unused,
        dns: { publisher: unused, removeGuard: () => undefined },
      }),
    );
    const get = async (p: string) => {
      const res = await app.request(p, { headers: { authorization: `Bearer ${t.token}` } });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const check = await get(`/api/v1/check/${o.domain}`);
    const dnssec = await get(`/api/v1/domains/${o.domain}/dnssec`);
    const direct = {
      check: await checkDomain(
        o.domain,
        { resolver, probe, now: () => new Date(), validating: await proveValidating(resolver) },
        { port: 25, starttls: 'smtp', days: 14, timeoutMs: 3000 },
      ),
      dnssec: await dnssecStatus({ zone: await zoneOf(resolver, o.domain), resolver }),
    };
    return { check, dnssec, direct, logged };
  } finally {
    users.close();
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
