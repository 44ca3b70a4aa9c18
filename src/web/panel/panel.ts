/**
 * The panel's first pages (issue 11 item 2; DESIGN.md "The panel and the API (contract)"):
 * login/logout, Domains, a domain's page and Generate, server-rendered and usable without
 * JavaScript. Mounted by the daemon's app at `/`; who may see what comes from authorize() and
 * visibleDomains() (src/auth/authz.ts), the same rule the JSON API applies.
 *
 * Session cookie: `__Host-dk_session` (HttpOnly, SameSite=Strict, Secure, Path=/) when the
 * panel is served over TLS. RFC 6265bis §4.1.3.2 makes a `__Host-` cookie require Secure, and
 * browsers drop Secure cookies set over plain http (except on localhost), so behind plain HTTP
 * on loopback (`secure: false`) the cookie is `dk_session`, same flags without Secure: a
 * prefixed name the browser then refuses would just make login silently fail.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { html } from 'hono/html';
import { secureHeaders } from 'hono/secure-headers';
import { randomBytes } from 'node:crypto';
import { visibleDomains } from '../../auth/authz.js';
import { checkPassword, LoginLimiter } from '../../auth/login.js';
import { newSession, safeEqual, sha256Hex } from '../../auth/tokens.js';
import { isDkError } from '../../core/errors.js';
import type { Domain } from '../../store/domains.js';
import type { StateStore } from '../../store/state.js';
import type { User, UsersStore } from '../../store/users.js';
import {
  BODY_LIMIT,
  PLAIN_SESSION_COOKIE,
  SECURE_SESSION_COOKIE,
  sessionCookieName,
  type RouteCaller,
} from '../api/api.js';
import { generateFromPem } from '../api/handlers.js';
import { Generate } from '../api/table.js';
import { badge, badgeHtml, statusOf as readStatus, type StatusView } from './domain-common.js';
import { domainAddPage } from './domain-add.js';
import { domainPage } from './domain-page.js';
import { PROGRESS_JS } from './domain-progress-script.js';
import { CSS, csrfField, page, type Html, type Viewer } from './layout.js';

export { badge } from './domain-common.js';

// the API's names (api.ts sessionCookieName): the panel sets the cookie the API reads
export const SECURE_COOKIE = SECURE_SESSION_COOKIE;
export const PLAIN_COOKIE = PLAIN_SESSION_COOKIE;
/** double-submit token for the login form, which has no session yet (login CSRF) */
export const LOGIN_CSRF_COOKIE = 'dk_login_csrf';
export const PAGE_SIZE = 20;
/** the panel's paths; anything else is left to the app it is mounted in (`/api`, `/healthz`) */
const OPEN_PATHS = ['/login', '/panel.css', '/progress.js'];
const SESSION_PATHS = [
  '/',
  '/logout',
  '/domains',
  '/domains/*',
  '/generate',
  '/check',
  '/dnssec',
  '/settings',
];

export interface PanelDeps {
  users: UsersStore;
  /**
   * the JSON API's route logic (src/web/api/api.ts routeCaller): every change a page makes goes
   * through it, so a form is validated, authorized and audited exactly as the API call is
   */
  call: RouteCaller;
  state: StateStore;
  now: () => Date;
  /** `status --json`'s entry for the domain (src/daemon/status.ts domainStatus) */
  status: (d: Domain) => Promise<unknown>;
  /**
   * The Domains list's status per row, from the stored state and the last pass (serve wires
   * src/daemon/list-status.ts): `status` observes every nameserver and endpoint, too much for
   * each row of every page view. Absent (an unwired panel): `status`.
   */
  listStatus?: (d: Domain) => unknown;
  /** served over TLS: decides the cookie's name and Secure flag (see the module comment) */
  secure: boolean;
  limiter?: LoginLimiter;
  /** a session lasts at most this long (ms); default 12 h */
  sessionTtlMs?: number;
  /** and idles out after this long (ms); default 30 min */
  sessionIdleMs?: number;
  clientAddress?: (c: Context) => string;
  /**
   * the server's daneEnabled now (settings.read().daneEnabled: the INI file overridden by the
   * Settings page). Absent: false, so an unwired panel never offers DANE (seed: daneEnabled =
   * false hides the checkbox from everyone).
   */
  daneEnabled?: () => boolean;
  /**
   * Who issues the certificates, in words (config.ts acmeCaName of [acme] directory), for the
   * add form's "a certificate from ...", read per page (a SIGHUP may change the directory).
   * Absent: "the configured ACME CA".
   */
  acmeCa?: () => string;
}

export type RenderStatus = 200 | 400 | 403 | 404 | 409 | 429;

/** What a page module (src/web/panel/*-page.ts) gets to render and to guard its routes. */
export interface PanelKit {
  deps: PanelDeps;
  render(
    c: Context,
    status: RenderStatus,
    p: Parameters<typeof page>[0],
  ): Response | Promise<Response>;
  /** the signed-in viewer (every path a page declares is behind the session check) */
  me(c: Context): Viewer & { user: User; sid: string };
  /** the posted form's string fields (its CSRF token was already checked) */
  form(c: Context): Promise<Record<string, string>>;
  notFound(c: Context, v: Viewer | null): Response | Promise<Response>;
  /** the client's address, for the audit log */
  source(c: Context): string;
  /** whether a page module answers this path pattern (e.g. '/domains/:name/dns'): link to it */
  serves(path: string): boolean;
}

/**
 * A page module: the paths it answers (each gets the security headers, the body limit, the
 * session check and the CSRF check on POST) and its routes.
 */
export interface PanelPage {
  paths: string[];
  register(app: Hono, kit: PanelKit): void;
}

export function panelRoutes(deps: PanelDeps, pages: readonly PanelPage[] = []): Hono {
  const app = new Hono();
  const limiter = deps.limiter ?? new LoginLimiter();
  const cookieName = sessionCookieName(deps.secure);
  const ttl = deps.sessionTtlMs ?? 12 * 3600_000;
  const idle = deps.sessionIdleMs ?? 30 * 60_000;
  const source = (c: Context) => deps.clientAddress?.(c) ?? 'unknown';

  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      styleSrc: ["'self'"],
      // the progress script (/progress.js) and its polling of progress.json; never inline
      scriptSrc: ["'self'"],
      connectSrc: ["'self'"],
      imgSrc: ["'self'"],
      formAction: ["'self'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
    },
    referrerPolicy: 'no-referrer',
    xFrameOptions: 'DENY',
  });
  // RFC 9110 §15.5.14: a form here is a few KB; a pasted chain stays far below this.
  const limit = bodyLimit({
    maxSize: BODY_LIMIT,
    onError: (c) => c.text('The form is too large', 413),
  });
  // Middleware on the panel's own paths only: mounted at `/` next to `/api` and `/healthz`,
  // a `*` here would put the login redirect and the CSP in front of those too.
  const pagePaths = pages.flatMap((x) => x.paths);
  const sessionPaths = [...new Set([...SESSION_PATHS, ...pagePaths])];
  for (const p of [...OPEN_PATHS, ...sessionPaths]) app.use(p, headers, limit);

  const render = (c: Context, status: RenderStatus, p: Parameters<typeof page>[0]) =>
    c.html(page(p), status);

  /** The signed-in user and their CSRF secret, or null. */
  const viewerOf = (c: Context): (Viewer & { user: User; sid: string }) | null => {
    const sid = getCookie(c, cookieName);
    if (!sid) return null;
    const s = deps.users.session(sha256Hex(sid), deps.now(), idle);
    if (!s) return null;
    return {
      name: s.userInfo.name,
      role: s.userInfo.role,
      csrf: s.csrfSecret,
      user: s.userInfo,
      sid,
    };
  };

  const form = async (c: Context): Promise<Record<string, string>> => {
    const b = await c.req.parseBody();
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(b)) if (typeof v === 'string') out[k] = v;
    return out;
  };

  const refused = (c: Context, v: Viewer | null) =>
    render(c, 403, {
      title: 'Refused',
      viewer: v,
      body: html`<p class="error" role="alert">
        The form was refused: it did not carry this session's token. Reload the page and try again.
      </p>`,
    });

  const notFound = (c: Context, v: Viewer | null) =>
    render(c, 404, {
      title: 'Not found',
      viewer: v,
      body: html`<p>No such page. <a href="/domains">Back to the domains</a>.</p>`,
    });

  app.get('/panel.css', (c) =>
    c.body(CSS, 200, {
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'max-age=3600',
    }),
  );
  app.get('/progress.js', (c) =>
    c.body(PROGRESS_JS, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'max-age=3600',
    }),
  );

  // ---- login / logout

  const loginPage = (c: Context, status: 200 | 400 | 429, message?: string) => {
    const token = randomBytes(32).toString('base64url');
    setCookie(c, LOGIN_CSRF_COOKIE, token, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: deps.secure,
      path: '/login',
      maxAge: 3600,
    });
    return render(c, status, {
      title: 'Log in',
      viewer: null,
      body: html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
        <form method="post" action="/login">
          ${csrfField(token)}
          <label for="name">User name</label>
          <input id="name" name="name" autocomplete="username" required />
          <label for="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
          />
          <p><button type="submit">Log in</button></p>
        </form>`,
    });
  };

  app.get('/login', (c) => (viewerOf(c) ? c.redirect('/domains', 303) : loginPage(c, 200)));

  app.post('/login', async (c) => {
    const f = await form(c);
    const expected = getCookie(c, LOGIN_CSRF_COOKIE);
    // Login CSRF: without a session the form's token is compared with its own cookie
    // (double submit), so another site cannot sign a browser in as the attacker.
    if (!expected || !safeEqual(f._csrf ?? '', expected)) return refused(c, null);
    const name = (f.name ?? '').trim().toLowerCase();
    const addr = source(c);
    const now = deps.now();
    const wait = limiter.check(name, addr, now);
    if (wait > 0) {
      // RFC 9110 §10.2.3: Retry-After in whole seconds.
      c.header('Retry-After', String(Math.ceil(wait / 1000)));
      return loginPage(c, 429, 'Too many failed logins: try again later.');
    }
    const user = name ? await checkPassword(deps.users, name, f.password ?? '', now) : null;
    if (!user) {
      limiter.failed(name, addr, now);
      deps.users.audit(
        {
          actor: `panel:${name || '-'}`,
          action: 'login.failed',
          target: name || null,
          source: addr,
          details: {},
        },
        now,
      );
      return loginPage(c, 400, 'Wrong user name or password.');
    }
    limiter.succeeded(name);
    // A fresh id at every login, the one the browser held ended: a session id planted before
    // login (fixation) never becomes a signed-in one.
    const prior = getCookie(c, cookieName);
    if (prior) deps.users.endSession(sha256Hex(prior));
    const s = newSession();
    deps.users.createSession(
      { sha256: s.sha256, user: user.name, csrfSecret: s.csrfSecret, ttlMs: ttl },
      now,
    );
    deps.users.audit(
      {
        actor: `panel:${user.name}`,
        action: 'login',
        target: user.name,
        source: addr,
        details: {},
      },
      now,
    );
    deleteCookie(c, LOGIN_CSRF_COOKIE, { path: '/login', secure: deps.secure });
    setCookie(c, cookieName, s.id, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: deps.secure,
      path: '/',
      maxAge: Math.floor(ttl / 1000),
    });
    return c.redirect('/domains', 303);
  });

  // Everything below needs a session; every POST needs its CSRF token.
  const session: MiddlewareHandler = async (c, next) => {
    const v = viewerOf(c);
    if (!v) {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') return c.redirect('/login', 303);
      return refused(c, null);
    }
    if (c.req.method === 'POST') {
      const f = await form(c);
      if (!safeEqual(f._csrf ?? '', v.csrf)) return refused(c, v);
    }
    c.set('viewer' as never, v as never);
    await next();
    // RFC 9111 §5.2.2.5: signed-in pages carry the user's data and the CSRF token: no caches.
    c.header('Cache-Control', 'no-store');
  };
  for (const p of sessionPaths) app.use(p, session);
  const me = (c: Context) =>
    c.get('viewer' as never) as unknown as Viewer & { user: User; sid: string };

  app.post('/logout', (c) => {
    const v = me(c);
    deps.users.endSession(sha256Hex(v.sid));
    deps.users.audit(
      {
        actor: `panel:${v.name}`,
        action: 'logout',
        target: v.name,
        source: source(c),
        details: {},
      },
      deps.now(),
    );
    deleteCookie(c, cookieName, {
      path: '/',
      secure: deps.secure,
    });
    return c.redirect('/login', 303);
  });

  app.get('/', (c) => c.redirect('/domains', 303));

  // ---- domains

  const statusOf = (d: Domain): Promise<StatusView | null> => readStatus(deps.status, d);

  app.get('/domains', async (c) => {
    const v = me(c);
    const q = (c.req.query('q') ?? '').trim().toLowerCase();
    // only the page's rows are read and parsed (every row's JSON per request was most of a
    // 10,000-domain list's time, bench/api.ts): an admin's page in SQL, a customer's names
    // filtered first, then the page's rows
    const store = deps.state.domains;
    const admin = v.user.role === 'admin';
    const names = admin
      ? []
      : visibleDomains(v.user, store.names()).filter((d) => q === '' || d.includes(q));
    const total = admin ? store.count(q) : names.length;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const n = Math.min(pages, Math.max(1, Number.parseInt(c.req.query('page') ?? '1', 10) || 1));
    const shown = admin
      ? store.page({ offset: (n - 1) * PAGE_SIZE, limit: PAGE_SIZE, q })
      : store.getMany(names.slice((n - 1) * PAGE_SIZE, n * PAGE_SIZE));
    const rows = await Promise.all(
      shown.map(async (d) => ({
        d,
        s: deps.listStatus ? (deps.listStatus(d) as StatusView) : await statusOf(d),
      })),
    );
    const link = (p: number) =>
      `/domains?${new URLSearchParams({ ...(q ? { q } : {}), page: String(p) })}`;
    return render(c, 200, {
      title: 'Domains',
      viewer: v,
      current: '/domains',
      // after a removal (POST-redirect-GET): a fixed text, nothing from the query reflected
      body: html`${
          c.req.query('done') === 'removed'
            ? html`<p class="note" role="status">
                The domain was removed: danekeeper no longer manages it. Its certificate files and
                TLSA records were left in place.
              </p>`
            : ''
        }
        <p><a href="/domains/add">Add a domain</a></p>
        <form method="get" action="/domains" role="search">
          <label for="q">Search domains</label>
          <input id="q" name="q" type="search" value="${q}" />
          <button type="submit">Search</button>
        </form>
        ${
          rows.length === 0
            ? html`<p>No domains${q ? html` match “${q}”` : ''}.</p>`
            : html`<table>
                <caption class="visually-hidden">
                  Your domains and their DANE status
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Domain</th>
                    <th scope="col">Status</th>
                    <th scope="col">Phase</th>
                  </tr>
                </thead>
                <tbody>
                  ${rows.map(
                    ({ d, s }) =>
                      html`<tr>
                        <td><a href="/domains/${encodeURIComponent(d.name)}">${d.name}</a></td>
                        <td>${badgeHtml(badge(d, s, deps.daneEnabled?.() ?? true))}</td>
                        <td>${s?.phase ?? '—'}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
        <nav aria-label="Pages">
          <p>
            Page ${n} of ${pages} (${total} ${total === 1 ? 'domain' : 'domains'})
            ${n > 1 ? html` · <a href="${link(n - 1)}" rel="prev">Previous</a>` : ''}
            ${n < pages ? html` · <a href="${link(n + 1)}" rel="next">Next</a>` : ''}
          </p>
        </nav>`,
    });
  });

  // ---- generate

  const generatePage = (c: Context, status: 200 | 400, f: Record<string, string>, out?: Html) =>
    render(c, status, {
      title: 'Generate TLSA records',
      viewer: me(c),
      current: '/generate',
      body: html`<p>
          Paste a PEM certificate (with its chain for a 2 1 1 record) or a key. Nothing is stored.
        </p>
        ${out ?? ''}
        <form method="post" action="/generate">
          ${csrfField(me(c).csrf)}
          <label for="pem">PEM certificate or key</label>
          <textarea id="pem" name="pem" required>${f.pem ?? ''}</textarea>
          <label for="host">Mail host (optional, for zone lines)</label>
          <input id="host" name="host" value="${f.host ?? ''}" />
          <label for="port">Port</label>
          <input id="port" name="port" inputmode="numeric" value="${f.port ?? '25'}" />
          <p><button type="submit">Generate</button></p>
        </form>`,
    });

  app.get('/generate', (c) => generatePage(c, 200, {}));

  app.post('/generate', async (c) => {
    const f = await form(c);
    const port = (f.port ?? '').trim() === '' ? 25 : Number(f.port);
    const host = (f.host ?? '').trim();
    const parsed = Generate.safeParse({ pem: f.pem ?? '', port, ...(host ? { host } : {}) });
    const fail = (m: string) =>
      generatePage(c, 400, f, html`<p class="error" role="alert">${m}</p>`);
    if (!parsed.success) {
      return fail(
        parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '),
      );
    }
    try {
      const r = generateFromPem(parsed.data);
      return generatePage(
        c,
        200,
        f,
        html`<section aria-labelledby="records-h">
          <h2 id="records-h">Records</h2>
          <ul>
            ${r.records.map(
              (x) =>
                html`<li>
                  ${x.what}:
                  <code>${x.rdata}</code>${x.zoneLine ? html`<pre>${x.zoneLine}</pre>` : ''}
                </li>`,
            )}
          </ul>
          ${r.notes.map((n) => html`<p class="note">${n}</p>`)}
        </section>`,
      );
    } catch (e) {
      if (!isDkError(e)) throw e;
      return fail(e.message.replace(/\s*\n\s*/g, ' '));
    }
  });

  // ---- the page modules

  const kit: PanelKit = {
    deps,
    render,
    me,
    form,
    notFound,
    source,
    serves: (path) => pagePaths.includes(path),
  };
  // `/domains/add` before `/domains/:name`, which would take "add" for a name
  for (const x of [domainAddPage(), domainPage(), ...pages]) x.register(app, kit);

  // ---- pages still to come: listed in the nav, answered honestly

  const later = (path: string, title: string, cli: string, admin = false) =>
    !pagePaths.includes(path) &&
    app.get(path, (c) => {
      const v = me(c);
      if (admin && v.role !== 'admin') return notFound(c, v);
      return render(c, 200, {
        title,
        viewer: v,
        current: path,
        body: html`<p>This page is not built yet. Meanwhile: <code>${cli}</code>.</p>`,
      });
    });
  later('/check', 'Check', 'danekeeper check DOMAIN');
  later('/dnssec', 'DNSSEC', 'danekeeper dnssec status ZONE');
  later('/settings', 'Settings', 'danekeeper.ini and danekeeper user', true);
  return app;
}
