/**
 * Issue 10 "Must show", first bullet, with `danekeeper serve` running (not `watch check` by
 * hand): a lab Postfix presenting mx.mon.test's chain and relaying notifications into a lab
 * mailbox, a webhook receiver in the namespace (F2's webhook-listener.ts), BIND with a
 * secondary, Unbound. serve's monitoring job runs every `[monitor] interval-minutes = 0.2`
 * (12 s); each problem made by hand is told within one interval by e-mail and by a signed
 * webhook, shows in /metrics as `danekeeper_monitor_finding`, and its undoing sends the recovery
 * notice and clears the series:
 *
 * - the certificate replaced by hand with one that matches no TLSA record (live-mismatch);
 * - a secondary that stops transferring (its SOA serial behind the primary's);
 * - RRSIGs close to expiry (sig.test re-signed with a 3-day validity; it has no secondary, so
 *   re-signing cannot also put a secondary behind).
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliAsync } from '../support/cli.js';
import { makePki, tempDir } from '../support/pki.js';
import { parsePrometheus, type Sample } from '../support/prometheus.js';
import { startServe, type ServeProcess } from '../support/serve.js';
import { labResolvConf, startDnsLab, type DnsLab, type RecordSpec } from './dns/dnslab.js';
import { createNetns, labAvailable, sleep, type LabProcess, type Netns } from './netns.js';
import { startPostfix, type PostfixInstance } from './postfix.js';
import { spkiSha256 } from './scenarios.js';

const avail = labAvailable();
const MX = '127.0.10.1';
const RELAY = '127.0.10.9';
const HOOK = '127.0.10.20';
const SECONDARY = '127.0.54.161';
const LISTEN = '127.0.0.1:8440';
const SECRET = 'lab-webhook-secret-serve-0123456789';
const INTERVAL_MS = 12_000; // [monitor] interval-minutes = 0.2
/** the most a monitoring pass (both domains, deliveries included) may take; asserted below */
const PASS_MS = 8_000;
/**
 * "Within one interval", honestly: the change may land just after a pass looked, so that pass
 * ends (a pass), the scheduler waits the interval plus its jitter (a tenth, scheduler.ts), and
 * the next pass sees it and delivers (a pass).
 */
const WITHIN_MS = PASS_MS + INTERVAL_MS + INTERVAL_MS / 10 + PASS_MS;

interface Notice {
  type: string;
  kind: string;
  domain: string;
}

describe('serve: monitoring and notifications (lab)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let dns: DnsLab;
  let pf: PostfixInstance;
  let hook: LabProcess;
  let serve: ServeProcess;
  let dir: string;
  let config: string;
  let hookFile: string;
  let mailDir: string;
  let liveKey: string;
  let liveChain: string;
  let good: { key: string; chain: string };
  let bad: { key: string; chain: string };
  let records: RecordSpec[];
  let sigRecords: RecordSpec[];

  const hooks = (): { headers: Record<string, string>; body: string }[] =>
    existsSync(hookFile)
      ? readFileSync(hookFile, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as { headers: Record<string, string>; body: string })
      : [];
  const mails = (): string[] => {
    const d = join(mailDir, 'admin', 'new');
    return existsSync(d)
      ? readdirSync(d)
          .sort()
          .map((f) => readFileSync(join(d, f), 'utf8').replace(/\r?\n[ \t]+/g, ' '))
      : [];
  };
  const counts = () => ({ mails: mails().length, hooks: hooks().length });
  const subject = (m: string) => /^Subject: (.*)$/m.exec(m)?.[1] ?? '(no subject)';

  /**
   * Waits (at most WITHIN_MS from `since`, taken before the change was made) for `n` more mails
   * and `n` more signed webhooks (one per notice), and checks the pass that told them was no
   * slower than PASS_MS, which WITHIN_MS counts on.
   */
  async function told(
    from: { mails: number; hooks: number },
    since: number,
    n = 1,
  ): Promise<{ mails: string[]; notices: Notice[] }> {
    while (Date.now() - since < WITHIN_MS) {
      if (mails().length >= from.mails + n && hooks().length >= from.hooks + n) break;
      await sleep(250);
    }
    const took = Date.now() - since;
    const newMails = mails().slice(from.mails);
    const newHooks = hooks().slice(from.hooks);
    assert.equal(newMails.length, n, `mails within one interval: ${newMails.map(subject)}`);
    assert.equal(newHooks.length, n, 'webhook calls within one interval');
    for (const h of newHooks) {
      // what a receiver does: HMAC-SHA256 of the raw body under the shared secret
      const want = `sha256=${createHmac('sha256', SECRET).update(h.body).digest('hex')}`;
      const got = h.headers['x-danekeeper-signature'] ?? '';
      assert.ok(
        got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want)),
        'webhook signature verifies',
      );
    }
    const pass = (await metrics()).find(
      (s) => s.name === 'danekeeper_monitor_last_pass_duration_seconds',
    )!.value;
    assert.ok(pass * 1000 <= PASS_MS, `a monitoring pass took ${pass} s`);
    console.log(`told in ${(took / 1000).toFixed(1)} s (last pass ${pass.toFixed(2)} s)`);
    return {
      mails: newMails,
      notices: newHooks.flatMap((h) => (JSON.parse(h.body) as { notices: Notice[] }).notices),
    };
  }

  /** /metrics read inside the namespace */
  const metrics = async (): Promise<Sample[]> => {
    const r = await ns.exec('curl', ['-sf', `http://${LISTEN}/metrics`]);
    return parsePrometheus(r.stdout);
  };
  const findings = async () =>
    (await metrics())
      .filter((s) => s.name === 'danekeeper_monitor_finding' && s.value === 1)
      .map((s) => `${s.labels.domain} ${s.labels.kind} ${s.labels.severity} ${s.labels.subject}`);

  /** Puts key+chain where Postfix reads them and makes it re-read them (as an admin would). */
  async function present(pair: { key: string; chain: string }) {
    copyFileSync(pair.key, liveKey);
    copyFileSync(pair.chain, liveChain);
    process.kill(pf.pid, 'SIGHUP');
    const want = spkiSha256(readFileSync(pair.chain, 'utf8'));
    const until = Date.now() + 10_000;
    for (;;) {
      const r = await ns.exec(
        'openssl',
        ['s_client', '-connect', `${MX}:25`, '-starttls', 'smtp', '-servername', 'mx.mon.test'],
        { allowFail: true, input: '', timeoutMs: 5000 },
      );
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(r.stdout);
      if (pem && spkiSha256(new X509Certificate(pem[0]).toString()) === want) return;
      if (Date.now() > until) throw new Error('Postfix did not pick up the new chain');
      await sleep(250);
    }
  }

  before(async () => {
    dir = tempDir('dk-serve-monitor-');
    // virtual(8) runs as the postfix user and must reach the maildir below (files stay 0600)
    chmodSync(dir, 0o755);
    const g = makePki(dir, { prefix: 'good-', names: ['mx.mon.test', 'mx.sig.test'] });
    const b = makePki(dir, { prefix: 'bad-', names: ['mx.mon.test'] });
    good = { key: g.leaf.keyFile, chain: g.chainFile };
    bad = { key: b.leaf.keyFile, chain: b.chainFile };
    liveKey = join(dir, 'live.key');
    liveChain = join(dir, 'live.pem');
    copyFileSync(good.key, liveKey);
    copyFileSync(good.chain, liveChain);
    records = [
      { name: '@', type: 'MX', data: '10 mx' },
      { name: 'mx', type: 'A', data: MX },
      { name: '_25._tcp.mx', type: 'TLSA', data: `3 1 1 ${spkiSha256(g.leaf.certPem)}` },
    ];
    // sig.test's mail host is the relay's listener, which keeps the good chain: replacing
    // mx.mon.test's certificate touches mon.test only
    sigRecords = [
      { name: '@', type: 'MX', data: '10 mx' },
      { name: 'mx', type: 'A', data: RELAY },
      { name: '_25._tcp.mx', type: 'TLSA', data: `3 1 1 ${spkiSha256(g.leaf.certPem)}` },
    ];
    ns = await createNetns({ addresses: [MX, RELAY, HOOK], resolvConf: labResolvConf() });
    dns = await startDnsLab(ns, {
      zones: [
        { name: 'mon.test', secondaries: [SECONDARY], records },
        { name: 'sig.test', records: sigRecords },
      ],
    });
    mailDir = join(dir, 'mail');
    mkdirSync(mailDir, { recursive: true });
    const uid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postfix'], { encoding: 'utf8' }).trim());
    chownSync(mailDir, uid, gid);
    pf = await startPostfix(
      ns,
      [
        { address: MX, port: 25, keyFile: liveKey, chainFile: liveChain },
        { address: RELAY, port: 25, keyFile: good.key, chainFile: good.chain },
      ],
      {
        hostname: 'relay.notify.test',
        main: {
          virtual_mailbox_domains: 'notify.test',
          virtual_mailbox_base: mailDir,
          virtual_mailbox_maps: 'inline:{ admin@notify.test=admin/ }',
          virtual_minimum_uid: '1',
          virtual_uid_maps: `static:${uid}`,
          virtual_gid_maps: `static:${gid}`,
        },
      },
    );
    hookFile = join(dir, 'hooks.jsonl');
    hook = ns.spawn(process.execPath, [
      '--import',
      'tsx',
      join(import.meta.dirname, 'webhook-listener.ts'),
      HOOK,
      '8080',
      hookFile,
    ]);
    await ns.probe([{ host: HOOK, port: 8080, kind: 'tcp' }], 15_000);
    const secretFile = join(dir, 'hook.secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    config = join(dir, 'danekeeper.ini');
    writeFileSync(
      config,
      [
        '[store]',
        `path = ${join(dir, 'state.db')}`,
        '[dns]',
        'resolver = 127.0.53.53',
        '[notify]',
        'email = admin@notify.test',
        `smtp = ${RELAY}:25`,
        'from = danekeeper@notify.test',
        `webhook = http://${HOOK}:8080/hook`,
        `webhook-secret-file = ${secretFile}`,
        '[monitor]',
        'interval-minutes = 0.2',
        'rrsig-warn-days = 7',
        '',
      ].join('\n'),
    );
    for (const d of ['mon.test', 'sig.test']) {
      const r = await runCliAsync(['watch', d, '--config', config], { netns: ns.name });
      assert.equal(r.code, 0, r.stderr);
    }
    serve = startServe(['--config', config, '--listen', LISTEN, '--pass-interval', '60m'], {
      netns: ns.name,
    });
    // the monitoring job runs at start: a clean round, nothing told
    const l = await serve.waitFor('the first monitoring round', (x) => x.event === 'monitor');
    assert.equal(l.findings, 0, JSON.stringify(l));
  });

  after(async () => {
    if (serve) {
      serve.child.kill('SIGTERM');
      const code = await serve.exited;
      assert.equal(code, 0, `serve exit ${code}: ${serve.stderr()}`);
      assert.doesNotMatch(serve.raw.join('\n'), new RegExp(SECRET), 'no webhook secret in the log');
    }
    await hook?.stop();
    await pf?.stop();
    await dns?.stop();
    await ns?.destroy();
  });

  it('a certificate replaced by hand is told within one interval (mail, signed webhook, /metrics), and so is putting it back', async () => {
    assert.deepEqual(await findings(), []);
    const m0 = await metrics();
    assert.ok(
      m0.find((s) => s.name === 'danekeeper_monitor_last_pass_timestamp_seconds')!.value > 0,
    );
    let from = counts();
    let t = Date.now();
    await present(bad);
    let got = await told(from, t);
    assert.match(subject(got.mails[0]!), /^\[danekeeper\] PROBLEM mon\.test: Live certificate/);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind} ${n.domain}`),
      ['problem live-mismatch mon.test'],
    );
    assert.deepEqual(await findings(), [`mon.test live-mismatch critical mx.mon.test:25 ${MX}`]);

    from = counts();
    t = Date.now();
    await present(good);
    got = await told(from, t);
    assert.match(subject(got.mails[0]!), /^\[danekeeper\] RECOVERED mon\.test: /);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['recovery live-mismatch'],
    );
    assert.deepEqual(await findings(), []);
  });

  it('a secondary that stops transferring is told within one interval, and its recovery', async () => {
    let from = counts();
    let t = Date.now();
    await dns.setRecords('mon.test', [
      ...records,
      { name: 'note', type: 'TXT', data: '"changed on the primary"' },
    ]);
    let got = await told(from, t);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['problem servers-out-of-step'],
    );
    const open = await findings();
    assert.equal(open.length, 1, open.join(' | '));
    assert.match(open[0]!, /^mon\.test serial-behind warning /);

    from = counts();
    t = Date.now();
    await dns.refreshSecondary('mon.test');
    got = await told(from, t);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['recovery servers-out-of-step'],
    );
    assert.deepEqual(await findings(), []);
  });

  it('RRSIGs close to expiry are told within one interval, and re-signing for long recovers', async () => {
    // re-sign sig.test as the lab does (test/lab/monitor.test.ts), but with signatures that end
    // in 3 days: inside rrsig-warn-days = 7
    let from = counts();
    let t = Date.now();
    const z = dns.zone('sig.test');
    z.serial += 1;
    writeFileSync(join(z.dir, 'db'), dns.tree.zoneText(z));
    execFileSync(
      'dnssec-signzone',
      [
        ...['-q', '-O', 'full', '-K', z.dir, '-d', z.dir, '-o', z.name, '-f', z.file],
        ...['-e', `+${3 * 86400}`, join(z.dir, 'db')],
      ],
      { cwd: z.dir },
    );
    await dns.reloadZone('sig.test');
    let got = await told(from, t, 3);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind} ${n.domain}`),
      Array(3).fill('problem rrsig-expiry sig.test'),
    );
    for (const m of got.mails) assert.match(subject(m), /^\[danekeeper\] PROBLEM sig\.test: /);
    assert.deepEqual((await findings()).sort(), [
      'sig.test rrsig-expiry warning _25._tcp.mx.sig.test/TLSA',
      'sig.test rrsig-expiry warning sig.test/DNSKEY',
      'sig.test rrsig-expiry warning sig.test/MX',
    ]);

    // the lab's own signing: the default validity (30 days)
    from = counts();
    t = Date.now();
    await dns.setRecords('sig.test', sigRecords);
    got = await told(from, t, 3);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind} ${n.domain}`),
      Array(3).fill('recovery rrsig-expiry sig.test'),
    );
    for (const m of got.mails) assert.match(subject(m), /^\[danekeeper\] RECOVERED sig\.test: /);
    assert.deepEqual(await findings(), []);
  });
});
