/**
 * status.ts's per-process caches: the deployed pair is read again exactly when a file it
 * depends on changed (a new version, a file rewritten in place, a mode changed), never served
 * stale; a stored chain's facts are parsed once per certificate id and equal a fresh parse.
 */
import assert from 'node:assert/strict';
import { chmodSync, rmSync, writeFileSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDkError } from '../core/errors.js';
import { installPair, readDeployed } from '../deploy/index.js';
import { makePairs, type TestPair } from '../../test/support/deploy-pairs.js';
import { tempDir } from '../../test/support/pki.js';
import { chainFacts, readDeployedCached } from './status.js';
import { issuerSpkis } from './world.js';

let work: string;
let pairs: TestPair[];
let n = 0;

before(() => {
  work = tempDir('dk-status-');
  chmodSync(work, 0o755);
  pairs = makePairs(work, 3);
});
after(() => rmSync(work, { recursive: true, force: true }));

const pairOf = (p: TestPair) => ({ keyPem: p.keyPem, chainPem: p.chainPem });

function fresh(): string {
  const dir = join(work, `live${++n}`);
  installPair(dir, pairOf(pairs[0]!));
  return dir;
}

/** readDeployed, counting its calls */
function counting() {
  const c = { calls: 0, read: (d: string) => (c.calls++, readDeployed(d)) };
  return c;
}

describe('readDeployedCached', () => {
  it('reads once while nothing changes, and gives what readDeployed gives', () => {
    const dir = fresh();
    const c = counting();
    const a = readDeployedCached(dir, c.read);
    const b = readDeployedCached(dir, c.read);
    readDeployedCached(`${dir}/`, c.read);
    assert.equal(c.calls, 1);
    assert.equal(b, a);
    assert.deepEqual(a, readDeployed(dir));
  });

  it('a new version installed (the current link switched) is read', () => {
    const dir = fresh();
    const c = counting();
    const before = readDeployedCached(dir, c.read);
    installPair(dir, pairOf(pairs[1]!), { keep: 2 });
    const now = readDeployedCached(dir, c.read);
    assert.equal(c.calls, 2);
    assert.notEqual(now.current?.certSha256, before.current?.certSha256);
    assert.deepEqual(now, readDeployed(dir));
    assert.equal(now.previous?.certSha256, before.current?.certSha256);
  });

  it('a version file rewritten in place (same size, same mtime) is read again', () => {
    const dir = fresh();
    const c = counting();
    readDeployedCached(dir, c.read);
    const f = join(dir, '.danekeeper', 'v1', 'fullchain.pem');
    const text = readFileSync(f, 'utf8');
    const st = { atime: new Date(1e12), mtime: new Date(1e12) };
    // another pair's chain of the same length, with the old mtime put back: only the ctime
    // (and what is read) differs, and the key no longer matches its certificate
    writeFileSync(f, pairs[2]!.chainPem.padEnd(text.length, '\n').slice(0, text.length));
    utimesSync(f, st.atime, st.mtime);
    assert.throws(
      () => readDeployedCached(dir, c.read),
      (e: unknown) => isDkError(e),
    );
    assert.equal(c.calls, 2);
  });

  it('a directory made writable by others is refused at once, every time (failures not kept)', () => {
    const dir = fresh();
    const c = counting();
    readDeployedCached(dir, c.read);
    chmodSync(dir, 0o777);
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => readDeployedCached(dir, c.read),
        (e: unknown) => isDkError(e) && e.code === 'E_DEPLOY_UNSAFE_PATH',
      );
    }
    chmodSync(dir, 0o755);
    assert.deepEqual(readDeployedCached(dir, c.read), readDeployed(dir));
    assert.equal(c.calls, 4);
  });

  it('a plain file put over one of the four names is seen', () => {
    const dir = fresh();
    const c = counting();
    readDeployedCached(dir, c.read);
    rmSync(join(dir, 'cert.pem'));
    writeFileSync(join(dir, 'cert.pem'), pairs[0]!.leafPem);
    readDeployedCached(dir, c.read);
    assert.equal(c.calls, 2);
  });

  it('a missing directory is refused as readDeployed refuses it', () => {
    assert.throws(
      () => readDeployedCached(join(work, 'nowhere')),
      (e: unknown) => isDkError(e) && e.code === 'E_DEPLOY_NO_DIR',
    );
  });
});

describe('chainFacts', () => {
  it('equals a fresh parse (leaf hash as readDeployed, issuers as world.ts) and is kept per id', () => {
    const dir = fresh();
    const p = pairs[0]!;
    const f = chainFacts('cert-a', p.chainPem);
    assert.equal(f.leafSha256, readDeployed(dir).current!.certSha256);
    assert.deepEqual(f.issuerSpkis, issuerSpkis(p.chainPem));
    assert.ok(f.issuerSpkis.length >= 1);
    assert.equal(chainFacts('cert-a', p.chainPem), f);
    // another id, or the same id with other bytes (another store in this process): parsed anew
    const g = chainFacts('cert-b', pairs[1]!.chainPem);
    assert.notEqual(g.leafSha256, f.leafSha256);
    const h = chainFacts('cert-a', `${pairs[1]!.chainPem}\n`);
    assert.notEqual(h.leafSha256, f.leafSha256);
    assert.deepEqual(chainFacts('empty', ''), { leafSha256: '', issuerSpkis: [] });
  });
});
