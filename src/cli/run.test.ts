import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command } from 'commander';
import { DkError } from '../core/errors.js';
import { FakeWorld } from '../daemon/fake-world.js';
import { openState } from '../store/state.js';
import type { Io } from './io.js';
import { registerRun, type RunDeps } from './run.js';
import { runCli } from '../../test/support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-run-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function capture(): Io & { lines: string[] } {
  const lines: string[] = [];
  const io: Io & { lines: string[] } = {
    lines,
    out: (l) => lines.push(l),
    err: (l) => lines.push(`ERR ${l}`),
    verbose: () => {},
    withVerbose: () => io,
  };
  return io;
}

function setup(env: NodeJS.ProcessEnv = {}, extraConfig = '') {
  const base = join(dir, `t${++n}`);
  const statePath = `${base}.db`;
  const config = `${base}.ini`;
  writeFileSync(config, `[ext-sslit]\ndane-confirmation-interval-in-hours = 0.001\n${extraConfig}`);
  const st = openState(statePath);
  const T0 = new Date('2026-03-01T00:00:00.000Z');
  st.domains.add(
    {
      name: 'example.org',
      includeDomainName: true,
      subdomains: ['mail'],
      mailHosts: ['mail.example.org'],
      endpoints: [{ host: 'mail.example.org', port: 25, proto: 'tcp' }],
      dane: true,
      certDir: join(dir, 'live'),
      reload: [],
      keyType: 'ec-p256',
      newKeyEachRenewal: false,
      issuerRecords: false,
      challenge: null,
    },
    T0,
  );
  // a private key in the store: no output may ever show it
  st.close();
  const clock = { t: T0.getTime() };
  const world = new FakeWorld(clock);
  const deps: RunDeps = {
    env,
    uid: 0,
    now: () => new Date(clock.t),
    world: () => Promise.resolve(world),
  };
  const cli = async (...args: string[]) => {
    const io = capture();
    let pending: Promise<number> | undefined;
    const program = new Command('danekeeper').exitOverride();
    registerRun(
      program,
      io,
      (p) => {
        // handled below, after parseAsync; this keeps the runner from calling it unhandled
        p.catch(() => undefined);
        pending = p;
      },
      deps,
    );
    await program.parseAsync([
      'node',
      'danekeeper',
      ...args,
      '--config',
      config,
      '--state',
      statePath,
    ]);
    let code: number;
    try {
      code = await pending!;
    } catch (e) {
      assert.ok(e instanceof DkError);
      code = -1;
      io.lines.push(`THROWN ${e.code}`);
    }
    const text = io.lines.join('\n');
    assert.doesNotMatch(text, /PRIVATE KEY/);
    return { code, text, lines: io.lines };
  };
  return { cli, clock, world, statePath };
}

test('run: one pass per call; exit 0 while waiting, then idle; status --json follows the contract', async () => {
  const s = setup();
  const first = await s.cli('run');
  assert.equal(first.code, 0, first.text);
  assert.match(first.text, /^example\.org: (confirming|propagating)/m);
  // the planner's sentence names the moment already: not said twice
  assert.doesNotMatch(first.text, /\(until /);
  let last = first;
  for (let i = 0; i < 10 && !/secured, idle/.test(last.text); i++) {
    s.clock.t += 10_000;
    last = await s.cli('run');
    assert.equal(last.code, 0, last.text);
  }
  assert.match(last.text, /^example\.org: secured, idle/m);
  const st = await s.cli('status', '--json');
  assert.equal(st.code, 0);
  const j = JSON.parse(st.text) as { domains: Record<string, unknown>[] };
  const d = j.domains[0]!;
  assert.equal(d.name, 'example.org');
  assert.equal(d.phase, 'idle');
  assert.equal(d.waitingFor, null);
  assert.ok((d.certificate as { verified: boolean }).verified);
  const tlsa = d.tlsa as { role: string; servedBy: string[]; rdata: string }[];
  assert.ok(tlsa.some((t) => t.role === 'current-key' && t.servedBy.length === 2));
  assert.ok(tlsa.some((t) => t.role === 'next-key'));
  const text = await s.cli('status', 'example.org');
  assert.match(text.text, /^example\.org: idle/m);
  assert.match(
    text.text,
    /TLSA _25\._tcp\.mail\.example\.org\. 3 1 1 [0-9a-f]{64} \(current-key\): published; served by ns1, ns2/,
  );
  assert.match(text.text, /certificate .*verified live/);
  // the moment is said once, in the sentence of what comes next
  assert.match(text.text, /^ {2}next: Nothing to do until \S+$/m);
  assert.doesNotMatch(text.text, /next look/);
});

test('run: a failed action is one line on stderr and a non-zero exit', async () => {
  const s = setup();
  s.world.failNext.generateKey = new DkError('tempfail', 'E_TEST', 'no entropy');
  const r = await s.cli('run');
  assert.equal(r.code, 75);
  assert.deepEqual(
    r.lines.filter((l) => l.startsWith('ERR')),
    [r.lines.find((l) => l.startsWith('ERR'))],
  );
  assert.match(
    r.text,
    /^ERR danekeeper: example\.org: generateKey failed: no entropy \(next attempt after /m,
  );
});

test('renew --force orders a new certificate with the same key; --rotate-key moves to the next key', async () => {
  const s = setup();
  for (let i = 0; i < 10; i++) {
    await s.cli('run');
    s.clock.t += 10_000;
  }
  const before = s.world.deployed;
  const r = await s.cli('renew', 'example.org', '--force');
  assert.equal(r.code, 0, r.text);
  for (let i = 0; i < 10; i++) {
    s.clock.t += 10_000;
    await s.cli('run');
  }
  const renewed = s.world.certs.find((c) => c.id === s.world.deployed)!;
  assert.notEqual(s.world.deployed, before);
  const old = s.world.certs.find((c) => c.id === before)!;
  assert.equal(renewed.keyId, old.keyId);
  await s.cli('renew', 'example.org', '--rotate-key');
  for (let i = 0; i < 10; i++) {
    s.clock.t += 10_000;
    await s.cli('run');
  }
  const rotated = s.world.certs.find((c) => c.id === s.world.deployed)!;
  assert.notEqual(rotated.keyId, old.keyId);
  const st = JSON.parse((await s.cli('status', '--json')).text) as {
    domains: { phase: string; keys: { current: { id: string } } }[];
  };
  assert.equal(st.domains[0]!.phase, 'idle');
  assert.equal(st.domains[0]!.keys.current.id, rotated.keyId);
});

test('status and renew of an unknown domain are usage errors', async () => {
  const s = setup();
  assert.equal((await s.cli('status', 'nope.example')).text, 'THROWN E_DOMAIN_UNKNOWN');
  assert.equal((await s.cli('renew', 'nope.example')).text, 'THROWN E_DOMAIN_UNKNOWN');
});

test('run takes over the lease of a pass of this host whose process is gone; not one of a live process', async () => {
  const { hostname } = await import('node:os');
  const s = setup();
  const st = openState(s.statePath);
  try {
    assert.ok(
      st.rollover.acquireLease(
        'example.org',
        `${hostname()}:${process.ppid}`,
        600_000,
        new Date(s.clock.t),
      ),
    );
  } finally {
    st.close();
  }
  const busy = await s.cli('run');
  assert.match(busy.text, /skipped: another pass/);
  const st2 = openState(s.statePath);
  try {
    st2.rollover.releaseLease('example.org', `${hostname()}:${process.ppid}`);
    // pid_max is at most 2^22: this process cannot exist
    assert.ok(
      st2.rollover.acquireLease(
        'example.org',
        `${hostname()}:99999999`,
        600_000,
        new Date(s.clock.t),
      ),
    );
  } finally {
    st2.close();
  }
  const r = await s.cli('run');
  assert.doesNotMatch(r.text, /skipped/);
  assert.match(r.text, /generateKey/);
});

test('status with nothing managed yet is not an error: empty list, exit 0; a named domain is', () => {
  const env = { DANEKEEPER_STATE_DIR: join(dir, `none-${++n}`), DANEKEEPER_CONFIG: '/dev/null' };
  const text = runCli(['status'], { env });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^No managed domains/);
  const json = runCli(['status', '--json'], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { domains: [] });
  const one = runCli(['status', 'a.test'], { env });
  assert.notEqual(one.code, 0);
  assert.equal(one.stdout, '');
});

test('run: while a failure is backed off every run exits 75 and says when; status says what failed, when and what to do', async () => {
  const s = setup();
  s.world.failNext.publishRecords = new DkError(
    'protocol',
    'E_PUBLISH_REFUSED',
    'Update of _25._tcp.mail.example.org. refused (REFUSED)',
  );
  const t0 = s.clock.t;
  const r = await s.cli('run');
  assert.equal(r.code, 75, r.text);
  assert.match(r.text, /^ERR danekeeper: example\.org: publishRecords failed: .*refused/m);
  // the next run inside the backoff does nothing, and still exits 75 naming the next attempt
  s.clock.t += 1000;
  const again = await s.cli('run');
  assert.equal(again.code, 75, again.text);
  assert.match(again.text, /^ERR danekeeper: example\.org: .*next attempt at /m);
  const j = JSON.parse((await s.cli('status', '--json')).text) as {
    domains: { failure: { code: string; retryAt: string }; hint: string }[];
  };
  const d = j.domains[0]!;
  assert.equal(d.failure.code, 'E_PUBLISH_REFUSED');
  // the planner's default backoff: 5 minutes
  assert.equal(Date.parse(d.failure.retryAt), t0 + 300_000);
  assert.match(d.hint, /refuses the update: check that tsig-key-file/);
  const text = (await s.cli('status', 'example.org')).text;
  assert.match(
    text,
    /^ {2}last failure: E_PUBLISH_REFUSED: .* \(attempt 1; next attempt at \S+\)$/m,
  );
  assert.match(text, /^ {2}what to do: The DNS server refuses the update/m);
  // once the backoff is over the pass carries on, exit 0
  s.clock.t = t0 + 300_500;
  const ok = await s.cli('run');
  assert.equal(ok.code, 0, ok.text);
  assert.doesNotMatch(ok.text, /ERR/);
});

test('renew DOMAIN after the cause is fixed tries now instead of after the backoff; status said so', async () => {
  const s = setup();
  s.world.failNext.publishRecords = new DkError(
    'protocol',
    'E_PUBLISH_REFUSED',
    'Update of _25._tcp.mail.example.org. refused (REFUSED)',
  );
  assert.equal((await s.cli('run')).code, 75);
  const st = await s.cli('status', 'example.org');
  assert.match(st.text, /what to do: .*then `danekeeper renew example\.org` to try now/);
  // the default backoff is 5 minutes: a run 10 s later still waits
  s.clock.t += 10_000;
  const waiting = await s.cli('run');
  assert.equal(waiting.code, 75, waiting.text);
  assert.match(waiting.text, /next attempt at /);
  // the person fixed it: renew publishes now (and renews nothing that is not due)
  const r = await s.cli('renew', 'example.org');
  assert.equal(r.code, 0, r.text);
  assert.match(r.text, /^example\.org: \w+ \(publishRecords/m);
  assert.doesNotMatch(r.text, /ERR/);
  // --help says so
  const help = runCli(['renew', '--help']);
  assert.match(
    help.stdout.replace(/\s+/g, ' '),
    /trying a failed step again without waiting out its backoff/,
  );
});

test('run: a DNS backend that cannot be read is exit 75 and named, not a quiet wait; status says so and what to do', async () => {
  const s = setup();
  await s.cli('run');
  const orig = s.world.observe.bind(s.world);
  s.world.observe = async () => {
    const o = await orig();
    const dns = Object.fromEntries(
      Object.entries(o.dns).map(([k, x]) => [
        k,
        { ...x, published: null as string[] | null, readError: 'TSIG signature failed (BADSIG)' },
      ]),
    );
    return { ...o, dns } as unknown as Awaited<ReturnType<typeof orig>>;
  };
  s.clock.t += 10_000;
  const r = await s.cli('run');
  assert.equal(r.code, 75, r.text);
  assert.match(
    r.text,
    /^ERR danekeeper: example\.org: publishing( \([a-zA-Z, ]+\))?: Cannot read the records at _25\._tcp\.mail\.example\.org\. \(TSIG signature failed \(BADSIG\)\) from the DNS backend.*tsig-key-file/m,
  );
  // said once, whether or not the planner's own sentence is about the backend
  assert.equal(r.text.match(/cannot read the records/gi)?.length, 1, r.text);
  const j = JSON.parse((await s.cli('status', '--json')).text) as {
    domains: { waitingFor: string; hint: string; next: string }[];
  };
  assert.equal(j.domains[0]!.waitingFor, 'backend');
  assert.match(j.domains[0]!.hint, /\[dns\] server = is running and reachable/);
  assert.match(j.domains[0]!.next, /^Cannot read the records at .*\(TSIG signature failed/);
  // the person reading status sees the backend's reason once
  const text = (await s.cli('status', 'example.org')).text;
  assert.equal(text.match(/TSIG signature failed \(BADSIG\)/g)?.length, 1, text);
  s.world.observe = orig;
  s.clock.t += 10_000;
  assert.equal((await s.cli('run')).code, 0);
});

test('run: the backend unreadable while the planner waits on a confirmation: the rollover goes on, run still exits 75 quoting the reason', async () => {
  const s = setup();
  const first = await s.cli('run');
  assert.match(first.text, /^example\.org: (confirming|propagating)/m);
  const orig = s.world.observe.bind(s.world);
  s.world.observe = async () => {
    const o = await orig();
    const dns = Object.fromEntries(
      Object.entries(o.dns).map(([k, x]) => [
        k,
        { ...x, published: null as string[] | null, readError: 'connection refused' },
      ]),
    );
    return { ...o, dns } as unknown as Awaited<ReturnType<typeof orig>>;
  };
  // no time passes: the records are served, their confirmation is still running
  const r = await s.cli('run');
  assert.equal(r.code, 75, r.text);
  assert.match(
    r.text,
    /^ERR danekeeper: example\.org: (confirming|propagating).*; meanwhile the DNS backend cannot be read at _25\._tcp\.mail\.example\.org\. \(connection refused\): check \[dns\] server = and tsig-key-file$/m,
  );
  s.world.observe = orig;
  assert.equal((await s.cli('run')).code, 0);
});

test('[run] retry-seconds that is not a positive number is a config error naming the key (exit 78), before any pass', async () => {
  const s = setup({}, '[run]\nretry-seconds = soon\n');
  const r = await s.cli('run');
  assert.equal(r.text, 'THROWN E_CONFIG');
  assert.equal(s.world.observed, 0);
  // the real command line: one line naming the key, exit 78 (EX_CONFIG)
  const cfg = join(dir, `bad-run-${++n}.ini`);
  writeFileSync(cfg, '[run]\nverify-grace-seconds = 0\n');
  const cli = runCli(['run', '--config', cfg], {
    env: { DANEKEEPER_STATE_DIR: join(dir, `bad-run-${n}`) },
  });
  assert.equal(cli.code, 78, cli.stderr);
  assert.match(cli.stderr, /run\.verify-grace-seconds: must be more than 0/);
  assert.equal(cli.stderr.trim().split('\n').length, 1);
});
