/**
 * The panel's DNS, Check, DNSSEC and Settings pages over the real route caller (the API's zod
 * validation, authorize() and handlers) with a real temporary state and users store; only the
 * network (DNS backend, check, dnssec status) is stubbed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Hono } from 'hono';
import { newSession } from '../../auth/tokens.js';
import type { CheckReport } from '../../check/report.js';
import { parseConfig } from '../../config/config.js';
import { DkError } from '../../core/errors.js';
import { sameRecord, type TlsaRecord } from '../../core/tlsa/index.js';
import type { DnssecReport } from '../../publish/dnssec-status.js';
import { addTlsa } from '../../publish/tlsa-set.js';
import type { Publisher, TlsaChange, TlsaRrset } from '../../publish/types.js';
import type { DomainSettings } from '../../store/domains.js';
import { openState, type StateStore } from '../../store/state.js';
import { openUsersStore, type UsersStore } from '../../store/users.js';
import { routeCaller, type ApiDeps } from '../api/api.js';
import { storedSettings } from '../api/settings.js';
import { breakable } from './breakable.js';
import { checkPage } from './check-page.js';
import { dnsPage, hostOf, splitOwner } from './dns-page.js';
import { COPY_SCRIPT_PATH, dnssecPage } from './dnssec-page.js';
import { PLAIN_COOKIE, panelRoutes } from './panel.js';
import { hoursOf, secondsOf, settingsPage } from './settings-page.js';

/** A zone's TLSA RRsets in memory, with a real backend's guard (RFC 2136 §2.4 prerequisites). */
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
const OWNER = '_25._tcp.mail.example.org.';

const dir = mkdtempSync(join(tmpdir(), 'dk-pages-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NOW = new Date('2026-12-01T10:00:00Z');
let n = 0;

function settings(name: string): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
    dane: true,
    certDir: `/tmp/live/${name}`,
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

const CHECK: CheckReport = {
  domain: 'example.com',
  service: { port: 25, starttls: 'smtp', mode: 'smtp' },
  verdict: 'verified',
  resolver: { servers: ['127.0.0.1'], validating: true, summary: '127.0.0.1 validates (AD)' },
  mx: {
    status: 'secure',
    implicit: false,
    records: [{ preference: 10, exchange: 'mx.example.com' }],
  },
  hosts: [
    {
      name: 'mx.example.com',
      preference: 10,
      verdict: 'verified',
      tlsaBase: 'mx.example.com',
      tlsa: {
        owner: '_25._tcp.mx.example.com.',
        status: 'secure',
        ttl: 300,
        records: [`3 1 1 ${HEX}`],
      },
      addresses: [
        {
          address: '192.0.2.25',
          family: 4,
          status: 'secure',
          verdict: 'verified',
          tls: {
            protocol: 'TLSv1.3',
            cipher: 'TLS_AES_256_GCM_SHA384',
            servername: 'mx.example.com',
          },
          chain: [
            {
              depth: 0,
              subject: 'CN=mx.example.com',
              issuer: 'CN=Lab Issuing CA',
              notBefore: '2026-11-01T00:00:00.000Z',
              notAfter: '2027-01-30T00:00:00.000Z',
              keyType: 'EC P-256',
              spkiSha256: HEX,
              match: `3 1 1 ${HEX}`,
            },
            {
              depth: 1,
              subject: 'CN=Lab Issuing CA',
              issuer: 'CN=Lab Root',
              notBefore: '2026-01-01T00:00:00.000Z',
              notAfter: '2030-01-01T00:00:00.000Z',
              keyType: 'EC P-384',
              spkiSha256: 'cd'.repeat(32),
              match: null,
            },
          ],
          matched: { record: `3 1 1 ${HEX}`, depth: 0 },
          inUse: [{ record: `3 1 1 ${HEX}`, depth: 0 }],
          reasons: ['Verified TLS connection established'],
        },
      ],
      reasons: [],
    },
  ],
  delivery: {
    ok: true,
    via: ['mx.example.com'],
    failingHosts: [],
    preferredFails: false,
    summary: 'a DANE sender delivers to mx.example.com',
  },
  warnings: [
    {
      severity: 'warning',
      code: 'W_ONE_KEY',
      subject: '_25._tcp.mx.example.com.',
      message: 'only one 3 1 1 record: publish the next key ahead of a rotation',
    },
  ],
  dns: [
    {
      name: 'example.com',
      type: 'MX',
      status: 'secure',
      rcode: 'NOERROR',
      ttl: 300,
      records: ['10 mx.example.com.'],
      cnameChain: [],
    },
    {
      name: '_25._tcp.mx.example.com',
      type: 'TLSA',
      status: 'secure',
      rcode: 'NOERROR',
      ttl: 300,
      records: [`3 1 1 ${HEX}`],
      cnameChain: [],
    },
  ],
  reasons: [],
  checkedAt: NOW.toISOString(),
};

const DNSSEC = (zone: string): DnssecReport =>
  ({
    zone,
    parent: 'org',
    signing: 'signed',
    keys: [
      {
        keyTag: 4242,
        flags: 257,
        role: 'ksk',
        algorithm: 13,
        algorithmName: 'ECDSAP256SHA256',
        dnskey: `${zone}. IN DNSKEY 257 3 13 AAAA`,
      },
    ],
    algorithms: [],
    signatures: [
      {
        covered: 'SOA',
        keyTag: 4242,
        algorithm: 13,
        expires: '2026-12-02T10:00:00.000Z',
        inception: '2026-11-20T00:00:00.000Z',
      },
      {
        covered: 'DNSKEY',
        keyTag: 4242,
        algorithm: 13,
        expires: '2026-11-30T10:00:00.000Z',
        inception: '2026-11-20T00:00:00.000Z',
      },
      {
        covered: 'NSEC',
        keyTag: 4242,
        algorithm: 13,
        expires: '2026-12-20T10:00:00.000Z',
        inception: '2026-11-20T00:00:00.000Z',
      },
    ],
    servers: [
      {
        name: 'ns1.example.org',
        address: '192.0.2.53',
        source: 'parent',
        state: 'signed',
        keyTags: [4242],
        soaSigned: true,
        dnskeySigned: true,
        serial: 7,
      },
    ],
    parentDs: [`${zone}. IN DS 4242 13 2 ABCDEF`],
    parentServers: [],
    resolverDs: { records: [], status: 'secure' },
    digests: [],
    dsMatches: [],
    chain: { status: 'secure', soa: 'secure', dnskey: 'secure' },
    registrar: [
      {
        keyTag: 4242,
        algorithm: 13,
        algorithmName: 'ECDSAP256SHA256',
        digestType: 2,
        digestTypeName: 'SHA-256',
        digest: 'ABCDEF',
        ds: `${zone}. IN DS 4242 13 2 ABCDEF`,
        dnskey: `${zone}. IN DNSKEY 257 3 13 AAAA`,
        publicKey: 'AAAA',
        flags: 257,
      },
    ],
    ready: true,
    findings: [
      {
        severity: 'note',
        code: 'N_TEST',
        subject: zone,
        message: 'a <b>note</b> for the reader',
        fix: 'dnssec-policy default; Give --resolver (or resolver = in [dns]) a validating resolver',
      },
    ],
    checkedAt: NOW.toISOString(),
  }) as unknown as DnssecReport;

interface Env {
  app: Hono;
  state: StateStore;
  users: UsersStore;
  dns: Map<string, TlsaRrset>;
  pub(domain: string): MemPublisher;
  guarded: string[];
  checks: { domain: string; port: number | undefined }[];
  /** everything a refused request must leave as it was */
  snapshot(): string;
  close(): void;
}

function env(
  o: {
    guard?: (owner: string) => Promise<void>;
    check?: (d: string, port?: number) => Promise<unknown>;
    /** the DNS backend's publisher (default: the in-memory zone) */
    publisher?: (name: string) => Promise<Publisher>;
    /** extra keys GET /v1/settings reports (the read-only ones) */
    settingsExtra?: Record<string, unknown>;
  } = {},
): Env {
  const path = join(dir, `state-${++n}.db`);
  const state = openState(path);
  const users = openUsersStore(path);
  for (const [name, role, domains] of [
    ['admin', 'admin', []],
    ['alice', 'customer', ['example.org']],
    ['bob', 'customer', ['example.net']],
  ] as const) {
    users.addUser({ name, role, domains, passwordHash: 'not-a-real-hash' }, NOW);
  }
  state.domains.add(settings('example.org'), NOW);
  state.domains.add(settings('example.net'), NOW);
  const config = parseConfig('', 'test.ini');
  const dns = new Map<string, TlsaRrset>();
  const guarded: string[] = [];
  const checks: Env['checks'] = [];
  const pub = (name: string) => new MemPublisher(`${name.split('.').slice(-2).join('.')}.`, dns);
  const services: Omit<ApiDeps, 'logger'> = {
    dns: {
      publisher: o.publisher ?? (async (name) => pub(name)),
      removeGuard: (owner) => async () => {
        guarded.push(owner);
        await o.guard?.(owner);
      },
    },
    users,
    state,
    settings: ((st) => ({
      read: () => ({ ...st.read(), ...o.settingsExtra }),
      change: st.change,
    }))(storedSettings(users, () => config)),
    now: () => NOW,
    certDir: (d) => `/tmp/live/${d}`,
    zoneCheck: async (host) => ({ zone: host.split('.').slice(-2).join('.'), ok: true }),
    mxAmongNames: async (d, names) => ({
      mailHosts: names.filter((x) => x === `mail.${d}`),
      mx: [`mail.${d}`],
    }),
    status: async (d) => ({ name: d.name, phase: 'idle' }),
    check:
      o.check ??
      (async (d, port) => {
        checks.push({ domain: d, port });
        return { ...CHECK, domain: d };
      }),
    dnssec: async (d) => DNSSEC(d),
    prereq: async (d) => ({ domain: d, findings: [] }),
    renew: () => undefined,
  };
  const app = new Hono();
  app.route(
    '/',
    panelRoutes(
      {
        users,
        state,
        call: routeCaller(services),
        now: () => NOW,
        secure: false,
        clientAddress: () => '192.0.2.7',
        status: services.status,
      },
      [dnsPage, checkPage, dnssecPage, settingsPage],
    ),
  );
  return {
    app,
    state,
    users,
    dns,
    pub,
    guarded,
    checks,
    snapshot: () =>
      JSON.stringify([
        state.domains.list(),
        state.events.list({}),
        users.auditLog(),
        users.settings(),
        state.ownership.list(),
        [...dns.entries()],
      ]),
    close: () => {
      users.close();
      state.close();
    },
  };
}

const flat = (html: string) => html.replaceAll('<wbr />', '');

/** A signed-in browser: a session made in the store (no scrypt), its cookie and CSRF token. */
class Browser {
  readonly cookie: string;
  readonly csrf: string;
  constructor(
    readonly e: Env,
    user: string,
  ) {
    const s = newSession();
    e.users.createSession(
      { sha256: s.sha256, user, csrfSecret: s.csrfSecret, ttlMs: 3600_000 },
      NOW,
    );
    this.cookie = `${PLAIN_COOKIE}=${s.id}`;
    this.csrf = s.csrfSecret;
  }
  /** `text` without the `<wbr />` breakable() puts in long hex; `raw` as served */
  async get(path: string) {
    const res = await this.e.app.request(path, { headers: { cookie: this.cookie } });
    const raw = await res.text();
    return { res, raw, text: flat(raw) };
  }
  async post(path: string, form: Record<string, string>, csrf = true) {
    const res = await this.e.app.request(path, {
      method: 'POST',
      headers: {
        cookie: this.cookie,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(csrf ? { _csrf: this.csrf, ...form } : form).toString(),
    });
    const raw = await res.text();
    return { res, raw, text: flat(raw) };
  }
}

/** <title>, <main>, headings in order, a label for every field, th with scope. */
function assertAccessibleShape(text: string) {
  assert.match(text, /<title>[^<]+<\/title>/);
  assert.match(text, /<html lang="en">/);
  assert.match(text, /<main id="main">/);
  const levels = [...text.matchAll(/<h([1-6])\b/g)].map((m) => Number(m[1]));
  assert.equal(levels[0], 1, 'one h1 first');
  levels.forEach((l, i) => i && assert.ok(l <= levels[i - 1]! + 1, `headings in order: ${levels}`));
  const fields = [...text.matchAll(/<(?:input|textarea|select)\b([^>]*)>/g)]
    .map((m) => m[1]!)
    .filter((a) => !/type="hidden"/.test(a));
  for (const a of fields) {
    const id = /id="([^"]+)"/.exec(a)?.[1];
    assert.ok(id, `every field has an id: ${a}`);
    assert.match(text, new RegExp(`<label for="${id}">`), `label for ${id}`);
    for (const ref of /aria-describedby="([^"]+)"/.exec(a)?.[1]?.split(/\s+/) ?? []) {
      assert.match(text, new RegExp(`id="${ref}"`), `${id} is described by an element ${ref}`);
    }
  }
  for (const th of text.matchAll(/<th\b([^>]*)>/g)) {
    assert.match(th[1]!, /scope="(col|row)"/, 'every th has a scope');
  }
  const ids = [...text.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
}

/** The error paragraph tied to a field: its id is in the field's aria-describedby. */
function fieldError(text: string, id: string): string {
  const field = new RegExp(`<(?:input|textarea|select)\\b[^>]*id="${id}"[^>]*>`).exec(text)?.[0];
  assert.ok(field, `field ${id} present`);
  assert.match(field, /aria-invalid="true"/, `${id} marked invalid`);
  const refs = /aria-describedby="([^"]+)"/.exec(field)?.[1]?.split(/\s+/) ?? [];
  const errId = refs.find((r) => r.endsWith('-error'));
  assert.ok(errId, `${id} is described by its error`);
  const p = new RegExp(`<p[^>]*id="${errId}"[^>]*>([\\s\\S]*?)</p>`).exec(text);
  assert.ok(p, `error element ${errId} present`);
  return p[1]!;
}

const FORM = {
  port: '25',
  protocol: 'tcp',
  name: 'mail',
  usage: '3',
  selector: '1',
  mtype: '1',
  data: HEX,
  ttl: '',
};

describe('panel DNS page', () => {
  it('lists the zone: ours (with since), hand-made, stale; only ours can be removed', async () => {
    const e = env();
    try {
      await addTlsa(e.pub('example.org'), e.state.ownership, OWNER, [rec(0xab)], { now: NOW });
      const hand = rec(9);
      e.dns.set(OWNER, { ...e.dns.get(OWNER)!, records: [...e.dns.get(OWNER)!.records, hand] });
      await addTlsa(
        e.pub('example.org'),
        e.state.ownership,
        '_465._tcp.mail.example.org.',
        [rec(5)],
        {
          now: NOW,
        },
      );
      e.dns.delete('_465._tcp.mail.example.org.');
      const { res, text, raw } = await new Browser(e, 'alice').get('/domains/example.org/dns');
      assert.equal(res.status, 200, text);
      assertAccessibleShape(text);
      // the 64 hex digits wrap inside the table (a break every 16), copied text unchanged
      assert.match(raw, /<td><code>3 1 1 (ab){8}<wbr \/>(ab){8}<wbr \/>/);
      assert.match(text, /<title>DNS of example.org · danekeeper<\/title>/);
      assert.match(text, /<a href="\/dnssec\?domain=example.org">DNSSEC of example.org<\/a>/);
      const rows = [...text.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => m[1]!).slice(1);
      assert.equal(rows.length, 3, 'three records');
      const row = (rdata: string) => rows.find((r) => r.includes(rdata))!;
      assert.match(row(`3 1 1 ${HEX}`), /danekeeper<\/span> since <time datetime="2026-12-01/);
      // each Remove button names its record for a screen reader (WCAG 2.4.6)
      assert.match(
        row(`3 1 1 ${HEX}`),
        /Remove…<span class="visually-hidden">\s*3 1 1 (ab){7}… at _25\._tcp\.mail\.example\.org\.<\/span/,
      );
      assert.match(row(`3 1 1 ${'09'.repeat(32)}`), /by hand/);
      assert.doesNotMatch(row(`3 1 1 ${'09'.repeat(32)}`), /<form/);
      assert.match(row(`3 1 1 ${'05'.repeat(32)}`), /stale/);
      assert.doesNotMatch(row(`3 1 1 ${'05'.repeat(32)}`), /<form/);
      // the seed's fields, with its defaults: 25, tcp, 3 DANE-EE, 1 SPKI, 1 SHA-256
      for (const f of ['port', 'protocol', 'name', 'usage', 'selector', 'mtype', 'data', 'ttl']) {
        assert.match(text, new RegExp(`id="tlsa-${f}" name="${f}"`));
      }
      assert.match(text, /<option value="3" selected>3, DANE-EE<\/option>/);
      assert.match(text, /<option value="1" selected>1, SHA-256<\/option>/);
    } finally {
      e.close();
    }
  });

  it('adds a record with the seed\'s fields: "mail" is mail.DOMAIN, blank TTL the default; audited as the user', async () => {
    const e = env();
    try {
      const { res, text } = await new Browser(e, 'alice').post('/domains/example.org/dns', FORM);
      assert.equal(res.status, 200, text);
      assert.match(text, /role="status"/);
      assert.match(text, /Added <code>3 1 1 ab/);
      assert.match(text, /TTL 3600/);
      assert.deepEqual(e.dns.get(OWNER)!.records, [rec(0xab)]);
      assert.equal(e.dns.get(OWNER)!.ttl, 3600);
      const a = e.users.auditLog()[0]!;
      assert.equal(a.action, 'dns.add');
      assert.equal(a.actor, 'api:alice');
      assert.equal(a.source, '192.0.2.7');
      // the new record is in the listing below the message
      assert.match(text, /<td><code>_25\._tcp\.mail\.example\.org\.<\/code><\/td>/);
    } finally {
      e.close();
    }
  });

  const BAD: [string, Partial<typeof FORM>, string, RegExp][] = [
    ['bad hex', { data: 'zz'.repeat(32) }, 'data', /hex/i],
    [
      'a wrong digest length',
      { data: 'ab'.repeat(31) },
      'data',
      /32 bytes \(64 hex digits\); this has 31/,
    ],
    ['port 0', { port: '0' }, 'port', /from 1 to 65535/],
    ['port 70000', { port: '70000' }, 'port', /from 1 to 65535/],
    ['an unknown usage', { usage: '7' }, 'usage', /not assigned/],
    [
      "a domain outside the user's zones",
      { name: 'mail.example.net' },
      'name',
      /mail\.example\.net is in none of your zones \(example\.org\)/,
    ],
    ['a bad TTL', { ttl: '-5' }, 'ttl', /TTL must be a number/],
  ];
  for (const [what, change, field, message] of BAD) {
    it(`refuses ${what}: 400, the message next to the field (role=alert summary), nothing written`, async () => {
      const e = env();
      try {
        const before = e.snapshot();
        const { res, text } = await new Browser(e, 'alice').post('/domains/example.org/dns', {
          ...FORM,
          ...change,
        });
        assert.equal(res.status, 400, text);
        assertAccessibleShape(text);
        assert.match(fieldError(text, `tlsa-${field}`), message);
        assert.match(text, /<div class="error" role="alert">\s*<p>The record was not added:/);
        assert.match(text, new RegExp(`<a href="#tlsa-${field}">`));
        // what the user typed is kept
        assert.match(
          text,
          new RegExp(`value="${(change as Record<string, string>).port ?? '25'}"`),
        );
        assert.equal(e.snapshot(), before, 'nothing written, nothing audited');
      } finally {
        e.close();
      }
    });
  }

  it("another customer's domain answers 404 by page and by form; nothing written", async () => {
    const e = env();
    try {
      const b = new Browser(e, 'bob');
      const before = e.snapshot();
      assert.equal((await b.get('/domains/example.org/dns')).res.status, 404);
      assert.equal((await b.post('/domains/example.org/dns', FORM)).res.status, 404);
      const r = await b.post('/domains/example.org/dns/remove', {
        owner: OWNER,
        rdata: `3 1 1 ${HEX}`,
      });
      assert.equal(r.res.status, 404);
      assert.equal(e.snapshot(), before);
      // the admin sees every domain
      assert.equal((await new Browser(e, 'admin').get('/domains/example.org/dns')).res.status, 200);
    } finally {
      e.close();
    }
  });

  it('a DNS backend out of reach: the page says so with a 4xx (never a 500) and keeps the form', async () => {
    const e = env({
      publisher: async () => {
        throw new DkError(
          'unavailable',
          'E_RFC2136_TIMEOUT',
          'Cannot read _25._tcp.mail.example.org. from 127.0.0.1: no answer in 5 s',
        );
      },
    });
    try {
      const b = new Browser(e, 'alice');
      const { res, text } = await b.get('/domains/example.org/dns');
      assert.equal(res.status, 409);
      assertAccessibleShape(text);
      assert.match(
        text,
        /<p class="error" role="alert">Cannot read _25\._tcp\.mail\.example\.org\. from 127\.0\.0\.1/,
      );
      assert.match(text, /Add the record<\/button>/);
      const before = e.snapshot();
      const add = await b.post('/domains/example.org/dns', FORM);
      assert.equal(add.res.status, 409);
      assert.match(add.text, /The record was not added: Cannot read/);
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('a POST without the session token is refused (403) and writes nothing', async () => {
    const e = env();
    try {
      const before = e.snapshot();
      const { res } = await new Browser(e, 'alice').post('/domains/example.org/dns', FORM, false);
      assert.equal(res.status, 403);
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('removing takes a confirmation page, then the POST removes it (the endpoint guard ran)', async () => {
    const e = env();
    try {
      await addTlsa(e.pub('example.org'), e.state.ownership, OWNER, [rec(0xab), rec(1)], {
        now: NOW,
      });
      const b = new Browser(e, 'alice');
      const q = new URLSearchParams({ owner: OWNER, rdata: `3 1 1 ${HEX}` });
      const confirm = await b.get(`/domains/example.org/dns/remove?${q}`);
      assert.equal(confirm.res.status, 200);
      assertAccessibleShape(confirm.text);
      assert.match(confirm.text, /Remove this record from the zone\?/);
      assert.match(
        confirm.text,
        /<form method="post" action="\/domains\/example.org\/dns\/remove">/,
      );
      assert.match(confirm.text, /name="_csrf"/);
      assert.equal(e.dns.get(OWNER)!.records.length, 2, 'the GET changed nothing');
      const { res, text } = await b.post('/domains/example.org/dns/remove', {
        owner: OWNER,
        rdata: `3 1 1 ${HEX}`,
      });
      assert.equal(res.status, 200, text);
      assert.match(text, /Removed <code>3 1 1 ab/);
      assert.deepEqual(e.guarded, [OWNER]);
      assert.deepEqual(e.dns.get(OWNER)!.records, [rec(1)]);
      assert.equal(e.users.auditLog()[0]!.action, 'dns.remove');
    } finally {
      e.close();
    }
  });

  it('the confirmation page without a record to remove is a 400 with the message, and no form', async () => {
    const e = env();
    try {
      const { res, text } = await new Browser(e, 'alice').get(
        '/domains/example.org/dns/remove?owner=mail.example.org&rdata=',
      );
      assert.equal(res.status, 400);
      assert.match(text, /role="alert">No TLSA record was named to remove/);
      assert.doesNotMatch(text, /Remove the record<\/button>/);
    } finally {
      e.close();
    }
  });

  it("the guard's refusal (a live service still needs the record) is shown; nothing removed", async () => {
    const e = env({
      guard: async (owner) => {
        throw new DkError(
          'usage',
          'E_ENDPOINT_UNMATCHED',
          `Nothing changed at ${owner}: removing its last TLSA record turns DANE off for mail.example.org:25`,
        );
      },
    });
    try {
      await addTlsa(e.pub('example.org'), e.state.ownership, OWNER, [rec(0xab)], { now: NOW });
      const before = e.snapshot();
      const { res, text } = await new Browser(e, 'alice').post('/domains/example.org/dns/remove', {
        owner: OWNER,
        rdata: `3 1 1 ${HEX}`,
      });
      assert.equal(res.status, 400);
      assertAccessibleShape(text);
      assert.match(
        text,
        /<p class="error" role="alert">The record was not removed: Nothing changed at _25\._tcp\.mail\.example\.org\.: removing its last TLSA record turns DANE off/,
      );
      assert.match(text, /Remove the record<\/button>/, 'the confirmation stays, to try again');
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('a hand-made record cannot be removed here: the API says where to remove it', async () => {
    const e = env();
    try {
      e.dns.set(OWNER, { owner: OWNER, ttl: 300, records: [rec(9)] });
      const before = e.snapshot();
      const { res, text } = await new Browser(e, 'alice').post('/domains/example.org/dns/remove', {
        owner: OWNER,
        rdata: `3 1 1 ${'09'.repeat(32)}`,
      });
      assert.equal(res.status, 409);
      assert.match(text, /role="alert">The record was not removed: .*made by hand/);
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('helpers: a one-label name is relative to the domain; owners split into host, port, protocol', () => {
    assert.equal(hostOf('mail', 'example.org'), 'mail.example.org');
    assert.equal(hostOf(' mail.example.org ', 'example.org'), 'mail.example.org');
    assert.equal(hostOf('mail.example.net', 'example.org'), 'mail.example.net');
    assert.equal(hostOf('', 'example.org'), '');
    assert.deepEqual(splitOwner('_25._TCP.Mail.example.org.'), {
      port: 25,
      protocol: 'tcp',
      name: 'mail.example.org',
    });
    assert.equal(splitOwner('mail.example.org.'), null);
    assert.equal(splitOwner('_25._icmp.mail.example.org.'), null);
  });
});

describe('breakable', () => {
  it('breaks long hex every 16 characters with <wbr />, short words untouched, text escaped', () => {
    assert.equal(
      String(breakable(`3 1 1 ${'ab'.repeat(20)}`)),
      `3 1 1 ${'ab'.repeat(8)}<wbr />${'ab'.repeat(8)}<wbr />${'ab'.repeat(4)}`,
    );
    assert.equal(String(breakable('<b>')), '&lt;b&gt;');
  });
});

describe('panel Check page', () => {
  it('shows the form; any user checks any domain: verdict, chain per address, matched record, DNSSEC per lookup, warnings', async () => {
    const e = env();
    try {
      const b = new Browser(e, 'alice');
      const empty = await b.get('/check');
      assert.equal(empty.res.status, 200);
      assertAccessibleShape(empty.text);
      assert.match(empty.text, /id="check-port"\s+name="port"\s+inputmode="numeric"\s+value="25"/);
      assert.deepEqual(e.checks, []);
      const { res, text } = await b.get('/check?domain=example.com&port=25');
      assert.equal(res.status, 200, text);
      assertAccessibleShape(text);
      assert.deepEqual(e.checks, [{ domain: 'example.com', port: 25 }]);
      assert.match(
        text,
        /Result for example.com: <span class="badge badge-verified">verified<\/span>/,
      );
      assert.match(text, /<h3 id="host-mx.example.com">\s*mx.example.com \(MX 10\)/);
      assert.match(text, /<h4>192.0.2.25<\/h4>/);
      assert.match(text, /<td>CN=mx.example.com<\/td>\s*<td>CN=Lab Issuing CA<\/td>/);
      assert.match(text, /<time datetime="2027-01-30T00:00:00.000Z">/);
      assert.match(text, /<code>3 1 1 ab[a-f0-9]+<\/code> at depth 0/);
      assert.match(text, /<td>TLSA<\/td>\s*<td>secure<\/td>/);
      assert.match(text, /DNSSEC secure/);
      assert.match(text, /only one 3 1 1 record/);
      assert.match(text, /a DANE sender delivers to mx.example.com/);
    } finally {
      e.close();
    }
  });

  it('a bad port is refused by the API schema: 400, the message tied to the port field', async () => {
    const e = env();
    try {
      for (const port of ['0', '70000', 'abc']) {
        const { res, text } = await new Browser(e, 'bob').get(
          `/check?domain=example.com&port=${port}`,
        );
        assert.equal(res.status, 400, port);
        assertAccessibleShape(text);
        assert.match(fieldError(text, 'check-port'), /port/);
        assert.match(text, /role="alert" id="check-port-error"/);
      }
      assert.deepEqual(e.checks, [], 'no check ran');
      const blank = await new Browser(e, 'bob').get('/check?domain=&port=25');
      assert.equal(blank.res.status, 400);
      assert.match(fieldError(blank.text, 'check-domain'), /Enter a domain/);
    } finally {
      e.close();
    }
  });

  it('a check that cannot run (resolver down) is a 4xx message, never a 500; a bug stays a bug', async () => {
    const e = env({
      check: async () => {
        throw new DkError(
          'unavailable',
          'E_DNS_TIMEOUT',
          'Cannot look up example.com: the resolver timed out',
        );
      },
    });
    try {
      const { res, text } = await new Browser(e, 'alice').get('/check?domain=example.com');
      assert.equal(res.status, 409);
      assert.match(fieldError(text, 'check-domain'), /the resolver timed out/);
    } finally {
      e.close();
    }
    const bug = env({ check: async () => Promise.reject(new TypeError('x is undefined')) });
    try {
      const { res } = await new Browser(bug, 'alice').get('/check?domain=example.com');
      assert.equal(res.status, 500, 'a bug is not dressed up as a form error');
    } finally {
      bug.close();
    }
  });
});

describe('panel DNSSEC page', () => {
  it('shows the status, keys, RRSIG expiry, findings and the DS/DNSKEY in labelled readonly textareas', async () => {
    const e = env();
    try {
      const b = new Browser(e, 'alice');
      const { res, text } = await b.get('/dnssec?domain=example.org');
      assert.equal(res.status, 200, text);
      assertAccessibleShape(text);
      assert.match(text, /Status of example.org/);
      assert.match(text, /secure \(SOA secure, DNSKEY\s+secure\)/);
      assert.match(text, /<th scope="row">4242<\/th>\s*<td>KSK<\/td>/);
      // RRSIG expiry against now (2026-12-01T10:00Z): 1 day left, expired, 19 days left
      const expiry = (covered: string) =>
        new RegExp(`<th scope="row">${covered}</th>[\\s\\S]*?</tr>`).exec(text)![0];
      assert.match(
        expiry('SOA'),
        /2026-12-02T10:00:00.000Z<\/time> <span class="badge badge-waiting">expires soon/,
      );
      assert.match(expiry('DNSKEY'), /<span class="badge badge-failing">expired<\/span>/);
      assert.doesNotMatch(expiry('NSEC'), /badge/);
      assert.match(
        text,
        /<label for="ds-0">DS record of key 4242<\/label>\s*<textarea id="ds-0" readonly rows="3" data-copy="DS">example.org. IN DS 4242 13 2 ABCDEF<\/textarea>/,
      );
      assert.match(
        text,
        /<textarea id="dnskey-0" readonly[^>]*>example.org. IN DNSKEY 257 3 13 AAAA<\/textarea>/,
      );
      assert.match(text, /a &lt;b&gt;note&lt;\/b&gt; for the reader/, 'report text is escaped');
      assert.doesNotMatch(text, /--resolver/, 'a fix names the ini key, not a command-line flag');
      assert.match(
        text,
        new RegExp(
          `<head>[\\s\\S]*<script src="${COPY_SCRIPT_PATH}" defer></script>[\\s\\S]*</head>`,
        ),
        'the copy script, from the head (layout.ts scripts)',
      );
      const js = await b.get(COPY_SCRIPT_PATH);
      assert.equal(js.res.status, 200);
      assert.match(js.res.headers.get('content-type')!, /^text\/javascript/);
      assert.match(js.text, /navigator\.clipboard/);
    } finally {
      e.close();
    }
  });

  it("a customer asking for another customer's zone gets a refusal tied to the field, no report", async () => {
    const e = env();
    try {
      const { res, text } = await new Browser(e, 'alice').get('/dnssec?domain=example.net');
      assert.equal(res.status, 403);
      assertAccessibleShape(text);
      assert.match(fieldError(text, 'dnssec-domain'), /alice may not dnssec.read example.net/);
      assert.doesNotMatch(text, /For the registrar/);
      const form = await new Browser(e, 'alice').get('/dnssec');
      assert.equal(form.res.status, 200);
      assert.doesNotMatch(form.text, /<script/, 'no script without a report');
    } finally {
      e.close();
    }
  });
});

describe('panel Settings page', () => {
  it('a customer gets 404 for the page and the form, and nothing changes', async () => {
    const e = env();
    try {
      const b = new Browser(e, 'alice');
      const before = e.snapshot();
      assert.equal((await b.get('/settings')).res.status, 404);
      const r = await b.post('/settings', { hours: '1' });
      assert.equal(r.res.status, 404);
      assert.doesNotMatch(r.text, /Confirmation interval/);
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('the admin sees the settings (24 h, DANE on) and the users', async () => {
    const e = env();
    try {
      const { res, text } = await new Browser(e, 'admin').get('/settings');
      assert.equal(res.status, 200, text);
      assertAccessibleShape(text);
      assert.match(text, /id="settings-dane"\s+name="daneEnabled"\s+value="on"\s+checked/);
      assert.match(
        text,
        /id="settings-interval"\s+name="hours"\s+inputmode="decimal"\s+value="24"/,
      );
      assert.match(
        text,
        /<th scope="row">alice<\/th>\s*<td>customer<\/td>\s*<td>example.org<\/td>/,
      );
      assert.match(text, /<th scope="row">admin<\/th>\s*<td>admin<\/td>\s*<td>all<\/td>/);
      assert.match(text, /<form method="post" action="\/settings\/users">/);
      assert.match(text, /<button type="submit" aria-label="Remove alice">Remove<\/button>/);
      // the switch's hint says what turning it off does to published records
      assert.match(
        text,
        /removes the TLSA records it\s+published\.\s+A certificate with\s+a\s+new key then waits/,
      );
      assert.match(
        text,
        /<dt>DNS backend<\/dt>\s*<dd>\s*not reported by the API: see <code>\[dns\] backend<\/code>/,
      );
    } finally {
      e.close();
    }
  });

  it('shows the ACME CA, DNS backend and notification address read-only when the API reports them', async () => {
    const e = env({
      settingsExtra: {
        acmeDirectory: 'https://acme-v02.api.letsencrypt.org/directory',
        dnsBackend: 'rfc2136',
        notifyEmail: 'admin@example.org',
        extra: { a: 1 },
      },
    });
    try {
      const { text } = await new Browser(e, 'admin').get('/settings');
      assert.match(text, /<dt>ACME CA \(directory\)<\/dt>\s*<dd>\s*https:\/\/acme-v02/);
      assert.match(text, /<dt>DNS backend<\/dt>\s*<dd>\s*rfc2136/);
      assert.match(text, /<dt>Notification address<\/dt>\s*<dd>\s*admin@example.org/);
      assert.match(text, /<dt>extra<\/dt>\s*<dd>\{&quot;a&quot;:1\}<\/dd>/);
      assert.doesNotMatch(text, /not reported by the API/);
      assert.doesNotMatch(text, /name="acmeDirectory"/, 'display only: no field');
    } finally {
      e.close();
    }
  });

  it('the admin adds and removes users through the API routes; the password never shown; a customer gets 404', async () => {
    const e = env();
    try {
      const pw = 'carols-password-1';
      const admin = new Browser(e, 'admin');
      const add = await admin.post('/settings/users', {
        name: 'carol',
        role: 'customer',
        domains: 'example.org, example.net',
        password: pw,
      });
      assert.equal(add.res.status, 200, add.text);
      assert.match(add.text, /Added customer carol\./);
      assert.match(
        add.text,
        /<th scope="row">carol<\/th>\s*<td>customer<\/td>\s*<td>example.net, example.org<\/td>/,
      );
      assert.ok(!add.text.includes(pw));
      assert.deepEqual(
        [e.users.auditLog()[0]!.actor, e.users.auditLog()[0]!.action],
        ['api:admin', 'user.add'],
      );
      // refused: the message, the name kept, the password not sent back
      const short = await admin.post('/settings/users', {
        name: 'dave',
        role: 'customer',
        domains: '',
        password: 'short-x',
      });
      assert.equal(short.res.status, 400, short.text);
      assert.match(fieldError(short.text, 'user-name'), /at least 8 characters/);
      assert.match(short.text, /id="user-name"\s+name="name"\s+value="dave"/);
      assert.ok(!short.text.includes('short-x'));
      assert.equal(e.users.user('dave'), null);
      // a customer: 404 for both forms, nothing changed
      const before = e.snapshot();
      const alice = new Browser(e, 'alice');
      const a1 = await alice.post('/settings/users', { name: 'eve', role: 'admin', password: pw });
      assert.equal(a1.res.status, 404);
      assert.equal((await alice.post('/settings/users/remove', { name: 'bob' })).res.status, 404);
      assert.equal(e.snapshot(), before);
      assert.equal(e.users.user('eve'), null);
      assert.ok(e.users.user('bob'));
      // without the CSRF token: refused
      const forged = await admin.post('/settings/users/remove', { name: 'bob' }, false);
      assert.equal(forged.res.status, 403);
      assert.ok(e.users.user('bob'));
      // remove
      const rm = await admin.post('/settings/users/remove', { name: 'carol' });
      assert.equal(rm.res.status, 200, rm.text);
      assert.match(rm.text, /Removed carol/);
      assert.equal(e.users.user('carol'), null);
      // the last admin stays
      const last = await admin.post('/settings/users/remove', { name: 'admin' });
      assert.equal(last.res.status, 409, last.text);
      assert.match(last.text, /only admin/);
      assert.ok(e.users.user('admin'));
    } finally {
      e.close();
    }
  });

  it('the admin turns DANE off and sets 0.5 h: stored through the API, audited', async () => {
    const e = env();
    try {
      const { res, text } = await new Browser(e, 'admin').post('/settings', { hours: '0.5' });
      assert.equal(res.status, 200, text);
      assert.match(text, /Settings saved/);
      assert.deepEqual(e.users.settings(), { daneEnabled: false, confirmationInterval: 1800 });
      assert.match(text, /value="0.5"/);
      assert.doesNotMatch(text, /id="settings-dane"[^>]*checked/);
      const a = e.users.auditLog()[0]!;
      assert.equal(a.action, 'settings.change');
      assert.equal(a.actor, 'api:admin');
    } finally {
      e.close();
    }
  });

  for (const [hours, message] of [
    ['abc', /must be a number of hours/],
    ['-1', /must be a number of hours/],
    ['1000', /from 0 to 720 hours/],
  ] as const) {
    it(`refuses ${hours} hours: 400, the message tied to the field, nothing written`, async () => {
      const e = env();
      try {
        const before = e.snapshot();
        const { res, text } = await new Browser(e, 'admin').post('/settings', {
          daneEnabled: 'on',
          hours,
        });
        assert.equal(res.status, 400, text);
        assertAccessibleShape(text);
        assert.match(fieldError(text, 'settings-interval'), message);
        assert.match(text, new RegExp(`value="${hours}"`), 'what was typed is kept');
        assert.equal(e.snapshot(), before);
      } finally {
        e.close();
      }
    });
  }

  it('hours and seconds convert both ways', () => {
    assert.equal(hoursOf(86400), '24');
    assert.equal(hoursOf(1800), '0.5');
    assert.equal(hoursOf(10), '0.0028');
    assert.equal(secondsOf('0.5'), 1800);
    assert.equal(secondsOf(' 12 '), 43200);
    assert.equal(secondsOf('1e3'), null);
    assert.equal(secondsOf(''), null);
  });
});
