/**
 * The daemon's HTTP face (DESIGN.md "The panel and the API (contract)"): `/healthz` and
 * `/metrics` (issue 10 item 4), the JSON API at `/api` and the panel at `/` (issue 11). Handlers
 * only read what the daemon hands in; tests call `app.request()` without a socket.
 *
 * Errors: DESIGN.md says a 5xx is a bug. A DkError answers the 4xx of its kind (api.ts
 * errorStatus); anything else is logged for the operator (the message and stack, never the
 * request) and answers a generic 500 that tells the client nothing of it.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { isDkError } from '../core/errors.js';
import type { Health } from '../daemon/daemon.js';
import { errorStatus, type ApiLogger } from './api/api.js';

export interface DaemonView {
  /** whether the store is readable now */
  health(): Health;
  /** Prometheus text exposition format 0.0.4 */
  metrics(): string;
}

export interface WebFaces {
  /** the JSON API (src/web/api/api.ts apiRoutes), mounted at `/api` */
  api?: Hono;
  /** the panel (src/web/panel/panel.ts panelRoutes), mounted at `/` */
  panel?: Hono;
  /** where a bug's detail goes; default: nowhere (the client still learns nothing) */
  logger?: ApiLogger;
}

const errorBody = (code: string, message: string) => ({ error: { code, message } });

export function daemonApp(view: DaemonView, faces: WebFaces = {}): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => {
    const h = view.health();
    return c.json({ status: h.ok ? 'ok' : 'unavailable', ...h.detail }, h.ok ? 200 : 503);
  });
  app.get('/metrics', (c) =>
    c.body(view.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
  if (faces.api) app.route('/api', faces.api);
  // the panel answers only its own paths (panel.ts), so /healthz and /api keep theirs
  if (faces.panel) app.route('/', faces.panel);
  app.notFound((c) => c.json(errorBody('E_NOT_FOUND', 'No such page'), 404));
  app.onError((e, c) => {
    if (e instanceof HTTPException) return e.getResponse();
    if (isDkError(e) && e.kind !== 'internal') {
      return c.json(errorBody(e.code, e.message.replace(/\s*\n\s*/g, ' ')), errorStatus(e.kind));
    }
    faces.logger?.error(
      { err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) },
      `${c.req.method} ${c.req.path} failed`,
    );
    return c.json(errorBody('E_INTERNAL', 'Internal error: see the server log'), 500);
  });
  return app;
}
