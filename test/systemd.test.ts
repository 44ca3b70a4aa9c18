/**
 * The systemd units in systemd/ (issue 10 item 1): `systemd-analyze verify` accepts them with
 * no warning (when the tool is installed), and what matters is in them: serve as a service,
 * run as a oneshot + a twice-daily timer with a random delay, and the sandbox that still lets
 * danekeeper write its state and cert dirs and bind :80.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './support/pki.js';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'systemd');
const UNITS = ['danekeeper.service', 'danekeeper-run.service', 'danekeeper-run.timer'];
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
// scripts/setup.sh installs it: on CI a missing tool is a failure, never a quiet skip
if (!hasAnalyze && process.env.CI === 'true') {
  throw new Error('systemd-analyze is missing: run scripts/setup.sh (it installs systemd)');
}
const scratch = tempDir('dk-systemd-');
after(() => rmSync(scratch, { recursive: true, force: true }));

/** section -> key -> values (a key may repeat) */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([A-Za-z]+)\]$/.exec(line);
    if (sec) {
      section = new Map();
      out.set(sec[1]!, section);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && section, `line ${i + 1} is neither a section nor Key=value: ${raw}`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!]);
  }
  return out;
}

const unit = (name: string) => parseUnit(readFileSync(join(dir, name), 'utf8'));
const one = (u: ReturnType<typeof unit>, sec: string, key: string) => {
  const v = u.get(sec)?.get(key);
  assert.ok(v, `${sec}.${key} missing`);
  return v.join(' ');
};

function verify(files: string[]) {
  // systemd tools log to the journal when stderr is no terminal: keep their words here
  return spawnSync('systemd-analyze', ['verify', ...files], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_TARGET: 'console' },
  });
}

describe('systemd units', () => {
  it(
    'systemd-analyze verify accepts them without a warning',
    { skip: !hasAnalyze && 'systemd-analyze not installed' },
    () => {
      const r = verify(UNITS.map((u) => join(dir, u)));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '');
      // the check is real: a bad value is reported
      const bad = join(scratch, 'danekeeper.service');
      writeFileSync(
        bad,
        readFileSync(join(dir, 'danekeeper.service'), 'utf8').replace(
          /^ProtectSystem=strict$/m,
          'ProtectSystem=bogus',
        ),
      );
      assert.match(verify([bad]).stderr, /protect system value/i);
    },
  );

  it('serve is a service that reloads on SIGHUP and stops gracefully', () => {
    const s = unit('danekeeper.service');
    assert.match(one(s, 'Service', 'ExecStart'), /\bdanekeeper serve\b/);
    assert.equal(one(s, 'Service', 'Type'), 'simple');
    assert.match(one(s, 'Service', 'ExecReload'), /kill -HUP \$MAINPID/);
    assert.equal(one(s, 'Install', 'WantedBy'), 'multi-user.target');
  });

  it('run is a oneshot started twice a day at a random moment', () => {
    const r = unit('danekeeper-run.service');
    assert.match(one(r, 'Service', 'ExecStart'), /\bdanekeeper run\b/);
    assert.equal(one(r, 'Service', 'Type'), 'oneshot');
    const t = unit('danekeeper-run.timer');
    assert.equal(one(t, 'Timer', 'OnCalendar'), '*-*-* 00,12:00:00');
    assert.ok(one(t, 'Timer', 'RandomizedDelaySec'));
    assert.equal(one(t, 'Timer', 'Persistent'), 'true');
    if (hasAnalyze) {
      const c = spawnSync('systemd-analyze', ['calendar', '--iterations=2', '*-*-* 00,12:00:00'], {
        encoding: 'utf8',
      });
      assert.equal((c.stdout.match(/Next elapse|Iter\. #2/g) ?? []).length, 2, c.stdout);
    }
  });

  for (const name of ['danekeeper.service', 'danekeeper-run.service']) {
    it(`${name}: sandboxed, yet may write its state and cert dirs and bind :80`, () => {
      const s = unit(name);
      assert.equal(one(s, 'Service', 'ProtectSystem'), 'strict');
      assert.equal(one(s, 'Service', 'NoNewPrivileges'), 'yes');
      assert.equal(one(s, 'Service', 'PrivateTmp'), 'yes');
      assert.equal(one(s, 'Service', 'ProtectHome'), 'yes');
      assert.equal(one(s, 'Service', 'StateDirectory'), 'danekeeper');
      const rw = one(s, 'Service', 'ReadWritePaths').split(/\s+/);
      assert.ok(
        rw.includes('/var/lib/danekeeper') && rw.includes('/etc/danekeeper/live'),
        rw.join(' '),
      );
      assert.match(one(s, 'Service', 'CapabilityBoundingSet'), /\bCAP_NET_BIND_SERVICE\b/);
      // V8 writes machine code at run time
      assert.equal(s.get('Service')?.get('MemoryDenyWriteExecute'), undefined);
    });
  }
});
