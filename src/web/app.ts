/**
 * The daemon's HTTP face (DESIGN.md "The panel and the API (contract)"): for now `/healthz`
 * and `/metrics` (issue 10 item 4); the panel and `/api/v1/` join this app later. Handlers
 * only read what the daemon hands in; tests call `app.request()` without a socket.
 */
import { Hono } from 'hono';
import type { Health } from '../daemon/daemon.js';

export interface DaemonView {
  /** whether the store is readable now */
  health(): Health;
  /** Prometheus text exposition format 0.0.4 */
  metrics(): string;
}

export function daemonApp(view: DaemonView): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => {
    const h = view.health();
    return c.json({ status: h.ok ? 'ok' : 'unavailable', ...h.detail }, h.ok ? 200 : 503);
  });
  app.get('/metrics', (c) =>
    c.body(view.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
  app.notFound((c) => c.json({ error: { code: 'E_NOT_FOUND', message: 'No such page' } }, 404));
  app.onError((e, c) =>
    c.json({ error: { code: 'E_INTERNAL', message: e.message.split('\n')[0] ?? '' } }, 500),
  );
  return app;
}
