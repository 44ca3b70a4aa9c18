import { join } from 'node:path';
import { DkError } from '../core/errors.js';

/**
 * Where the state database lives when the configuration does not say:
 *   $DANEKEEPER_STATE_DIR/state.db                   when set
 *   /var/lib/danekeeper/state.db                     for root (uid 0)
 *   $XDG_STATE_HOME/danekeeper/state.db              otherwise (XDG Base Directory spec;
 *   ~/.local/state/danekeeper/state.db                 its default, and a relative value is
 *                                                       ignored as the spec requires)
 * `env` and `uid` are parameters so this stays testable; callers pass process.env and
 * process.getuid().
 */
export function defaultStorePath(
  env: Readonly<Record<string, string | undefined>>,
  uid: number | undefined,
): string {
  const explicit = env.DANEKEEPER_STATE_DIR;
  if (explicit) return join(explicit, 'state.db');
  if (uid === 0) return '/var/lib/danekeeper/state.db';
  const xdg = env.XDG_STATE_HOME;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'danekeeper', 'state.db');
  const home = env.HOME;
  if (!home || !home.startsWith('/')) {
    throw new DkError(
      'config',
      'E_STORE_PATH',
      'Cannot place the state database: HOME is not set; set DANEKEEPER_STATE_DIR',
    );
  }
  return join(home, '.local', 'state', 'danekeeper', 'state.db');
}

/** The one order every command reads the state database's place in: --state, `[store] path`, the default. */
export function statePathFor(
  flag: string | undefined,
  config: { store: { path?: string | undefined } },
  env: Readonly<Record<string, string | undefined>>,
  uid: number | undefined,
): string {
  return flag ?? config.store.path ?? defaultStorePath(env, uid);
}
