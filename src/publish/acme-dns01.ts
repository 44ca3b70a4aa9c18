/**
 * ACME DNS-01 (RFC 8555 §8.4) through the configured publishing backend: the TXT record
 * `_acme-challenge.NAME` holds base64url(SHA-256(key authorization)); it is published with
 * txt-set's guard and ownership rules, the CA is told only once EVERY authoritative server of
 * the zone, asked directly (RD=0), serves it — a CA validates from several vantage points and
 * may reach any of them — and the values are removed afterwards.
 *
 * With `store` (the state database) ownership survives a crash: what prepare() publishes is
 * recorded before it is sent, cleanup() forgets it, and a later solver's prepare() first
 * removes what an earlier run at the same names published and never cleaned up.
 */
import { createHash, randomInt } from 'node:crypto';
import { DkError } from '../core/errors.js';
import { findAuthoritativeServers, type DiscoverOptions } from '../io/dns/authoritative.js';
import type { Resolver } from '../io/dns/types.js';
import { decodeMessage } from '../io/dns/wire.js';
import type { ChallengeItem, ChallengeSolver } from '../io/acme/solver.js';
import { tcpMessage } from './rfc2136/exchange.js';
import { CLASS_IN, encodeMessage, OPCODE_QUERY, TYPE_TXT } from './rfc2136/message.js';
import { decodeTxtRdata } from './txt-rdata.js';
import {
  addTxt,
  removeLeftoverTxt,
  removeTxt,
  type TxtOwnership,
  type TxtSetOptions,
  type TxtSetResult,
} from './txt-set.js';
import type { Publisher } from './types.js';

/** RFC 8555 §8.4: the TXT value for a key authorization. */
export function dns01Value(keyAuthorization: string): string {
  return createHash('sha256').update(keyAuthorization).digest('base64url');
}

/** `_acme-challenge.NAME.` for an identifier (a wildcard's `*.` is not part of it, §8.4). */
export function dns01Owner(name: string): string {
  const n = name.replace(/^\*\./, '').toLowerCase().replace(/\.$/, '');
  return `_acme-challenge.${n}.`;
}

export interface ServerTxt {
  address: string;
  host: string;
  state: 'serves' | 'missing' | 'unreachable' | 'lame';
  why?: string;
}

/** Asks one server directly (RD=0, TCP) for the TXT RRset at `owner`. */
async function txtAt(
  address: string,
  port: number,
  owner: string,
  timeoutMs: number,
): Promise<{ values: string[] } | { state: 'unreachable' | 'lame'; why: string }> {
  const id = randomInt(0, 65536);
  let raw: Buffer;
  try {
    raw = await tcpMessage(
      address,
      port,
      encodeMessage({
        id,
        opcode: OPCODE_QUERY,
        rd: false,
        question: { name: owner, type: TYPE_TXT, class: CLASS_IN },
      }),
      timeoutMs,
    );
  } catch (e) {
    return { state: 'unreachable', why: (e as Error).message };
  }
  try {
    const m = decodeMessage(raw);
    if (m.header.id !== id) return { state: 'unreachable', why: 'answer for another query' };
    if (!m.header.aa || (m.rcode !== 0 && m.rcode !== 3))
      return { state: 'lame', why: `not authoritative (rcode ${m.rcode})` };
    const o = owner.toLowerCase();
    const values = m.answers
      .filter(
        (r) =>
          r.type === TYPE_TXT &&
          r.class === CLASS_IN &&
          `${r.name.toLowerCase().replace(/\.$/, '')}.` === o,
      )
      .map((r) => decodeTxtRdata(r.rdata));
    return { values };
  } catch (e) {
    return { state: 'unreachable', why: `malformed answer: ${(e as Error).message}` };
  }
}

export interface TxtPropagationOptions extends DiscoverOptions {
  zone: string;
  resolver: Resolver;
  /** owner -> values every server must serve */
  want: Map<string, string[]>;
}

/** One look at every authoritative server (NS RRset and delegation, as `dns propagation`). */
export async function txtPropagation(o: TxtPropagationOptions): Promise<ServerTxt[]> {
  const auth = await findAuthoritativeServers(o.zone, o.resolver, o);
  const out: ServerTxt[] = [];
  for (const h of auth.hosts) {
    if (h.addresses.length === 0) {
      out.push({ address: '-', host: h.name, state: 'unreachable', why: h.why ?? 'no address' });
      continue;
    }
    for (const a of h.addresses) {
      let state: ServerTxt['state'] = 'serves';
      let why: string | undefined;
      for (const [owner, values] of o.want) {
        const r = await txtAt(a.address, o.port ?? 53, owner, o.timeoutMs ?? 2000);
        if ('state' in r) {
          state = r.state;
          why = r.why;
          break;
        }
        const lacking = values.filter((v) => !r.values.includes(v));
        if (lacking.length > 0) {
          state = 'missing';
          why = `${owner} lacks ${lacking.length} of ${values.length} value(s)`;
          break;
        }
      }
      out.push({ address: a.address, host: h.name, state, ...(why !== undefined ? { why } : {}) });
    }
  }
  if (out.length === 0) {
    throw new DkError(
      'config',
      'E_ACME_DNS01_NO_SERVERS',
      `Cannot find the authoritative servers of ${o.zone}`,
    );
  }
  return out;
}

export interface Dns01Options extends TxtSetOptions, DiscoverOptions {
  publisher: Publisher;
  /**
   * The state database's TXT ownership. Give it (the automatic path must): without it a crash
   * between prepare() and cleanup() leaves the values published for good. The caller holds
   * the lease of the domain whose names are validated: prepare() removes every recorded
   * value at those names' `_acme-challenge` owners, whatever its age.
   */
  store?: TxtOwnership;
  /** finds the zone's servers (NS, delegation, addresses) */
  resolver: Resolver;
  /** how long to wait until every server serves the values; default 120 s */
  propagationTimeoutMs?: number;
  /** between looks; default 1 s */
  intervalMs?: number;
  /** called after each look, for progress output */
  onLook?: (servers: ServerTxt[]) => void;
}

export class Dns01Solver implements ChallengeSolver {
  readonly type = 'dns-01';
  /** owner -> values this solver added (and so may remove) */
  private readonly added = new Map<string, string[]>();
  /** the last look at the servers, for the caller's report */
  lastLook: ServerTxt[] = [];
  /** what prepare() removed that an earlier run left behind, for the caller's events */
  leftovers: TxtSetResult[] = [];

  constructor(private readonly o: Dns01Options) {}

  async prepare(items: ChallengeItem[]): Promise<void> {
    const want = new Map<string, string[]>();
    for (const it of items) {
      const owner = dns01Owner(it.name);
      want.set(owner, [...(want.get(owner) ?? []), dns01Value(it.keyAuthorization)]);
    }
    const set: TxtSetOptions = {
      ...(this.o.ttl !== undefined ? { ttl: this.o.ttl } : {}),
      ...this.common(),
    };
    if (this.o.store) {
      const swept = await removeLeftoverTxt(this.o.publisher, {
        ...this.common(),
        store: this.o.store,
        owners: [...want.keys()],
        minAgeMs: 0,
      });
      this.leftovers = swept.filter((r) => r.removed.length > 0);
    }
    for (const [owner, values] of want) {
      const r = await addTxt(this.o.publisher, owner, values, set);
      if (r.added.length > 0) this.added.set(owner, [...(this.added.get(owner) ?? []), ...r.added]);
    }
    const sleep = this.o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const deadline = Date.now() + (this.o.propagationTimeoutMs ?? 120_000);
    for (;;) {
      this.lastLook = await txtPropagation({ ...this.o, zone: this.o.publisher.zone, want });
      this.o.onLook?.(this.lastLook);
      if (this.lastLook.every((s) => s.state === 'serves')) return;
      if (Date.now() >= deadline) {
        const behind = this.lastLook.filter((s) => s.state !== 'serves');
        throw new DkError(
          'tempfail',
          'E_ACME_DNS01_PROPAGATION',
          `The DNS-01 TXT records did not reach every authoritative server of ${this.o.publisher.zone} in time: ${behind.map((s) => `${s.host} (${s.address}) ${s.state}`).join(', ')}`,
        );
      }
      await sleep(this.o.intervalMs ?? 1000);
    }
  }

  async cleanup(): Promise<void> {
    for (const [owner, values] of [...this.added]) {
      await removeTxt(this.o.publisher, owner, values, this.common());
      this.added.delete(owner);
    }
  }

  /** tries, sleep, store and now, as given */
  private common(): TxtSetOptions {
    return {
      ...(this.o.tries !== undefined ? { tries: this.o.tries } : {}),
      ...(this.o.sleep !== undefined ? { sleep: this.o.sleep } : {}),
      ...(this.o.store !== undefined ? { store: this.o.store } : {}),
      ...(this.o.now !== undefined ? { now: this.o.now } : {}),
    };
  }
}
