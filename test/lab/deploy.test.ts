/**
 * deploy/ against a real Postfix whose smtpd_tls_chain_files point into --cert-dir (STARTTLS
 * on 25 and implicit TLS on 465): a new pair installed, `postfix reload`, and the probe (and
 * `tlsa --fetch`) sees the new chain; a reload command that fails, and one that leaves the old
 * chain served, each end in a rollback with the old chain served (and matched) again.
 *
 * Each smtpd service runs one process (maxproc 1) that lives long (max_idle, max_use): a
 * process keeps the certificate it read at start, so only a real reload can change what is
 * presented, and "a reload that leaves the old chain served" is deterministic rather than a
 * race with master starting a fresh smtpd that reads the new files.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DeployOutcome } from '../../src/deploy/deploy.js';
import { installPair, readDeployed } from '../../src/deploy/install.js';
import { runCli } from '../support/cli.js';
import { makePairs, readMatchingPair, type TestPair } from '../support/deploy-pairs.js';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import type { LabDeployOptions } from './deploy-driver.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import {
  listenerLine,
  POSTFIX,
  startPostfix,
  type Listener,
  type PostfixInstance,
} from './postfix.js';

const lab = labAvailable();
const ADDRESS = '127.0.10.1';
const ENDPOINTS = [
  { host: ADDRESS, port: 25 },
  { host: ADDRESS, port: 465 },
];

let work: string;
let certDir: string;
let pairs: TestPair[];
let ns: Netns;
let pf: PostfixInstance;

function r311(p: TestPair): string {
  const spki = new X509Certificate(p.leafPem).publicKey.export({ type: 'spki', format: 'der' });
  return `3 1 1 ${createHash('sha256').update(spki).digest('hex')}`;
}

/** What `danekeeper tlsa --fetch` computes from the chain the endpoint presents now. */
function fetched(port: number): string {
  const r = runCli(['tlsa', '--fetch', `${ADDRESS}:${port}`], { netns: ns.name });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

function deploy(pair: TestPair, o: LabDeployOptions): Promise<DeployOutcome> {
  return callInNetns<DeployOutcome>(
    ns,
    'test/lab/deploy-driver.ts',
    'deployInLab',
    [certDir, { keyPem: pair.keyPem, chainPem: pair.chainPem }, o],
    { timeoutMs: 90_000 },
  );
}

const reload = () => [POSTFIX, '-c', pf.configDir, 'reload'];

describe('deploy into a live Postfix', { skip: !lab.ok && lab.reason }, () => {
  before(async () => {
    work = tempDir('dk-lab-deploy-');
    chmodSync(work, 0o755);
    pairs = makePairs(work, 3, 'mx.lab.test');
    certDir = join(work, 'certs');
    installPair(certDir, { keyPem: pairs[0]!.keyPem, chainPem: pairs[0]!.chainPem });
    ns = await createNetns();
    const listeners: Listener[] = [
      {
        address: ADDRESS,
        port: 25,
        keyFile: join(certDir, 'privkey.pem'),
        chainFile: join(certDir, 'fullchain.pem'),
      },
      {
        address: ADDRESS,
        port: 465,
        wrapper: true,
        keyFile: join(certDir, 'privkey.pem'),
        chainFile: join(certDir, 'fullchain.pem'),
      },
    ];
    const lines = listeners.map((l) =>
      listenerLine({ ...l, options: { max_idle: '3600', max_use: '100000' } }).replace(
        / inet n - n - - smtpd/,
        ' inet n - n - 1 smtpd',
      ),
    );
    pf = await startPostfix(ns, [], { masterExtra: lines });
    await ns.probe(
      [
        { host: ADDRESS, port: 25, kind: 'smtp-starttls' },
        { host: ADDRESS, port: 465, kind: 'smtp-tls' },
      ],
      15_000,
    );
  });

  after(async () => {
    await pf?.stop();
    await ns?.destroy();
    if (process.env.DK_LAB_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  });

  test('a new pair, postfix reload: both endpoints present it, matched by a confirmed record', async () => {
    assert.equal(fetched(25), r311(pairs[0]!));
    const out = await deploy(pairs[1]!, {
      reloads: [reload()],
      endpoints: ENDPOINTS,
      records: [r311(pairs[0]!), r311(pairs[1]!)],
      settleMs: 10_000,
    });
    assert.equal(out.outcome, 'installed', JSON.stringify(out));
    if (out.outcome !== 'installed') return;
    for (const e of out.verify.endpoints)
      for (const a of e.addresses) assert.deepEqual(a.matched, [r311(pairs[1]!)], `${e.port}`);
    assert.equal(fetched(25), r311(pairs[1]!));
    assert.equal(fetched(465), r311(pairs[1]!));
    assert.equal(readMatchingPair(certDir).fingerprint, pairs[1]!.fingerprint);
    assert.doesNotMatch(JSON.stringify(out), /PRIVATE KEY/);
  });

  test('a reload command that fails: rolled back, reloaded, the old chain served again', async () => {
    const flag = join(work, 'failed-once');
    // Postfix does reload (and picks up the new pair); the next command fails once, so the
    // rollback's reload must bring the old pair back into the running Postfix.
    const failOnce = [
      '/bin/sh',
      '-c',
      `test -e ${flag} || { touch ${flag}; echo "hook: certificate store locked" >&2; exit 2; }`,
    ];
    const out = await deploy(pairs[2]!, {
      reloads: [reload(), failOnce],
      endpoints: ENDPOINTS,
      records: [r311(pairs[1]!), r311(pairs[2]!)],
      settleMs: 10_000,
    });
    assert.equal(out.outcome, 'rolled-back', JSON.stringify(out));
    if (out.outcome !== 'rolled-back') return;
    assert.equal(out.reason, 'reload-failed');
    assert.match(out.error, /exited 2: hook: certificate store locked$/);
    assert.equal(out.restored.reloadError, undefined);
    assert.equal(out.restored.verify.ok, true, JSON.stringify(out.restored.verify));
    assert.equal(fetched(25), r311(pairs[1]!));
    assert.equal(fetched(465), r311(pairs[1]!));
    assert.equal(readDeployed(certDir).current?.spkiSha256, r311(pairs[1]!).slice(6));
  });

  test('a reload that leaves the old chain served: not verified, rolled back', async () => {
    const started = Date.now();
    const out = await deploy(pairs[2]!, {
      reloads: [['/bin/true']],
      endpoints: ENDPOINTS,
      records: [r311(pairs[1]!), r311(pairs[2]!)],
      settleMs: 3_000,
    });
    assert.equal(out.outcome, 'rolled-back', JSON.stringify(out));
    if (out.outcome !== 'rolled-back') return;
    assert.equal(out.reason, 'not-verified');
    assert.match(
      out.error,
      /127\.0\.10\.1:25 at 127\.0\.10\.1 presents CN=mx\.lab\.test that is not the installed one/,
    );
    // it waited for the service to switch over before giving up
    assert.ok(Date.now() - started >= 3_000);
    assert.equal(out.restored.verify.ok, true);
    assert.equal(fetched(25), r311(pairs[1]!));
    assert.equal(readMatchingPair(certDir).fingerprint, pairs[1]!.fingerprint);
  });
});
