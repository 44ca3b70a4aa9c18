/**
 * One DNS message over TCP (RFC 1035 §4.2.2, RFC 7766 §8): a two-octet length, the message in
 * one write, one answer back. Updates go over TCP because an UPDATE carrying a whole TLSA set
 * and a TSIG RR may not fit a UDP datagram, and a lost UDP answer would leave us not knowing
 * whether the update was applied. The deadline covers connect and answer.
 */
import net from 'node:net';
import { netErrorReason } from '../../io/net-errors.js';

export class ExchangeError extends Error {
  constructor(
    /** unreachable: refused, timed out, closed before answering; protocol: a broken answer */
    readonly kind: 'unreachable' | 'protocol',
    readonly why: string,
  ) {
    super(why);
  }
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`;
}

export function tcpMessage(
  host: string,
  port: number,
  message: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let done = false;
    let chunks: Buffer[] = [];
    let have = 0;
    let want = -1;
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    const finish = (err: ExchangeError | null, value?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.removeAllListeners('data');
      sock.on('error', () => {});
      sock.destroy();
      chunks = [];
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () => finish(new ExchangeError('unreachable', `no answer within ${fmtMs(timeoutMs)}`)),
      timeoutMs,
    );
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(message.length);
      sock.write(Buffer.concat([len, message]));
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (have > 0)
        finish(new ExchangeError('protocol', `the answer broke off after ${have} bytes`));
      else finish(new ExchangeError('unreachable', netErrorReason(err)));
    });
    sock.on('close', () => {
      if (have === 0)
        finish(
          new ExchangeError('unreachable', 'the server closed the connection without answering'),
        );
      else finish(new ExchangeError('protocol', `the answer was cut short after ${have} bytes`));
    });
    sock.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      if (want < 0 && have >= 2) want = Buffer.concat(chunks).readUInt16BE(0);
      if (want < 0 || have < want + 2) return;
      finish(null, Buffer.from(Buffer.concat(chunks).subarray(2, 2 + want)));
    });
  });
}
