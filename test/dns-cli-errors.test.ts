/**
 * `dns` command-line errors that need no lab: configuration, secrets, an unreachable server
 * on loopback. Each is one line on stderr with its exit status, and never shows a secret.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-dns-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = Buffer.alloc(32, 9).toString('base64');
const keyFile = (alg: string, mode: number) => {
  const f = join(dir, `${alg}-${mode.toString(8)}.key`);
  writeFileSync(f, `key "dk" {\n\talgorithm ${alg};\n\tsecret "${SECRET}";\n};\n`);
  chmodSync(f, mode);
  return f;
};

/** a loopback port with nothing listening */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const add = ['dns', 'add-tlsa', '--name', 'mail', '--data', 'ab'.repeat(32)];

describe('dns: errors without a server', () => {
  it('a config file with an unknown setting: exit 78, the file and setting named', () => {
    const f = join(dir, 'bad.ini');
    writeFileSync(f, '[dns]\nbackend = rfc2136\ntsig-secret = abc\n');
    const r = runCli([...add, '--zone', 'example.test', '--config', f]);
    assert.equal(r.code, 78);
    assert.equal(r.stderr, `danekeeper: ${f}: dns: unknown setting "tsig-secret"\n`);
  });

  it('no zone: exit 64; a backend missing its server: exit 64 naming the flag', () => {
    const none = join(dir, 'none.ini');
    writeFileSync(none, '');
    let r = runCli([...add, '--config', none]);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /Which zone\? Give --zone ZONE/);
    r = runCli([...add, '--config', none, '--zone', 'example.test', '--backend', 'rfc2136']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /^danekeeper: The rfc2136 backend needs --server HOST\[:PORT\]/);
  });

  it('server down on loopback: exit 69; a world-readable hmac-sha1 key draws two warnings and is never printed', async () => {
    const port = await closedPort();
    const r = runCli([
      ...add,
      '--config',
      join(dir, 'none.ini'),
      '--zone',
      'example.test',
      '--backend',
      'rfc2136',
      '--server',
      `127.0.0.1:${port}`,
      '--tsig-key',
      keyFile('hmac-sha1', 0o644),
      '--state',
      join(dir, 'state.db'),
    ]);
    assert.equal(r.code, 69, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 3, r.stderr);
    assert.match(lines[0]!, /readable by other users \(mode 0644\); chmod 600 it/);
    assert.match(lines[1]!, /warning: TSIG key "dk" uses hmac-sha1/);
    assert.match(lines[2]!, new RegExp(`127\\.0\\.0\\.1:${port} failed: connection refused`));
    assert.ok(!r.stderr.includes(SECRET) && !r.stdout.includes(SECRET));
  });

  it('a malformed TSIG key file: exit 78, the file named, the secret not echoed', () => {
    const f = join(dir, 'broken.key');
    writeFileSync(f, `key "dk" { algorithm hmac-sha256; secret "${SECRET}" };\n`, { mode: 0o600 });
    const r = runCli([
      ...add,
      '--config',
      join(dir, 'none.ini'),
      '--zone',
      'example.test',
      '--backend',
      'rfc2136',
      '--server',
      '127.0.0.1',
      '--tsig-key',
      f,
    ]);
    assert.equal(r.code, 78, r.stderr);
    // named once as a file ("TSIG key file file /path" before)
    assert.match(r.stderr, new RegExp(`^danekeeper: TSIG key file ${f} line 1: `));
    assert.ok(!r.stderr.includes(SECRET));
    // the same text from the environment is named as such, not as a file
    const env = runCli(
      [...add, '--config', join(dir, 'none.ini'), '--zone', 'example.test'].concat([
        '--backend',
        'rfc2136',
        '--server',
        '127.0.0.1',
      ]),
      { env: { DANEKEEPER_TSIG_KEY: `key "dk" { algorithm hmac-sha256; secret "${SECRET}" };` } },
    );
    assert.equal(env.code, 78, env.stderr);
    assert.match(env.stderr, /^danekeeper: TSIG key in \$DANEKEEPER_TSIG_KEY line 1: /);
    assert.ok(!env.stderr.includes(SECRET));
  });

  it('a config file that cannot be read says "no such file", never ENOENT', () => {
    const r = runCli([...add, '--config', join(dir, 'absent.ini')]);
    assert.equal(r.code, 66);
    assert.equal(
      r.stderr,
      `danekeeper: Cannot read the config file ${join(dir, 'absent.ini')}: no such file\n`,
    );
  });

  it('settings above any [section] are named as such, not as unknown settings', () => {
    const f = join(dir, 'flat.ini');
    writeFileSync(f, 'zone = example.test\nbackend = rfc2136\n');
    const r = runCli([...add, '--config', f]);
    assert.equal(r.code, 78);
    assert.equal(
      r.stderr,
      `danekeeper: ${f}: setting "zone" is outside any section: put it under [dns]\n`,
    );
  });
});

describe('dnssec status and dns propagation: which zone, which name', () => {
  const none = join(dir, 'empty.ini');
  writeFileSync(none, '');
  /** nothing listens there: the resolver is refused at once, on loopback */
  const deadResolver = ['--resolver', '127.0.0.1:9'];
  const zoneOf = (stdout: string) => (JSON.parse(stdout) as { zone: string }).zone;

  it('dnssec status takes the zone from the argument, else --zone, else zone = in [dns]', () => {
    const cfg = join(dir, 'zone.ini');
    writeFileSync(cfg, '[dns]\nzone = from-file.test\n');
    const cases: [string[], string][] = [
      [['arg.test', '--config', cfg], 'arg.test'],
      [['--zone', 'flag.test', '--config', cfg], 'flag.test'],
      [['--config', cfg], 'from-file.test'],
      // the same zone twice is no conflict
      [['Arg.test.', '--zone', 'arg.test', '--config', none], 'arg.test'],
    ];
    for (const [args, zone] of cases) {
      const r = runCli(['dnssec', 'status', ...args, ...deadResolver, '--json']);
      // the resolver cannot be asked: UNKNOWN, but for the zone asked for
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(zoneOf(r.stdout), zone, args.join(' '));
    }
  });

  it('dnssec status with no zone anywhere, or two: one danekeeper line, exit 64', () => {
    let r = runCli(['dnssec', 'status', '--config', none]);
    assert.equal(r.code, 64);
    assert.equal(
      r.stderr,
      'danekeeper: Which zone? Give it as an argument (danekeeper dnssec status example.org), or --zone ZONE, or zone = in [dns]\n',
    );
    r = runCli(['dnssec', 'status', 'a.test', '--zone', 'b.test', '--config', none]);
    assert.equal(r.code, 64);
    assert.equal(r.stderr, 'danekeeper: Two zones given: a.test and --zone b.test; give one\n');
  });

  it('dns propagation needs --name (@ for the apex), before asking anything', () => {
    const r = runCli(['dns', 'propagation', '--zone', 'example.test', '--config', none]);
    assert.equal(r.code, 64);
    assert.equal(
      r.stderr,
      'danekeeper: Which name? Give --name mail (the host of the TLSA record, relative to the zone), or --name @ for the zone apex\n',
    );
    assert.equal(r.stdout, '');
  });

  it("commander's own errors on these commands keep the danekeeper: prefix too", () => {
    const r = runCli(['dns', 'propagation', '--name', 'mail', '--bogus']);
    assert.equal(r.code, 64);
    assert.equal(r.stderr, "danekeeper: unknown option '--bogus'\n");
  });
});
