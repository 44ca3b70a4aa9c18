/**
 * installPair / rollback on temp directories: layout, modes, owners (the tests run as root so
 * chown works; skipped otherwise), refusals that touch nothing, pruning, rollback, and the
 * takeover of a certbot-style directory of plain files without a moment of a missing name or
 * a mixed pair.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDkError } from '../core/errors.js';
import { makePairs, readMatchingPair, type TestPair } from '../../test/support/deploy-pairs.js';
import { tempDir } from '../../test/support/pki.js';
import { CERT_NAMES, installPair, readDeployed, rollback } from './install.js';

const root = process.getuid?.() === 0;
const NOBODY = 65534;

let work: string;
let pairs: TestPair[];
let n = 0;
const fresh = () => join(work, `d${++n}`);
const pairOf = (p: TestPair) => ({ keyPem: p.keyPem, chainPem: p.chainPem });
const mode = (p: string) => statSync(p).mode & 0o7777;

function rejects(fn: () => unknown, code: string, msg?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isDkError(e), `expected a DkError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    assert.doesNotMatch(e.message, /PRIVATE KEY|\n/);
    return true;
  });
}

/** Everything under `dir`, with link targets, to prove a refusal changed nothing. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const e of readdirSync(p).sort()) {
      const f = join(p, e);
      const st = lstatSync(f);
      if (st.isSymbolicLink()) out.push(`${f} -> ${readlinkSync(f)}`);
      else if (st.isDirectory()) {
        out.push(`${f}/ ${st.mode & 0o7777}`);
        walk(f);
      } else out.push(`${f} ${st.mode & 0o7777} ${readFileSync(f, 'utf8').length}`);
    }
  };
  walk(dir);
  return out.join('\n');
}

before(() => {
  work = tempDir('dk-deploy-');
  chmodSync(work, 0o755);
  pairs = makePairs(join(work), 4);
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('installPair', () => {
  test('a fresh directory gets the four names as links into one current version', () => {
    const dir = fresh();
    const r = installPair(dir, pairOf(pairs[0]!));
    assert.equal(r.version, 'v1');
    assert.equal(r.previous, null);
    assert.equal(r.tookOver, false);
    for (const name of CERT_NAMES) {
      assert.ok(lstatSync(join(dir, name)).isSymbolicLink(), name);
      assert.equal(readlinkSync(join(dir, name)), `.danekeeper/current/${name}`);
    }
    assert.equal(readlinkSync(join(dir, '.danekeeper/current')), 'v1');
    assert.equal(readMatchingPair(dir).fingerprint, pairs[0]!.fingerprint);
    assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), pairs[0]!.leafPem);
    assert.equal(readFileSync(join(dir, 'chain.pem'), 'utf8'), pairs[0]!.intermediatePem);
    assert.equal(readFileSync(join(dir, 'privkey.pem'), 'utf8'), pairs[0]!.keyPem);
    assert.equal(mode(join(dir, 'privkey.pem')), 0o600);
    for (const name of ['fullchain.pem', 'cert.pem', 'chain.pem'])
      assert.equal(mode(join(dir, name)), 0o644, name);
    assert.equal(mode(join(dir, '.danekeeper')), 0o755);
    assert.equal(mode(join(dir, '.danekeeper/v1')), 0o755);
    assert.match(r.spkiSha256, /^[0-9a-f]{64}$/);
    assert.ok(Date.parse(r.notAfter) > Date.parse(r.notBefore));
    // the facts never include the key
    assert.doesNotMatch(JSON.stringify(r), /PRIVATE/);
  });

  test('a second install keeps the first as previous; rollback swaps them, twice', () => {
    const dir = fresh();
    installPair(dir, pairOf(pairs[0]!));
    const r = installPair(dir, pairOf(pairs[1]!));
    assert.deepEqual([r.version, r.previous], ['v2', 'v1']);
    assert.equal(readMatchingPair(dir).fingerprint, pairs[1]!.fingerprint);
    const back = rollback(dir);
    assert.deepEqual([back.version, back.previous], ['v1', 'v2']);
    assert.equal(readMatchingPair(dir).fingerprint, pairs[0]!.fingerprint);
    const d = readDeployed(dir);
    assert.equal(d.current?.version, 'v1');
    assert.equal(d.previous?.version, 'v2');
    rollback(dir);
    assert.equal(readMatchingPair(dir).fingerprint, pairs[1]!.fingerprint);
  });

  test('rollback without a previous version is refused and changes nothing', () => {
    const dir = fresh();
    rejects(() => rollback(dir), 'E_DEPLOY_NO_DIR');
    installPair(dir, pairOf(pairs[0]!));
    const before = snapshot(dir);
    rejects(() => rollback(dir), 'E_DEPLOY_NO_PREVIOUS', /no previous certificate/);
    assert.equal(snapshot(dir), before);
  });

  test('older versions are pruned: current + previous by default, one more with keep 2', () => {
    const dir = fresh();
    for (const p of pairs) installPair(dir, pairOf(p));
    assert.deepEqual(
      readdirSync(join(dir, '.danekeeper'))
        .filter((e) => /^v/.test(e))
        .sort(),
      ['v3', 'v4'],
    );
    const dir2 = fresh();
    let last;
    for (const p of pairs) last = installPair(dir2, pairOf(p), { keep: 2 });
    assert.deepEqual(last!.pruned, ['v1']);
    assert.deepEqual(
      readdirSync(join(dir2, '.danekeeper'))
        .filter((e) => /^v/.test(e))
        .sort(),
      ['v2', 'v3', 'v4'],
    );
    assert.equal(readMatchingPair(dir2).fingerprint, pairs[3]!.fingerprint);
  });

  test(
    'owner and group of existing files are kept, and the key keeps its group-read bit',
    { skip: !root && 'needs root for chown' },
    () => {
      const dir = fresh();
      mkdirSync(dir);
      const p0 = pairs[0]!;
      writeFileSync(join(dir, 'privkey.pem'), p0.keyPem, { mode: 0o640 });
      writeFileSync(join(dir, 'fullchain.pem'), p0.chainPem, { mode: 0o644 });
      writeFileSync(join(dir, 'cert.pem'), p0.leafPem, { mode: 0o644 });
      writeFileSync(join(dir, 'chain.pem'), p0.intermediatePem, { mode: 0o644 });
      chownSync(join(dir, 'privkey.pem'), 0, NOBODY);
      chownSync(join(dir, 'fullchain.pem'), NOBODY, NOBODY);
      installPair(dir, pairOf(pairs[1]!));
      const k = statSync(join(dir, 'privkey.pem'));
      assert.deepEqual([k.uid, k.gid, k.mode & 0o777], [0, NOBODY, 0o640]);
      for (const name of ['fullchain.pem', 'cert.pem', 'chain.pem']) {
        const c = statSync(join(dir, name));
        assert.deepEqual([c.uid, c.gid, c.mode & 0o777], [NOBODY, NOBODY, 0o644], name);
      }
      // carried on from our own links at the next install too
      installPair(dir, pairOf(pairs[2]!));
      const k2 = statSync(join(dir, 'privkey.pem'));
      assert.deepEqual([k2.uid, k2.gid, k2.mode & 0o777], [0, NOBODY, 0o640]);
      // a world-readable old key is not copied as such
      const dir2 = fresh();
      mkdirSync(dir2);
      writeFileSync(join(dir2, 'privkey.pem'), p0.keyPem, { mode: 0o644 });
      chmodSync(join(dir2, 'privkey.pem'), 0o644);
      writeFileSync(join(dir2, 'fullchain.pem'), p0.chainPem);
      installPair(dir2, pairOf(pairs[1]!));
      assert.equal(mode(join(dir2, 'privkey.pem')), 0o640);
    },
  );

  test('a certbot-style directory of plain files is taken over with no missing name and no mix', () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    const p0 = pairs[0]!;
    writeFileSync(join(dir, 'privkey.pem'), p0.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'fullchain.pem'), p0.chainPem);
    writeFileSync(join(dir, 'cert.pem'), p0.leafPem);
    writeFileSync(join(dir, 'chain.pem'), p0.intermediatePem);
    const seen: string[] = [];
    const r = installPair(dir, pairOf(pairs[1]!), {
      onStep: (step) => {
        // after every step a reader finds a matching pair under all four names
        seen.push(
          `${step}:${readMatchingPair(dir).fingerprint === p0.fingerprint ? 'old' : 'new'}`,
        );
      },
    });
    assert.equal(r.tookOver, true);
    assert.deepEqual([r.version, r.previous], ['v2', 'v1']);
    // the names became links while they still showed the old pair; one switch to the new
    const firstNew = seen.findIndex((s) => s.endsWith(':new'));
    assert.equal(seen[firstNew], 'current-set:new', seen.join(' '));
    assert.ok(seen.slice(0, firstNew).every((s) => s.endsWith(':old')));
    assert.ok(seen.slice(firstNew).every((s) => s.endsWith(':new')));
    assert.equal(mode(dir), 0o700, 'the directory keeps its mode');
    rollback(dir);
    assert.equal(readFileSync(join(dir, 'privkey.pem'), 'utf8'), p0.keyPem, 'old bytes exactly');
    assert.equal(readFileSync(join(dir, 'fullchain.pem'), 'utf8'), p0.chainPem);
  });

  test('a taken-over directory without cert.pem/chain.pem gets them from fullchain.pem', () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'privkey.pem'), pairs[0]!.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'fullchain.pem'), pairs[0]!.chainPem);
    installPair(dir, pairOf(pairs[1]!), {
      // cert.pem and chain.pem appear during the takeover; the pair itself always matches
      onStep: () => {
        const key = createPrivateKey(readFileSync(join(dir, 'privkey.pem')));
        const leaf = new X509Certificate(readFileSync(join(dir, 'fullchain.pem')));
        assert.ok(leaf.checkPrivateKey(key));
      },
    });
    assert.equal(readMatchingPair(dir).fingerprint, pairs[1]!.fingerprint);
    rollback(dir);
    assert.equal(readMatchingPair(dir).fingerprint, pairs[0]!.fingerprint);
  });
});

describe('one install at a time per directory', () => {
  test('a lock held by a live process is refused; one left by a dead process is taken over', () => {
    const dir = fresh();
    installPair(dir, pairOf(pairs[0]!));
    const lock = join(dir, '.danekeeper', 'lock');
    writeFileSync(lock, `${process.pid}\n`);
    rejects(() => installPair(dir, pairOf(pairs[1]!)), 'E_DEPLOY_BUSY', /locked by process/);
    rejects(() => rollback(dir), 'E_DEPLOY_BUSY');
    assert.equal(readMatchingPair(dir).fingerprint, pairs[0]!.fingerprint);
    const dead = spawnSync('/bin/true').pid!;
    writeFileSync(lock, `${dead}\n`);
    installPair(dir, pairOf(pairs[1]!));
    assert.equal(readMatchingPair(dir).fingerprint, pairs[1]!.fingerprint);
    assert.throws(() => lstatSync(lock), /ENOENT/, 'released');
  });
});

describe('installPair refuses before touching anything', () => {
  test('a key that is not the certificate key', () => {
    const dir = fresh();
    installPair(dir, pairOf(pairs[0]!));
    const before = snapshot(dir);
    rejects(
      () => installPair(dir, { keyPem: pairs[2]!.keyPem, chainPem: pairs[1]!.chainPem }),
      'E_DEPLOY_KEY_MISMATCH',
      /does not belong to the certificate/,
    );
    assert.equal(snapshot(dir), before);
    const none = fresh();
    rejects(
      () => installPair(none, { keyPem: pairs[2]!.keyPem, chainPem: pairs[1]!.chainPem }),
      'E_DEPLOY_KEY_MISMATCH',
    );
    assert.throws(() => lstatSync(none), /ENOENT/, 'not even the directory is made');
  });

  test('a chain whose leaf is not first, a chain holding a key, a broken key', () => {
    const dir = fresh();
    const p = pairs[1]!;
    rejects(
      () => installPair(dir, { keyPem: p.keyPem, chainPem: p.intermediatePem + p.leafPem }),
      'E_DEPLOY_CHAIN_ORDER',
      /leaf first/,
    );
    rejects(
      () => installPair(dir, { keyPem: p.keyPem, chainPem: p.chainPem + p.keyPem }),
      'E_DEPLOY_CHAIN_HAS_KEY',
    );
    rejects(
      () =>
        installPair(dir, {
          // a line of base64 missing: no longer DER
          keyPem: p.keyPem
            .split('\n')
            .filter((_l, i) => i !== 2)
            .join('\n'),
          chainPem: p.chainPem,
        }),
      'E_DEPLOY_KEY_INVALID',
    );
    rejects(() => installPair(dir, { keyPem: '', chainPem: p.chainPem }), 'E_DEPLOY_KEY_INVALID');
    rejects(
      () => installPair(dir, { keyPem: p.keyPem, chainPem: 'junk' }),
      'E_DEPLOY_CHAIN_INVALID',
    );
    assert.throws(() => lstatSync(dir), /ENOENT/);
  });

  test('a DIR that is a file', () => {
    const f = fresh();
    writeFileSync(f, 'x');
    rejects(() => installPair(f, pairOf(pairs[0]!)), 'E_DEPLOY_NOT_DIR', /is not a directory/);
    assert.equal(readFileSync(f, 'utf8'), 'x');
  });

  test('a name that is a link to elsewhere is never followed or replaced', () => {
    const dir = fresh();
    mkdirSync(dir);
    const victim = join(work, `victim${n}`);
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(dir, 'privkey.pem'));
    rejects(() => installPair(dir, pairOf(pairs[0]!)), 'E_DEPLOY_FOREIGN_FILE', /a link to/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
    assert.deepEqual(readdirSync(dir), ['privkey.pem']);
  });

  test('.danekeeper replaced by a link to elsewhere', () => {
    const dir = fresh();
    installPair(dir, pairOf(pairs[0]!));
    const elsewhere = join(work, `elsewhere${n}`);
    mkdirSync(elsewhere);
    rmSync(join(dir, '.danekeeper'), { recursive: true });
    symlinkSync(elsewhere, join(dir, '.danekeeper'));
    rejects(() => installPair(dir, pairOf(pairs[1]!)), 'E_DEPLOY_UNSAFE_PATH');
    assert.deepEqual(readdirSync(elsewhere), []);
  });

  test(
    'a path component another user could replace: their link in /tmp, a group-writable parent',
    { skip: !root && 'needs root for lchown' },
    () => {
      const real = fresh();
      mkdirSync(real);
      const link = join(work, `link${n}`);
      symlinkSync(real, link);
      lchownSync(link, NOBODY, NOBODY);
      // `work` is ours; make it sticky + world-writable as /tmp is, so the link's owner counts
      chmodSync(work, 0o1777);
      try {
        rejects(
          () => installPair(join(link), pairOf(pairs[0]!)),
          'E_DEPLOY_UNSAFE_PATH',
          /uid 65534/,
        );
        // our own link there is fine
        lchownSync(link, 0, 0);
        installPair(link, pairOf(pairs[0]!));
        assert.equal(readMatchingPair(real).fingerprint, pairs[0]!.fingerprint);
      } finally {
        chmodSync(work, 0o755);
      }
      const shared = fresh();
      mkdirSync(shared, { mode: 0o775 });
      chmodSync(shared, 0o775);
      rejects(
        () => installPair(join(shared, 'certs'), pairOf(pairs[0]!)),
        'E_DEPLOY_UNSAFE_PATH',
        /writable by group or others/,
      );
      assert.deepEqual(readdirSync(shared), []);
      const mine = fresh();
      mkdirSync(mine);
      chmodSync(mine, 0o757);
      rejects(() => installPair(mine, pairOf(pairs[0]!)), 'E_DEPLOY_UNSAFE_PATH');
    },
  );
});
