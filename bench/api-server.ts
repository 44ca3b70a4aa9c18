/**
 * Stand-in for `danekeeper serve` while serve does not host the API and the panel yet: the
 * same pieces serve wires (the JSON API at /api, the panel at /, the listener of
 * src/web/listen.ts, status from src/daemon/status.ts on the world `run` builds from the INI
 * file) in a process of its own, on 127.0.0.1 with a port the kernel picks. No keep-secured
 * or monitor pass runs here, which serve would add. Prints `{"listening": "HOST:PORT"}` on
 * stdout, then serves until SIGTERM.
 *
 *   node --import tsx bench/api-server.ts CONFIG STATE
 */
import { Hono } from 'hono';
import type { Io } from '../src/cli/io.js';
import { processRunDeps } from '../src/cli/run.js';
import { loadConfig } from '../src/config/config.js';
import { DkError } from '../src/core/errors.js';
import { withStoredSettings } from '../src/daemon/settings.js';
import { domainStatus } from '../src/daemon/status.js';
import { openState } from '../src/store/state.js';
import { openUsersStore } from '../src/store/users.js';
import { apiRoutes, routeCaller } from '../src/web/api/api.js';
import type { ApiServices } from '../src/web/api/handlers.js';
import { storedSettings } from '../src/web/api/settings.js';
import { listen } from '../src/web/listen.js';
import { panelRoutes } from '../src/web/panel/panel.js';

const [configPath, statePath] = process.argv.slice(2);
if (!configPath || !statePath) {
  // scripts/bench.sh runs every bench/*.ts without arguments: this one is bench/api.ts's helper
  console.log('bench/api-server.ts: the stand-in server of bench/api.ts');
  process.exit(0);
}

const config = withStoredSettings(loadConfig(configPath, {}), statePath);
const state = openState(statePath);
const users = openUsersStore(statePath);
const quiet: Io = { out: () => {}, err: () => {}, verbose: () => {}, withVerbose: () => quiet };
const now = () => new Date();
const world = await processRunDeps().world({
  config,
  flags: { config: configPath, state: statePath },
  store: state,
  statePath,
  io: quiet,
  now,
});
// the routes the bench does not call answer plainly instead of reaching out
const notHere = (what: string) => () =>
  Promise.reject(new DkError('unavailable', 'E_BENCH', `${what} is not wired in the bench server`));
const services: ApiServices = {
  state,
  settings: storedSettings(users, () => config),
  now,
  certDir: (d) => `/var/lib/danekeeper/live/${d}`,
  zoneCheck: notHere('zoneCheck') as unknown as ApiServices['zoneCheck'],
  mxAmongNames: notHere('mxAmongNames'),
  status: (d) => domainStatus(state, world, d, now()),
  check: notHere('check'),
  dnssec: notHere('dnssec'),
  prereq: notHere('prereq'),
  renew: notHere('renew'),
  dns: { publisher: notHere('the DNS backend'), removeGuard: () => undefined },
};
const logger = { error: (d: Record<string, unknown>, m: string) => console.error(m, d) };
const app = new Hono();
app.route('/api', apiRoutes({ ...services, users, logger }));
app.route(
  '/',
  panelRoutes({
    users,
    call: routeCaller({ ...services, users }),
    state,
    now,
    status: services.status,
    secure: false,
  }),
);
const server = await listen(app, '127.0.0.1', 0);
process.stdout.write(`${JSON.stringify({ listening: server.address })}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => {
    users.close();
    state.close();
    process.exit(0);
  });
});
