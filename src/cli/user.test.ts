import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../../test/support/cli.js';
import { verifyPassword } from '../auth/password.js';
import { sha256Hex } from '../auth/tokens.js';
import { openUsersStore } from '../store/users.js';

const root = mkdtempSync(join(tmpdir(), 'dk-user-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

function setup(name: string) {
  const dir = join(root, name);
  const config = join(root, `${name}.ini`);
  writeFileSync(config, '; nothing\n');
  const env = { DANEKEEPER_STATE_DIR: dir, DANEKEEPER_CONFIG: config };
  const pw = (file: string, text: string) => {
    const p = join(root, `${name}-${file}`);
    writeFileSync(p, text);
    chmodSync(p, 0o600);
    return p;
  };
  return { dir, env, pw, db: join(dir, 'state.db') };
}

/** Every byte of the state database and its WAL, as text, for "the secret is not in it". */
function dbBytes(dir: string): string {
  return readdirSync(dir)
    .map((f) => readFileSync(join(dir, f)).toString('latin1'))
    .join('');
}

describe('user and token (CLI)', () => {
  it('user add/list/passwd/remove: hashed, audited, and the password in no output or file', async () => {
    const { dir, env, pw, db } = setup('users');
    const ADMIN_PW = 'Admin-Secret-4711';
    const BOB_PW = 'Bob-Secret-0815';
    const NEW_PW = 'Bob-Newer-Secret-9';
    let r = runCli(
      ['user', 'add', 'Root', '--role', 'admin', '--password-file', pw('a', `${ADMIN_PW}\n`)],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Added admin root\n');
    r = runCli(
      [
        'user',
        'add',
        'bob',
        '--role',
        'customer',
        '--domain',
        'Example.ORG.',
        '--domain',
        'example.net',
        '--password-file',
        '-',
      ],
      { env, input: `${BOB_PW}\r\n` },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Added customer bob owning example.net, example.org\n');

    r = runCli(['user', 'list', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      users: { name: string; role: string; domains: string[] }[];
    };
    assert.deepEqual(
      j.users.map((u) => [u.name, u.role, u.domains]),
      [
        ['bob', 'customer', ['example.net', 'example.org']],
        ['root', 'admin', []],
      ],
    );
    const text = runCli(['user', 'list'], { env });
    assert.match(text.stdout, /^bob {2}customer {2}example\.net, example\.org {2}0 token\(s\)/m);

    r = runCli(['user', 'passwd', 'bob', '--password-file', pw('n', NEW_PW)], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Changed the password of bob; their panel sessions are ended\n$/);

    const s = openUsersStore(db);
    try {
      // one trailing newline (CRLF too) was stripped: the stored hash verifies the bare password
      assert.equal(await verifyPassword(ADMIN_PW, s.passwordHash('root')!), true);
      assert.equal(await verifyPassword(NEW_PW, s.passwordHash('bob')!), true);
      assert.equal(await verifyPassword(BOB_PW, s.passwordHash('bob')!), false);
      assert.deepEqual(
        s
          .auditLog()
          .map((e) => [e.actor.startsWith('cli:'), e.action, e.target, e.source])
          .reverse(),
        [
          [true, 'user.add', 'root', 'cli'],
          [true, 'user.add', 'bob', 'cli'],
          [true, 'user.passwd', 'bob', 'cli'],
        ],
      );
      assert.deepEqual(s.auditLog()[1]!.details, {
        role: 'customer',
        domains: ['example.net', 'example.org'],
      });
    } finally {
      s.close();
    }

    r = runCli(['user', 'remove', 'root'], { env });
    assert.equal(r.code, 64);
    assert.equal(
      r.stderr,
      'danekeeper: root is the only admin: add another admin before removing this one\n',
    );
    r = runCli(['user', 'remove', 'bob'], { env });
    assert.equal(r.code, 0, r.stderr);
    r = runCli(['user', 'remove', 'bob'], { env });
    assert.equal(r.code, 64);
    assert.equal(
      r.stderr,
      'danekeeper: There is no user bob ("danekeeper user list" shows who there is)\n',
    );

    const bytes = dbBytes(dir);
    for (const secret of [ADMIN_PW, BOB_PW, NEW_PW]) assert.ok(!bytes.includes(secret), secret);
  });

  it('refuses bad input before writing anything, with one line and 64/65/66', () => {
    const { dir, env, pw } = setup('bad');
    const good = pw('good', 'long-enough-1\n');
    const cases: [string[], number, RegExp, string?][] = [
      [['user', 'add', 'x', '--password-file', good], 64, /--role is required: admin or customer/],
      [
        ['user', 'add', 'x', '--role', 'boss', '--password-file', good],
        64,
        /--role "boss" must be admin or customer/,
      ],
      [
        ['user', 'add', 'x', '--role', 'admin', '--domain', 'a.test', '--password-file', good],
        64,
        /--domain is for customers/,
      ],
      [['user', 'add', 'x', '--role', 'customer'], 64, /--password-file is required/],
      [
        ['user', 'add', '-bad', '--role', 'admin', '--password-file', good],
        64,
        /unknown option|is not a user name/,
      ],
      [
        ['user', 'add', 'a b', '--role', 'admin', '--password-file', good],
        64,
        /"a b" is not a user name/,
      ],
      [
        [
          'user',
          'add',
          'x',
          '--role',
          'customer',
          '--domain',
          'not a domain',
          '--password-file',
          good,
        ],
        64,
        /is not a domain name/,
      ],
      [
        ['user', 'add', 'x', '--role', 'admin', '--password-file', join(root, 'missing')],
        66,
        /Reading the password file .*missing failed: no such file/,
      ],
      [
        ['user', 'add', 'x', '--role', 'admin', '--password-file', pw('empty', '\n')],
        65,
        /is empty$/m,
      ],
      [
        ['user', 'add', 'x', '--role', 'admin', '--password-file', '-'],
        65,
        /The password on standard input is empty/,
        '',
      ],
      [
        ['user', 'add', 'x', '--role', 'admin', '--password-file', pw('short', 'short12\n')],
        65,
        /shorter than 8 characters/,
      ],
      [
        [
          'user',
          'add',
          'x',
          '--role',
          'admin',
          '--password-file',
          pw('two', 'line-one-xx\nline-two-xx\n'),
        ],
        65,
        /more than one line/,
      ],
    ];
    for (const [args, code, msg, input] of cases) {
      const r = runCli(args, { env, ...(input !== undefined ? { input } : {}) });
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
      assert.equal(r.stdout, '');
      // the passwords of the files never show in a message
      assert.ok(!/long-enough|short12|line-one|line-two/.test(r.stderr), r.stderr);
    }
    // nothing was created: no user, and list on an empty store says so
    const r = runCli(['user', 'list'], { env });
    assert.match(r.stdout, /^No users; add one with/);
    void dir;
  });

  it('token create prints the token once; list and the store never show it; revoke stops it', () => {
    const { dir, env, pw, db } = setup('tokens');
    runCli(
      [
        'user',
        'add',
        'carol',
        '--role',
        'customer',
        '--domain',
        'carol.test',
        '--password-file',
        pw('c', 'carol-password\n'),
      ],
      { env },
    );
    let r = runCli(['token', 'create', 'Carol', '--expires', '7'], { env });
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(r.stdout, /^dk_[A-Za-z0-9_-]{43}\n$/);
    const m =
      /^Token (tok_[0-9a-f]{12}) for carol, valid until (\S+): it is shown only this once\n$/.exec(
        r.stderr,
      );
    assert.ok(m, r.stderr);
    const id = m[1]!;
    assert.ok(!r.stderr.includes(token));

    r = runCli(['token', 'create', 'carol', '--json'], { env });
    const j = JSON.parse(r.stdout) as {
      id: string;
      user: string;
      token: string;
      expiresAt: string;
    };
    assert.equal(j.user, 'carol');
    assert.match(j.token, /^dk_/);
    assert.ok(Date.parse(j.expiresAt) - Date.now() > 89 * 86_400_000, 'default 90 days');

    r = runCli(['token', 'list', 'carol', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const l = JSON.parse(r.stdout) as { tokens: { id: string; state: string }[] };
    assert.deepEqual(
      l.tokens.map((t) => t.state),
      ['active', 'active'],
    );
    assert.ok(l.tokens.some((t) => t.id === id));
    for (const out of [
      r.stdout,
      runCli(['token', 'list', 'carol'], { env }).stdout,
      runCli(['user', 'list', '--json'], { env }).stdout,
    ]) {
      assert.ok(!out.includes(token) && !out.includes(j.token), out);
      assert.ok(!out.includes(sha256Hex(token)), out);
    }

    r = runCli(['token', 'revoke', id], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Revoked token ${id} of carol\n`);
    r = runCli(['token', 'revoke', token], { env });
    assert.equal(r.code, 64);
    assert.ok(!r.stderr.includes(token), 'a token pasted as an id is not echoed');
    r = runCli(['token', 'create', 'dave'], { env });
    assert.equal(r.code, 64);
    assert.match(r.stderr, /There is no user dave/);
    r = runCli(['token', 'create', 'carol', '--expires', '0'], { env });
    assert.equal(r.code, 64);
    assert.match(r.stderr, /--expires "0" must be a number from 1 to 3650/);

    const s = openUsersStore(db);
    try {
      const now = new Date();
      assert.equal(s.authenticateToken(sha256Hex(token), now), null, 'revoked');
      assert.equal(s.authenticateToken(sha256Hex(j.token), now)?.user.name, 'carol');
      assert.deepEqual(
        s
          .auditLog()
          .map((e) => e.action)
          .reverse(),
        ['user.add', 'token.create', 'token.create', 'token.revoke'],
      );
    } finally {
      s.close();
    }
    const raw = new Database(db, { readonly: true });
    const cols = raw.prepare('SELECT * FROM api_tokens').all();
    raw.close();
    assert.ok(!JSON.stringify(cols).includes(token));
    const bytes = dbBytes(dir);
    assert.ok(!bytes.includes(token) && !bytes.includes(j.token));
  });
});

describe('user domains (CLI)', () => {
  it("shows and changes a customer's domains, audited; refuses admins and domains not owned", () => {
    const { env, pw, db } = setup('domains');
    const f = pw('p', 'a-long-password\n');
    runCli(['user', 'add', 'root', '--role', 'admin', '--password-file', f], { env });
    runCli(
      ['user', 'add', 'dora', '--role', 'customer', '--domain', 'a.test', '--password-file', f],
      { env },
    );
    let r = runCli(['user', 'domains', 'dora'], { env });
    assert.equal(r.stdout, 'dora owns a.test\n');
    r = runCli(
      [
        'user',
        'domains',
        'dora',
        '--add',
        'C.test.',
        '--add',
        'b.test',
        '--remove',
        'a.test',
        '--json',
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { name: 'dora', domains: ['b.test', 'c.test'] });
    r = runCli(['user', 'domains', 'dora', '--remove', 'a.test'], { env });
    assert.equal(r.code, 64);
    assert.equal(r.stderr, 'danekeeper: dora does not own a.test (owns: b.test, c.test)\n');
    r = runCli(['user', 'domains', 'root', '--add', 'x.test'], { env });
    assert.equal(r.code, 64);
    assert.match(r.stderr, /root is an admin and sees every domain/);
    const s = openUsersStore(db);
    try {
      assert.deepEqual(s.user('dora')?.domains, ['b.test', 'c.test']);
      const last = s.auditLog()[0]!;
      assert.equal(last.action, 'user.domains');
      assert.deepEqual(last.details, {
        added: ['c.test', 'b.test'],
        removed: ['a.test'],
        domains: ['b.test', 'c.test'],
      });
      assert.equal(
        s.auditLog().filter((e) => e.action === 'user.domains').length,
        1,
        'a look changes nothing',
      );
    } finally {
      s.close();
    }
  });
});
