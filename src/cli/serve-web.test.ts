import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { newApiToken } from '../auth/tokens.js';
import { parseConfig } from '../config/config.js';
import { FakeWorld } from '../daemon/fake-world.js';
import type { DomainWorld } from '../daemon/pass.js';
import { openState } from '../store/state.js';
import { openUsersStore } from '../store/users.js';
import { tempDir } from '../../test/support/pki.js';
import { daemonApp } from '../web/app.js';
import type { Io } from './io.js';
import { webFaces } from './serve-web.js';

const dir = tempDir('dk-serve-web-');
after(() => rmSync(dir, { recursive: true, force: true }));
const NOW = new Date('2026-12-01T10:00:00Z');
let n = 0;

function setup(o: { ini?: string; world?: () => Promise<DomainWorld> } = {}) {
  const path = join(dir, `s${++n}.db`);
  const state = openState(path);
  const users = openUsersStore(path);
  users.addUser({ name: 'admin', role: 'admin', domains: [], passwordHash: 'x' }, NOW);
  const t = newApiToken();
  users.addToken({ id: t.id, user: 'admin', sha256: t.sha256, expiresAt: null }, NOW);
  state.domains.add(
    {
      name: 'example.org',
      includeDomainName: true,
      subdomains: ['mail'],
      mailHosts: ['mail.example.org'],
      endpoints: [{ host: 'mail.example.org', port: 25, proto: 'tcp' }],
      dane: true,
      certDir: join(dir, 'live'),
      reload: [],
      keyType: 'ec-p256',
      newKeyEachRenewal: false,
      issuerRecords: false,
      challenge: null,
    },
    NOW,
  );
  const config = parseConfig(o.ini ?? '', 'test.ini');
  const logged: string[] = [];
  const log = pino(
    { base: null },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        logged.push(chunk.toString());
        cb();
      },
    }),
  );
  const io: Io = { out: () => {}, err: () => {}, verbose: () => {}, withVerbose: () => io };
  const renewed: string[] = [];
  const woken: string[] = [];
  const faces = webFaces({
    config: () => config,
    state,
    users,
    env: { DANEKEEPER_STATE_DIR: dir },
    uid: 1000,
    secure: false,
    log,
    io,
    now: () => NOW,
    world: o.world ?? (() => Promise.resolve(new FakeWorld({ t: NOW.getTime() }))),
    renew: (d) => void renewed.push(d),
    settingsChanged: () => void woken.push('settings'),
    domainChanged: (d) => void woken.push(d),
  });
  const app = daemonApp(
    { health: () => ({ ok: true, detail: {} }), metrics: () => '' },
    { ...faces, logger: log },
  );
  const req = (method: string, p: string, body?: unknown) =>
    app.request(`/api${p}`, {
      method,
      headers: {
        authorization: `Bearer ${t.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  // a panel session for the admin, as the login makes one (its cookie over plain HTTP)
  const sid = 'test-session-id';
  users.createSession(
    {
      sha256: createHash('sha256').update(sid).digest('hex'),
      user: 'admin',
      csrfSecret: 'c',
      ttlMs: 3_600_000,
    },
    NOW,
  );
  const page = (p: string) => app.request(p, { headers: { cookie: `dk_session=${sid}` } });
  return {
    req,
    page,
    state,
    renewed,
    woken,
    logged,
    close: () => {
      users.close();
      state.close();
    },
  };
}

describe('serve-web: the API on the services serve builds', () => {
  it('the domains list (panel and API) observes nothing per row; the domain page and GET look', async () => {
    const world = new FakeWorld({ t: NOW.getTime() });
    const s = setup({ world: () => Promise.resolve(world) });
    try {
      for (let i = 0; i < 19; i++) {
        s.state.domains.add(
          { ...s.state.domains.get('example.org')!, name: `d${i}.example.org` },
          NOW,
        );
      }
      const panel = await s.page('/domains');
      assert.equal(panel.status, 200);
      assert.match(await panel.text(), /d18\.example\.org/);
      const api = await s.req('GET', '/v1/domains?perPage=50');
      assert.equal(api.status, 200);
      const body = (await api.json()) as { domains: { status: { source: string } }[] };
      assert.equal(body.domains.length, 20);
      assert.ok(body.domains.every((d) => d.status.source === 'stored'));
      assert.equal(world.observed, 0, '20 rows, no observation');
      assert.equal((await s.page('/domains/example.org')).status, 200);
      assert.equal(world.observed, 1, 'the domain page observes its domain');
      assert.equal((await s.req('GET', '/v1/domains/example.org')).status, 200);
      assert.equal(world.observed, 2);
    } finally {
      s.close();
    }
  });

  it("GET /v1/settings on serve's services carries the INI file's read-only facts", async () => {
    const s = setup({
      ini: '[dns]\nbackend = rfc2136\nzone = example.org\nserver = 192.0.2.53:53\ntsig-key-file = /etc/dk/tsig.key\n',
    });
    try {
      const r = await s.req('GET', '/v1/settings');
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const j = JSON.parse(text) as Record<string, unknown>;
      assert.equal(j.dnsBackend, 'rfc2136 (zone example.org, primary 192.0.2.53:53)');
      assert.equal(j.acmeDirectory, 'letsencrypt (https://acme-v02.api.letsencrypt.org/directory)');
      assert.equal(j.notifyEmail, null);
      assert.doesNotMatch(text, /tsig/);
    } finally {
      s.close();
    }
  });

  it('renew queues through the daemon; settings and DANE changes wake it', async () => {
    const s = setup();
    try {
      assert.equal((await s.req('POST', '/v1/domains/example.org/renew')).status, 200);
      assert.deepEqual(s.renewed, ['example.org']);
      assert.equal((await s.req('PUT', '/v1/settings', { daneEnabled: false })).status, 200);
      const off = await s.req('POST', '/v1/domains/example.org/disable-dane');
      assert.equal(off.status, 200, await off.text());
      assert.deepEqual(s.woken, ['settings', 'example.org']);
      // the override is what the API now refuses by
      const on = await s.req('POST', '/v1/domains/example.org/enable-dane');
      assert.equal(on.status, 409);
    } finally {
      s.close();
    }
  });

  it("status is status --json on a world as the pass builds it; the admin sees domain add's default cert dir", async () => {
    const s = setup();
    try {
      const r = await s.req('GET', '/v1/domains/example.org');
      assert.equal(r.status, 200);
      const b = (await r.json()) as { status: { name: string; dane: boolean; phase: string } };
      assert.equal(b.status.name, 'example.org');
      assert.equal(typeof b.status.phase, 'string');
      // named mail host, DANE off: no DNS asked
      const add = await s.req('POST', '/v1/domains', {
        name: 'new.example',
        subdomains: ['mail'],
        mailHosts: ['mail.new.example'],
        dane: false,
      });
      const text = await add.text();
      assert.equal(add.status, 201, text);
      const d = (JSON.parse(text) as { domain: { certDir: string } }).domain;
      assert.equal(d.certDir, join(dir, 'live', 'new.example'));
      assert.deepEqual(s.woken, ['new.example']);
    } finally {
      s.close();
    }
  });

  it('no DNS backend configured: the TLSA routes say so with a 409, before any lookup', async () => {
    const s = setup();
    try {
      const r = await s.req('GET', '/v1/domains/example.org/tlsa');
      assert.equal(r.status, 409);
      const b = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(b.error.code, 'E_API_NO_BACKEND');
      assert.match(b.error.message, /\[dns\] backend =/);
    } finally {
      s.close();
    }
  });

  it('a file the configuration names that cannot be read is a 409 naming it, not a 500', async () => {
    const missing = join(dir, 'no-such-ca.pem');
    const s = setup({
      world: async () => {
        readFileSync(missing, 'utf8');
        throw new Error('unreachable');
      },
    });
    try {
      const r = await s.req('GET', '/v1/domains/example.org');
      assert.equal(r.status, 409);
      const b = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(b.error.code, 'E_SERVE_CONFIG_FILE');
      assert.match(b.error.message, /ENOENT .*no-such-ca\.pem/);
      assert.equal(s.logged.length, 0, 'not logged as a bug');
    } finally {
      s.close();
    }
  });
});
