/**
 * `danekeeper serve` as a user runs it, without the lab: an empty state, the listener, the
 * one-serve-per-state lock, SIGHUP with a broken config, SIGTERM, and usage errors.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { runCli } from './support/cli.js';
import { tempDir } from './support/pki.js';
import { startServe } from './support/serve.js';

const dir = tempDir('dk-serve-cli-');
after(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'dk.ini');
writeFileSync(config, `[store]\npath = ${join(dir, 'state.db')}\n`);

it('serves /healthz and /metrics, refuses a second serve on the same state, survives a bad SIGHUP, exits 0 on SIGTERM', async () => {
  const s = startServe(['--config', config, '--listen', '127.0.0.1:0']);
  try {
    const l = await s.waitFor('listening', (x) => x.event === 'listening');
    const addr = String(l.listen);
    await s.waitFor('the first pass', (x) => x.event === 'pass');
    // the monitoring pass (src/monitor/) is the scheduler's second job
    const mon = await s.waitFor('the first monitoring pass', (x) => x.event === 'monitor');
    assert.equal(mon.targets, 0);
    const h = await fetch(`http://${addr}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(((await h.json()) as { domains: number }).domains, 0);
    const m = await fetch(`http://${addr}/metrics`);
    assert.match(await m.text(), /^danekeeper_passes_total 1$/m);

    const second = runCli(['serve', '--config', config, '--listen', '127.0.0.1:0']);
    assert.equal(second.code, 75);
    assert.match(
      second.stderr,
      /^danekeeper: Another danekeeper serve \([^)]+:[0-9]+\) is running on .*state\.db; stop it first\n$/,
    );

    writeFileSync(config, '[store\nbroken');
    s.child.kill('SIGHUP');
    await s.waitFor('the reload refused', (x) => x.event === 'reload-failed');
    assert.equal((await fetch(`http://${addr}/healthz`)).status, 200, 'still serving');
    writeFileSync(config, `[store]\npath = ${join(dir, 'state.db')}\n`);
    s.child.kill('SIGHUP');
    await s.waitFor('the reload', (x) => x.event === 'reloaded');

    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    assert.ok(s.lines.some((x) => x.event === 'stopped'));
    // every stdout line is one JSON object with level, time and msg
    for (const x of s.lines) {
      assert.ok(
        typeof x.level === 'string' && typeof x.time === 'string' && 'msg' in x,
        JSON.stringify(x),
      );
    }
    assert.equal(s.stderr(), '');
    // the lock went with it
    const again = startServe(['--config', config, '--listen', '127.0.0.1:0']);
    await again.waitFor('listening', (x) => x.event === 'listening');
    again.child.kill('SIGINT');
    assert.equal(await again.exited, 0);
  } finally {
    s.child.kill('SIGKILL');
  }
});

it('usage errors are one line and exit 64; a port in use exits 69', async () => {
  const r = runCli(['serve', '--config', config, '--tls-cert', join(dir, 'c.pem')]);
  assert.equal(r.code, 64);
  assert.equal(r.stderr, 'danekeeper: --tls-cert and --tls-key go together\n');
  const r2 = runCli(['serve', '--config', config, '--pass-interval', '0']);
  assert.equal(r2.code, 64);
  assert.equal(
    r2.stderr,
    'danekeeper: --pass-interval "0" must be minutes, or a number with s, m or h, from 1s to 168h\n',
  );
  const r4 = runCli(['serve', '--config', config, '--log-level', 'loud']);
  assert.equal(r4.code, 64);
  assert.equal(r4.stderr, 'danekeeper: --log-level "loud" must be debug, info, warn or error\n');
  // a name would be looked up in DNS at start-up (and this test must stay off the network)
  const r5 = runCli(['serve', '--config', config, '--listen', 'panel.example:8440']);
  assert.equal(r5.code, 64);
  assert.equal(
    r5.stderr,
    'danekeeper: --listen "panel.example:8440" must be an IP address and port, e.g. 127.0.0.1:8440 or [::1]:8440\n',
  );
  const s = startServe(['--config', config, '--listen', '127.0.0.1:0']);
  try {
    const addr = String((await s.waitFor('listening', (x) => x.event === 'listening')).listen);
    const other = join(dir, 'other.ini');
    writeFileSync(other, `[store]\npath = ${join(dir, 'other.db')}\n`);
    const r3 = runCli(['serve', '--config', other, '--listen', addr]);
    assert.equal(r3.code, 69);
    assert.match(
      r3.stderr,
      /^danekeeper: Cannot listen on 127\.0\.0\.1:[0-9]+: the address is in use\n$/,
    );
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});
