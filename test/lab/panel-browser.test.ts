/**
 * The panel in a real browser (issue 11 "Must show"): Debian's chromium, driven by
 * playwright-core from outside, runs inside the lab's namespace against `danekeeper serve`,
 * which runs there too next to BIND (a signed zone, TSIG updates), Unbound, Pebble and a
 * Postfix reading the domain's --cert-dir. One lab, one browser, subtests in sequence:
 *
 *   - a customer logs in, adds her domain with DANE support and submits it by the keyboard
 *     alone (Tab, Space, Enter), focus visible at every stop;
 *   - the progress table shows the records as the primary serves them, the badge turns
 *     "DANE verified", and Postfix's own DANE client (posttls-finger -l dane) says Verified;
 *   - every page passes axe-core with no serious or critical violation and tabs through with
 *     visible focus, with a screenshot of each (docs/screenshots/ with DK_SCREENSHOTS=1, a
 *     temp dir otherwise: CI leaves the tree alone);
 *   - Generate gives the 3 1 1 record `danekeeper tlsa` computes for the same certificate;
 *   - a customer cannot see or change another customer's domain, by page (404, forged forms
 *     with her own CSRF token too) or by API (403/404), and nothing is written;
 *   - with daneEnabled = false (the admin's Settings page) the DANE checkbox is gone and the
 *     API refuses DANE for a new domain and an existing one.
 *
 * DK_SHOW=1 prints serve's log as it comes.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  assertAccessible,
  launchBrowser,
  login,
  logout,
  named,
  screenshotDir,
  shot,
  tabThrough,
  tabTo,
  type LabBrowser,
} from '../support/browser.js';
import { runCliAsync, type CliResult } from '../support/cli.js';
import { makePki, tempDir, type Pki } from '../support/pki.js';
import { startServe, type ServeProcess } from '../support/serve.js';
import { labResolvConf, RESOLVER, startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startPebble, type Pebble } from './pebble.js';
import { listenerLine, POSTFIX, startPostfix, type PostfixInstance } from './postfix.js';
import { posttlsFinger } from './reference.js';

const avail = labAvailable();
const PEBBLE = '127.0.57.1';
/**
 * The mail server's address, on an interface of its own (not loopback): `prereq`'s "MX
 * resolves to this server's addresses" reads the machine's interfaces and skips loopback, as
 * it should on a real server (TEST-NET-1, RFC 5737, only ever inside the namespace)
 */
const MAIL = '192.0.2.25';
const CA_NS = '127.0.54.80';
const PRIMARY = '127.0.54.81';
/** alice's domain, and bob's */
const ZONE = 'shop.test';
const OTHER = 'other.test';
const LISTEN = '127.0.0.1:8440';
const BASE = `http://${LISTEN}`;
const TSIG = labTsigKey('dk-panel-browser');
/** RFC 6376 §3.6.1: a DKIM key record, split into 255-octet strings (RFC 1035 §3.3.14) */
const DKIM = (() => {
  const p = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'der' })
    .toString('base64');
  return (`v=DKIM1; k=rsa; p=${p}`.match(/.{1,200}/g) ?? []).map((c) => `"${c}"`).join(' ');
})();
const PASSWORDS = {
  admin: 'admin-pass-browser-1',
  alice: 'alice-pass-browser-1',
  bob: 'bob-pass-browser-1',
};

describe(
  'the panel in chromium against serve and the lab',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let pebble: Pebble;
    let pf: PostfixInstance;
    /** the mail server's certificate before danekeeper's (also pasted into Generate) */
    let self: Pki;
    let serve: ServeProcess;
    let b: LabBrowser;
    let dir: string;
    let config: string;
    const tokens: Record<string, string> = {};

    const dk = async (args: string[]): Promise<CliResult> => {
      const r = await runCliAsync([...args, '--config', config], {
        netns: ns.name,
        timeoutMs: 60_000,
        env: { DANEKEEPER_STATE_DIR: dir },
      });
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      return r;
    };

    /** an API call inside the namespace with a user's bearer token */
    const api = async (
      user: keyof typeof PASSWORDS,
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ status: number; body: string }> => {
      const r = await ns.exec(
        'curl',
        [
          '-s',
          '-X',
          method,
          '-H',
          `authorization: Bearer ${tokens[user]!}`,
          ...(body === undefined
            ? []
            : ['-H', 'content-type: application/json', '--data-binary', JSON.stringify(body)]),
          '-w',
          '\n%{http_code}',
          `${BASE}${path}`,
        ],
        { allowFail: true },
      );
      const i = r.stdout.lastIndexOf('\n');
      return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
    };

    before(async () => {
      dir = tempDir('dk-lab-panel-browser-');
      chmodSync(dir, 0o755);
      ns = await createNetns({ addresses: [PEBBLE], resolvConf: labResolvConf() });
      // a bridge with no ports: the kernel here may lack the dummy module, never the bridge
      await ns.exec('ip', ['link', 'add', 'dk-mail', 'type', 'bridge']);
      await ns.exec('ip', ['addr', 'add', `${MAIL}/32`, 'dev', 'dk-mail']);
      await ns.exec('ip', ['link', 'set', 'dk-mail', 'up']);
      const mailZone = (name: string) => ({
        name,
        signing: 'inline' as const,
        servers: [PRIMARY],
        updateKeys: [TSIG],
        ttl: 2,
        records: [
          { name: '@', type: 'MX', data: `10 mail.${name}.` },
          { name: '@', type: 'A', data: MAIL },
          { name: 'mail', type: 'A', data: MAIL },
          { name: 'www', type: 'A', data: MAIL },
          { name: 'default._domainkey', type: 'TXT', data: DKIM },
        ],
      });
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'ca.test',
            servers: [CA_NS],
            records: [{ name: 'acme', type: 'A', data: PEBBLE }],
          },
          mailZone(ZONE),
          mailZone(OTHER),
        ],
      });
      mkdirSync(join(dir, 'pebble'));
      pebble = await startPebble(ns, {
        hostname: 'acme.ca.test',
        address: PEBBLE,
        dnsServer: `${RESOLVER}:53`,
        dir: join(dir, 'pebble'),
      });
      // The mail server before DANE: STARTTLS with a certificate of its own (the prerequisite
      // the panel checks), read from where the panel's `domain add` puts the domain's
      // certificates (DANEKEEPER_STATE_DIR/live/DOMAIN). Every smtpd serves one connection
      // After an install the pass reloads Postfix with `[run] reload`, the default for domains
      // added through the panel (they have no reload command of their own).
      const certDir = join(dir, 'live', ZONE);
      mkdirSync(join(dir, 'self'));
      self = makePki(join(dir, 'self'), { prefix: 'self-', names: [`mail.${ZONE}`] });
      mkdirSync(certDir, { recursive: true });
      writeFileSync(join(certDir, 'privkey.pem'), readFileSync(self.leaf.keyFile), { mode: 0o600 });
      writeFileSync(join(certDir, 'fullchain.pem'), self.leaf.certPem + self.intermediate.certPem);
      pf = await startPostfix(ns, [], {
        masterExtra: [
          listenerLine({
            address: MAIL,
            port: 25,
            keyFile: join(certDir, 'privkey.pem'),
            chainFile: join(certDir, 'fullchain.pem'),
          }),
        ],
      });
      config = join(dir, 'danekeeper.ini');
      writeFileSync(
        config,
        [
          '[dns]',
          'backend = rfc2136',
          `server = ${PRIMARY}`,
          `tsig-key-file = ${lab.tsigKeyFile(TSIG)}`,
          `resolver = ${RESOLVER}`,
          '[store]',
          `path = ${join(dir, 'state.db')}`,
          '[acme]',
          `directory = ${pebble.directory}`,
          `ca-file = ${pebble.caFile}`,
          `email = hostmaster@${ZONE}`,
          'challenge = http-01',
          'http-listen = 0.0.0.0:80',
          '[ext-sslit]',
          'dane-confirmation-interval-in-hours = 0.001',
          '[run]',
          `reload = ${POSTFIX} -c ${pf.configDir} reload`,
          '',
        ].join('\n'),
      );
      const users: [keyof typeof PASSWORDS, string[]][] = [
        ['admin', ['--role', 'admin']],
        ['alice', ['--role', 'customer', '--domain', ZONE]],
        ['bob', ['--role', 'customer', '--domain', OTHER]],
      ];
      for (const [name, args] of users) {
        const pw = join(dir, `${name}.pw`);
        writeFileSync(pw, `${PASSWORDS[name]}\n`, { mode: 0o600 });
        const r = await dk(['user', 'add', name, ...args, '--password-file', pw]);
        assert.equal(r.code, 0, r.stderr);
        const t = await dk(['token', 'create', name]);
        assert.equal(t.code, 0, t.stderr);
        tokens[name] = t.stdout.trim();
      }
      // bob's domain, without DANE: what alice must not see
      const add = await dk([
        'domain',
        'add',
        OTHER,
        '--no-dane',
        // no mail host among its names: nothing of it is probed on the lab's one MTA
        '--no-domain-name',
        '--subdomain',
        'www',
        '--cert-dir',
        join(dir, 'live', OTHER),
      ]);
      assert.equal(add.code, 0, add.stderr);
      // DANEKEEPER_STATE_DIR: the panel's `domain add` puts certificates in DIR/live/DOMAIN
      // (as root without it: /etc/danekeeper/live, which a test must never touch)
      serve = startServe(['--config', config, '--listen', LISTEN, '--pass-interval', '2s'], {
        netns: ns.name,
        env: { DANEKEEPER_STATE_DIR: dir },
      });
      await serve.waitFor('listening', (l) => l.event === 'listening');
      b = await launchBrowser({ netns: ns.name });
    });

    after(async () => {
      const keep = setInterval(() => {}, 1000);
      try {
        await b?.close().catch(() => {});
        serve?.child.kill('SIGKILL');
        await pf?.stop();
        await pebble?.stop();
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keep);
      }
      if (process.env.DK_LAB_KEEP !== '1' && dir) rmSync(dir, { recursive: true, force: true });
    });

    /** the served TLSA records at the zone's primary, asked directly (RD=0) */
    const served = async (): Promise<string[]> => {
      const r = await lab.dig([`@${PRIMARY}`, '+norec', `_25._tcp.mail.${ZONE}.`, 'TLSA']);
      return tlsaIn(r.answer).map((x) => x.toLowerCase());
    };

    it('a customer logs in, adds her domain with DANE support and submits it, by the keyboard alone', async () => {
      const p = b.page;
      const r = await p.goto(`${BASE}/login`);
      assert.equal(r?.status(), 200, 'serve answers the login page');
      await tabTo(p, named(/^User name$/, 'input'), 'the user name field');
      await p.keyboard.type('alice');
      await tabTo(p, named(/^Password$/, 'input'), 'the password field', 1);
      await p.keyboard.type(PASSWORDS.alice);
      await tabTo(p, named(/^Log in$/, 'button'), 'the Log in button', 1);
      await Promise.all([p.waitForURL(`${BASE}/domains`), p.keyboard.press('Enter')]);
      await assertAccessible(p, 'the empty domains list');
      await tabTo(p, named(/^Add a domain$/, 'a'), 'the Add a domain link');
      await Promise.all([p.waitForURL(`${BASE}/domains/add`), p.keyboard.press('Enter')]);
      await assertAccessible(p, 'add a domain, step 1');
      await shot(p, 'domain-add-name');
      await tabTo(p, named(/^Domain name$/, 'input'), 'the domain name field');
      await p.keyboard.type(ZONE);
      // Enter in the field submits step 1; step 2 checks the prerequisites (DNS, STARTTLS)
      await Promise.all([
        p.waitForURL(`${BASE}/domains/add?name=${ZONE}`, { timeout: 60_000 }),
        p.keyboard.press('Enter'),
      ]);
      const dane = p.getByRole('checkbox', { name: 'DANE support' });
      assert.ok(
        await dane.isVisible(),
        `the DANE checkbox is offered: ${(await p.content()).replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ')}`,
      );
      assert.ok(await dane.isChecked(), "the seed's default: DANE support ticked");
      await assertAccessible(p, 'add a domain, step 2');
      await shot(p, 'domain-add');
      // the mail host is a subdomain: tick mail.ZONE with Space
      await tabTo(p, named(new RegExp(`^mail\\.${ZONE.replace('.', '\\.')}$`), 'input'), 'mail');
      await p.keyboard.press('Space');
      assert.ok(await p.getByRole('checkbox', { name: `mail.${ZONE}`, exact: true }).isChecked());
      await tabTo(p, named(/^DANE support$/, 'input'), 'the DANE checkbox');
      await tabTo(p, named(/^Add the domain/, 'button'), 'the submit button', 3);
      await Promise.all([
        p.waitForURL(new RegExp(`/domains/${ZONE.replace('.', '\\.')}`), { timeout: 30_000 }),
        p.keyboard.press('Enter'),
      ]);
      assert.match(await p.locator('h1').innerText(), new RegExp(ZONE));
    });

    it('the records publish, the status turns DANE verified, and posttls-finger -l dane says Verified', async () => {
      const p = b.page;
      const added = await api('admin', 'GET', `/api/v1/domains/${ZONE}`);
      assert.equal(added.status, 200, `the domain was added: ${added.body}`);
      const d = (JSON.parse(added.body) as { domain: { dane: boolean; certDir: string } }).domain;
      assert.ok(d.dane, 'DANE is on');
      assert.equal(d.certDir, join(dir, 'live', ZONE), 'certificates go where Postfix reads them');
      // the progress script updates the TLSA table in place (no reload): the 3 1 1 record of the
      // new key appears once serve has published it
      await p
        .waitForFunction(
          () =>
            /3 1 1 [0-9a-f]{64}/.test(document.getElementById('progress-rows')?.textContent ?? ''),
          undefined,
          { timeout: 120_000, polling: 1000 },
        )
        .catch(async (e: Error) => {
          const text = await p
            .locator('#progress')
            .innerText()
            .catch(() => '(no #progress)');
          throw new Error(`${e.message}\n${text}\nserve: ${serve.raw.slice(-3).join('\n')}`);
        });
      const live = (await p.locator('#progress-rows').innerText()).toLowerCase();
      // the live region (role=status) follows, still without a reload
      await p
        .locator('#progress-summary')
        .filter({ hasText: /served by every authoritative server/ })
        .waitFor({ timeout: 30_000 });
      await assertAccessible(p, 'the progress of a new domain');
      await shot(p, 'domain-progress');
      const published = await served();
      assert.ok(published.length >= 1, 'the primary serves the TLSA RRset');
      for (const rr of published) assert.ok(live.includes(rr), `${rr} not on the page:\n${live}`);
      // the badge, on a reload every 2 s, until verified (issuance, the wait, install, probe)
      const deadline = Date.now() + 180_000;
      for (;;) {
        await p.reload();
        const badge = await p.locator('main .badge').first().innerText();
        if (badge === 'DANE verified') break;
        assert.ok(
          Date.now() < deadline && badge !== 'failing',
          `badge "${badge}"; serve: ${serve.raw.slice(-5).join('\n')}`,
        );
        await new Promise((res) => setTimeout(res, 2000));
      }
      await assertAccessible(p, 'a verified domain');
      // the reference client agrees: what Postfix presents matches what DNS serves
      const f = await posttlsFinger(ns, ZONE);
      assert.equal(f.verdict, 'verified', f.output);
      assert.match(f.output, /Verified TLS connection established/);
      // and the list says so too
      await p.goto(`${BASE}/domains`);
      assert.equal(
        await p
          .getByRole('row', { name: new RegExp(ZONE) })
          .locator('.badge')
          .innerText(),
        'DANE verified',
      );
    });

    it('every page passes axe-core (no serious or critical violation) and can be tabbed through with visible focus; a screenshot of each', async () => {
      const p = b.page;
      const visit = async (path: string, name: string, ready?: () => Promise<unknown>) => {
        const r = await p.goto(`${BASE}${path}`);
        assert.equal(r?.status(), 200, `${path}: ${r?.status()}`);
        await ready?.();
        const minor = await assertAccessible(p, path);
        if (process.env.DK_SHOW && minor.length)
          process.stderr.write(`${path}: axe (minor/moderate): ${JSON.stringify(minor)}\n`);
        await tabThrough(p, path);
        await shot(p, name);
      };
      // alice is still signed in from the first subtests
      await visit('/domains', 'domains');
      await visit(`/domains/${ZONE}`, 'domain');
      await visit(`/domains/${ZONE}/dns`, 'dns');
      // the DNS form refusing bad input: the message tied to its field
      await p.getByLabel('Certificate association data').fill('zz');
      await p.getByRole('button', { name: 'Add the record' }).click();
      await p.locator('main .error').first().waitFor();
      await assertAccessible(p, 'the DNS form with an error');
      await shot(p, 'dns-invalid');
      // a record's removal asks first
      await p.goto(`${BASE}/domains/${ZONE}/dns`);
      await p.getByRole('button', { name: 'Remove…' }).first().click();
      await p.getByRole('button', { name: 'Remove the record' }).waitFor();
      await assertAccessible(p, 'removing a TLSA record');
      await tabThrough(p, 'removing a TLSA record');
      await shot(p, 'dns-remove');
      await visit(`/domains/${ZONE}/remove`, 'domain-remove');
      await visit('/generate', 'generate');
      await visit(`/check?domain=${ZONE}`, 'check', () =>
        p
          .getByText(/verified/i)
          .first()
          .waitFor({ timeout: 60_000 }),
      );
      // the DS for the registrar, and the Copy button the page's script adds
      await visit(`/dnssec?domain=${ZONE}`, 'dnssec', () =>
        p.getByRole('button', { name: /copy/i }).first().waitFor(),
      );
      await logout(p, BASE);
      await visit('/login', 'login');
      await login(p, BASE, 'admin', PASSWORDS.admin);
      await visit('/settings', 'settings');
      await logout(p, BASE);
      assert.deepEqual(b.problems, [], 'no console errors or CSP violations');
      if (process.env.DK_SHOW) process.stderr.write(`screenshots in ${screenshotDir()}\n`);
    });

    it('Generate gives the 3 1 1 record the CLI computes', async () => {
      mkdirSync(join(dir, 'gen'));
      const pki = makePki(join(dir, 'gen'), { prefix: 'gen-', names: [`mail.${ZONE}`] });
      const cli = await runCliAsync(['tlsa', '--cert', pki.leaf.certFile, '--format', 'rdata']);
      assert.equal(cli.code, 0, cli.stderr);
      const p = b.page;
      await login(p, BASE, 'alice', PASSWORDS.alice);
      await p.goto(`${BASE}/generate`);
      await p.getByLabel('PEM certificate or key').fill(pki.leaf.certPem);
      await p.getByLabel(/Mail host/).fill(`mail.${ZONE}`);
      await p.getByRole('button', { name: 'Generate' }).click();
      await p.getByRole('heading', { name: 'Records', exact: true }).waitFor();
      const text = await p.locator('main').innerText();
      assert.ok(text.includes(cli.stdout.trim()), `${cli.stdout.trim()} not in:\n${text}`);
      await assertAccessible(p, 'Generate with its records');
      await shot(p, 'generate-records');
      await logout(p, BASE);
    });

    it("a customer cannot see or change another customer's domain, by page or by API", async () => {
      const p = b.page;
      await login(p, BASE, 'alice', PASSWORDS.alice);
      const list = await p.locator('main').innerText();
      assert.ok(!list.includes(OTHER), `alice's list shows ${OTHER}:\n${list}`);
      for (const path of ['', '/dns', '/remove', '/progress.json', '/certificate.pem']) {
        const r = await p.goto(`${BASE}/domains/${OTHER}${path}`);
        assert.equal(
          r?.status(),
          404,
          `${path}: another customer's domain answers as a missing one`,
        );
        assert.ok(!(await p.content()).includes('DANE off'), `${path}: nothing about it shown`);
      }
      await p.goto(`${BASE}/domains/${OTHER}`);
      await assertAccessible(p, 'the not-found page');
      // forms posted from alice's own session, with her own CSRF token, at bob's domain
      await p.goto(`${BASE}/generate`);
      // (one evaluate per request, with no named function inside: tsx would wrap it in a
      // helper the page does not have)
      const post = (path: string, fields: Record<string, string>) =>
        p.evaluate(
          async ({ path, fields }) =>
            (
              await fetch(path, {
                method: 'POST',
                body: new URLSearchParams({
                  _csrf: document.querySelector<HTMLInputElement>('input[name=_csrf]')!.value,
                  ...fields,
                }),
              })
            ).status,
          { path, fields },
        );
      const forged = {
        enable: await post(`/domains/${OTHER}/enable-dane`, {}),
        remove: await post(`/domains/${OTHER}/remove`, { confirm: OTHER }),
        record: await post(`/domains/${OTHER}/dns`, {
          port: '25',
          protocol: 'tcp',
          name: 'mail',
          usage: '3',
          selector: '1',
          mtype: '1',
          data: 'ab'.repeat(32),
        }),
        // the token itself is good: the same session's own form goes through
        own: await post('/generate', { pem: self.leaf.certPem, port: '25' }),
      };
      assert.deepEqual(
        { enable: forged.enable, remove: forged.remove, record: forged.record },
        { enable: 404, remove: 404, record: 404 },
        JSON.stringify(forged),
      );
      assert.equal(forged.own, 200, "alice's own form with the same token");
      await logout(p, BASE);

      const seen = await api('alice', 'GET', '/api/v1/domains');
      assert.equal(seen.status, 200, seen.body);
      assert.ok(!seen.body.includes(OTHER), seen.body);
      const read = await api('alice', 'GET', `/api/v1/domains/${OTHER}`);
      assert.ok([403, 404].includes(read.status), `read: ${read.status} ${read.body}`);
      const change = await api('alice', 'POST', `/api/v1/domains/${OTHER}/enable-dane`);
      assert.ok([403, 404].includes(change.status), `change: ${change.status} ${change.body}`);
      assert.match(change.body, /"error":\{"code":"E_/);
      const gone = await api('alice', 'DELETE', `/api/v1/domains/${OTHER}`);
      assert.ok([403, 404].includes(gone.status), `remove: ${gone.status} ${gone.body}`);
      const tlsa = await api('alice', 'POST', `/api/v1/domains/${OTHER}/tlsa`, {
        port: 25,
        protocol: 'tcp',
        name: 'mail',
        usage: 3,
        selector: 1,
        mtype: 1,
        data: 'ab'.repeat(32),
      });
      assert.ok([403, 404].includes(tlsa.status), `tlsa: ${tlsa.status} ${tlsa.body}`);
      const listing = await api('alice', 'GET', `/api/v1/domains/${OTHER}/tlsa`);
      assert.ok([403, 404].includes(listing.status), `tlsa list: ${listing.status}`);
      // bob still has it, unchanged
      const own = await api('bob', 'GET', `/api/v1/domains/${OTHER}`);
      assert.equal(own.status, 200, own.body);
      assert.equal((JSON.parse(own.body) as { domain: { dane: boolean } }).domain.dane, false);
      const records = await lab.dig([`@${PRIMARY}`, '+norec', `_25._tcp.mail.${OTHER}.`, 'TLSA']);
      assert.deepEqual(tlsaIn(records.answer), [], `no TLSA record was written in ${OTHER}`);
    });

    it('with daneEnabled = false (set on the Settings page) the checkbox is gone and the API refuses', async () => {
      const p = b.page;
      await login(p, BASE, 'admin', PASSWORDS.admin);
      await p.goto(`${BASE}/settings`);
      const box = p.getByRole('checkbox', { name: /daneEnabled/ });
      assert.ok(await box.isChecked(), 'daneEnabled starts on');
      await box.uncheck();
      await p.getByRole('button', { name: 'Save' }).click();
      await p.getByText('Settings saved.').waitFor();
      assert.equal(await p.getByRole('checkbox', { name: /daneEnabled/ }).isChecked(), false);
      await logout(p, BASE);
      try {
        await login(p, BASE, 'alice', PASSWORDS.alice);
        const r = await p.goto(`${BASE}/domains/add?name=www.${ZONE}`);
        assert.equal(r?.status(), 200);
        await p.getByRole('button', { name: /^Add the domain/ }).waitFor();
        assert.equal(await p.getByRole('checkbox', { name: /DANE/ }).count(), 0, 'no DANE box');
        await assertAccessible(p, 'add a domain with DANE turned off');
        await logout(p, BASE);
        // the API refuses DANE, for a new domain and for an existing one, and writes nothing
        const add = await api('alice', 'POST', '/api/v1/domains', {
          name: `www.${ZONE}`,
          dane: true,
        });
        assert.ok(add.status >= 400 && add.status < 500, `add: ${add.status} ${add.body}`);
        assert.match(add.body, /E_DOMAIN_DANE_DISABLED/);
        const list = await api('alice', 'GET', '/api/v1/domains');
        assert.ok(!list.body.includes(`www.${ZONE}`), list.body);
        const on = await api('bob', 'POST', `/api/v1/domains/${OTHER}/enable-dane`);
        assert.ok(on.status >= 400 && on.status < 500, `enable-dane: ${on.status} ${on.body}`);
        assert.match(on.body, /E_DOMAIN_DANE_DISABLED/);
        const own = await api('bob', 'GET', `/api/v1/domains/${OTHER}`);
        assert.equal((JSON.parse(own.body) as { domain: { dane: boolean } }).domain.dane, false);
      } finally {
        // back on, through the API this time (the admin's token)
        const back = await api('admin', 'PUT', '/api/v1/settings', { daneEnabled: true });
        assert.equal(back.status, 200, back.body);
      }
    });
  },
);
