/**
 * Issue 9, "Must show": each failure of the automatic path ends in a safe state (the old
 * certificate still served and still matched by a served record: posttls-finger -l dane says
 * Verified), a `status` that says what failed, when the next attempt is and what to do, the same
 * in `status --json`, and a non-zero exit of `run`; once the fault is removed the next runs
 * complete. One lab (BIND inline-signed with TSIG, Unbound, Pebble behind a small proxy that can
 * answer rateLimited, Postfix), several faults in sequence:
 *
 * - ACME rate limit (the proxy answers newOrder with RFC 8555 rateLimited and a Retry-After);
 * - a failed challenge (HTTP-01: run's listener is not where the CA connects);
 * - the DNS server refusing the update (a TSIG key named knows but that may update nothing);
 * - the DNS server unreachable (`[dns] server` names an address where nothing answers), and a
 *   wrong TSIG key (BADSIG): the backend cannot even be read;
 * - a reload command that fails;
 * - a reload that exits 0 but leaves the old certificate served.
 *
 * Postfix serves copies of the --cert-dir files that only the reload script refreshes (as a
 * service that reads its files once would), so "the reload did not take" is deterministic.
 * `[run] retry-seconds` and `verify-grace-seconds` in the config file shorten the waits.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/pki.js';
import { labResolvConf, RESOLVER, startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import { labTsigKey, writeTsigKeyFile } from './dns/tsig.js';
import { createNetns, labAvailable, type LabProcess, type Netns } from './netns.js';
import { PEBBLE_PORT, startPebble, type Pebble } from './pebble.js';
import { listenerLine, POSTFIX, startPostfix, type PostfixInstance } from './postfix.js';
import { posttlsFinger } from './reference.js';

const avail = labAvailable();
const PEBBLE = '127.0.57.1';
const PROXY = '127.0.57.2';
const MAIL = '127.0.11.25';
const CA_NS = '127.0.54.90';
const PRIMARY = '127.0.54.91';
/** nothing listens here: the DNS server is unreachable */
const DEAD = '127.0.54.99';
const ZONE = 'fault.test';
const OWNER = `_25._tcp.mail.${ZONE}.`;
const TSIG = labTsigKey('dk-faults');
/** named knows it, but it may update nothing: an update signed with it is REFUSED */
const REFUSED = labTsigKey('dk-faults-readonly');
const RETRY_S = 2;

interface Status {
  domains: {
    name: string;
    phase: string;
    waitingFor: string | null;
    until: string | null;
    next: string;
    hint?: string | null;
    failure: { code: string; message: string; attempts: number; retryAt: string } | null;
    certificate: { id: string; serial: string; keyId: string; verified: boolean } | null;
    keys: {
      current: { id: string; spki: string } | null;
      next: { id: string; spki: string } | null;
    };
    tlsa: { rdata: string; role: string; servedBy: string[] }[];
  }[];
}

describe(
  'the automatic path: every failure ends safe, says what and when, and exits non-zero (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let pebble: Pebble;
    let proxy: LabProcess;
    let pf: PostfixInstance;
    let dir: string;
    let certDir: string;
    let config: string;
    let faultFile: string;
    let reloadMode: string;
    const log: string[] = [];

    const writeConfig = (
      o: { server?: string; key?: string; httpListen?: string; retry?: number } = {},
    ) =>
      writeFileSync(
        config,
        [
          '[dns]',
          'backend = rfc2136',
          `zone = ${ZONE}`,
          `server = ${o.server ?? PRIMARY}`,
          `tsig-key-file = ${o.key ?? lab.tsigKeyFile(TSIG)}`,
          `resolver = ${RESOLVER}`,
          '[store]',
          `path = ${join(dir, 'state.db')}`,
          '[acme]',
          `directory = https://acme.ca.test:${PEBBLE_PORT}/dir`,
          `ca-file = ${pebble.caFile}`,
          `email = hostmaster@${ZONE}`,
          'challenge = http-01',
          `http-listen = ${o.httpListen ?? '0.0.0.0:80'}`,
          '[run]',
          `retry-seconds = ${o.retry ?? RETRY_S}`,
          'verify-grace-seconds = 3',
          '[ext-sslit]',
          'dane-confirmation-interval-in-hours = 0.001',
          '',
        ].join('\n'),
      );

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

    const status = (): Status['domains'][number] => {
      const r = dk(['status', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as Status).domains[0]!;
    };
    const statusText = (): string => {
      const r = dk(['status', ZONE]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };

    const presented = (): string | null => {
      const r = runCli(['tlsa', '--fetch', `${MAIL}:25`], { netns: ns.name });
      return r.code === 0 ? r.stdout.trim().toLowerCase() : null;
    };
    const served = async (): Promise<string[]> => {
      const r = await lab.dig([`@${PRIMARY}`, '+norec', OWNER, 'TLSA']);
      return tlsaIn(r.answer).map((x) => x.toLowerCase());
    };

    /** DESIGN.md "The one invariant", and what a DANE sender sees: Verified. */
    const safe = async (when: string, serial?: string) => {
      const p = presented();
      // before the first installation Postfix has no certificate (and no record is relied on)
      if (p === null && status().certificate === null) return;
      assert.ok(p, `${when}: Postfix presents no certificate`);
      assert.ok((await served()).includes(p), `${when}: ${p} is not served`);
      const f = await posttlsFinger(ns, ZONE);
      assert.equal(f.verdict, 'verified', `${when}: ${f.output}`);
      if (serial)
        assert.equal(status().certificate!.serial, serial, `${when}: certificate changed`);
    };

    const runUntilIdle = async (what: string) => {
      for (let i = 0; i < 30; i++) {
        const r = dk(['run']);
        await safe(`${what}, after run ${i + 1}`);
        if (r.code === 0 && r.stdout.includes(`${ZONE}: secured, idle`)) return;
        await new Promise((res) => setTimeout(res, 1000));
      }
      assert.fail(`${what}: never idle\n${log.slice(-6).join('\n')}`);
    };

    /** until the failure's retryAt has passed */
    const waitRetry = async (s: Status['domains'][number]) => {
      const ms = Date.parse(s.failure?.retryAt ?? s.until ?? '') - Date.now();
      if (ms > 0) await new Promise((res) => setTimeout(res, ms + 300));
    };

    /**
     * The common checks of one fault: `run` (or renew) exited 75 naming the failure on stderr;
     * status --json carries the failure and its retry moment; the text says what failed, when
     * the next attempt is, and what to do.
     */
    const failedAs = (r: CliResult, code: RegExp, hint: RegExp) => {
      assert.equal(r.code, 75, `exit status 75 (EX_TEMPFAIL): ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^danekeeper: fault\.test: .*\(next attempt after \S+\)/m);
      const s = status();
      assert.ok(s.failure, JSON.stringify(s));
      assert.match(s.failure.code, code);
      assert.ok(Date.parse(s.failure.retryAt) > Date.now() - 60_000);
      assert.match(s.hint ?? '', hint);
      const text = statusText();
      assert.match(text, new RegExp(`last failure: ${s.failure.code}: `));
      assert.match(text, /next attempt at \S+|the next run tries again/);
      assert.match(text, /what to do: /);
      return s;
    };

    /**
     * The backend cannot be read: `run` said so on stderr quoting `reason`, and status carries
     * the reason in `next` (the planner waits for the backend) or in the hint (it waits on
     * something else meanwhile, e.g. a confirmation).
     */
    const backendSaid = (r: CliResult, reason: RegExp) => {
      assert.match(
        r.stderr,
        /Cannot read the records at .* from the DNS backend|the DNS backend cannot be read at /,
      );
      assert.match(r.stderr, reason);
      assert.match(r.stderr, /tsig-key-file/);
      const s = status();
      assert.match(s.waitingFor === 'backend' ? s.next : (s.hint ?? ''), reason);
      return s;
    };

    before(async () => {
      dir = tempDir('dk-lab-faults-');
      chmodSync(dir, 0o755);
      certDir = join(dir, 'live', ZONE);
      const servedDir = join(dir, 'served');
      mkdirSync(servedDir);
      faultFile = join(dir, 'acme-fault');
      reloadMode = join(dir, 'reload-mode');
      writeFileSync(faultFile, '');
      writeFileSync(reloadMode, 'ok\n');
      ns = await createNetns({ addresses: [PEBBLE, PROXY], resolvConf: labResolvConf() });
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'ca.test',
            servers: [CA_NS],
            records: [{ name: 'acme', type: 'A', data: PROXY }],
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
        tsigKeys: [REFUSED],
      });
      mkdirSync(join(dir, 'pebble'));
      pebble = await startPebble(ns, {
        hostname: 'acme.ca.test',
        address: PEBBLE,
        dnsServer: `${RESOLVER}:53`,
        dir: join(dir, 'pebble'),
        nonceReject: 0,
      });
      proxy = ns.spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(import.meta.dirname, 'rollover-acme-proxy.ts'),
          PROXY,
          String(PEBBLE_PORT),
          PEBBLE,
          join(dir, 'pebble', 'pebble-https.crt'),
          join(dir, 'pebble', 'pebble-https.key'),
          faultFile,
        ],
        { label: 'acme-proxy' },
      );
      await ns.probe([{ host: PROXY, port: PEBBLE_PORT, kind: 'tls' }], 15_000);
      pf = await startPostfix(ns, [], {
        masterExtra: [
          listenerLine({
            address: MAIL,
            port: 25,
            keyFile: join(servedDir, 'privkey.pem'),
            chainFile: join(servedDir, 'fullchain.pem'),
          }),
        ],
      });
      // run without a shell by danekeeper (argv); the mode file says which fault it plays
      const script = join(dir, 'reload.sh');
      writeFileSync(
        script,
        [
          '#!/bin/sh',
          `case "$(cat ${reloadMode})" in`,
          '  fail) echo "lab: reload refused" >&2; exit 1 ;;',
          '  noop) exit 0 ;;',
          'esac',
          `cp ${certDir}/privkey.pem ${certDir}/fullchain.pem ${servedDir}/ || exit 1`,
          `exec ${POSTFIX} -c ${pf.configDir} reload`,
          '',
        ].join('\n'),
      );
      chmodSync(script, 0o755);
      config = join(dir, 'danekeeper.ini');
      writeConfig();
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
        script,
        '--resolver',
        RESOLVER,
      ]);
      assert.equal(add.code, 0, add.stderr);
    });

    after(async () => {
      const keep = setInterval(() => {}, 1000);
      try {
        await pf?.stop();
        await proxy?.stop();
        await pebble?.stop();
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keep);
      }
      if (process.env.DK_LAB_KEEP !== '1' && dir) rmSync(dir, { recursive: true, force: true });
    });

    it('first issuance through the proxy: verified', async () => {
      await runUntilIdle('first issuance');
      assert.ok(status().certificate?.verified);
    });

    it('ACME rate limit: exit 75, the Retry-After is the next attempt, the old certificate stays; then renewed', async () => {
      const before = status().certificate!.serial;
      writeFileSync(faultFile, 'rate-limit 10\n');
      let s: Status['domains'][number];
      try {
        const t0 = Date.now();
        const r = dk(['renew', ZONE, '--force']);
        s = failedAs(r, /^E_ACME_RATE_LIMITED$/, /rate limit/i);
        assert.match(s.failure!.message, /rateLimited/);
        // RFC 8555 §6.6: the server's Retry-After (10 s) is the floor, not our 2 s backoff
        const at = Date.parse(s.failure!.retryAt);
        assert.ok(at - t0 >= 9_500, `retryAt ${s.failure!.retryAt} honours Retry-After`);
        await safe('rate limited', before);
        // while backing off, run does nothing and still says so with a non-zero exit
        const again = dk(['run']);
        assert.equal(again.code, 75, again.stdout + again.stderr);
        assert.match(again.stderr, /next attempt/);
      } finally {
        writeFileSync(faultFile, '');
      }
      await waitRetry(s);
      await runUntilIdle('after the rate limit');
      assert.notEqual(status().certificate!.serial, before);
    });

    it('a failed challenge (the CA cannot reach the HTTP-01 listener): exit 75, safe; fixed, `renew DOMAIN` tries now instead of in 10 minutes; then renewed', async () => {
      const before = status().certificate!.serial;
      // a backoff of 10 minutes: only a person's renew can make it sooner
      writeConfig({ httpListen: '0.0.0.0:81', retry: 600 });
      try {
        const r = dk(['renew', ZONE, '--force']);
        const s = failedAs(r, /^E_ACME_CHALLENGE_FAILED$/, /port 80|http-listen|webroot/);
        assert.ok(Date.parse(s.failure!.retryAt) - Date.now() > 500_000, s.failure!.retryAt);
        assert.match(s.hint ?? '', new RegExp(`then \`danekeeper renew ${ZONE}\` to try now`));
        await safe('challenge failed', before);
      } finally {
        writeConfig();
      }
      const again = dk(['run']);
      assert.equal(again.code, 75, 'still backing off');
      const now = dk(['renew', ZONE]);
      assert.match(now.stdout + now.stderr, /orderCertificate/);
      assert.doesNotMatch(now.stderr, /E_ACME/);
      await runUntilIdle('after the failed challenge');
      assert.notEqual(status().certificate!.serial, before);
    });

    it('the DNS server refuses the update: exit 75, the rotation stays safe; then the new next key is published', async () => {
      writeConfig({ key: lab.tsigKeyFile(REFUSED) });
      let s: Status['domains'][number];
      try {
        const r0 = dk(['renew', ZONE, '--rotate-key']);
        s = failedAs(r0, /^E_PUBLISH_(REFUSED|NOTAUTH|AUTH)$/, /TSIG|update-policy|allow-update/);
        await safe('update refused');
      } finally {
        writeConfig();
      }
      await waitRetry(s);
      await runUntilIdle('after the refused update');
      const after = status();
      assert.ok(after.keys.next);
      assert.deepEqual(
        (await served()).sort(),
        [after.keys.current!.spki, after.keys.next.spki].map((x) => `3 1 1 ${x}`).sort(),
      );
    });

    it('the DNS server unreachable: run exits 75 and status says the backend cannot be read; then it carries on', async () => {
      writeConfig({ server: DEAD });
      try {
        const r = dk(['renew', ZONE, '--rotate-key']);
        assert.equal(r.code, 75, r.stdout + r.stderr);
        // the backend's own reason is quoted: the planner waits for the backend, or (the next
        // key's record still being confirmed) goes on meanwhile and run says so
        const s = backendSaid(r, /127\.0\.54\.99:53 failed: connection refused/);
        assert.match(s.hint ?? '', /\[dns\] server|reachable/);
        assert.match(statusText(), /what to do: /);
        await safe('DNS unreachable');
      } finally {
        writeConfig();
      }
      await runUntilIdle('after the DNS server came back');
      const after = status();
      assert.deepEqual(
        (await served()).sort(),
        [after.keys.current!.spki, after.keys.next!.spki].map((x) => `3 1 1 ${x}`).sort(),
      );
    });

    it('a wrong TSIG key (the server answers BADSIG): run exits 75 naming the backend, status says to check the key; then it carries on', async () => {
      const wrong = writeTsigKeyFile(join(dir, 'wrong-tsig.key'), {
        ...TSIG,
        secret: labTsigKey('x').secret,
      });
      writeConfig({ key: wrong });
      try {
        const r = dk(['renew', ZONE, '--rotate-key']);
        assert.equal(r.code, 75, r.stdout + r.stderr);
        // the backend's own reason, quoted (world.ts readError), not a guess
        const s = backendSaid(r, /TSIG key "dk-faults".*\(BADSIG\)/);
        assert.match(s.hint ?? '', /TSIG key \(tsig-key-file\) is right/);
        await safe('wrong TSIG key');
      } finally {
        writeConfig();
      }
      await runUntilIdle('after the TSIG key was put right');
      const after = status();
      assert.deepEqual(
        (await served()).sort(),
        [after.keys.current!.spki, after.keys.next!.spki].map((x) => `3 1 1 ${x}`).sort(),
      );
    });

    it('a reload command that fails: exit 75, the old certificate still served; then installed', async () => {
      const before = status().certificate!.serial;
      writeFileSync(reloadMode, 'fail\n');
      let s: Status['domains'][number];
      try {
        let r = dk(['renew', ZONE, '--force']);
        for (let i = 0; i < 10 && r.code === 0; i++) {
          await safe(`failing reload, run ${i + 1}`);
          await new Promise((res) => setTimeout(res, 1000));
          r = dk(['run']);
        }
        // deploy puts the previous pair back at once when a reload command fails
        // one code for "a reload command failed, the previous pair is back" (scripts tell it
        // from the one for a reload that succeeded but did not take)
        s = failedAs(r, /^E_DEPLOY_ROLLED_BACK_RELOAD$/, /reload command failed/);
        assert.match(s.failure!.message, /Reload command .* exited 1: lab: reload refused/);
        await safe('reload failed');
      } finally {
        writeFileSync(reloadMode, 'ok\n');
      }
      await waitRetry(s);
      await runUntilIdle('after the reload was fixed');
      assert.notEqual(status().certificate!.serial, before);
    });

    it('a reload that leaves the old certificate served: exit 75 after the live check, the old pair put back; then installed', async () => {
      const before = status().certificate!.serial;
      writeFileSync(reloadMode, 'noop\n');
      let s: Status['domains'][number];
      try {
        let r = dk(['renew', ZONE, '--force']);
        for (let i = 0; i < 10 && r.code === 0; i++) {
          await safe(`reload without effect, run ${i + 1}`);
          await new Promise((res) => setTimeout(res, 1000));
          r = dk(['run']);
        }
        // deploy's own probe (or the planner's live check) sees the old certificate
        s = failedAs(
          r,
          /^E_(DEPLOY_ROLLED_BACK_NOT_SERVED|ROLLOVER_VERIFY)$/,
          /still presents another/,
        );
        assert.match(s.failure!.message, /not served as installed|[Ll]ive verification/);
        await safe('reload without effect', before);
      } finally {
        writeFileSync(reloadMode, 'ok\n');
      }
      await waitRetry(s);
      await runUntilIdle('after the reload was fixed');
      assert.notEqual(status().certificate!.serial, before);
    });
  },
);
