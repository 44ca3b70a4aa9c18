/**
 * `danekeeper prereq DOMAIN` against the lab: BIND serving a signed tree, Unbound validating, a
 * Postfix receiving on two addresses (127.0.10.25 offers STARTTLS, 127.0.10.26 does not), and
 * danekeeper's rfc2136 backend pointed at each zone's primary through a config file. One zone
 * meets every prerequisite (exit 0); each other zone breaks one, and the test checks that exactly
 * that requirement fails, with its fix, while the others stay as they were.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliAsync, type CliResult } from '../support/cli.js';
import { makePki, tempDir } from '../support/pki.js';
import { startDnsLab, type DnsLab, type RecordSpec } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startPostfix, type PostfixInstance } from './postfix.js';

const avail = labAvailable();
const TLS_MX = '127.0.10.25';
const PLAIN_MX = '127.0.10.26';
/** nothing listens here: an MX "elsewhere" that is still inside the namespace */
const OTHER_MX = '127.0.10.99';
const GOOD_PRIMARY = '127.0.54.160';
const KEY = labTsigKey('dk-prereq-update');
const LAG_PRIMARY = '127.0.54.161';
const LAG_SECONDARY = '127.0.54.162';

const KEY_B64 = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'der' })
  .toString('base64');
/** RFC 1035 §3.3.14: a character-string holds at most 255 octets; split as signers do. */
const txt = (s: string) => (s.match(/.{1,200}/g) ?? ['']).map((c) => `"${c}"`).join(' ');
const DKIM_OK = txt(`v=DKIM1; k=rsa; p=${KEY_B64}`);

const mail = (
  address: string,
  dkim: RecordSpec[] = [{ name: 'default._domainkey', type: 'TXT', data: DKIM_OK }],
) => [
  { name: '@', type: 'MX', data: '10 mail' },
  { name: 'mail', type: 'A', data: address },
  ...dkim,
];

interface Finding {
  requirement: string;
  status: 'ok' | 'warn' | 'fail' | 'unknown';
  message: string;
  fix?: string;
}
interface Report {
  domain: string;
  zone: string | null;
  status: string;
  findings: Finding[];
}

describe(
  'danekeeper prereq (lab, real BIND + Unbound + Postfix)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let pf: PostfixInstance;
    let dir: string;
    let keyFile: string;

    /** A config whose [dns] names the zone and the server danekeeper would update. */
    const config = (zone: string, server: string) => {
      const f = join(dir, `${zone}-${server}.ini`);
      writeFileSync(
        f,
        `[dns]\nzone = ${zone}\nbackend = rfc2136\nserver = ${server}\ntsig-key-file = ${keyFile}\nresolver = ${lab.resolver}\n`,
      );
      return f;
    };

    const prereq = async (
      domain: string,
      extra: string[] = [],
      server?: string,
    ): Promise<{ r: CliResult; rep: Report; by: Record<string, Finding> }> => {
      const cfg = config(domain, server ?? lab.zone(domain).servers[0]!);
      const r = await runCliAsync(
        [
          'prereq',
          domain,
          '--address',
          TLS_MX,
          '--address',
          PLAIN_MX,
          '--timeout',
          '5',
          '--json',
          ...extra,
        ],
        { netns: ns.name, env: { DANEKEEPER_CONFIG: cfg } },
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      let rep: Report;
      try {
        rep = JSON.parse(r.stdout) as Report;
      } catch {
        assert.fail(`not JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
      }
      if (process.env.DK_SHOW) {
        const t = await runCliAsync(
          [
            'prereq',
            domain,
            '--address',
            TLS_MX,
            '--address',
            PLAIN_MX,
            '--timeout',
            '5',
            ...extra,
          ],
          {
            netns: ns.name,
            env: { DANEKEEPER_CONFIG: cfg },
          },
        );
        process.stderr.write(
          `$ danekeeper prereq ${domain} ${extra.join(' ')}\n${t.stdout}${t.stderr}[exit ${t.code}]\n`,
        );
      }
      return { r, rep, by: Object.fromEntries(rep.findings.map((f) => [f.requirement, f])) };
    };

    /** every requirement but `failing` is ok */
    const onlyFails = (by: Record<string, Finding>, failing: string[]) => {
      for (const [req, f] of Object.entries(by)) {
        assert.equal(f.status, failing.includes(req) ? 'fail' : 'ok', `${req}: ${f.message}`);
      }
    };

    before(async () => {
      ns = await createNetns();
      dir = tempDir('dk-prereq-lab-');
      const pki = makePki(dir, { names: ['mail.good.test'] });
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'good.test',
            signing: 'inline',
            servers: [GOOD_PRIMARY],
            updateKeys: [KEY],
            records: mail(TLS_MX),
          },
          { name: 'nodkim.test', records: mail(TLS_MX, []) },
          {
            name: 'baddkim.test',
            records: mail(TLS_MX, [
              { name: 'revoked._domainkey', type: 'TXT', data: '"v=DKIM1; k=rsa; p="' },
              {
                name: 'garbage._domainkey',
                type: 'TXT',
                data: '"v=DKIM1; k=rsa; p=bm90IGEga2V5IGF0IGFsbA=="',
              },
            ]),
          },
          { name: 'elsewhere.test', records: mail(OTHER_MX) },
          { name: 'unsigned.test', security: 'insecure', records: mail(TLS_MX) },
          { name: 'badds.test', security: 'bogus-ds', records: mail(TLS_MX) },
          { name: 'plain.test', records: mail(PLAIN_MX) },
          {
            name: 'lag.test',
            signing: 'inline',
            servers: [LAG_PRIMARY],
            secondaries: [LAG_SECONDARY],
            updateKeys: [KEY],
            records: mail(TLS_MX),
          },
        ],
        tsigKeys: [KEY],
      });
      keyFile = lab.tsigKeyFile(KEY);
      pf = await startPostfix(ns, [
        { address: TLS_MX, port: 25, keyFile: pki.leaf.keyFile, chainFile: pki.chainFile },
        {
          address: PLAIN_MX,
          port: 25,
          keyFile: pki.leaf.keyFile,
          chainFile: pki.chainFile,
          noStarttls: true,
        },
      ]);
    });

    after(async () => {
      const keepAlive = setInterval(() => {}, 1000);
      try {
        await pf?.stop();
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keepAlive);
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a signed zone with DKIM, MX to this server, STARTTLS and the backend as primary: all ok, exit 0', async () => {
      const { r, rep, by } = await prereq('good.test');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(rep.status, 'ok');
      onlyFails(by, []);
      assert.match(by.dkim!.message, /selector default/);
      assert.match(
        by.starttls!.message,
        /^mail\.good\.test 127\.0\.10\.25 offers STARTTLS and completes the TLS handshake \(TLSv1\.3 /,
      );
      assert.equal(by.mx!.message, 'The MX host is this server: mail.good.test (127.0.10.25).');
      assert.match(by['dns-backend']!.message, /reachable through rfc2136 at 127\.0\.54\.160/);
      assert.match(
        by.delegation!.message,
        /test delegates good\.test to ns1\.good\.test; each answers authoritatively/,
      );
      // the text report: one line per requirement, no fix lines
      const t = await runCliAsync(['prereq', 'good.test', '--address', TLS_MX, '--timeout', '5'], {
        netns: ns.name,
        env: { DANEKEEPER_CONFIG: config('good.test', GOOD_PRIMARY) },
      });
      assert.equal(t.code, 0, t.stdout + t.stderr);
      const lines = t.stdout.trim().split('\n');
      assert.equal(lines.filter((l) => /^ok {6}/.test(l)).length, 6, t.stdout);
      assert.doesNotMatch(t.stdout, /fix:/);
      assert.match(lines.at(-1)!, /All prerequisites are met/);
    });

    it('no DKIM key: dkim fails with the record to publish, exit 2', async () => {
      const { r, by } = await prereq('nodkim.test');
      assert.equal(r.code, 2, r.stdout + r.stderr);
      onlyFails(by, ['dkim']);
      assert.match(by.dkim!.message, /No DKIM key at any of the usual selectors \(default, mail, /);
      assert.match(by.dkim!.fix!, /default\._domainkey\.nodkim\.test\. IN TXT "v=DKIM1; k=rsa; p=/);
    });

    it('a revoked key and a garbage key: dkim fails with why', async () => {
      const rev = await prereq('baddkim.test', ['--dkim-selector', 'revoked']);
      assert.equal(rev.r.code, 2);
      onlyFails(rev.by, ['dkim']);
      assert.match(
        rev.by.dkim!.message,
        /revoked\._domainkey\.baddkim\.test: p= is empty: the key is revoked/,
      );
      assert.match(rev.by.dkim!.fix!, /generate a new key pair/);
      const bad = await prereq('baddkim.test', ['--dkim-selector', 'garbage']);
      assert.equal(bad.r.code, 2);
      onlyFails(bad.by, ['dkim']);
      assert.match(
        bad.by.dkim!.message,
        /garbage\._domainkey\.baddkim\.test: p= is not an RSA public key/,
      );
    });

    it('MX pointing elsewhere: mx fails (and nothing answers STARTTLS there)', async () => {
      const { r, by } = await prereq('elsewhere.test');
      assert.equal(r.code, 2);
      onlyFails(by, ['mx', 'starttls']);
      assert.match(
        by.mx!.message,
        /No MX host of elsewhere\.test resolves to this server \(127\.0\.10\.25 and 127\.0\.10\.26\): mail\.elsewhere\.test \(127\.0\.10\.99\)/,
      );
      assert.match(
        by.mx!.fix!,
        /elsewhere\.test\. IN MX 10 mail\.elsewhere\.test\. and mail\.elsewhere\.test\. IN A 127\.0\.10\.25/,
      );
      assert.match(by.starttls!.message, /127\.0\.10\.99.*connection refused/);
    });

    it('an unsigned zone: dnssec fails with how to sign it', async () => {
      const { r, by } = await prereq('unsigned.test');
      assert.equal(r.code, 2);
      onlyFails(by, ['dnssec']);
      assert.match(by.dnssec!.message, /unsigned\.test is not signed/);
      assert.match(by.dnssec!.fix!, /dnssec-policy/);
    });

    it('a DS that matches no key: dnssec fails with the DS to give the registrar', async () => {
      const { r, by } = await prereq('badds.test');
      assert.equal(r.code, 2);
      assert.equal(by.dnssec!.status, 'fail');
      assert.match(
        by.dnssec!.message,
        /No DS at the parent zone test matches any key of badds\.test/,
      );
      assert.match(
        by.dnssec!.fix!,
        /Replace the DS records at the registrar with:\nbadds\.test\.? .*DS \d+ 13 2 [0-9A-F]+/,
      );
      // validating resolvers reject the zone's answers: MX and the DKIM key are bogus too
      assert.equal(by.dkim!.status, 'fail');
      assert.match(by.dkim!.fix!, /Repair the chain of trust first/);
      assert.equal(by.mx!.status, 'fail');
      assert.match(by.mx!.message, /fail DNSSEC validation \(bogus\)/);
    });

    it('Postfix without STARTTLS: starttls fails with the Postfix settings to add', async () => {
      const { r, by } = await prereq('plain.test');
      assert.equal(r.code, 2);
      onlyFails(by, ['starttls']);
      assert.match(
        by.starttls!.message,
        /mail\.plain\.test 127\.0\.10\.26: .*does not offer STARTTLS/,
      );
      assert.match(by.starttls!.fix!, /smtpd_tls_security_level = may/);
    });

    it('the backend does not serve the zone: dns-backend fails, the fix makes it the primary', async () => {
      // the config sends updates for good.test to nodkim.test's server
      const { r, by } = await prereq('good.test', [], lab.zone('nodkim.test').servers[0]!);
      assert.equal(r.code, 2);
      onlyFails(by, ['dns-backend']);
      assert.match(
        by['dns-backend']!.message,
        /Reading good\.test\.? through rfc2136 at 127\.0\.54\.\d+.* failed/,
      );
      assert.match(by['dns-backend']!.fix!, /the primary for good\.test/);
    });

    it('no [dns] settings, no --address: dns-backend fails with the settings to write; MX cannot be judged', async () => {
      // the namespace has only loopback, which is no address other hosts reach this server on
      const r = await runCliAsync(
        ['prereq', 'good.test', '--resolver', lab.resolver, '--timeout', '5', '--json'],
        { netns: ns.name, env: { DANEKEEPER_CONFIG: '/dev/null' } },
      );
      assert.equal(r.code, 2, r.stdout + r.stderr);
      const by = Object.fromEntries(
        (JSON.parse(r.stdout) as Report).findings.map((f) => [f.requirement, f]),
      );
      assert.equal(by['dns-backend']!.status, 'fail');
      assert.match(by['dns-backend']!.message, /^No DNS backend is configured/);
      assert.match(
        by['dns-backend']!.fix!,
        /zone = good\.test, backend = rfc2136 with server = PRIMARY/,
      );
      assert.equal(by.mx!.status, 'unknown');
      assert.match(by.mx!.fix!, /--address/);
      for (const req of ['starttls', 'dkim', 'delegation', 'dnssec'])
        assert.equal(by[req]!.status, 'ok', req);
    });

    it('a secondary behind the primary: delegation warns with what to check, exit 1', async () => {
      // an update on the primary; the secondary gets no NOTIFY and keeps the old serial
      const u = await lab.nsupdate({
        zone: 'lag.test',
        key: KEY,
        commands: ['update add www.lag.test. 300 A 127.0.0.80'],
      });
      assert.equal(u.rcode, 'NOERROR', u.stderr);
      const { r, by } = await prereq('lag.test');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.equal(by.delegation!.status, 'warn');
      assert.match(by.delegation!.message, /lag\.test serve different SOA serials/);
      assert.match(by.delegation!.fix!, /NOTIFY and zone transfers/);
      const t = await runCliAsync(['prereq', 'lag.test', '--address', TLS_MX, '--timeout', '5'], {
        netns: ns.name,
        env: { DANEKEEPER_CONFIG: config('lag.test', LAG_PRIMARY) },
      });
      assert.equal(t.code, 1);
      assert.match(t.stdout, /^WARN {4}The parent's delegation .*\n {8}fix: Check NOTIFY/m);
      assert.match(
        t.stdout,
        /All prerequisites are met \(1 with a warning\): DANE can be turned on\.\n$/,
      );
      for (const req of ['starttls', 'dkim', 'dns-backend', 'mx', 'dnssec']) {
        assert.equal(by[req]!.status, 'ok', `${req}: ${by[req]!.message}`);
      }
    });

    it('a resolver that does not answer: nothing can be decided, exit 3', async () => {
      const r = await runCliAsync(
        [
          'prereq',
          'good.test',
          '--resolver',
          '127.0.53.99',
          '--address',
          TLS_MX,
          '--timeout',
          '2',
          '--json',
        ],
        { netns: ns.name, env: { DANEKEEPER_CONFIG: config('good.test', GOOD_PRIMARY) } },
      );
      assert.equal(r.code, 3, r.stdout + r.stderr);
      const by = Object.fromEntries(
        (JSON.parse(r.stdout) as Report).findings.map((f) => [f.requirement, f]),
      );
      for (const req of ['starttls', 'dkim', 'delegation', 'mx', 'dnssec']) {
        assert.equal(by[req]!.status, 'unknown', `${req}: ${by[req]!.message}`);
      }
    });
  },
);
