/**
 * verifyDeployed and deployPair with a stand-in service: its "reload" is a real command that
 * copies DIR/fullchain.pem (through the links, as a service reads it) to the file the fake
 * probe presents. The lab test (test/lab/deploy.test.ts) does the same with a real Postfix.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TlsaRecord } from '../core/tlsa/index.js';
import type { ProbeOptions, ProbeResult } from '../io/probe/index.js';
import { makePairs, readMatchingPair, type TestPair } from '../../test/support/deploy-pairs.js';
import { tempDir } from '../../test/support/pki.js';
import { deployPair, type DeployOptions } from './deploy.js';
import { installPair } from './install.js';
import { describeProblems, verifyDeployed } from './verify.js';

let work: string;
let pairs: TestPair[];
let n = 0;
const pairOf = (p: TestPair) => ({ keyPem: p.keyPem, chainPem: p.chainPem });

before(() => {
  work = tempDir('dk-deploy-seq-');
  pairs = makePairs(work, 3);
});
after(() => rmSync(work, { recursive: true, force: true }));

function ders(pem: string): Buffer[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map(
    (b) => new X509Certificate(b).raw,
  );
}

function r311(p: TestPair): TlsaRecord {
  const spki = new X509Certificate(p.leafPem).publicKey.export({ type: 'spki', format: 'der' });
  return { usage: 3, selector: 1, mtype: 1, data: createHash('sha256').update(spki).digest() };
}

const sha = (p: TestPair) =>
  createHash('sha256').update(new X509Certificate(p.leafPem).raw).digest('hex');

/** A service on two addresses presenting whatever `served` holds; `down` addresses refuse. */
function fakeService(served: string, down: string[] = []) {
  const probes: string[] = [];
  const probe = async (o: ProbeOptions): Promise<ProbeResult> => {
    probes.push(`${o.address}:${o.port}/${o.starttls}`);
    if (down.includes(o.address!)) {
      const { DkError } = await import('../core/errors.js');
      throw new DkError('unavailable', 'E_CONNECT', `Connecting to ${o.address} failed: refused`);
    }
    return {
      chain: ders(readFileSync(served, 'utf8')),
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      address: o.address!,
      port: o.port,
      servername: undefined,
      transcript: [],
      chainSource: 'presented',
    };
  };
  return { probe, probes };
}

function setup(initial: TestPair) {
  const dir = join(work, `d${++n}`);
  installPair(dir, pairOf(initial));
  const served = join(work, `served${n}`);
  copyFileSync(join(dir, 'fullchain.pem'), served);
  const reload = ['/bin/cp', join(dir, 'fullchain.pem'), served];
  return { dir, served, reload };
}

function opts(o: Partial<DeployOptions> & Pick<DeployOptions, 'reloads' | 'records'>) {
  return {
    endpoints: [
      { host: '192.0.2.1', port: 25 },
      { host: '2001:db8::1', port: 465 },
    ],
    now: () => new Date(),
    settleMs: 300,
    intervalMs: 50,
    ...o,
  };
}

describe('verifyDeployed', () => {
  test('per address: the installed leaf or another, and which records match', async () => {
    const { served } = setup(pairs[0]!);
    const svc = fakeService(served, ['2001:db8::1']);
    const r = await verifyDeployed(
      {
        endpoints: [
          { host: '192.0.2.1', port: 25 },
          { host: '[2001:db8::1]', port: 465 },
          { host: 'mx.example.test', port: 25 },
        ],
        certSha256: sha(pairs[0]!),
        records: [r311(pairs[0]!), r311(pairs[1]!)],
        now: new Date(),
      },
      { probe: svc.probe },
    );
    assert.equal(r.ok, false);
    const [v4, v6, named] = r.endpoints;
    assert.equal(v4!.ok, true);
    assert.deepEqual(v4!.addresses[0]!.matched, [`3 1 1 ${r311(pairs[0]!).data.toString('hex')}`]);
    assert.equal(v4!.addresses[0]!.state, 'installed');
    assert.equal(v6!.addresses[0]!.state, 'unreachable');
    assert.equal(named!.unresolved, 'no resolver given');
    assert.deepEqual(svc.probes, ['192.0.2.1:25/smtp', '2001:db8::1:465/none']);
    assert.match(describeProblems(r), /2001:db8::1:465 at 2001:db8::1 could not be reached/);
    // the installed leaf presented but no confirmed record for it
    const r2 = await verifyDeployed(
      {
        endpoints: [{ host: '192.0.2.1', port: 25 }],
        certSha256: sha(pairs[0]!),
        records: [r311(pairs[1]!)],
        now: new Date(),
      },
      { probe: svc.probe },
    );
    assert.equal(r2.ok, false);
    assert.match(
      describeProblems(r2),
      /presents the installed certificate but no confirmed record/,
    );
  });
});

describe('deployPair', () => {
  test('install, reload, verified: the new pair stays', async () => {
    const { dir, served, reload } = setup(pairs[0]!);
    const svc = fakeService(served);
    const out = await deployPair(
      dir,
      pairOf(pairs[1]!),
      opts({
        reloads: [reload],
        records: [r311(pairs[0]!), r311(pairs[1]!)],
        verify: { probe: svc.probe },
      }),
    );
    assert.equal(out.outcome, 'installed');
    assert.equal(out.verify.ok, true);
    assert.equal(readMatchingPair(dir).fingerprint, pairs[1]!.fingerprint);
    assert.doesNotMatch(JSON.stringify(out), /PRIVATE KEY/);
  });

  test('a reload that fails: rolled back, reloaded, the old chain served and matched', async () => {
    const { dir, served, reload } = setup(pairs[0]!);
    const svc = fakeService(served);
    // the first reload fails once (a config error), the rollback's reload works
    const flag = join(work, `failed-once${n}`);
    const flaky = [
      '/bin/sh',
      '-c',
      `test -e ${flag} || { touch ${flag}; echo "nginx: [emerg] bad" >&2; exit 1; }`,
    ];
    const out = await deployPair(
      dir,
      pairOf(pairs[1]!),
      opts({
        reloads: [flaky, reload],
        records: [r311(pairs[0]!), r311(pairs[1]!)],
        verify: { probe: svc.probe },
      }),
    );
    assert.equal(out.outcome, 'rolled-back');
    if (out.outcome !== 'rolled-back') return;
    assert.equal(out.reason, 'reload-failed');
    assert.match(out.error, /exited 1: nginx: \[emerg\] bad/);
    assert.equal(out.restored.reloadError, undefined);
    assert.equal(out.restored.verify.ok, true);
    assert.equal(readMatchingPair(dir).fingerprint, pairs[0]!.fingerprint);
    assert.equal(new X509Certificate(readFileSync(served)).fingerprint256, pairs[0]!.fingerprint);
  });

  test('a reload that leaves the old chain served: not verified, rolled back', async () => {
    const { dir, served } = setup(pairs[0]!);
    const svc = fakeService(served);
    const out = await deployPair(
      dir,
      pairOf(pairs[1]!),
      opts({
        reloads: [['/bin/true']],
        records: [r311(pairs[0]!), r311(pairs[1]!)],
        verify: { probe: svc.probe },
      }),
    );
    assert.equal(out.outcome, 'rolled-back');
    if (out.outcome !== 'rolled-back') return;
    assert.equal(out.reason, 'not-verified');
    assert.match(
      out.error,
      /192\.0\.2\.1:25 at 192\.0\.2\.1 presents CN=mail\.example\.test that is not the installed one/,
    );
    assert.equal(out.verify?.ok, false);
    assert.equal(out.restored.verify.ok, true);
    assert.equal(readMatchingPair(dir).fingerprint, pairs[0]!.fingerprint);
  });

  test('the new chain served but no confirmed record for it: rolled back', async () => {
    const { dir, served, reload } = setup(pairs[0]!);
    const svc = fakeService(served);
    const out = await deployPair(
      dir,
      pairOf(pairs[1]!),
      opts({ reloads: [reload], records: [r311(pairs[0]!)], verify: { probe: svc.probe } }),
    );
    assert.equal(out.outcome, 'rolled-back');
    assert.equal(readMatchingPair(dir).fingerprint, pairs[0]!.fingerprint);
    // and the rollback's reload made the service present the old chain again
    assert.equal(new X509Certificate(readFileSync(served)).fingerprint256, pairs[0]!.fingerprint);
  });

  test('nothing to roll back to: failed, the new pair stays, the reason says why', async () => {
    const dir = join(work, `d${++n}`);
    const served = join(work, `served${n}`);
    const svc = fakeService(served);
    const out = await deployPair(
      dir,
      pairOf(pairs[1]!),
      opts({ reloads: [['/bin/false']], records: [], verify: { probe: svc.probe } }),
    );
    assert.equal(out.outcome, 'failed');
    if (out.outcome !== 'failed') return;
    assert.match(out.rollbackError, /no previous certificate/);
    assert.equal(readMatchingPair(dir).fingerprint, pairs[1]!.fingerprint);
  });
});
