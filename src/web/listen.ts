/**
 * The daemon's listener: @hono/node-server on ADDR:PORT, HTTPS when a certificate and key are
 * given. Resolves once listening (a port in use is a one-line error, not a crash).
 */
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { DkError } from '../core/errors.js';

export interface Listening {
  /** host:port actually bound (port 0 picks one) */
  address: string;
  close(): Promise<void>;
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
    close: () =>
      new Promise<void>((resolve) => {
        // keep-alive connections of a scraper would hold close() open
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
