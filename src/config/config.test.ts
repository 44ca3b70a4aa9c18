import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { DkError } from '../core/errors.js';
import { loadConfig, parseConfig, readSecret, splitCommand } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const isConfigError = (e: unknown) => e instanceof DkError && e.kind === 'config';

describe('config file', () => {
  it('reads the [dns] and [store] sections', () => {
    const c = parseConfig(
      '; danekeeper\n[dns]\nbackend = rfc2136\nzone = example.test\nserver = 127.0.0.1:5353\n' +
        'tsig-key-file = /etc/danekeeper/tsig.key\n[store]\npath = /tmp/x.db\n',
      'f.ini',
    );
    assert.equal(c.dns.backend, 'rfc2136');
    assert.equal(c.dns.server, '127.0.0.1:5353');
    assert.equal(c.store.path, '/tmp/x.db');
  });

  it("reads the confirmation interval from [ext-sslit] (the seed's panel.ini key), in hours", () => {
    const c = parseConfig('[ext-sslit]\ndane-confirmation-interval-in-hours = 0.5\n', 'f.ini');
    assert.equal(c['ext-sslit']['dane-confirmation-interval-in-hours'], 0.5);
    assert.deepEqual(parseConfig('[dns]\nzone = a\n', 'f.ini')['ext-sslit'], {});
    assert.deepEqual(loadConfig(undefined, {})['ext-sslit'], {});
  });

  it('names the file and the setting that is wrong', () => {
    const cases: [string, RegExp][] = [
      ['[dns]\nbackend = bind\n', /^f\.ini: dns\.backend: .*"zonefile"/],
      ['[dns]\ntsig-secret = abc\n', /^f\.ini: dns: unknown setting "tsig-secret"$/],
      [
        '[dnss]\nzone = x\n',
        /^f\.ini: unknown section \[dnss\]; danekeeper reads \[dns\], \[store\], \[ext-sslit\]$/,
      ],
      // no [dns] header: the settings sit outside any section, which zod calls unknown
      [
        'zone = example.test\n',
        /^f\.ini: setting "zone" is outside any section: put it under \[dns\]$/,
      ],
      [
        'path = /x.db\n[dns]\nzone = a\n',
        /^f\.ini: setting "path" is outside any section: put it under \[store\]$/,
      ],
      ['colour = red\n', /^f\.ini: setting "colour" is outside any section, and no section has it/],
      [
        '[ext-sslit]\ndane-confirmation-interval-in-hours = soon\n',
        /^f\.ini: ext-sslit\.dane-confirmation-interval-in-hours: must be a number of hours/,
      ],
      ['[dns]\napi-url = ftp://x\n', /^f\.ini: dns\.api-url: /],
    ];
    for (const [text, re] of cases) {
      assert.throws(
        () => parseConfig(text, 'f.ini'),
        (e: unknown) => isConfigError(e) && re.test((e as Error).message),
      );
    }
  });

  it('never throws anything but its own error, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseConfig(text, 'f.ini');
        } catch (e) {
          assert.ok(isConfigError(e), String(e));
        }
      }),
    );
  });

  it('a missing default file is no error; a missing named one is', () => {
    assert.equal(loadConfig(undefined, { DANEKEEPER_CONFIG: undefined }).path, null);
    assert.throws(
      () => loadConfig(join(dir, 'nope.ini'), {}),
      (e: unknown) =>
        e instanceof DkError &&
        e.kind === 'noinput' &&
        /^Cannot read the config file .*nope\.ini: no such file$/.test(e.message),
    );
    const f = join(dir, 'env.ini');
    writeFileSync(f, '[dns]\nzone = a.test\n');
    assert.equal(loadConfig(undefined, { DANEKEEPER_CONFIG: f }).dns.zone, 'a.test');
  });
});

describe('secrets', () => {
  it('come from a file (with a warning when others can read it) or the environment', () => {
    const f = join(dir, 'key');
    writeFileSync(f, 'sekrit\n', { mode: 0o600 });
    chmodSync(f, 0o600);
    const s = readSecret(f, 'DK_X', {}, 'API key')!;
    assert.equal(s.value, 'sekrit\n');
    assert.equal(s.warning, undefined);
    chmodSync(f, 0o644);
    const w = readSecret(f, 'DK_X', {}, 'API key')!;
    assert.match(w.warning!, /readable by other users \(mode 0644\); chmod 600 it/);
    assert.doesNotMatch(w.warning!, /sekrit/);
    assert.deepEqual(readSecret(undefined, 'DK_X', { DK_X: 'v' }, 'API key'), {
      value: 'v',
      source: '$DK_X',
    });
    assert.equal(readSecret(undefined, 'DK_X', {}, 'API key'), undefined);
    assert.throws(
      () => readSecret(join(dir, 'none'), 'DK_X', {}, 'TSIG key'),
      (e: unknown) =>
        e instanceof DkError &&
        /Cannot read the TSIG key file .*none: no such file$/.test(e.message),
    );
  });
});

describe('splitCommand', () => {
  it('splits like a shell would for plain words and quotes, without running one', () => {
    assert.deepEqual(splitCommand('rndc reload example.test'), ['rndc', 'reload', 'example.test']);
    assert.deepEqual(splitCommand(`sh -c "echo 'a b'" 'x y'`), ['sh', '-c', "echo 'a b'", 'x y']);
    assert.deepEqual(splitCommand('a; rm -rf /'), ['a;', 'rm', '-rf', '/']);
  });
});
