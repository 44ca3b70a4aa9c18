import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { LoginLimiter } from '../../auth/login.js';
import { hashPassword } from '../../auth/password.js';
import type { DomainSettings } from '../../store/domains.js';
import { openState, type StateStore } from '../../store/state.js';
import { openUsersStore, type UsersStore } from '../../store/users.js';
import { makePki } from '../../../test/support/pki.js';
import {
  LOGIN_CSRF_COOKIE,
  PAGE_SIZE,
  PLAIN_COOKIE,
  SECURE_COOKIE,
  panelRoutes,
  type PanelDeps,
} from './panel.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-panel-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NOW = new Date('2026-12-01T10:00:00Z');
let n = 0;
const HASHES: Record<string, string> = {};
before(async () => {
  // scrypt is slow on purpose: hash each password once for all tests
  for (const u of ['admin', 'alice', 'bob']) HASHES[u] = await hashPassword(`${u}-pass-123`);
});

function settings(name: string, dane = true): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
    dane,
    certDir: `/tmp/live/${name}`,
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

interface Env {
  app: Hono;
  state: StateStore;
  users: UsersStore;
  close(): void;
}

function env(o: Partial<PanelDeps> = {}): Env {
  const path = join(dir, `state-${++n}.db`);
  const state = openState(path);
  const users = openUsersStore(path);
  users.addUser({ name: 'admin', role: 'admin', domains: [], passwordHash: HASHES.admin! }, NOW);
  users.addUser(
    { name: 'alice', role: 'customer', domains: ['example.org'], passwordHash: HASHES.alice! },
    NOW,
  );
  users.addUser(
    { name: 'bob', role: 'customer', domains: ['example.net'], passwordHash: HASHES.bob! },
    NOW,
  );
  state.domains.add(settings('example.org'), NOW);
  state.domains.add(settings('example.net'), NOW);
  state.domains.add(settings('off.example.org', false), NOW);
  state.events.append('example.org', 'records-published', 'published 3 1 1', {}, NOW);
  const app = new Hono();
  app.route(
    '/',
    panelRoutes({
      users,
      state,
      call: () => Promise.reject(new Error('no route is called by these pages')),
      now: () => NOW,
      secure: true,
      clientAddress: () => '192.0.2.7',
      status: async (d) =>
        d.name === 'example.net'
          ? {
              name: d.name,
              phase: 'propagating',
              waitingFor: 'propagation',
              until: NOW.toISOString(),
            }
          : {
              name: d.name,
              phase: 'idle',
              waitingFor: null,
              certificate: {
                id: 'c1',
                serial: '0abc',
                notBefore: '2026-11-01T00:00:00Z',
                notAfter: '2027-01-30T00:00:00Z',
                keyId: 'k1',
                verified: true,
              },
              tlsa: [
                {
                  owner: `_25._tcp.mail.${d.name}.`,
                  rdata: `3 1 1 ${'ab'.repeat(32)}`,
                  role: 'current-key',
                  published: true,
                  servedBy: ['ns1.example.org'],
                  notServedBy: [],
                  confirmedAt: NOW.toISOString(),
                },
              ],
            },
      ...o,
    }),
  );
  return { app, state, users, close: () => (users.close(), state.close()) };
}

/** A tiny browser: keeps cookies, sends forms. */
class Browser {
  jar = new Map<string, string>();
  constructor(readonly e: Env) {}
  async go(method: string, path: string, form?: Record<string, string>) {
    const headers: Record<string, string> = {};
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await this.e.app.request(path, { method, headers, body });
    for (const sc of res.headers.getSetCookie()) {
      const [kv] = sc.split(';');
      const i = kv!.indexOf('=');
      const k = kv!.slice(0, i);
      const v = kv!.slice(i + 1);
      if (v === '' || /max-age=0/i.test(sc)) this.jar.delete(k);
      else this.jar.set(k, v);
    }
    return res;
  }
  async get(path: string) {
    const res = await this.go('GET', path);
    return { res, text: await res.text() };
  }
  async login(name: string, password: string) {
    const { text } = await this.get('/login');
    return this.go('POST', '/login', { _csrf: csrfOf(text), name, password });
  }
}

const csrfOf = (text: string) => /name="_csrf" value="([^"]+)"/.exec(text)![1]!;

/** <title>, <main>, and a label for every visible field. */
function assertAccessibleShape(text: string) {
  assert.match(text, /<title>[^<]+<\/title>/);
  assert.match(text, /<main[ >]/);
  assert.match(text, /<html lang="en">/);
  assert.match(text, /<a class="skip" href="#main">/);
  assert.match(text, /<main id="main">/);
  const levels = [...text.matchAll(/<h([1-6])\b/g)].map((m) => Number(m[1]));
  assert.equal(levels[0], 1, 'one h1 first');
  levels.forEach((l, i) => i && assert.ok(l <= levels[i - 1]! + 1, 'headings in order'));
  const ids = [...text.matchAll(/<(?:input|textarea|select)\b([^>]*)>/g)]
    .map((m) => m[1]!)
    .filter((a) => !/type="hidden"/.test(a))
    .map((a) => /id="([^"]+)"/.exec(a)?.[1]);
  for (const id of ids) {
    assert.ok(id, 'every field has an id');
    assert.match(text, new RegExp(`<label for="${id}"\\s*>`), `label for ${id}`);
  }
}

describe('panel login and sessions', () => {
  it('logs in with the right password: a __Host- cookie, HttpOnly, SameSite=Strict, Secure, Path=/; audit', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      const res = await b.login('alice', 'alice-pass-123');
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/domains');
      const sc = res.headers.getSetCookie().find((x) => x.startsWith(`${SECURE_COOKIE}=`));
      assert.ok(sc, 'session cookie set');
      assert.match(sc, /HttpOnly/);
      assert.match(sc, /SameSite=Strict/);
      assert.match(sc, /Secure/);
      assert.match(sc, /Path=\//);
      assert.doesNotMatch(sc, /Domain=/);
      assert.equal(e.users.sessionCount('alice'), 1);
      const { res: r2, text } = await b.get('/domains');
      assert.equal(r2.status, 200);
      assert.equal(r2.headers.get('cache-control'), 'no-store');
      assert.match(text, /Signed in as <strong>alice<\/strong>/);
      assert.equal(e.users.auditLog()[0]?.action, 'login');
      assert.equal(e.users.auditLog()[0]?.source, '192.0.2.7');
    } finally {
      e.close();
    }
  });

  it('over plain HTTP the cookie is dk_session without Secure (browsers refuse __Host- there)', async () => {
    const e = env({ secure: false });
    try {
      const res = await new Browser(e).login('alice', 'alice-pass-123');
      const sc = res.headers.getSetCookie().find((x) => x.startsWith(`${PLAIN_COOKIE}=`));
      assert.ok(sc);
      assert.doesNotMatch(sc, /Secure/);
      assert.match(sc, /HttpOnly/);
      assert.match(sc, /SameSite=Strict/);
    } finally {
      e.close();
    }
  });

  it('a wrong password: 400, no session, a login.failed audit entry', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      const res = await b.login('alice', 'wrong');
      assert.equal(res.status, 400);
      assert.match(await res.text(), /Wrong user name or password/);
      assert.equal(b.jar.has(SECURE_COOKIE), false);
      assert.equal(e.users.sessionCount('alice'), 0);
      assert.equal(e.users.auditLog()[0]?.action, 'login.failed');
    } finally {
      e.close();
    }
  });

  it('limited after failures: 429 with Retry-After, even with the right password', async () => {
    const e = env({ limiter: new LoginLimiter({ perName: 2 }) });
    try {
      const b = new Browser(e);
      await b.login('alice', 'x');
      await b.login('alice', 'y');
      const res = await b.login('alice', 'alice-pass-123');
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), String(15 * 60));
      assert.equal(e.users.sessionCount('alice'), 0);
    } finally {
      e.close();
    }
  });

  it('refuses a login POST without the form token (login CSRF)', async () => {
    const e = env();
    try {
      const res = await e.app.request('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'name=alice&password=alice-pass-123',
      });
      assert.equal(res.status, 403);
      assert.equal(e.users.sessionCount('alice'), 0);
      const b = new Browser(e);
      await b.get('/login');
      assert.ok(b.jar.has(LOGIN_CSRF_COOKIE));
      const r2 = await b.go('POST', '/login', {
        _csrf: 'forged',
        name: 'alice',
        password: 'alice-pass-123',
      });
      assert.equal(r2.status, 403);
    } finally {
      e.close();
    }
  });

  it('CSRF: a POST with the session but without its token is refused and changes nothing', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      await b.login('alice', 'alice-pass-123');
      const audits = e.users.auditLog().length;
      const res = await b.go('POST', '/logout', {});
      assert.equal(res.status, 403);
      const r2 = await b.go('POST', '/logout', { _csrf: 'not-the-token' });
      assert.equal(r2.status, 403);
      assert.equal(e.users.sessionCount('alice'), 1);
      assert.equal(e.users.auditLog().length, audits);
    } finally {
      e.close();
    }
  });

  it('logout ends the session: the old cookie no longer works; audited', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      await b.login('alice', 'alice-pass-123');
      const old = b.jar.get(SECURE_COOKIE)!;
      const { text } = await b.get('/domains');
      const res = await b.go('POST', '/logout', { _csrf: csrfOf(text) });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/login');
      assert.equal(e.users.sessionCount('alice'), 0);
      assert.equal(e.users.auditLog()[0]?.action, 'logout');
      b.jar.set(SECURE_COOKIE, old);
      const { res: r2 } = await b.get('/domains');
      assert.equal(r2.status, 303);
      assert.equal(r2.headers.get('location'), '/login');
    } finally {
      e.close();
    }
  });

  it('logging in again replaces the session the browser held (no fixation)', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      await b.login('alice', 'alice-pass-123');
      const first = b.jar.get(SECURE_COOKIE)!;
      // a second browser holding that id (planted) logs in
      const b2 = new Browser(e);
      const { text } = await b2.get('/login');
      b2.jar.set(SECURE_COOKIE, first);
      const res = await b2.go('POST', '/login', {
        _csrf: csrfOf(text),
        name: 'alice',
        password: 'alice-pass-123',
      });
      assert.equal(res.status, 303);
      assert.notEqual(b2.jar.get(SECURE_COOKIE), first);
      assert.equal(e.users.sessionCount('alice'), 1, 'the planted session was ended');
      assert.equal((await b.get('/domains')).res.status, 303);
    } finally {
      e.close();
    }
  });

  it('without a session pages redirect to /login', async () => {
    const e = env();
    try {
      for (const p of ['/domains', '/domains/example.org', '/generate', '/']) {
        const res = await e.app.request(p);
        assert.equal(res.status, 303, p);
        assert.equal(res.headers.get('location'), p === '/' ? '/login' : '/login');
      }
    } finally {
      e.close();
    }
  });
});

describe('panel pages', () => {
  it('a customer sees only own domains, by list and by guessing a URL (404 like a missing one)', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      await b.login('alice', 'alice-pass-123');
      const { text } = await b.get('/domains');
      assert.match(text, /example\.org/);
      assert.doesNotMatch(text, /example\.net/);
      assert.match(text, /\(2 domains\)/, 'example.org and off.example.org');
      const other = await b.get('/domains/example.net');
      const missing = await b.get('/domains/nowhere.example');
      assert.equal(other.res.status, 404);
      assert.equal(missing.res.status, 404);
      assert.equal(other.text, missing.text);
      assert.doesNotMatch(other.text, /propagating/);
      const q = await b.get('/domains?q=net');
      assert.doesNotMatch(q.text, /example\.net/);
      const own = await b.get('/domains/Example.ORG');
      assert.equal(own.res.status, 200);
    } finally {
      e.close();
    }
  });

  it('badges from the status data: verified, waiting, off; an admin sees all', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      await b.login('admin', 'admin-pass-123');
      const { text } = await b.get('/domains');
      const row = (name: string) =>
        new RegExp(
          `>${name.replace(/\./g, '\\.')}</a>\\s*</td>\\s*<td><span class="badge badge-(\\w+)"`,
        ).exec(text)?.[1];
      assert.equal(row('example.org'), 'verified');
      assert.equal(row('example.net'), 'waiting');
      assert.equal(row('off.example.org'), 'off');
      assert.match(text, /<a href="\/settings"/, 'admins get Settings in the nav');
    } finally {
      e.close();
    }
  });

  it('a failing status (an error from the status source) shows as failing', async () => {
    const e = env({
      status: async (d) => ({ name: d.name, error: { code: 'E_X', message: 'boom' } }),
    });
    try {
      const b = new Browser(e);
      await b.login('alice', 'alice-pass-123');
      const { text } = await b.get('/domains');
      assert.match(text, /badge-failing/);
      const d = await b.get('/domains/example.org');
      assert.match(d.text, /role="alert">boom</);
    } finally {
      e.close();
    }
  });

  it('search and paging', async () => {
    const e = env();
    try {
      for (let i = 0; i < PAGE_SIZE + 5; i++)
        e.state.domains.add(settings(`d${String(i).padStart(2, '0')}.test`), NOW);
      const b = new Browser(e);
      await b.login('admin', 'admin-pass-123');
      const p1 = await b.get('/domains?q=.test');
      assert.equal((p1.text.match(/<tr>/g) ?? []).length - 1, PAGE_SIZE);
      assert.match(p1.text, /Page 1 of 2 \(25 domains\)/);
      assert.match(p1.text, /href="\/domains\?q=.test&amp;page=2" rel="next"/);
      const p2 = await b.get('/domains?q=.test&page=2');
      assert.equal((p2.text.match(/<tr>/g) ?? []).length - 1, 5);
      const one = await b.get('/domains?q=d07');
      assert.match(one.text, /d07\.test/);
      assert.match(one.text, /Page 1 of 1 \(1 domain\)/);
      assert.doesNotMatch(one.text, /d08\.test/);
      const big = await b.get('/domains?page=999');
      assert.match(big.text, /Page 2 of 2/);
    } finally {
      e.close();
    }
  });

  it('the list reads only its page from the store (no list() of every domain), admin and customer', async () => {
    const e = env();
    try {
      for (let i = 0; i < PAGE_SIZE + 7; i++) {
        e.state.domains.add(settings(`d${String(i).padStart(2, '0')}.example.org`), NOW);
        e.state.domains.add(settings(`d${String(i).padStart(2, '0')}.other.test`), NOW);
      }
      // every row read and parsed per page view was most of a 10,000-domain list's time
      e.state.domains.list = () => assert.fail('the list read every domain');
      const names = (text: string) =>
        [...text.matchAll(/>([a-z0-9.-]+)<\/a>\s*<\/td>/g)].map((m) => m[1]);
      const admin = new Browser(e);
      await admin.login('admin', 'admin-pass-123');
      // d00..d09 of both (20, one page): a page beyond the last shows the last
      const a2 = await admin.get('/domains?q=D0&page=2');
      assert.equal(a2.res.status, 200);
      assert.match(a2.text, /Page 1 of 1 \(20 domains\)/);
      assert.equal(names(a2.text).length, 20);
      assert.deepEqual(names(a2.text).slice(0, 3), [
        'd00.example.org',
        'd00.other.test',
        'd01.example.org',
      ]);
      const a1 = await admin.get('/domains?q=other');
      assert.match(a1.text, new RegExp(`Page 1 of 2 \\(${PAGE_SIZE + 7} domains\\)`));
      assert.equal(names(a1.text)[0], 'd00.other.test');
      const alice = new Browser(e);
      await alice.login('alice', 'alice-pass-123');
      const c2 = await alice.get('/domains?page=2');
      assert.equal(c2.res.status, 200);
      // example.org, off.example.org and the d*.example.org: PAGE_SIZE + 9, by name
      assert.match(c2.text, new RegExp(`Page 2 of 2 \\(${PAGE_SIZE + 9} domains\\)`));
      assert.deepEqual(names(c2.text), [
        ...Array.from({ length: 7 }, (_, i) => `d${PAGE_SIZE + i}.example.org`),
        'example.org',
        'off.example.org',
      ]);
    } finally {
      e.close();
    }
  });

  it('a domain page: phase, certificate dates, TLSA records with servers, the timeline', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      await b.login('alice', 'alice-pass-123');
      const { text } = await b.get('/domains/example.org');
      assert.match(text, /<dt>Phase<\/dt>\s*<dd id="progress-phase">idle<\/dd>/);
      assert.match(text, /2027-01-30T00:00:00Z/);
      assert.match(text, /_25\._tcp\.mail\.example\.org\./);
      assert.match(text, /ns1\.example\.org/);
      assert.match(text, /<td>TLSA records published<\/td>\s*<td>published 3 1 1<\/td>/);
    } finally {
      e.close();
    }
  });

  it('generate: records from a pasted chain; an error as a message; nothing stored', async () => {
    const e = env();
    try {
      const pki = makePki(dir, { names: ['mail.example.org'] });
      const b = new Browser(e);
      await b.login('alice', 'alice-pass-123');
      const { text } = await b.get('/generate');
      const before = JSON.stringify([e.state.domains.list(), e.users.auditLog()]);
      const res = await b.go('POST', '/generate', {
        _csrf: csrfOf(text),
        pem: pki.leaf.certPem + pki.intermediate.certPem,
        host: 'mail.example.org',
        port: '25',
      });
      const out = await res.text();
      assert.equal(res.status, 200);
      assert.match(out, /DANE-EE: [^<]*:\s*<code>3 1 1 [0-9a-f]{64}<\/code>/);
      assert.match(out, /<code>2 1 1 [0-9a-f]{64}<\/code>/);
      assert.match(out, /_25\._tcp\.mail\.example\.org\.\s+IN\s+TLSA\s+3 1 1/);
      const bad = await b.go('POST', '/generate', {
        _csrf: csrfOf(text),
        pem: 'hello',
        port: '25',
      });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /class="error" role="alert">The paste holds no PEM/);
      const badPort = await b.go('POST', '/generate', {
        _csrf: csrfOf(text),
        pem: 'x',
        port: '70000',
      });
      assert.equal(badPort.status, 400);
      assert.equal(JSON.stringify([e.state.domains.list(), e.users.auditLog()]), before);
    } finally {
      e.close();
    }
  });

  it('every page: <title>, <main>, labelled fields, secure headers; CSS served', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      const login = await b.get('/login');
      assertAccessibleShape(login.text);
      await b.login('admin', 'admin-pass-123');
      for (const p of [
        '/domains',
        '/domains/example.org',
        '/generate',
        '/check',
        '/dnssec',
        '/settings',
        '/domains/nope.test',
        '/domains/add',
        '/domains/add?name=example.com',
        '/domains/example.org/remove',
      ]) {
        const { res, text } = await b.get(p);
        assertAccessibleShape(text);
        const csp = res.headers.get('content-security-policy') ?? '';
        assert.match(csp, /frame-ancestors 'none'/, p);
        assert.doesNotMatch(csp, /unsafe-inline/, p);
        assert.match(csp, /default-src 'none'/, p);
        assert.equal(res.headers.get('referrer-policy'), 'no-referrer', p);
        assert.doesNotMatch(csp, /script-src (?!'self';)/, p);
        // scripts only as same-origin files, never inline (CSP script-src 'self')
        for (const m of text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
          assert.match(m[1]!, /src="\/progress\.js"/, p);
          assert.equal(m[2], '', p);
        }
      }
      const css = await b.get('/panel.css');
      assert.match(css.res.headers.get('content-type') ?? '', /text\/css/);
      assert.match(css.text, /focus-visible/);
      // reflow at 320 px (WCAG 1.4.10), found on a phone-sized chromium: the nav wraps, and a
      // table cell breaks anywhere instead of pushing the page sideways
      assert.match(css.text, /nav ul \{ display: flex; flex-wrap: wrap;/);
      assert.match(css.text, /th, td \{ overflow-wrap: anywhere; \}/);
    } finally {
      e.close();
    }
  });

  it('a customer gets no Settings (link nor page)', async () => {
    const e = env();
    try {
      const b = new Browser(e);
      await b.login('bob', 'bob-pass-123');
      const { text } = await b.get('/domains');
      assert.doesNotMatch(text, /href="\/settings"/);
      assert.equal((await b.get('/settings')).res.status, 404);
    } finally {
      e.close();
    }
  });
});

describe('panel mounted next to the API', () => {
  it('claims only its own paths: /healthz, /api/* and unknown paths are left to the app', async () => {
    const e = env();
    try {
      // mounted first, the worst order: a `*` middleware in the panel would catch these
      const app = new Hono();
      app.route('/', e.app);
      app.get('/healthz', (c) => c.json({ status: 'ok' }));
      const api = new Hono();
      api.post('/v1/x', (c) => c.json({ ok: true }));
      app.route('/api', api);
      app.notFound((c) => c.json({ error: 'nf' }, 404));
      const h = await app.request('/healthz');
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('content-security-policy'), null);
      const a = await app.request('/api/v1/x', { method: 'POST' });
      assert.equal(a.status, 200);
      const nf = await app.request('/nope');
      assert.equal(nf.status, 404);
      assert.deepEqual(await nf.json(), { error: 'nf' });
      assert.equal((await app.request('/domains')).status, 303);
    } finally {
      e.close();
    }
  });
});
