/**
 * `tlsa --cert DIR` and `--cert BUNDLE` with more than one server certificate (issue 8): every
 * self-signed certificate is its own leaf and gets its record, a certbot directory next to a
 * stray self-signed certificate gives both, and nothing is dropped without a word on stderr.
 * Each digest is checked against openssl's own pipeline (RFC 6698 §2.1.2 selector 1).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { runCliAsync, type CliResult } from './support/cli.js';
import {
  issue,
  makeBareCert,
  makePki,
  makeSelfSigned,
  openssl,
  tempDir,
  type Issued,
  type Pki,
} from './support/pki.js';

let dir: string;
let pki: Pki;
let other: Pki;
let selfs: Issued[];
let bare: Issued;
let rsaLeaf: Issued;

before(() => {
  dir = tempDir();
  pki = makePki(dir);
  other = makePki(dir, { prefix: 'other-' });
  selfs = [
    makeSelfSigned(dir, 'a-self', 'mx1.example.test'),
    makeSelfSigned(dir, 'b-self', 'mx2.example.test', 'ed25519'),
    makeSelfSigned(dir, 'c-self', 'mx3.example.test', 'rsa2048'),
  ];
  bare = makeBareCert(dir);
  rsaLeaf = issue(dir, 'rsa-leaf', { cn: 'mail.example.test', alg: 'rsa2048' }, pki.intermediate);
});

/** The 3 1 1 / 2 1 1 record openssl's pipeline gives for a certificate. */
function ref(usage: number, c: Issued): string {
  const pub = openssl(['x509', '-in', c.certFile, '-pubkey', '-noout']);
  const spki = openssl(['pkey', '-pubin', '-outform', 'DER'], pub);
  return `${usage} 1 1 ${createHash('sha256').update(spki).digest('hex')}`;
}

function makeDir(name: string, files: Record<string, string>): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
  return d;
}

const certbot = () => ({
  'cert.pem': pki.leaf.certPem,
  'chain.pem': pki.intermediate.certPem,
  'fullchain.pem': pki.leaf.certPem + pki.intermediate.certPem,
  'privkey.pem': pki.leaf.keyPem,
  README: 'This directory contains your keys and certificates.\n',
});

const lines = (r: CliResult) => r.stdout.trimEnd().split('\n');
const noStack = (r: CliResult) => assert.doesNotMatch(r.stderr, /\s+at .+:\d+:\d+/);

test('a directory of independent self-signed certificates (openssl req -x509) gives a record for each', async () => {
  const d = makeDir('selfs', {
    'mx1.pem': selfs[0]!.certPem,
    'mx2.pem': selfs[1]!.certPem,
    'mx3.pem': selfs[2]!.certPem,
    'mx1.key': selfs[0]!.keyPem,
  });
  const r = await runCliAsync(['tlsa', '--cert', d]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    lines(r),
    selfs.map((s) => ref(3, s)),
  );
  assert.equal(r.stderr, '');
});

test('a bundle file with several server certificates (RSA + ECDSA chain file, two self-signed)', async () => {
  const postfix = join(dir, 'postfix-chains.pem');
  writeFileSync(
    postfix,
    pki.leaf.keyPem +
      pki.leaf.certPem +
      pki.intermediate.certPem +
      rsaLeaf.keyPem +
      rsaLeaf.certPem +
      pki.intermediate.certPem,
  );
  const two = join(dir, 'two-self.pem');
  writeFileSync(two, selfs[0]!.certPem + selfs[1]!.certPem);
  const [a, b] = await Promise.all([
    runCliAsync(['tlsa', '--cert', postfix, '--chain']),
    runCliAsync(['tlsa', '--cert', two]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(lines(a), [ref(3, pki.leaf), ref(2, pki.intermediate), ref(3, rsaLeaf)]);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(lines(b), [ref(3, selfs[0]!), ref(3, selfs[1]!)]);
});

test('certbot live directory plus a stray self-signed and a bare certificate: all three leaves; -v says what was used for what', async () => {
  const d = makeDir('mix', {
    ...certbot(),
    'self.pem': selfs[1]!.certPem,
    'bare.pem': bare.certPem,
  });
  const [plain, chain, verbose] = await Promise.all([
    runCliAsync(['tlsa', '--cert', d]),
    runCliAsync(['tlsa', '--cert', d, '--chain']),
    runCliAsync(['tlsa', '--cert', d, '-v']),
  ]);
  // File-name order: bare.pem, cert.pem (with chain.pem, fullchain.pem), self.pem.
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(lines(plain), [ref(3, bare), ref(3, pki.leaf), ref(3, selfs[1]!)]);
  assert.equal(plain.stderr, '');

  // --chain: the certbot pair, and for each self-signed certificate its 3 1 1 and a warning
  // that it has no issuer, instead of failing the whole directory.
  assert.equal(chain.code, 0, chain.stderr);
  assert.deepEqual(lines(chain), [
    ref(3, bare),
    ref(3, pki.leaf),
    ref(2, pki.intermediate),
    ref(3, selfs[1]!),
  ]);
  const warnings = chain.stderr.trimEnd().split('\n');
  assert.equal(warnings.length, 2, chain.stderr);
  assert.match(
    warnings[0]!,
    /^danekeeper: warning: .*bare\.pem: empty subject is self-signed: it has no issuer, so no 2 1 1 record for it$/,
  );
  assert.match(
    warnings[1]!,
    /^danekeeper: warning: .*self\.pem: CN=mx2\.example\.test is self-signed/,
  );

  assert.equal(verbose.code, 0, verbose.stderr);
  assert.equal(verbose.stdout, plain.stdout);
  assert.match(verbose.stderr, /skipping: .*privkey\.pem: contains a private key/);
  assert.match(
    verbose.stderr,
    /3 1 1 [0-9a-f]{64}: empty subject \(.*bare\.pem\), server certificate/,
  );
  assert.match(
    verbose.stderr,
    /3 1 1 [0-9a-f]{64}: CN=mail\.example\.test \(.*cert\.pem\), server certificate/,
  );
  assert.match(verbose.stderr, /CN=mx2\.example\.test \(.*self\.pem\), server certificate/);
  noStack(verbose);
});

test('a stray intermediate of another CA is not taken for a server certificate, and a warning says so', async () => {
  const d = makeDir('stray', { ...certbot(), 'old-chain.pem': other.intermediate.certPem });
  const [plain, ta] = await Promise.all([
    runCliAsync(['tlsa', '--cert', d]),
    runCliAsync(['tlsa', '--cert', d, '--usage', '2']),
  ]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(lines(plain), [ref(3, pki.leaf)]);
  assert.match(
    plain.stderr,
    /^danekeeper: warning: .*old-chain\.pem: CN=other-Test Intermediate: not used: a CA certificate that issued no certificate here and is not self-signed\n$/,
  );
  // With a trust-anchor usage, every CA certificate is what the user asked for.
  assert.equal(ta.code, 0, ta.stderr);
  assert.deepEqual(lines(ta), [ref(2, pki.intermediate), ref(2, other.intermediate)]);
  assert.equal(ta.stderr, '');
});

test('--usage 2 on a file of intermediates gives each of them (the set DESIGN.md asks for)', async () => {
  const f = join(dir, 'intermediates.pem');
  writeFileSync(f, pki.intermediate.certPem + other.intermediate.certPem);
  const r = await runCliAsync(['tlsa', '--cert', f, '--usage', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r), [ref(2, pki.intermediate), ref(2, other.intermediate)]);
});

test('--chain on a leaf whose issuer is missing still fails (exit 65): only self-signed certificates have none', async () => {
  const r = await runCliAsync(['tlsa', '--cert', pki.leaf.certFile, '--chain']);
  assert.equal(r.code, 65);
  assert.match(r.stderr, /holds only the leaf certificate/);
});
