/**
 * Many queries to one resolver over a few long-lived TCP connections, for runs that ask
 * thousands of questions (`check --file`).
 *
 * Why TCP and not a pool of UDP sockets: a UDP socket per query (transport.ts) is the spoofing
 * defence of RFC 5452 §9.2 (a fresh random source port each time), and its cost — a socket
 * created, connected and closed per query — was the largest CPU cost of a bulk run. Reusing a
 * few UDP sockets would save that cost by giving up port randomisation; a TCP connection gives
 * up nothing: an off-path attacker cannot inject into an established connection without its
 * sequence numbers. RFC 7766 §6.2.1 lets a client send several queries on one connection
 * without waiting (pipelining), and §6.2.1.1 / §7 require the server to handle them and allow
 * answers out of order, matched by message ID, which therefore must be unique among the queries
 * in flight on a connection. RFC 7766 §6.2.3: the server may close an idle connection at any
 * time; we then open a new one.
 *
 * Whatever goes wrong with a connection itself (refused, closed with answers owed, an answer
 * with an ID we never sent — RFC 7766 §7 makes that a connection error) fails its queries with
 * E_DNS_PIPELINE, which tells the client to ask that query again the normal way (UDP, then
 * TCP per query). A query's own outcome (timeout, a malformed or mismatching answer, too large,
 * truncated) is reported exactly as tcpExchange reports it.
 */
import net from 'node:net';
import { DkError } from '../../core/errors.js';
import type { ServerAddress } from './config.js';
import { randomId } from './query.js';
import { mismatch, type ExchangeOptions, type Expectation } from './transport.js';
import { decodeMessage, type WireMessage } from './wire.js';

export interface PipelineOptions {
  /** connections per server; default 2 */
  connections?: number;
  /** queries in flight on one connection before another is opened or joined; default 256 */
  maxInFlight?: number;
}

export interface PipelineStats {
  connectionsOpened: number;
  queries: number;
  /** queries given back to the normal path because their connection failed */
  fellBack: number;
}

interface Pending {
  e: Expectation;
  label: string;
  maxResponseBytes: number;
  resolve: (m: WireMessage) => void;
  reject: (e: DkError) => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** connections dying before their first answer, in a row, before a server is asked normally */
const MAX_STRIKES = 3;

const fmtMs = (ms: number) => (ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`);

/** The code that sends a query back to the normal path. */
export const E_DNS_PIPELINE = 'E_DNS_PIPELINE';

class Connection {
  readonly pending = new Map<number, Pending>();
  /** IDs whose asker stopped waiting (timeout, cancel): a late answer is dropped, not an error */
  private readonly abandoned = new Set<number>();
  private readonly sock: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private queue: Buffer[] = [];
  dead = false;

  /** answers received: a connection that dies before the first one counts against its server */
  answered = 0;

  constructor(private readonly server: ServerAddress) {
    this.sock = net.connect({ host: server.address, port: server.port });
    this.sock.setNoDelay(true);
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('error', (err) => this.fail(`${server.label}: ${err.message}`));
    this.sock.on('close', () => this.fail(`${server.label} closed the connection`));
    // an idle connection must not keep the process alive
    this.sock.unref();
  }

  /** A fresh ID unused on this connection (RFC 7766 §7), or null when none is found quickly. */
  freshId(): number | null {
    for (let i = 0; i < 16; i++) {
      const id = randomId();
      if (!this.pending.has(id) && !this.abandoned.has(id)) return id;
    }
    return null;
  }

  send(query: Buffer, p: Pending): void {
    if (this.pending.size === 0) this.sock.ref();
    this.pending.set(p.e.id, p);
    const framed = Buffer.allocUnsafe(query.length + 2);
    framed.writeUInt16BE(query.length, 0);
    query.copy(framed, 2);
    // Queries asked until the event loop next turns leave in one write (one system call):
    // the checks ask a burst of questions at a time, each from its own promise callback.
    this.queue.push(framed);
    if (this.queue.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const q = this.queue;
    this.queue = [];
    if (this.dead || q.length === 0) return;
    this.sock.write(q.length === 1 ? q[0]! : Buffer.concat(q));
  }

  /** The asker stopped waiting for `id`. */
  drop(id: number): void {
    if (!this.pending.delete(id)) return;
    this.abandoned.add(id);
    if (this.pending.size === 0) this.sock.unref();
  }

  close(): void {
    this.fail('the run is over');
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.signal?.removeEventListener('abort', p.onAbort!);
    if (this.pending.size === 0) this.sock.unref();
    return p;
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 2) {
      const want = this.buf.readUInt16BE(0);
      if (this.buf.length < want + 2) return;
      const msg = this.buf.subarray(2, 2 + want);
      this.buf = this.buf.subarray(2 + want);
      if (msg.length < 2) {
        this.fail(`${this.server.label} sent a ${msg.length}-byte message`);
        return;
      }
      const id = msg.readUInt16BE(0);
      if (this.abandoned.delete(id)) continue;
      const p = this.settle(id);
      if (!p) {
        // RFC 7766 §7: an answer to nothing we asked: the stream cannot be trusted any more
        this.fail(
          `${this.server.label} sent an answer with ID ${id}, which no query in flight has`,
        );
        return;
      }
      this.answered++;
      this.answer(p, msg);
    }
  }

  private answer(p: Pending, msg: Buffer): void {
    const fail = (code: string, why: string) =>
      p.reject(
        new DkError('protocol', code, `Answer from ${p.label} for ${p.e.what} over TCP ${why}`),
      );
    if (msg.length > p.maxResponseBytes) {
      fail(
        'E_DNS_TOO_LARGE',
        `is ${msg.length} bytes, more than the limit of ${p.maxResponseBytes}`,
      );
      return;
    }
    let message: WireMessage;
    try {
      message = decodeMessage(msg);
    } catch (err) {
      fail('E_DNS_MALFORMED', `is malformed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const why = mismatch(message.header, message.questions, p.e);
    if (why !== null) {
      fail('E_DNS_MISMATCH', why);
      return;
    }
    if (message.header.tc) {
      fail('E_DNS_TRUNCATED', 'has TC=1: the answer does not fit even in 64 KiB');
      return;
    }
    p.resolve(message);
  }

  /** The connection is unusable: every query still owed goes back to the normal path. */
  private fail(why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.sock.removeAllListeners('data');
    this.sock.on('error', () => {});
    this.sock.destroy();
    this.buf = Buffer.alloc(0);
    for (const id of [...this.pending.keys()]) {
      const p = this.settle(id)!;
      p.reject(
        new DkError(
          'unavailable',
          E_DNS_PIPELINE,
          `Pipelined TCP connection to ${p.label} for ${p.e.what} failed: ${why}`,
        ),
      );
    }
  }
}

/** A few pipelined TCP connections per server, opened on first use and again after a close. */
export class TcpPipeline {
  readonly stats: PipelineStats = { connectionsOpened: 0, queries: 0, fellBack: 0 };
  private readonly conns = new Map<string, Connection[]>();
  private readonly perServer: number;
  private readonly maxInFlight: number;
  /** connections to a server that died before any answer, in a row */
  private readonly strikes = new Map<string, number>();
  private closed = false;

  constructor(o: PipelineOptions = {}) {
    this.perServer = Math.max(1, o.connections ?? 2);
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 256);
  }

  /**
   * Sends `query` (its ID is replaced by one unused on the connection) and waits for its answer.
   * Rejects with E_DNS_PIPELINE when the connection, not the query, failed: ask again normally.
   */
  exchange(
    server: ServerAddress,
    query: Buffer,
    e: Expectation,
    o: ExchangeOptions,
  ): Promise<WireMessage> {
    const label = server.label;
    if (o.signal?.aborted) {
      return Promise.reject(
        new DkError(
          'unavailable',
          'E_DNS_ABORTED',
          `Query to ${label} for ${e.what} was cancelled`,
        ),
      );
    }
    const conn = this.closed ? null : this.pick(server);
    const id = conn?.freshId() ?? null;
    if (!conn || id === null) {
      this.stats.fellBack++;
      return Promise.reject(
        new DkError('unavailable', E_DNS_PIPELINE, `No pipelined connection to ${label}`),
      );
    }
    this.stats.queries++;
    const q = Buffer.from(query);
    q.writeUInt16BE(id, 0);
    const expect: Expectation = { ...e, id };
    return new Promise<WireMessage>((resolve, reject) => {
      const p: Pending = {
        e: expect,
        label,
        maxResponseBytes: o.maxResponseBytes,
        resolve,
        reject: (err) => {
          if (err.code === E_DNS_PIPELINE) this.stats.fellBack++;
          reject(err);
        },
        timer: setTimeout(() => {
          conn.drop(id);
          p.signal?.removeEventListener('abort', p.onAbort!);
          // worded as the UDP path words it: a bulk report says what `check DOMAIN` would
          reject(
            new DkError(
              'unavailable',
              'E_DNS_TIMEOUT',
              `No answer from ${label} for ${e.what} within ${fmtMs(o.timeoutMs)}`,
            ),
          );
        }, o.timeoutMs),
        signal: o.signal,
        onAbort: undefined,
      };
      p.onAbort = () => {
        clearTimeout(p.timer);
        conn.drop(id);
        reject(
          new DkError(
            'unavailable',
            'E_DNS_ABORTED',
            `Query to ${label} for ${e.what} was cancelled`,
          ),
        );
      };
      o.signal?.addEventListener('abort', p.onAbort, { once: true });
      conn.send(q, p);
    });
  }

  /** Closes every connection; queries still in flight go back to the normal path. */
  close(): void {
    this.closed = true;
    for (const list of this.conns.values()) for (const c of list) c.close();
    this.conns.clear();
  }

  /**
   * The least busy live connection; a new one while fewer than `connections` are open and the
   * others are full. null when connections to this server keep failing before any answer
   * (a resolver without TCP): its queries then go the normal way at once.
   */
  private pick(server: ServerAddress): Connection | null {
    const key = `${server.address}|${server.port}`;
    const all = this.conns.get(key) ?? [];
    const list: Connection[] = [];
    for (const c of all) {
      if (!c.dead) list.push(c);
      else if (c.answered === 0) this.strikes.set(key, (this.strikes.get(key) ?? 0) + 1);
      else this.strikes.delete(key);
    }
    this.conns.set(key, list);
    if ((this.strikes.get(key) ?? 0) >= MAX_STRIKES) return null;
    let best: Connection | undefined;
    for (const c of list) if (!best || c.pending.size < best.pending.size) best = c;
    if (best && (best.pending.size < this.maxInFlight || list.length >= this.perServer))
      return best;
    const c = new Connection(server);
    this.stats.connectionsOpened++;
    list.push(c);
    return c;
  }
}
