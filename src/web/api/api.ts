/**
 * The JSON API (issue 11 item 3; DESIGN.md "The panel and the API (contract)"), mounted by the
 * daemon's app at `/api`: `/api/v1/...` and `/api/openapi.json`. Every route comes from the one
 * table in table.ts, which also validates its input, and goes through `authorize()`; each
 * change is written to the audit log as `api:USER` with the client's address.
 *
 * Errors are `{"error": {"code", "message"}}`: a DkError maps to a 4xx by its kind, anything
 * else is a bug and answers 500 with a generic message (the detail goes to the injected
 * logger, never to the client).
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import type { z } from 'zod';
import { authorize, DOMAIN_ACTIONS, type Principal } from '../../auth/authz.js';
import { bearerToken, safeEqual, sha256Hex } from '../../auth/tokens.js';
import { DkError, isDkError, type ErrorKind } from '../../core/errors.js';
import type { UsersStore } from '../../store/users.js';
import { handlers, type ApiServices } from './handlers.js';
import { openApiDocument } from './openapi.js';
import { ROUTES, type RouteSpec } from './table.js';

/** RFC 9110 §15.5.14: what a panel form or an API call needs is far below this. */
export const BODY_LIMIT = 64 * 1024;
/** The panel's session cookie over TLS (RFC 6265bis §4.1.3.2: `__Host-` pins it to this host, path /). */
export const SECURE_SESSION_COOKIE = '__Host-dk_session';
/** ... and over plain HTTP, where a browser would refuse the `__Host-` name (it needs Secure). */
export const PLAIN_SESSION_COOKIE = 'dk_session';

/**
 * The session cookie's name, for the panel that sets it and the API that reads it: one answer,
 * so a panel page's call to the API carries the cookie the API looks for. RFC 6265bis
 * §4.1.3.2: a `__Host-` cookie must be Secure, and browsers drop Secure cookies set over plain
 * HTTP, so over plain HTTP (loopback) the name is unprefixed.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? SECURE_SESSION_COOKIE : PLAIN_SESSION_COOKIE;
}
export const CSRF_HEADER = 'x-csrf-token';

export interface ApiLogger {
  error(detail: Record<string, unknown>, message: string): void;
}

export interface ApiDeps extends ApiServices {
  users: UsersStore;
  logger: ApiLogger;
  /** a panel session idles out after this long (ms) */
  sessionIdleMs?: number;
  /** served over TLS: decides the session cookie's name (sessionCookieName); default false */
  secure?: boolean;
  /**
   * the client's address for the audit log (the daemon knows the socket; behind a proxy it
   * decides what to trust); default: `unknown`
   */
  clientAddress?: (c: Context) => string;
}

export type ErrorStatus = 400 | 404 | 409 | 424;

/**
 * A DkError's HTTP status. DESIGN.md: a 5xx is a bug, so every kind a request can meet is a
 * 4xx. A server danekeeper depends on that could not be reached, broke its protocol or refused
 * danekeeper (a DNS backend, a resolver, a mail host) is RFC 4918 §11.4's 424 Failed
 * Dependency: the request was fine, what it needed failed; 403 stays the caller's own
 * authorization. `internal` is never asked: it is a bug and answers 500.
 */
const STATUS: Record<ErrorKind, ErrorStatus> = {
  usage: 400,
  data: 400,
  noinput: 404,
  unavailable: 424,
  protocol: 424,
  tempfail: 409,
  noperm: 424,
  config: 409,
  internal: 400,
};

export function errorStatus(kind: Exclude<ErrorKind, 'internal'>): ErrorStatus {
  return STATUS[kind];
}

/** Refusals made by the API itself, with their status. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** zod issues as one line: `subdomains.0: Too big`, joined with `; `. */
function issuesText(e: z.ZodError): string {
  return e.issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`)
    .join('; ');
}

function parsePart<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ApiError(400, 'E_API_INPUT', `Invalid ${where}: ${issuesText(r.error)}`);
  return r.data;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Who is calling: a bearer token, or the panel's session cookie. RFC 6750 §2.1 bearer tokens
 * need no CSRF check (a browser never adds them by itself); a cookie does, so a state-changing
 * request with a session must carry the session's CSRF secret in `X-CSRF-Token`.
 */
function principal(c: Context, deps: ApiDeps): { user: Principal; via: string } {
  const now = deps.now();
  const auth = c.req.header('authorization');
  if (auth !== undefined) {
    const token = bearerToken(auth);
    const found = token ? deps.users.authenticateToken(sha256Hex(token), now) : null;
    if (!found) throw new ApiError(401, 'E_API_AUTH', 'The API token is not valid');
    return { user: found.user, via: 'token' };
  }
  const cookie = getCookie(c, sessionCookieName(deps.secure ?? false));
  if (cookie !== undefined) {
    const s = deps.users.session(sha256Hex(cookie), now, deps.sessionIdleMs ?? 30 * 60_000);
    if (!s) throw new ApiError(401, 'E_API_AUTH', 'The session has ended: log in again');
    if (STATE_CHANGING.has(c.req.method)) {
      const sent = c.req.header(CSRF_HEADER);
      if (sent === undefined || !safeEqual(sent, s.csrfSecret)) {
        throw new ApiError(403, 'E_API_CSRF', `A change needs the session's ${CSRF_HEADER} header`);
      }
    }
    return { user: s.userInfo, via: 'session' };
  }
  throw new ApiError(401, 'E_API_AUTH', 'Authorization: Bearer TOKEN is required');
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  // RFC 8259 §11: application/json (parameters such as charset are allowed).
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, 'E_API_MEDIA_TYPE', 'The body must be application/json');
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ApiError(400, 'E_API_JSON', `The body is not valid JSON: ${(e as Error).message}`);
  }
}

function toPath(p: string): string {
  return p.replace(/:([A-Za-z]+)/g, '{$1}');
}

/** What a route is called with, before validation (raw path params, query and JSON body). */
export interface RawCall {
  user: Principal;
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  /** the client's address, for the audit log */
  source: string;
}

/**
 * The one way into a route, for the JSON API and the panel alike: the route's zod schemas
 * validate the input, authorize() decides, then the handler runs. A panel form is thus held
 * to exactly the rules of the API (and of the CLI, whose parsers the schemas call).
 * `key` is the route as `METHOD /v1/path/{param}` (as in the OpenAPI document).
 */
export type RouteCaller = (key: string, call: RawCall) => Promise<unknown>;

export function routeCaller(deps: ApiServices & { users: UsersStore }): RouteCaller {
  const h = handlers(deps);
  const specs = new Map<string, RouteSpec>();
  for (const r of ROUTES as readonly RouteSpec[]) {
    const key = `${r.method.toUpperCase()} ${toPath(r.path)}`;
    if (!h[key]) throw new Error(`No handler for ${key}`);
    specs.set(key, r);
  }
  return async (key, call) => {
    const r = specs.get(key);
    const run = h[key];
    if (!r || !run) throw new Error(`No route ${key}`);
    const { user } = call;
    const params = r.params ? parsePart(r.params, call.params ?? {}, 'path') : {};
    const query = r.query ? parsePart(r.query, call.query ?? {}, 'query') : {};
    const body = r.body ? parsePart(r.body, call.body, 'body') : undefined;
    const domain = (params as { name?: string }).name ?? (body as { name?: string })?.name;
    const scoped = (DOMAIN_ACTIONS as readonly string[]).includes(r.action);
    if (!authorize(user, r.action, scoped ? domain : undefined)) {
      throw new ApiError(
        403,
        'E_API_FORBIDDEN',
        scoped && domain
          ? `${user.name} may not ${r.action} ${domain}`
          : `${user.name} may not ${r.action}`,
      );
    }
    try {
      return await run({ user, params, query, body, source: call.source });
    } catch (e) {
      throw isDkError(e) ? withoutCliFlags(e) : e;
    }
  };
}

const NO_OVERRIDE = 'this check cannot be overridden from the panel or the API';

/**
 * The shared layers (publish/endpoint-guard.ts, publish/tlsa-set.ts, domain add's checks) word
 * their refusals for the CLI, where `--force` overrides them; the panel and the API have no such override
 * (DESIGN.md "The one invariant"), so a refusal must not send their user to a flag they
 * cannot give. Same kind and code, the rest of the message kept.
 */
export function withoutCliFlags(e: DkError): DkError {
  const m = e.message
    .replace(/; add --force to [^.;()]*? anyway/g, `; ${NO_OVERRIDE}`)
    .replace(/ \(--force to [^()]*? anyway\)/g, ` (${NO_OVERRIDE})`)
    .replace(/: use --ttl (\d+) or --force/g, ': use TTL $1 (theirs)')
    // domain add's words (src/cli/domain.ts): the API's fields, the panel's Mail host box
    .replace(/--mail-host HOST/g, 'the mail host (mailHosts)')
    .replace(/--mail-host/g, 'the mail host (mailHosts)')
    .replace(/--subdomain ([^\s,;)]+)/g, 'the subdomain $1 (subdomains)')
    .replace(/a --subdomain/g, 'a subdomain (subdomains)')
    .replace(/--no-dane/g, 'DANE off (dane: false)');
  if (m === e.message) return e;
  return new DkError(e.kind, e.code, m, { cause: e });
}

export function apiRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  const call = routeCaller(deps);
  const doc = openApiDocument(ROUTES);

  // Every answer, errors included: a browser must not sniff JSON that echoes input into
  // something else (nosniff), and an answer to the panel's session or a token carries the
  // user's data, which no cache may keep (RFC 9111 §5.2.2.5).
  app.use('*', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    if (c.req.path !== '/openapi.json' && !c.req.path.endsWith('/openapi.json')) {
      c.header('Cache-Control', 'no-store');
    }
  });

  app.get('/openapi.json', (c) => c.json(doc));

  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: BODY_LIMIT,
      onError: (c) =>
        c.json(errorBody('E_API_TOO_LARGE', `The body is larger than ${BODY_LIMIT} bytes`), 413),
    }),
  );

  for (const r of ROUTES as readonly RouteSpec[]) {
    const key = `${r.method.toUpperCase()} ${toPath(r.path)}`;
    app.on(r.method.toUpperCase(), r.path, async (c) => {
      const { user } = principal(c, deps);
      const out = await call(key, {
        user,
        params: c.req.param(),
        query: c.req.query(),
        body: r.body ? await readJson(c) : undefined,
        source: deps.clientAddress?.(c) ?? 'unknown',
      });
      return c.json(out as object, r.status);
    });
  }

  // A catch-all rather than notFound(): a mounted app's notFound is not the one that answers.
  app.all('*', (c) => c.json(errorBody('E_API_NOT_FOUND', 'No such API route'), 404));
  app.onError((e, c) => {
    if (e instanceof ApiError) {
      // RFC 6750 §3: a 401 says which scheme it wants.
      if (e.status === 401) c.header('WWW-Authenticate', 'Bearer realm="danekeeper"');
      return c.json(errorBody(e.code, e.message), e.status);
    }
    if (isDkError(e) && e.kind !== 'internal') {
      return c.json(errorBody(e.code, e.message.replace(/\s*\n\s*/g, ' ')), STATUS[e.kind]);
    }
    // A 5xx is a bug: the detail is logged for the operator, the client learns nothing of it.
    deps.logger.error(
      { err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) },
      `API ${c.req.method} ${c.req.path} failed`,
    );
    return c.json(errorBody('E_INTERNAL', 'Internal error: see the server log'), 500);
  });
  return app;
}
