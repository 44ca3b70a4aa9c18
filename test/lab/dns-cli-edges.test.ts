/**
 * The rough edges of `dns propagation` as an operator meets them, against real BIND in a lab
 * namespace: a primary whose secondary lags (no NOTIFY) until `lab.refreshSecondary`, and a
 * zone with a single server. Ctrl-C is a real SIGINT to the real CLI process while it waits.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliEntry, runCliAsync } from '../support/cli.js';
import { startDnsLab, type DnsLab } from './dns/dnslab.js';
import { createNetns, labAvailable, sleep, type Netns } from './netns.js';

const avail = labAvailable();
const PRIMARY = '127.0.54.150';
const SECONDARY = '127.0.54.151';
const SOLO = '127.0.54.152';
const OLD = `3 1 1 ${'aa'.repeat(32)}`;
const NEW = `3 1 1 ${'bb'.repeat(32)}`;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Running {
  /** resolves on exit with the status and everything written */
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
  /** resolves with the first stderr line matching `re` */
  stderrLine(re: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal: NodeJS.Signals): void;
}

/** The CLI in the namespace as a child process we can signal (`ip netns exec` execs node). */
function start(ns: Netns, args: string[]): Running {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', cliEntry, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; res: (l: string) => void; rej: (e: Error) => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const w of [...waiters]) {
      const line = stderr.split('\n').find((l) => w.re.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.res(line);
      }
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
  }>((res) =>
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      for (const w of waiters.splice(0))
        w.rej(new Error(`exited ${code ?? signal} first:\n${stdout}${stderr}`));
      res({ code, signal, stdout, stderr });
    }),
  );
  return {
    done,
    kill: (s) => child.kill(s),
    stderrLine: (re, timeoutMs = 30_000) =>
      new Promise((res, rej) => {
        const t = setTimeout(
          () => rej(new Error(`no stderr line like ${re} in ${timeoutMs} ms:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          res: (l) => {
            clearTimeout(t);
            res(l);
          },
          rej: (e) => {
            clearTimeout(t);
            rej(e);
          },
        });
        child.stderr.emit('data', '');
      }),
  };
}

describe('dns propagation edges (lab, real BIND)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;
  let dir: string;
  let noConfig: string;
  let base: string[];

  before(async () => {
    ns = await createNetns();
    dir = mkdtempSync(join(tmpdir(), 'dk-dns-edges-'));
    noConfig = join(dir, 'empty.ini');
    writeFileSync(noConfig, '');
    lab = await startDnsLab(ns, {
      zones: [
        {
          name: 'edge.test',
          servers: [PRIMARY],
          secondaries: [SECONDARY],
          records: [
            { name: 'mail', type: 'A', data: '127.0.10.1' },
            { name: '_25._tcp.mail', type: 'TLSA', data: OLD },
          ],
        },
        {
          name: 'solo.test',
          servers: [SOLO],
          records: [{ name: '_25._tcp.mail', type: 'TLSA', data: NEW }],
        },
      ],
    });
    // startDnsLab's own `rndc retransfer` can still be queued behind named's first transfer
    // and would pick up the change below ~0.4 s later: wait for it to have run (at most 5 s)
    const transfers = () =>
      lab
        .namedLog()
        .split('\n')
        .filter((l) => l.includes(`zone edge.test/IN/ns-${SECONDARY}: transferred serial`)).length;
    for (let i = 0; i < 50 && transfers() < 2; i++) await sleep(100);
    // a new record next to the old one; the secondary has no NOTIFY and keeps the old set
    await lab.setRecords('edge.test', [
      { name: 'mail', type: 'A', data: '127.0.10.1' },
      { name: '_25._tcp.mail', type: 'TLSA', data: OLD },
      { name: '_25._tcp.mail', type: 'TLSA', data: NEW },
    ]);
    base = [
      'dns',
      'propagation',
      '--zone',
      'edge.test',
      '--name',
      'mail',
      '--resolver',
      lab.resolver,
      '--expect',
      OLD,
      '--expect',
      NEW,
    ];
  });

  after(async () => {
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await lab?.stop();
      await ns?.destroy();
    } finally {
      clearInterval(keepAlive);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Ctrl-C during --wait: the progress named the lagging server; the last report is printed; exit 130', async () => {
    const lagSerial = await lab.serial('edge.test', SECONDARY);
    assert.notEqual(lagSerial, await lab.serial('edge.test', PRIMARY), 'the secondary lags');
    const run = start(ns, [...base, '--config', noConfig, '--wait', '600']);
    const progress = await run.stderrLine(/in step; waiting for/);
    assert.equal(
      progress,
      `1 of 2 in step; waiting for ns2.edge.test ${SECONDARY} (serial ${lagSerial}, missing 1); checking again in 5 s`,
    );
    run.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    // the last report, in the normal format
    assert.match(r.stdout, /^_25\._tcp\.mail\.edge\.test: 1 of 2 servers in step\n/);
    assert.match(r.stdout, /Expected \(as given by --expect\):/);
    assert.match(
      r.stdout,
      new RegExp(
        `ns2\\.edge\\.test ${esc(SECONDARY)}\\s+still the old set \\(missing 1\\), serial ${lagSerial}`,
      ),
    );
    assert.doesNotMatch(r.stdout, /confirmation wait/i);
    const last = r.stderr.trim().split('\n').pop()!;
    assert.match(
      last,
      new RegExp(
        `^danekeeper: interrupted after 1 check in \\d+ s; at the last check 1 of 2 servers in step, waiting for ns2\\.edge\\.test ${esc(SECONDARY)} \\(serial ${lagSerial}, missing 1\\)$`,
      ),
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('Ctrl-C during --wait --json: the last report with "interrupted": true', async () => {
    // --json prints no progress to wait for: give the first check time to finish, longer if
    // the machine is slow (a Ctrl-C before it ends reports `"checks": 0` and no servers)
    let r: Awaited<Running['done']> | undefined;
    for (const pause of [3000, 6000, 12000]) {
      const run = start(ns, [...base, '--config', noConfig, '--wait', '600', '--json']);
      await sleep(pause);
      run.kill('SIGINT');
      r = await run.done;
      // still starting (no handler yet: killed by the signal), or before the first check
      if (r.signal !== 'SIGINT' && !/"checks": 0/.test(r.stdout)) break;
    }
    assert.equal(r!.code, 130, r!.stderr);
    const j = JSON.parse(r!.stdout) as {
      interrupted: boolean;
      allInStep: boolean;
      expectedFrom: string;
      confirmation: unknown;
      serialReference: { serial: number; from: string };
      servers: { address: string; state: string; serialBehind: boolean | null }[];
    };
    assert.equal(j.interrupted, true);
    assert.equal(j.allInStep, false);
    assert.equal(j.expectedFrom, 'expect-flag');
    assert.equal(j.confirmation, null);
    // no primary was asked (--expect): the reference is the newest serial served (RFC 1982)
    assert.deepEqual(j.serialReference, {
      serial: await lab.serial('edge.test', PRIMARY),
      from: 'newest-served',
    });
    const lag = j.servers.find((s) => s.address === SECONDARY)!;
    assert.deepEqual([lag.state, lag.serialBehind], ['old', true]);
    assert.equal(j.servers.find((s) => s.address === PRIMARY)!.serialBehind, false);
  });

  it('--wait ends once the secondary catches up; the confirmation line: what, how long, until when', async () => {
    const cfg = join(dir, 'short.ini');
    // 0.001 h = 3.6 s: shorter than 2 x TTL (600 s), which then sets the wait
    writeFileSync(cfg, '[ext-sslit]\ndane-confirmation-interval-in-hours = 0.001\n');
    const run = start(ns, [...base, '--config', cfg, '--wait', '60']);
    await run.stderrLine(/1 of 2 in step; waiting for ns2\.edge\.test/);
    await lab.refreshSecondary('edge.test');
    const r = await run.done;
    const after = Date.now();
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], '_25._tcp.mail.edge.test: all 2 servers in step');
    const tail = lines.slice(-3);
    assert.equal(
      tail[0],
      'Every authoritative server (2) now serves this TLSA RRset. Resolvers may still hold the old RRset in their caches for up to its TTL (300 s).',
    );
    const m =
      /^The confirmation wait may start now: 10 min \(2 x TTL, longer than the confirmation interval of 4 s\), until (\S+)\.$/.exec(
        tail[1]!,
      );
    assert.ok(m, tail[1]);
    const until = Date.parse(m[1]!);
    assert.match(m[1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(until >= after + 600_000 - 60_000 && until <= after + 601_000, m[1]);
    assert.equal(
      tail[2],
      'Once it has passed, install the certificate whose key the new record matches; only then remove the old record.',
    );
  });

  it('the default interval (24 h) sets the wait when longer; JSON carries it', async () => {
    const r = await runCliAsync([...base, '--config', noConfig], { netns: ns.name });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(
      r.stdout,
      /The confirmation wait may start now: 24 h \(the confirmation interval; 2 x TTL is 10 min\), until \S+Z\./,
    );
    const j = await runCliAsync([...base, '--config', noConfig, '--json'], { netns: ns.name });
    const c = (JSON.parse(j.stdout) as { confirmation: Record<string, unknown> }).confirmation;
    assert.equal(c.seconds, 86400);
    assert.equal(c.boundBy, 'interval');
    assert.equal(c.twiceTtlSeconds, 600);
  });

  it('a zone with one server: "the only server", never "all 1 servers"', async () => {
    const r = await runCliAsync(
      [
        'dns',
        'propagation',
        '--zone',
        'solo.test',
        '--name',
        'mail',
        '--resolver',
        lab.resolver,
        '--config',
        noConfig,
      ],
      { netns: ns.name },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^_25\._tcp\.mail\.solo\.test: the only server is in step\n/);
    // no backend configured and no --expect: what the primary serves
    assert.match(r.stdout, /Expected \(as the primary ns1\.solo\.test\.? serves it\):/);
    assert.match(r.stdout, /\nThe only authoritative server now serves this TLSA RRset\./);
    assert.doesNotMatch(r.stdout, /all 1 servers/);
    // nothing at the apex, nothing expected: said plainly, no confirmation wait
    const apex = await runCliAsync(
      [
        'dns',
        'propagation',
        '--zone',
        'solo.test',
        '--name',
        '@',
        '--resolver',
        lab.resolver,
      ].concat(['--config', noConfig]),
      { netns: ns.name },
    );
    assert.equal(apex.code, 0, apex.stderr + apex.stdout);
    assert.match(
      apex.stdout,
      /\nThe only authoritative server serves no TLSA RRset at _25\._tcp\.solo\.test, as expected\./,
    );
    assert.doesNotMatch(apex.stdout, /confirmation wait/);
  });
});
