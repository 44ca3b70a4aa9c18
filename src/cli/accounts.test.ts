import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUserName, readPasswordFile, type AccountDeps } from './accounts.js';

const deps = (stdin: string, tty = false): AccountDeps => ({
  env: {},
  uid: 0,
  now: () => new Date(0),
  osUser: () => 'tester',
  readStdin: () => Buffer.from(stdin),
  stdinIsTerminal: () => tty,
});

describe('account CLI helpers', () => {
  it('reads a password from standard input, one trailing newline stripped, inner spaces kept', () => {
    assert.equal(readPasswordFile('-', deps('  two words  \n')), '  two words  ');
    assert.equal(readPasswordFile('-', deps('crlf-pass-1\r\n')), 'crlf-pass-1');
    assert.equal(readPasswordFile('-', deps('no-newline-1')), 'no-newline-1');
  });

  it('refuses a terminal on standard input: typing would echo the password', () => {
    assert.throws(() => readPasswordFile('-', deps('typed-pass-1\n', true)), {
      code: 'E_PASSWORD_TTY',
      kind: 'usage',
    });
  });

  it('user names: lower case, a-z 0-9 . _ @ -, at most 64', () => {
    assert.equal(parseUserName(' Alice@Example.ORG '), 'alice@example.org');
    for (const bad of ['', '-x', '.x', 'a b', 'a/b', 'a'.repeat(65), 'ä'])
      assert.throws(() => parseUserName(bad), { code: 'E_USER_NAME' }, bad);
    assert.equal(parseUserName('a'.repeat(64)), 'a'.repeat(64));
  });
});
