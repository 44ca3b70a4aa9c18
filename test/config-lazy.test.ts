/**
 * Start-up cost: zod takes 60-110 ms to load and is needed only when a config file is parsed.
 * A child process refuses any ESM import of zod (a resolve hook that throws) and reports
 * whether zod's CommonJS build is in the module cache before and after a file is read.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'dk-config-lazy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const hook =
  'export async function resolve(s, c, next) {' +
  "  if (s === 'zod' || s.startsWith('zod/')) throw new Error('zod imported at start-up');" +
  '  return next(s, c);' +
  '}';

function child(script: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('config: zod loaded only when a file is parsed', () => {
  it('the CLI modules import no zod; loading defaults leaves it unloaded; parsing a file loads it', () => {
    const ini = join(dir, 'c.ini');
    writeFileSync(ini, '[dns]\nzone = lazy.test\n');
    const r = child(`
      import { register, createRequire } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      const require = createRequire(import.meta.url);
      const zodLoaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/zod/'));
      // what every command imports (main.ts also runs the CLI, so import its pieces)
      await import('./src/cli/zone.ts');
      const { loadConfig } = await import('./src/config/config.ts');
      const noFile = loadConfig(undefined, { DANEKEEPER_CONFIG: undefined });
      const before = zodLoaded();
      const withFile = loadConfig(${JSON.stringify(ini)}, {});
      console.log(JSON.stringify({ before, after: zodLoaded(), noFile: noFile.path, zone: withFile.dns.zone }));
    `);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      before: false,
      after: true,
      noFile: null,
      zone: 'lazy.test',
    });
  });
});
