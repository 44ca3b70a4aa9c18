import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { tempDir } from '../../test/support/pki.js';
import { parseConfig, type ConfigFile } from '../config/config.js';
import { registerRun, type RunDeps } from '../cli/run.js';
import type { Io } from '../cli/io.js';
import { openUsersStore } from '../store/users.js';
import { FakeWorld } from './fake-world.js';
import { effectiveSettings, withOverrides } from './settings.js';

const dir = tempDir('dk-settings-');
after(() => rmSync(dir, { recursive: true, force: true }));

const ini = (text: string) => parseConfig(text, 'test.ini');
const NOW = new Date('2026-12-01T10:00:00Z');

describe('effective settings: the INI file, overridden by the admin (one merge for API and pass)', () => {
  it('no override: the file, and the seed defaults (DANE on, 24 h)', () => {
    assert.deepEqual(effectiveSettings(ini(''), {}), {
      daneEnabled: true,
      confirmationInterval: 86400,
    });
    const c = ini('[ext-sslit]\ndaneEnabled = false\ndane-confirmation-interval-in-hours = 0.5\n');
    assert.deepEqual(effectiveSettings(c, {}), { daneEnabled: false, confirmationInterval: 1800 });
    assert.equal(withOverrides(c, {}), c, 'nothing overridden: the same config');
  });

  it('an override wins over the file, for the API view and for the config the pass gets', () => {
    const c = ini('[ext-sslit]\ndane-confirmation-interval-in-hours = 0.001\n');
    const o = { daneEnabled: false, confirmationInterval: 7200 };
    assert.deepEqual(effectiveSettings(c, o), { daneEnabled: false, confirmationInterval: 7200 });
    const p = withOverrides(c, o);
    assert.equal(p['ext-sslit'].daneEnabled, false);
    assert.equal(p['ext-sslit']['dane-confirmation-interval-in-hours'], 2);
    assert.equal(c['ext-sslit'].daneEnabled, undefined, 'the loaded file is not changed');
    // only one of them overridden: the other stays exactly the file's (0.001 h, not 4 s)
    const q = withOverrides(c, { daneEnabled: true });
    assert.equal(q['ext-sslit']['dane-confirmation-interval-in-hours'], 0.001);
  });

  it('a row of the wrong type (written by hand) is ignored, not believed', () => {
    const c = ini('');
    const o = { daneEnabled: 'no', confirmationInterval: -5 };
    assert.deepEqual(effectiveSettings(c, o), { daneEnabled: true, confirmationInterval: 86400 });
    assert.equal(withOverrides(c, o), c);
  });

  it('`run` hands the pass the config with the admin override applied', async () => {
    const statePath = join(dir, 'run.db');
    const config = join(dir, 'run.ini');
    writeFileSync(config, '[ext-sslit]\ndane-confirmation-interval-in-hours = 0.001\n');
    const users = openUsersStore(statePath);
    users.setSettings({ daneEnabled: false, confirmationInterval: 3600 }, NOW);
    users.close();
    const seen: ConfigFile[] = [];
    const deps: RunDeps = {
      env: {},
      uid: 0,
      now: () => NOW,
      world: (o) => {
        seen.push(o.config);
        return Promise.resolve(new FakeWorld({ t: NOW.getTime() }));
      },
    };
    const io: Io = { out: () => {}, err: () => {}, verbose: () => {}, withVerbose: () => io };
    let pending: Promise<number> | undefined;
    const program = new Command('danekeeper').exitOverride();
    registerRun(program, io, (p) => void (pending = p), deps);
    await program.parseAsync(['node', 'dk', 'run', '--config', config, '--state', statePath]);
    assert.equal(await pending, 0);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!['ext-sslit'].daneEnabled, false);
    assert.equal(seen[0]!['ext-sslit']['dane-confirmation-interval-in-hours'], 1);
  });
});
