import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Hono } from 'hono';
import type { z } from 'zod';
import { ADMIN_ACTIONS, ANY_USER_ACTIONS } from '../../auth/authz.js';
import { newApiToken, newSession } from '../../auth/tokens.js';
import { parseConfig } from '../../config/config.js';
import type { DomainSettings } from '../../store/domains.js';
import { openState, type StateStore } from '../../store/state.js';
import { openUsersStore, type UsersStore } from '../../store/users.js';
import { makePki } from '../../../test/support/pki.js';
import {
  apiRoutes,
  CSRF_HEADER,
  PLAIN_SESSION_COOKIE,
  SECURE_SESSION_COOKIE,
  sessionCookieName,
  type ApiDeps,
  withoutCliFlags,
} from './api.js';
import { settingsFacts, storedSettings } from './settings.js';
import { verifyPassword } from '../../auth/password.js';
import { ROUTES, type RouteSpec } from './table.js';
import { DkError } from '../../core/errors.js';
import { sameRecord, type TlsaRecord } from '../../core/tlsa/index.js';
import { addTlsa } from '../../publish/tlsa-set.js';
import type { Publisher, TlsaChange, TlsaRrset } from '../../publish/types.js';

/** A zone's TLSA RRsets in memory, with the guard of a real backend (RFC 2136 §2.4 prereqs). */
class MemPublisher implements Publisher {
  readonly backend = 'zonefile' as const;
  readonly describe = 'memory';
  constructor(
    readonly zone: string,
    readonly sets: Map<string, TlsaRrset>,
  ) {}
  read(owner: string): Promise<TlsaRrset> {
    const x = this.sets.get(owner);
    return Promise.resolve(
      x ? { ...x, records: [...x.records] } : { owner, ttl: null, records: [] },
    );
  }
  defaultTtl(): Promise<number> {
    return Promise.resolve(3600);
  }
  listAll(): Promise<TlsaRrset[]> {
    return Promise.resolve(
      [...this.sets.values()].filter((x) => x.owner.endsWith(`.${this.zone}`)),
    );
  }
  apply(c: TlsaChange): Promise<void> {
    const cur = this.sets.get(c.owner)?.records ?? [];
    const same =
      cur.length === c.expected.length &&
      cur.every((r) => c.expected.some((e) => sameRecord(e, r)));
    if (!same) throw new DkError('tempfail', 'E_PUBLISH_CONFLICT', 'guard failed');
    const next = [...cur.filter((r) => !c.remove.some((x) => sameRecord(x, r))), ...c.add];
    if (next.length === 0) this.sets.delete(c.owner);
    else this.sets.set(c.owner, { owner: c.owner, ttl: c.ttl, records: next });
    return Promise.resolve();
  }
}

const HEX = 'ab'.repeat(32);
const rec = (b: number): TlsaRecord => ({
  usage: 3,
  selector: 1,
  mtype: 1,
  data: Buffer.alloc(32, b),
});

const dir = mkdtempSync(join(tmpdir(), 'dk-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const NOW = new Date('2026-12-01T10:00:00Z');

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
  tokens: { admin: string; alice: string; bob: string };
  logged: { detail: Record<string, unknown>; message: string }[];
  /** the zones' TLSA RRsets as the DNS backend holds them */
  dns: Map<string, TlsaRrset>;
  pub(domain: string): MemPublisher;
  guarded: string[];
  renewed: string[];
  /** everything a refused request must leave as it was */
  snapshot(): string;
  close(): void;
}

function env(o: { ini?: string; overrides?: Partial<ApiDeps>; guardFails?: DkError } = {}): Env {
  const path = join(dir, `state-${++n}.db`);
  const state = openState(path);
  const users = openUsersStore(path);
  const tokens = {} as Env['tokens'];
  for (const [name, role, domains] of [
    ['admin', 'admin', []],
    ['alice', 'customer', ['example.org']],
    ['bob', 'customer', ['example.net']],
  ] as const) {
    users.addUser({ name, role, domains, passwordHash: 'not-a-real-hash' }, NOW);
    const t = newApiToken();
    users.addToken({ id: t.id, user: name, sha256: t.sha256, expiresAt: null }, NOW);
    tokens[name] = t.token;
  }
  state.domains.add(settings('example.org'), NOW);
  state.domains.add(settings('example.net'), NOW);
  const config = parseConfig(o.ini ?? '', 'test.ini');
  const logged: Env['logged'] = [];
  const renewed: string[] = [];
  const dns = new Map<string, TlsaRrset>();
  const guarded: string[] = [];
  const pub = (name: string) => new MemPublisher(`${name.split('.').slice(-2).join('.')}.`, dns);
  const deps: ApiDeps = {
    dns: {
      publisher: async (name) => pub(name),
      removeGuard: (owner) => async () => {
        if (o.guardFails) throw o.guardFails;
        guarded.push(owner);
      },
    },
    users,
    state,
    settings: storedSettings(users, () => config),
    now: () => NOW,
    logger: { error: (detail, message) => logged.push({ detail, message }) },
    clientAddress: () => '192.0.2.7',
    certDir: (d) => `/tmp/live/${d}`,
    zoneCheck: async (host) => ({ zone: host.split('.').slice(-2).join('.'), ok: true }),
    mxAmongNames: async (d, names) => ({
      mailHosts: names.filter((x) => x === `mail.${d}`),
      mx: [`mail.${d}`],
    }),
    status: async (d) => ({ name: d.name, phase: 'steady' }),
    check: async (d) => ({ domain: d, verdict: 'fake' }),
    dnssec: async (d) => ({ zone: d, chain: 'secure', ds: [`${d}. IN DS 1 13 2 AB`] }),
    prereq: async (d) => ({ domain: d, findings: [] }),
    renew: (d) => void renewed.push(d),
    ...o.overrides,
  };
  const app = new Hono();
  app.route('/api', apiRoutes(deps));
  return {
    app,
    state,
    users,
    tokens,
    logged,
    renewed,
    dns,
    pub,
    guarded,
    snapshot: () =>
      JSON.stringify([
        state.domains.list(),
        state.events.list({}),
        users.auditLog(),
        users.settings(),
        users.users(),
        renewed,
        state.ownership.list(),
        [...dns.values()],
      ]),
    close: () => {
      users.close();
      state.close();
    },
  };
}

type Who = keyof Env['tokens'];

function req(
  e: Env,
  who: Who | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const h: Record<string, string> = { ...headers };
  if (who) h.authorization = `Bearer ${e.tokens[who]}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  return e.app.request(path, { method, headers: h, body: payload });
}

const PASSWORD = 'pw-of-carol-not-echoed';

const PEM = (() => {
  const pki = makePki(dir, { names: ['mail.example.org'] });
  return pki.leaf.certPem + pki.intermediate.certPem;
})();

/** A valid request for each route, aimed at `domain`. */
function requestFor(r: RouteSpec, domain: string): { path: string; body?: unknown } {
  const path = `/api${r.path.replace(':name', domain)}`;
  if (r.path === '/v1/domains' && r.method === 'post') {
    return { path, body: { name: `new.${domain}`, mailHosts: [`new.${domain}`], dane: true } };
  }
  if (r.path === '/v1/generate') return { path, body: { pem: PEM, host: `mail.${domain}` } };
  if (r.path === '/v1/settings' && r.method === 'put') return { path, body: { daneEnabled: true } };
  if (r.path === '/v1/users' && r.method === 'post') {
    const body = { name: 'carol', role: 'customer', domains: [domain], password: PASSWORD };
    return { path, body };
  }
  if (r.path === '/v1/users/:name') return { path: '/api/v1/users/bob' };
  if (r.path.endsWith('/tlsa') && r.method === 'post') {
    const body = {
      port: 25,
      protocol: 'tcp',
      name: `mail.${domain}`,
      usage: 3,
      selector: 1,
      mtype: 1,
      data: HEX,
    };
    return { path, body };
  }
  if (r.path.endsWith('/tlsa/remove')) {
    return { path, body: { name: `mail.${domain}`, port: 25, rdata: `3 1 1 ${'07'.repeat(32)}` } };
  }
  return { path };
}

describe('refusals name no CLI flag the panel and the API cannot give', () => {
  // the messages as publish/endpoint-guard.ts and publish/tlsa-set.ts word them for the CLI
  const cli: [string, string, RegExp][] = [
    [
      'E_ENDPOINT_UNMATCHED',
      'Nothing changed at _25._tcp.mail.example.org.: DANE senders could no longer deliver to mail.example.org port 25: 192.0.2.25 presents a certificate no remaining record matches (--force to change it anyway)',
      /no remaining record matches \(this check cannot be overridden from the panel or the API\)$/,
    ],
    [
      'E_ENDPOINT_UNMATCHED',
      'Nothing changed at _25._tcp.mail.example.org.: removing its last TLSA record turns DANE off for mail.example.org port 25, which DANE senders authenticate today: x (--force to turn DANE off anyway)',
      /today: x \(this check cannot be overridden from the panel or the API\)$/,
    ],
    [
      'E_ENDPOINT_UNREACHABLE',
      'Nothing changed at _25._tcp.mail.example.org.: 192.0.2.25 could not be reached (ECONNREFUSED), so we cannot prove the change leaves it a matching record; add --force to change it anyway',
      /matching record; this check cannot be overridden from the panel or the API$/,
    ],
    [
      'E_UNUSABLE_RECORD',
      'The TLSA record 3 1 1 AB at _25._tcp.mail.example.org. is unusable: refusing to publish; add --force to publish it anyway',
      /refusing to publish; this check cannot be overridden from the panel or the API$/,
    ],
    [
      'E_TTL_FOREIGN',
      'The TLSA RRset at x holds records danekeeper did not create, with TTL 300; TTL 3600 would change theirs too (one TTL per RRset): use --ttl 300 or --force',
      /\(one TTL per RRset\): use TTL 300 \(theirs\)$/,
    ],
    // domain add's (src/cli/domain.ts)
    [
      'E_DOMAIN_MX',
      'Cannot find the mail host of example.org: its MX lookup is indeterminate (x); name it with --mail-host HOST',
      /; name it with the mail host \(mailHosts\)$/,
    ],
    [
      'E_DOMAIN_MX',
      "None of example.org's MX hosts (mx.example.org) is among the certificate's names (example.org): add --subdomain mx, or name the host with --mail-host",
      /: add the subdomain mx \(subdomains\), or name the host with the mail host \(mailHosts\)$/,
    ],
  ];
  it('each CLI wording is rewritten, kind and code kept', () => {
    for (const [code, message, want] of cli) {
      const out = withoutCliFlags(new DkError('usage', code, message));
      assert.match(out.message, want);
      assert.doesNotMatch(out.message, /--/);
      assert.deepEqual([out.kind, out.code], ['usage', code]);
    }
  });
  it('through the API: the endpoint guard refusing a TLSA removal', async () => {
    const e = env({ guardFails: new DkError('usage', cli[0]![0], cli[0]![1]) });
    try {
      await addTlsa(
        e.pub('example.org'),
        e.state.ownership,
        '_25._tcp.mail.example.org.',
        [rec(7)],
        {
          now: NOW,
        },
      );
      const res = await req(e, 'alice', 'POST', '/api/v1/domains/example.org/tlsa/remove', {
        name: 'mail.example.org',
        port: 25,
        rdata: `3 1 1 ${'07'.repeat(32)}`,
      });
      const j = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, 400, j.error.message);
      assert.equal(j.error.code, 'E_ENDPOINT_UNMATCHED');
      assert.match(j.error.message, /cannot be overridden from the panel or the API/);
      assert.doesNotMatch(j.error.message, /--force/);
    } finally {
      e.close();
    }
  });
});

describe('accounts through the API (the Settings page)', () => {
  it('GET/POST/DELETE /v1/users: the CLI rules; the password never in an answer, the audit log or the log', async () => {
    const e = env();
    try {
      const texts: string[] = [];
      const call = async (who: Who, method: string, path: string, body?: unknown) => {
        const res = await req(e, who, method, path, body);
        const text = await res.text();
        texts.push(text);
        return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
      };
      const list = await call('admin', 'GET', '/api/v1/users');
      assert.equal(list.status, 200);
      assert.deepEqual(
        (list.body.users as { name: string; role: string; domains: string[] }[]).map((u) => [
          u.name,
          u.role,
          u.domains,
        ]),
        [
          ['admin', 'admin', []],
          ['alice', 'customer', ['example.org']],
          ['bob', 'customer', ['example.net']],
        ],
      );
      const add = await call('admin', 'POST', '/api/v1/users', {
        name: 'Carol',
        role: 'customer',
        domains: ['Example.ORG.', 'example.org'],
        password: PASSWORD,
      });
      assert.equal(add.status, 201, JSON.stringify(add.body));
      assert.deepEqual(
        [add.body.name, add.body.role, add.body.domains],
        ['carol', 'customer', ['example.org']],
      );
      assert.ok(await verifyPassword(PASSWORD, e.users.passwordHash('carol')!));
      const a = e.users.auditLog()[0]!;
      assert.deepEqual(
        [a.actor, a.action, a.target, a.source],
        ['api:admin', 'user.add', 'carol', '192.0.2.7'],
      );
      // refusals, each with the CLI's code and nothing written
      const before = e.snapshot();
      for (const [body, status, code] of [
        [{ name: 'carol', role: 'customer', password: PASSWORD }, 409, 'E_USER_EXISTS'],
        [{ name: 'no way', role: 'customer', password: PASSWORD }, 400, 'E_USER_NAME'],
        [
          { name: 'dave', role: 'admin', domains: ['example.org'], password: PASSWORD },
          400,
          'E_OPTION',
        ],
        [{ name: 'dave', role: 'customer', password: 'short' }, 400, 'E_API_INPUT'],
        [{ name: 'dave', role: 'customer', password: 'two\nlines-here' }, 400, 'E_API_INPUT'],
        [{ name: 'dave', role: 'root', password: PASSWORD }, 400, 'E_API_INPUT'],
      ] as const) {
        const r = await call('admin', 'POST', '/api/v1/users', body);
        assert.equal(r.status, status, JSON.stringify(r.body));
        assert.equal((r.body.error as { code: string }).code, code, JSON.stringify(r.body));
        assert.ok(!JSON.stringify(r.body).includes('short'), 'the password is not echoed');
      }
      assert.equal(e.snapshot(), before);
      // a customer may neither list nor change accounts
      assert.equal((await call('alice', 'GET', '/api/v1/users')).status, 403);
      assert.equal((await call('alice', 'DELETE', '/api/v1/users/bob')).status, 403);
      assert.equal((await call('admin', 'DELETE', '/api/v1/users/nobody')).status, 404);
      // the last admin stays
      const last = await call('admin', 'DELETE', '/api/v1/users/admin');
      assert.equal(last.status, 409);
      assert.equal((last.body.error as { code: string }).code, 'E_LAST_ADMIN');
      assert.equal(e.snapshot(), before);
      const gone = await call('admin', 'DELETE', '/api/v1/users/carol');
      assert.deepEqual([gone.status, gone.body], [200, { removed: 'carol' }]);
      assert.equal(e.users.user('carol'), null);
      assert.deepEqual(
        [e.users.auditLog()[0]!.action, e.users.auditLog()[0]!.details],
        ['user.remove', { role: 'customer' }],
      );
      const all = [...texts, JSON.stringify(e.users.auditLog()), JSON.stringify(e.logged)].join(
        '\n',
      );
      assert.ok(!all.includes(PASSWORD), 'the password appears nowhere');
      assert.ok(!all.includes('$scrypt$'), 'nor its hash');
    } finally {
      e.close();
    }
  });
});

describe('API authorization matrix (role x route x own/other domain)', () => {
  const cases: [Who, 'own' | 'other'][] = [
    ['admin', 'own'],
    ['alice', 'own'],
    ['alice', 'other'],
  ];
  for (const r of ROUTES as readonly RouteSpec[]) {
    for (const [who, target] of cases) {
      const domain = target === 'own' ? 'example.org' : 'example.net';
      const allowed =
        who === 'admin' ||
        (ANY_USER_ACTIONS as readonly string[]).includes(r.action) ||
        (!(ADMIN_ACTIONS as readonly string[]).includes(r.action) && target === 'own');
      it(`${r.method.toUpperCase()} ${r.path}: ${who} on ${target} -> ${allowed ? 'allowed' : '403'}`, async () => {
        const e = env();
        try {
          // enable-dane changes something only on a domain with DANE off
          if (r.path.endsWith('enable-dane')) e.state.domains.update(domain, { dane: false }, NOW);
          // remove needs a record of ours to remove
          if (r.path.endsWith('/tlsa/remove')) {
            await addTlsa(e.pub(domain), e.state.ownership, `_25._tcp.mail.${domain}.`, [rec(7)], {
              now: NOW,
            });
          }
          const before = e.snapshot();
          const q = requestFor(r, domain);
          const res = await req(e, who, r.method.toUpperCase(), q.path, q.body);
          const text = await res.text();
          const body = JSON.parse(text) as Record<string, unknown>;
          if (allowed) {
            assert.equal(res.status, r.status, text);
            if (r.changes) {
              const a = e.users.auditLog()[0]!;
              assert.equal(a.actor, `api:${who}`);
              assert.equal(a.source, '192.0.2.7');
            } else {
              assert.equal(e.snapshot(), before);
            }
          } else {
            assert.equal(res.status, 403, text);
            assert.equal((body.error as { code: string }).code, 'E_API_FORBIDDEN');
            assert.equal(e.snapshot(), before, 'nothing written');
          }
          // No secret in any response: tokens, password hashes.
          for (const t of Object.values(e.tokens)) assert.ok(!text.includes(t));
          assert.ok(!text.includes('not-a-real-hash'));
        } finally {
          e.close();
        }
      });
    }
  }

  it('a customer lists only their own domains; search and paging', async () => {
    const e = env();
    try {
      for (const x of ['a', 'b', 'c']) e.state.domains.add(settings(`${x}.example.org`), NOW);
      const mine = (await (await req(e, 'alice', 'GET', '/api/v1/domains')).json()) as {
        total: number;
        domains: { name: string }[];
      };
      assert.equal(mine.total, 4);
      assert.ok(!JSON.stringify(mine).includes('/tmp/live'), 'a customer sees no server path');
      assert.ok(mine.domains.every((d) => d.name.endsWith('example.org')));
      const page = (await (
        await req(e, 'admin', 'GET', '/api/v1/domains?q=example.org&page=2&perPage=3')
      ).json()) as { total: number; domains: { name: string; certDir?: string }[] };
      assert.equal(page.total, 4);
      assert.equal(page.domains[0]!.certDir, '/tmp/live/example.org');
      assert.equal(page.domains.length, 1);
    } finally {
      e.close();
    }
  });
});

describe('the domains list does not observe the network per row', () => {
  it("each row's status is the stored one (no status call); one domain's GET observes", async () => {
    let observed = 0;
    const e = env({
      overrides: {
        status: async (d) => {
          observed++;
          return { name: d.name, phase: 'steady' };
        },
        lastOutcome: (d) =>
          d === 'example.org'
            ? {
                outcome: {
                  domain: d,
                  actions: [],
                  result: 'waiting',
                  phase: 'confirming',
                  waitingFor: 'confirmation',
                  until: '2026-03-02T00:00:00.000Z',
                  detail: 'waiting',
                },
                at: NOW.toISOString(),
              }
            : undefined,
      },
    });
    try {
      for (let i = 0; i < 30; i++) e.state.domains.add(settings(`d${i}.example.org`), NOW);
      e.state.rollover.save(
        'example.org',
        { failure: null, installed: null, intent: null } as never,
        {
          expectedVersion: 0,
          now: new Date(NOW.getTime() - 1000),
        },
      );
      const res = await req(e, 'alice', 'GET', '/api/v1/domains?perPage=50');
      assert.equal(res.status, 200);
      const list = (await res.json()) as {
        domains: { name: string; status: { phase: string | null; waitingFor: string | null } }[];
      };
      assert.equal(list.domains.length, 31);
      assert.equal(observed, 0, 'no observation for the list');
      const org = list.domains.find((d) => d.name === 'example.org')!;
      assert.deepEqual([org.status.phase, org.status.waitingFor], ['confirming', 'confirmation']);
      const never = list.domains.find((d) => d.name === 'd0.example.org')!;
      assert.deepEqual([never.status.phase, never.status.waitingFor], [null, 'pass']);
      assert.equal((await req(e, 'alice', 'GET', '/api/v1/domains/example.org')).status, 200);
      assert.equal(observed, 1, "the domain's own GET observes");
    } finally {
      e.close();
    }
  });
});

describe('the domains list reads only its page from the store', () => {
  it('no list() of every domain: counted and paged in SQL (admin), names then the page (customer)', async () => {
    const e = env();
    try {
      for (let i = 0; i < 40; i++) {
        e.state.domains.add(settings(`d${String(i).padStart(2, '0')}.example.org`), NOW);
        e.state.domains.add(settings(`d${i}.other.test`), NOW);
      }
      const every = e.state.domains.list().map((d) => d.name);
      // every row read and parsed per request was most of a 10,000-domain list's time
      e.state.domains.list = () => assert.fail('the list read every domain');
      type List = { total: number; domains: { name: string }[] };
      const get = async (who: 'admin' | 'alice', q: string) => {
        const r = await req(e, who, 'GET', `/api/v1/domains?${q}`);
        assert.equal(r.status, 200);
        return (await r.json()) as List;
      };
      const admin = await get('admin', 'q=EXAMPLE.org&page=3&perPage=7');
      const adminAll = every.filter((n) => n.includes('example.org'));
      assert.equal(admin.total, adminAll.length);
      assert.deepEqual(
        admin.domains.map((d) => d.name),
        adminAll.slice(14, 21),
      );
      assert.equal((await get('admin', '')).total, every.length);
      const alice = await get('alice', 'q=d1&page=2&perPage=4');
      const aliceAll = every.filter((n) => n.endsWith('example.org') && n.includes('d1'));
      assert.equal(alice.total, aliceAll.length);
      assert.deepEqual(
        alice.domains.map((d) => d.name),
        aliceAll.slice(4, 8),
      );
      assert.ok(alice.domains.length > 0);
    } finally {
      e.close();
    }
  });
});

describe('API authentication', () => {
  it('no credentials, a malformed or a revoked token: 401', async () => {
    const e = env();
    try {
      const none = await req(e, null, 'GET', '/api/v1/domains');
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="danekeeper"');
      const bad = await e.app.request('/api/v1/domains', {
        headers: { authorization: 'Bearer dk_nonsense' },
      });
      assert.equal(bad.status, 401);
      const id = e.users.tokens('alice')[0]!.id;
      e.users.revokeToken(id, NOW);
      const res = await req(e, 'alice', 'GET', '/api/v1/domains');
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), {
        error: { code: 'E_API_AUTH', message: 'The API token is not valid' },
      });
    } finally {
      e.close();
    }
  });

  it("a panel session: reads with the cookie; a change needs the session's CSRF header", async () => {
    const e = env();
    try {
      const s = newSession();
      e.users.createSession(
        { sha256: s.sha256, user: 'alice', csrfSecret: s.csrfSecret, ttlMs: 3_600_000 },
        NOW,
      );
      const cookie = `${PLAIN_SESSION_COOKIE}=${s.id}`;
      const read = await req(e, null, 'GET', '/api/v1/domains/example.org', undefined, { cookie });
      assert.equal(read.status, 200);
      const before = e.snapshot();
      for (const csrf of [undefined, 'wrong', s.id]) {
        const res = await req(
          e,
          null,
          'POST',
          '/api/v1/domains/example.org/disable-dane',
          undefined,
          {
            cookie,
            ...(csrf ? { [CSRF_HEADER]: csrf } : {}),
          },
        );
        assert.equal(res.status, 403);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'E_API_CSRF');
      }
      assert.equal(e.snapshot(), before);
      const ok = await req(e, null, 'POST', '/api/v1/domains/example.org/disable-dane', undefined, {
        cookie,
        [CSRF_HEADER]: s.csrfSecret,
      });
      assert.equal(ok.status, 200);
      assert.equal(e.state.domains.get('example.org')!.dane, false);
      assert.ok(!(await ok.text()).includes(s.csrfSecret));
    } finally {
      e.close();
    }
  });
});

describe('the session cookie: the name the panel sets, over TLS and over plain HTTP', () => {
  it('one function names it for both faces: __Host-dk_session over TLS, dk_session over HTTP', () => {
    assert.equal(sessionCookieName(true), '__Host-dk_session');
    assert.equal(sessionCookieName(false), 'dk_session');
  });

  for (const secure of [true, false]) {
    const name = secure ? SECURE_SESSION_COOKIE : PLAIN_SESSION_COOKIE;
    const other = secure ? PLAIN_SESSION_COOKIE : SECURE_SESSION_COOKIE;
    it(`served ${secure ? 'over TLS' : 'over plain HTTP'}: ${name} is the session, ${other} is not looked at`, async () => {
      const e = env({ overrides: { secure } });
      try {
        const s = newSession();
        e.users.createSession(
          { sha256: s.sha256, user: 'alice', csrfSecret: s.csrfSecret, ttlMs: 3_600_000 },
          NOW,
        );
        const read = (cookie: string) =>
          req(e, null, 'GET', '/api/v1/domains/example.org', undefined, { cookie });
        assert.equal((await read(`${name}=${s.id}`)).status, 200);
        const wrong = await read(`${other}=${s.id}`);
        assert.equal(wrong.status, 401);
        assert.match(
          ((await wrong.json()) as { error: { message: string } }).error.message,
          /Authorization: Bearer TOKEN is required/,
        );
        const change = await req(
          e,
          null,
          'POST',
          '/api/v1/domains/example.org/disable-dane',
          undefined,
          { cookie: `${name}=${s.id}`, [CSRF_HEADER]: s.csrfSecret },
        );
        assert.equal(change.status, 200);
      } finally {
        e.close();
      }
    });
  }
});

describe('API bad input: 4xx with a message, nothing written', () => {
  const bad: [string, string, string, unknown, number, RegExp, Record<string, string>?][] = [
    ['malformed JSON', 'POST', '/api/v1/domains', '{"name": ', 400, /not valid JSON/],
    [
      'wrong content type',
      'POST',
      '/api/v1/domains',
      '{"name":"new.example.org"}',
      415,
      /application\/json/,
      { 'content-type': 'text/plain' },
    ],
    [
      'huge body',
      'POST',
      '/api/v1/domains',
      JSON.stringify({ name: 'x'.repeat(70_000) }),
      413,
      /larger than 65536/,
    ],
    [
      'unknown field',
      'POST',
      '/api/v1/domains',
      { name: 'new.example.org', sneaky: 1 },
      400,
      /sneaky/,
    ],
    [
      'port 0',
      'POST',
      '/api/v1/domains',
      { name: 'new.example.org', endpoints: ['mail.new.example.org:0'] },
      400,
      /port/,
    ],
    [
      'port 70000',
      'POST',
      '/api/v1/domains',
      { name: 'new.example.org', endpoints: ['mail.new.example.org:70000'] },
      400,
      /port/,
    ],
    [
      'unknown key type',
      'POST',
      '/api/v1/domains',
      { name: 'new.example.org', keyType: 'dsa' },
      400,
      /keyType/,
    ],
    ['not a domain name', 'POST', '/api/v1/domains', { name: 'exa mple.org' }, 400, /domain name/],
    [
      "a domain outside the user's zones",
      'POST',
      '/api/v1/domains',
      { name: 'new.example.net', dane: false },
      403,
      /alice may not domain.add new.example.net/,
    ],
    [
      "a lookalike of the user's zone",
      'POST',
      '/api/v1/domains/notexample.org/renew',
      undefined,
      403,
      /may not/,
    ],
    [
      'a domain that is not managed',
      'POST',
      '/api/v1/domains/sub.example.org/renew',
      undefined,
      404,
      /not managed/,
    ],
    [
      'a domain managed already',
      'POST',
      '/api/v1/domains',
      { name: 'example.org', mailHosts: ['mail.example.org'], subdomains: ['mail'] },
      409,
      /managed already/,
    ],
    [
      'a mail host not among the names',
      'POST',
      '/api/v1/domains',
      { name: 'new.example.org', mailHosts: ['mx.example.org'] },
      400,
      /not among the certificate's names/,
    ],
    ['bad paging', 'GET', '/api/v1/domains?page=0', undefined, 400, /page/],
    [
      'generate without a PEM',
      'POST',
      '/api/v1/generate',
      { pem: 'hello' },
      400,
      /no PEM certificate or key/,
    ],
    [
      'generate with port 70000',
      'POST',
      '/api/v1/generate',
      { pem: PEM, port: 70000 },
      400,
      /port/,
    ],
    [
      'settings by a customer',
      'PUT',
      '/api/v1/settings',
      { daneEnabled: false },
      403,
      /may not settings.change/,
    ],
    ['no such route', 'GET', '/api/v1/nothing', undefined, 404, /No such API route/],
    ...(
      [
        ['TLSA bad hex', { data: 'zz'.repeat(32) }, /data: .*hex/i],
        ['TLSA wrong digest length', { data: 'ab'.repeat(31) }, /data: .*32/],
        ['TLSA port 0', { port: 0 }, /port: /],
        ['TLSA port 70000', { port: 70000 }, /port: /],
        ['TLSA unknown usage', { usage: 7 }, /usage: /],
        ['TLSA unknown usage name', { usage: 'DANE-XX' }, /usage: /],
        ['TLSA name outside the domain', { name: 'mail.example.net' }, /name: /],
      ] as const
    ).map(
      ([what, patch, msg]) =>
        [
          what,
          'POST',
          '/api/v1/domains/example.org/tlsa',
          {
            port: 25,
            protocol: 'tcp',
            name: 'mail.example.org',
            usage: 3,
            selector: 1,
            mtype: 1,
            data: HEX,
            ...patch,
          },
          400,
          msg,
        ] as [string, string, string, unknown, number, RegExp],
    ),
    [
      'TLSA remove outside the domain',
      'POST',
      '/api/v1/domains/example.org/tlsa/remove',
      { name: 'mail.example.net', port: 25, rdata: `3 1 1 ${HEX}` },
      400,
      /not under example.org/,
    ],
    [
      'TLSA remove bad rdata',
      'POST',
      '/api/v1/domains/example.org/tlsa/remove',
      { name: 'mail.example.org', port: 25, rdata: '3 1 1 xyz' },
      400,
      /./,
    ],
    [
      'TLSA remove of a record not there',
      'POST',
      '/api/v1/domains/example.org/tlsa/remove',
      { name: 'mail.example.org', port: 25, rdata: `3 1 1 ${HEX}` },
      404,
      /has no record/,
    ],
  ];
  for (const [what, method, path, body, status, message, headers] of bad) {
    it(`${what}: ${status}`, async () => {
      const e = env();
      try {
        const before = e.snapshot();
        const res = await req(e, 'alice', method, path, body, headers);
        const j = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(res.status, status, j.error?.message);
        assert.match(j.error.message, message);
        assert.match(j.error.code, /^E_/);
        assert.equal(e.snapshot(), before, 'store and audit log unchanged');
      } finally {
        e.close();
      }
    });
  }
});

describe('API routes', () => {
  it('add a domain with DANE: written once, event and audit with the client address', async () => {
    const e = env();
    try {
      const res = await req(e, 'alice', 'POST', '/api/v1/domains', {
        name: 'Shop.Example.ORG',
        subdomains: ['mail'],
      });
      assert.equal(res.status, 201, await res.clone().text());
      const d = e.state.domains.get('shop.example.org')!;
      assert.equal(d.dane, true);
      assert.deepEqual(d.mailHosts, ['mail.shop.example.org']);
      const a = e.users.auditLog()[0]!;
      assert.deepEqual(
        [a.actor, a.action, a.target, a.source],
        ['api:alice', 'domain.add', 'shop.example.org', '192.0.2.7'],
      );
    } finally {
      e.close();
    }
  });

  it('DANE refused on a zone without a secure chain (the CLI rule), nothing written', async () => {
    const e = env({
      overrides: {
        zoneCheck: async () => ({
          zone: 'example.org',
          ok: false,
          reason: `zone example.org has no secure chain of trust (chain insecure)`,
          fix: 'give the registrar the DS',
        }),
      },
    });
    try {
      e.state.domains.update('example.org', { dane: false }, NOW);
      const before = e.snapshot();
      const res = await req(e, 'alice', 'POST', '/api/v1/domains/example.org/enable-dane');
      assert.equal(res.status, 409);
      assert.match(
        ((await res.json()) as { error: { message: string } }).error.message,
        /no secure chain/,
      );
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('GET /v1/settings: the INI file’s read-only facts for the Settings page, admin only, no secret nor key path', async () => {
    const ini = [
      '[acme]',
      'directory = https://acme-user:acme-sekret@ca.example.test:14000/dir?token=tok-sekret#frag',
      'email = hostmaster@example.org',
      '[dns]',
      'backend = rfc2136',
      'zone = example.org',
      'server = 192.0.2.53:53',
      'tsig-key-file = /etc/danekeeper/tsig-sekret.key',
      '[notify]',
      'email = ops@example.org',
      'smtp = 127.0.0.1:25',
      'from = dk@example.org',
      '',
    ].join('\n');
    const e = env({ ini });
    try {
      const res = await req(e, 'admin', 'GET', '/api/v1/settings');
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.deepEqual(JSON.parse(text), {
        daneEnabled: true,
        confirmationInterval: (JSON.parse(text) as { confirmationInterval: number })
          .confirmationInterval,
        acmeDirectory: 'https://ca.example.test:14000/dir',
        dnsBackend: 'rfc2136 (zone example.org, primary 192.0.2.53:53)',
        notifyEmail: 'ops@example.org',
      });
      for (const secret of ['sekret', 'tsig', 'acme-user', 'token', 'frag']) {
        assert.ok(!text.includes(secret), `${secret} not in ${text}`);
      }
      // a customer sees none of it
      const c = await req(e, 'alice', 'GET', '/api/v1/settings');
      assert.equal(c.status, 403);
      assert.doesNotMatch(await c.text(), /example\.test|192\.0\.2\.53|ops@/);
    } finally {
      e.close();
    }
    // the defaults: Let's Encrypt by its name and URL, the zonefile backend, nobody told
    const d = env();
    try {
      const s = (await (await req(d, 'admin', 'GET', '/api/v1/settings')).json()) as Record<
        string,
        unknown
      >;
      assert.equal(s.acmeDirectory, 'letsencrypt (https://acme-v02.api.letsencrypt.org/directory)');
      assert.equal(s.dnsBackend, 'zonefile');
      assert.equal(s.notifyEmail, null);
      // PowerDNS: the API URL without credentials, never the API key file
      const p = settingsFacts(
        parseConfig(
          '[dns]\nbackend = powerdns\nzone = example.org\napi-url = http://k:v@127.0.0.1:8081/x?api-key=z\napi-key-file = /etc/dk/pdns.key\nserver-id = localhost\n',
          'p.ini',
        ),
      );
      assert.equal(
        p.dnsBackend,
        'powerdns (zone example.org, API http://127.0.0.1:8081/x, server-id localhost)',
      );
    } finally {
      d.close();
    }
  });

  it('daneEnabled off (INI, or the settings an admin changed): enable-dane and add with DANE refused', async () => {
    const e = env({ ini: '[ext-sslit]\ndaneEnabled = false\n' });
    try {
      e.state.domains.update('example.org', { dane: false }, NOW);
      const s = (await (await req(e, 'admin', 'GET', '/api/v1/settings')).json()) as {
        daneEnabled: boolean;
        confirmationInterval: number;
      };
      assert.deepEqual(
        { daneEnabled: s.daneEnabled, confirmationInterval: s.confirmationInterval },
        { daneEnabled: false, confirmationInterval: 86400 },
      );
      const before = e.snapshot();
      const on = await req(e, 'alice', 'POST', '/api/v1/domains/example.org/enable-dane');
      assert.equal(on.status, 409);
      assert.match(await on.text(), /E_DOMAIN_DANE_DISABLED/);
      const add = await req(e, 'alice', 'POST', '/api/v1/domains', {
        name: 'new.example.org',
        mailHosts: ['new.example.org'],
        dane: true,
      });
      assert.equal(add.status, 409);
      assert.equal(e.snapshot(), before);
      // Without `dane`, the server's setting decides: added with DANE off.
      const plain = await req(e, 'alice', 'POST', '/api/v1/domains', {
        name: 'new.example.org',
        mailHosts: ['new.example.org'],
      });
      assert.equal(plain.status, 201);
      assert.equal(e.state.domains.get('new.example.org')!.dane, false);
      // The admin turns it on in the settings (over the INI file): now allowed.
      const put = await req(e, 'admin', 'PUT', '/api/v1/settings', {
        daneEnabled: true,
        confirmationInterval: 7200,
      });
      assert.deepEqual(await put.json(), { daneEnabled: true, confirmationInterval: 7200 });
      assert.equal(e.users.auditLog()[0]!.action, 'settings.change');
      const again = await req(e, 'alice', 'POST', '/api/v1/domains/example.org/enable-dane');
      assert.equal(again.status, 200);
      assert.equal(e.state.domains.get('example.org')!.dane, true);
    } finally {
      e.close();
    }
  });

  it('renew asks the daemon; remove leaves the domain gone and audited', async () => {
    const e = env();
    try {
      assert.equal((await req(e, 'bob', 'POST', '/api/v1/domains/example.net/renew')).status, 200);
      assert.deepEqual(e.renewed, ['example.net']);
      assert.equal((await req(e, 'bob', 'DELETE', '/api/v1/domains/example.net')).status, 200);
      assert.equal(e.state.domains.get('example.net'), undefined);
      assert.deepEqual(
        e.users.auditLog().map((a) => a.action),
        ['domain.remove', 'domain.renew'],
      );
    } finally {
      e.close();
    }
  });

  it('generate: 3 1 1 of the leaf, 2 1 1 of its issuer, zone lines', async () => {
    const e = env();
    try {
      const res = await req(e, 'bob', 'POST', '/api/v1/generate', {
        pem: PEM,
        host: 'mail.example.org',
      });
      const j = (await res.json()) as { records: { rdata: string; zoneLine: string }[] };
      assert.equal(res.status, 200);
      assert.deepEqual(
        j.records.map((r) => r.rdata.slice(0, 6)),
        ['3 1 1 ', '2 1 1 '],
      );
      assert.match(
        j.records[0]!.zoneLine,
        /^_25\._tcp\.mail\.example\.org\.\s.*TLSA\s+3 1 1 [0-9a-f]{64}$/i,
      );
    } finally {
      e.close();
    }
  });

  it('every DkError kind but internal answers a 4xx (a 5xx is a bug); a backend out of reach is 424', async () => {
    const kinds = [
      'usage',
      'data',
      'noinput',
      'unavailable',
      'protocol',
      'tempfail',
      'noperm',
      'config',
    ] as const;
    for (const kind of kinds) {
      const e = env({
        overrides: {
          status: async () => {
            throw new DkError(kind, 'E_TEST_KIND', `The test throws ${kind}`);
          },
        },
      });
      try {
        const res = await req(e, 'alice', 'GET', '/api/v1/domains/example.org');
        assert.ok(res.status >= 400 && res.status < 500, `${kind}: ${res.status}`);
        assert.deepEqual(await res.json(), {
          error: { code: 'E_TEST_KIND', message: `The test throws ${kind}` },
        });
        assert.equal(e.logged.length, 0, `${kind} is not a bug`);
        if (kind === 'unavailable' || kind === 'protocol' || kind === 'noperm') {
          assert.equal(res.status, 424, kind);
        }
      } finally {
        e.close();
      }
    }
  });

  it('a bug answers 500 with a generic message; the detail goes to the logger only', async () => {
    const e = env({
      overrides: {
        status: async () => {
          throw new Error('secret detail at /srv/internal');
        },
      },
    });
    try {
      const res = await req(e, 'alice', 'GET', '/api/v1/domains/example.org');
      assert.equal(res.status, 500);
      const text = await res.text();
      assert.deepEqual(JSON.parse(text), {
        error: { code: 'E_INTERNAL', message: 'Internal error: see the server log' },
      });
      assert.ok(!text.includes('secret detail'));
      assert.equal(e.logged.length, 1);
      assert.match(JSON.stringify(e.logged[0]), /secret detail/);
    } finally {
      e.close();
    }
  });
});

describe("the operator's paths", () => {
  it('a customer sees no cert dir, in the domain or in its status; the admin sees both', async () => {
    const e = env({
      overrides: { status: async (d) => ({ name: d.name, phase: 'idle', certDir: d.certDir }) },
    });
    try {
      const mine = (await (await req(e, 'alice', 'GET', '/api/v1/domains/example.org')).json()) as {
        domain: Record<string, unknown>;
        status: Record<string, unknown>;
      };
      assert.equal('certDir' in mine.domain, false);
      assert.deepEqual(mine.status, { name: 'example.org', phase: 'idle' });
      const admin = (await (
        await req(e, 'admin', 'GET', '/api/v1/domains/example.org')
      ).json()) as {
        domain: Record<string, unknown>;
        status: Record<string, unknown>;
      };
      assert.equal(admin.domain.certDir, '/tmp/live/example.org');
      assert.equal(admin.status.certDir, '/tmp/live/example.org');
    } finally {
      e.close();
    }
  });

  it("a customer sees until when a pass holds the domain, not the holder's host:pid; the admin sees it", async () => {
    const lease = { holder: 'mail-host-7:4242', expiresAt: '2026-12-01T10:10:00.000Z' };
    const e = env({
      overrides: { status: async (d) => ({ name: d.name, phase: 'ordering', lease }) },
    });
    try {
      const mine = await req(e, 'alice', 'GET', '/api/v1/domains/example.org');
      const text = await mine.text();
      assert.equal(mine.status, 200);
      assert.ok(!text.includes('mail-host-7') && !text.includes('4242'), text);
      assert.deepEqual((JSON.parse(text) as { status: { lease: unknown } }).status.lease, {
        expiresAt: lease.expiresAt,
      });
      const admin = (await (
        await req(e, 'admin', 'GET', '/api/v1/domains/example.org')
      ).json()) as { status: { lease: unknown } };
      assert.deepEqual(admin.status.lease, lease);
    } finally {
      e.close();
    }
  });
});

describe('the daemon told of a change (it wakes its pass)', () => {
  it('add, DANE off and on, remove: each tells the daemon once; a refused change does not', async () => {
    const changed: string[] = [];
    const e = env({ overrides: { domainChanged: (d) => void changed.push(d) } });
    try {
      const add = await req(e, 'admin', 'POST', '/api/v1/domains', {
        name: 'new.example.org',
        subdomains: ['mail'],
      });
      assert.equal(add.status, 201, await add.text());
      assert.deepEqual(changed, ['new.example.org']);
      const dup = await req(e, 'admin', 'POST', '/api/v1/domains', {
        name: 'new.example.org',
        subdomains: ['mail'],
      });
      assert.equal(dup.status, 409);
      const other = await req(e, 'bob', 'POST', '/api/v1/domains/example.org/disable-dane');
      assert.equal(other.status, 403);
      assert.deepEqual(changed, ['new.example.org'], 'refused: not told');
      for (const p of ['disable-dane', 'enable-dane']) {
        const r = await req(e, 'alice', 'POST', `/api/v1/domains/example.org/${p}`);
        assert.equal(r.status, 200, await r.text());
      }
      const same = await req(e, 'alice', 'POST', '/api/v1/domains/example.org/enable-dane');
      assert.equal(((await same.json()) as { changed: boolean }).changed, false);
      const rm = await req(e, 'admin', 'DELETE', '/api/v1/domains/new.example.org');
      assert.equal(rm.status, 200);
      assert.deepEqual(changed, [
        'new.example.org',
        'example.org',
        'example.org',
        'new.example.org',
      ]);
    } finally {
      e.close();
    }
  });
});

describe('API TLSA records', () => {
  it('add through the form and the publish layer; list ours, hand-made and stale; a hand-made one is not removed', async () => {
    const e = env();
    try {
      const owner = '_25._tcp.mail.example.org.';
      // by hand, in the zone: not danekeeper's
      e.dns.set(owner, { owner, ttl: 300, records: [rec(9)] });
      // ours once, since removed by someone: stale
      await addTlsa(
        e.pub('example.org'),
        e.state.ownership,
        '_465._tcp.mail.example.org.',
        [rec(5)],
        { now: NOW },
      );
      e.dns.delete('_465._tcp.mail.example.org.');
      const add = await req(e, 'alice', 'POST', '/api/v1/domains/example.org/tlsa', {
        port: '25',
        protocol: 'tcp',
        name: 'MAIL.example.org',
        usage: 'DANE-EE',
        selector: 'SPKI',
        mtype: 'SHA2-256',
        data: HEX.toUpperCase(),
        ttl: '',
      });
      assert.equal(add.status, 201, await add.clone().text());
      assert.deepEqual(await add.json(), {
        owner,
        rdata: `3 1 1 ${HEX}`,
        ttl: 300,
        changed: true,
        warnings: [],
      });
      assert.equal(e.users.auditLog()[0]!.action, 'dns.add');
      const list = (await (
        await req(e, 'alice', 'GET', '/api/v1/domains/example.org/tlsa')
      ).json()) as {
        owners: { owner: string; records: { rdata: string; kind: string }[]; stale: string[] }[];
      };
      const at = (o: string) => list.owners.find((x) => x.owner === o)!;
      assert.deepEqual(
        at(owner)
          .records.map((r) => [r.rdata.slice(0, 9), r.kind])
          .sort(),
        [
          ['3 1 1 090', 'hand-made'],
          ['3 1 1 aba', 'ours'],
        ],
      );
      assert.deepEqual(at('_465._tcp.mail.example.org.').stale, [`3 1 1 ${'05'.repeat(32)}`]);
      const before = e.snapshot();
      const hand = await req(e, 'alice', 'POST', '/api/v1/domains/example.org/tlsa/remove', {
        name: 'mail.example.org',
        port: 25,
        rdata: `3 1 1 ${'09'.repeat(32)}`,
      });
      assert.equal(hand.status, 409);
      assert.match(await hand.text(), /made by hand/);
      assert.equal(e.snapshot(), before);
      const ours = await req(e, 'alice', 'POST', '/api/v1/domains/example.org/tlsa/remove', {
        name: 'mail.example.org',
        port: 25,
        rdata: `3 1 1 ${HEX}`,
      });
      assert.equal(ours.status, 200);
      assert.deepEqual(e.guarded, [owner], 'the endpoint guard ran before the removal');
      assert.deepEqual(e.dns.get(owner)!.records, [rec(9)]);
    } finally {
      e.close();
    }
  });
});

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 JSON listing every route with its schemas', async () => {
    const e = env();
    try {
      const res = await e.app.request('/api/openapi.json');
      assert.equal(res.status, 200);
      const doc = JSON.parse(await res.text()) as {
        openapi: string;
        paths: Record<
          string,
          Record<
            string,
            {
              parameters: { name: string }[];
              requestBody?: { content: Record<string, { schema: { properties: object } }> };
            }
          >
        >;
      };
      assert.equal(doc.openapi, '3.1.0');
      for (const r of ROUTES as readonly RouteSpec[]) {
        const p = `/api${r.path.replace(':name', '{name}')}`;
        const op = doc.paths[p]?.[r.method];
        assert.ok(op, `${r.method} ${p} listed`);
        if (r.params) assert.ok(op.parameters.some((x) => x.name === 'name'));
        if (r.body) {
          const props = op.requestBody!.content['application/json']!.schema.properties;
          assert.deepEqual(
            Object.keys(props).sort(),
            Object.keys((r.body as z.ZodObject).shape).sort(),
          );
        }
      }
      assert.equal(
        Object.values(doc.paths).reduce((k, m) => k + Object.keys(m).length, 0),
        ROUTES.length,
      );
      // a route's response schema, where the table gives one (the Settings page's facts)
      const settingsOk = (
        doc.paths['/api/v1/settings']!.get as unknown as {
          responses: Record<
            string,
            { content: Record<string, { schema: { properties: object } }> }
          >;
        }
      ).responses['200']!.content['application/json']!.schema.properties;
      assert.deepEqual(Object.keys(settingsOk).sort(), [
        'acmeDirectory',
        'confirmationInterval',
        'daneEnabled',
        'dnsBackend',
        'notifyEmail',
      ]);
    } finally {
      e.close();
    }
  });
});
