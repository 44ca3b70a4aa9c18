/**
 * Monitoring and notifications against the real lab (issue 10, must-show): a signed tree (BIND,
 * a lagging secondary), Unbound, a Postfix presenting the mail host's chain and relaying
 * notifications into a lab mailbox (virtual(8) maildir), and a webhook receiver. Each problem
 * is made by hand, found by `danekeeper watch check`, told once by e-mail and by a signed
 * webhook, not told again on the next pass, and its recovery told once it is undone:
 *
 * - the certificate replaced by hand with one that matches no TLSA record (live-mismatch);
 * - a secondary that stops transferring (its SOA serial behind the primary's);
 * - RRSIGs close to expiry (the zone re-signed with a 3-day validity).
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
import { runCliAsync, type CliResult } from '../support/cli.js';
import { makePki, tempDir } from '../support/pki.js';
import { labResolvConf, startDnsLab, type DnsLab, type RecordSpec } from './dns/dnslab.js';
import { createNetns, labAvailable, sleep, type LabProcess, type Netns } from './netns.js';
import { startPostfix, type PostfixInstance } from './postfix.js';
import { spkiSha256 } from './scenarios.js';

const avail = labAvailable();

/** A delivered message as a person reads it: headers unfolded, quoted-printable decoded. */
function readable(raw: string): string {
  const cut = raw.indexOf('\n\n');
  const head = raw.slice(0, cut).replace(/\r?\n[ \t]+/g, ' ');
  const body = raw
    .slice(cut + 2)
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return `${head}\n\n${Buffer.from(body, 'latin1').toString('utf8')}`;
}
const MX = '127.0.10.1';
const RELAY = '127.0.10.9';
const HOOK = '127.0.10.20';
const SECONDARY = '127.0.54.161';
const SECRET = 'lab-webhook-secret-0123456789';

interface Hook {
  headers: Record<string, string>;
  body: string;
}
interface NoticeJson {
  type: string;
  kind: string;
  domain: string;
  title: string;
}

describe('monitor and notifications (lab)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let dns: DnsLab;
  let pf: PostfixInstance;
  let hook: LabProcess;
  let dir: string;
  let config: string;
  let hookFile: string;
  let mailDir: string;
  let liveKey: string;
  let liveChain: string;
  let good: { key: string; chain: string };
  let bad: { key: string; chain: string };
  let monRecords: RecordSpec[];
  let sigRecords: RecordSpec[];

  const watch = (args: string[]): Promise<CliResult> =>
    runCliAsync(['watch', ...args, '--config', config], { netns: ns.name, timeoutMs: 90_000 });

  const hooks = (): Hook[] =>
    existsSync(hookFile)
      ? readFileSync(hookFile, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Hook)
      : [];
  const mails = (): string[] => {
    const d = join(mailDir, 'admin', 'new');
    return existsSync(d)
      ? readdirSync(d)
          .sort()
          .map((f) => readable(readFileSync(join(d, f), 'utf8')))
      : [];
  };
  /** Waits until `n` mails and `n` webhook calls more than `before` arrived; returns the new ones. */
  async function delivered(
    before: { mails: number; hooks: number },
    n: number,
  ): Promise<{ mails: string[]; notices: NoticeJson[] }> {
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      if (mails().length >= before.mails + n && hooks().length >= before.hooks + n) break;
      await sleep(200);
    }
    const newHooks = hooks().slice(before.hooks);
    for (const h of newHooks) {
      // what a receiver does: HMAC-SHA256 of the raw body under the shared secret
      const want = `sha256=${createHmac('sha256', SECRET).update(h.body).digest('hex')}`;
      const got = h.headers['x-danekeeper-signature'] ?? '';
      assert.ok(
        got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want)),
        'webhook signature verifies',
      );
      assert.match(h.headers['x-danekeeper-timestamp'] ?? '', /^\d{10}$/);
    }
    const out = {
      mails: mails().slice(before.mails),
      notices: newHooks.flatMap((h) => (JSON.parse(h.body) as { notices: NoticeJson[] }).notices),
    };
    assert.equal(out.mails.length, n, `mails: ${out.mails.map(subject).join(' | ')}`);
    assert.equal(newHooks.length, n);
    return out;
  }
  const counts = () => ({ mails: mails().length, hooks: hooks().length });
  const subject = (m: string) => /^Subject: (.*)$/m.exec(m)?.[1] ?? '(no subject)';

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
    dir = tempDir('dk-monitor-');
    // virtual(8) runs as the postfix user and must reach the maildir below (files stay 0600)
    chmodSync(dir, 0o755);
    const g = makePki(dir, { prefix: 'good-', names: ['mx.mon.test', 'mx.sig.test'] });
    const b = makePki(dir, { prefix: 'bad-', names: ['mx.mon.test', 'mx.sig.test'] });
    good = { key: g.leaf.keyFile, chain: g.chainFile };
    bad = { key: b.leaf.keyFile, chain: b.chainFile };
    liveKey = join(dir, 'live.key');
    liveChain = join(dir, 'live.pem');
    copyFileSync(good.key, liveKey);
    copyFileSync(good.chain, liveChain);
    const tlsa = `3 1 1 ${spkiSha256(g.leaf.certPem)}`;
    monRecords = [
      { name: '@', type: 'MX', data: '10 mx' },
      { name: 'mx', type: 'A', data: MX },
      { name: '_25._tcp.mx', type: 'TLSA', data: tlsa },
    ];
    sigRecords = [
      { name: '@', type: 'MX', data: '10 mx' },
      { name: 'mx', type: 'A', data: MX },
      { name: '_25._tcp.mx', type: 'TLSA', data: tlsa },
    ];
    ns = await createNetns({ addresses: [MX, RELAY, HOOK], resolvConf: labResolvConf() });
    dns = await startDnsLab(ns, {
      zones: [
        { name: 'mon.test', secondaries: [SECONDARY], records: monRecords },
        { name: 'sig.test', records: sigRecords },
      ],
    });
    // the lab mailbox: virtual(8) delivers admin@notify.test into a maildir
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
        'rrsig-warn-days = 7',
        '',
      ].join('\n'),
    );
    for (const d of ['mon.test', 'sig.test']) {
      const r = await watch([d]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    await hook?.stop();
    await pf?.stop();
    await dns?.stop();
    await ns?.destroy();
  });

  it('a clean pass: no findings, nothing sent, exit 0', async () => {
    const before = counts();
    const r = await watch(['check', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as { findings: unknown[]; targets: { verdict: string }[] };
    assert.deepEqual(j.findings, []);
    assert.deepEqual(
      j.targets.map((t) => t.verdict),
      ['verified', 'verified'],
    );
    await sleep(500);
    assert.deepEqual(counts(), before);
  });

  it('a certificate replaced by hand is reported once (mail + signed webhook), and its recovery', async () => {
    await present(bad);
    let before = counts();
    let r = await watch(['check', 'mon.test']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /CRITICAL live-mismatch mx\.mon\.test:25 127\.0\.10\.1 \(new\)/);
    let got = await delivered(before, 1);
    assert.match(subject(got.mails[0]!), /^\[danekeeper\] PROBLEM mon\.test: Live certificate/);
    assert.match(
      got.mails[0]!,
      /what to do: install the certificate whose key the TLSA records name/,
    );
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind} ${n.domain}`),
      ['problem live-mismatch mon.test'],
    );
    // the next pass still sees it: nothing new is sent (a reminder comes a day later)
    before = counts();
    r = await watch(['check', 'mon.test', '--json']);
    assert.equal(r.code, 2);
    const j = JSON.parse(r.stdout) as {
      findings: { code: string; firstSeen: string; lastSeen: string }[];
    };
    const f = j.findings.find((x) => x.code === 'live-mismatch')!;
    assert.ok(f.lastSeen > f.firstSeen, 'first-seen kept, last-seen moved');
    await sleep(1000);
    assert.deepEqual(counts(), before);

    await present(good);
    before = counts();
    r = await watch(['check', 'mon.test']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /RECOVERED live-mismatch/);
    got = await delivered(before, 1);
    assert.match(subject(got.mails[0]!), /^\[danekeeper\] RECOVERED mon\.test: Recovered: /);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['recovery live-mismatch'],
    );
  });

  it('a secondary that stops transferring (serial behind) is reported, and its recovery', async () => {
    await dns.setRecords('mon.test', [
      ...monRecords,
      { name: 'note', type: 'TXT', data: '"changed on the primary"' },
    ]);
    let before = counts();
    let r = await watch(['check', 'mon.test']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /WARNING serial-behind mon\.test ns2\.mon\.test 127\.0\.54\.161/);
    let got = await delivered(before, 1);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['problem servers-out-of-step'],
    );
    assert.match(got.mails[0]!, /no longer transfers the zone/);

    await dns.refreshSecondary('mon.test');
    before = counts();
    r = await watch(['check', 'mon.test']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    got = await delivered(before, 1);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      ['recovery servers-out-of-step'],
    );
  });

  it('RRSIGs close to expiry (signed for 3 days) are reported, and the re-signed zone recovers', async () => {
    // re-sign sig.test as the lab does, but with signatures that end in 3 days
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
    let before = counts();
    let r = await watch(['check', 'sig.test', '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as { findings: { code: string; subject: string }[] };
    assert.deepEqual(
      j.findings
        .filter((f) => f.code === 'rrsig-expiry')
        .map((f) => f.subject)
        .sort(),
      ['_25._tcp.mx.sig.test/TLSA', 'sig.test/DNSKEY', 'sig.test/MX'],
    );
    let got = await delivered(before, 3);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      Array(3).fill('problem rrsig-expiry'),
    );

    await dns.setRecords('sig.test', sigRecords);
    before = counts();
    r = await watch(['check', 'sig.test']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    got = await delivered(before, 3);
    assert.deepEqual(
      got.notices.map((n) => `${n.type} ${n.kind}`),
      Array(3).fill('recovery rrsig-expiry'),
    );
  });
});
