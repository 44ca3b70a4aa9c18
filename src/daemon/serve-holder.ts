/**
 * Which process runs `danekeeper serve` on a state database, if any: the holder name the serve
 * lock writes beside it (src/daemon/lock.ts), when that process is still alive. `renew` uses it
 * to tell a lease held by serve (which reads the renew_requests table at every pass, so a
 * request can be queued for it) from one held by a `run` (which does not).
 */
import { readFileSync } from 'node:fs';
import { holderGone } from './holder.js';

export function runningServe(statePath: string): string | null {
  let holder: string;
  try {
    holder = readFileSync(`${statePath}.serve-holder`, 'utf8').trim();
  } catch {
    return null;
  }
  // a serve killed with -9 leaves the file behind; its process is gone
  return holder !== '' && !holderGone(holder) ? holder : null;
}
