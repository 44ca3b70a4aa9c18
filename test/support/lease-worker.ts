/**
 * A keep-secured pass stand-in for the lease tests (src/store/state.test.ts), run as its own
 * process: `node --import tsx lease-worker.ts DB HOLDER MODE ...`.
 *   race N START_MS: from START_MS on, N times: take the lease of `lease.test` (ttl 10 s), log
 *     `enter`, hold it a few ms, log `leave`, release. Prints how many times it held it.
 *   hold TTL_MS: takes the lease with that ttl, prints `held`, then sleeps until killed.
 */
import { openState } from '../../src/store/state.js';

const [path, holder, mode, a, b] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const s = openState(path);
const DOMAIN = 'lease.test';

if (mode === 'race') {
  const n = Number(a);
  const wait = Number(b) - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  let held = 0;
  for (let tries = 0; held < n && tries < 200_000; tries++) {
    if (!s.rollover.acquireLease(DOMAIN, holder, 10_000)) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    s.events.append(DOMAIN, 'enter', holder);
    // hold it a moment: long enough for the others to try, and fail, to take it
    const until = Date.now() + 2;
    while (Date.now() < until);
    s.events.append(DOMAIN, 'leave', holder);
    if (!s.rollover.releaseLease(DOMAIN, holder)) throw new Error('lost the lease');
    held++;
  }
  process.stdout.write(`${held}\n`);
  s.close();
} else if (mode === 'hold') {
  const got = s.rollover.acquireLease(DOMAIN, holder, Number(a));
  process.stdout.write(got ? 'held\n' : 'busy\n');
  setInterval(() => {}, 1 << 30);
}
