/**
 * The automatic path end to end (issue 9): `domain add --dane`, then repeated `danekeeper run`
 * against Pebble (HTTP-01 answered by run's own listener), BIND with a TSIG-updatable
 * inline-signed zone and a secondary that lags (no NOTIFY) until the test refreshes it,
 * Unbound, and a Postfix whose smtpd_tls_chain_files point into the domain's --cert-dir.
 * Between runs the test looks at what Postfix presents and at what both authoritative servers
 * serve: at no run boundary may Postfix present a chain that no record served by every server
 * matches (DESIGN.md "The one invariant"). Ends with posttls-finger -l dane saying Verified,
 * then `renew --force` (same key, no TLSA change) and `renew --rotate-key`. After the first
 * installation, the renewal and the rotation a sending Postfix (`smtp_tls_security_level =
 * dane`, reference.ts) delivers a message: its log says Verified and the receiver holds it.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { cliEntry, runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/pki.js';
import { labResolvConf, RESOLVER, startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startPebble, type Pebble } from './pebble.js';
import { listenerLine, POSTFIX, startPostfix, type PostfixInstance } from './postfix.js';
import { posttlsFinger, startSender, type Sender } from './reference.js';

const avail = labAvailable();
const PEBBLE = '127.0.57.1';
const MAIL = '127.0.10.25';
/** the second domain's mail host: --new-key-each-renewal --issuer-records */
const MAIL2 = '127.0.10.26';
const TWO = `two.${'roll.test'}`;
const CA_NS = '127.0.54.80';
const PRIMARY = '127.0.54.81';
const SECONDARY = '127.0.54.82';
const ZONE = 'roll.test';
const OWNER = `_25._tcp.mail.${ZONE}.`;
const TSIG = labTsigKey('dk-rollover');

interface Status {
  domains: {
    name: string;
    phase: string;
    waitingFor: string | null;
    certificate: { id: string; serial: string; keyId: string; verified: boolean } | null;
    keys: {
      current: { id: string; spki: string } | null;
      next: { id: string; spki: string } | null;
    };
    tlsa: { rdata: string; role: string; servedBy: string[]; notServedBy: string[] }[];
  }[];
}

describe(
  'danekeeper run: the keep-secured pass end to end (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let pebble: Pebble;
    let pf: PostfixInstance;
    let sender: Sender;
    let dir: string;
    let certDir: string;
    let certDir2: string;
    let config: string;
    const log: string[] = [];

    const dk = (args: string[]): CliResult => {
      const r = runCli([...args, '--config', config], {
        netns: ns.name,
        timeoutMs: 120_000,
        env: { DANEKEEPER_STATE_DIR: dir },
      });
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
      log.push(`$ danekeeper ${args.join(' ')}\n${r.stdout}${r.stderr}[exit ${r.code}]`);
      if (process.env.DK_SHOW) process.stderr.write(`${log.at(-1)}\n`);
      return r;
    };

    const status = (): Status => {
      const r = dk(['status', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Status;
    };

    /** the 3 1 1 record of the leaf Postfix presents now; null when it offers no TLS */
    const presented = (address = MAIL): string | null => chainRecords(address)?.[0] ?? null;

    /** 3 1 1 of the presented leaf, then 2 1 1 of its issuer (`tlsa --fetch --chain`) */
    const chainRecords = (address: string): string[] | null => {
      const r = runCli(['tlsa', '--fetch', `${address}:25`, '--chain'], { netns: ns.name });
      return r.code === 0 ? r.stdout.trim().toLowerCase().split('\n') : null;
    };

    const served = async (server: string, owner = OWNER): Promise<string[]> => {
      const r = await lab.dig([`@${server}`, '+norec', owner, 'TLSA']);
      return tlsaIn(r.answer).map((x) => x.toLowerCase());
    };

    /** DESIGN.md "The one invariant", checked at a run boundary. */
    const invariant = async (when: string) => {
      await invariantAt(when, MAIL, OWNER);
      await invariantAt(when, MAIL2, `_25._tcp.mail.${TWO}.`);
    };
    const invariantAt = async (when: string, address: string, owner: string) => {
      const chain = chainRecords(address);
      if (chain === null) return;
      const [a, b] = await Promise.all([served(PRIMARY, owner), served(SECONDARY, owner)]);
      // before the first publish there is no RRset: no DANE, nothing to break
      if (a.length === 0 && b.length === 0) return;
      // RFC 7672 §3.1: a 3 1 1 of the leaf or a 2 1 1 of the issuer the server sends matches
      assert.ok(
        chain.some((p) => a.includes(p) && b.includes(p)),
        `${when}: ${address} presents ${chain.join(', ')}, served: primary ${a.join(', ')}; secondary ${b.join(', ')}`,
      );
    };

    /** `run` until the domain is idle; the lagging secondary is refreshed when the pass waits on it. */
    const runUntilIdle = async (what: string, domain = ZONE) => {
      for (let i = 0; i < 40; i++) {
        const r = dk(['run']);
        assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        await invariant(`${what}, after run ${i + 1}`);
        if (r.stdout.split('\n').some((l) => l.startsWith(`${domain}: secured, idle`))) return;
        if (/propagating/.test(r.stdout)) await lab.refreshSecondary(ZONE);
        else await new Promise((res) => setTimeout(res, 1500));
      }
      assert.fail(`${what}: never idle\n${log.slice(-6).join('\n')}`);
    };

    const verified = async (domain = ZONE) => {
      const f = await posttlsFinger(ns, domain);
      assert.equal(f.verdict, 'verified', f.output);
      return f;
    };

    /**
     * RFC 7672 §2.2: a DANE-enabled sender hands a message over only after the TLSA match; the
     * receiver puts it on hold (check_recipient_access static:HOLD), so it stays in its queue
     * for the test to find.
     */
    const delivers = async (tag: string) => {
      const rcpt = `${tag}@${ZONE}`;
      await sender.send(rcpt);
      const d = (await sender.waitForOutcomes([rcpt])).get(rcpt)!;
      assert.equal(d.status, 'sent', `${tag}: ${d.reason}\n${d.warnings.join('\n')}`);
      assert.equal(d.tls, 'Verified', `${tag}: ${d.relay} ${d.reason}`);
      assert.match(d.relay, /^mail\.roll\.test\[127\.0\.10\.25\]:25$/);
      const q = await pf.exec('postqueue', ['-j'], { timeoutMs: 10_000 });
      const held = q.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { queue_name: string; recipients: { address: string }[] });
      assert.ok(
        held.some((m) => m.queue_name === 'hold' && m.recipients.some((r) => r.address === rcpt)),
        `${tag}: the receiver holds no message to ${rcpt}: ${q.stdout}`,
      );
    };

    before(async () => {
      dir = tempDir('dk-lab-rollover-');
      chmodSync(dir, 0o755);
      certDir = join(dir, 'live', ZONE);
      certDir2 = join(dir, 'live', TWO);
      // 127/8 is local on lo as it is: MAIL and MAIL2 are not added, or the sender's
      // inet_interfaces = loopback-only would take them for its own ("loops back to myself")
      ns = await createNetns({ addresses: [PEBBLE], resolvConf: labResolvConf() });
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
            secondaries: [SECONDARY],
            updateKeys: [TSIG],
            ttl: 2,
            records: [
              { name: '@', type: 'MX', data: `10 mail.${ZONE}.` },
              { name: 'mail', type: 'A', data: MAIL },
              { name: 'two', type: 'MX', data: `10 mail.${TWO}.` },
              { name: 'mail.two', type: 'A', data: MAIL2 },
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
      const line = listenerLine({
        address: MAIL,
        port: 25,
        keyFile: join(certDir, 'privkey.pem'),
        chainFile: join(certDir, 'fullchain.pem'),
      });
      const line2 = listenerLine({
        address: MAIL2,
        port: 25,
        keyFile: join(certDir2, 'privkey.pem'),
        chainFile: join(certDir2, 'fullchain.pem'),
      });
      pf = await startPostfix(ns, [], {
        masterExtra: [line, line2],
        main: { smtpd_recipient_restrictions: 'check_recipient_access static:HOLD' },
      });
      sender = await startSender(ns);
      config = join(dir, 'danekeeper.ini');
      writeFileSync(
        config,
        [
          '[dns]',
          'backend = rfc2136',
          `zone = ${ZONE}`,
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
          '',
        ].join('\n'),
      );
    });

    after(async () => {
      const keep = setInterval(() => {}, 1000);
      try {
        await sender?.stop();
        await pf?.stop();
        await pebble?.stop();
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keep);
      }
      if (process.env.DK_LAB_KEEP !== '1' && dir) rmSync(dir, { recursive: true, force: true });
    });

    it('domain add --dane, run until idle: Postfix verified by posttls-finger, a DANE sender delivers, status idle with the records on every server', async () => {
      const add = dk([
        'domain',
        'add',
        ZONE,
        '--no-domain-name',
        '--subdomain',
        'mail',
        '--dane',
        '--cert-dir',
        certDir,
        '--reload',
        `${POSTFIX} -c ${pf.configDir} reload`,
        '--resolver',
        RESOLVER,
      ]);
      assert.equal(add.code, 0, add.stderr);
      await runUntilIdle('first issuance');
      await verified();
      await delivers('first');
      const s = status().domains[0]!;
      assert.equal(s.phase, 'idle');
      assert.ok(s.certificate?.verified);
      const cur = s.tlsa.find((t) => t.role === 'current-key')!;
      assert.equal(cur.servedBy.length, 2, JSON.stringify(cur));
      assert.equal(cur.notServedBy.length, 0);
      assert.ok(s.tlsa.some((t) => t.role === 'next-key'));
      assert.equal(presented(), cur.rdata);
      // the ACME account (its key) is kept next to the state database, 0600
      const acct = readdirSync(dir).filter((f) => /^acme-account-[0-9a-f]+\.json$/.test(f));
      assert.equal(acct.length, 1);
      assert.equal(statSync(join(dir, acct[0]!)).mode & 0o777, 0o600);
    });

    it('renew --force: a new certificate with the same key, no TLSA change, verified, delivered to', async () => {
      const before = status().domains[0]!;
      const records = (await served(PRIMARY)).sort();
      const r = dk(['renew', ZONE, '--force']);
      assert.equal(r.code, 0, r.stderr);
      await invariant('after renew --force');
      await runUntilIdle('renew --force');
      const after = status().domains[0]!;
      assert.notEqual(after.certificate!.serial, before.certificate!.serial);
      assert.equal(after.certificate!.keyId, before.certificate!.keyId);
      assert.deepEqual((await served(PRIMARY)).sort(), records);
      await verified();
      await delivers('renewed');
    });

    it('renew --rotate-key: the next key (confirmed long before) is installed, a new next key is published, delivered to', async () => {
      const before = status().domains[0]!;
      const r = dk(['renew', ZONE, '--rotate-key']);
      assert.equal(r.code, 0, r.stderr);
      await invariant('after renew --rotate-key');
      await runUntilIdle('renew --rotate-key');
      const after = status().domains[0]!;
      assert.equal(after.certificate!.keyId, before.keys.next!.id);
      assert.equal(after.keys.current!.id, before.keys.next!.id);
      assert.notEqual(after.keys.next!.id, before.keys.next!.id);
      assert.equal(presented(), `3 1 1 ${before.keys.next!.spki}`);
      await verified();
      await delivers('rotated');
    });

    it('kill -9 anywhere in a pass: the next run carries on, and no run boundary breaks the invariant', async () => {
      const killed = async (args: string[], ms: number): Promise<void> => {
        const child = spawn(
          'ip',
          [
            'netns',
            'exec',
            ns.name,
            process.execPath,
            '--import',
            'tsx',
            cliEntry,
            ...args,
            '--config',
            config,
          ],
          { env: { ...process.env, DANEKEEPER_STATE_DIR: dir }, stdio: 'ignore' },
        );
        const done = new Promise<void>((res) => child.on('exit', () => res()));
        await new Promise((res) => setTimeout(res, ms));
        child.kill('SIGKILL');
        await done;
      };
      const before = status().domains[0]!;
      // each kill lands somewhere else: start-up, planning, ACME, install, reload, publishing
      for (const ms of [300, 1200, 1800, 2400, 3000, 3600, 4500]) {
        await killed(['renew', ZONE, '--rotate-key'], ms);
        await invariant(`after kill -9 at ${ms} ms`);
      }
      await runUntilIdle('after the kills');
      const after = status().domains[0]!;
      assert.equal(after.phase, 'idle');
      assert.ok(after.certificate!.verified);
      assert.notEqual(after.keys.current!.id, before.keys.current!.id, 'some rotation got through');
      assert.equal(presented(), `3 1 1 ${after.keys.current!.spki}`);
      await verified();
    });

    it('--new-key-each-renewal --issuer-records: 2 1 1 of the issuer next to 3 1 1, no next key; renew --force is a rotation, installed at once under the confirmed 2 1 1', async () => {
      const one = (st: Status) => st.domains.find((x) => x.name === TWO)!;
      const add = dk([
        'domain',
        'add',
        TWO,
        '--no-domain-name',
        '--subdomain',
        'mail',
        '--dane',
        '--new-key-each-renewal',
        '--issuer-records',
        '--cert-dir',
        certDir2,
        '--reload',
        `${POSTFIX} -c ${pf.configDir} reload`,
        '--resolver',
        RESOLVER,
      ]);
      assert.equal(add.code, 0, add.stderr);
      await runUntilIdle('issuance of the second domain', TWO);
      await verified(TWO);
      const s1 = one(status());
      assert.equal(s1.phase, 'idle');
      assert.equal(s1.keys.next, null);
      const issuer = s1.tlsa.filter((t) => t.role === 'issuer');
      assert.ok(issuer.length >= 1 && issuer.every((t) => t.rdata.startsWith('2 1 1 ')));
      assert.ok(issuer.every((t) => t.servedBy.length === 2));
      const r = dk(['renew', TWO, '--force']);
      assert.equal(r.code, 0, r.stderr);
      await invariant('after renew --force of the second domain');
      await runUntilIdle('renewal with a new key', TWO);
      const s2 = one(status());
      assert.notEqual(s2.keys.current!.id, s1.keys.current!.id);
      assert.equal(s2.certificate!.keyId, s2.keys.current!.id);
      assert.equal(presented(MAIL2), `3 1 1 ${s2.keys.current!.spki}`);
      await verified(TWO);
      const text = dk(['status', TWO]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^two\.roll\.test: idle$/m);
      assert.match(
        text.stdout,
        /certificate two\.roll\.test#c\d+: serial [0-9a-f]+, valid .* verified live/,
      );
      assert.match(
        text.stdout,
        /TLSA _25\._tcp\.mail\.two\.roll\.test\. 2 1 1 [0-9a-f]{64} \(issuer\): published; served by ns[12]\.roll\.test \(127\.0\.54\.8[12]\), ns[12]\.roll\.test \(127\.0\.54\.8[12]\);/,
      );
      assert.doesNotMatch(text.stdout, /next-key/);
    });

    it('disable-dane: our records leave both servers, then a renewal with a new key goes in; never a moment a DANE client refuses', async () => {
      const owner = `_25._tcp.mail.${TWO}.`;
      const one = (st: Status) => st.domains.find((x) => x.name === TWO)!;
      const idleLine = new RegExp(`^${TWO.replace(/\./g, '\\.')}: (secured, )?idle`, 'm');
      const before = one(status());
      const off = dk(['domain', 'disable-dane', TWO]);
      assert.equal(off.code, 0, off.stderr);
      // the removal, then idle; posttls-finger at each boundary: verified while a record is
      // served, plain TLS once none is (RFC 7672 §2.2), never a DANE failure
      for (let i = 0; i < 20; i++) {
        const r = dk(['run']);
        assert.equal(r.code, 0, r.stderr);
        const f = await posttlsFinger(ns, TWO);
        assert.ok(['verified', 'no-dane'].includes(f.verdict), `after run ${i + 1}: ${f.output}`);
        await lab.refreshSecondary(ZONE);
        const [a, b] = await Promise.all([served(PRIMARY, owner), served(SECONDARY, owner)]);
        if (a.length === 0 && b.length === 0 && idleLine.test(r.stdout)) break;
        await new Promise((res) => setTimeout(res, 1500));
      }
      assert.deepEqual(await served(PRIMARY, owner), [], 'the primary serves none of our records');
      assert.deepEqual(await served(SECONDARY, owner), [], 'nor the secondary');
      // a renewal with a new key (--new-key-each-renewal) is installed only once no cache can
      // hold the removed records (2 x TTL after the last server stopped serving them)
      const r = dk(['renew', TWO, '--force']);
      assert.equal(r.code, 0, r.stderr);
      for (let i = 0; i < 20; i++) {
        const run = dk(['run']);
        assert.equal(run.code, 0, run.stderr);
        const f = await posttlsFinger(ns, TWO);
        // the resolver may still hold the removed RRset for its TTL (RFC 7671 §8.1): Verified
        // is as right as plain TLS then; a DANE failure never is
        assert.ok(['verified', 'no-dane'].includes(f.verdict), `after run ${i + 1}: ${f.output}`);
        if (idleLine.test(run.stdout) && one(status()).keys.current!.id !== before.keys.current!.id)
          break;
        await new Promise((res) => setTimeout(res, 1500));
      }
      const after = one(status());
      assert.notEqual(after.keys.current!.id, before.keys.current!.id, 'a new key is in use');
      assert.equal(presented(MAIL2), `3 1 1 ${after.keys.current!.spki}`);
      assert.deepEqual(await served(PRIMARY, owner), [], 'nothing published with DANE off');
    });
  },
);
