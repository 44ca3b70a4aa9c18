/**
 * The re-add journey (issue 11, found by P1 in the lab): `domain add --dane`, `run` until idle,
 * `domain remove` (the records stay published: a service may still present the certificate),
 * `domain add --dane` again, `run` until idle, `disable-dane`, `run` until idle — all through the
 * CLI against Pebble, an inline-signed BIND with TSIG and a lagging secondary, Unbound and a
 * Postfix serving the domain's --cert-dir (the bring-up of rollover.test.ts, one domain, no
 * sender). At every run boundary `posttls-finger -l dane` says Verified while a record is
 * served and plain TLS once none is, never a DANE failure (RFC 7672 §2.2). The re-added domain
 * takes over the records published before (event "Took over ..."), so they go once stale and
 * none is left when DANE is off; before, they stayed at the owner for ever.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/pki.js';
import { labResolvConf, RESOLVER, startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startPebble, type Pebble } from './pebble.js';
import { listenerLine, POSTFIX, startPostfix, type PostfixInstance } from './postfix.js';
import { posttlsFinger } from './reference.js';

const avail = labAvailable();
const PEBBLE = '127.0.57.1';
const MAIL = '127.0.10.25';
const CA_NS = '127.0.54.80';
const PRIMARY = '127.0.54.81';
const SECONDARY = '127.0.54.82';
const ZONE = 'readd.test';
const OWNER = `_25._tcp.mail.${ZONE}.`;
const TSIG = labTsigKey('dk-readd');
const IDLE = new RegExp(`^${ZONE.replace(/\./g, '\\.')}: (secured, )?idle`, 'm');

interface Status {
  domains: { name: string; phase: string }[];
}
interface Shown {
  events?: { kind: string; message: string }[];
}

describe(
  'danekeeper: a domain removed and added again, then DANE off (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let pebble: Pebble;
    let pf: PostfixInstance;
    let dir: string;
    let certDir: string;
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

    const served = async (server: string): Promise<string[]> => {
      const r = await lab.dig([`@${server}`, '+norec', OWNER, 'TLSA']);
      return tlsaIn(r.answer).map((x) => x.toLowerCase());
    };
    const servedAnywhere = async (): Promise<string[]> => {
      const [a, b] = await Promise.all([served(PRIMARY), served(SECONDARY)]);
      return [...new Set([...a, ...b])];
    };

    /** RFC 7672 §2.2: Verified while any record is served, plain TLS once none is; never a failure. */
    const boundary = async (when: string, firstInstall = false): Promise<void> => {
      const any = (await servedAnywhere()).length > 0;
      const f = await posttlsFinger(ns, ZONE);
      // before the first installation Postfix has no certificate to present: nothing to break
      if (firstInstall && f.verdict === 'unreachable') return;
      if (any) assert.equal(f.verdict, 'verified', `${when}: records served\n${f.output}`);
      // none served any more: the resolver may still hold the RRset for its TTL (RFC 7671
      // §8.1), so Verified is as right as plain TLS; a failure never is
      else
        assert.ok(
          ['verified', 'no-dane'].includes(f.verdict),
          `${when}: no record served\n${f.output}`,
        );
    };

    /** `run` until idle, checking each run boundary; returns every run's output. */
    const runUntilIdle = async (what: string, firstInstall = false): Promise<string[]> => {
      const outs: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = dk(['run']);
        assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        outs.push(r.stdout);
        // the lagging secondary (no NOTIFY) is brought up to date between runs
        await lab.refreshSecondary(ZONE);
        await boundary(`${what}, after run ${i + 1}`, firstInstall);
        if (IDLE.test(r.stdout)) return outs;
        await new Promise((res) => setTimeout(res, 1000));
      }
      assert.fail(`${what}: never idle\n${log.slice(-6).join('\n')}`);
    };

    const add = () =>
      dk([
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

    before(async () => {
      dir = tempDir('dk-lab-readd-');
      chmodSync(dir, 0o755);
      certDir = join(dir, 'live', ZONE);
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
        await pf?.stop();
        await pebble?.stop();
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keep);
      }
      if (process.env.DK_LAB_KEEP !== '1' && dir) rmSync(dir, { recursive: true, force: true });
    });

    it('add --dane, remove, add --dane again, DANE off: verified or plain TLS at every run boundary, the old records taken over and removed, none left', async () => {
      assert.equal(add().code, 0);
      await runUntilIdle('first issuance', true);
      const old = await servedAnywhere();
      assert.ok(old.length > 0, 'the first issuance published records');
      assert.equal((await posttlsFinger(ns, ZONE)).verdict, 'verified');

      const rm = dk(['domain', 'remove', ZONE]);
      assert.equal(rm.code, 0, rm.stderr);
      // the records stay: Postfix still presents the certificate they match
      assert.deepEqual((await servedAnywhere()).sort(), [...old].sort());
      await boundary('after domain remove');

      assert.equal(add().code, 0);
      await runUntilIdle('after adding it again');
      const shown = dk(['domain', 'show', ZONE, '--json']);
      assert.equal(shown.code, 0, shown.stderr);
      const events = (JSON.parse(shown.stdout) as Shown).events ?? [];
      assert.ok(
        events.some((e) => e.message.startsWith('Took over ') && e.message.includes(OWNER)),
        `no "Took over" event: ${events.map((e) => e.message).join('\n')}`,
      );
      const now = await servedAnywhere();
      for (const r of old)
        assert.ok(
          !now.includes(r),
          `the old record ${r} is still served once stale: ${now.join(', ')}`,
        );
      assert.ok(now.length > 0, 'the re-added domain publishes its own records');
      assert.equal((await posttlsFinger(ns, ZONE)).verdict, 'verified');

      const off = dk(['domain', 'disable-dane', ZONE]);
      assert.equal(off.code, 0, off.stderr);
      const outs = await runUntilIdle('after disable-dane');
      assert.deepEqual(await served(PRIMARY), [], 'the primary serves none of our records');
      assert.deepEqual(await served(SECONDARY), [], 'nor the secondary');
      // the resolver's copy of the RRset runs out within its TTL (2 s): then plain TLS
      let last = '';
      for (let i = 0; i < 10; i++) {
        last = (await posttlsFinger(ns, ZONE)).verdict;
        if (last === 'no-dane') break;
        assert.equal(last, 'verified', 'a cached RRset still matches; never a failure');
        await new Promise((res) => setTimeout(res, 1000));
      }
      assert.equal(last, 'no-dane', 'plain TLS once no cache can hold the records');

      // run and status --json agree on the phase at the end
      assert.match(outs.at(-1)!, IDLE);
      const st = dk(['status', '--json']);
      assert.equal(st.code, 0, st.stderr);
      const d = (JSON.parse(st.stdout) as Status).domains.find((x) => x.name === ZONE)!;
      assert.equal(d.phase, 'idle');
    });
  },
);
