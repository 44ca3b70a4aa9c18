import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { DkError } from '../core/errors.js';
import {
  acmeCaName,
  acmeDirectoryUrl,
  daneEnabled,
  loadConfig,
  parseConfig,
  readSecret,
  splitCommand,
} from './config.js';

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

  it('reads the pass timing from [run] (retry-seconds, verify-grace-seconds); a bad value is named with its key', () => {
    const c = parseConfig('[run]\nretry-seconds = 2\nverify-grace-seconds = 3.5\n', 'f.ini');
    assert.deepEqual(c.run, { 'retry-seconds': 2, 'verify-grace-seconds': 3.5 });
    assert.deepEqual(parseConfig('[dns]\nzone = a\n', 'f.ini').run, {});
    assert.deepEqual(loadConfig(undefined, {}).run, {});
    const cases: [string, RegExp][] = [
      [
        '[run]\nretry-seconds = soon\n',
        /^f\.ini: run\.retry-seconds: must be a number of seconds, e\.g\. 300$/,
      ],
      [
        '[run]\nverify-grace-seconds = 0\n',
        /^f\.ini: run\.verify-grace-seconds: must be more than 0$/,
      ],
      ['[run]\nretry = 5\n', /^f\.ini: run: unknown setting "retry"$/],
    ];
    for (const [text, re] of cases) {
      assert.throws(
        () => parseConfig(text, 'f.ini'),
        (e: unknown) =>
          isConfigError(e) && (e as DkError).code === 'E_CONFIG' && re.test((e as Error).message),
        text,
      );
    }
  });

  it('reads [prereq] address and dkim-selector: space- or comma-separated, and every repeated line counts', () => {
    const c = parseConfig(
      '[prereq]\naddress = 192.0.2.25 2001:db8::25 ; the MX\naddress = 192.0.2.26,192.0.2.27\n' +
        'dkim-selector = mail2024\ndkim-selector = s2 s3\n',
      'f.ini',
    );
    assert.deepEqual(c.prereq, {
      address: ['192.0.2.25', '2001:db8::25', '192.0.2.26', '192.0.2.27'],
      'dkim-selector': ['mail2024', 's2', 's3'],
    });
    assert.deepEqual(parseConfig('[dns]\nzone = a\n', 'f.ini').prereq, {});
    assert.deepEqual(loadConfig(undefined, { DANEKEEPER_CONFIG: undefined }).prereq, {});
    // the same key under another section is not made repeatable: a second zone = still counts once
    assert.equal(parseConfig('[dns]\nzone = a\nzone = b\n', 'f.ini').dns.zone, 'b');
    const cases: [string, RegExp][] = [
      [
        '[prereq]\naddress = 192.0.2.25 mx.example.org\n',
        /^f\.ini: prereq\.address: "mx\.example\.org" is not an IP address/,
      ],
      [
        '[prereq]\ndkim-selector = a..b\n',
        /^f\.ini: prereq\.dkim-selector: "a\.\.b" is not a DKIM selector \(RFC 6376 §3\.1/,
      ],
      ['[prereq]\nmail-host = mx\n', /^f\.ini: prereq: unknown setting "mail-host"$/],
      [
        'address = 192.0.2.1\n',
        /^f\.ini: setting "address" is outside any section: put it under \[prereq\]$/,
      ],
    ];
    for (const [text, re] of cases) {
      assert.throws(
        () => parseConfig(text, 'f.ini'),
        (e: unknown) => isConfigError(e) && re.test((e as Error).message),
        text,
      );
    }
  });

  it('reads [run] reload, the default reload: one command a line, split like --reload, none empty', () => {
    const c = parseConfig(
      '[run]\nreload = "systemctl reload postfix"\nreload = doveadm reload\n',
      'f.ini',
    );
    assert.deepEqual(c.run.reload, [
      ['systemctl', 'reload', 'postfix'],
      ['doveadm', 'reload'],
    ]);
    assert.equal(parseConfig('[run]\nretry-seconds = 2\n', 'f.ini').run.reload, undefined);
    assert.throws(
      () => parseConfig('[run]\nreload = ""\n', 'f.ini'),
      (e: unknown) =>
        isConfigError(e) && (e as Error).message === 'f.ini: run.reload: names no command',
    );
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
        /^f\.ini: unknown section \[dnss\]; danekeeper reads \[dns\], \[store\], \[run\], \[acme\], \[ext-sslit\], \[notify\], \[monitor\], \[prereq\]$/,
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

  it('reads [acme], [notify] and daneEnabled of [ext-sslit]', () => {
    const c = parseConfig(
      '[acme]\ndirectory = letsencrypt-staging\nemail = hostmaster@example.org\n' +
        'ca-file = /etc/danekeeper/pebble-ca.pem\nchallenge = dns-01\nhttp-listen = [::]:80\n' +
        'profile = classic\neab-kid = kid-1\neab-hmac-key-file = /etc/danekeeper/eab.key\n' +
        '[ext-sslit]\ndaneEnabled = false\ndane-confirmation-interval-in-hours = 0.001\n' +
        '[notify]\nemail = admin@example.org\nsmtp = 127.0.0.1:25\nfrom = dk@example.org\n' +
        'webhook = https://hooks.example.org/dane\n',
      'f.ini',
    );
    assert.equal(c.acme.challenge, 'dns-01');
    assert.equal(c.acme['http-listen'], '[::]:80');
    assert.equal(c.acme['eab-kid'], 'kid-1');
    assert.equal(
      acmeDirectoryUrl(c.acme),
      'https://acme-staging-v02.api.letsencrypt.org/directory',
    );
    assert.equal(acmeDirectoryUrl({}), 'https://acme-v02.api.letsencrypt.org/directory');
    assert.equal(
      acmeDirectoryUrl(parseConfig('[acme]\ndirectory = https://127.0.0.1:14000/dir\n', 'f').acme),
      'https://127.0.0.1:14000/dir',
    );
    assert.equal(c['ext-sslit'].daneEnabled, false);
    assert.equal(daneEnabled(c), false);
    assert.equal(c['ext-sslit']['dane-confirmation-interval-in-hours'], 0.001);
    assert.equal(c.notify.webhook, 'https://hooks.example.org/dane');
    assert.equal(c.notify.smtp, '127.0.0.1:25');
    // the seed's default: on; "true" quoted is still true
    assert.equal(daneEnabled(parseConfig('[dns]\nzone = a\n', 'f.ini')), true);
    assert.equal(daneEnabled(parseConfig('[ext-sslit]\ndaneEnabled = "true"\n', 'f.ini')), true);
    assert.equal(daneEnabled(parseConfig('[ext-sslit]\ndaneEnabled = true\n', 'f.ini')), true);
    const none = loadConfig(undefined, {});
    assert.deepEqual([none.acme, none.notify, none.monitor], [{}, {}, {}]);
  });

  it('reads the webhook secret file, reminder interval and [monitor] (issue 10)', () => {
    const c = parseConfig(
      '[notify]\nemail = admin@example.org\nsmtp = [::1]:2525\nfrom = dk@example.org\n' +
        'webhook = https://hooks.example.org/dane\nwebhook-secret-file = /etc/danekeeper/hook.secret\n' +
        'reminder-hours = 12\n[monitor]\ninterval-minutes = 15\nrrsig-warn-days = 5\ncert-warn-days = 20\n',
      'f.ini',
    );
    assert.equal(c.notify['webhook-secret-file'], '/etc/danekeeper/hook.secret');
    assert.equal(c.notify['reminder-hours'], 12);
    assert.deepEqual(c.monitor, {
      'interval-minutes': 15,
      'rrsig-warn-days': 5,
      'cert-warn-days': 20,
    });
  });

  it('[monitor] interval-minutes takes a fraction down to 0.1 (6 s), for a lab or a very small site', () => {
    for (const [text, want] of [
      ['0.1', 0.1],
      ['0.2', 0.2],
      ['2.5', 2.5],
    ] as const) {
      const c = parseConfig(`[monitor]\ninterval-minutes = ${text}\n`, 'f.ini');
      assert.equal(c.monitor['interval-minutes'], want);
    }
  });

  it('names the [acme], [notify] or [ext-sslit] setting that is wrong', () => {
    const cases: [string, RegExp][] = [
      [
        '[ext-sslit]\ndaneEnabled = yes\n',
        /^f\.ini: ext-sslit\.daneEnabled: must be true or false$/,
      ],
      ['[ext-sslit]\ndaneEnabled = 1\n', /^f\.ini: ext-sslit\.daneEnabled: must be true or false$/],
      // the seed's key is camel case; another spelling is an unknown key, not a guess
      ['[ext-sslit]\ndaneenabled = true\n', /^f\.ini: ext-sslit: unknown setting "daneenabled"$/],
      [
        '[acme]\ndirectory = http://127.0.0.1/dir\n',
        /^f\.ini: acme\.directory: must be letsencrypt, letsencrypt-staging or an https:\/\/ directory URL$/,
      ],
      ['[acme]\ndirectory = production\n', /^f\.ini: acme\.directory: /],
      ['[acme]\nemail = hostmaster\n', /^f\.ini: acme\.email: must be an e-mail address$/],
      ['[acme]\nchallenge = tls-alpn-01\n', /^f\.ini: acme\.challenge: must be http-01 or dns-01$/],
      ['[acme]\nhttp-listen = 0.0.0.0\n', /^f\.ini: acme\.http-listen: must be ADDRESS:PORT/],
      [
        '[acme]\nhttp-listen = 0.0.0.0:70000\n',
        /^f\.ini: acme\.http-listen: the port must be 1 to 65535$/,
      ],
      [
        '[acme]\nhttp-listen = 0.0.0.0:80\nwebroot = /var/www\n',
        /^f\.ini: acme\.webroot: give http-listen or webroot, not both/,
      ],
      [
        '[acme]\neab-kid = k\n',
        /^f\.ini: acme\.eab-hmac-key-file: External Account Binding needs both/,
      ],
      [
        '[acme]\neab-hmac-key-file = /k\n',
        /^f\.ini: acme\.eab-kid: External Account Binding needs both/,
      ],
      ['[acme]\nprofile = a b\n', /^f\.ini: acme\.profile: /],
      ['[acme]\naccount-key = /k\n', /^f\.ini: acme: unknown setting "account-key"$/],
      ['[notify]\nwebhook = ftp://x\n', /^f\.ini: notify\.webhook: must be an http\(s\):\/\/ URL$/],
      ['[notify]\nfrom = nobody\n', /^f\.ini: notify\.from: must be an e-mail address$/],
      ['[notify]\nsmtp = a b\n', /^f\.ini: notify\.smtp: must be HOST or HOST:PORT$/],
      ['[notify]\nsms = 123\n', /^f\.ini: notify: unknown setting "sms"$/],
      [
        '[notify]\nemail = a@example.org\nfrom = b@example.org\n',
        /^f\.ini: notify\.smtp: e-mail notifications need email, smtp and from$/,
      ],
      [
        '[notify]\nwebhook-secret-file = /s\n',
        /^f\.ini: notify\.webhook: webhook-secret-file is given without a webhook URL$/,
      ],
      ['[notify]\nreminder-hours = 0\n', /^f\.ini: notify\.reminder-hours: must be more than 0$/],
      [
        '[monitor]\nrrsig-warn-days = soon\n',
        /^f\.ini: monitor\.rrsig-warn-days: must be a number of days$/,
      ],
      [
        '[monitor]\ninterval-minutes = 0\n',
        /^f\.ini: monitor\.interval-minutes: must be at least 0\.1 \(6 seconds\)$/,
      ],
      [
        '[monitor]\ninterval-minutes = 0.05\n',
        /^f\.ini: monitor\.interval-minutes: must be at least 0\.1 \(6 seconds\)$/,
      ],
      ['[monitor]\nevery = 5\n', /^f\.ini: monitor: unknown setting "every"$/],
      [
        'email = a@example.org\n',
        /^f\.ini: setting "email" is outside any section: put it under \[acme\] or \[notify\]$/,
      ],
    ];
    for (const [text, re] of cases) {
      assert.throws(
        () => parseConfig(text, 'f.ini'),
        (e: unknown) => isConfigError(e) && re.test((e as Error).message),
        text,
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

  it("acmeCaName: Let's Encrypt by name (the default), any other directory by its host", () => {
    assert.equal(acmeCaName({}), "Let's Encrypt");
    assert.equal(acmeCaName({ directory: 'letsencrypt' }), "Let's Encrypt");
    assert.match(acmeCaName({ directory: 'letsencrypt-staging' }), /^Let's Encrypt's staging CA/);
    assert.equal(
      acmeCaName({ directory: 'https://pebble.lab:14000/dir' }),
      'the ACME CA at pebble.lab:14000',
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
