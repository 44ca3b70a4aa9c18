import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { hashPassword } from '../../auth/password.js';
import { parseConfig } from '../../config/config.js';
import { DkError } from '../../core/errors.js';
import type { PrereqFinding, PrereqReport } from '../../core/prereq/index.js';
import type { Domain, DomainSettings } from '../../store/domains.js';
import { openState, type StateStore } from '../../store/state.js';
import { openUsersStore, type UsersStore } from '../../store/users.js';
import { makePki } from '../../../test/support/pki.js';
import { routeCaller } from '../api/api.js';
import type { ApiServices } from '../api/handlers.js';
import { storedSettings } from '../api/settings.js';
import { daneOffer, mailDomainNames } from './domain-add.js';
import { panelFix } from './domain-common.js';
import { certificatesOnly } from './domain-page.js';
import { PROGRESS_JS } from './domain-progress-script.js';
import { historyRows, progressOf, timeline } from './domain-progress.js';
import { panelRoutes, type PanelPage } from './panel.js';
import { dnsPage } from './dns-page.js';
import { dnssecPage } from './dnssec-page.js';
import { checkPage } from './check-page.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-panel-domain-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NOW = new Date('2026-12-01T10:00:00Z');
let n = 0;
const HASHES: Record<string, string> = {};
before(async () => {
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

const finding = (
  requirement: PrereqFinding['requirement'],
  status: PrereqFinding['status'],
  fix?: string,
): PrereqFinding => ({
  requirement,
  title: `${requirement} check`,
  status,
  message: `${requirement} is ${status}`,
  ...(fix ? { fix } : {}),
  details: [],
  ref: 'seed',
});

const PKI = makePki(dir, { names: ['mail.example.org'] });

interface Env {
  app: Hono;
  state: StateStore;
  users: UsersStore;
  renewed: string[];
  prereqAsked: string[];
  /** the store, the audit log and the renewals: what a refused form must leave as it was */
  snapshot(): string;
  close(): void;
}

function env(
  o: {
    ini?: string;
    prereq?: (d: string) => Promise<PrereqReport>;
    status?: (d: Domain) => Promise<unknown>;
    zoneSecure?: boolean;
    /** the panel's daneEnabled; default: the settings' */
    daneEnabled?: (() => boolean) | null;
    /** other page modules mounted next to the domain pages */
    pages?: PanelPage[];
    acmeCa?: string;
  } = {},
): Env {
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
  state.domains.add(settings('example.net'), NOW);
  state.domains.add(settings('off.example.net', false), NOW);
  const config = parseConfig(o.ini ?? '', 'test.ini');
  const renewed: string[] = [];
  const prereqAsked: string[] = [];
  const svc: ApiServices = {
    state,
    settings: storedSettings(users, () => config),
    now: () => NOW,
    certDir: (d) => `/tmp/live/${d}`,
    zoneCheck: async (host) => ({
      zone: host.split('.').slice(-2).join('.'),
      ok: o.zoneSecure ?? true,
      ...(o.zoneSecure === false ? { why: 'the zone is not signed' } : {}),
    }),
    mxAmongNames: async (d, names) => ({
      mailHosts: names.filter((x) => x === `mail.${d}`),
      mx: [`mail.${d}`],
    }),
    status: o.status ?? (async (d) => ({ name: d.name, phase: 'idle', waitingFor: null })),
    check: async (d) => ({ domain: d }),
    dnssec: async (d) => ({ zone: d }),
    prereq: async (d) => {
      prereqAsked.push(d);
      return o.prereq
        ? o.prereq(d)
        : {
            domain: d,
            zone: d,
            status: 'ok',
            findings: [finding('mx', 'ok'), finding('dnssec', 'ok')],
            checkedAt: NOW.toISOString(),
          };
    },
    renew: (d) => void renewed.push(d),
    dns: {
      publisher: () => Promise.reject(new Error('no DNS in these tests')),
      removeGuard: () => async () => {},
    },
  };
  const call = routeCaller({ ...svc, users });
  const app = new Hono();
  app.route(
    '/',
    panelRoutes(
      {
        users,
        state,
        call,
        now: () => NOW,
        secure: true,
        clientAddress: () => '192.0.2.7',
        status: svc.status,
        ...(o.acmeCa ? { acmeCa: () => o.acmeCa! } : {}),
        ...(o.daneEnabled === null
          ? {}
          : { daneEnabled: o.daneEnabled ?? (() => svc.settings.read().daneEnabled) }),
      },
      o.pages ?? [],
    ),
  );
  return {
    app,
    state,
    users,
    renewed,
    prereqAsked,
    snapshot: () =>
      JSON.stringify([
        state.domains.list(),
        state.events.list({}),
        users.auditLog().filter((a) => !a.action.startsWith('login')),
        renewed,
      ]),
    close: () => (users.close(), state.close()),
  };
}

const flat = (text: string) => text.replace(/\s+/g, ' ');
const csrfOf = (text: string) => /name="_csrf" value="([^"]+)"/.exec(text)![1]!;

class Browser {
  jar = new Map<string, string>();
  csrf = '';
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
  /** the page with its whitespace runs collapsed (the templates' indentation is no concern) */
  async get(path: string) {
    const res = await this.go('GET', path);
    return { res, text: flat(await res.text()) };
  }
  /** a POST with this session's CSRF token, as the page's form sends it */
  async post(path: string, form: Record<string, string> = {}) {
    const res = await this.go('POST', path, { _csrf: this.csrf, ...form });
    return { res, text: flat(await res.text()) };
  }
  async login(name: string) {
    const { text } = await this.get('/login');
    await this.go('POST', '/login', { _csrf: csrfOf(text), name, password: `${name}-pass-123` });
    this.csrf = csrfOf((await this.get('/domains')).text);
    return this;
  }
}

/** The accessibility shape the axe run relies on: labels, headings in order, one h1. */
function assertAccessible(text: string, what: string) {
  const levels = [...text.matchAll(/<h([1-6])\b/g)].map((m) => Number(m[1]));
  assert.equal(levels[0], 1, `${what}: one h1 first`);
  assert.equal(levels.filter((l) => l === 1).length, 1, `${what}: one h1`);
  levels.forEach((l, i) => {
    if (i) assert.ok(l <= levels[i - 1]! + 1, `${what}: headings in order`);
  });
  const fields = [...text.matchAll(/<(?:input|textarea|select)\b([^>]*)>/g)]
    .map((m) => m[1]!)
    .filter((a) => !/type="hidden"/.test(a));
  for (const a of fields) {
    const id = /id="([^"]+)"/.exec(a)?.[1];
    assert.ok(id, `${what}: every field has an id`);
    assert.match(text, new RegExp(`<label for="${id}"`), `${what}: a label for ${id}`);
  }
  // buttons are buttons: every action is a <button> in a form, not a link styled as one
  assert.doesNotMatch(text, /<a [^>]*role="button"/, `${what}: no link posing as a button`);
  assert.doesNotMatch(text, /<meta http-equiv="refresh"/i, `${what}: no meta refresh`);
}

const ADD_FORM = {
  name: 'example.org',
  includeDomainName: 'on',
  sub_mail: 'on',
  assignMail: 'on',
  mailHost: '',
  subOther: '',
};

describe('panel: add a domain', () => {
  it('the two steps: name, then the seed checkboxes with DANE support offered; adding writes the domain with DANE on', async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('alice');
      const list = await b.get('/domains');
      assert.match(list.text, /<a href="\/domains\/add">Add a domain<\/a>/);
      const one = await b.get('/domains/add');
      assert.equal(one.res.status, 200);
      assert.match(one.text, /<form method="get" action="\/domains\/add">/);
      assert.match(
        one.text,
        /Not managed yet:<\/p> <ul> <li> <a href="\/domains\/add\?name=example\.org" ?>Add example\.org<\/a ?>/,
      );
      assertAccessible(one.text, 'step 1');
      const two = await b.get('/domains/add?name=example.org');
      assert.equal(two.res.status, 200);
      assertAccessible(two.text, 'step 2');
      assert.match(two.text, /id="secure-name" name="includeDomainName"\s+checked/);
      for (const s of ['www', 'mail', 'webmail']) {
        assert.match(two.text, new RegExp(`<label for="sub-${s}">${s}\\.example\\.org</label>`));
      }
      assert.match(two.text, /Assign the certificate to the mail domain/);
      assert.match(
        two.text,
        /<input type="checkbox" id="dane" name="dane" aria-describedby="dane-hint" checked \/>/,
      );
      assert.match(two.text, /<label for="dane">DANE support<\/label>/);
      assert.deepEqual(e.prereqAsked, ['example.org']);
      const done = await b.post('/domains/add', {
        ...ADD_FORM,
        sub_www: 'on',
        subOther: 'smtp, imap',
        dane: 'on',
      });
      assert.equal(done.res.status, 303);
      assert.equal(done.res.headers.get('location'), '/domains/example.org?done=added');
      const d = e.state.domains.get('example.org')!;
      assert.equal(d.dane, true);
      assert.deepEqual(d.subdomains, ['www', 'mail', 'smtp', 'imap']);
      assert.deepEqual(d.mailHosts, ['mail.example.org']);
      const audit = e.users.auditLog().find((a) => a.action === 'domain.add');
      assert.equal(audit?.actor, 'api:alice');
      assert.equal(audit?.source, '192.0.2.7');
      const page = await b.get('/domains/example.org?done=added');
      assert.match(page.text, /role="status">Added\./);
    } finally {
      e.close();
    }
  });

  it('the seed defaults alone secure the mail domain: the mail host found as MX is pre-filled and put on the certificate', async () => {
    // as a newcomer does it: name, then the form as it comes (mail not ticked as a subdomain)
    const e = env({
      prereq: async (d) => ({
        domain: d,
        zone: d,
        status: 'ok',
        findings: [finding('mx', 'ok'), finding('dnssec', 'ok')],
        checkedAt: NOW.toISOString(),
        observations: {
          mx: {
            status: 'ok',
            rcode: 'NOERROR',
            records: [
              { preference: 20, exchange: 'backup.mx.example.com' },
              { preference: 10, exchange: `mail.${d}` },
            ],
          },
        },
      }),
    });
    try {
      const b = await new Browser(e).login('alice');
      const two = await b.get('/domains/add?name=example.org');
      assert.match(two.text, /id="mail-host" name="mailHost" value="mail\.example\.org"/);
      assert.match(two.text, /id="sub-mail" name="sub_mail"\s*\/>/, 'mail not ticked');
      const done = await b.post('/domains/add', {
        name: 'example.org',
        includeDomainName: 'on',
        assignMail: 'on',
        mailHost: 'mail.example.org',
        dane: 'on',
      });
      assert.equal(done.res.status, 303, done.text);
      const d = e.state.domains.get('example.org')!;
      assert.deepEqual(d.subdomains, ['mail'], 'the mail domain is on the certificate');
      assert.deepEqual(d.mailHosts, ['mail.example.org']);
      assert.equal(d.dane, true);
    } finally {
      e.close();
    }
  });

  it('mailDomainNames: the typed mail host qualified and added once; the domain itself ticks "Secure the domain name"; outside hosts passed on', () => {
    assert.deepEqual(mailDomainNames('example.org', 'mail', false, ['www']), {
      host: 'mail.example.org',
      includeDomainName: false,
      subdomains: ['www', 'mail'],
    });
    assert.deepEqual(mailDomainNames('example.org', 'MX1.Example.org.', true, ['mx1']), {
      host: 'mx1.example.org',
      includeDomainName: true,
      subdomains: ['mx1'],
    });
    assert.deepEqual(mailDomainNames('example.org', 'example.org', false, []), {
      host: 'example.org',
      includeDomainName: true,
      subdomains: [],
    });
    assert.deepEqual(mailDomainNames('example.org', 'mx.provider.net', true, []), {
      host: 'mx.provider.net',
      includeDomainName: true,
      subdomains: [],
    });
  });

  it('unticked boxes are sent as off: no domain name, no DANE; the mail host field is used', async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('admin');
      const r = await b.post('/domains/add', {
        name: 'example.com',
        sub_mail: 'on',
        sub_webmail: 'on',
        assignMail: 'on',
        mailHost: 'mail',
      });
      assert.equal(r.res.status, 303);
      const d = e.state.domains.get('example.com')!;
      assert.equal(d.dane, false, 'an unticked DANE box is off, not the API default');
      assert.equal(d.includeDomainName, false);
      assert.deepEqual(d.mailHosts, ['mail.example.com']);
    } finally {
      e.close();
    }
  });

  it('failing prerequisites: no DANE checkbox, the failing ones with their fixes; a forged dane=on is refused, nothing written', async () => {
    const e = env({
      prereq: async (d) => ({
        domain: d,
        zone: d,
        status: 'fail',
        findings: [
          finding('mx', 'ok'),
          finding('dkim', 'fail', `Publish default._domainkey.${d} TXT "v=DKIM1; p=..."`),
          finding('starttls', 'unknown', 'Make port 25 reachable'),
          finding('dnssec', 'warn'),
        ],
        checkedAt: NOW.toISOString(),
      }),
    });
    try {
      const b = await new Browser(e).login('alice');
      const two = await b.get('/domains/add?name=example.org');
      assert.equal(two.res.status, 200);
      assert.doesNotMatch(two.text, /name="dane"/);
      assert.match(two.text, /DANE support is not available for example\.org yet/);
      assert.match(two.text, /<strong>dkim check<\/strong> \(fail\)/);
      assert.match(two.text, /Fix: <pre>Publish default\._domainkey\.example\.org TXT/);
      assert.match(two.text, /<strong>starttls check<\/strong> \(unknown\)/);
      assert.doesNotMatch(two.text, /<strong>mx check<\/strong>/, 'met ones are not listed');
      assertAccessible(two.text, 'step 2 failing');
      const before = e.snapshot();
      const forged = await b.post('/domains/add', { ...ADD_FORM, dane: 'on' });
      assert.equal(forged.res.status, 409);
      assert.match(forged.text, /role="alert">DANE support needs every prerequisite met/);
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('a fix names the danekeeper.ini key a panel user can set, never a command-line flag', async () => {
    const e = env({
      prereq: async (d) => ({
        domain: d,
        zone: d,
        status: 'fail',
        findings: [
          finding(
            'mx',
            'unknown',
            'Give the addresses this server receives mail on with --address IP.',
          ),
          finding(
            'dkim',
            'fail',
            'Publish the key, or give the selector your signer uses with --dkim-selector.',
          ),
        ],
        checkedAt: NOW.toISOString(),
      }),
    });
    try {
      const b = await new Browser(e).login('alice');
      const two = await b.get('/domains/add?name=example.org');
      assert.match(two.text, /on as \[prereq\] address = IP in danekeeper\.ini\./);
      assert.match(two.text, /uses as \[prereq\] dkim-selector = SELECTOR in danekeeper\.ini\./);
      assert.doesNotMatch(two.text, /--address|--dkim-selector/);
    } finally {
      e.close();
    }
  });

  it("panelFix: every flag core/prereq's fixes name has its panel wording (a new flag there fails here)", () => {
    const rules = readFileSync(new URL('../../core/prereq/rules.ts', import.meta.url), 'utf8');
    const flags = [...new Set(rules.match(/--[a-z][a-z-]*/g))].sort();
    assert.deepEqual(flags, [
      '--address',
      '--config',
      '--dkim-selector',
      '--mail-host',
      '--resolver',
    ]);
    const fixes: [string, string][] = [
      [
        'Publish example.org. IN MX 10 mail.example.org. and mail.example.org. IN A 192.0.2.1 (the address this server receives mail on; give --address when it is another).',
        'Publish example.org. IN MX 10 mail.example.org. and mail.example.org. IN A 192.0.2.1 (the address this server receives mail on; set [prereq] address = IP in danekeeper.ini when it is another).',
      ],
      [
        'Set zone = example.org in [dns] (or give --config with the settings for example.org).',
        'Set zone = example.org in [dns] of danekeeper.ini.',
      ],
      [
        'Give --resolver (or resolver = in [dns]) a validating resolver, e.g. a local Unbound.',
        'Set resolver = in [dns] of danekeeper.ini to a validating resolver, e.g. a local Unbound.',
      ],
      [
        'Publish the MX record (see the MX line), or give --mail-host HOST.',
        'Publish the MX record (see the MX line).',
      ],
      [
        'The key at x is revoked: generate a new key pair, or give the selector your signer uses now with --dkim-selector.',
        'The key at x is revoked: generate a new key pair, or give the selector your signer uses now as [prereq] dkim-selector = SELECTOR in danekeeper.ini.',
      ],
    ];
    // the phrases as core/prereq writes them today: a reworded one fails here, not in the panel
    for (const phrase of [
      'give --address when it is another',
      'with --address IP.',
      'with --dkim-selector.',
      '(or give --config with the settings for ',
      'Give --resolver (or resolver = in [dns])',
      'or give --mail-host HOST.',
    ]) {
      assert.ok(rules.includes(phrase), phrase);
    }
    for (const [cli, panel] of fixes) {
      assert.equal(panelFix(cli), panel);
      assert.doesNotMatch(panelFix(cli), /--[a-z]/);
    }
    assert.equal(panelFix('Publish the record.'), 'Publish the record.');
  });

  it("step 2 names the configured CA, never Let's Encrypt unless it is the one", async () => {
    for (const [acmeCa, said] of [
      [undefined, /a certificate from the configured ACME CA for\s*<strong>example\.org/],
      [
        'the ACME CA at pebble.lab:14000',
        /a certificate from the ACME CA at pebble\.lab:14000 for/,
      ],
    ] as const) {
      const e = env(acmeCa ? { acmeCa } : {});
      try {
        const b = await new Browser(e).login('alice');
        const two = await b.get('/domains/add?name=example.org');
        assert.match(two.text, said);
        assert.doesNotMatch(two.text, /Let&#39;s Encrypt|Let's Encrypt/);
      } finally {
        e.close();
      }
    }
  });

  it('the prerequisites cannot be checked (DNS down): no checkbox, the reason, never a 500', async () => {
    const e = env({
      prereq: () =>
        Promise.reject(new DkError('unavailable', 'E_DNS_TIMEOUT', 'The resolver did not answer')),
    });
    try {
      const b = await new Browser(e).login('admin');
      const two = await b.get('/domains/add?name=example.org');
      assert.equal(two.res.status, 200);
      assert.doesNotMatch(two.text, /name="dane"/);
      assert.match(two.text, /could not be checked \(The resolver did not answer\)/);
    } finally {
      e.close();
    }
  });

  it('daneEnabled = false: no DANE checkbox, no prerequisite asked; a forged dane=on is refused and nothing written', async () => {
    const e = env({ ini: '[ext-sslit]\ndaneEnabled = false\n' });
    try {
      const b = await new Browser(e).login('alice');
      const two = await b.get('/domains/add?name=example.org');
      assert.equal(two.res.status, 200);
      assert.doesNotMatch(two.text, /name="dane"/);
      assert.doesNotMatch(two.text, /DANE support/, 'hidden from a customer altogether');
      assert.deepEqual(e.prereqAsked, []);
      const before = e.snapshot();
      const forged = await b.post('/domains/add', { ...ADD_FORM, dane: 'on' });
      assert.equal(forged.res.status, 409);
      assert.match(forged.text, /DANE support is turned off on this server/);
      assert.equal(e.snapshot(), before);
      // without the box the domain is added, DANE off (the API's default would follow the
      // server's daneEnabled; the form says it explicitly)
      const ok = await b.post('/domains/add', ADD_FORM);
      assert.equal(ok.res.status, 303);
      assert.equal(e.state.domains.get('example.org')?.dane, false);
    } finally {
      e.close();
    }
  });

  it('an unwired panel (no daneEnabled given) never offers DANE', async () => {
    const e = env({ daneEnabled: null });
    try {
      const b = await new Browser(e).login('admin');
      const two = await b.get('/domains/add?name=example.org');
      assert.doesNotMatch(two.text, /name="dane"/);
      assert.match(two.text, /DANE support is turned off on this server/);
    } finally {
      e.close();
    }
  });

  it('bad input: a message, the right 4xx, nothing written', async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('admin');
      const before = e.snapshot();
      const cases: [Record<string, string>, number, RegExp][] = [
        [{ ...ADD_FORM, name: 'not a name' }, 400, /is not a domain name/],
        [{ ...ADD_FORM, name: 'localhost' }, 400, /a certificate can be issued for/],
        [{ ...ADD_FORM, name: 'a..example.org' }, 400, /a certificate can be issued for/],
        [{ ...ADD_FORM, subOther: 'bad_label!' }, 400, /role="alert">/],
        [{ ...ADD_FORM, includeDomainName: '', sub_mail: '' }, 400, /needs a subdomain/],
        [
          { ...ADD_FORM, mailHost: 'mx.elsewhere.test' },
          400,
          /not among the certificate&#39;s names/,
        ],
        [{ ...ADD_FORM, name: 'example.net' }, 409, /managed already/],
        [{ ...ADD_FORM, dane: 'on', assignMail: '' }, 400, /needs the certificate assigned/],
        [{ ...ADD_FORM, subOther: 'x'.repeat(300) }, 400, /role="alert">/],
      ];
      for (const [form, status, message] of cases) {
        const r = await b.post('/domains/add', form);
        assert.equal(r.res.status, status, JSON.stringify(form));
        assert.match(r.text, message, JSON.stringify(form));
        assert.equal(e.snapshot(), before, JSON.stringify(form));
      }
      const step1 = await b.get('/domains/add?name=no%20way');
      assert.equal(step1.res.status, 400);
      assert.match(step1.text, /role="alert">&quot;no way&quot; is not a domain name/);
      const exists = await b.get('/domains/add?name=example.net');
      assert.equal(exists.res.status, 409);
    } finally {
      e.close();
    }
  });

  it('a DANE add in an unsigned zone: the API refuses, the form says why, nothing written', async () => {
    const e = env({ zoneSecure: false });
    try {
      const b = await new Browser(e).login('admin');
      const before = e.snapshot();
      const r = await b.post('/domains/add', { ...ADD_FORM, dane: 'on' });
      assert.ok(r.res.status >= 400 && r.res.status < 500, `status ${r.res.status}`);
      assert.match(r.text, /role="alert">/);
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it("a customer cannot add another's domain or a name outside their own: refused, nothing written", async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('alice');
      const before = e.snapshot();
      const step = await b.get('/domains/add?name=example.com');
      assert.equal(step.res.status, 403);
      assert.match(step.text, /only your own domains/);
      assert.deepEqual(e.prereqAsked, [], 'no DNS asked about a name that is not theirs');
      for (const name of ['example.com', 'new.example.net', 'notexample.org']) {
        const r = await b.post('/domains/add', { ...ADD_FORM, name });
        assert.equal(r.res.status, 403, name);
        assert.equal(e.snapshot(), before, name);
      }
      // a name under their own domain is theirs
      const ok = await b.post('/domains/add', { ...ADD_FORM, name: 'shop.example.org' });
      assert.equal(ok.res.status, 303);
    } finally {
      e.close();
    }
  });
});

/** A status where the new record is served by one of two servers, waiting for the other. */
const propagating = async (d: Domain) => ({
  name: d.name,
  phase: 'propagating',
  waitingFor: 'propagation',
  until: null,
  next: 'Wait until every nameserver serves the new records',
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
      servedBy: ['ns1.example.net', 'ns2.example.net'],
      notServedBy: [],
      confirmedAt: '2026-11-30T09:00:00.000Z',
    },
    {
      owner: `_25._tcp.mail.${d.name}.`,
      rdata: `3 1 1 ${'cd'.repeat(32)}`,
      role: 'next-key',
      published: true,
      servedBy: ['ns1.example.net'],
      notServedBy: ['ns2.example.net'],
      confirmedAt: null,
    },
  ],
});

describe('panel: a domain page', () => {
  it('DANE off and on: buttons with their confirmation text, through the API, audited; PRG', async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('bob');
      const page = await b.get('/domains/example.net');
      assert.equal(page.res.status, 200);
      assertAccessible(page.text, 'domain page');
      assert.match(
        page.text,
        /<form method="post" action="\/domains\/example\.net\/disable-dane">[\s\S]*?id="dane-off-text"[\s\S]*?<button type="submit" aria-describedby="dane-off-text">\s*Turn DANE off\s*<\/button>/,
      );
      const off = await b.post('/domains/example.net/disable-dane');
      assert.equal(off.res.status, 303);
      assert.equal(off.res.headers.get('location'), '/domains/example.net?done=dane-off');
      assert.equal(e.state.domains.get('example.net')?.dane, false);
      assert.equal(e.users.auditLog()[0]?.action, 'domain.disable-dane');
      const offPage = await b.get('/domains/example.net?done=dane-off');
      assert.match(offPage.text, /role="status">DANE turned off/);
      assert.match(offPage.text, /<button type="submit" aria-describedby="dane-on-text">/);
      const on = await b.post('/domains/example.net/enable-dane');
      assert.equal(on.res.status, 303);
      assert.equal(e.state.domains.get('example.net')?.dane, true);
      assert.equal(e.users.auditLog()[0]?.action, 'domain.enable-dane');
    } finally {
      e.close();
    }
  });

  it('turning DANE on in an unsigned zone: the refusal is the message (4xx), nothing written', async () => {
    const e = env({ zoneSecure: false });
    try {
      const b = await new Browser(e).login('admin');
      const before = e.snapshot();
      const r = await b.post('/domains/off.example.net/enable-dane');
      assert.ok(r.res.status >= 400 && r.res.status < 500, `status ${r.res.status}`);
      assert.match(r.text, /class="error" role="alert">Cannot turn DANE on/);
      assert.match(r.text, /<h1>off\.example\.net<\/h1>/, 'the domain page again');
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('daneEnabled = false: no "Turn DANE on" button, and a forged POST is refused, nothing written', async () => {
    const e = env({ ini: '[ext-sslit]\ndaneEnabled = false\n' });
    try {
      const b = await new Browser(e).login('admin');
      const page = await b.get('/domains/off.example.net');
      assert.doesNotMatch(page.text, /enable-dane/);
      const before = e.snapshot();
      const r = await b.post('/domains/off.example.net/enable-dane');
      assert.equal(r.res.status, 409);
      assert.match(r.text, /daneEnabled is off/);
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('daneEnabled = false on a domain with DANE on: the badge, the list and the page say DANE is off (the pass plans no records), no "Turn DANE off" claim', async () => {
    const e = env({ ini: '[ext-sslit]\ndaneEnabled = false\n', status: propagating });
    try {
      const b = await new Browser(e).login('bob');
      const { text } = await b.get('/domains/example.net');
      assert.match(
        text,
        /<p id="domain-badge"><span class="badge badge-off">DANE off<\/span><\/p>/,
      );
      assert.match(
        text,
        /DANE is on for this domain, but DANE support is turned off on this server \(daneEnabled = false\)/,
      );
      assert.doesNotMatch(text, /DANE is on\. Turning it off/);
      assert.doesNotMatch(text, /action="\/domains\/example\.net\/disable-dane"/);
      const list = await b.get('/domains');
      assert.match(list.text, />example\.net<\/a>\s*<\/td>\s*<td><span class="badge badge-off">/);
      const j = JSON.parse((await b.get('/domains/example.net/progress.json')).text) as {
        badge: { kind: string };
      };
      assert.equal(j.badge.kind, 'off');
    } finally {
      e.close();
    }
  });

  it("links to the domain's DNS, DNSSEC and Check pages when they are mounted (none otherwise); records left after DANE off link to the DNS page", async () => {
    const bare = env();
    try {
      const b = await new Browser(bare).login('bob');
      assert.doesNotMatch((await b.get('/domains/example.net')).text, /aria-label="This domain"/);
    } finally {
      bare.close();
    }
    const e = env({ pages: [dnsPage, dnssecPage, checkPage] });
    try {
      const b = await new Browser(e).login('admin');
      const { text } = await b.get('/domains/example.net');
      assertAccessible(text, 'domain page with links');
      assert.match(
        text,
        /<nav aria-label="This domain"> <ul> <li><a href="\/domains\/example\.net\/dns">DNS records<\/a><\/li> <li><a href="\/dnssec\?domain=example\.net">DNSSEC<\/a><\/li> <li><a href="\/check\?domain=example\.net">Check<\/a><\/li> <\/ul> <\/nav>/,
      );
      e.state.ownership.remember(
        'example.net.',
        '_25._tcp.mail.off.example.net.',
        [{ usage: 3, selector: 1, mtype: 1, data: Buffer.alloc(32, 0xcd) }],
        NOW,
      );
      const off = await b.get('/domains/off.example.net');
      assert.match(
        off.text,
        /To take it out now: <a href="\/domains\/off\.example\.net\/dns">DNS records of off\.example\.net<\/a>\./,
      );
    } finally {
      e.close();
    }
  });

  it('Renew now asks the daemon for a renewal, audited', async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('bob');
      const r = await b.post('/domains/example.net/renew');
      assert.equal(r.res.status, 303);
      assert.equal(r.res.headers.get('location'), '/domains/example.net?done=renew');
      assert.deepEqual(e.renewed, ['example.net']);
      assert.equal(e.users.auditLog()[0]?.action, 'domain.renew');
    } finally {
      e.close();
    }
  });

  it('remove: a confirmation page first, then the domain is gone (events kept), audited', async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('bob');
      const page = await b.get('/domains/example.net');
      assert.match(page.text, /<a href="\/domains\/example\.net\/remove">Remove this domain…<\/a>/);
      const confirm = await b.get('/domains/example.net/remove');
      assert.equal(confirm.res.status, 200);
      assertAccessible(confirm.text, 'remove page');
      assert.match(confirm.text, /<button type="submit" aria-describedby="remove-text">/);
      assert.ok(e.state.domains.get('example.net'), 'the GET changes nothing');
      const r = await b.post('/domains/example.net/remove');
      // POST-redirect-GET: reloading the result does not send the removal again
      assert.equal(r.res.status, 303);
      assert.equal(r.res.headers.get('location'), '/domains?done=removed');
      const list = await b.get('/domains?done=removed');
      assert.match(
        list.text,
        /<p class="note" role="status"> The domain was removed: danekeeper no longer manages it\./,
      );
      assert.doesNotMatch((await b.get('/domains?done=%3Cb%3E')).text, /role="status"/);
      assert.equal(e.state.domains.get('example.net'), undefined);
      assert.equal(e.users.auditLog()[0]?.action, 'domain.remove');
      assert.equal((await b.get('/domains/example.net')).res.status, 404);
    } finally {
      e.close();
    }
  });

  it('a busy domain (a pass holds its lease): remove is refused with 409 and the message', async () => {
    const e = env();
    try {
      assert.ok(e.state.rollover.acquireLease('example.net', 'a-pass', 60_000, NOW));
      const b = await new Browser(e).login('bob');
      const before = e.snapshot();
      const r = await b.post('/domains/example.net/remove');
      assert.equal(r.res.status, 409);
      assert.match(r.text, /role="alert">Cannot remove example\.net now/);
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it("a customer cannot act on another's domain: every page and action answers 404 like a missing one, nothing written", async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('alice');
      const before = e.snapshot();
      const missing = await b.get('/domains/nope.example.org');
      for (const p of ['', '/remove', '/progress.json', '/certificate.pem']) {
        const r = await b.get(`/domains/example.net${p}`);
        assert.equal(r.res.status, 404, `GET ${p}`);
        assert.doesNotMatch(r.text, /example\.net/, `GET ${p} tells nothing`);
      }
      for (const p of ['enable-dane', 'disable-dane', 'renew', 'remove']) {
        const r = await b.post(`/domains/example.net/${p}`);
        assert.equal(r.res.status, 404, `POST ${p}`);
        assert.equal(r.text, missing.text.replace('nope.example.org', 'example.net'), p);
      }
      assert.equal(e.snapshot(), before);
    } finally {
      e.close();
    }
  });

  it('CSRF: every POST without the session token is refused with 403 and changes nothing', async () => {
    const e = env();
    try {
      const b = await new Browser(e).login('admin');
      const before = e.snapshot();
      for (const p of [
        '/domains/add',
        '/domains/example.net/enable-dane',
        '/domains/example.net/disable-dane',
        '/domains/example.net/renew',
        '/domains/example.net/remove',
      ]) {
        for (const token of [undefined, 'wrong']) {
          const res = await b.go('POST', p, {
            ...(token ? { _csrf: token } : {}),
            ...ADD_FORM,
            name: 'example.com',
          });
          assert.equal(res.status, 403, `${p} ${token}`);
          assert.match(await res.text(), /did not carry this session's token/);
        }
      }
      assert.equal(e.snapshot(), before);
      // and every form on these pages carries the token
      for (const p of [
        '/domains/example.net',
        '/domains/add?name=example.com',
        '/domains/example.net/remove',
      ]) {
        const { text } = await b.get(p);
        const forms = [...text.matchAll(/<form method="post"[\s\S]*?<\/form>/g)];
        assert.ok(forms.length > 0, p);
        for (const f of forms) assert.match(f[0], /name="_csrf" value="[^"]+"/, p);
      }
    } finally {
      e.close();
    }
  });
});

describe('panel: the certificate download', () => {
  it('the installed fullchain as .pem: content type, attachment, certificates only, never the key', async () => {
    const e = env();
    try {
      const key = e.state.keys.add(
        {
          domain: 'example.net',
          role: 'current',
          type: 'ec-p256',
          privateKeyPem: PKI.leaf.keyPem,
          spkiSha256: 'ab'.repeat(32),
        },
        NOW,
      );
      const cert = e.state.certificates.add({
        domain: 'example.net',
        keyId: key.id,
        chainPem: PKI.leaf.certPem + PKI.intermediate.certPem,
        notBefore: '2026-11-01T00:00:00Z',
        notAfter: '2027-01-30T00:00:00Z',
        serial: '0abc',
        ariCertId: null,
        issuedAt: NOW.toISOString(),
      });
      const b = await new Browser(e).login('bob');
      assert.doesNotMatch((await b.get('/domains/example.net')).text, /certificate\.pem/);
      assert.equal((await b.get('/domains/example.net/certificate.pem')).res.status, 404);
      e.state.certificates.markInstalled(cert.id, NOW);
      const page = await b.get('/domains/example.net');
      assert.match(page.text, /<a href="\/domains\/example\.net\/certificate\.pem" download/);
      const res = await b.go('GET', '/domains/example.net/certificate.pem');
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/pem-certificate-chain');
      assert.equal(
        res.headers.get('content-disposition'),
        'attachment; filename="example.net-fullchain.pem"',
      );
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(text, PKI.leaf.certPem.trim() + '\n' + PKI.intermediate.certPem.trim() + '\n');
      assert.doesNotMatch(text, /PRIVATE KEY/);
      // admin too (domain.read); alice (not hers) 404, tested above
      const admin = await new Browser(e).login('admin');
      assert.equal((await admin.get('/domains/example.net/certificate.pem')).res.status, 200);
    } finally {
      e.close();
    }
  });

  it('certificatesOnly keeps CERTIFICATE blocks and drops anything else, a key included', () => {
    const mixed = `junk\n${PKI.leaf.keyPem}${PKI.leaf.certPem}text${PKI.intermediate.certPem}`;
    const out = certificatesOnly(mixed);
    assert.doesNotMatch(out, /PRIVATE KEY|junk|text/);
    assert.equal(out.match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.equal(certificatesOnly(PKI.leaf.keyPem), '');
  });
});

describe('panel: propagation progress and the rollover timeline', () => {
  it('which server serves which record, the wait, a Refresh link, aria-live, the script file; no meta refresh', async () => {
    const e = env({ status: propagating });
    try {
      const b = await new Browser(e).login('bob');
      const { res, text } = await b.get('/domains/example.net');
      assert.equal(res.status, 200);
      assert.match(
        text,
        /<p id="progress-summary" role="status" aria-live="polite">\s*1 of 2 TLSA records are served by every authoritative server\. Waiting for ns2\.example\.net to serve the new records\.\s*<\/p>/,
      );
      assert.match(
        text,
        /<td>ns1\.example\.net<\/td>\s*<td>ns2\.example\.net<\/td>\s*<td>not yet<\/td>/,
      );
      assert.match(
        text,
        /<a href="\/domains\/example\.net#progress" id="progress-refresh">Refresh<\/a>/,
      );
      assert.match(text, /<script src="\/progress\.js" defer><\/script>/);
      assert.match(text, /data-progress-url="\/domains\/example\.net\/progress\.json"/);
      assert.doesNotMatch(text, /http-equiv/i);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /connect-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      const js = await e.app.request('/progress.js');
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.equal(await js.text(), PROGRESS_JS);
    } finally {
      e.close();
    }
  });

  it('DANE off with no TLSA records: one plain sentence, no nameserver table, no polling script; leftovers being removed still show', async () => {
    const leftovers = async (d: Domain) => {
      const p = await propagating(d);
      return { ...p, phase: 'idle', waitingFor: null, tlsa: [{ ...p.tlsa[0]!, role: 'stale' }] };
    };
    const e = env({ status: async (d) => (d.dane ? propagating(d) : leftovers(d)) });
    try {
      const b = await new Browser(e).login('admin');
      const off = await b.get('/domains/off.example.net');
      assert.equal(off.res.status, 200);
      assertAccessible(off.text, 'DANE-off domain page');
      assert.match(off.text, /<h2 id="progress-h">Propagation<\/h2>/);
      // the leftover stale record is still in DNS: its removal is shown with its servers
      assert.match(off.text, /<td>stale \(to be removed\)<\/td>/);
      assert.match(off.text, /<script src="\/progress\.js" defer><\/script>/);
      const quiet = env();
      try {
        const q = await new Browser(quiet).login('admin');
        const { res, text } = await q.get('/domains/off.example.net');
        assert.equal(res.status, 200);
        assertAccessible(text, 'DANE-off domain page, nothing in DNS');
        assert.match(
          text,
          /<p id="progress-summary">\s*DANE is off: this domain has no TLSA records, so there is nothing to propagate\.\s*<\/p>/,
        );
        assert.doesNotMatch(text, /authoritative servers that serve them/, 'no nameserver table');
        assert.doesNotMatch(text, /data-progress-url/, 'nothing for a script to poll');
        assert.doesNotMatch(text, /progress\.js/, 'no script at all');
        assert.doesNotMatch(text, /id="progress-refresh"/, 'no Refresh link for nothing');
        // DANE turned off while danekeeper's records are still in the zone (its ownership
        // ledger holds them): never "nothing to propagate"; the records are listed
        q.e.state.ownership.remember(
          'example.net.',
          '_25._tcp.mail.off.example.net.',
          [{ usage: 3, selector: 1, mtype: 1, data: Buffer.alloc(32, 0xab) }],
          NOW,
        );
        const still = await q.get('/domains/off.example.net');
        assertAccessible(still.text, 'DANE-off domain page, records left');
        assert.doesNotMatch(still.text, /nothing to propagate/);
        assert.match(
          still.text,
          /DANE is off, but this TLSA record danekeeper published is still in the zone: sending servers that check DANE keep relying on it until danekeeper removes it\./,
        );
        assert.match(
          still.text,
          new RegExp(
            `<td><code>_25\\._tcp\\.mail\\.off\\.example\\.net\\.</code></td> <td><code>3 1 1 ${'ab'.repeat(32)}</code></td>`,
          ),
        );
        // DANE on: the full section is back
        const on = await q.get('/domains/example.net');
        assert.match(on.text, /data-progress-url="\/domains\/example\.net\/progress\.json"/);
      } finally {
        quiet.close();
      }
    } finally {
      e.close();
    }
  });

  it('progress.json: the same data as the page, for the session only', async () => {
    const e = env({ status: propagating });
    try {
      const anon = await e.app.request('/domains/example.net/progress.json');
      assert.equal(anon.status, 303, 'no session: to the login page, no data');
      const b = await new Browser(e).login('bob');
      const { res, text } = await b.get('/domains/example.net/progress.json');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const p = JSON.parse(text) as ReturnType<typeof progressOf>;
      assert.equal(p.phase, 'propagating');
      assert.equal(p.waitingFor, 'propagation');
      assert.equal(p.records.length, 2);
      assert.deepEqual(p.records[1]!.notServedBy, ['ns2.example.net']);
      assert.equal(p.records[1]!.role, 'next key (published ahead)');
      assert.match(p.summary, /Waiting for ns2\.example\.net/);
    } finally {
      e.close();
    }
  });

  it('the confirmation wait: its end is said; DANE off and nothing published is said too', () => {
    const p = progressOf(
      true,
      {
        phase: 'confirming',
        waitingFor: 'confirmation',
        until: '2026-12-02T10:00:00.000Z',
        tlsa: [],
      },
      NOW,
    );
    assert.match(p.summary, /The confirmation wait ends at 2026-12-02T10:00:00\.000Z\./);
    assert.equal(
      progressOf(false, { phase: 'idle' }, NOW).summary,
      'DANE is off: no TLSA records to publish.',
    );
    assert.match(
      progressOf(true, { error: { code: 'E_DNS', message: 'no answer' } }, NOW).summary,
      /could not be read: no answer/,
    );
  });

  it('timeline(): the confirmed step never reads "not yet" once records are gone (DANE off) or a wait is running', async () => {
    const at = (h: number) => new Date(Date.UTC(2026, 10, 30, h)).toISOString();
    const e = env();
    try {
      e.state.events.append('example.net', 'records-published', 'Published', {}, new Date(at(8)));
      const events = e.state.events.list({ domain: 'example.net' });
      const base = (await propagating({ name: 'example.net' } as Domain)) as {
        tlsa: { role: string; confirmedAt: string | null }[];
      };
      const confirmedStep = (tlsa: unknown[]) =>
        timeline(events, { ...base, tlsa } as never, NOW).find((x) => x.id === 'confirmed')!;
      // DANE off: the records are gone, or only stale ones wait for removal
      assert.deepEqual(confirmedStep([]), {
        id: 'confirmed',
        label: 'Records confirmed on every nameserver (wait over)',
        at: null,
        note: 'no TLSA records now',
      });
      assert.equal(
        confirmedStep([{ ...base.tlsa[0]!, role: 'stale' }]).note,
        'no TLSA records now',
      );
      // a new key's records published but not served everywhere yet: plainly not yet
      const unserved = confirmedStep([{ ...base.tlsa[0]!, role: 'current', confirmedAt: null }]);
      assert.equal(unserved.at, null);
      assert.equal(unserved.note, undefined);
      // the status could not be read: nothing claimed
      assert.equal(
        timeline(events, { error: { code: 'E', message: 'x' } }, NOW).find(
          (x) => x.id === 'confirmed',
        )?.note,
        undefined,
      );
    } finally {
      e.close();
    }
  });

  it('the history: a run of the same event is one row with its count and first time; the page shows it so', async () => {
    const at = (h: number) => new Date(Date.UTC(2026, 10, 30, h));
    const e = env({ status: propagating });
    try {
      for (const h of [8, 9, 10]) {
        e.state.events.append('example.net', 'failed', 'Port 25 refused', {}, at(h));
      }
      e.state.events.append('example.net', 'certificate-verified', 'c1 is presented', {}, at(11));
      e.state.events.append('example.net', 'failed', 'Port 25 refused', {}, at(12));
      const rows = historyRows(e.state.events.list({ domain: 'example.net' }));
      assert.deepEqual(
        rows.map((r) => [r.kind, r.count, r.first, r.last]),
        [
          ['failed', 1, at(12).toISOString(), at(12).toISOString()],
          ['certificate-verified', 1, at(11).toISOString(), at(11).toISOString()],
          ['failed', 3, at(8).toISOString(), at(10).toISOString()],
        ],
        'newest first; runs only: the same event after another one is a row of its own',
      );
      const b = await new Browser(e).login('bob');
      const { text } = await b.get('/domains/example.net');
      const history = /<h3>History<\/h3>([\s\S]*?)<\/table>/.exec(text)![1]!;
      assert.equal([...history.matchAll(/<td>Port 25 refused<\/td>/g)].length, 2);
      assert.match(
        history,
        /<time datetime="2026-11-30T10:00:00.000Z">[^<]*<\/time><br \/>3 times since\s*<time datetime="2026-11-30T08:00:00.000Z">/,
      );
    } finally {
      e.close();
    }
  });

  it('the timeline: published, confirmed, installed, verified, removed, each with its time, in plain words', async () => {
    const e = env({ status: propagating });
    try {
      const at = (h: number) => new Date(Date.UTC(2026, 10, 30, h));
      e.state.events.append('example.net', 'records-published', 'Published 3 1 1 cd…', {}, at(8));
      e.state.events.append(
        'example.net',
        'certificate-installed',
        'Installed certificate c1',
        {},
        at(10),
      );
      e.state.events.append(
        'example.net',
        'certificate-verified',
        'Certificate c1 is presented',
        {},
        at(11),
      );
      const b = await new Browser(e).login('bob');
      const { text } = await b.get('/domains/example.net');
      assert.match(text, /<h2 id="timeline-h">Rollover timeline<\/h2>/);
      const steps = /<ol class="steps">([\s\S]*?)<\/ol>/.exec(text)![1]!;
      const items = [
        ...steps.matchAll(
          /<strong>([^<]+)<\/strong>:\s*<span id="step-[a-z]+"\s*>(?:<time datetime="([^"]+)">|not yet)/g,
        ),
      ].map((m) => [m[1], m[2] ?? null]);
      assert.deepEqual(items, [
        ['New TLSA records published', '2026-11-30T08:00:00.000Z'],
        ['Records confirmed on every nameserver (wait over)', '2026-11-30T09:00:00.000Z'],
        ['Certificate installed', '2026-11-30T10:00:00.000Z'],
        ['Certificate verified live', '2026-11-30T11:00:00.000Z'],
        ['Old records removed', null],
      ]);
      // the history, newest first, in plain words
      const history = text.slice(text.indexOf('<h3>History</h3>'));
      assert.ok(
        history.indexOf('Certificate verified live') < history.indexOf('TLSA records published'),
        'newest first',
      );
      assert.doesNotMatch(history, />certificate-verified</, 'no raw event kinds');
    } finally {
      e.close();
    }
  });

  it('timeline(): the latest of each, stale records never count as confirmed', () => {
    const ev = (kind: string, at: string) => ({
      id: 1,
      domain: 'x',
      at,
      kind,
      message: '',
      details: {},
    });
    const steps = timeline(
      [
        ev('records-removed', '2026-01-01T00:00:00Z'),
        ev('records-removed', '2026-03-01T00:00:00Z'),
        ev('records-published', '2026-02-01T00:00:00Z'),
      ],
      {
        tlsa: [
          {
            owner: 'o',
            rdata: '3 1 1 00',
            role: 'stale',
            published: true,
            servedBy: [],
            notServedBy: [],
            confirmedAt: '2026-04-01T00:00:00Z',
          },
        ],
      } as never,
      NOW,
    );
    assert.equal(steps.find((s) => s.id === 'removed')?.at, '2026-03-01T00:00:00Z');
    assert.equal(steps.find((s) => s.id === 'confirmed')?.at, null);
  });

  it('a confirmation still ahead: "wait ends T" in the Confirmed cell, the timeline step not done; once past, the time', async () => {
    const ahead = '2026-12-01T10:05:00.000Z'; // NOW + 5 min
    const waiting = async (d: Domain) => {
      const p = await propagating(d);
      return {
        ...p,
        phase: 'confirming',
        waitingFor: 'confirmation',
        until: ahead,
        certificate: { ...p.certificate, verified: false },
        tlsa: p.tlsa.map((t) => ({
          ...t,
          servedBy: ['ns1.example.net'],
          notServedBy: [],
          confirmedAt: ahead,
        })),
      };
    };
    const e = env({ status: waiting });
    try {
      const b = await new Browser(e).login('bob');
      const { text } = await b.get('/domains/example.net');
      assert.match(text, /<td>wait ends 2026-12-01T10:05:00\.000Z<\/td>/);
      assert.doesNotMatch(text, /<td>2026-12-01T10:05:00\.000Z<\/td>/, 'not shown as done');
      assert.match(
        text,
        /Records confirmed on every nameserver \(wait over\)<\/strong>:\s*<span id="step-confirmed"\s*>wait ends 2026-12-01T10:05:00\.000Z<\/span/,
      );
      assert.match(
        text,
        /<p id="domain-badge"><span class="badge badge-waiting">waiting<\/span><\/p>/,
      );
      // progress.json carries what the script updates: the cells, the badge, the steps
      const j = JSON.parse((await b.get('/domains/example.net/progress.json')).text) as {
        records: { confirmed: string }[];
        badge: { kind: string; text: string };
        steps: { id: string; at: string | null; note?: string }[];
      };
      assert.equal(j.records[0]!.confirmed, `wait ends ${ahead}`);
      assert.deepEqual(j.badge, { kind: 'waiting', text: 'waiting' });
      assert.equal(j.steps.find((x) => x.id === 'confirmed')?.at, null);
      assert.equal(j.steps.find((x) => x.id === 'confirmed')?.note, `wait ends ${ahead}`);
    } finally {
      e.close();
    }
    const later = new Date(Date.parse(ahead) + 1000);
    const p = progressOf(true, (await waiting({ name: 'example.net' } as Domain)) as never, later);
    assert.equal(p.records[0]!.confirmed, ahead);
    assert.equal(
      timeline([], (await waiting({ name: 'example.net' } as Domain)) as never, later).find(
        (x) => x.id === 'confirmed',
      )?.at,
      ahead,
    );
  });

  it('progress.json at rest and verified: the badge says "DANE verified" for the script to show', async () => {
    const e = env({
      status: async (d) => ({ ...(await propagating(d)), phase: 'idle', waitingFor: null }),
    });
    try {
      const b = await new Browser(e).login('bob');
      const j = JSON.parse((await b.get('/domains/example.net/progress.json')).text) as {
        badge: { kind: string; text: string };
      };
      assert.deepEqual(j.badge, { kind: 'verified', text: 'DANE verified' });
      const rest = progressOf(
        true,
        {
          phase: 'idle',
          waitingFor: null,
          until: '2030-01-01T00:00:00Z',
          next: 'Nothing to do until 2030-01-01T00:00:00Z',
        },
        NOW,
      );
      assert.equal(rest.until, null, 'at rest there is no wait to end');
      assert.match(rest.next ?? '', /until 2030/, 'the next deadline is said in Next');
    } finally {
      e.close();
    }
  });

  it('the script updates the badge and the timeline steps, with textContent', () => {
    assert.match(PROGRESS_JS, /#domain-badge \.badge/);
    assert.match(PROGRESS_JS, /'step-' \+ x\.id/);
    assert.match(PROGRESS_JS, /r\.confirmed \|\|/);
  });

  it('the script parses, writes with textContent only, and stops on a non-JSON answer', () => {
    assert.doesNotThrow(() => new Script(PROGRESS_JS));
    assert.doesNotMatch(
      PROGRESS_JS,
      /innerHTML|outerHTML|insertAdjacentHTML|eval\(|document\.write/,
    );
    assert.match(PROGRESS_JS, /Live updates stopped/);
  });
});

describe('daneOffer', () => {
  const report = (...findings: PrereqFinding[]): PrereqReport => ({
    domain: 'example.org',
    zone: 'example.org',
    status: 'ok',
    findings,
    checkedAt: NOW.toISOString(),
  });
  it('offered when every finding is ok or warn; warnings kept', () => {
    const o = daneOffer(report(finding('mx', 'ok'), finding('dkim', 'warn')));
    assert.equal(o.kind, 'offered');
    assert.equal(o.kind === 'offered' && o.warnings.length, 1);
  });
  it('not offered on fail or unknown (a guess is not a pass)', () => {
    assert.equal(daneOffer(report(finding('mx', 'ok'), finding('dkim', 'fail'))).kind, 'failing');
    assert.equal(daneOffer(report(finding('starttls', 'unknown'))).kind, 'failing');
  });
});
