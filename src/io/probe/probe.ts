/**
 * Dial a server, speak its STARTTLS dialogue, do the TLS handshake and return the certificate
 * chain exactly as the server presented it. No verification happens here: the handshake
 * accepts any chain, and the caller decides (DANE, PKIX) from what was presented.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { DkError } from '../../core/errors.js';
import { chainFromIssuerLinks } from './issuer-links.js';
import { presentedChain } from './presented.js';
import { negotiateStarttls, quitCommand } from './starttls.js';
import {
  parseStarttlsProto,
  printable,
  type ProbeOptions,
  type ProbeResult,
  type StarttlsProto,
} from './types.js';
import { formatDuration, Wire } from './wire.js';
import { netErrorCode, netErrorReason } from '../net-errors.js';

/**
 * The only trust anchor of the probe's TLS context: a self-signed certificate whose key was
 * thrown away when it was made, so it issues nothing. With `ca` unset, Node would trust its
 * bundled roots and append any of them that issued the last certificate sent to
 * `getPeerCertificate(true)`, although the server never sent it.
 */
const PLACEHOLDER_CA = `-----BEGIN CERTIFICATE-----
MIIB5DCCAYmgAwIBAgIUYpzQjK5viP15bkQxPT+P3hWTqRQwCgYIKoZIzj0EAwIw
RjFEMEIGA1UEAww7ZGFuZWtlZXBlciBwbGFjZWhvbGRlciB0cnVzdCBhbmNob3Ig
KGl0cyBrZXkgd2FzIGRpc2NhcmRlZCkwIBcNMjYxMTIyMTgyMjI0WhgPMjEyNjEw
MjkxODIyMjRaMEYxRDBCBgNVBAMMO2RhbmVrZWVwZXIgcGxhY2Vob2xkZXIgdHJ1
c3QgYW5jaG9yIChpdHMga2V5IHdhcyBkaXNjYXJkZWQpMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAE5gaPsp/KSYIBRj8b4C0qIt2QhcgxdgZ42FGVS0Pg5Z8wDFvV
CQYHv9TOWmfx9NfrHI8bGJTCuNq+BQzaoCjGOaNTMFEwHQYDVR0OBBYEFI56TO+2
Tcm8TQFKqfHp0IMMP//AMB8GA1UdIwQYMBaAFI56TO+2Tcm8TQFKqfHp0IMMP//A
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAMP21JM/eHBV/gUR
FWo+iLKDhWH/LZ9GKzarO1goyEvzAiEAkwwdsXxoWX6cvWa7hQEM5eI1ikApBzK3
f03yItKo6M4=
-----END CERTIFICATE-----
`;

let context: tls.SecureContext | undefined;

/**
 * The probe's TLS context, made once per process on first use: building one parses the CA
 * and sets up an OpenSSL SSL_CTX, about 0.5 ms CPU, 6% of `check --file`'s CPU when done
 * per connection. Sharing it changes nothing a server sees or the probe reports: the trust
 * store is still the placeholder alone, and Node's contexts keep no client session cache of
 * their own (SSL_SESS_CACHE_NO_INTERNAL), so no handshake is resumed and every server sends
 * its Certificate message (RFC 8446 §4.4.2 / RFC 5246 §7.4.2: a resumed handshake has none).
 */
function probeContext(): tls.SecureContext {
  context ??= tls.createSecureContext({
    ca: [PLACEHOLDER_CA],
    // A probe must see the chain of old servers too: RFC 7672 §8.1 has SMTP clients accept
    // any TLS rather than none, so do not refuse a handshake a DANE MTA would complete.
    minVersion: 'TLSv1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
  });
  return context;
}

export const PROBE_DEFAULTS = {
  /** RFC 2606: a name that is honest about being no one's. */
  ehloName: 'danekeeper.invalid',
  connectTimeoutMs: 10_000,
  readTimeoutMs: 15_000,
  totalTimeoutMs: 60_000,
  maxLineBytes: 4096,
  maxBytes: 64 * 1024,
} as const;

/** Server bytes kept for reading the Certificate message; real handshakes are far smaller. */
const CAPTURE_LIMIT = 1024 * 1024;
/** How long a polite QUIT may take to leave before the socket is destroyed. */
const QUIT_GRACE_MS = 1000;

interface Normalized {
  host: string;
  port: number;
  address: string | undefined;
  starttls: StarttlsProto;
  servername: string | undefined;
  ehloName: string;
  xmppDomain: string;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  totalTimeoutMs: number;
  maxLineBytes: number;
  maxBytes: number;
}

function usage(message: string): DkError {
  return new DkError('usage', 'probe-bad-option', message);
}

function unbracket(s: string): string {
  const t = s.trim();
  return t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t;
}

/** `192.0.2.1:25`, `[2001:db8::1]:25`, `mail.example:25`. */
function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw usage(`${name} must be a positive number, not ${v}`);
  return v;
}

function normalize(opts: ProbeOptions): Normalized {
  const host = unbracket(String(opts.host ?? ''));
  if (host === '') throw usage('No host to probe');
  const port = opts.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw usage(`Port ${printable(String(port), 20)} is not a number from 1 to 65535`);
  const starttls = parseStarttlsProto(String(opts.starttls));
  const address = opts.address === undefined ? undefined : unbracket(opts.address);
  if (address !== undefined && net.isIP(address) === 0)
    throw usage(`Address "${printable(address, 60)}" is not an IPv4 or IPv6 address`);
  // RFC 6066 §3: SNI carries a host name without the trailing dot, never an IP literal.
  let servername = opts.servername ?? (net.isIP(host) === 0 ? host : undefined);
  servername = servername?.replace(/\.$/, '');
  if (servername !== undefined && (servername === '' || net.isIP(servername) !== 0))
    servername = undefined;
  if (servername !== undefined && !/^[A-Za-z0-9._-]+$/.test(servername))
    throw usage(`Server name "${printable(servername, 60)}" is not a host name`);
  const ehloName = opts.ehloName ?? PROBE_DEFAULTS.ehloName;
  // Anything else could smuggle a second command into the dialogue.
  if (!/^[\x21-\x7e]{1,255}$/.test(ehloName))
    throw usage(`EHLO name "${printable(ehloName, 60)}" is not a domain or address literal`);
  const xmppDomain = servername ?? host.replace(/\.$/, '');
  if (!/^[A-Za-z0-9._:-]+$/.test(xmppDomain))
    throw usage(`XMPP domain "${printable(xmppDomain, 60)}" is not a domain`);
  return {
    host,
    port,
    address,
    starttls,
    servername,
    ehloName,
    xmppDomain,
    connectTimeoutMs: positive(
      'connectTimeoutMs',
      opts.connectTimeoutMs,
      PROBE_DEFAULTS.connectTimeoutMs,
    ),
    readTimeoutMs: positive('readTimeoutMs', opts.readTimeoutMs, PROBE_DEFAULTS.readTimeoutMs),
    totalTimeoutMs: positive('totalTimeoutMs', opts.totalTimeoutMs, PROBE_DEFAULTS.totalTimeoutMs),
    maxLineBytes: positive('maxLineBytes', opts.maxLineBytes, PROBE_DEFAULTS.maxLineBytes),
    maxBytes: positive('maxBytes', opts.maxBytes, PROBE_DEFAULTS.maxBytes),
  };
}

function connect(o: Normalized, label: string, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: o.address ?? o.host, port: o.port, noDelay: true });
    // Errors are reported through the step that is waiting; never let one go unhandled.
    sock.on('error', () => {});
    let done = false;
    const finish = (err?: DkError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.off('connect', onConnect);
      sock.off('error', onError);
      if (err) {
        sock.destroy();
        reject(err);
      } else resolve(sock);
    };
    const onConnect = (): void => finish();
    const onError = (e: Error): void => {
      const why = printable(netErrorReason(e));
      finish(
        new DkError('unavailable', 'probe-connect', `Connecting to ${label} failed: ${why}`, {
          cause: e,
        }),
      );
    };
    const onAbort = (): void => finish(signal.reason as DkError);
    const timer = setTimeout(
      () =>
        finish(
          new DkError(
            'unavailable',
            'probe-connect-timeout',
            `Connecting to ${label} timed out after ${formatDuration(o.connectTimeoutMs)}`,
          ),
        ),
      o.connectTimeoutMs,
    );
    sock.once('connect', onConnect);
    sock.once('error', onError);
    signal.addEventListener('abort', onAbort);
  });
}

/**
 * Hands bytes between the TCP socket and TLS, keeping a copy of what the server sends until
 * the handshake is done: the Certificate message is read from that copy.
 *
 * Why not hand TLS the socket itself (cheaper: no JS stream between them, about 0.3 ms CPU
 * per connection measured): Node's TLS then reads the socket natively and no JS code ever
 * sees the server's bytes, and nothing else yields the chain as sent (RFC 7671 §5.2.2,
 * presented.ts). Writes come one buffer at a time, so a `_writev` would save nothing.
 */
class Tap extends Duplex {
  readonly captured: Buffer[] = [];
  private capturedBytes = 0;
  capturing = true;

  constructor(private readonly sock: net.Socket) {
    super();
    sock.on('data', (chunk: Buffer) => {
      if (this.capturing && this.capturedBytes < CAPTURE_LIMIT) {
        this.captured.push(chunk);
        this.capturedBytes += chunk.length;
      }
      if (!this.push(chunk)) sock.pause();
    });
    sock.on('end', () => this.push(null));
    sock.on('close', () => this.destroy());
  }

  override _read(): void {
    this.sock.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sock.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sock.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.sock.destroy();
    cb(err);
  }
}

/** OpenSSL's reason ("wrong version number"), else the code or message. */
function tlsReason(e: unknown): string {
  const reason = (e as { reason?: unknown }).reason;
  if (typeof reason === 'string' && reason !== '') return printable(reason);
  const code = netErrorCode(e);
  if (code === 'ECONNRESET') return 'the connection closed before the handshake completed';
  if (e instanceof Error) return printable(e.message.split('\n', 1)[0] ?? '');
  return 'unknown error';
}

function handshake(
  tap: Tap,
  o: Normalized,
  label: string,
  signal: AbortSignal,
  keylog: Buffer[],
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      socket: tap,
      servername: o.servername,
      // Verification is the caller's business (DANE or PKIX), made on the presented chain.
      rejectUnauthorized: false,
      secureContext: probeContext(),
    });
    s.on('error', () => {});
    s.on('keylog', (line: Buffer) => keylog.push(line));
    let done = false;
    const finish = (err?: DkError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err) {
        s.destroy();
        reject(err);
      } else resolve(s);
    };
    const onAbort = (): void => finish(signal.reason as DkError);
    const timer = setTimeout(
      () =>
        finish(
          new DkError(
            'unavailable',
            'probe-timeout',
            `TLS handshake with ${label} did not complete within ${formatDuration(o.readTimeoutMs)}`,
          ),
        ),
      o.readTimeoutMs,
    );
    signal.addEventListener('abort', onAbort);
    s.once('secureConnect', () => finish());
    s.once('error', (e) =>
      finish(
        new DkError(
          'protocol',
          'probe-tls',
          `TLS handshake with ${label} failed: ${tlsReason(e)}`,
          {
            cause: e,
          },
        ),
      ),
    );
    s.once('close', () =>
      finish(
        new DkError(
          'protocol',
          'probe-tls',
          `${label} closed the connection during the TLS handshake`,
        ),
      ),
    );
  });
}

export async function probe(opts: ProbeOptions): Promise<ProbeResult> {
  const o = normalize(opts);
  const transcript: string[] = [];
  const log = (dir: 'C' | 'S' | '*', line: string): void => {
    transcript.push(dir === '*' ? `* ${line}` : `${dir}: ${line}`);
    opts.transcript?.(dir, line);
  };
  let label =
    o.address === undefined || o.address === o.host
      ? hostPort(o.host, o.port)
      : `${hostPort(o.host, o.port)} (${o.address})`;

  const ctl = new AbortController();
  const total = setTimeout(() => {
    ctl.abort(
      new DkError(
        'unavailable',
        'probe-timeout',
        `Probing ${label} did not finish within ${formatDuration(o.totalTimeoutMs)}`,
      ),
    );
  }, o.totalTimeoutMs);
  const onUserAbort = (): void => {
    ctl.abort(new DkError('unavailable', 'probe-aborted', `Probing ${label} was aborted`));
  };
  if (opts.signal?.aborted) onUserAbort();
  else opts.signal?.addEventListener('abort', onUserAbort, { once: true });

  let sock: net.Socket | undefined;
  let secure: tls.TLSSocket | undefined;
  try {
    if (ctl.signal.aborted) throw ctl.signal.reason;
    sock = await connect(o, label, ctl.signal);
    const address = sock.remoteAddress ?? o.address ?? o.host;
    const port = sock.remotePort ?? o.port;
    label =
      net.isIP(o.host) !== 0 ? hostPort(address, port) : `${hostPort(o.host, port)} (${address})`;
    log('*', `Connected to ${hostPort(address, port)}`);

    if (o.starttls !== 'none') {
      const wire = new Wire(sock, {
        label,
        maxLineBytes: o.maxLineBytes,
        maxBytes: o.maxBytes,
        readTimeoutMs: o.readTimeoutMs,
        log,
        signal: ctl.signal,
      });
      await negotiateStarttls(o.starttls, wire, { ehloName: o.ehloName, xmppDomain: o.xmppDomain });
      const rest = wire.release();
      // RFC 3207 §4.2 and CVE-2011-0411 / CVE-2021-23222: nothing the server sent before the
      // handshake may be taken as part of it.
      if (rest.length > 0)
        throw new DkError(
          'protocol',
          'probe-pipelined',
          `${label} sent ${rest.length} bytes after agreeing to ${o.starttls === 'postgres' ? 'SSL' : 'STARTTLS'}, before the TLS handshake`,
        );
    }

    const tap = new Tap(sock);
    const keylog: Buffer[] = [];
    secure = await handshake(tap, o, label, ctl.signal, keylog);
    tap.capturing = false;

    const protocol = secure.getProtocol() ?? 'unknown';
    const c = secure.getCipher();
    const cipher = c.standardName ?? c.name;
    // getPeerCertificate, not getPeerX509Certificate: the latter copies the certificate by
    // decoding it again (its public key included), about 0.2 ms a probe; the former's DER is
    // the same bytes (raw) at under half that.
    const leaf = (secure.getPeerCertificate(false) as Partial<tls.PeerCertificate>).raw;
    let chain = presentedChain(Buffer.concat(tap.captured), keylog);
    let chainSource: ProbeResult['chainSource'] = 'presented';
    if (!chain || chain.length === 0 || (leaf !== undefined && !chain[0]!.equals(leaf))) {
      chain = chainFromIssuerLinks(secure);
      chainSource = 'issuer-links';
      log(
        '*',
        'Could not read the Certificate message; chain rebuilt from issuer links (order and extra certificates may differ)',
      );
    }
    if (chain.length === 0)
      throw new DkError('protocol', 'probe-no-certificate', `${label} presented no certificate`);
    log(
      '*',
      `TLS established: ${protocol} ${cipher}, ${chain.length} certificate${chain.length === 1 ? '' : 's'}` +
        (o.servername === undefined ? ', no SNI' : `, SNI ${o.servername}`),
    );

    const quit = quitCommand(o.starttls);
    if (quit) {
      log('C', quit.shown);
      const s = secure;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(QUIT_GRACE_MS, o.readTimeoutMs));
        s.write(quit.data, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return {
      chain,
      protocol,
      cipher,
      address,
      port,
      servername: o.servername,
      transcript,
      chainSource,
    };
  } catch (e) {
    // An abort wins over whatever the abort caused (a reset socket, a failed read).
    if (ctl.signal.aborted && ctl.signal.reason instanceof DkError) throw ctl.signal.reason;
    throw e;
  } finally {
    clearTimeout(total);
    opts.signal?.removeEventListener('abort', onUserAbort);
    secure?.destroy();
    sock?.destroy();
  }
}
