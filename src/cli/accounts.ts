/**
 * What `user` and `token` share (issue 11): the state database they open, the password file,
 * user names, and who the audit log says acted.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { DkError } from '../core/errors.js';
import { fileErrorReason } from '../io/file-errors.js';
import { statePathFor } from '../store/path.js';
import { openUsersStore, type UsersStore } from '../store/users.js';

export interface AccountFlags {
  config?: string;
  state?: string;
  json?: boolean;
}

export interface AccountDeps {
  env: NodeJS.ProcessEnv;
  uid: number;
  now: () => Date;
  /** the OS user running the command, for the audit log */
  osUser: () => string;
  /** `--password-file -` */
  readStdin: () => Buffer;
  stdinIsTerminal: () => boolean;
}

export const processAccountDeps = (): AccountDeps => ({
  env: process.env,
  uid: process.getuid?.() ?? 0,
  now: () => new Date(),
  osUser: () => {
    try {
      return userInfo().username;
    } catch {
      return `uid ${process.getuid?.() ?? '?'}`;
    }
  },
  readStdin: () => readFileSync(0),
  stdinIsTerminal: () => process.stdin.isTTY === true,
});

export function openAccounts(f: AccountFlags, deps: AccountDeps): UsersStore {
  const config = loadConfig(f.config, deps.env);
  return openUsersStore(statePathFor(f.state, config, deps.env, deps.uid));
}

/** The audit log's actor and source for a command run from the shell. */
export const cliActor = (deps: AccountDeps) => ({
  actor: `cli:${deps.osUser()}`,
  source: 'cli',
});

/**
 * Account names: what a login form and a URL path can carry without escaping, compared in
 * lower case so `Alice` and `alice` cannot be two accounts.
 */
export function parseUserName(text: string): string {
  const name = text.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9._@-]{0,63}$/.test(name)) {
    throw new DkError(
      'usage',
      'E_USER_NAME',
      `"${text}" is not a user name: 1 to 64 of a-z 0-9 . _ @ -, starting with a letter or digit`,
    );
  }
  return name;
}

// NIST SP 800-63B §5.1.1.2: memorized secrets chosen by users are at least 8 characters.
const MIN_PASSWORD = 8;

/**
 * Reads the password from a file (`-`: standard input), strips one trailing newline (what
 * `echo` and editors add), and refuses an empty or short one. The password itself is never
 * part of any message.
 */
export function readPasswordFile(path: string, deps: AccountDeps): string {
  if (path === '-' && deps.stdinIsTerminal()) {
    // A terminal echoes what is typed: the password would show on screen and in scrollback.
    throw new DkError(
      'usage',
      'E_PASSWORD_TTY',
      '--password-file - reads standard input, which is a terminal here (the password would be echoed): pipe it in or name a file',
    );
  }
  let raw: Buffer;
  try {
    raw = path === '-' ? deps.readStdin() : readFileSync(path);
  } catch (e) {
    throw new DkError(
      'noinput',
      'E_READ',
      `Reading the password file ${path} failed: ${fileErrorReason(e)}`,
      { cause: e },
    );
  }
  const text = raw.toString('utf8').replace(/\r?\n$/, '');
  const what = path === '-' ? 'the password on standard input' : `the password file ${path}`;
  const What = what[0]!.toUpperCase() + what.slice(1);
  if (text === '') {
    throw new DkError('data', 'E_PASSWORD_EMPTY', `${What} is empty`);
  }
  if (text.includes('\n')) {
    throw new DkError(
      'data',
      'E_PASSWORD_LINES',
      `${What} has more than one line: a password is one line`,
    );
  }
  if ([...text].length < MIN_PASSWORD) {
    throw new DkError(
      'data',
      'E_PASSWORD_SHORT',
      `${What} is shorter than ${MIN_PASSWORD} characters`,
    );
  }
  return text;
}

export function accountOptions(c: Command, json = false): Command {
  c.option(
    '--config <file>',
    'config file (default $DANEKEEPER_CONFIG or /etc/danekeeper/danekeeper.ini)',
  ).option(
    '--state <file>',
    'state database (default [store] path, else /var/lib/danekeeper/state.db for root)',
  );
  if (json) c.option('--json', 'machine-readable output');
  return c;
}
