/**
 * The JSON API as `danekeeper serve` hosts it, against the lab (issue 11 item 3; DESIGN.md "The
 * panel and the API (contract)"): Pebble, BIND serving an inline-signed zone updatable with
 * TSIG, Unbound validating, and a Postfix presenting the domain's --cert-dir (each smtpd reads
 * the files afresh: `max_use = 1`, since the API sets no reload command). With an admin token,
 * POST /api/v1/domains puts a lab domain under management with DANE on; GET
 * /api/v1/domains/NAME goes to verified and posttls-finger -l dane agrees. A renew through the
 * API (by the owning customer) is picked up by the running serve at once, though its regular
 * pass is 10 minutes away. Another customer gets 403 on the domain and does not see it. With
 * daneEnabled turned off by the admin (PUT /api/v1/settings), the API refuses DANE with a
 * message and the pass serves no new TLSA record.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliAsync } from '../support/cli.js';
import { tempDir } from '../support/pki.js';
import { startServe, type ServeProcess } from '../support/serve.js';
import { openState } from '../../src/store/state.js';
import { labResolvConf, RESOLVER, startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startPebble, type Pebble } from './pebble.js';
import { listenerLine, startPostfix, type PostfixInstance } from './postfix.js';
import { posttlsFinger } from './reference.js';

const avail = labAvailable();
const PEBBLE = '127.0.57.1';
const MAIL = '127.0.10.25';
const CA_NS = '127.0.54.80';
const PRIMARY = '127.0.54.81';
const ZONE = 'api.test';
const OWNER = `_25._tcp.mail.${ZONE}.`;
const LISTEN = '127.0.0.1:8440';
const TSIG = labTsigKey('dk-api-serve');

interface Res {
  status: number;
  body: Record<string, unknown>;
}

interface DomainView {
  domain: { name: string; dane: boolean; certDir?: string };
  status: {
    phase?: string;
    waitingFor?: string | null;
    certificate?: { serial: string; verified: boolean } | null;
    error?: { message: string };
  };
}

describe(
  'danekeeper serve: the JSON API on the real services (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let pebble: Pebble;
    let pf: PostfixInstance;
    let dir: string;
    let s: ServeProcess | undefined;
    const tokens: Record<string, string> = {};
    let env: NodeJS.ProcessEnv;

    /** an API call from inside the namespace (the listener is on its loopback) */
    const api = async (who: string, method: string, path: string, body?: unknown): Promise<Res> => {
      const args = ['-s', '-X', method, '-w', '\n%{http_code}', `http://${LISTEN}/api${path}`];
      args.push('-H', `authorization: Bearer ${tokens[who]!}`);
      if (body !== undefined) {
        args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
      }
      const r = await ns.exec('curl', args, { allowFail: true });
      const i = r.stdout.lastIndexOf('\n');
      const text = r.stdout.slice(0, i);
      return {
        status: Number(r.stdout.slice(i + 1)),
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
    };

    const served = async (): Promise<string[]> => {
      const r = await lab.dig([`@${PRIMARY}`, '+norec', OWNER, 'TLSA']);
      return tlsaIn(r.answer).map((x) => x.toLowerCase());
    };

    /** polls GET /api/v1/domains/ZONE until `ok` says so */
    const watch = async (
      what: string,
      ok: (v: DomainView) => boolean,
      ms = 180_000,
    ): Promise<DomainView> => {
      const end = Date.now() + ms;
      let last: Res | undefined;
      while (Date.now() < end) {
        last = await api('admin', 'GET', `/v1/domains/${ZONE}`);
        assert.equal(last.status, 200, JSON.stringify(last.body));
        const v = last.body as unknown as DomainView;
        if (ok(v)) return v;
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert.fail(`timed out waiting for ${what}: ${JSON.stringify(last?.body)}`);
    };
    const verified = (v: DomainView) =>
      v.status.certificate?.verified === true && v.status.waitingFor == null;

    before(async () => {
      dir = tempDir('dk-lab-api-serve-');
      chmodSync(dir, 0o755);
      // `domain add`'s default --cert-dir is beside the state: DANEKEEPER_STATE_DIR/live/DOMAIN
      env = { DANEKEEPER_STATE_DIR: dir };
      const certDir = join(dir, 'live', ZONE);
      ns = await createNetns({ addresses: [PEBBLE, MAIL], resolvConf: labResolvConf() });
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'ca.test',
            servers: [CA_NS],
            records: [{ name: 'acme', type: 'A', data: PEBBLE }],
          },
          {
            name: ZONE,
            signing: 'inline',
            servers: [PRIMARY],
            updateKeys: [TSIG],
            ttl: 2,
            records: [
              { name: '@', type: 'MX', data: `10 mail.${ZONE}.` },
              { name: 'mail', type: 'A', data: MAIL },
            ],
          },
        ],
      });
      mkdirSync(join(dir, 'pebble'));
      pebble = await startPebble(ns, {
        hostname: 'acme.ca.test',
        address: PEBBLE,
        dnsServer: `${RESOLVER}:53`,
        dir: join(dir, 'pebble'),
      });
      pf = await startPostfix(ns, [], {
        // no reload command comes through the API: each smtpd process reads the files afresh
        main: { max_use: '1' },
        masterExtra: [
          listenerLine({
            address: MAIL,
            port: 25,
            keyFile: join(certDir, 'privkey.pem'),
            chainFile: join(certDir, 'fullchain.pem'),
          }),
        ],
      });
      const config = join(dir, 'danekeeper.ini');
      env.DANEKEEPER_CONFIG = config;
      writeFileSync(
        config,
        [
          '[dns]',
          'backend = rfc2136',
          `zone = ${ZONE}`,
          `server = ${PRIMARY}`,
          `tsig-key-file = ${lab.tsigKeyFile(TSIG)}`,
          `resolver = ${RESOLVER}`,
          '[acme]',
          `directory = ${pebble.directory}`,
          `ca-file = ${pebble.caFile}`,
          `email = hostmaster@${ZONE}`,
          'challenge = http-01',
          'http-listen = 0.0.0.0:80',
          '[ext-sslit]',
          'dane-confirmation-interval-in-hours = 0.001',
          '',
        ].join('\n'),
      );
      const pw = join(dir, 'pw');
      writeFileSync(pw, 'correct horse battery staple\n', { mode: 0o600 });
      for (const args of [
        ['user', 'add', 'admin', '--role', 'admin'],
        ['user', 'add', 'alice', '--role', 'customer', '--domain', ZONE],
        ['user', 'add', 'bob', '--role', 'customer', '--domain', 'other.test'],
      ]) {
        const r = await runCliAsync([...args, '--password-file', pw], { env });
        assert.equal(r.code, 0, r.stderr);
      }
      for (const name of ['admin', 'alice', 'bob']) {
        const r = await runCliAsync(['token', 'create', name], { env });
        assert.equal(r.code, 0, r.stderr);
        tokens[name] = r.stdout.trim();
      }
    });

    after(async () => {
      const keep = setInterval(() => {}, 1000);
      try {
        s?.child.kill('SIGKILL');
        await pf?.stop();
        await pebble?.stop();
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keep);
      }
      if (process.env.DK_LAB_KEEP !== '1' && dir) rmSync(dir, { recursive: true, force: true });
    });

    it('admin adds a domain with DANE over the API, it goes to verified (posttls-finger agrees); a renew through the API is picked up at once; another customer is refused; daneEnabled off refuses DANE and publishes nothing new', async () => {
      // the regular pass is 10 minutes away: only the planner's deadlines and the API's
      // requests make serve act within this test
      s = startServe(['--listen', LISTEN, '--pass-interval', '10m'], { netns: ns.name, env });
      await s.waitFor('listening', (l) => l.event === 'listening');
      await s.waitFor('the first pass', (l) => l.event === 'pass');

      const add = await api('admin', 'POST', '/v1/domains', {
        name: ZONE,
        includeDomainName: false,
        subdomains: ['mail'],
        dane: true,
      });
      assert.equal(add.status, 201, JSON.stringify(add.body));
      const added = add.body.domain as DomainView['domain'] & { mailHosts: string[] };
      assert.deepEqual(added.mailHosts, [`mail.${ZONE}`], 'the MX among the names');
      assert.equal(added.certDir, join(dir, 'live', ZONE), "domain add's default --cert-dir");

      // the new domain wakes the pass: issued now, not at the 10-minute pass
      const first = await watch('verified', verified);
      assert.ok(first.status.certificate!.serial);
      assert.equal((await posttlsFinger(ns, ZONE)).verdict, 'verified');
      const records = await served();
      assert.ok(records.length > 0, 'TLSA records are served');

      // the zone through the configured backend (rfc2136 with TSIG): ours listed, a record
      // added by the owner served, and removed again past the endpoint check (Postfix still
      // presents a chain the remaining records match)
      const list = await api('alice', 'GET', `/v1/domains/${ZONE}/tlsa`);
      assert.equal(list.status, 200, JSON.stringify(list.body));
      const owners = list.body.owners as {
        owner: string;
        records: { rdata: string; kind: string }[];
      }[];
      const at25 = owners.find((o) => o.owner === OWNER);
      assert.deepEqual(
        at25?.records.map((r) => `${r.kind} ${r.rdata.toLowerCase()}`).sort(),
        records.map((r) => `ours ${r}`).sort(),
      );
      const extra = `3 1 1 ${'5a'.repeat(32)}`;
      const hand = await api('alice', 'POST', `/v1/domains/${ZONE}/tlsa`, {
        port: '25',
        protocol: 'tcp',
        name: `mail.${ZONE}`,
        usage: '3',
        selector: '1',
        mtype: '1',
        data: '5a'.repeat(32),
        ttl: '',
      });
      assert.equal(hand.status, 201, JSON.stringify(hand.body));
      assert.ok((await served()).includes(extra), 'served after the add');
      const removed = await api('alice', 'POST', `/v1/domains/${ZONE}/tlsa/remove`, {
        name: `mail.${ZONE}`,
        port: 25,
        rdata: extra,
      });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assert.deepEqual((await served()).sort(), [...records].sort());
      for (const path of [
        `/v1/domains/${ZONE}/dnssec`,
        `/v1/domains/${ZONE}/prereq`,
        `/v1/check/${ZONE}`,
      ]) {
        const r = await api('alice', 'GET', path);
        assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
        if (path.endsWith('/prereq')) {
          const backend = (r.body.observations as { backend: { state: string; zone: string } })
            .backend;
          assert.deepEqual([backend.state, backend.zone], ['reachable', `${ZONE}.`]);
        }
        if (path.endsWith('/dnssec')) {
          assert.equal((r.body.chain as { status: string }).status, 'secure');
        }
      }

      // another customer: not shown, not readable, not renewable
      const bobList = await api('bob', 'GET', '/v1/domains');
      assert.equal(bobList.status, 200);
      assert.equal(bobList.body.total, 0);
      for (const [method, path] of [
        ['GET', `/v1/domains/${ZONE}`],
        ['POST', `/v1/domains/${ZONE}/renew`],
        ['GET', `/v1/domains/${ZONE}/tlsa`],
      ] as const) {
        const r = await api('bob', method, path);
        assert.ok(r.status === 403 || r.status === 404, `${method} ${path}: ${r.status}`);
        assert.match(String((r.body.error as { message: string }).message), /bob may not/);
      }
      assert.ok(!s.lines.some((l) => l.event === 'renew-request'), "bob's renew was not queued");

      // renew through the API by the owner: serve takes it at once (a new certificate)
      const t0 = Date.now();
      const renew = await api('alice', 'POST', `/v1/domains/${ZONE}/renew`);
      assert.equal(renew.status, 200, JSON.stringify(renew.body));
      assert.deepEqual(renew.body, { domain: ZONE, renew: 'requested' });
      await s.waitFor(
        'the request handed to a pass',
        (l) => l.event === 'renew-request' && l.result !== 'busy',
        30_000,
      );
      const handed = s.lines.find((l) => l.event === 'renew-request' && l.result !== 'busy')!;
      assert.ok(
        (handed.actions as string[]).includes('orderCertificate'),
        `the request's pass ordered: ${JSON.stringify(handed)}`,
      );
      assert.ok(Date.now() - t0 < 30_000, 'within seconds, not at the 10-minute pass');
      const second = await watch(
        'the renewed certificate verified',
        (v) => verified(v) && v.status.certificate!.serial !== first.status.certificate!.serial,
      );
      assert.notEqual(second.status.certificate!.serial, first.status.certificate!.serial);
      assert.equal((await posttlsFinger(ns, ZONE)).verdict, 'verified');

      // issue 10, a kill -9 loses nothing: a renew answered 200 while another process holds
      // the domain (this test, as a `run` would) cannot be taken yet; serve is killed before
      // any pass takes it, and the next serve carries it out, once
      const db = openState(join(dir, 'state.db'));
      const other = `${hostname()}:${process.pid}`;
      try {
        assert.ok(db.rollover.acquireLease(ZONE, other, 600_000, new Date()));
        const seen = s.lines.length;
        const queued = await api('alice', 'POST', `/v1/domains/${ZONE}/renew`);
        assert.equal(queued.status, 200, JSON.stringify(queued.body));
        await s.waitFor(
          'the pass that finds the domain held',
          (l) => l.event === 'renew-request' && l.result === 'busy',
          30_000,
        );
        assert.ok(
          s.lines.slice(seen).every((l) => l.event !== 'renew-request' || l.result === 'busy'),
        );
        s.child.kill('SIGKILL');
        await s.exited;
        assert.deepEqual(
          db.requests.list().map((r) => [r.domain, r.request, r.askedBy]),
          [[ZONE, 'renew', 'alice']],
          'the request outlived the process',
        );
        db.rollover.releaseLease(ZONE, other);
        s = startServe(['--listen', LISTEN, '--pass-interval', '10m'], { netns: ns.name, env });
        await s.waitFor('listening again', (l) => l.event === 'listening');
        const taken = await s.waitFor(
          'the request handed to the first pass of the new serve',
          (l) => l.event === 'renew-request',
          60_000,
        );
        assert.notEqual(taken.result, 'busy');
        assert.ok((taken.actions as string[]).includes('orderCertificate'), JSON.stringify(taken));
        const third = await watch(
          'the certificate of the request verified',
          (v) => verified(v) && v.status.certificate!.serial !== second.status.certificate!.serial,
        );
        assert.equal((await posttlsFinger(ns, ZONE)).verdict, 'verified');
        assert.deepEqual(db.requests.list(), [], 'taken, and gone from the table');
        // exactly once: the passes after it (woken by a settings write) order nothing more
        const passes = s.lines.filter((l) => l.event === 'pass').length;
        let k = 0;
        const same = await api('admin', 'PUT', '/v1/settings', { daneEnabled: true });
        assert.equal(same.status, 200, JSON.stringify(same.body));
        await s.waitFor('a pass after', (l) => l.event === 'pass' && ++k > passes, 30_000);
        assert.equal(s.lines.filter((l) => l.event === 'renew-request').length, 1);
        const now = await api('alice', 'GET', `/v1/domains/${ZONE}`);
        assert.equal(
          (now.body as unknown as DomainView).status.certificate!.serial,
          third.status.certificate!.serial,
          'no second renewal',
        );
      } finally {
        db.close();
      }

      // daneEnabled off by the admin: refused with a message; the pass publishes nothing new
      const before = await served();
      const tOff = Date.now();
      const off = await api('admin', 'PUT', '/v1/settings', { daneEnabled: false });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      assert.equal(off.body.daneEnabled, false);
      const refused = await api('admin', 'POST', '/v1/domains', {
        name: `second.${ZONE}`,
        subdomains: ['mail'],
        dane: true,
      });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.match(
        String((refused.body.error as { message: string }).message),
        /Cannot add second\.api\.test with DANE: DANE is turned off on this server/,
      );
      const on = await api('alice', 'POST', `/v1/domains/${ZONE}/enable-dane`);
      assert.equal(on.status, 409, JSON.stringify(on.body));
      assert.match(String((on.body.error as { message: string }).message), /daneEnabled is off/);
      // the settings change woke the pass: it went over the domain with DANE off
      await s.waitFor(
        'a pass over the domain after the change',
        (l) => l.event === 'domain' && l.domain === ZONE && Date.parse(String(l.time)) >= tOff,
        30_000,
      );
      const after = await served();
      assert.deepEqual(
        after.filter((r) => !before.includes(r)),
        [],
        'no new TLSA record with DANE off',
      );
      // turning DANE off for the domain is still allowed; the pass may hold it just now, and a
      // client is told so (409 E_DOMAIN_BUSY) and asks again
      let disable = await api('alice', 'POST', `/v1/domains/${ZONE}/disable-dane`);
      for (let i = 0; i < 60 && disable.status === 409; i++) {
        assert.equal((disable.body.error as { code: string }).code, 'E_DOMAIN_BUSY');
        await new Promise((r) => setTimeout(r, 500));
        disable = await api('alice', 'POST', `/v1/domains/${ZONE}/disable-dane`);
      }
      assert.equal(disable.status, 200, JSON.stringify(disable.body));
      const st = await api('admin', 'GET', `/v1/domains/${ZONE}`);
      assert.equal((st.body.domain as { dane: boolean }).dane, false);

      s.child.kill('SIGTERM');
      assert.equal(await s.exited, 0, s.stderr());
      assert.equal(s.stderr(), '');
      assert.ok(!s.lines.some((l) => l.level === 'error'), 'no error logged (no 500)');
    });
  },
);
