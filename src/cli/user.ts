/**
 * `danekeeper user`: the panel's accounts (issue 11, DESIGN.md "The panel and the API").
 *
 *   danekeeper user add NAME --role admin|customer [--domain DOMAIN ...] --password-file F
 *   danekeeper user list [--json]
 *   danekeeper user remove NAME
 *   danekeeper user passwd NAME --password-file F
 *   danekeeper user domains NAME [--add DOMAIN ...] [--remove DOMAIN ...]   a customer's domains
 *
 * Passwords come from a file (`-`: standard input), never from the command line (argv is
 * readable by every local user through /proc) and never appear in any output. Every change is
 * written to the audit log as `cli:<OS user>`.
 */
import type { Command } from 'commander';
import { hashPassword } from '../auth/password.js';
import type { Role } from '../auth/authz.js';
import { DkError } from '../core/errors.js';
import {
  accountOptions,
  cliActor,
  openAccounts,
  parseUserName,
  processAccountDeps,
  readPasswordFile,
  type AccountDeps,
  type AccountFlags,
} from './accounts.js';
import { parseDomainName } from './domain.js';
import { EXIT } from './exit.js';
import type { Io } from './io.js';
import { collect } from './options.js';

interface AddFlags extends AccountFlags {
  role?: string;
  domain?: string[];
  passwordFile?: string;
}

const unknownUser = (name: string) =>
  new DkError(
    'usage',
    'E_USER_UNKNOWN',
    `There is no user ${name} ("danekeeper user list" shows who there is)`,
  );

function parseRole(text: string | undefined): Role {
  if (text === 'admin' || text === 'customer') return text;
  throw new DkError(
    'usage',
    'E_OPTION',
    text === undefined
      ? '--role is required: admin or customer'
      : `--role "${text}" must be admin or customer`,
  );
}

export async function runUserAdd(
  nameText: string,
  f: AddFlags,
  io: Io,
  deps: AccountDeps,
): Promise<number> {
  const name = parseUserName(nameText);
  const role = parseRole(f.role);
  const domains = [...new Set((f.domain ?? []).map(parseDomainName))].sort();
  if (role === 'admin' && domains.length > 0) {
    throw new DkError('usage', 'E_OPTION', '--domain is for customers: an admin sees every domain');
  }
  if (f.passwordFile === undefined) {
    throw new DkError('usage', 'E_OPTION', '--password-file is required (- reads standard input)');
  }
  // Everything the command line says is checked before the slow hash and the store.
  const password = readPasswordFile(f.passwordFile, deps);
  const passwordHash = await hashPassword(password);
  const store = openAccounts(f, deps);
  try {
    const now = deps.now();
    if (!store.addUser({ name, role, domains, passwordHash }, now)) {
      throw new DkError('usage', 'E_USER_EXISTS', `There is a user ${name} already`);
    }
    store.audit(
      { ...cliActor(deps), action: 'user.add', target: name, details: { role, domains } },
      now,
    );
    io.out(
      role === 'admin'
        ? `Added admin ${name}`
        : `Added customer ${name}${domains.length ? ` owning ${domains.join(', ')}` : ' (no domains yet)'}`,
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}

export function runUserList(f: AccountFlags, io: Io, deps: AccountDeps): number {
  const store = openAccounts(f, deps);
  try {
    const users = store.users().map((u) => ({
      name: u.name,
      role: u.role,
      domains: u.domains,
      tokens: store.tokens(u.name).filter((t) => t.revokedAt === null).length,
      createdAt: u.createdAt,
      updatedAt: u.updatedAt,
    }));
    if (f.json) {
      io.out(JSON.stringify({ users }, null, 2));
    } else if (users.length === 0) {
      io.out('No users; add one with "danekeeper user add NAME --role admin --password-file F"');
    } else {
      for (const u of users) {
        const owns = u.role === 'admin' ? 'all domains' : u.domains.join(', ') || 'no domains';
        io.out(`${u.name}  ${u.role}  ${owns}  ${u.tokens} token(s)  since ${u.createdAt}`);
      }
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}

export function runUserRemove(
  nameText: string,
  f: AccountFlags,
  io: Io,
  deps: AccountDeps,
): number {
  const name = parseUserName(nameText);
  const store = openAccounts(f, deps);
  try {
    const u = store.user(name);
    if (!u) throw unknownUser(name);
    if (u.role === 'admin' && store.adminCount() === 1) {
      throw new DkError(
        'usage',
        'E_LAST_ADMIN',
        `${name} is the only admin: add another admin before removing this one`,
      );
    }
    const now = deps.now();
    store.removeUser(name);
    store.audit(
      { ...cliActor(deps), action: 'user.remove', target: name, details: { role: u.role } },
      now,
    );
    io.out(`Removed ${name} with their API tokens and sessions`);
    return EXIT.ok;
  } finally {
    store.close();
  }
}

export async function runUserPasswd(
  nameText: string,
  f: AddFlags,
  io: Io,
  deps: AccountDeps,
): Promise<number> {
  const name = parseUserName(nameText);
  if (f.passwordFile === undefined) {
    throw new DkError('usage', 'E_OPTION', '--password-file is required (- reads standard input)');
  }
  const password = readPasswordFile(f.passwordFile, deps);
  const store = openAccounts(f, deps);
  try {
    if (!store.user(name)) throw unknownUser(name);
    const passwordHash = await hashPassword(password);
    const now = deps.now();
    store.setPassword(name, passwordHash, now);
    store.audit({ ...cliActor(deps), action: 'user.passwd', target: name, details: {} }, now);
    io.out(`Changed the password of ${name}; their panel sessions are ended`);
    return EXIT.ok;
  } finally {
    store.close();
  }
}

interface DomainsFlags extends AccountFlags {
  add?: string[];
  remove?: string[];
}

/** Changes which domains a customer owns, keeping their password, tokens and sessions. */
export function runUserDomains(
  nameText: string,
  f: DomainsFlags,
  io: Io,
  deps: AccountDeps,
): number {
  const name = parseUserName(nameText);
  const add = (f.add ?? []).map(parseDomainName);
  const remove = (f.remove ?? []).map(parseDomainName);
  const store = openAccounts(f, deps);
  try {
    const u = store.user(name);
    if (!u) throw unknownUser(name);
    if (u.role === 'admin') {
      throw new DkError('usage', 'E_OPTION', `${name} is an admin and sees every domain`);
    }
    const missing = remove.filter((d) => !u.domains.includes(d));
    if (missing.length > 0) {
      throw new DkError(
        'usage',
        'E_OPTION',
        `${name} does not own ${missing.join(', ')} (owns: ${u.domains.join(', ') || 'nothing'})`,
      );
    }
    const next = [...new Set([...u.domains.filter((d) => !remove.includes(d)), ...add])].sort();
    const changed = next.join() !== u.domains.join();
    if (changed) {
      const now = deps.now();
      store.setDomains(name, next, now);
      store.audit(
        {
          ...cliActor(deps),
          action: 'user.domains',
          target: name,
          details: { added: add, removed: remove, domains: next },
        },
        now,
      );
    }
    if (f.json) io.out(JSON.stringify({ name, domains: next }, null, 2));
    else io.out(`${name} owns ${next.join(', ') || 'no domains'}`);
    return EXIT.ok;
  } finally {
    store.close();
  }
}

export function registerUser(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
  deps: AccountDeps = processAccountDeps(),
): Command {
  const run = (f: () => number | Promise<number>) => setExit(Promise.resolve().then(f));
  const user = program
    .command('user')
    .description('Panel and API accounts: add, list, remove, passwd, domains');
  const add = user
    .command('add')
    .description('Add an admin or a customer who owns domains')
    .argument('<name>')
    .option('--role <role>', 'admin or customer')
    .option('--domain <domain>', "a customer's domain; repeatable", collect)
    .option('--password-file <file>', 'the password, one line (- reads standard input)');
  accountOptions(add).action((name: string, o: AddFlags) =>
    run(() => runUserAdd(name, o, io, deps)),
  );
  const list = user.command('list').description('The accounts, their roles and domains');
  accountOptions(list, true).action((o: AccountFlags) => run(() => runUserList(o, io, deps)));
  const remove = user
    .command('remove')
    .description('Remove an account with its tokens and sessions')
    .argument('<name>');
  accountOptions(remove).action((name: string, o: AccountFlags) =>
    run(() => runUserRemove(name, o, io, deps)),
  );
  const passwd = user
    .command('passwd')
    .description("Set an account's password (ends its panel sessions)")
    .argument('<name>')
    .option('--password-file <file>', 'the password, one line (- reads standard input)');
  accountOptions(passwd).action((name: string, o: AddFlags) =>
    run(() => runUserPasswd(name, o, io, deps)),
  );
  const domains = user
    .command('domains')
    .description('Show or change the domains a customer owns (tokens and sessions stay)')
    .argument('<name>')
    .option('--add <domain>', 'give a domain; repeatable', collect)
    .option('--remove <domain>', 'take a domain away; repeatable', collect);
  accountOptions(domains, true).action((name: string, o: DomainsFlags) =>
    run(() => runUserDomains(name, o, io, deps)),
  );
  for (const c of [user, add, list, remove, passwd, domains]) c.exitOverride();
  return user;
}
