/**
 * `danekeeper serve` as a user runs it, without the lab: an empty state, the listener, the
 * one-serve-per-state lock, SIGHUP with a broken config, SIGTERM, and usage errors; the JSON
 * API and the panel it hosts (tokens, the session cookie over HTTP and HTTPS, bad input, a
 * stop while a request runs).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openUsersStore } from '../src/store/users.js';
import { runCli } from './support/cli.js';
import { issue, tempDir } from './support/pki.js';
import { startServe } from './support/serve.js';

const dir = tempDir('dk-serve-cli-');
after(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'dk.ini');
writeFileSync(config, `[store]\npath = ${join(dir, 'state.db')}\n`);

it('serves /healthz and /metrics, refuses a second serve on the same state, survives a bad SIGHUP, exits 0 on SIGTERM', async () => {
  const s = startServe(['--config', config, '--listen', '127.0.0.1:0']);
  try {
    const l = await s.waitFor('listening', (x) => x.event === 'listening');
    const addr = String(l.listen);
    await s.waitFor('the first pass', (x) => x.event === 'pass');
    // the monitoring pass (src/monitor/) is the scheduler's second job
    const mon = await s.waitFor('the first monitoring pass', (x) => x.event === 'monitor');
    assert.equal(mon.targets, 0);
    const h = await fetch(`http://${addr}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(((await h.json()) as { domains: number }).domains, 0);
    const m = await fetch(`http://${addr}/metrics`);
    assert.match(await m.text(), /^danekeeper_passes_total 1$/m);

    const second = runCli(['serve', '--config', config, '--listen', '127.0.0.1:0']);
    assert.equal(second.code, 75);
    assert.match(
      second.stderr,
      /^danekeeper: Another danekeeper serve \([^)]+:[0-9]+\) is running on .*state\.db; stop it first\n$/,
    );

    writeFileSync(config, '[store\nbroken');
    s.child.kill('SIGHUP');
    await s.waitFor('the reload refused', (x) => x.event === 'reload-failed');
    assert.equal((await fetch(`http://${addr}/healthz`)).status, 200, 'still serving');
    writeFileSync(config, `[store]\npath = ${join(dir, 'state.db')}\n`);
    s.child.kill('SIGHUP');
    await s.waitFor('the reload', (x) => x.event === 'reloaded');

    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    assert.ok(s.lines.some((x) => x.event === 'stopped'));
    // every stdout line is one JSON object with level, time and msg
    for (const x of s.lines) {
      assert.ok(
        typeof x.level === 'string' && typeof x.time === 'string' && 'msg' in x,
        JSON.stringify(x),
      );
    }
    assert.equal(s.stderr(), '');
    // the lock went with it
    const again = startServe(['--config', config, '--listen', '127.0.0.1:0']);
    await again.waitFor('listening', (x) => x.event === 'listening');
    again.child.kill('SIGINT');
    assert.equal(await again.exited, 0);
  } finally {
    s.child.kill('SIGKILL');
  }
});

it('usage errors are one line and exit 64; a port in use exits 69', async () => {
  const r = runCli(['serve', '--config', config, '--tls-cert', join(dir, 'c.pem')]);
  assert.equal(r.code, 64);
  assert.equal(r.stderr, 'danekeeper: --tls-cert and --tls-key go together\n');
  const r2 = runCli(['serve', '--config', config, '--pass-interval', '0']);
  assert.equal(r2.code, 64);
  assert.equal(
    r2.stderr,
    'danekeeper: --pass-interval "0" must be minutes, or a number with s, m or h, from 1s to 168h\n',
  );
  const r4 = runCli(['serve', '--config', config, '--log-level', 'loud']);
  assert.equal(r4.code, 64);
  assert.equal(r4.stderr, 'danekeeper: --log-level "loud" must be debug, info, warn or error\n');
  // a name would be looked up in DNS at start-up (and this test must stay off the network)
  const r5 = runCli(['serve', '--config', config, '--listen', 'panel.example:8440']);
  assert.equal(r5.code, 64);
  assert.equal(
    r5.stderr,
    'danekeeper: --listen "panel.example:8440" must be an IP address and port, e.g. 127.0.0.1:8440 or [::1]:8440\n',
  );
  const s = startServe(['--config', config, '--listen', '127.0.0.1:0']);
  try {
    const addr = String((await s.waitFor('listening', (x) => x.event === 'listening')).listen);
    const other = join(dir, 'other.ini');
    writeFileSync(other, `[store]\npath = ${join(dir, 'other.db')}\n`);
    const r3 = runCli(['serve', '--config', other, '--listen', addr]);
    assert.equal(r3.code, 69);
    assert.match(
      r3.stderr,
      /^danekeeper: Cannot listen on 127\.0\.0\.1:[0-9]+: the address is in use\n$/,
    );
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP(S) request (node:https for a private CA), the body as text. */
function call(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string; ca?: string } = {},
): Promise<Res> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: o.method ?? 'GET',
        headers: {
          ...o.headers,
          ...(o.body ? { 'content-length': Buffer.byteLength(o.body) } : {}),
        },
        ...(o.ca ? { ca: o.ca, servername: 'localhost' } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const cookieOf = (r: Res, name: string): string | undefined =>
  ([] as string[])
    .concat(r.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0];

/** Logs in through the panel's form (login CSRF double submit) and returns the session cookie. */
async function panelLogin(base: string, name: string, password: string, ca?: string) {
  const page = await call(`${base}/login`, { ...(ca ? { ca } : {}) });
  assert.equal(page.status, 200);
  const csrfCookie = cookieOf(page, 'dk_login_csrf');
  assert.ok(csrfCookie, 'the login form sets its CSRF cookie');
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(token, 'the login form carries its CSRF token');
  const r = await call(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
    body: new URLSearchParams({ _csrf: token, name, password }).toString(),
    ...(ca ? { ca } : {}),
  });
  assert.equal(r.status, 303, r.body);
  return r;
}

function accounts(cfg: string, pw: string) {
  for (const args of [
    ['user', 'add', 'admin', '--role', 'admin'],
    ['user', 'add', 'alice', '--role', 'customer', '--domain', 'example.org'],
  ]) {
    const r = runCli([...args, '--password-file', pw, '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
  }
  const token = (name: string) => {
    const r = runCli(['token', 'create', name, '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  return { admin: token('admin'), alice: token('alice') };
}

it('hosts the JSON API and the panel: OpenAPI, tokens, a bad token, a huge body, roles, the audit source, the panel session (dk_session over HTTP) read by the API', async () => {
  const d = tempDir('dk-serve-api-');
  const cfg = join(d, 'dk.ini');
  writeFileSync(cfg, `[store]\npath = ${join(d, 'state.db')}\n`);
  const pw = join(d, 'pw');
  writeFileSync(pw, 'correct horse battery staple\n', { mode: 0o600 });
  const t = accounts(cfg, pw);
  const s = startServe(['--config', cfg, '--listen', '127.0.0.1:0']);
  try {
    const base = `http://${String((await s.waitFor('listening', (x) => x.event === 'listening')).listen)}`;
    const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });

    const doc = await call(`${base}/api/openapi.json`);
    assert.equal(doc.status, 200);
    const paths = (JSON.parse(doc.body) as { paths: Record<string, unknown> }).paths;
    assert.ok(paths['/api/v1/domains'] && paths['/api/v1/domains/{name}/renew'], doc.body);

    const bad = await call(`${base}/api/v1/domains`, { headers: bearer('dk_not-a-token') });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['www-authenticate'], 'Bearer realm="danekeeper"');
    assert.deepEqual(JSON.parse(bad.body), {
      error: { code: 'E_API_AUTH', message: 'The API token is not valid' },
    });

    const huge = await call(`${base}/api/v1/generate`, {
      method: 'POST',
      headers: { ...bearer(t.admin), 'content-type': 'application/json' },
      body: JSON.stringify({ pem: 'A'.repeat(200_000) }),
    });
    assert.equal(huge.status, 413);
    assert.equal(JSON.parse(huge.body).error.code, 'E_API_TOO_LARGE');

    const list = await call(`${base}/api/v1/domains`, { headers: bearer(t.admin) });
    assert.equal(list.status, 200);
    assert.deepEqual(JSON.parse(list.body), { total: 0, page: 1, perPage: 50, domains: [] });
    const refused = await call(`${base}/api/v1/settings`, { headers: bearer(t.alice) });
    assert.equal(refused.status, 403);
    assert.match(refused.body, /alice may not settings.read/);

    const put = await call(`${base}/api/v1/settings`, {
      method: 'PUT',
      headers: { ...bearer(t.admin), 'content-type': 'application/json' },
      body: JSON.stringify({ confirmationInterval: 7200 }),
    });
    assert.equal(put.status, 200, put.body);
    assert.deepEqual(JSON.parse(put.body), { daneEnabled: true, confirmationInterval: 7200 });
    // the audit log names the socket's address, not `unknown`
    const users = openUsersStore(join(d, 'state.db'));
    try {
      const last = users.auditLog()[0]!;
      assert.equal(last.action, 'settings.change');
      assert.equal(last.actor, 'api:admin');
      assert.equal(last.source, '127.0.0.1');
    } finally {
      users.close();
    }

    // the panel over plain HTTP: dk_session (no __Host-, which needs Secure), and the API
    // takes that same cookie
    const login = await panelLogin(base, 'alice', 'correct horse battery staple');
    const session = cookieOf(login, 'dk_session');
    assert.ok(session, JSON.stringify(login.headers['set-cookie']));
    assert.equal(cookieOf(login, '__Host-dk_session'), undefined);
    const mine = await call(`${base}/api/v1/domains`, { headers: { cookie: session } });
    assert.equal(mine.status, 200, mine.body);
    const panelPage = await call(`${base}/domains`, { headers: { cookie: session } });
    assert.equal(panelPage.status, 200);
    assert.match(panelPage.body, /<html/);
    // the page modules are mounted (no "not built yet" stand-in); Settings is the admin's
    const admin = cookieOf(
      await panelLogin(base, 'admin', 'correct horse battery staple'),
      'dk_session',
    )!;
    for (const path of ['/check', '/dnssec', '/settings', '/domains/add']) {
      const r = await call(`${base}${path}`, { headers: { cookie: admin } });
      assert.equal(r.status, 200, `${path}: ${r.body.slice(0, 300)}`);
      assert.doesNotMatch(r.body, /not built yet/, path);
    }
    const settingsPage = await call(`${base}/settings`, { headers: { cookie: admin } });
    assert.match(
      settingsPage.body,
      /id="settings-interval"[^>]*value="2"/,
      'the Settings page shows the API change (7200 s: 2 hours)',
    );
    assert.equal((await call(`${base}/settings`, { headers: { cookie: session } })).status, 404);

    const unknown = await call(`${base}/no/such/page`);
    assert.equal(unknown.status, 404);
    assert.equal(s.stderr(), '');
    assert.ok(!s.lines.some((l) => l.level === 'error'), 'no error logged');
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
    rmSync(d, { recursive: true, force: true });
  }
});

it('over TLS the panel session is __Host-dk_session, and the API reads it', async () => {
  const d = tempDir('dk-serve-tls-');
  const cfg = join(d, 'dk.ini');
  writeFileSync(cfg, `[store]\npath = ${join(d, 'state.db')}\n`);
  const pw = join(d, 'pw');
  writeFileSync(pw, 'correct horse battery staple\n', { mode: 0o600 });
  accounts(cfg, pw);
  const ca = issue(d, 'ca', { cn: 'serve test CA', ca: true });
  const leaf = issue(d, 'leaf', { cn: 'localhost', dnsNames: ['localhost'] }, ca);
  const caPem = readFileSync(ca.certFile, 'utf8');
  const s = startServe([
    '--config',
    cfg,
    '--listen',
    '127.0.0.1:0',
    '--tls-cert',
    leaf.certFile,
    '--tls-key',
    leaf.keyFile,
  ]);
  try {
    const base = `https://${String((await s.waitFor('listening', (x) => x.event === 'listening')).listen)}`;
    const login = await panelLogin(base, 'alice', 'correct horse battery staple', caPem);
    const raw = ([] as string[])
      .concat(login.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('__Host-dk_session='));
    assert.ok(raw, JSON.stringify(login.headers['set-cookie']));
    assert.match(raw, /; Secure/i);
    assert.match(raw, /; Path=\//i);
    const session = raw.split(';')[0]!;
    const mine = await call(`${base}/api/v1/domains`, { headers: { cookie: session }, ca: caPem });
    assert.equal(mine.status, 200, mine.body);
    // the plain name is not a session over TLS
    const plain = session.replace('__Host-dk_session', 'dk_session');
    const no = await call(`${base}/api/v1/domains`, { headers: { cookie: plain }, ca: caPem });
    assert.equal(no.status, 401);
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
    rmSync(d, { recursive: true, force: true });
  }
});

it('SIGINT while an API request waits on DNS: the request is answered, then serve exits 0', async () => {
  const d = tempDir('dk-serve-stop-');
  const cfg = join(d, 'dk.ini');
  // a resolver on loopback that takes queries and never answers: a lookup waits its timeout
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
  const port = sink.address().port;
  writeFileSync(
    cfg,
    `[store]\npath = ${join(d, 'state.db')}\n[dns]\nresolver = 127.0.0.1:${port}\n`,
  );
  const pw = join(d, 'pw');
  writeFileSync(pw, 'correct horse battery staple\n', { mode: 0o600 });
  const t = accounts(cfg, pw);
  let queries = 0;
  sink.on('message', () => queries++);
  const s = startServe(['--config', cfg, '--listen', '127.0.0.1:0']);
  try {
    const base = `http://${String((await s.waitFor('listening', (x) => x.event === 'listening')).listen)}`;
    await s.waitFor('the first pass', (x) => x.event === 'pass');
    const pending = call(`${base}/api/v1/domains`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'example.org', subdomains: ['mail'], dane: false }),
    });
    const t0 = Date.now();
    while (queries === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(queries > 0, 'the request is waiting on the resolver');
    s.child.kill('SIGINT');
    const r = await pending;
    // answered (the lookup timed out: a 4xx with a message), not a connection cut
    assert.ok(r.status >= 200 && r.status < 500, `${r.status} ${r.body}`);
    assert.equal(await s.exited, 0);
    const stopping = s.lines.findIndex((l) => l.event === 'stopping');
    const stopped = s.lines.findIndex((l) => l.event === 'stopped');
    assert.ok(stopping >= 0 && stopped > stopping);
    assert.equal(s.stderr(), '');
    assert.ok(!s.lines.some((l) => l.level === 'error'), 'no 500 logged');
  } finally {
    s.child.kill('SIGKILL');
    sink.close();
    rmSync(d, { recursive: true, force: true });
  }
});
