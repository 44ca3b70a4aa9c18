import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../test/support/cli.js';
import type { MonitorResult } from '../monitor/pass.js';
import type { StoredFinding } from '../store/monitor.js';
import type { Io } from './io.js';
import { passStatus, printPass } from './watch.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-watch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

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

const finding = (severity: 'critical' | 'warning', code = 'live-mismatch'): StoredFinding => ({
  key: `a.test|${code}|mx`,
  domain: 'a.test',
  code,
  subject: 'mx:25 192.0.2.1',
  severity,
  message: 'presents a chain that matches no TLSA record',
  fix: 'install the right certificate',
  firstSeen: '2026-01-01T00:00:00.000Z',
  lastSeen: '2026-01-01T00:10:00.000Z',
  recoveredAt: null,
});

function result(findings: StoredFinding[], verdict: string | null = 'failed'): MonitorResult {
  return {
    checkedAt: '2026-01-01T00:10:00.000Z',
    targets: [
      {
        domain: 'a.test',
        source: 'watched',
        dane: false,
        verdict,
        ...(verdict === null ? { error: 'resolver timed out' } : {}),
      },
    ],
    findings,
    opened: findings.slice(0, 1),
    recovered: [],
    notify: null,
  };
}

describe('watch (CLI)', () => {
  it('watch DOMAIN adds (same as watch add), list shows it, remove forgets it', () => {
    const config = join(dir, 'empty.ini');
    writeFileSync(config, '; nothing\n');
    const env = { DANEKEEPER_STATE_DIR: dir, DANEKEEPER_CONFIG: config };
    let r = runCli(['watch', 'Partner.Example'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Watching partner\.example \(monitor only\)/);
    r = runCli(['watch', 'add', 'partner.example'], { env });
    assert.match(r.stdout, /is watched already/);
    r = runCli(['watch', 'list', '--json'], { env });
    const j = JSON.parse(r.stdout) as { watched: { name: string; openFindings: number }[] };
    assert.deepEqual(
      j.watched.map((w) => [w.name, w.openFindings]),
      [['partner.example', 0]],
    );
    r = runCli(['watch', 'remove', 'other.example'], { env });
    assert.equal(r.code, 64);
    assert.equal(
      r.stderr,
      'danekeeper: other.example is not watched ("danekeeper watch list" shows what is)\n',
    );
    // an unknown domain is refused before any network work (no resolver named, none asked)
    r = runCli(['watch', 'check', 'other.example'], { env });
    assert.equal(r.code, 64);
    assert.equal(
      r.stderr,
      'danekeeper: other.example is neither managed nor watched (add it with "danekeeper watch other.example")\n',
    );
    r = runCli(['watch', 'remove', 'partner.example'], { env });
    assert.equal(r.code, 0);
    r = runCli(['watch', 'list'], { env });
    assert.match(r.stdout, /^No watched domains/);
    r = runCli(['watch', 'not_a_domain!'], { env });
    assert.equal(r.code, 64);
  });

  it('exit status as check: 2 critical, 1 warning, 3 when a domain could not be looked at, else 0', () => {
    assert.equal(passStatus(result([finding('critical'), finding('warning', 'serial-behind')])), 2);
    assert.equal(passStatus(result([finding('warning', 'serial-behind')])), 1);
    assert.equal(passStatus(result([], null)), 3);
    assert.equal(passStatus(result([], 'verified')), 0);
  });

  it('prints each finding with first/last seen and the fix', () => {
    const io = capture();
    printPass(result([finding('critical')]), io);
    assert.deepEqual(io.lines, [
      'a.test (watched): FAILED',
      '  CRITICAL live-mismatch mx:25 192.0.2.1 (new): presents a chain that matches no TLSA record',
      '      first seen 2026-01-01T00:00:00.000Z, last seen 2026-01-01T00:10:00.000Z',
      '      fix: install the right certificate',
    ]);
    // no [notify] channel: no line about notifications at all
    const quiet = capture();
    printPass(
      { ...result([]), notify: { notices: [], delivered: [], errors: [], configured: false } },
      quiet,
    );
    assert.deepEqual(quiet.lines, ['a.test (watched): FAILED']);
    const told = capture();
    printPass(
      { ...result([]), notify: { notices: [], delivered: [], errors: [], configured: true } },
      told,
    );
    assert.equal(told.lines.at(-1), 'Notifications: nothing new to send');
  });
});
