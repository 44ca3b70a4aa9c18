/**
 * The plaintext side of a STARTTLS dialogue: a reader over a socket that enforces a line
 * length limit, a total byte limit and a per-step timeout, and records a transcript.
 * Hostile or broken servers end here with one-line DkErrors, never a hang.
 */
import type { Socket } from 'node:net';
import { DkError } from '../../core/errors.js';
import { printable } from './types.js';

export interface WireOptions {
  /** How messages name the peer: `mail.example.test:25 (192.0.2.1)` or `192.0.2.1:25`. */
  label: string;
  maxLineBytes: number;
  maxBytes: number;
  readTimeoutMs: number;
  log: (dir: 'C' | 'S' | '*', line: string) => void;
  signal?: AbortSignal;
}

/** `10 s`, `1.5 s`, `200 ms`. */
export function formatDuration(ms: number): string {
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${ms} ms`;
}

export class Wire {
  readonly label: string;
  private buf: Buffer = Buffer.alloc(0);
  private received = 0;
  private failure: DkError | undefined;
  private ended = false;
  private reset = false;
  private wake: (() => void) | undefined;
  /** What the current step waits for, for messages: `greeting`, `reply to STARTTLS`. */
  private what = 'reply';
  private released = false;

  constructor(
    private readonly sock: Socket,
    private readonly o: WireOptions,
  ) {
    this.label = o.label;
    sock.on('data', this.onData);
    sock.on('end', this.onEnd);
    sock.on('close', this.onEnd);
    sock.on('error', this.onError);
    o.signal?.addEventListener('abort', this.onAbort);
    if (o.signal?.aborted) this.onAbort();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.received += chunk.length;
    if (this.received > this.o.maxBytes) {
      this.sock.pause();
      this.fail(
        new DkError(
          'protocol',
          'probe-too-much-data',
          `${this.label} sent more than ${this.o.maxBytes} bytes before TLS`,
        ),
      );
      return;
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.notify();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.notify();
  };

  private readonly onError = (): void => {
    // ECONNRESET and friends: reported as a close in the step that was waiting.
    this.reset = true;
    this.ended = true;
    this.notify();
  };

  private readonly onAbort = (): void => {
    const reason: unknown = this.o.signal?.reason;
    this.fail(
      reason instanceof DkError
        ? reason
        : new DkError('unavailable', 'probe-aborted', `Probing ${this.label} was aborted`),
    );
  };

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Fails the wire: the waiting read and every later one throw `e`. Returns `e`. */
  fail(e: DkError): DkError {
    this.failure ??= e;
    this.notify();
    return this.failure;
  }

  /** Runs one read step (one reply) under the per-step timeout. */
  async step<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.what = what;
    const timer = setTimeout(() => {
      this.fail(
        new DkError(
          'unavailable',
          'probe-timeout',
          `${this.label} sent no ${what} within ${formatDuration(this.o.readTimeoutMs)}`,
        ),
      );
    }, this.o.readTimeoutMs);
    try {
      return await fn();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for more data; throws when the wire failed or the peer closed. */
  private async more(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.ended) {
      const how = this.reset ? 'reset' : 'closed';
      throw this.fail(
        new DkError(
          'protocol',
          'probe-closed',
          this.received === 0 && this.what === 'greeting'
            ? `${this.label} ${how} the connection without sending a greeting`
            : `${this.label} ${how} the connection instead of sending the ${this.what}`,
        ),
      );
    }
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    if (this.failure) throw this.failure;
  }

  /** One line without its CRLF (a bare LF is accepted too), decoded as UTF-8. */
  async readLine(): Promise<string> {
    for (;;) {
      if (this.failure) throw this.failure;
      const nl = this.buf.indexOf(10);
      const len = nl < 0 ? this.buf.length : nl > 0 && this.buf[nl - 1] === 13 ? nl - 1 : nl;
      if (len > this.o.maxLineBytes) {
        throw this.fail(
          new DkError(
            'protocol',
            'probe-line-too-long',
            `${this.label} sent a line longer than ${this.o.maxLineBytes} bytes in the ${this.what}`,
          ),
        );
      }
      if (nl >= 0) {
        const line = this.buf.subarray(0, len).toString('utf8');
        this.buf = this.buf.subarray(nl + 1);
        this.o.log('S', line);
        return line;
      }
      await this.more();
    }
  }

  /** Exactly `n` bytes (binary protocols; the caller logs them). */
  async readBytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.more();
    if (this.failure) throw this.failure;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Text up to and including the first match of `re` (XMPP's XML has no lines). */
  async readUntil(re: RegExp): Promise<string> {
    for (;;) {
      if (this.failure) throw this.failure;
      const text = this.buf.toString('utf8');
      const m = re.exec(text);
      if (m) {
        const taken = text.slice(0, m.index + m[0].length);
        this.buf = this.buf.subarray(Buffer.byteLength(taken, 'utf8'));
        this.o.log('S', taken);
        return taken;
      }
      await this.more();
    }
  }

  /** Sends `data`; the transcript shows `shown`, or the text without its line ending. */
  write(data: string | Buffer, shown?: string): void {
    if (this.failure) throw this.failure;
    this.o.log('C', shown ?? (typeof data === 'string' ? data.replace(/\r?\n$/, '') : '<binary>'));
    this.sock.write(data);
  }

  /** A transcript line for what was read in binary or a remark (`*`). */
  note(line: string, dir: 'S' | '*' = '*'): void {
    this.o.log(dir, line);
  }

  /** Stops reading (the socket is handed to TLS) and returns unread bytes. */
  release(): Buffer {
    if (!this.released) {
      this.released = true;
      // Pause first: a flowing stream with no 'data' listener would drop bytes.
      this.sock.pause();
      this.sock.off('data', this.onData);
      this.sock.off('end', this.onEnd);
      this.sock.off('close', this.onEnd);
      this.sock.off('error', this.onError);
      this.o.signal?.removeEventListener('abort', this.onAbort);
    }
    return this.buf;
  }

  /** Server text made safe for a message. */
  static show(s: string): string {
    return printable(s.trim());
  }
}
