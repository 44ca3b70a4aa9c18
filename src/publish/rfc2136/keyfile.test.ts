import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DkError } from '../../core/errors.js';
import { parseTsigKeyFile, tsigKeyWarnings } from './keyfile.js';

const SECRET =
  'IihhCdCXnVcvnEcrZAzh7+PwJKBnF6Q3knxt3PIqG5ha6sbp+fxMTTcuEQK3N44QxbVNSryn0abxM5y+/N9Wxg==';
const SECRET256 = 'olS9b+QRpOIAp2527wLr6+hbMoqfn/xYNKm/ND0jfC8=';

/** What `tsig-keygen -a hmac-sha512 dk-key` prints. */
const TSIG_KEYGEN = `key "dk-key" {\n\talgorithm hmac-sha512;\n\tsecret "${SECRET}";\n};\n`;

/** What `ddns-confgen -z example.test` prints (comments, update-policy, a nsupdate hint). */
const DDNS_CONFGEN = `# To activate this key, place the following in named.conf, and
# in a separate keyfile on the system or systems from which nsupdate
# will be run:
key "ddns-key.example.test" {
\talgorithm hmac-sha256;
\tsecret "${SECRET256}";
};

# Then, in the "zone" definition statement for "example.test",
# place an "update-policy" statement like this one, adjusted as
# needed for your preferred permissions:
update-policy {
\t  grant ddns-key.example.test zonesub ANY;
};

# After the keyfile has been placed, the following command will
# execute nsupdate using this key:
nsupdate -k <keyfile>
`;

function err(f: () => unknown): DkError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    return e;
  }
  assert.fail('did not throw');
}

describe('parseTsigKeyFile: BIND configuration format', () => {
  it('reads tsig-keygen output', () => {
    const k = parseTsigKeyFile(TSIG_KEYGEN, '/etc/dk.key');
    assert.equal(k.name, 'dk-key');
    assert.equal(k.algorithm, 'hmac-sha512');
    assert.deepEqual(k.secret, Buffer.from(SECRET, 'base64'));
    assert.equal(k.secret.length, 64);
  });

  it('reads ddns-confgen output, skipping the update-policy and the comments', () => {
    const k = parseTsigKeyFile(DDNS_CONFGEN, 'ddns.key');
    assert.equal(k.name, 'ddns-key.example.test');
    assert.equal(k.algorithm, 'hmac-sha256');
    assert.equal(k.secret.length, 32);
  });

  it(
    'reads what the installed tsig-keygen prints now',
    { skip: spawnSync('tsig-keygen', ['-h']).error ? 'no tsig-keygen' : false },
    () => {
      for (const a of ['hmac-sha256', 'hmac-sha512', 'hmac-sha384', 'hmac-sha224', 'hmac-sha1']) {
        const out = spawnSync('tsig-keygen', ['-a', a, 'Live.Key.'], { encoding: 'utf8' }).stdout;
        const k = parseTsigKeyFile(out, 'live');
        assert.equal(k.algorithm, a);
        assert.equal(k.name, 'live.key');
      }
    },
  );

  it('takes //, # and /* */ comments, unquoted secrets, upper-case keywords', () => {
    const k = parseTsigKeyFile(
      `/* a\n comment */ KEY dk.example. { // x\n ALGORITHM HMAC-SHA256; # y\n secret ${SECRET256}; };`,
      'f',
    );
    assert.equal(k.name, 'dk.example');
    assert.equal(k.algorithm, 'hmac-sha256');
  });

  it('several keys: one must be chosen by name', () => {
    const two = `${TSIG_KEYGEN}key "b" { algorithm hmac-sha256; secret "${SECRET256}"; };`;
    const e = err(() => parseTsigKeyFile(two, 'two.key'));
    assert.equal(e.code, 'E_TSIG_KEYFILE');
    assert.equal(e.kind, 'config');
    assert.equal(
      e.message,
      'TSIG key file two.key: it holds 2 keys ("dk-key", "b"); choose one by name',
    );
    assert.equal(parseTsigKeyFile(two, 'two.key', { name: 'B.' }).name, 'b');
    assert.match(
      err(() => parseTsigKeyFile(two, 'two.key', { name: 'c' })).message,
      /there is no key "c" \(only "dk-key", "b"\)/,
    );
  });

  it('names the file, the line and the fault, without the secret', () => {
    const cases: [string, RegExp][] = [
      ['', /no key "name" .* statement found/],
      ['key "k" { algorithm hmac-sha256; };', /key "k" has no secret clause/],
      [`key "k" { secret "${SECRET256}"; };`, /key "k" has no algorithm clause/],
      [
        `key "k" {\n algorithm hmac-md5;\n secret "${SECRET256}"; };`,
        /line 2: algorithm hmac-md5 must not be used \(RFC 8945 §6\)/,
      ],
      [
        `key "k" { algorithm hmac-sha256-128; secret "${SECRET256}"; };`,
        /hmac-sha256-128 is not supported/,
      ],
      [`key "k" { algorithm ${SECRET256}; secret "x"; };`, /unknown algorithm/],
      [
        `key "k" { algorithm hmac-sha256;\n\n secret "${SECRET256.slice(1)}"; };`,
        /line 3: the secret is not valid base64/,
      ],
      [`key "k" { algorithm hmac-sha256; secret ""; };`, /the secret is empty/],
      [`key "k" { algorithm hmac-sha256; secrt "${SECRET256}"; };`, /has a clause other than/],
      [`key "k" { algorithm hmac-sha256; secret "${SECRET256}" };`, /";" expected after a clause/],
      [
        `key "k" { algorithm hmac-sha256; secret "${SECRET256}"; }`,
        /";" expected after the closing/,
      ],
      [`key "k" { algorithm hmac-sha256; secret "${SECRET256}`, /quoted string is never closed/],
      [`key "bad name" { algorithm hmac-sha256; secret "${SECRET256}"; };`, /not a domain name/],
      [
        `key "k" { algorithm hmac-sha256; secret "${SECRET256}"; };\nkey "k" { algorithm hmac-sha256; secret "${SECRET256}"; };`,
        /line 2: key "k" is defined twice/,
      ],
      [`/* ${SECRET256}`, /comment is never closed/],
      ['\0\x01binary', /binary/],
    ];
    for (const [text, re] of cases) {
      const e = err(() => parseTsigKeyFile(text, '/etc/dk.key'));
      assert.equal(e.code, 'E_TSIG_KEYFILE');
      assert.match(e.message, /^TSIG key file \/etc\/dk\.key/);
      assert.match(e.message, re, text);
      assert.ok(!e.message.includes(SECRET256.slice(0, 12)), e.message);
      assert.ok(!e.message.includes('\n'));
    }
  });

  it('accepts hmac-sha1 with a warning (RFC 8945 §6: MUST implement, NOT RECOMMENDED)', () => {
    const k = parseTsigKeyFile(`key "old" { algorithm hmac-sha1; secret "${SECRET256}"; };`, 'f');
    assert.equal(k.algorithm, 'hmac-sha1');
    assert.match(tsigKeyWarnings(k)[0]!, /hmac-sha1, which RFC 8945 §6 does not recommend/);
    assert.deepEqual(tsigKeyWarnings(parseTsigKeyFile(TSIG_KEYGEN, 'f')), []);
  });
});

describe('parseTsigKeyFile: dnssec-keygen K-files', () => {
  const PRIVATE = `Private-key-format: v1.3\nAlgorithm: 165 (HMAC_SHA512)\nKey: ${SECRET}\nBits: AAA=\nCreated: 20240101000000\nPublish: 20240101000000\nActivate: 20240101000000\n`;
  it('reads the .private file, the name from the file name', () => {
    const k = parseTsigKeyFile(PRIVATE, '/keys/Kdk-key.example.+165+01234.private');
    assert.deepEqual(k, {
      name: 'dk-key.example',
      algorithm: 'hmac-sha512',
      secret: Buffer.from(SECRET, 'base64'),
    });
    assert.equal(
      parseTsigKeyFile(
        PRIVATE.replace('165 (HMAC_SHA512)', '163 (HMAC_SHA256)'),
        'Kx.+163+00001.private',
      ).algorithm,
      'hmac-sha256',
    );
  });

  it('reads the .key file (a KEY record)', () => {
    const k = parseTsigKeyFile(
      `dk-key.example. IN KEY 512 3 163 ${SECRET256}\n`,
      'Kdk-key.example.+163+01234.key',
    );
    assert.equal(k.name, 'dk-key.example');
    assert.equal(k.algorithm, 'hmac-sha256');
  });

  it('refuses a .private file whose name gives no key name, md5, or a missing Key', () => {
    assert.match(
      err(() => parseTsigKeyFile(PRIVATE, 'secret.txt')).message,
      /comes from the file name/,
    );
    assert.match(
      err(() =>
        parseTsigKeyFile(
          PRIVATE.replace('165 (HMAC_SHA512)', '157 (HMAC_MD5)'),
          'Kx.+157+00001.private',
        ),
      ).message,
      /line 2: algorithm hmac-md5 must not be used/,
    );
    assert.match(
      err(() =>
        parseTsigKeyFile(
          PRIVATE.replace('165 (HMAC_SHA512)', '13 (ECDSAP256SHA256)'),
          'Kx.+013+00001.private',
        ),
      ).message,
      /not an HMAC algorithm/,
    );
    assert.match(
      err(() =>
        parseTsigKeyFile('Private-key-format: v1.3\nAlgorithm: 165\n', 'Kx.+165+00001.private'),
      ).message,
      /no Key field/,
    );
  });
});

describe('parseTsigKeyFile: junk', () => {
  const ok = (text: string) => {
    try {
      parseTsigKeyFile(text, 'fuzz.key');
    } catch (e) {
      assert.ok(e instanceof DkError, `threw ${String(e)}`);
      assert.equal(e.code, 'E_TSIG_KEYFILE');
      assert.ok(!e.message.includes('\n'), 'one line');
      assert.ok(!e.message.includes(SECRET256.slice(0, 16)), `secret in: ${e.message}`);
    }
  };

  it('Unicode white space (a pasted NO-BREAK SPACE, LINE SEPARATOR) is space, not an endless loop', () => {
    // Found by the fuzz below on CI: the tokenizer pushed empty words forever on U+00A0.
    for (const sp of ['\u00a0', '\u2028', '\u3000', '\ufeff']) {
      const key = parseTsigKeyFile(
        `key${sp}"dk-key"${sp}{\n\talgorithm hmac-sha256;${sp}\n\tsecret "${SECRET256}";\n};\n`,
        'pasted.key',
      );
      assert.equal(key.name, 'dk-key', `U+${sp.codePointAt(0)!.toString(16)}`);
    }
  });

  it('any string throws only E_TSIG_KEYFILE', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), ok), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), ok), { numRuns: 500 });
  });

  it('tokens of the format in any order throw only E_TSIG_KEYFILE and never echo the secret', () => {
    const token = fc.constantFrom(
      'key',
      '"dk-key"',
      'dk-key',
      '{',
      '}',
      ';',
      'algorithm',
      'hmac-sha256',
      'hmac-md5',
      'secret',
      `"${SECRET256}"`,
      SECRET256,
      '#',
      '//',
      '/*',
      '*/',
      '\n',
      ' ',
      '"',
      'Private-key-format:',
      'KEY',
      '3',
      '163',
      'options',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), (ts) => ok(ts.join(' '))),
      {
        numRuns: 3000,
      },
    );
  });

  it('a valid file with one character changed, dropped or doubled throws only E_TSIG_KEYFILE', () => {
    const base = `key "dk-key" {\n\talgorithm hmac-sha256;\n\tsecret "${SECRET256}";\n};\n`;
    fc.assert(
      fc.property(
        fc.nat({ max: base.length - 1 }),
        fc.constantFrom('drop', 'double', 'replace'),
        fc.string({ minLength: 1, maxLength: 1 }),
        (i, op, c) => {
          const t =
            op === 'drop'
              ? base.slice(0, i) + base.slice(i + 1)
              : op === 'double'
                ? base.slice(0, i) + base[i] + base.slice(i)
                : base.slice(0, i) + c + base.slice(i + 1);
          ok(t);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
