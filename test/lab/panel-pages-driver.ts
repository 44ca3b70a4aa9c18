/**
 * Entry point for callInNetns (test/support/netns-call.ts): the panel with the Check and DNSSEC
 * pages (src/web/panel/check-page.ts, dnssec-page.ts) over the API's route caller on the real
 * network services (src/web/api/network.ts) with the lab's resolver, real stores in a temp dir,
 * and a signed-in customer's session; fetches the given pages and returns what a browser got.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { newSession } from '../../src/auth/tokens.js';
import { parseConfig } from '../../src/config/config.js';
import { DkError } from '../../src/core/errors.js';
import { serverAddress } from '../../src/io/dns/config.js';
import { StubResolver } from '../../src/io/dns/resolver.js';
import { openState } from '../../src/store/state.js';
import { openUsersStore } from '../../src/store/users.js';
import { routeCaller } from '../../src/web/api/api.js';
import { networkServices } from '../../src/web/api/network.js';
import { storedSettings } from '../../src/web/api/settings.js';
import { checkPage } from '../../src/web/panel/check-page.js';
import { dnssecPage } from '../../src/web/panel/dnssec-page.js';
import { PLAIN_COOKIE, panelRoutes } from '../../src/web/panel/panel.js';

const unused = () => {
  throw new DkError('config', 'E_TEST_UNUSED', 'not used by this test');
};

export async function panelPages(o: {
  resolver: string;
  /** the customer's domains (the DNSSEC page is theirs only; Check is anyone's) */
  owns: string[];
  paths: string[];
}): Promise<{ path: string; status: number; html: string }[]> {
  const resolver = new StubResolver({
    servers: [serverAddress(o.resolver)],
    timeoutMs: 2000,
    tries: 2,
  });
  const dir = mkdtempSync(join(tmpdir(), 'dk-panel-pages-lab-'));
  const path = join(dir, 'state.db');
  const state = openState(path);
  const users = openUsersStore(path);
  try {
    const now = new Date();
    users.addUser({ name: 'carol', role: 'customer', domains: o.owns, passwordHash: 'x' }, now);
    const s = newSession();
    users.createSession(
      { sha256: s.sha256, user: 'carol', csrfSecret: s.csrfSecret, ttlMs: 3600_000 },
      now,
    );
    const config = parseConfig('', 'lab.ini');
    const call = routeCaller({
      ...networkServices(resolver, { backend: unused, timeoutMs: 3000 }),
      users,
      state,
      settings: storedSettings(users, () => config),
      now: () => new Date(),
      certDir: (d) => join(dir, d),
      status: unused,
      renew: unused,
      dns: { publisher: unused, removeGuard: () => undefined },
    });
    const app = new Hono();
    app.route(
      '/',
      panelRoutes(
        {
          users,
          state,
          call,
          now: () => new Date(),
          secure: false,
          status: unused,
          clientAddress: () => '127.0.0.1',
        },
        [checkPage, dnssecPage],
      ),
    );
    const out: { path: string; status: number; html: string }[] = [];
    for (const p of o.paths) {
      const res = await app.request(p, { headers: { cookie: `${PLAIN_COOKIE}=${s.id}` } });
      out.push({ path: p, status: res.status, html: await res.text() });
    }
    return out;
  } finally {
    users.close();
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
