/**
 * `danekeeper serve` against the lab (issue 10 items 1 and 4): Pebble with External Account
 * Binding, BIND with a TSIG-updatable inline-signed zone and a secondary refreshed every
 * 1.5 s (as a short refresh timer would), Unbound, and a Postfix presenting the domain's
 * --cert-dir. After `domain add`, serve alone takes the domain from nothing to a verified
 * certificate. SIGTERM while a step runs: the step ends, serve exits 0, and a new serve carries
 * on. Then a key rollover (`renew --rotate-key` starts it, serve finishes it) with a SIGTERM in
 * the middle of one of serve's steps, while posttls-finger -l dane probes the mail host over
 * and over: every probe says Verified. /metrics and /healthz are read inside the namespace,
 * and the log of the whole run holds no TSIG secret, EAB key or private key.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { cliEntry, runCliAsync, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/pki.js';
import type { RolloverState } from '../../src/core/rollover/index.js';
import { openState } from '../../src/store/state.js';
import { parsePrometheus, sample } from '../support/prometheus.js';
import { startServe, type ServeProcess } from '../support/serve.js';
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
const ZONE = 'serve.test';
const OWNER = `_25._tcp.mail.${ZONE}.`;
const LISTEN = '127.0.0.1:8440';

interface Status {
  domains: {
    phase: string;
    lease: { holder: string } | null;
    certificate: { notAfter: string; keyId: string };
    keys: { next: { id: string } | null };
  }[];
}

const statusOf = (r: CliResult): Status => {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
};
const TSIG = labTsigKey('dk-serve');
const EAB = {
  kid: 'kid-serve',
  hmacKey: Buffer.from('danekeeper serve lab eab key 32b').toString('base64url'),
};

describe('danekeeper serve against the lab', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;
  let pebble: Pebble;
  let pf: PostfixInstance;
  let dir: string;
  let certDir: string;
  let config: string;
  let refresher: NodeJS.Timeout | undefined;
  const serves: ServeProcess[] = [];

  const dk = async (args: string[]): Promise<CliResult> => {
    const r = await runCliAsync([...args, '--config', config], {
      netns: ns.name,
      timeoutMs: 120_000,
    });
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    return r;
  };

  const serve = (): ServeProcess => {
    const s = startServe(['--config', config, '--listen', LISTEN, '--pass-interval', '2s'], {
      netns: ns.name,
    });
    serves.push(s);
    return s;
  };

  /** GET inside the namespace (the listener is on the namespace's loopback) */
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const r = await ns.exec('curl', ['-s', '-w', '\n%{http_code}', `http://${LISTEN}${path}`], {
      allowFail: true,
    });
    const i = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
  };

  const served = async (server: string): Promise<string[]> => {
    const r = await lab.dig([`@${server}`, '+norec', OWNER, 'TLSA']);
    return tlsaIn(r.answer).map((x) => x.toLowerCase());
  };

  /** 3 1 1 of the leaf Postfix presents (null: no TLS yet) */
  const presented = async (): Promise<string | null> => {
    const r = await runCliAsync(['tlsa', '--fetch', `${MAIL}:25`], { netns: ns.name });
    return r.code === 0 ? r.stdout.trim().toLowerCase() : null;
  };

  /** DESIGN.md "The one invariant": what Postfix presents is served by every server */
  const invariant = async (when: string) => {
    const p = await presented();
    if (p === null) return;
    const [a, b] = await Promise.all([served(PRIMARY), served(SECONDARY)]);
    assert.ok(a.includes(p) && b.includes(p), `${when}: presents ${p}; served ${a} / ${b}`);
  };

  const stopped = async (s: ServeProcess, when: string) => {
    const code = await s.exited;
    assert.equal(code, 0, `${when}: serve exit ${code}; stderr ${s.stderr()}`);
    assert.equal(s.stderr(), '', `${when}: nothing on stderr`);
  };

  before(async () => {
    dir = tempDir('dk-lab-serve-');
    chmodSync(dir, 0o755);
    certDir = join(dir, 'live', ZONE);
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
      eab: { [EAB.kid]: EAB.hmacKey },
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
    const eabFile = join(dir, 'eab.key');
    writeFileSync(eabFile, `${EAB.hmacKey}\n`, { mode: 0o600 });
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
        `eab-kid = ${EAB.kid}`,
        `eab-hmac-key-file = ${eabFile}`,
        'challenge = http-01',
        'http-listen = 0.0.0.0:80',
        '[ext-sslit]',
        'dane-confirmation-interval-in-hours = 0.001',
        '',
      ].join('\n'),
    );
    // the secondary follows the primary on a short timer, as a real one would (no NOTIFY here)
    refresher = setInterval(() => void lab.refreshSecondary(ZONE).catch(() => {}), 1500);
  });

  after(async () => {
    if (refresher) clearInterval(refresher);
    const keep = setInterval(() => {}, 1000);
    try {
      for (const s of serves) s.child.kill('SIGKILL');
      await pf?.stop();
      await pebble?.stop();
      await lab?.stop();
      await ns?.destroy();
    } finally {
      clearInterval(keep);
    }
    if (process.env.DK_LAB_KEEP !== '1' && dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serve issues by itself; SIGTERM during a step lets it end and exits 0; a new serve carries on to verified', async () => {
    const add = await dk([
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

    const s1 = serve();
    await s1.waitFor('listening', (l) => l.event === 'listening');
    // the ACME order takes a moment (HTTP-01 through serve's own listener on :80)
    await s1.waitFor(
      'the order step',
      (l) => l.event === 'step' && l.action === 'orderCertificate' && l.at === 'start',
      120_000,
    );
    s1.child.kill('SIGTERM');
    await stopped(s1, 'SIGTERM during the order');
    const i = s1.lines.findIndex((l) => l.event === 'stopping');
    const done = s1.lines.findIndex(
      (l) => l.event === 'step' && l.action === 'orderCertificate' && l.at !== 'start',
    );
    assert.ok(i >= 0 && done > i, 'the order ended after the stop was asked');
    assert.equal(s1.lines[done]!.at, 'done');
    assert.ok(!s1.lines.slice(done + 1).some((l) => l.event === 'step'), 'no step after it');
    await invariant('after the first stop');

    const s2 = serve();
    await s2.waitFor(
      'the domain secured',
      (l) => l.event === 'domain' && l.result === 'idle' && l.domain === ZONE,
      180_000,
    );
    await invariant('after the first issuance');
    const f = await posttlsFinger(ns, ZONE);
    assert.equal(f.verdict, 'verified', f.output);
    const h = await get('/healthz');
    assert.equal(h.status, 200, h.body);
    assert.equal((JSON.parse(h.body) as { domains: number }).domains, 1);
    s2.child.kill('SIGTERM');
    await stopped(s2, 'SIGTERM while idle');
  });

  it('a key rollover that serve takes over from a killed renew, SIGTERM in one of its steps and a restart, with posttls-finger verified throughout; /metrics; no secret in the log', async () => {
    const verdicts: string[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const f = await posttlsFinger(ns, ZONE, { timeoutS: 5 });
        verdicts.push(f.verdict === 'verified' ? 'verified' : `${f.verdict}: ${f.output}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();

    const before = statusOf(await dk(['status', ZONE, '--json']));
    // The rollover is asked for by `renew --rotate-key`, killed (-9) as soon as it holds the
    // domain with the ACME order as its persisted intent (the order takes Pebble about a
    // second; the store is looked at every 20 ms). serve, started then, takes the domain over
    // from the dead pass and does the rest of the rollover.
    const renew = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns.name,
        process.execPath,
        '--import',
        'tsx',
        cliEntry,
        'renew',
        ZONE,
        '--rotate-key',
        '--config',
        config,
      ],
      { stdio: 'ignore' },
    );
    const renewGone = new Promise((res) => renew.on('exit', res));
    let renewEnded = false;
    void renewGone.then(() => (renewEnded = true));
    const store = openState(join(dir, 'state.db'));
    try {
      for (let i = 0; ; i++) {
        assert.ok(
          i < 3000 && !renewEnded,
          'renew ended (or never reached the order) before the kill',
        );
        const lease = store.rollover.lease(ZONE, new Date());
        const intent = (store.rollover.read(ZONE)?.state as RolloverState | undefined)?.intent;
        if (lease?.holder.endsWith(`:${renew.pid}`) && intent?.kind === 'orderCertificate') break;
        await new Promise((res) => setTimeout(res, 20));
      }
    } finally {
      renew.kill('SIGKILL');
      store.close();
      await renewGone;
    }
    await invariant('after renew was killed');
    // serve carries on; a step of it is interrupted by SIGTERM
    const s3 = serve();
    await s3.waitFor(
      'the order in serve',
      (l) => l.event === 'step' && l.action === 'orderCertificate' && l.at === 'start',
      120_000,
    );
    s3.child.kill('SIGTERM');
    await stopped(s3, 'SIGTERM during the rollover');
    assert.ok(
      s3.lines.some(
        (l) => l.event === 'step' && l.action === 'orderCertificate' && l.at === 'done',
      ),
      'the order ended',
    );
    await invariant('after the stop in the rollover');

    const s4 = serve();
    await s4.waitFor(
      'the rollover complete',
      (l) =>
        l.event === 'domain' &&
        l.result === 'idle' &&
        Array.isArray(l.actions) &&
        (l.actions as unknown[]).length === 0,
      180_000,
    );
    await invariant('after the rollover');
    // two more probes after the end, then the probing stops
    const n = verdicts.length;
    while (verdicts.length < n + 2) await new Promise((r) => setTimeout(r, 200));
    probing = false;
    await probe;
    assert.ok(verdicts.length >= 5, `only ${verdicts.length} probes`);
    assert.deepEqual(
      verdicts.filter((v) => v !== 'verified'),
      [],
      'posttls-finger failed during the rollover',
    );
    // the rollover happened: the installed certificate is of the key that was next before
    const st = statusOf(await dk(['status', ZONE, '--json']));
    assert.equal(st.domains[0]!.phase, 'idle');
    assert.equal(st.domains[0]!.certificate.keyId, before.domains[0]!.keys.next!.id);
    assert.ok(
      [s3, s4].some((s) => s.lines.some((l) => l.event === 'step' && l.action === 'install')),
      'serve installed',
    );

    const m = await get('/metrics');
    assert.equal(m.status, 200);
    const ss = parsePrometheus(m.body);
    assert.equal(sample(ss, 'danekeeper_rollover_phase', { domain: ZONE, phase: 'idle' }), 1);
    assert.equal(
      sample(ss, 'danekeeper_endpoint_live_match', {
        domain: ZONE,
        endpoint: OWNER,
        address: MAIL,
      }),
      1,
    );
    assert.equal(
      sample(ss, 'danekeeper_certificate_not_after_timestamp_seconds', { domain: ZONE }),
      Math.floor(Date.parse(st.domains[0]!.certificate.notAfter) / 1000),
    );
    assert.ok(sample(ss, 'danekeeper_pass_last_timestamp_seconds')! > Date.now() / 1000 - 60);
    s4.child.kill('SIGTERM');
    await stopped(s4, 'the last stop');

    // no secret in anything serve wrote, over all four runs
    const log = serves.map((s) => s.raw.join('\n')).join('\n');
    assert.ok(log.length > 1000);
    for (const s of serves) {
      for (const l of s.lines)
        assert.ok(!('notJson' in l), `not a JSON line: ${String(l.notJson)}`);
    }
    assert.ok(!log.includes(TSIG.secret), 'TSIG secret in the log');
    assert.ok(!log.includes(EAB.hmacKey), 'EAB key in the log');
    assert.doesNotMatch(log, /PRIVATE KEY/);
    const key = readFileSync(join(certDir, 'privkey.pem'), 'utf8')
      .split('\n')
      .filter((x) => x && !x.startsWith('-----'));
    for (const line of key) assert.ok(!log.includes(line), 'private key material in the log');
  });
});
