/**
 * `danekeeper verify` as scripts call it: exit statuses (0 verified, 1 unusable, 2 failed, 64/65/66
 * errors), the JSON shape of the command-line contract, and one-line errors for bad input.
 * Child processes run in parallel within each test to keep the file quick.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki, tempDir, type Pki } from './support/pki.js';
import { runCliAsync, type CliResult } from './support/cli.js';
import { formatRdata, generateTlsa } from '../src/core/tlsa/index.js';
import { certFromDer } from '../src/core/x509/index.js';

let dir: string;
let pki: Pki;
let ee: string; // 3 1 1 of the leaf
let ta: string; // 2 1 1 of the intermediate
let pkixEe: string; // 1 1 1 of the leaf
let fullChain: string; // leaf, intermediate, root
let caFirst: string; // intermediate, leaf

const file = (name: string, data: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

before(() => {
  dir = tempDir();
  pki = makePki(dir, { names: ['mail.example.test'] });
  const leaf = certFromDer(pki.leaf.der);
  const int = certFromDer(pki.intermediate.der);
  ee = formatRdata(generateTlsa(leaf, 3, 1, 1));
  ta = formatRdata(generateTlsa(int, 2, 1, 1));
  pkixEe = formatRdata(generateTlsa(leaf, 1, 1, 1));
  fullChain = file('full.pem', pki.leaf.certPem + pki.intermediate.certPem + pki.root.certPem);
  caFirst = file('ca-first.pem', pki.intermediate.certPem + pki.leaf.certPem);
});

const verify = (...args: string[]) => runCliAsync(['verify', ...args]);
const base = () => ['--chain', pki.chainFile, '--name', 'mail.example.test'];

function noStack(r: CliResult) {
  assert.doesNotMatch(r.stderr, /\s+at .+:\d+:\d+/, 'no stack trace');
}

test('verified exits 0; the human output is a verdict line, then a line per record', async () => {
  const r = await verify(...base(), '--smtp', '--tlsa', ee, '--tlsa', '3 1 1 abcd');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^verified: 3 1 1 [0-9a-f]{64} matched at depth 0$/);
  assert.match(lines[1]!, /^ {2}matched +3 1 1 [0-9a-f]{64}: matches the leaf's public key/);
  assert.match(lines[2]!, /^ {2}unusable +3 1 1 abcd: SHA2-256 data must be 32 bytes/);
  assert.equal(r.stderr, '');
});

test('--json has the contract shape: verdict, matched {record, depth}, reasons, records', async () => {
  const [ok, failed] = await Promise.all([
    verify(...base(), '--smtp', '--json', '--tlsa', ta),
    verify(...base(), '--smtp', '--json', '--tlsa', ta, '--time', '2099-01-01T00:00:00Z'),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout) as Record<string, unknown>;
  assert.equal(j.verdict, 'verified');
  assert.deepEqual(j.matched, { record: ta, depth: 1 });
  assert.ok(Array.isArray(j.reasons) && j.reasons.length === 1);
  assert.deepEqual(Object.keys((j.records as object[])[0]!), [
    'record',
    'usable',
    'matched',
    'depth',
    'reason',
  ]);
  assert.equal(j.mode, 'smtp');
  assert.deepEqual(j.names, ['mail.example.test']);
  assert.equal((j.chain as unknown[]).length, 2);

  assert.equal(failed.code, 2, failed.stderr);
  const f = JSON.parse(failed.stdout) as {
    verdict: string;
    matched: unknown;
    reasons: string[];
    time: string;
  };
  assert.equal(f.verdict, 'failed');
  assert.equal(f.matched, null);
  assert.equal(f.time, '2099-01-01T00:00:00Z');
  assert.match(f.reasons[0]!, /certificate at depth 0 \(CN=mail\.example\.test\) expired on/);
});

test('exit statuses: 2 failed, 1 unusable (SMTP, PKIX only), PKIX with a trust store 0', async () => {
  const [failed, unusable, pkix, pkixNoStore, caFirstRun] = await Promise.all([
    verify('--chain', pki.chainFile, '--name', 'other.example.test', '--smtp', '--tlsa', ta),
    verify(...base(), '--smtp', '--tlsa', pkixEe),
    verify(...base(), '--tlsa', pkixEe, '--trust-store', pki.root.certFile),
    verify(...base(), '--tlsa', pkixEe),
    verify('--chain', caFirst, '--name', 'mail.example.test', '--tlsa', ee),
  ]);
  assert.equal(failed.code, 2, failed.stdout);
  assert.match(
    failed.stdout,
    /^failed: none of the 1 usable TLSA record authenticates this chain\n/,
  );
  assert.equal(unusable.code, 1, unusable.stdout);
  assert.match(unusable.stdout, /^unusable: every TLSA record is unusable: TLS is still mandatory/);
  assert.equal(pkix.code, 0, pkix.stdout + pkix.stderr);
  assert.equal(pkixNoStore.code, 1, pkixNoStore.stdout);
  assert.match(pkixNoStore.stdout, /no trust store was given/);
  // The chain file is the presented order: a CA first is not reordered away.
  assert.equal(caFirstRun.code, 2, caFirstRun.stdout);
  assert.match(caFirstRun.stdout, /note: the first certificate presented \(CN=Test Intermediate\)/);
});

test('names, times, and record spellings', async () => {
  const now = Math.floor(Date.now() / 1000);
  const [wrongName, unixLater, isoOffset, rrLine, mnemonic, rootSent] = await Promise.all([
    verify('--chain', pki.chainFile, '--name', 'mx.example.test', '--tlsa', ta),
    verify(...base(), '--tlsa', ta, '--time', String(now + 400 * 86400)),
    verify(...base(), '--tlsa', ta, '--time', '2026-01-01T01:00:00+01:00', '--json'),
    verify(...base(), '--tlsa', `_25._tcp.mail.example.test. 3600 IN TLSA ${ta}`),
    verify(...base(), '--tlsa', ee.replace(/^3 1 1/, 'DANE-EE SPKI SHA2-256')),
    verify('--chain', fullChain, '--name', 'MAIL.example.test.', '--tlsa', ta, '--json'),
  ]);
  assert.equal(wrongName.code, 2, wrongName.stdout);
  assert.match(
    wrongName.stdout,
    /the leaf's name DNS:mail\.example\.test does not match any of mx\.example\.test/,
  );
  assert.equal(unixLater.code, 2, unixLater.stdout);
  assert.match(unixLater.stdout, /expired on/);
  assert.equal((JSON.parse(isoOffset.stdout) as { time: string }).time, '2026-01-01T00:00:00Z');
  assert.equal(rrLine.code, 0, rrLine.stderr);
  assert.equal(mnemonic.code, 0, mnemonic.stderr);
  assert.equal(rootSent.code, 0, rootSent.stderr);
  assert.deepEqual((JSON.parse(rootSent.stdout) as { names: string[] }).names, [
    'mail.example.test',
  ]);
});

test('--name .example.test: any subdomain, as Postfix match= and OpenSSL read a leading dot', async () => {
  const [sub, tld, itself, json, bad] = await Promise.all([
    verify('--chain', pki.chainFile, '--name', '.example.test', '--smtp', '--tlsa', ta),
    verify('--chain', pki.chainFile, '--name', '.TEST.', '--smtp', '--tlsa', ta),
    verify('--chain', pki.chainFile, '--name', '.mail.example.test', '--smtp', '--tlsa', ta),
    verify('--chain', pki.chainFile, '--name', '.example.test', '--tlsa', ta, '--json'),
    verify('--chain', pki.chainFile, '--name', '.', '--tlsa', ta),
  ]);
  assert.equal(sub.code, 0, sub.stdout + sub.stderr);
  assert.match(sub.stdout, /the name \.example\.test \(as mail\.example\.test\) check out/);
  assert.equal(tld.code, 0, tld.stdout + tld.stderr);
  // One or more labels to the left, never the name itself.
  assert.equal(itself.code, 2, itself.stdout);
  assert.match(
    itself.stdout,
    /the leaf's name DNS:mail\.example\.test does not match any of \.mail\.example\.test/,
  );
  assert.deepEqual((JSON.parse(json.stdout) as { names: string[] }).names, ['.example.test']);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /--name "\." is not a host name \(or \.domain for any subdomain/);
});

test('bad input: one line on stderr, nothing on stdout, the sysexits status', async () => {
  const missing = join(dir, 'missing.pem');
  const garbage = file('garbage.pem', 'hello\n');
  const cases: [string[], number, RegExp][] = [
    [['--name', 'a.test', '--tlsa', ee], 64, /verify needs --chain FILE/],
    [['--chain', pki.chainFile, '--name', 'a.test'], 64, /at least one --tlsa/],
    [['--chain', pki.chainFile, '--tlsa', ee], 64, /at least one --name/],
    [
      [...base(), '--name', '*.example.test', '--tlsa', ee],
      64,
      /--name "\*\.example\.test" is not a host name/,
    ],
    [[...base(), '--tlsa', ee, '--time', 'yesterday'], 64, /--time "yesterday" is neither/],
    [[...base(), '--tlsa', ee, '--time', '2026-02-30'], 64, /--time "2026-02-30"/],
    [
      [...base(), '--tlsa', ee, '--smtp', '--trust-store', pki.root.certFile],
      64,
      /no effect with --smtp/,
    ],
    [[...base(), '--tlsa', ee, '--bogus'], 64, /unknown option/],
    [[...base(), '--tlsa', '3 1 x 00'], 65, /--tlsa "3 1 x 00": TLSA record: matching type "x"/],
    [[...base(), '--tlsa', '3 1 1 zz'], 65, /--tlsa "3 1 1 zz": .*not a hex digit/],
    [[...base(), '--tlsa', '3 1'], 65, /--tlsa "3 1": .*missing/],
    [
      ['--chain', missing, '--name', 'a.test', '--tlsa', ee],
      66,
      /Reading .*missing\.pem failed: no such file/,
    ],
    [['--chain', garbage, '--name', 'a.test', '--tlsa', ee], 65, /garbage\.pem: /],
    [[...base(), '--tlsa', pkixEe, '--trust-store', missing], 66, /missing\.pem failed/],
  ];
  const results = await Promise.all(cases.map(([args]) => verify(...args)));
  results.forEach((r, i) => {
    const [args, code, pattern] = cases[i]!;
    const what = args.join(' ');
    assert.equal(r.code, code, `${what}: ${r.stderr}`);
    assert.equal(r.stdout, '', `${what}: nothing on stdout`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0]!, pattern, what);
    noStack(r);
  });
});
