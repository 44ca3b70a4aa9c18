/**
 * The reference tools judge a TLSA hash (DESIGN.md): for certificates of every key type made
 * at test time, each selector x matching type from `danekeeper tlsa` must equal openssl's
 * digest, and ldns-dane and danetool must agree.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki, openssl, tempDir, type KeyAlg, type Pki } from './support/pki.js';
import { runCli } from './support/cli.js';

const ALGS: KeyAlg[] = ['rsa2048', 'rsa4096', 'p256', 'p384', 'ed25519'];
const pkis = new Map<KeyAlg, Pki>();

before(() => {
  const dir = tempDir();
  for (const a of ALGS)
    pkis.set(a, makePki(dir, { leafAlg: a, caAlg: a === 'rsa4096' ? 'p256' : a, prefix: `${a}-` }));
});

const digest = (mtype: number, data: Buffer) =>
  mtype === 0
    ? data.toString('hex')
    : createHash(mtype === 1 ? 'sha256' : 'sha512')
        .update(data)
        .digest('hex');

/** openssl's own view of the selected content (the "Must show" pipelines). */
function opensslContent(certFile: string, selector: number): Buffer {
  const der = openssl(['x509', '-in', certFile, '-outform', 'DER']);
  if (selector === 0) return der;
  const pub = openssl(['x509', '-in', certFile, '-pubkey', '-noout']);
  return openssl(['pkey', '-pubin', '-outform', 'DER'], pub);
}

/** `ldns-dane -c FILE create NAME PORT U S M` prints "owner ttl IN TLSA U S M HEX". */
function ldnsDane(certFile: string, u: number, s: number, m: number): string {
  const out = execFileSync(
    'ldns-dane',
    ['-c', certFile, 'create', 'mail.example.test', '25', `${u}`, `${s}`, `${m}`],
    {
      encoding: 'utf8',
    },
  );
  const f = out.trim().split(/\s+/);
  return f.slice(-4).join(' ');
}

/** danetool prints "( 03 01 01 HEX )"; its usage flags: --domain = 3/2, --ca = CA (2 with --domain). */
function danetool(certFile: string, s: number, m: number, ca = false): string {
  const args = [
    '--tlsa-rr',
    '--host',
    'mail.example.test',
    '--port',
    '25',
    '--load-certificate',
    certFile,
  ];
  if (s === 0) args.push('--x509');
  if (m === 2) args.push('--hash', 'sha512');
  if (ca) args.push('--ca');
  const out = execFileSync('danetool', args, { encoding: 'utf8' });
  const inner = /\(\s*([0-9a-f ]+)\s*\)/i.exec(out)![1]!.trim().split(/\s+/);
  return [
    Number(inner[0]),
    Number(inner[1]),
    Number(inner[2]),
    inner.slice(3).join('').toLowerCase(),
  ].join(' ');
}

for (const alg of ALGS) {
  test(`${alg}: every selector x matching type equals openssl, ldns-dane and danetool`, () => {
    const { leaf } = pkis.get(alg)!;
    for (const s of [0, 1]) {
      const content = opensslContent(leaf.certFile, s);
      for (const m of [0, 1, 2]) {
        const r = runCli([
          'tlsa',
          '--cert',
          leaf.certFile,
          '--selector',
          `${s}`,
          '--mtype',
          `${m}`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '');
        const want = `3 ${s} ${m} ${digest(m, content)}`;
        assert.equal(r.stdout, want + '\n', `danekeeper 3 ${s} ${m} vs openssl`);
        assert.equal(ldnsDane(leaf.certFile, 3, s, m), want, `ldns-dane 3 ${s} ${m}`);
        if (m !== 0) assert.equal(danetool(leaf.certFile, s, m), want, `danetool 3 ${s} ${m}`);
      }
    }
  });
}

test('--chain gives 3 1 1 for the leaf and 2 1 1 for its issuer (ldns-dane, danetool, openssl agree)', () => {
  for (const alg of ['rsa2048', 'p384'] as const) {
    const p = pkis.get(alg)!;
    // A bundle given issuer first must still put the leaf first.
    const reversed = join(p.dir, `${alg}-reversed.pem`);
    writeFileSync(reversed, p.intermediate.certPem + p.leaf.certPem);
    const r = runCli(['tlsa', '--cert', reversed, '--chain']);
    assert.equal(r.code, 0, r.stderr);
    const [ee, ta, more] = r.stdout.trim().split('\n');
    assert.equal(more, undefined);
    assert.equal(ee, ldnsDane(p.leaf.certFile, 3, 1, 1));
    // ldns-dane insists on a name match for a lone CA file; danetool --ca does not.
    assert.equal(ta, `2 1 1 ${digest(1, opensslContent(p.intermediate.certFile, 1))}`);
    assert.equal(ta, danetool(p.intermediate.certFile, 1, 1, true));
  }
});

test("--key: the seeds' `openssl rsa -pubin` pipeline fails on EC keys; danekeeper gives the right 3 1 1", () => {
  const p = pkis.get('p256')!;
  const pub = openssl(['x509', '-in', p.leaf.certFile, '-pubkey', '-noout']);
  assert.throws(
    () => openssl(['rsa', '-pubin', '-outform', 'DER'], pub),
    'openssl rsa accepts no EC key',
  );
  const fromCert = runCli(['tlsa', '--cert', p.leaf.certFile]);
  const fromKey = runCli(['tlsa', '--key', p.leaf.keyFile]);
  assert.equal(fromKey.code, 0, fromKey.stderr);
  assert.equal(fromKey.stdout, fromCert.stdout);
  assert.equal(fromKey.stdout.trim(), `3 1 1 ${digest(1, opensslContent(p.leaf.certFile, 1))}`);
});

test('a certbot-style live directory gives each record once, never the intermediate as a leaf', () => {
  const p = pkis.get('p384')!;
  const live = join(p.dir, 'live');
  mkdirSync(live);
  writeFileSync(join(live, 'cert.pem'), p.leaf.certPem);
  writeFileSync(join(live, 'chain.pem'), p.intermediate.certPem);
  writeFileSync(join(live, 'fullchain.pem'), p.leaf.certPem + p.intermediate.certPem);
  writeFileSync(join(live, 'privkey.pem'), p.leaf.keyPem);
  writeFileSync(join(live, 'README'), 'This directory contains your keys and certificates.\n');
  const leaf311 = `3 1 1 ${digest(1, opensslContent(p.leaf.certFile, 1))}`;
  const int211 = `2 1 1 ${digest(1, opensslContent(p.intermediate.certFile, 1))}`;
  const plain = runCli(['tlsa', '--cert', live]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, `${leaf311}\n`);
  const chain = runCli(['tlsa', '--cert', live, '--chain']);
  assert.equal(chain.stdout, `${leaf311}\n${int211}\n`);
});
