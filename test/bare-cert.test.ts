/**
 * Issue 8: a bare DANE-EE certificate — empty subject and issuer, notAfter before notBefore,
 * no extensions — through every command that reads certificates. RFC 7671 §5.1: names and dates
 * do not matter for DANE-EE, so `verify --smtp` verifies it, `tlsa` prints its record and
 * `check` shows it in the chain.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, test } from 'node:test';
import { parseTlsa } from '../src/core/tlsa/index.js';
import { StaticResolver } from '../src/io/dns/index.js';
import type { ProbeOptions, ProbeResult } from '../src/io/probe/index.js';
import { checkDomain, exitStatus } from '../src/check/check.js';
import { printReport } from '../src/cli/check.js';
import type { Io } from '../src/cli/io.js';
import { runCliAsync } from './support/cli.js';
import { makeBareCert, openssl, tempDir, type Issued } from './support/pki.js';

let bare: Issued;
let rdata: string;

before(() => {
  bare = makeBareCert(tempDir());
  // The reference pipeline (RFC 6698 §2.1.2 selector 1): openssl's reading of the key, hashed.
  const pub = openssl(['x509', '-in', bare.certFile, '-noout', '-pubkey']);
  const spki = openssl(['pkey', '-pubin', '-outform', 'der'], pub);
  rdata = `3 1 1 ${createHash('sha256').update(spki).digest('hex')}`;
});

const noStack = (s: string) => assert.doesNotMatch(s, /\s+at .+:\d+:\d+|TypeError/);

test('verify --smtp: verified, exit 0, and the reason names the empty subject and reversed dates', async () => {
  const [human, json] = await Promise.all([
    runCliAsync(['verify', '--chain', bare.certFile, '--tlsa', rdata, '--name', 'x', '--smtp']),
    runCliAsync(['verify', '--chain', bare.certFile, '--tlsa', rdata, '--name', 'x', '--json']),
  ]);
  assert.equal(human.code, 0, human.stderr);
  noStack(human.stderr);
  assert.match(human.stdout, /^verified: 3 1 1 [0-9a-f]{64} matched at depth 0$/m);
  assert.match(human.stdout, /depth 0 \(empty subject\)/);
  assert.match(human.stdout, /notAfter 2029-01-01T00:00:00Z is before its notBefore 2030/);
  assert.equal(json.code, 0, json.stderr);
  const j = JSON.parse(json.stdout) as { verdict: string; chain: Record<string, string>[] };
  assert.equal(j.verdict, 'verified');
  assert.deepEqual(
    [j.chain[0]!.subject, j.chain[0]!.issuer, j.chain[0]!.notBefore, j.chain[0]!.notAfter],
    ['', '', '2030-01-01T00:00:00Z', '2029-01-01T00:00:00Z'],
  );
});

test('tlsa --cert prints its record (and JSON with empty names); --chain says there is no issuer', async () => {
  const [plain, json, chain] = await Promise.all([
    runCliAsync(['tlsa', '--cert', bare.certFile]),
    runCliAsync(['tlsa', '--cert', bare.certFile, '--format', 'json']),
    runCliAsync(['tlsa', '--cert', bare.certFile, '--chain']),
  ]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, `${rdata}\n`);
  assert.equal(json.code, 0, json.stderr);
  const [rec] = JSON.parse(json.stdout) as { rdata: string; source: Record<string, string> }[];
  assert.equal(rec!.rdata, rdata);
  assert.equal(rec!.source.subject, '');
  assert.equal(rec!.source.notAfter, '2029-01-01T00:00:00.000Z');
  // Self-signed: its 3 1 1 is all there is; the missing 2 1 1 is said, not silently dropped.
  assert.equal(chain.code, 0, chain.stderr);
  assert.equal(chain.stdout, `${rdata}\n`);
  assert.match(chain.stderr, /^danekeeper: warning: .*self-signed.*no issuer.*2 1 1/);
  noStack(plain.stderr + json.stderr + chain.stderr);
});

test('check shows the bare certificate in the chain and verifies the address', async () => {
  const der = bare.der;
  const probe = (o: ProbeOptions): Promise<ProbeResult> =>
    Promise.resolve({
      chain: [der],
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      address: o.address!,
      port: o.port,
      servername: o.servername,
      transcript: [],
      chainSource: 'presented',
    });
  const report = await checkDomain(
    'example.test',
    {
      resolver: new StaticResolver({
        'example.test/MX': { records: [{ preference: 10, exchange: 'mx1.example.test' }] },
        'mx1.example.test/A': { records: ['192.0.2.1'] },
        'mx1.example.test/AAAA': {},
        '_25._tcp.mx1.example.test/TLSA': { records: [parseTlsa(rdata)] },
      }),
      probe,
      now: () => new Date('2031-01-01T00:00:00Z'),
      validating: { validating: true, summary: 'validates' },
    },
    { port: 25, starttls: 'smtp', days: 14, timeoutMs: 1000 },
  );
  const address = report.hosts[0]!.addresses[0]!;
  assert.equal(address.verdict, 'verified');
  assert.equal(address.chain[0]!.subject, '');
  assert.equal(address.chain[0]!.notAfter, '2029-01-01T00:00:00.000Z');
  assert.ok(exitStatus(report) <= 1);
  const lines: string[] = [];
  const io: Io = {
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
    verbose: () => {},
    withVerbose: () => io,
  };
  printReport(report, io);
  assert.ok(
    lines.some((l) => /^\s+\[0\] empty subject {2}\(issuer empty\)$/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => /valid 2030-01-01 to 2029-01-01/.test(l)),
    lines.join('\n'),
  );
});
