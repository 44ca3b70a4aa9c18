/**
 * Bad input gets one line on stderr naming what failed, the DESIGN.md exit status, and nothing
 * on stdout. Hostile servers are played by sockets on 127.0.0.1 started here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki, openssl, tempDir, type Pki } from './support/pki.js';
import { runCli, runCliAsync, type CliResult } from './support/cli.js';

let dir: string;
let pki: Pki;

before(() => {
  dir = tempDir();
  pki = makePki(dir, { leafAlg: 'p256' });
});

function expectError(args: string[], code: number, pattern: RegExp) {
  checkError(runCli(args), args, code, pattern);
}

async function expectErrorAsync(args: string[], code: number, pattern: RegExp) {
  checkError(await runCliAsync(args), args, code, pattern);
}

function checkError(r: CliResult, args: string[], code: number, pattern: RegExp) {
  assert.equal(r.code, code, `exit status for ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\s+at .+:\d+:\d+/, 'no stack trace');
}

test('malformed certificate input exits 65 with one line', () => {
  const file = (name: string, data: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };
  expectError(['tlsa', '--cert', file('empty.pem', '')], 65, /empty\.pem: file is empty/);
  expectError(['tlsa', '--cert', pki.leaf.keyFile], 65, /leaf\.key: .*private key/);
  const pem = pki.leaf.certPem;
  expectError(
    ['tlsa', '--cert', file('trunc.pem', pem.slice(0, pem.length / 2))],
    65,
    /trunc\.pem: /,
  );
  expectError(
    ['tlsa', '--cert', file('garbage.pem', 'hello world\n\x00\x01')],
    65,
    /garbage\.pem: /,
  );
  expectError(
    ['tlsa', '--cert', file('junk.der', Buffer.from([0x30, 0x82, 0xff, 0xff, 1, 2, 3]))],
    65,
    /junk\.der: /,
  );
});

test('DER in a file named .pem works', () => {
  const p = join(dir, 'really-der.pem');
  writeFileSync(p, pki.leaf.der);
  const a = runCli(['tlsa', '--cert', p]);
  const b = runCli(['tlsa', '--cert', pki.leaf.certFile]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

test('unreadable input exits 66, bad usage 64', () => {
  expectError(
    ['tlsa', '--cert', join(dir, 'missing.pem')],
    66,
    /missing\.pem failed: no such file/,
  );
  expectError(['tlsa', '--key', join(dir, 'missing.key')], 66, /missing\.key failed: no such file/);
  expectError(['tlsa'], 64, /Nothing to compute/);
  expectError(['tlsa', '--cert', pki.leaf.certFile, '--usage', 'DANE-XX'], 64, /--usage "DANE-XX"/);
  expectError(['tlsa', '--cert', pki.leaf.certFile, '--format', 'yaml'], 64, /--format "yaml"/);
  expectError(['tlsa', '--cert', pki.leaf.certFile, '--format', 'zone'], 64, /needs --host/);
  expectError(['tlsa', '--key', pki.leaf.keyFile, '--selector', '0'], 64, /selector 1/);
  expectError(['tlsa', '--bogus'], 64, /unknown option/);
});

test('encrypted keys are refused, not prompted for', () => {
  const enc = join(dir, 'enc.key');
  openssl(['pkey', '-in', pki.leaf.keyFile, '-aes256', '-passout', 'pass:x', '-out', enc]);
  expectError(['tlsa', '--key', enc], 65, /encrypted/);
});

test('--chain with a leaf-only file names the missing issuer', () => {
  expectError(['tlsa', '--cert', pki.leaf.certFile, '--chain'], 65, /only the leaf/);
});

test('explain: malformed text exits 65; unusable records are explained, not fatal', () => {
  expectError(['tlsa', 'explain', '3 1 1 zz'], 65, /"z" at offset 6 is not a hex digit/);
  const wrongLen = runCli(['tlsa', 'explain', `3 1 1 ${'ab'.repeat(20)}`]);
  assert.equal(wrongLen.code, 1, wrongLen.stderr);
  assert.match(wrongLen.stdout, /must be 32 bytes, this has 20/);
  assert.match(wrongLen.stdout, /Usable by a DANE-enabled MTA \(SMTP, RFC 7672\): no/);
  const four = runCli(['tlsa', 'explain', `4 1 1 ${'ab'.repeat(32)}`]);
  assert.equal(four.code, 1, four.stderr);
  assert.match(four.stdout, /certificate usage 4 \(unassigned\) is not supported/);
  const full = runCli(['tlsa', 'explain', '--json', `3 0 1 ${'ab'.repeat(32)}`]);
  const j = JSON.parse(full.stdout) as { records: { findings: { code: string }[] }[] };
  assert.ok(j.records[0]!.findings.some((f) => f.code === 'full-cert-ee'));
});

test('explain exit statuses (monitoring convention): 0 no warning, 1 warnings or nothing usable', async () => {
  const h = (b: string) => b.repeat(32);
  const cases: [string[], number][] = [
    // current + next key (RFC 7671 §8.1): the recommended set
    [[`3 1 1 ${h('ab')}`, `3 1 1 ${h('cd')}`], 0],
    [[`3 1 1 ${h('ab')}`, `2 1 1 ${h('cd')}`], 0],
    // a note (full data) is not a warning
    [[`3 1 0 3059${h('00')}`, `3 1 1 ${h('cd')}`], 0],
    // no record to roll over to: a warning, as in check
    [[`3 1 1 ${h('ab')}`], 1],
    [[`3 0 1 ${h('ab')}`, `3 1 1 ${h('cd')}`], 1],
    // one unusable record beside good ones
    [[`3 1 1 ${h('ab')}`, `3 1 1 ${h('cd')}`, `3 1 1 abcd`], 1],
    // nothing usable: senders encrypt without authentication (RFC 7672 §2.2), WARNING as verify
    [[`1 1 1 ${h('ab')}`], 1],
    [[`255 1 1 ${h('ab')}`, `3 1 1 ${h('ab').slice(2)}`], 1],
    [[`4 1 1 ${h('ab')}`, `4 1 1 ${h('cd')}`], 1],
  ];
  const runs = await Promise.all(
    cases.flatMap(([records]) => [
      runCliAsync(['tlsa', 'explain', ...records]),
      runCliAsync(['tlsa', 'explain', '--json', ...records]),
    ]),
  );
  cases.forEach(([records, code], i) => {
    for (const r of [runs[2 * i]!, runs[2 * i + 1]!]) {
      assert.equal(r.code, code, `${records.join(' | ')}:\n${r.stdout}${r.stderr}`);
      assert.equal(r.stderr, '');
    }
  });
});

test('explain calls 255 private use (RFC 7218 PrivCert/PrivSel/PrivMatch), not unassigned', () => {
  const r = runCli(['tlsa', 'explain', `255 255 255 ${'ab'.repeat(32)}`]);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stdout, /unassigned/);
  assert.match(
    r.stdout,
    /Usage 255 \(PrivCert\): reserved for private use .*a public MTA cannot use it/,
  );
  assert.match(r.stdout, /Selector 255 \(PrivSel\): reserved for private use/);
  assert.match(r.stdout, /Matching 255 \(PrivMatch\): reserved for private use/);
  assert.match(
    r.stdout,
    /unusable: certificate usage 255 \(PrivCert\) is reserved for private use \(RFC 6698 §7\.2\)/,
  );
  const seven = runCli(['tlsa', 'explain', `3 7 1 ${'ab'.repeat(32)}`]);
  assert.match(seven.stdout, /Selector 7 \(unassigned\): unassigned: no client knows/);
});

describeServers();

function describeServers() {
  const servers: Server[] = [];
  const listen = (onConn: (s: Socket) => void) =>
    new Promise<number>((resolve) => {
      const s = createServer(onConn);
      servers.push(s);
      s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
    });
  after(() => {
    for (const s of servers) s.close();
  });

  test('network failures: unreachable 69; silent, refusing and flooding servers 69/76', async () => {
    const closed = await listen(() => {});
    servers.at(-1)!.close(); // nothing listens there any more: connection refused
    await expectErrorAsync(
      ['tlsa', '--fetch', `127.0.0.1:${closed}`, '--starttls', 'smtp'],
      69,
      /refused/i,
    );

    const silent = await listen(() => {});
    await expectErrorAsync(
      ['tlsa', '--fetch', `127.0.0.1:${silent}`, '--starttls', 'smtp', '--timeout', '1'],
      69,
      /greeting|within/i,
    );

    const refusing = await listen((s) => {
      s.write('220 hostile.test ESMTP\r\n');
      s.on('data', (d: Buffer) => {
        const line = d.toString();
        if (/^EHLO/i.test(line)) s.write('250-hostile.test\r\n250 STARTTLS\r\n');
        else if (/^STARTTLS/i.test(line)) s.write('454 4.7.0 TLS not available\r\n');
        else if (/^QUIT/i.test(line)) s.end('221 bye\r\n');
      });
      s.on('error', () => {});
    });
    await expectErrorAsync(
      ['tlsa', '--fetch', `127.0.0.1:${refusing}`, '--starttls', 'smtp'],
      76,
      /STARTTLS.*454|454.*STARTTLS/,
    );

    const flooding = await listen((s) => {
      s.on('error', () => {});
      const flood = () => {
        if (!s.destroyed && s.write('220-' + 'x'.repeat(1000) + '\r\n')) setImmediate(flood);
        else if (!s.destroyed) s.once('drain', flood);
      };
      flood();
    });
    await expectErrorAsync(
      ['tlsa', '--fetch', `127.0.0.1:${flooding}`, '--starttls', 'smtp'],
      76,
      /.+/,
    );

    const noNewline = await listen((s) => {
      s.on('error', () => {});
      const flood = () => {
        if (!s.destroyed && s.write('x'.repeat(8192))) setImmediate(flood);
        else if (!s.destroyed) s.once('drain', flood);
      };
      flood();
    });
    await expectErrorAsync(
      ['tlsa', '--fetch', `127.0.0.1:${noNewline}`, '--starttls', 'smtp'],
      76,
      /line/i,
    );
  });
}
