/**
 * `danekeeper token`: API tokens for the JSON API (issue 11, DESIGN.md "The panel and the API").
 *
 *   danekeeper token create NAME [--expires DAYS] [--json]   prints the token once
 *   danekeeper token list NAME [--json]
 *   danekeeper token revoke ID
 *
 * `create` writes the token alone on standard output (so `T=$(danekeeper token create alice)`
 * works) and says on standard error that it is shown only this once. The store keeps its
 * SHA-256; nothing can show it again.
 */
import type { Command } from 'commander';
import { isTokenId, newApiToken } from '../auth/tokens.js';
import { DkError } from '../core/errors.js';
import {
  accountOptions,
  cliActor,
  openAccounts,
  parseUserName,
  processAccountDeps,
  type AccountDeps,
  type AccountFlags,
} from './accounts.js';
import { EXIT } from './exit.js';
import type { Io } from './io.js';
import { parseIntOption } from './options.js';

interface CreateFlags extends AccountFlags {
  expires?: string;
}

/** Tokens expire by default: a forgotten token in a script should not work forever. */
export const DEFAULT_TOKEN_DAYS = 90;
const DAY_MS = 86_400_000;

const unknownUser = (name: string) =>
  new DkError(
    'usage',
    'E_USER_UNKNOWN',
    `There is no user ${name} ("danekeeper user list" shows who there is)`,
  );

export function runTokenCreate(
  nameText: string,
  f: CreateFlags,
  io: Io,
  deps: AccountDeps,
): number {
  const name = parseUserName(nameText);
  const days = parseIntOption('--expires', f.expires, 1, 3650) ?? DEFAULT_TOKEN_DAYS;
  const store = openAccounts(f, deps);
  try {
    if (!store.user(name)) throw unknownUser(name);
    const now = deps.now();
    const expiresAt = new Date(now.getTime() + days * DAY_MS);
    const t = newApiToken();
    store.addToken({ id: t.id, user: name, sha256: t.sha256, expiresAt }, now);
    store.audit(
      {
        ...cliActor(deps),
        action: 'token.create',
        target: t.id,
        details: { user: name, expiresAt: expiresAt.toISOString() },
      },
      now,
    );
    if (f.json) {
      io.out(
        JSON.stringify(
          { id: t.id, user: name, expiresAt: expiresAt.toISOString(), token: t.token },
          null,
          2,
        ),
      );
    } else {
      io.out(t.token);
    }
    io.err(
      `Token ${t.id} for ${name}, valid until ${expiresAt.toISOString()}: it is shown only this once`,
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}

export function runTokenList(nameText: string, f: AccountFlags, io: Io, deps: AccountDeps): number {
  const name = parseUserName(nameText);
  const store = openAccounts(f, deps);
  try {
    if (!store.user(name)) throw unknownUser(name);
    const now = deps.now().toISOString();
    const tokens = store.tokens(name).map((t) => ({
      ...t,
      state:
        t.revokedAt !== null
          ? 'revoked'
          : t.expiresAt !== null && t.expiresAt <= now
            ? 'expired'
            : 'active',
    }));
    if (f.json) {
      io.out(JSON.stringify({ user: name, tokens }, null, 2));
    } else if (tokens.length === 0) {
      io.out(`${name} has no API tokens; "danekeeper token create ${name}" makes one`);
    } else {
      for (const t of tokens) {
        const used = t.lastUsedAt === null ? 'never used' : `last used ${t.lastUsedAt}`;
        const until =
          t.state === 'revoked'
            ? `revoked ${t.revokedAt}`
            : `${t.state === 'expired' ? 'expired' : 'valid until'} ${t.expiresAt ?? 'never'}`;
        io.out(`${t.id}  ${t.state}  created ${t.createdAt}  ${until}  ${used}`);
      }
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}

export function runTokenRevoke(id: string, f: AccountFlags, io: Io, deps: AccountDeps): number {
  if (!isTokenId(id)) {
    throw new DkError(
      'usage',
      'E_TOKEN_ID',
      `"${id.startsWith('dk_') ? 'dk_…' : id}" is not a token id (tok_ and 12 hex digits, as "danekeeper token list NAME" shows)`,
    );
  }
  const store = openAccounts(f, deps);
  try {
    const t = store.token(id);
    if (!t) throw new DkError('usage', 'E_TOKEN_UNKNOWN', `There is no API token ${id}`);
    const now = deps.now();
    if (!store.revokeToken(id, now)) {
      io.out(`Token ${id} of ${t.user} was revoked already`);
      return EXIT.ok;
    }
    store.audit(
      { ...cliActor(deps), action: 'token.revoke', target: id, details: { user: t.user } },
      now,
    );
    io.out(`Revoked token ${id} of ${t.user}`);
    return EXIT.ok;
  } finally {
    store.close();
  }
}

export function registerToken(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
  deps: AccountDeps = processAccountDeps(),
): Command {
  const run = (f: () => number) => setExit(Promise.resolve().then(f));
  const token = program.command('token').description('API tokens: create, list, revoke');
  const create = token
    .command('create')
    .description('Make an API token for a user; it is printed once')
    .argument('<name>', 'the user the token acts as')
    .option('--expires <days>', `days until it expires (default ${DEFAULT_TOKEN_DAYS})`);
  accountOptions(create, true).action((name: string, o: CreateFlags) =>
    run(() => runTokenCreate(name, o, io, deps)),
  );
  const list = token
    .command('list')
    .description("A user's tokens (ids and times, never the tokens)")
    .argument('<name>');
  accountOptions(list, true).action((name: string, o: AccountFlags) =>
    run(() => runTokenList(name, o, io, deps)),
  );
  const revoke = token.command('revoke').description('Revoke a token by its id').argument('<id>');
  accountOptions(revoke).action((id: string, o: AccountFlags) =>
    run(() => runTokenRevoke(id, o, io, deps)),
  );
  for (const c of [token, create, list, revoke]) c.exitOverride();
  return token;
}
