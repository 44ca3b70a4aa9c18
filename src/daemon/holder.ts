/**
 * Who holds a domain's lease (src/daemon/pass.ts): `host:pid`. A holder on this host whose
 * process no longer exists (kill -9, a crash) is certainly gone, so its lease can be taken over
 * at once rather than after it expires; the pass persisted its intent before each side effect.
 */
import { hostname } from 'node:os';

export const processHolder = (): string => `${hostname()}:${process.pid}`;

export function holderGone(h: string): boolean {
  const m = /^(.*):([0-9]+)$/.exec(h);
  if (!m || m[1] !== hostname()) return false;
  try {
    process.kill(Number(m[2]), 0);
    return false;
  } catch (e) {
    // EPERM: it exists, under another user
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
