/**
 * One query to one server, over UDP or TCP, with its own deadline. Whatever the server (or
 * anyone spoofing it) sends, the result is a decoded, matching answer or a one-line DkError.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { DkError } from '../../core/errors.js';
import type { ServerAddress } from './config.js';
import { printable, sameName } from './name.js';
import { CLASS_IN } from './types.js';
import {
  decodeHeader,
  decodeMessage,
  decodeQuestionOnly,
  type WireHeader,
  type WireMessage,
  type WireQuestion,
} from './wire.js';

export interface Expectation {
  id: number;
  name: string;
  /** RR TYPE number. */
  type: number;
  /** `mx.example.test/TLSA`, for messages. */
  what: string;
}

export interface ExchangeOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export type UdpOutcome = { truncated: false; message: WireMessage } | { truncated: true };

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

function aborted(server: ServerAddress, e: Expectation): DkError {
  return new DkError(
    'unavailable',
    'E_DNS_ABORTED',
    `Query to ${server.label} for ${e.what} was cancelled`,
  );
}

/** ECONNREFUSED and friends: the server is not there (an ICMP error on a connected UDP socket). */
function unreachable(server: ServerAddress, e: Expectation, err: unknown, how: string): DkError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
        ? 'no route to host'
        : (code ?? (err instanceof Error ? err.message : String(err)));
  return new DkError(
    'unavailable',
    'E_DNS_UNREACHABLE',
    `Cannot reach ${server.label} over ${how} for ${e.what}: ${why}`,
    { cause: err },
  );
}

/**
 * RFC 5452 §9.1 (and RFC 1035 §7.3): an answer is ours only if ID, QR, opcode and the question
 * (name case-insensitively, type, class) all match. Returns why not, or null.
 * FORMERR, NOTIMP and REFUSED may come without the question: a server that rejects the query
 * need not repeat it, and such an answer can only make us try the next server.
 */
export function mismatch(
  header: WireHeader,
  questions: WireQuestion[],
  e: Expectation,
): string | null {
  if (header.id !== e.id) return `has ID ${header.id}, not ${e.id}`;
  if (!header.qr) return 'is a query, not a response';
  if (header.opcode !== 0) return `has opcode ${header.opcode}, not QUERY`;
  if (questions.length === 0 && [1, 4, 5].includes(header.rcode)) return null;
  if (questions.length !== 1) return `has ${questions.length} questions, not 1`;
  const q = questions[0]!;
  if (!sameName(q.name, e.name) || q.type !== e.type || q.class !== CLASS_IN) {
    return `is for another question (${printable(q.name)} type ${q.type} class ${q.class})`;
  }
  return null;
}

function describe(server: ServerAddress, e: Expectation): string {
  return `Answer from ${server.label} for ${e.what}`;
}

/**
 * UDP (RFC 1035 §4.2.1). The socket is connected, so the kernel delivers only datagrams from the
 * server's address and port (we still check), and the OS picks a fresh random source port for
 * every try (RFC 5452 §9.2). Datagrams that are not a matching answer are ignored and waited past
 * (RFC 5452 §9.1, as the C library's res_send does): a spoofer must not be able to cut a query
 * short. If only such datagrams arrived, the timeout reports why they were refused.
 */
export function udpExchange(
  server: ServerAddress,
  query: Buffer,
  e: Expectation,
  o: ExchangeOptions,
): Promise<UdpOutcome> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let done = false;
    let wrongId = 0;
    let other = 0;
    /** First reason a datagram with our ID was refused: reported if nothing better comes. */
    let refused: DkError | undefined;

    const finish = (err: DkError | null, value?: UdpOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      sock.removeAllListeners('message');
      sock.on('error', () => {});
      try {
        sock.close();
      } catch {
        // already closed
      }
      if (err) reject(err);
      else resolve(value!);
    };
    const onAbort = (): void => finish(aborted(server, e));
    const timer = setTimeout(() => {
      if (refused) {
        finish(refused);
        return;
      }
      const ignored: string[] = [];
      if (wrongId > 0) ignored.push(`${plural(wrongId, 'answer')} with a wrong ID`);
      if (other > 0) ignored.push(`${plural(other, 'datagram')} from elsewhere`);
      finish(
        new DkError(
          'unavailable',
          'E_DNS_TIMEOUT',
          `No answer from ${server.label} for ${e.what} within ${fmtMs(o.timeoutMs)}` +
            (ignored.length > 0 ? ` (ignored ${ignored.join(' and ')})` : ''),
        ),
      );
    }, o.timeoutMs);
    if (o.signal?.aborted) {
      onAbort();
      return;
    }
    o.signal?.addEventListener('abort', onAbort);

    const refuse = (code: string, why: string): void => {
      refused ??= new DkError('protocol', code, `${describe(server, e)} ${why}`);
    };

    sock.on('error', (err) => finish(unreachable(server, e, err, 'UDP')));
    sock.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      if (done) return;
      let remote: { address: string; port: number };
      try {
        remote = sock.remoteAddress();
      } catch {
        return;
      }
      if (rinfo.address !== remote.address || rinfo.port !== remote.port) {
        other++;
        return;
      }
      // Not even an ID, or someone else's: noise or a spoofing attempt, never our answer.
      if (msg.length < 2 || msg.readUInt16BE(0) !== e.id) {
        wrongId++;
        return;
      }
      if (msg.length > o.maxResponseBytes) {
        refuse(
          'E_DNS_TOO_LARGE',
          `is ${msg.length} bytes, more than the limit of ${o.maxResponseBytes}`,
        );
        return;
      }
      try {
        // RFC 2181 §9: with TC=1 only the header and question matter; the rest may be cut anywhere.
        const head = decodeHeader(msg);
        const parsed = head.tc ? decodeQuestionOnly(msg) : decodeMessage(msg);
        const why = mismatch(parsed.header, parsed.questions, e);
        if (why !== null) {
          refuse('E_DNS_MISMATCH', why);
          return;
        }
        if (head.tc) finish(null, { truncated: true });
        else finish(null, { truncated: false, message: parsed as WireMessage });
      } catch (err) {
        refuse('E_DNS_MALFORMED', `is malformed: ${reason(err)}`);
      }
    });
    sock.connect(server.port, server.address, () => {
      if (done) return;
      sock.send(query, (err) => {
        if (err) finish(unreachable(server, e, err, 'UDP'));
      });
    });
  });
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * TCP (RFC 1035 §4.2.2, RFC 7766 §8): two-octet length, then the message, sent in one write. One
 * query per connection, so the answer's ID must be ours (RFC 7766 §7); anything else from the
 * server we connected to is a protocol error, not noise. The deadline covers connect and answer,
 * so a server that trickles bytes cannot hold us longer than one try.
 */
export function tcpExchange(
  server: ServerAddress,
  query: Buffer,
  e: Expectation,
  o: ExchangeOptions,
): Promise<WireMessage> {
  return new Promise((resolve, reject) => {
    let done = false;
    let chunks: Buffer[] = [];
    let have = 0;
    let want = -1;
    const sock = net.connect({ host: server.address, port: server.port });

    const finish = (err: DkError | null, value?: WireMessage): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      sock.removeAllListeners('data');
      sock.on('error', () => {});
      sock.destroy();
      chunks = [];
      if (err) reject(err);
      else resolve(value!);
    };
    const onAbort = (): void => finish(aborted(server, e));
    const timer = setTimeout(() => {
      finish(
        new DkError(
          'unavailable',
          'E_DNS_TIMEOUT',
          `No answer from ${server.label} over TCP for ${e.what} within ${fmtMs(o.timeoutMs)}` +
            (have > 0 ? ` (${have} of ${want < 0 ? '?' : want + 2} bytes received)` : ''),
        ),
      );
    }, o.timeoutMs);
    if (o.signal?.aborted) {
      onAbort();
      return;
    }
    o.signal?.addEventListener('abort', onAbort);

    const fail = (code: string, why: string): void =>
      finish(new DkError('protocol', code, `${describe(server, e)} over TCP ${why}`));

    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('error', (err) => {
      if (have > 0) fail('E_DNS_MALFORMED', `broke off after ${have} bytes (${reason(err)})`);
      else finish(unreachable(server, e, err, 'TCP'));
    });
    sock.on('close', () => {
      if (done) return;
      if (have === 0) {
        finish(
          new DkError(
            'unavailable',
            'E_DNS_UNREACHABLE',
            `${server.label} closed the TCP connection for ${e.what} without answering`,
          ),
        );
      } else {
        fail(
          'E_DNS_MALFORMED',
          `was cut short: the connection closed after ${have} of ${want < 0 ? '?' : want + 2} bytes`,
        );
      }
    });
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      chunks.push(chunk);
      have += chunk.length;
      if (want < 0 && have >= 2) {
        want = Buffer.concat(chunks).readUInt16BE(0);
        if (want > o.maxResponseBytes) {
          fail(
            'E_DNS_TOO_LARGE',
            `announces ${want} bytes, more than the limit of ${o.maxResponseBytes}`,
          );
          return;
        }
      }
      if (want < 0 || have < want + 2) return;
      // Bytes after the message are ignored: we sent one query and close the connection.
      const msg = Buffer.concat(chunks).subarray(2, 2 + want);
      let message: WireMessage;
      try {
        message = decodeMessage(msg);
      } catch (err) {
        fail('E_DNS_MALFORMED', `is malformed: ${reason(err)}`);
        return;
      }
      const why = mismatch(message.header, message.questions, e);
      if (why !== null) {
        fail('E_DNS_MISMATCH', why);
        return;
      }
      if (message.header.tc) {
        fail('E_DNS_TRUNCATED', `has TC=1: the answer does not fit even in 64 KiB`);
        return;
      }
      finish(null, message);
    });
  });
}
