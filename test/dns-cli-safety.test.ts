/**
 * `dns` commands that cannot break delivery, without the lab: a zone file as the backend, a
 * scripted DNS server on loopback as the resolver (`--resolver`) and TLS servers on 127.0.0.x
 * presenting chosen chains. Covers the endpoint check (publish --replace, remove, --force, an
 * unreachable endpoint), --dry-run, publish --fetch, names typed with the zone twice and
 * --data hex errors. The same with BIND, Unbound and Postfix: test/lab/dns-safety.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { FakeDnsServer, response } from '../src/io/dns/fake-server.js';
import { runCliAsync } from './support/cli.js';
import { makePki, tempDir, type Pki } from './support/pki.js';

const dir = tempDir('dk-dns-safety-');
const zoneFile = join(dir, 'dyn.test.zone');
const ZONE = [
  '$ORIGIN dyn.test.',
  '$TTL 300',
  '@ IN SOA ns1 hostmaster 1 3600 600 86400 300',
  '@ IN NS ns1',
  'ns1 IN A 127.0.0.1',
  '',
].join('\n');
writeFileSync(zoneFile, ZONE);
writeFileSync(join(dir, 'empty.ini'), '');

/** host name -> IPv4 addresses the scripted resolver gives (AD set: a signed zone) */
const hosts: Record<string, string[]> = {};
let dns: FakeDnsServer;
let oldPki: Pki;
let newPki: Pki;
const servers: tls.Server[] = [];
const sockets = new Set<Socket>();

const chainOf = (p: Pki) => ({ key: p.leaf.keyPem, cert: p.leaf.certPem + p.intermediate.certPem });

async function tlsServer(address: string, port: number, p: Pki): Promise<tls.Server> {
  const s = tls.createServer(chainOf(p), (sock) => sock.end());
  // close() waits for open connections: keep them to end them in after().
  s.on('connection', (c: Socket) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
  });
  await new Promise<void>((ok, fail) => {
    s.once('error', fail);
    s.listen(port, address, ok);
  });
  servers.push(s);
  return s;
}

const portOf = (s: tls.Server) => (s.address() as { port: number }).port;

async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

before(async () => {
  oldPki = makePki(dir, { names: ['mail.dyn.test', 'split.dyn.test'], prefix: 'old-' });
  newPki = makePki(dir, { names: ['mail.dyn.test', 'split.dyn.test'], prefix: 'new-' });
  dns = await FakeDnsServer.start((q) => {
    const name = q.name.replace(/\.$/, '').toLowerCase();
    const addrs = q.type === 'A' ? (hosts[name] ?? []) : [];
    return response(q, {
      ad: true,
      answers: addrs.map((a) => ({ type: 'A' as const, name: q.name, ttl: 300, data: a })),
    });
  });
});

after(async () => {
  await dns.close();
  for (const c of sockets) c.destroy();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

/** The zone-file backend with the scripted resolver; never the machine's own config. */
const backend = () => [
  '--config',
  join(dir, 'empty.ini'),
  '--zone',
  'dyn.test',
  '--zone-file',
  zoneFile,
  '--state',
  join(dir, 'state.db'),
];
const guard = () => ['--resolver', `127.0.0.1:${dns.port}`, '--timeout', '2'];
const dk = (args: string[]) => runCliAsync(args, { timeoutMs: 30_000 });

/** `3 1 1 HEX` of a chain as `tlsa` computes it */
async function eeOf(p: Pki): Promise<string> {
  const r = await dk(['tlsa', '--cert', p.leaf.certFile]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** the TLSA records the zone file holds at `owner`, as "U S M hex" */
function inZone(owner: string): string[] {
  return readFileSync(zoneFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(owner))
    .map((l) => l.replace(/^.*\bTLSA\s+/, '').toLowerCase())
    .sort();
}

describe('dns: names, --data and --dry-run (no server)', () => {
  it('--name with the zone typed twice (relative) is refused with the absolute form, for every command', async () => {
    for (const cmd of [
      ['add-tlsa', '--data', 'ab'.repeat(32)],
      ['publish', '--cert', join(dir, 'old-leaf.crt')],
      ['remove', '--all'],
    ]) {
      const r = await dk(['dns', ...cmd, ...backend(), '--name', 'nc-user.dyn.test']);
      assert.equal(r.code, 64, `${cmd[0]}: ${r.stderr}`);
      assert.equal(
        r.stderr,
        'danekeeper: --name nc-user.dyn.test is relative to the zone dyn.test., so it names _25._tcp.nc-user.dyn.test.dyn.test.: did you mean --name nc-user.dyn.test.?\n',
      );
    }
    const apex = await dk(['dns', 'add-tlsa', ...backend(), '--name', 'DYN.test', '--data', 'ab']);
    assert.equal(apex.code, 64);
    assert.match(apex.stderr, /did you mean --name DYN\.test\. \(or @\)\?/);
    const ok = await dk(
      [
        'dns',
        'add-tlsa',
        ...backend(),
        '--name',
        'nc-user.dyn.test.',
        '--data',
        'ab'.repeat(32),
      ].concat('--dry-run'),
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^_25\._tcp\.nc-user\.dyn\.test\. via /);
    assert.equal(readFileSync(zoneFile, 'utf8'), ZONE);
  });

  it('--data: a bad digit is reported at its offset in what was typed; odd length; --tlsa names itself', async () => {
    const add = ['dns', 'add-tlsa', ...backend(), '--name', 'mail'];
    let r = await dk([...add, '--data', 'ab cd zz']);
    assert.equal(r.code, 65);
    assert.equal(r.stderr, 'danekeeper: --data: "z" at offset 6 is not a hex digit\n');
    r = await dk([...add, '--usage', 'DANE-TA', '--data', 'abc']);
    assert.equal(r.code, 65);
    assert.equal(r.stderr, 'danekeeper: --data: odd number of hex digits (3); each byte is two\n');
    r = await dk([...add, '--tlsa', '3 1 1 abzz']);
    assert.equal(r.code, 65);
    assert.match(
      r.stderr,
      /^danekeeper: --tlsa "3 1 1 abzz": .*"z" at offset 8 is not a hex digit\n$/,
    );
  });

  it('--dry-run prints the change and the zone-file edit, changes nothing, exit 0; JSON too', async () => {
    const args = ['dns', 'add-tlsa', ...backend(), '--name', 'mail', '--data', 'cd'.repeat(32)];
    const text = await dk([...args, '--dry-run']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /dry run, would change \(nothing was sent\)/);
    assert.match(text.stdout, new RegExp(`\\n  add      3 1 1 ${'cd'.repeat(32)}\\n`));
    assert.match(text.stdout, /would send:\n.*\n/);
    const json = await dk([...args, '--dry-run', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const j = JSON.parse(json.stdout) as { dryRun: boolean; changed: boolean; wire: string[] };
    assert.equal(j.dryRun, true);
    assert.equal(j.changed, false);
    assert.ok(
      j.wire.some((l) => l.includes(`TLSA 3 1 1 ${'cd'.repeat(32)}`)),
      j.wire.join('\n'),
    );
    assert.equal(readFileSync(zoneFile, 'utf8'), ZONE);
    // A command that changes nothing creates no state database (the later flag wins).
    const fresh = join(dir, 'never-created.db');
    for (const cmd of [
      [...args, '--dry-run', '--state', fresh],
      ['dns', 'list', ...backend(), '--state', fresh],
    ]) {
      const r = await dk(cmd);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(existsSync(fresh), false, 'dry run and list left no state.db behind');
    // The store was not told either: a real run still has something to add.
    const real = await dk(args);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /: changed, TTL 300/);
    const rm = await dk(['dns', 'remove', ...backend(), '--name', 'mail', '--all', '--force']);
    assert.equal(rm.code, 0, rm.stderr);
  });
});

describe('dns: the live endpoint keeps a match (TLS servers on loopback)', () => {
  let port: number;
  let server: tls.Server;
  let oldEe: string;
  let newEe: string;
  const owner = () => `_${port}._tcp.mail.dyn.test.`;
  const mail = () => ['--name', 'mail', '--port', String(port)];

  before(async () => {
    hosts['mail.dyn.test'] = ['127.0.0.1'];
    server = await tlsServer('127.0.0.1', 0, oldPki);
    port = portOf(server);
    oldEe = await eeOf(oldPki);
    newEe = await eeOf(newPki);
  });

  it('publish --replace with a new certificate is refused while the server presents the old one; --dry-run shows why; then it succeeds', async () => {
    const pub = ['dns', 'publish', ...backend(), ...guard(), ...mail()];
    const first = await dk([...pub, '--cert', oldPki.chainFile]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(inZone(owner()), [oldEe]);
    const zone = readFileSync(zoneFile, 'utf8');

    const refused = await dk([...pub, '--cert', newPki.chainFile, '--replace']);
    assert.equal(refused.code, 64, refused.stderr + refused.stdout);
    assert.equal(refused.stdout, '');
    const lines = refused.stderr.trim().split('\n');
    assert.equal(lines.length, 1, refused.stderr);
    assert.ok(
      lines[0]!.includes(
        `127.0.0.1 presents CN=mail.dyn.test whose key only ${oldEe.slice(0, 18)}… matches: keep it, or install the new certificate first`,
      ),
      refused.stderr,
    );
    assert.equal(readFileSync(zoneFile, 'utf8'), zone);

    const dry = await dk([...pub, '--cert', newPki.chainFile, '--replace', '--dry-run', '--json']);
    assert.equal(dry.code, 64, dry.stderr);
    const plan = JSON.parse(dry.stdout) as {
      added: string[];
      removed: string[];
      endpoint: { addresses: { address: string; state: string; matchedBefore: string[] }[] };
    };
    assert.deepEqual(plan.added, [newEe]);
    assert.deepEqual(plan.removed, [oldEe]);
    assert.deepEqual(plan.endpoint.addresses, [
      {
        address: '127.0.0.1',
        state: 'lost',
        subject: 'CN=mail.dyn.test',
        matchedBefore: [oldEe],
        matchedAfter: [],
        error: null,
      },
    ]);
    assert.match(dry.stderr, /^danekeeper: Nothing changed at /);
    assert.equal(readFileSync(zoneFile, 'utf8'), zone);

    // The new certificate goes live: now the same command is safe.
    server.setSecureContext(chainOf(newPki));
    const ok = await dk([...pub, '--cert', newPki.chainFile, '--replace']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      new RegExp(
        `endpoint 127\\.0\\.0\\.1:${port} \\(CN=mail\\.dyn\\.test\\) still matches 3 1 1 ${newEe.slice(6, 18)}…`,
      ),
    );
    assert.deepEqual(inZone(owner()), [newEe]);
  });

  it('remove of the record the server matches is refused; --dry-run says so too; --force removes it', async () => {
    const rm = ['dns', 'remove', ...backend(), ...guard(), ...mail(), '--tlsa', newEe];
    const refused = await dk(rm);
    assert.equal(refused.code, 64, refused.stderr);
    assert.match(refused.stderr, /whose key only 3 1 1 [0-9a-f]{12}… matches: keep it/);
    const dry = await dk([...rm, '--dry-run']);
    assert.equal(dry.code, 64);
    assert.match(
      dry.stdout,
      /\n {2}remove {3}3 1 1 .*\n {2}endpoint 127\.0\.0\.1:\d+ \(CN=mail\.dyn\.test\) would match no record\n/,
    );
    assert.deepEqual(inZone(owner()), [newEe]);
    const forced = await dk([...rm, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /endpoint not checked: --force/);
    assert.deepEqual(inZone(owner()), []);
  });

  it('an endpoint that cannot be reached: refused with 69 (safety cannot be proven) unless --force', async () => {
    const down = await closedPort();
    const args = [
      'dns',
      'publish',
      ...backend(),
      ...guard(),
      '--name',
      'mail',
      '--port',
      String(down),
    ];
    assert.equal((await dk([...args, '--cert', oldPki.chainFile])).code, 0);
    const refused = await dk([...args, '--cert', newPki.chainFile, '--replace']);
    assert.equal(refused.code, 69, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `127\\.0\\.0\\.1 could not be reached \\(.*connection refused.*\\), so we cannot prove`,
      ),
    );
    assert.deepEqual(inZone(`_${down}._tcp.mail.dyn.test.`), [oldEe]);
    const forced = await dk([...args, '--cert', newPki.chainFile, '--replace', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(inZone(`_${down}._tcp.mail.dyn.test.`), [newEe]);
  });

  it('publish --fetch HOST:PORT publishes at _PORT._tcp.HOST what tlsa --fetch computes; an address needs --name', async () => {
    const fetched = await dk(['tlsa', '--fetch', `127.0.0.1:${port}`, '--chain']);
    assert.equal(fetched.code, 0, fetched.stderr);
    const r = await dk([
      'dns',
      'publish',
      ...backend(),
      ...guard(),
      '--fetch',
      `mail.dyn.test:${port}`,
      '--chain',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { owner: string; added: string[] };
    assert.equal(j.owner, owner());
    assert.deepEqual(j.added.sort(), fetched.stdout.trim().split('\n').sort());
    const literal = await dk([
      'dns',
      'publish',
      ...backend(),
      ...guard(),
      '--fetch',
      `127.0.0.1:${port}`,
    ]);
    assert.equal(literal.code, 64);
    assert.match(literal.stderr, /is an address: give --name/);
  });

  it('publish --fetch refuses a host whose addresses present different keys, naming them', async () => {
    hosts['split.dyn.test'] = ['127.0.0.1', '127.0.0.2'];
    await tlsServer('127.0.0.2', port, oldPki);
    const r = await dk([
      'dns',
      'publish',
      ...backend(),
      ...guard(),
      '--fetch',
      `split.dyn.test:${port}`,
    ]);
    assert.equal(r.code, 65, r.stderr);
    assert.match(
      r.stderr,
      /its addresses present different certificates: 127\.0\.0\.1 presents CN=mail\.dyn\.test \(3 1 1 [0-9a-f]{12}…\); 127\.0\.0\.2 presents CN=mail\.dyn\.test \(3 1 1 [0-9a-f]{12}…\); make them present the same one/,
    );
  });
});
