/**
 * Attack tests of the panel and the JSON API as serve builds them (issue 11: "session and CSRF
 * tests, and bad form and API input ... answered with a message and nothing written"; "A 5xx is
 * a bug"). The real app in-process (serve-web.ts webFaces + app.ts daemonApp), no socket.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { hashPassword } from '../src/auth/password.js';
import { newApiToken } from '../src/auth/tokens.js';
import { parseConfig } from '../src/config/config.js';
import { FakeWorld } from '../src/daemon/fake-world.js';
import type { Io } from '../src/cli/io.js';
import { webFaces } from '../src/cli/serve-web.js';
import { openState } from '../src/store/state.js';
import { openUsersStore } from '../src/store/users.js';
import { daemonApp } from '../src/web/app.js';
import { tempDir } from './support/pki.js';

const dir = tempDir('dk-web-attacks-');
after(() => rmSync(dir, { recursive: true, force: true }));
const NOW = new Date('2026-12-01T10:00:00Z');
const XSS = '<script>alert(1)</script>';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
let n = 0;

function domainSettings(name: string) {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' as const }],
    dane: true,
    certDir: join(dir, 'live'),
    reload: [],
    keyType: 'ec-p256' as const,
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

function setup(ini = '') {
  const path = join(dir, `s${++n}.db`);
  const state = openState(path);
  const users = openUsersStore(path);
  users.addUser({ name: 'admin', role: 'admin', domains: [], passwordHash: 'x' }, NOW);
  users.addUser({ name: 'cust', role: 'customer', domains: ['a.example'], passwordHash: 'x' }, NOW);
  const t = newApiToken();
  users.addToken({ id: t.id, user: 'admin', sha256: t.sha256, expiresAt: null }, NOW);
  const ct = newApiToken();
  users.addToken({ id: ct.id, user: 'cust', sha256: ct.sha256, expiresAt: null }, NOW);
  state.domains.add(domainSettings('a.example'), NOW);
  state.domains.add(domainSettings('b.example'), NOW);
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
  // every network service asks a closed loopback port: nothing off this machine is contacted
  let clock = NOW.getTime();
  const config = parseConfig(`[dns]\nresolver = 127.0.0.1:9\n${ini}`, 'test.ini');
  const faces = webFaces({
    config: () => config,
    state,
    users,
    env: { DANEKEEPER_STATE_DIR: dir },
    uid: 1000,
    secure: false,
    log,
    io,
    now: () => new Date(clock),
    world: () => Promise.resolve(new FakeWorld({ t: NOW.getTime() })),
    renew: () => {},
    settingsChanged: () => {},
    domainChanged: () => {},
    timeoutMs: 300,
  });
  const app = daemonApp(
    { health: () => ({ ok: true, detail: {} }), metrics: () => '' },
    { ...faces, logger: log },
  );
  const session = (user: string, sid: string, csrf: string) => {
    users.createSession({ sha256: sha(sid), user, csrfSecret: csrf, ttlMs: 3_600_000 }, NOW);
    return { sid, csrf, cookie: `dk_session=${sid}` };
  };
  const admin = session('admin', 'admin-sid', 'admin-csrf');
  const cust = session('cust', 'cust-sid', 'cust-csrf');
  const fetch = (p: string, init: RequestInit = {}) => app.request(p, init);
  const get = (p: string, cookie = admin.cookie) => fetch(p, { headers: { cookie } });
  const post = (p: string, form: Record<string, string>, cookie = admin.cookie) =>
    fetch(p, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  const api = (
    method: string,
    p: string,
    o: { body?: string; type?: string; token?: string; headers?: Record<string, string> } = {},
  ) =>
    fetch(`/api${p}`, {
      method,
      headers: {
        ...(o.token === '' ? {} : { authorization: `Bearer ${o.token ?? t.token}` }),
        ...(o.body === undefined ? {} : { 'content-type': o.type ?? 'application/json' }),
        ...o.headers,
      },
      ...(o.body === undefined ? {} : { body: o.body }),
    });
  return {
    app,
    state,
    users,
    logged,
    admin,
    cust,
    custToken: ct.token,
    get,
    post,
    api,
    fetch,
    session,
    advance: (ms: number) => void (clock += ms),
    close: () => {
      users.close();
      state.close();
    },
  };
}
type S = ReturnType<typeof setup>;

/** every thing a 5xx or a leaked stack looks like */
async function noBug(r: Response, what: string) {
  const text = await r.text();
  assert.ok(r.status < 500, `${what}: ${r.status} ${text.slice(0, 300)}`);
  assert.doesNotMatch(text, /\n\s+at [^\n]+:\d+:\d+/, `${what}: a stack trace in the body`);
  return text;
}

const domainsState = (s: S) =>
  JSON.stringify(s.state.domains.names()) + JSON.stringify(s.state.domains.get('b.example'));

describe('web attacks: stored XSS', () => {
  it('an event message, detail and a user name are escaped on every page; CSP has no unsafe-inline', async () => {
    const s = setup();
    try {
      s.state.events.append('a.example', 'renew-failed', `boom ${XSS}`, { why: XSS }, NOW);
      s.users.addUser({ name: `e${XSS}`, role: 'admin', domains: [], passwordHash: 'x' }, NOW);
      const evil = s.session(`e${XSS}`, 'evil-sid', 'evil-csrf');
      for (const p of [
        '/domains',
        '/domains/a.example',
        '/domains/a.example/remove',
        '/domains/a.example/dns',
        '/domains/add',
        '/generate',
        '/check',
        '/dnssec',
        '/settings',
      ]) {
        for (const cookie of [s.admin.cookie, evil.cookie]) {
          const r = await s.get(p, cookie);
          const text = await noBug(r, p);
          if (r.status !== 200) continue;
          assert.ok(!text.includes(XSS), `${p}: the raw payload is in the page`);
          const csp = r.headers.get('content-security-policy') ?? '';
          assert.match(csp, /script-src 'self'/, p);
          assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, p);
          // no inline script or handler anywhere the CSP would have to allow
          assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/i, `${p}: inline <script>`);
          assert.doesNotMatch(text, /\son[a-z]+\s*=/i, `${p}: an inline event handler`);
        }
      }
      // the payloads did reach the pages, escaped (else the test above proves nothing)
      const esc = '&lt;script&gt;alert(1)&lt;/script&gt;';
      assert.ok((await (await s.get('/domains/a.example')).text()).includes(`boom ${esc}`));
      assert.ok((await (await s.get('/domains', evil.cookie)).text()).includes(`e${esc}`));
      const json = await s.get('/domains/a.example/progress.json');
      assert.equal(json.status, 200);
      assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    } finally {
      s.close();
    }
  });

  it('a domain name with markup is refused by the API and the add form, nothing written', async () => {
    const s = setup();
    try {
      const before = JSON.stringify(s.state.domains.names());
      for (const name of [`x${XSS}.example`, '"><img src=x onerror=alert(1)>.example']) {
        const r = await s.api('POST', '/v1/domains', {
          body: JSON.stringify({ name, subdomains: ['mail'], mailHosts: ['mail.x.example'] }),
        });
        const text = await noBug(r, 'POST /v1/domains');
        assert.ok(r.status >= 400, text);
        assert.ok(
          !text.includes('<script>'),
          'the error echoes markup unescaped in JSON is fine, in HTML not',
        );
        const f = await s.post('/domains/add', { _csrf: s.admin.csrf, name, subdomains: 'mail' });
        const page = await noBug(f, 'POST /domains/add');
        assert.ok(!page.includes(XSS) && !page.includes('<img src=x'), 'echoed unescaped');
      }
      assert.equal(JSON.stringify(s.state.domains.names()), before);
    } finally {
      s.close();
    }
  });

  it('names that are not host names are refused by the API, nothing written (RFC 1123 §2.1, RFC 5890/5891, RFC 3696 §2)', async () => {
    const s = setup();
    try {
      const before = JSON.stringify(s.state.domains.names());
      for (const name of [
        '127.0.0.1',
        '1.2.3.4',
        '-a.example',
        'a-.example',
        'x.123',
        '0x7f.1',
        'xn--zz.example',
      ]) {
        const r = await s.api('POST', '/v1/domains', {
          body: JSON.stringify({ name, subdomains: ['mail'], mailHosts: [`mail.${name}`] }),
        });
        const text = await noBug(r, 'POST /v1/domains');
        assert.equal(r.status, 400, `${name}: ${text}`);
      }
      assert.equal(JSON.stringify(s.state.domains.names()), before);
    } finally {
      s.close();
    }
  });

  it('every API answer is nosniff and no-store, errors and refusals included', async () => {
    const s = setup();
    try {
      for (const [method, path, body] of [
        ['GET', '/v1/domains', undefined],
        ['GET', '/v1/domains/nosuch.example', undefined],
        ['POST', '/v1/domains', '{"name": 1}'],
        ['GET', '/v1/nosuch', undefined],
      ] as const) {
        const r = await s.api(method, path, body ? { body } : {});
        await r.text();
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${method} ${path}`);
        assert.equal(r.headers.get('cache-control'), 'no-store', `${method} ${path}`);
      }
    } finally {
      s.close();
    }
  });

  it('a search query and a page number are reflected escaped', async () => {
    const s = setup();
    try {
      const r = await s.get(
        `/domains?q=${encodeURIComponent(`"${XSS}`)}&page=${encodeURIComponent(XSS)}`,
      );
      const text = await noBug(r, '/domains?q');
      assert.equal(r.status, 200);
      assert.ok(!text.includes(XSS));
      assert.ok(!text.includes('"<script'));
    } finally {
      s.close();
    }
  });

  it('a TLSA owner with markup in the zone file, and owner/rdata/domain in the query, are escaped', async () => {
    const zoneFile = join(dir, 'db.a.example');
    const hex = '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20';
    writeFileSync(
      zoneFile,
      [
        '$TTL 300',
        'a.example. IN SOA ns.a.example. h.a.example. 1 3600 600 86400 300',
        'a.example. IN NS ns.a.example.',
        `_25._tcp.mail.a.example. IN TLSA 3 1 1 ${hex}`,
        `_25._tcp.x\\<script\\>alert\\(1\\)\\<\\/script\\>.a.example. IN TLSA 3 1 1 ${hex}`,
        '',
      ].join('\n'),
    );
    const s = setup(`backend = zonefile\nzone = a.example\nzone-file = ${zoneFile}\n`);
    try {
      const dns = await s.get('/domains/a.example/dns');
      const text = await noBug(dns, 'dns page');
      assert.equal(dns.status, 200);
      assert.match(text, /x&lt;script&gt;alert/, 'the owner is shown, escaped');
      assert.ok(!text.includes('<script>'), 'the owner is shown raw');
      const q = (o: Record<string, string>) => new URLSearchParams(o).toString();
      for (const p of [
        `/domains/a.example/dns/remove?${q({ owner: `_25._tcp.${XSS}.a.example.`, rdata: XSS })}`,
        `/domains/a.example/dns/remove?${q({ owner: '_25._tcp.mail.a.example.', rdata: `3 1 1 ${XSS}` })}`,
        `/check?${q({ domain: XSS })}`,
        `/check?${q({ domain: `"><img src=x>` })}`,
        `/dnssec?${q({ domain: XSS })}`,
      ]) {
        const r = await s.get(p);
        const t = await noBug(r, p);
        assert.ok(!t.includes(XSS) && !t.includes('<img src=x>'), `${p}: reflected raw`);
      }
      // every field of the TLSA form, sent back with its error, is escaped
      for (const field of [
        'data',
        'name',
        'port',
        'protocol',
        'usage',
        'selector',
        'mtype',
        'ttl',
      ]) {
        const form = {
          port: '25',
          protocol: 'tcp',
          name: 'mail',
          usage: '3',
          selector: '1',
          mtype: '1',
          data: '00'.repeat(32),
          [field]: XSS,
          _csrf: s.cust.csrf,
        };
        const r = await s.post('/domains/a.example/dns', form, s.cust.cookie);
        const t = await noBug(r, `TLSA form ${field}`);
        assert.equal(r.status, 400, field);
        assert.ok(!t.includes(XSS), `TLSA form ${field}: echoed raw`);
      }
      // the API gives the owner as JSON data (a JSON body is no page)
      const api = await s.api('GET', '/v1/domains/a.example/tlsa');
      assert.equal(api.status, 200);
      assert.match(api.headers.get('content-type') ?? '', /^application\/json/);
    } finally {
      s.close();
    }
  });
});

describe('web attacks: CSRF', () => {
  const panelPosts = [
    ['/logout', {}],
    ['/domains/a.example/renew', {}],
    ['/domains/a.example/enable-dane', {}],
    ['/domains/a.example/disable-dane', {}],
    ['/domains/a.example/remove', {}],
    ['/domains/add', { name: 'new.example', subdomains: 'mail' }],
    ['/domains/a.example/dns', {}],
    ['/domains/a.example/dns/remove', {}],
    ['/generate', { pem: '' }],
    ['/settings', { daneEnabled: 'on' }],
  ] as const;

  it('every panel POST without the token, with another session token, or the token in the query is refused, nothing written', async () => {
    const s = setup();
    try {
      const before = domainsState(s);
      const audit = s.users.auditLog().length;
      for (const [p, f] of panelPosts) {
        for (const [how, form, q] of [
          ['none', { ...f }, ''],
          ['other session', { ...f, _csrf: s.cust.csrf }, ''],
          ['empty', { ...f, _csrf: '' }, ''],
          ['query', { ...f }, `?_csrf=${s.admin.csrf}`],
        ] as const) {
          const r = await s.post(p + q, form);
          await noBug(r, `${p} ${how}`);
          assert.equal(r.status, 403, `${p} with ${how} token`);
        }
        // a JSON body (not a form) with the right token does not get past either
        const j = await s.fetch(p, {
          method: 'POST',
          headers: { cookie: s.admin.cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ _csrf: s.admin.csrf }),
        });
        await noBug(j, `${p} json`);
        assert.equal(j.status, 403, `${p} JSON body`);
      }
      assert.equal(domainsState(s), before);
      assert.equal(s.users.auditLog().length, audit, 'nothing audited as done');
      // the admin session still works: logout was refused too
      assert.equal((await s.get('/domains')).status, 200);
      // and the same POST with the session's own token goes through (the refusals were the token's)
      const ok = await s.post('/domains/a.example/renew', { _csrf: s.admin.csrf });
      assert.equal(ok.status, 303);
    } finally {
      s.close();
    }
  });

  it('the API with a session cookie: no X-CSRF-Token, another session token, the token in the query: 403', async () => {
    const s = setup();
    try {
      const before = domainsState(s);
      const changes: [string, string, string | undefined][] = [
        ['POST', '/v1/domains', JSON.stringify({ name: 'n.example', subdomains: ['mail'] })],
        ['DELETE', '/v1/domains/b.example', undefined],
        ['POST', '/v1/domains/b.example/enable-dane', undefined],
        ['POST', '/v1/domains/b.example/disable-dane', undefined],
        ['POST', '/v1/domains/b.example/renew', undefined],
        ['POST', '/v1/domains/b.example/tlsa', '{}'],
        ['POST', '/v1/domains/b.example/tlsa/remove', '{}'],
        ['POST', '/v1/generate', '{}'],
        ['PUT', '/v1/settings', JSON.stringify({ daneEnabled: false })],
      ];
      for (const [m, p, body] of changes) {
        for (const [how, headers, q] of [
          ['none', {}, ''],
          ['other session', { 'x-csrf-token': s.cust.csrf }, ''],
          ['query', {}, `?csrf=${s.admin.csrf}&_csrf=${s.admin.csrf}&x-csrf-token=${s.admin.csrf}`],
        ] as const) {
          const r = await s.api(m, p + q, {
            token: '',
            headers: { cookie: s.admin.cookie, ...headers },
            ...(body === undefined ? {} : { body }),
          });
          const text = await noBug(r, `${m} ${p} ${how}`);
          assert.equal(r.status, 403, `${m} ${p} ${how}: ${text}`);
        }
      }
      assert.equal(domainsState(s), before);
      assert.equal(s.users.settings().daneEnabled, undefined);
      const ok = await s.api('POST', '/v1/domains/b.example/renew', {
        token: '',
        headers: { cookie: s.admin.cookie, 'x-csrf-token': s.admin.csrf },
      });
      assert.equal(ok.status, 200, 'the right header passes');
    } finally {
      s.close();
    }
  });

  it('login CSRF: a login post without its double-submit cookie, or with a mismatched one, is refused', async () => {
    const s = setup();
    try {
      s.users.setPassword('cust', await hashPassword('correct horse'), NOW);
      const body = (csrf: string) =>
        new URLSearchParams({ _csrf: csrf, name: 'cust', password: 'correct horse' }).toString();
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const none = await s.fetch('/login', { method: 'POST', headers: form, body: body('t') });
      assert.equal(none.status, 403);
      assert.equal(none.headers.get('set-cookie'), null);
      const other = await s.fetch('/login', {
        method: 'POST',
        headers: { ...form, cookie: 'dk_login_csrf=aaaa' },
        body: body('bbbb'),
      });
      assert.equal(other.status, 403);
      assert.ok(!(other.headers.get('set-cookie') ?? '').includes('dk_session='));
      const empty = await s.fetch('/login', {
        method: 'POST',
        headers: { ...form, cookie: 'dk_login_csrf=' },
        body: body(''),
      });
      assert.equal(empty.status, 403);
    } finally {
      s.close();
    }
  });
});

/** log in through the form as a browser does; returns the session cookie's value */
async function login(s: S, name: string, password: string, prior?: string) {
  const page = await s.fetch('/login');
  const token = /dk_login_csrf=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1]!;
  const r = await s.fetch('/login', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: `dk_login_csrf=${token}${prior ? `; dk_session=${prior}` : ''}`,
    },
    body: new URLSearchParams({ _csrf: token, name, password }).toString(),
  });
  assert.equal(r.status, 303, await r.text());
  const sid = /dk_session=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1];
  assert.ok(sid);
  return { r, sid };
}

describe('web attacks: sessions', () => {
  it('session fixation: a planted session id is not the signed-in one, and a valid prior one is ended', async () => {
    const s = setup();
    try {
      s.users.setPassword('cust', await hashPassword('pw-cust-1'), NOW);
      const planted = 'attacker-chosen-id';
      const a = await login(s, 'cust', 'pw-cust-1', planted);
      assert.notEqual(a.sid, planted);
      assert.equal((await s.get('/domains', `dk_session=${planted}`)).status, 303);
      // a live session held before the login is ended by it
      const b = await login(s, 'cust', 'pw-cust-1', a.sid);
      assert.notEqual(b.sid, a.sid);
      assert.equal((await s.get('/domains', `dk_session=${a.sid}`)).status, 303);
      assert.equal((await s.get('/domains', `dk_session=${b.sid}`)).status, 200);
      const cookie = b.r.headers.get('set-cookie') ?? '';
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Strict/i);
    } finally {
      s.close();
    }
  });

  it('a session cookie after logout and after a password change opens nothing, panel or API', async () => {
    const s = setup();
    try {
      s.users.setPassword('cust', await hashPassword('pw-cust-1'), NOW);
      const a = await login(s, 'cust', 'pw-cust-1');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(
        await (await s.get('/domains', `dk_session=${a.sid}`)).text(),
      )![1]!;
      const out = await s.post('/logout', { _csrf: csrf }, `dk_session=${a.sid}`);
      assert.equal(out.status, 303);
      assert.equal((await s.get('/domains', `dk_session=${a.sid}`)).status, 303);
      const apiAfter = await s.api('GET', '/v1/domains', {
        token: '',
        headers: { cookie: `dk_session=${a.sid}` },
      });
      assert.equal(apiAfter.status, 401);
      // `user passwd` is UsersStore.setPassword: every session of the user ends
      const b = await login(s, 'cust', 'pw-cust-1');
      assert.equal((await s.get('/domains', `dk_session=${b.sid}`)).status, 200);
      s.users.setPassword('cust', await hashPassword('pw-cust-2'), NOW);
      assert.equal((await s.get('/domains', `dk_session=${b.sid}`)).status, 303);
      const r = await s.api('GET', '/v1/domains', {
        token: '',
        headers: { cookie: `dk_session=${b.sid}` },
      });
      assert.equal(r.status, 401);
    } finally {
      s.close();
    }
  });
});

describe('web attacks: session lifetime', () => {
  it('a session idle past 30 min, or older than 12 h though active, opens nothing (panel and API)', async () => {
    const s = setup();
    try {
      s.users.setPassword('cust', await hashPassword('pw-cust-1'), NOW);
      const a = await login(s, 'cust', 'pw-cust-1');
      const cookie = `dk_session=${a.sid}`;
      const apiGet = () => s.api('GET', '/v1/domains', { token: '', headers: { cookie } });
      s.advance(29 * 60_000);
      assert.equal((await s.get('/domains', cookie)).status, 200, 'within the idle time');
      s.advance(29 * 60_000);
      assert.equal((await apiGet()).status, 200, 'use keeps it alive');
      s.advance(31 * 60_000);
      assert.equal((await s.get('/domains', cookie)).status, 303, 'idle for 31 min');
      assert.equal((await apiGet()).status, 401);
      // active every 20 min, but past the 12 h the login gave it
      const b = await login(s, 'cust', 'pw-cust-1');
      const kept = `dk_session=${b.sid}`;
      for (let i = 0; i < 35; i++) {
        s.advance(20 * 60_000);
        assert.equal((await s.get('/domains', kept)).status, 200, `after ${(i + 1) * 20} min`);
      }
      s.advance(20 * 60_000);
      s.advance(20 * 60_000);
      assert.equal((await s.get('/domains', kept)).status, 303, 'past 12 h');
      const r = await s.api('GET', '/v1/domains', { token: '', headers: { cookie: kept } });
      assert.equal(r.status, 401);
    } finally {
      s.close();
    }
  });
});

describe('web attacks: redirects, downloads, headers', () => {
  it('no redirect leaves the site, whatever the input', async () => {
    const s = setup();
    try {
      const targets = [
        '/login?next=//evil.example',
        '/login?redirect=https://evil.example',
        '/?next=//evil.example',
        '/domains/%2F%2Fevil.example/renew',
        '//evil.example/domains',
        '/domains/a.example%2F%2F..%2F..%2F%2Fevil.example/renew',
      ];
      for (const p of targets) {
        for (const r of [
          await s.get(p),
          await s.get(p, ''),
          await s.post(p, { _csrf: s.admin.csrf }),
        ]) {
          await noBug(r, p);
          const loc = r.headers.get('location');
          if (loc !== null) assert.match(loc, /^\/(?!\/|\\)/, `${p} redirects to ${loc}`);
        }
      }
      const renew = await s.post('/domains/A.EXAMPLE./renew', { _csrf: s.admin.csrf });
      await noBug(renew, 'renew');
      const loc = renew.headers.get('location');
      if (loc !== null) assert.match(loc, /^\/domains\/a\.example\?done=/);
    } finally {
      s.close();
    }
  });

  it('the .pem download: traversal and header-injection names are 404, no header built from them', async () => {
    const s = setup();
    try {
      for (const name of [
        '..%2F..%2F..%2Fetc%2Fpasswd',
        '..',
        '%2e%2e',
        'a.example%0d%0aSet-Cookie:%20x=1',
        'a.example%22%3B%20filename%3D%22evil.sh',
        'a.example%00',
        'b.example%5c..',
      ]) {
        const r = await s.get(`/domains/${name}/certificate.pem`);
        await noBug(r, name);
        assert.notEqual(r.status, 200, name);
        assert.equal(r.headers.get('content-disposition'), null);
        assert.equal(r.headers.get('set-cookie'), null);
      }
    } finally {
      s.close();
    }
  });
});

describe("web attacks: a customer and another's domain", () => {
  const variants = [
    'b.example',
    'B.EXAMPLE',
    'b.example.',
    'B.Example.',
    'b%2Eexample',
    'b.example%2E',
    'b%2eexample%2e',
    '%62.example',
    'b.example..',
    'a.example%2F..%2Fb.example',
    'a.example%2f..%2f..%2fb.example',
    'xn--b-xxx.example',
    '\u0062.example',
    encodeURIComponent('ｂ.example'),
    encodeURIComponent('b.exampl\u0435'),
  ];

  it('every panel route for b.example under every spelling is not found for cust, nothing changed', async () => {
    const s = setup();
    try {
      const before = domainsState(s);
      for (const v of variants) {
        for (const sub of [
          '',
          '/remove',
          '/dns',
          '/dns/remove',
          '/progress.json',
          '/certificate.pem',
        ]) {
          const r = await s.get(`/domains/${v}${sub}`, s.cust.cookie);
          const text = await noBug(r, `GET ${v}${sub}`);
          assert.ok([403, 404].includes(r.status), `GET /domains/${v}${sub}: ${r.status}`);
          assert.ok(!/mail\.b\.example/.test(text), `GET ${v}${sub} shows b.example`);
        }
        for (const sub of [
          '/renew',
          '/enable-dane',
          '/disable-dane',
          '/remove',
          '/dns',
          '/dns/remove',
        ]) {
          const r = await s.post(`/domains/${v}${sub}`, { _csrf: s.cust.csrf }, s.cust.cookie);
          await noBug(r, `POST ${v}${sub}`);
          assert.ok([403, 404].includes(r.status), `POST /domains/${v}${sub}: ${r.status}`);
        }
      }
      // the customer's own domain under the same spellings is reachable (the 404s are authz's)
      for (const v of ['a.example', 'A.EXAMPLE', 'a.example.']) {
        assert.equal((await s.get(`/domains/${v}`, s.cust.cookie)).status, 200, v);
      }
      // the list and the search do not show it either
      const list = await (await s.get('/domains?q=b.example', s.cust.cookie)).text();
      assert.ok(!list.includes('b.example</'), 'b.example in the customer list');
      assert.equal(domainsState(s), before);
    } finally {
      s.close();
    }
  });

  it('every API route for b.example under every spelling is refused for cust (token and cookie)', async () => {
    const s = setup();
    try {
      const before = domainsState(s);
      const routes: [string, string, string | undefined][] = [
        ['GET', '', undefined],
        ['DELETE', '', undefined],
        ['POST', '/enable-dane', undefined],
        ['POST', '/disable-dane', undefined],
        ['POST', '/renew', undefined],
        ['GET', '/tlsa', undefined],
        ['POST', '/tlsa', '{}'],
        ['POST', '/tlsa/remove', '{}'],
        ['GET', '/dnssec', undefined],
        ['GET', '/prereq', undefined],
      ];
      for (const v of variants) {
        for (const [m, sub, body] of routes) {
          for (const auth of [
            { token: s.custToken },
            { token: '', headers: { cookie: s.cust.cookie, 'x-csrf-token': s.cust.csrf } },
          ]) {
            const r = await s.api(m, `/v1/domains/${v}${sub}`, {
              ...auth,
              ...(body === undefined ? {} : { body }),
            });
            const text = await noBug(r, `${m} ${v}${sub}`);
            assert.ok(
              [400, 403, 404].includes(r.status),
              `${m} /v1/domains/${v}${sub}: ${r.status} ${text}`,
            );
            assert.ok(!/mail\.b\.example/.test(text), `${m} ${v}${sub} leaks b.example`);
          }
        }
      }
      for (const v of ['a.example', 'A.EXAMPLE', 'a.example.']) {
        const own = await s.api('GET', `/v1/domains/${v}`, { token: s.custToken });
        assert.equal(own.status, 200, `own ${v}`);
      }
      const list = (await (
        await s.api('GET', '/v1/domains?q=b', { token: s.custToken })
      ).json()) as {
        domains: { name: string }[];
      };
      assert.ok(list.domains.every((d) => d.name === 'a.example'));
      const add = await s.api('POST', '/v1/domains', {
        token: s.custToken,
        body: JSON.stringify({ name: 'B.Example.', subdomains: ['mail'] }),
      });
      await noBug(add, 'add b');
      assert.ok(add.status >= 400 && add.status < 500, `re-adding B.Example.: ${add.status}`);
      assert.equal(domainsState(s), before);
    } finally {
      s.close();
    }
  });
});

describe("web attacks: a customer and another's records in a shared zone", () => {
  it("TLSA add/remove for b.example's names through a.example's page and API is refused; the zone file is untouched", async () => {
    const hex = '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20';
    const zoneFile = join(dir, 'db.example');
    writeFileSync(
      zoneFile,
      [
        '$TTL 300',
        'example. IN SOA ns.example. h.example. 1 3600 600 86400 300',
        'example. IN NS ns.example.',
        `_25._tcp.mail.b.example. IN TLSA 3 1 1 ${hex}`,
        `_25._tcp.mail.a.example. IN TLSA 3 1 1 ${hex}`,
        '',
      ].join('\n'),
    );
    const s = setup(`backend = zonefile\nzone = example\nzone-file = ${zoneFile}\n`);
    try {
      const before = readFileSync(zoneFile, 'utf8');
      for (const name of [
        'mail.b.example',
        'MAIL.B.EXAMPLE.',
        'b.example',
        'mail.a.example.b.example',
        '*.example',
      ]) {
        const add = { port: '25', protocol: 'tcp', name, usage: '3', selector: '1', mtype: '1' };
        const p = await s.post(
          '/domains/a.example/dns',
          { ...add, data: '00'.repeat(32), _csrf: s.cust.csrf },
          s.cust.cookie,
        );
        await noBug(p, `panel add ${name}`);
        assert.equal(p.status, 400, `panel add ${name}`);
        const a = await s.api('POST', '/v1/domains/a.example/tlsa', {
          token: s.custToken,
          body: JSON.stringify({ ...add, port: 25, data: '00'.repeat(32) }),
        });
        await noBug(a, `api add ${name}`);
        assert.equal(a.status, 400, `api add ${name}`);
        const rm = await s.api('POST', '/v1/domains/a.example/tlsa/remove', {
          token: s.custToken,
          body: JSON.stringify({ port: 25, protocol: 'tcp', name, rdata: `3 1 1 ${hex}` }),
        });
        await noBug(rm, `api remove ${name}`);
        assert.equal(rm.status, 400, `api remove ${name}`);
        const prm = await s.post(
          '/domains/a.example/dns/remove',
          { _csrf: s.cust.csrf, owner: `_25._tcp.${name}.`, rdata: `3 1 1 ${hex}` },
          s.cust.cookie,
        );
        await noBug(prm, `panel remove ${name}`);
        assert.equal(prm.status, 400, `panel remove ${name}`);
      }
      assert.equal(readFileSync(zoneFile, 'utf8'), before, 'the zone file was written');
      // the customer's listing of the shared zone shows only their own names
      const page = await (await s.get('/domains/a.example/dns', s.cust.cookie)).text();
      assert.doesNotMatch(page, /mail\.b\.example/);
      const list = await (
        await s.api('GET', '/v1/domains/a.example/tlsa', { token: s.custToken })
      ).text();
      assert.doesNotMatch(list, /mail\.b\.example/);
      // and the panel's DNSSEC page of another's domain is refused
      for (const d of ['b.example', 'B.EXAMPLE.']) {
        const r = await s.get(`/dnssec?domain=${encodeURIComponent(d)}`, s.cust.cookie);
        await noBug(r, d);
        assert.ok([403, 404].includes(r.status), `/dnssec?domain=${d}: ${r.status}`);
      }
    } finally {
      s.close();
    }
  });
});

describe('web attacks: bad JSON', () => {
  it('huge, deep, mistyped, duplicate-keyed and __proto__ bodies: 4xx with a message, nothing written, no pollution', async () => {
    const s = setup();
    try {
      const before = domainsState(s);
      const settingsBefore = JSON.stringify(s.users.settings());
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      const deepObj = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000);
      const bodies: [string, string, string, string | undefined][] = [
        ['POST', '/v1/domains', 'x'.repeat(70 * 1024), undefined],
        ['POST', '/v1/domains', `{"name":"${'a'.repeat(70 * 1024)}"}`, undefined],
        ['POST', '/v1/domains', deep.slice(0, 60_000), undefined],
        ['POST', '/v1/domains', deepObj, undefined],
        ['PUT', '/v1/settings', deepObj, undefined],
        ['POST', '/v1/domains', '{"name":"c.example"}', 'text/plain'],
        ['POST', '/v1/domains', '{"name":"c.example"}', 'application/x-www-form-urlencoded'],
        ['POST', '/v1/domains', 'name=c.example', 'application/x-www-form-urlencoded'],
        ['POST', '/v1/domains', '{"name":"c.example"}', 'application/jsonx'],
        ['POST', '/v1/domains', '{"name":"c.example", "name": 7}', undefined],
        ['POST', '/v1/domains', '{"name":"<b>.example"}', undefined],
        ['POST', '/v1/domains', '{"__proto__":{"admin":true,"polluted":1},"name":"c"}', undefined],
        ['PUT', '/v1/settings', '{"__proto__":{"polluted":1}}', undefined],
        ['PUT', '/v1/settings', '{"constructor":{"prototype":{"polluted":1}}}', undefined],
        ['PUT', '/v1/settings', '{"daneEnabled":"yes"}', undefined],
        ['PUT', '/v1/settings', 'null', undefined],
        ['PUT', '/v1/settings', '[]', undefined],
        ['PUT', '/v1/settings', '"x"', undefined],
        ['POST', '/v1/generate', '{"pem":{"__proto__":1}}', undefined],
        [
          'POST',
          '/v1/generate',
          `{"pem":"${'-----BEGIN CERTIFICATE-----\\nAAAA'.repeat(10)}"}`,
          undefined,
        ],
        [
          'POST',
          '/v1/domains/a.example/tlsa',
          '{"records":[{"usage":3,"selector":1,"matchingType":1,"data":"<script>"}]}',
          undefined,
        ],
        ['POST', '/v1/domains/a.example/tlsa', '{"records":"x"}', undefined],
        ['POST', '/v1/domains/a.example/tlsa/remove', '{"records":[null]}', undefined],
        ['POST', '/v1/domains', '', undefined],
        ['POST', '/v1/domains', '\u0000', undefined],
        ['POST', '/v1/domains', '\ufeff{"name":"c.example"}', undefined],
      ];
      for (const [m, p, body, type] of bodies) {
        const r = await s.api(m, p, { body, ...(type ? { type } : {}) });
        const text = await noBug(r, `${m} ${p} ${body.slice(0, 40)}`);
        assert.ok(
          r.status >= 400,
          `${m} ${p} ${body.slice(0, 60)}: ${r.status} ${text.slice(0, 200)}`,
        );
        const j = JSON.parse(text) as { error?: { code?: string; message?: string } };
        assert.equal(typeof j.error?.message, 'string', `${m} ${p}: a message`);
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(({} as Record<string, unknown>).admin, undefined);
      assert.equal(domainsState(s), before);
      assert.equal(JSON.stringify(s.users.settings()), settingsBefore);
      // the panel forms too: a huge form is 413, a form field named __proto__ pollutes nothing
      const huge = await s.post('/generate', { _csrf: s.admin.csrf, pem: 'x'.repeat(70 * 1024) });
      await noBug(huge, 'huge form');
      assert.equal(huge.status, 413);
      const proto = await s.fetch('/settings', {
        method: 'POST',
        headers: { cookie: s.admin.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: `_csrf=${s.admin.csrf}&__proto__=x&__proto__%5Bpolluted%5D=1&constructor=y`,
      });
      await noBug(proto, 'proto form');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    } finally {
      s.close();
    }
  });
});

describe('web attacks: fuzzing the API', () => {
  it('fast-check bodies, params and queries on every route: never a 5xx, never a stack trace', async () => {
    const s = setup();
    try {
      const routes: [string, string, boolean][] = [
        ['GET', '/v1/domains', false],
        ['POST', '/v1/domains', true],
        ['GET', '/v1/domains/{n}', false],
        ['DELETE', '/v1/domains/{n}', false],
        ['POST', '/v1/domains/{n}/enable-dane', false],
        ['POST', '/v1/domains/{n}/disable-dane', false],
        ['POST', '/v1/domains/{n}/renew', false],
        ['GET', '/v1/domains/{n}/tlsa', false],
        ['POST', '/v1/domains/{n}/tlsa', true],
        ['POST', '/v1/domains/{n}/tlsa/remove', true],
        ['GET', '/v1/domains/{n}/dnssec', false],
        ['GET', '/v1/domains/{n}/prereq', false],
        ['GET', '/v1/check/{n}', false],
        ['POST', '/v1/generate', true],
        ['GET', '/v1/settings', false],
        ['PUT', '/v1/settings', true],
      ];
      const name = fc.oneof(
        fc.constantFrom('a.example', 'b.example', 'A.EXAMPLE.', 'nope.example', '..', '%00', '%2F'),
        fc.string({ maxLength: 30 }).map((x) => encodeURIComponent(x) || 'x'),
      );
      const key = fc.oneof(
        fc.constantFrom(
          'name',
          'subdomains',
          'mailHosts',
          'dane',
          'records',
          'pem',
          'daneEnabled',
          'usage',
          'selector',
          'matchingType',
          'data',
          '__proto__',
          'constructor',
          'endpoints',
          'reload',
          'keyType',
          'certDir',
          'challenge',
          'page',
          'perPage',
        ),
        fc.string({ maxLength: 8 }),
      );
      const body = fc.oneof(
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc
          .dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 })
          .map((v) => JSON.stringify(v)),
        fc.string({ maxLength: 40 }),
      );
      const query = fc
        .dictionary(
          fc.constantFrom('q', 'page', 'perPage', 'port', 'x', '__proto__'),
          fc.string({ maxLength: 12 }),
          { maxKeys: 3 },
        )
        .map((q) => new URLSearchParams(q).toString());
      // mutating routes run as the customer (who owns a.example) so the fuzz reaches the
      // handlers without removing the admin's world from under the other runs
      const seen = new Set<number>();
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes),
          name,
          body,
          query,
          fc.boolean(),
          async ([m, p, hasBody], nm, b, q, asCust) => {
            const path = p.replace('{n}', nm) + (q ? `?${q}` : '');
            const r = await s.api(m, path, {
              ...(asCust || m !== 'GET' ? { token: s.custToken } : {}),
              ...(hasBody ? { body: b } : {}),
            });
            const text = await r.text();
            seen.add(Math.floor(r.status / 100));
            return r.status < 500 && !/\n\s+at [^\n]+:\d+:\d+/.test(text);
          },
        ),
        { numRuns: 400, seed: 11 },
      );
      assert.ok(seen.has(2) && seen.has(4), `status classes seen: ${[...seen].join(',')}`);
      assert.ok(
        !s.logged.some((l) => /failed/.test(l) && /"level":50/.test(l)),
        `a bug was logged: ${s.logged.find((l) => /"level":50/.test(l))}`,
      );
    } finally {
      s.close();
    }
  });
});
