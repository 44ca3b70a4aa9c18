/**
 * The daemon's listener: @hono/node-server on ADDR:PORT, HTTPS when a certificate and key are
 * given. Resolves once listening (a port in use is a one-line error, not a crash).
 */
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, type ServerType } from '@hono/node-server';
import type { Context, Hono } from 'hono';
import { DkError } from '../core/errors.js';

export interface Listening {
  /** host:port actually bound (port 0 picks one) */
  address: string;
  /**
   * Stops accepting, lets the requests in flight finish (at most `graceMs`, default 10 s)
   * and then cuts what is left. Idle keep-alive connections are closed at once.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * The client's address as the socket has it, for the audit log (a proxy in front would have to
 * be trusted explicitly to say otherwise). `unknown` when there is no socket (app.request()).
 */
export function socketAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

export async function listen(
  app: Hono,
  host: string,
  port: number,
  tls?: { cert: string; key: string },
): Promise<Listening> {
  const server: ServerType = tls
    ? createAdaptorServer({
        fetch: app.fetch,
        createServer: createHttps,
        serverOptions: { cert: tls.cert, key: tls.key },
      })
    : createAdaptorServer({ fetch: app.fetch });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) =>
      reject(
        new DkError(
          e.code === 'EACCES' ? 'noperm' : 'unavailable',
          'E_SERVE_LISTEN',
          `Cannot listen on ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EACCES' ? 'permission denied' : e.message}`,
        ),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const s = server as {
          closeAllConnections?: () => void;
          closeIdleConnections?: () => void;
        };
        // a request in flight (a check waiting on DNS, a record being published) ends and is
        // answered; keep-alive connections of a scraper would hold close() open: closed now
        const cut = setTimeout(() => s.closeAllConnections?.(), graceMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        s.closeIdleConnections?.();
      }),
  };
}
