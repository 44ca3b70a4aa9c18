/**
 * The built CLI (`npm run build`: scripts/build.mjs bundles src/cli/main.ts) runs: its
 * chunks load, and the packages left outside the bundle (better-sqlite3's native addon, zod
 * for the config file) resolve from node_modules. Built into a scratch folder inside the
 * repository, so node_modules resolves as it does for dist/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

test('the bundled CLI starts, loads each command, its SQLite store and its config parser', () => {
  const out = join(root, '.lab', `build-test-${process.pid}`);
  try {
    const b = spawnSync(process.execPath, ['scripts/build.mjs'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, DK_BUILD_OUT: out },
    });
    assert.equal(b.status, 0, b.stderr);
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [join(out, 'cli', 'main.js'), ...args], {
        encoding: 'utf8',
        timeout: 30_000,
      });
    assert.match(cli('--version').stdout, /^\d+\.\d+\.\d+\n$/);
    const rec = `3 1 1 ${'ab'.repeat(32)}`;
    assert.match(cli('tlsa', 'explain', rec).stdout, /DANE-EE/);
    for (const c of ['verify', 'check', 'dns', 'dnssec', 'domain']) {
      const h = cli(c, '--help');
      assert.equal(h.status, 0, `${c} --help: ${h.stderr}`);
    }
    // dns through a config file (zod) into the state database (better-sqlite3)
    const dir = join(out, 'work');
    mkdirSync(dir, { recursive: true });
    const zoneFile = join(dir, 'db.build.test');
    writeFileSync(
      zoneFile,
      '$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n',
    );
    const ini = join(dir, 'dk.ini');
    writeFileSync(ini, `[dns]\nzone = build.test\nzone-file = ${zoneFile}\n`);
    const add = cli(
      'dns',
      'add-tlsa',
      '--config',
      ini,
      '--state',
      join(dir, 'state.db'),
      '--name',
      'mail',
      '--port',
      '25',
      '--tlsa',
      rec,
    );
    assert.equal(add.status, 0, add.stderr);
    const list = cli('dns', 'list', '--config', ini, '--state', join(dir, 'state.db'));
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${rec}  danekeeper, since`));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
