/**
 * Issue 10 "Must show", first bullet, with `danekeeper serve` running (not `watch check` by
 * hand): a lab Postfix presenting mx.mon.test's chain and relaying notifications into a lab
 * mailbox, a webhook receiver in the namespace (F2's webhook-listener.ts), BIND with a
 * secondary, Unbound. serve's monitoring job runs every `[monitor] interval-minutes = 1`; each
 * problem made by hand is told within one interval (plus its jitter, a tenth) by e-mail and by a
 * signed webhook, shows in /metrics as `danekeeper_monitor_finding`, and its undoing sends the
 * recovery notice and clears the series:
 *
 * - the certificate replaced by hand with one that matches no TLSA record (live-mismatch);
 * - a secondary that stops transferring (its SOA serial behind the primary's).
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
/** one monitoring interval (1 minute) plus its jitter (a tenth) plus a pass and a delivery */
const WITHIN_MS = 60_000 + 6_000 + 20_000;

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

  /** Waits (at most WITHIN_MS from `since`) for one more mail and one more signed webhook. */
  async function told(
    from: { mails: number; hooks: number },
    since: number,
  ): Promise<{ mail: string; notices: Notice[] }> {
    while (Date.now() - since < WITHIN_MS) {
      if (mails().length > from.mails && hooks().length > from.hooks) break;
      await sleep(500);
    }
    const newMails = mails().slice(from.mails);
    const newHooks = hooks().slice(from.hooks);
    assert.equal(newMails.length, 1, `mails within one interval: ${newMails.map(subject)}`);
    assert.equal(newHooks.length, 1, 'webhook calls within one interval');
    const h = newHooks[0]!;
    // what a receiver does: HMAC-SHA256 of the raw body under the shared secret
    const want = `sha256=${createHmac('sha256', SECRET).update(h.body).digest('hex')}`;
    const got = h.headers['x-danekeeper-signature'] ?? '';
    assert.ok(
      got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want)),
      'webhook signature verifies',
    );
    return {
      mail: newMails[0]!,
      notices: (JSON.parse(h.body) as { notices: Notice[] }).notices,
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
    const g = makePki(dir, { prefix: 'good-', names: ['mx.mon.test'] });
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
    ns = await createNetns({ addresses: [MX, RELAY, HOOK], resolvConf: labResolvConf() });
    dns = await startDnsLab(ns, {
      zones: [{ name: 'mon.test', secondaries: [SECONDARY], records }],
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
        'interval-minutes = 1',
        '',
      ].join('\n'),
    );
    const r = await runCliAsync(['watch', 'mon.test', '--config', config], { netns: ns.name });
    assert.equal(r.code, 0, r.stderr);
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
    await present(bad);
    let from = counts();
    let t = Date.now();
    let got = await told(from, t);
    assert.match(subject(got.mail), /^\[danekeeper\] PROBLEM mon\.test: Live certificate/);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind} ${n.domain}`),
      ['problem live-mismatch mon.test'],
    );
    assert.deepEqual(await findings(), [`mon.test live-mismatch critical mx.mon.test:25 ${MX}`]);

    await present(good);
    from = counts();
    t = Date.now();
    got = await told(from, t);
    assert.match(subject(got.mail), /^\[danekeeper\] RECOVERED mon\.test: /);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['recovery live-mismatch'],
    );
    assert.deepEqual(await findings(), []);
  });

  it('a secondary that stops transferring is told within one interval, and its recovery', async () => {
    await dns.setRecords('mon.test', [
      ...records,
      { name: 'note', type: 'TXT', data: '"changed on the primary"' },
    ]);
    let from = counts();
    let got = await told(from, Date.now());
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['problem servers-out-of-step'],
    );
    const open = await findings();
    assert.equal(open.length, 1, open.join(' | '));
    assert.match(open[0]!, /^mon\.test serial-behind warning /);

    await dns.refreshSecondary('mon.test');
    from = counts();
    got = await told(from, Date.now());
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['recovery servers-out-of-step'],
    );
    assert.deepEqual(await findings(), []);
  });
});
