/**
 * The panel's login (issue 11): password check and login rate limiting, for the web layer to
 * call. The limiter is in memory and takes the clock as a parameter (one daemon process serves
 * the panel; a restart forgetting failures costs an attacker a restart of our daemon, which
 * they cannot cause).
 */
import { needsRehash, hashPassword, verifyNoUser, verifyPassword } from './password.js';
import type { Principal } from './authz.js';

export interface LoginStore<U extends Principal> {
  user(name: string): U | null;
  passwordHash(name: string): string | null;
  setPassword(name: string, hash: string, now: Date, o?: { endSessions?: boolean }): boolean;
}

/**
 * The user when `password` is theirs, else null. An unknown name costs the same scrypt work
 * as a known one, so timing does not tell which names exist; a hash with weaker parameters
 * than the current ones is replaced now that the password is at hand (sessions kept).
 */
export async function checkPassword<U extends Principal>(
  store: LoginStore<U>,
  name: string,
  password: string,
  now: Date,
): Promise<U | null> {
  const n = name.trim().toLowerCase();
  const hash = store.passwordHash(n);
  if (hash === null) return verifyNoUser(password).then(() => null);
  if (!(await verifyPassword(password, hash))) return null;
  if (needsRehash(hash)) {
    store.setPassword(n, await hashPassword(password), now, { endSessions: false });
  }
  return store.user(n);
}

export interface LimiterOptions {
  /** failures allowed per window for one account name */
  perName: number;
  /** failures allowed per window from one client address (many names from one place) */
  perAddress: number;
  windowMs: number;
  /** keys remembered at most; the oldest go first (memory stays bounded under a flood) */
  maxKeys: number;
}

export const DEFAULT_LIMITS: LimiterOptions = {
  perName: 5,
  perAddress: 20,
  windowMs: 15 * 60_000,
  maxKeys: 10_000,
};

/**
 * Counts failed logins per account name and per client address in a sliding window. While
 * either is over its limit, `check` says how long to wait (for Retry-After, RFC 9110 §10.2.3),
 * before any password work is spent.
 */
export class LoginLimiter {
  readonly #o: LimiterOptions;
  readonly #fails = new Map<string, number[]>();

  constructor(o: Partial<LimiterOptions> = {}) {
    this.#o = { ...DEFAULT_LIMITS, ...o };
  }

  #recent(key: string, now: number): number[] {
    const list = (this.#fails.get(key) ?? []).filter((t) => now - t < this.#o.windowMs);
    if (list.length === 0) this.#fails.delete(key);
    else this.#fails.set(key, list);
    return list;
  }

  #wait(key: string, limit: number, now: number): number {
    const list = this.#recent(key, now);
    if (list.length < limit) return 0;
    // allowed again when the oldest failure that keeps it at the limit leaves the window
    return list[list.length - limit]! + this.#o.windowMs - now;
  }

  /** Milliseconds to wait before another attempt may be made; 0 when it may be made now. */
  check(name: string, address: string, now: Date): number {
    const t = now.getTime();
    return Math.max(
      this.#wait(`n:${name.trim().toLowerCase()}`, this.#o.perName, t),
      this.#wait(`a:${address}`, this.#o.perAddress, t),
    );
  }

  failed(name: string, address: string, now: Date): void {
    const t = now.getTime();
    for (const key of [`n:${name.trim().toLowerCase()}`, `a:${address}`]) {
      const list = this.#recent(key, t);
      list.push(t);
      // Map keeps insertion order: re-inserting makes this key the newest
      this.#fails.delete(key);
      this.#fails.set(key, list.slice(-Math.max(this.#o.perName, this.#o.perAddress)));
    }
    while (this.#fails.size > this.#o.maxKeys) {
      this.#fails.delete(this.#fails.keys().next().value!);
    }
  }

  /** A successful login clears the name's failures (not the address's). */
  succeeded(name: string): void {
    this.#fails.delete(`n:${name.trim().toLowerCase()}`);
  }

  get size(): number {
    return this.#fails.size;
  }
}
