import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { parsePrometheus, sample } from '../../test/support/prometheus.js';
import { tempDir } from '../../test/support/pki.js';
import { DkError } from '../core/errors.js';
import { daemonApp } from '../web/app.js';
import type { Action, RolloverState } from '../core/rollover/index.js';
import type { DomainSettings } from '../store/domains.js';
import { openState } from '../store/state.js';
import { startDaemon, type Daemon } from './daemon.js';
import { FakeWorld, OWNER } from './fake-world.js';
import { DaemonMetrics } from './metrics.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function settings(name = 'example.org'): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: ['mail.example.org'],
    endpoints: [{ host: 'mail.example.org', port: 25, proto: 'tcp' }],
    dane: true,
    certDir: '/nonexistent/live/example.org',
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

function memLog() {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ base: null }, dest), lines };
}

async function setup(world = new FakeWorld({ t: Date.now() })) {
  const dir = tempDir('dk-daemon-');
  dirs.push(dir);
  const statePath = join(dir, 'state.db');
  const store = openState(statePath);
  store.domains.add(settings(), new Date());
  const { log, lines } = memLog();
  const daemon = await startDaemon({
    statePath,
    store,
    world: () => Promise.resolve(world),
    log,
    holder: 'test:1',
    passIntervalMs: 3_600_000,
    minDelayMs: 50,
  });
  // hono: the app is called without a socket
  const app = daemonApp({ health: () => daemon.health(), metrics: () => daemon.metrics.render() });
  const get = async (path: string) => app.request(path);
  return { daemon, world, statePath, store, lines, get };
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('serve daemon (fake world)', () => {
  let d: Daemon | undefined;
  after(async () => d?.stop());

  it('rolls a new domain to idle by itself, waking at the deadlines the passes report; /metrics and /healthz show it', async () => {
    const s = await setup();
    d = s.daemon;
    // confirmation (0.001 h, 3.6 s) is a deadline: the daemon wakes for it, not after 1 h
    await until('an installed, verified certificate', () =>
      s.lines.some((l) => l.event === 'domain' && l.result === 'idle'),
    );
    const passes = s.lines.filter((l) => l.event === 'pass').length;
    assert.ok(passes >= 2 && passes < 20, `${passes} passes`);
    const m = await s.get('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const ss = parsePrometheus(await m.text());
    assert.equal(
      sample(ss, 'danekeeper_rollover_phase', { domain: 'example.org', phase: 'idle' }),
      1,
    );
    assert.equal(
      sample(ss, 'danekeeper_rollover_phase', { domain: 'example.org', phase: 'ordering' }),
      0,
    );
    const cert = s.world.certs.find((c) => c.id === s.world.deployed)!;
    assert.equal(
      sample(ss, 'danekeeper_certificate_not_after_timestamp_seconds', { domain: 'example.org' }),
      Math.floor(Date.parse(cert.notAfter) / 1000),
    );
    assert.equal(
      sample(ss, 'danekeeper_endpoint_live_match', {
        domain: 'example.org',
        endpoint: OWNER,
        address: '192.0.2.1',
      }),
      1,
    );
    assert.ok(sample(ss, 'danekeeper_passes_total')! >= 2);
    assert.ok(
      sample(ss, 'danekeeper_domain_last_pass_timestamp_seconds', { domain: 'example.org' })! > 0,
    );
    const h = await s.get('/healthz');
    assert.equal(h.status, 200);
    const body = (await h.json()) as { status: string; domains: number };
    assert.equal(body.status, 'ok');
    assert.equal(body.domains, 1);
    // the store file gone: not healthy
    rmSync(s.statePath);
    const h2 = await s.get('/healthz');
    assert.equal(h2.status, 503);
    assert.equal(((await h2.json()) as { status: string }).status, 'unavailable');
    assert.equal((await s.get('/nope')).status, 404);
    await d.stop();
    d = undefined;
  });

  it('stop() during a step lets that step finish and persist, records no failure, takes no further step', async () => {
    const world = new FakeWorld({ t: Date.now() });
    let release!: () => void;
    let entered!: () => void;
    const inOrder = new Promise<void>((r) => (entered = r));
    const exec = world.execute.bind(world);
    world.execute = async (dom, a: Action) => {
      if (a.kind === 'orderCertificate') {
        entered();
        await new Promise<void>((r) => (release = r));
      }
      return exec(dom, a);
    };
    const s = await setup(world);
    await inOrder;
    const stopping = s.daemon.stop();
    const observed = world.observed;
    release();
    await stopping;
    assert.equal(world.observed, observed, 'no observation (no step) after the stop');
    assert.ok(world.certs.length === 1, 'the order that had started finished');
    const st = openState(s.statePath);
    try {
      const state = st.rollover.read('example.org')!.state as RolloverState;
      assert.equal(state.failure ?? null, null, 'stopping is not a failure');
      assert.equal(st.rollover.lease('example.org', new Date()), undefined, 'lease released');
    } finally {
      st.close();
    }
    assert.ok(s.lines.some((l) => l.event === 'domain' && l.result === 'interrupted'));
    assert.ok(s.lines.some((l) => l.event === 'stopped'));
  });

  it("forwards the world's DNS-01 leftover sweep to the pass", async () => {
    const world = new FakeWorld({ t: Date.now() });
    world.leftovers = ['_acme-challenge.example.org. TXT "left"'];
    const s = await setup(world);
    d = s.daemon;
    await until('a pass', () => s.lines.some((l) => l.event === 'pass'));
    assert.ok(world.swept >= 1, 'sweep() called');
    assert.deepEqual(world.leftovers, []);
    await d.stop();
    d = undefined;
  });

  it('after a restart, a domain at rest (not observed) gets its phase and certificate from the stored state, and no live-match claim', async () => {
    const s = await setup();
    d = s.daemon;
    await until('idle', () => s.lines.some((l) => l.event === 'domain' && l.result === 'idle'));
    await d.stop();
    d = undefined;
    // the stored rest mark: a clock inside it makes the next pass skip observing the domain
    const st = openState(s.statePath);
    const state = st.rollover.read('example.org')!.state as RolloverState;
    assert.ok(state.rest, 'the idle pass left a rest mark');
    const at = new Date(Date.parse(state.rest.recheckAt) - 1000);
    const observed = s.world.observed;
    const { log, lines } = memLog();
    d = await startDaemon({
      statePath: s.statePath,
      store: st,
      world: () => Promise.resolve(s.world),
      log,
      holder: 'test:2',
      now: () => at,
      passIntervalMs: 3_600_000,
      minDelayMs: 50,
    });
    await until('a pass', () => lines.some((l) => l.event === 'pass'));
    assert.equal(s.world.observed, observed, 'the domain at rest was not observed');
    const ss = parsePrometheus(d.metrics.render());
    assert.equal(
      sample(ss, 'danekeeper_rollover_phase', { domain: 'example.org', phase: 'idle' }),
      1,
    );
    assert.equal(
      sample(ss, 'danekeeper_certificate_not_after_timestamp_seconds', { domain: 'example.org' }),
      Math.floor(Date.parse(state.installed!.notAfter) / 1000),
    );
    assert.equal(sample(ss, 'danekeeper_domain_at_rest', { domain: 'example.org' }), 1);
    assert.equal(
      ss.filter((x) => x.name === 'danekeeper_endpoint_live_match').length,
      0,
      'nobody looked at the chains since the start: nothing claimed',
    );
    await d.stop();
    d = undefined;
  });

  it('a renew request (API/panel) wakes the pass at once and reaches the planner; a domain held elsewhere keeps it queued', async () => {
    const s = await setup();
    d = s.daemon;
    await until('idle', () => s.lines.some((l) => l.event === 'domain' && l.result === 'idle'));
    const certs = s.world.certs.length;
    // another process (a `danekeeper run`) holds the domain: the request waits for it
    assert.ok(s.store.rollover.acquireLease('example.org', 'other:1', 60_000, new Date()));
    const passes = s.lines.filter((l) => l.event === 'pass').length;
    d.requestRenewal('example.org');
    await until(
      'a pass after the request',
      () => s.lines.filter((l) => l.event === 'pass').length > passes,
    );
    assert.deepEqual(d.queuedRequests(), [{ domain: 'example.org', request: 'renew' }]);
    assert.equal(s.world.certs.length, certs, 'nothing renewed under the other holder');
    s.store.rollover.releaseLease('example.org', 'other:1');
    // the pass interval is an hour: only the wake brings the next pass
    d.scheduler.wake('pass');
    await until('a new certificate', () => s.world.certs.length > certs, 10_000);
    assert.deepEqual(d.queuedRequests(), []);
    assert.ok(
      s.lines.some(
        (l) => l.event === 'renew-request' && l.domain === 'example.org' && l.result !== 'busy',
      ),
    );
    await until('idle again', () =>
      s.lines.some(
        (l, i) =>
          i > s.lines.findIndex((x) => x.event === 'renew-request' && x.result !== 'busy') &&
          l.event === 'domain' &&
          l.result === 'idle',
      ),
    );
    const cert = s.world.certs.at(-1)!;
    assert.equal(s.world.deployed, cert.id, 'the renewed certificate is installed');
    await d.stop();
    d = undefined;
  });

  it('counts failures by domain and code', async () => {
    const world = new FakeWorld({ t: Date.now() });
    world.failNext.generateKey = new DkError('unavailable', 'E_TEST_DOWN', 'The test says no');
    const s = await setup(world);
    d = s.daemon;
    await until('a failed step', () => s.lines.some((l) => l.result === 'failed'));
    const ss = parsePrometheus(await (await s.get('/metrics')).text());
    assert.equal(
      sample(ss, 'danekeeper_failures_total', { domain: 'example.org', code: 'E_TEST_DOWN' }),
      1,
    );
    await d.stop();
    d = undefined;
  });
});

describe('metrics text', () => {
  it('escapes label values and writes each series once', () => {
    const m = new DaemonMetrics();
    m.recordPass({
      endedAt: new Date(1_700_000_000_000),
      seconds: 1.5,
      managed: ['we"ird\\name\n.example'],
      facts: [
        {
          domain: 'we"ird\\name\n.example',
          phase: 'confirming',
          certNotAfter: null,
          endpoints: [{ endpoint: '_25._tcp.x.', address: '::1', match: false }],
          lastPassAt: 1_700_000_000,
          lastPassSeconds: 0.25,
          atRest: false,
        },
      ],
      outcomes: [],
    });
    const ss = parsePrometheus(m.render());
    assert.equal(
      sample(ss, 'danekeeper_rollover_phase', {
        domain: 'we"ird\\name\n.example',
        phase: 'confirming',
      }),
      1,
    );
    assert.equal(sample(ss, 'danekeeper_pass_last_duration_seconds'), 1.5);
    // a removed domain's series go away
    m.recordPass({ endedAt: new Date(), seconds: 1, managed: [], facts: [], outcomes: [] });
    assert.equal(parsePrometheus(m.render()).filter((x) => x.labels.domain).length, 0);
  });

  it('exports the open monitor findings read per scrape, one series each, gone on recovery', () => {
    let open = [
      { domain: 'a.example', code: 'live-mismatch', subject: '192.0.2.1', severity: 'critical' },
      { domain: 'a.example', code: 'serial-behind', subject: 'ns2.a.example', severity: 'warning' },
    ];
    const m = new DaemonMetrics(() => open);
    let ss = parsePrometheus(m.render());
    assert.equal(sample(ss, 'danekeeper_monitor_last_pass_timestamp_seconds'), 0);
    assert.equal(
      sample(ss, 'danekeeper_monitor_finding', {
        domain: 'a.example',
        kind: 'live-mismatch',
        severity: 'critical',
        subject: '192.0.2.1',
      }),
      1,
    );
    assert.equal(ss.filter((x) => x.name === 'danekeeper_monitor_finding').length, 2);
    m.recordMonitor(new Date(1_700_000_000_000), 2);
    open = [open[1]!];
    ss = parsePrometheus(m.render());
    assert.equal(sample(ss, 'danekeeper_monitor_last_pass_timestamp_seconds'), 1_700_000_000);
    assert.deepEqual(
      ss.filter((x) => x.name === 'danekeeper_monitor_finding').map((x) => x.labels.kind),
      ['serial-behind'],
    );
    // the store unreadable: the findings are left out, the rest still renders
    const broken = new DaemonMetrics(() => {
      throw new DkError('unavailable', 'E_STORE', 'gone');
    });
    ss = parsePrometheus(broken.render());
    assert.equal(ss.filter((x) => x.name === 'danekeeper_monitor_finding').length, 0);
  });

  it('the test parser rejects what Prometheus would', () => {
    assert.throws(() => parsePrometheus('x 1\n'), /before HELP/);
    assert.throws(() => parsePrometheus('# HELP x a\n# TYPE x gauge\nx 1\nx 2\n'), /duplicate/);
    assert.throws(() => parsePrometheus('# HELP x a\n# TYPE x gauge\nx{a="b} 1\n'), /unterminated/);
    assert.throws(() => parsePrometheus('# HELP x a\n# TYPE x gauge\nx 1'), /newline/);
  });
});
