/**
 * The panel's page frame (issue 11 item 2): landmarks, a nav, the signed-in user and a logout
 * form, one small stylesheet. Server-rendered with hono/html, whose template escapes every
 * interpolated string, so names from the store cannot inject markup.
 */
import { html } from 'hono/html';

export type Html = ReturnType<typeof html>;

/** The one stylesheet, served from the router (the CSP allows styles from 'self' only). */
export const CSS = `
:root { font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; line-height: 1.45; }
body { margin: 0; }
header, main, footer { padding: 0.75rem 1.5rem; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; background: #12355b; color: #fff; }
header a { color: #fff; }
nav ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; margin: 0; padding: 0; }
nav a[aria-current="page"] { font-weight: 700; text-decoration: underline; }
.who { margin-left: auto; display: flex; gap: 0.5rem; align-items: center; }
main { max-width: 64rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #ccc; vertical-align: top; }
/* a phone's width: a cell may break anywhere rather than push the table off the screen
   (WCAG 2.1 1.4.10 Reflow: no horizontal scrolling at 320 CSS px) */
th, td { overflow-wrap: anywhere; }
code, pre, textarea { font-family: ui-monospace, monospace; }
td code { word-break: break-all; }
pre { white-space: pre-wrap; word-break: break-all; background: #f4f4f4; padding: 0.5rem; }
label { display: block; margin-top: 0.5rem; font-weight: 600; }
input, textarea, button { font: inherit; }
textarea { width: 100%; min-height: 12rem; }
button { padding: 0.3rem 0.8rem; }
fieldset { margin: 1rem 0; border: 1px solid #ccc; }
legend { font-weight: 700; }
.check { display: flex; gap: 0.4rem; align-items: baseline; margin-top: 0.4rem; }
.check label { display: inline; margin: 0; font-weight: 400; }
.hint { color: #404040; margin: 0.2rem 0 0; }
.steps li { margin: 0.2rem 0; }
form + form { margin-top: 1rem; }
a:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible {
  outline: 3px solid #f0a500; outline-offset: 2px;
}
.badge { display: inline-block; padding: 0 0.5rem; border-radius: 0.6rem; font-size: 0.9em; border: 1px solid; }
.badge-verified { background: #e3f4e1; color: #14591a; }
.badge-waiting { background: #fff6d6; color: #6b4d00; }
.badge-failing { background: #fde4e4; color: #8a1010; }
.badge-off { background: #eee; color: #404040; }
.error { border-left: 4px solid #8a1010; padding: 0.3rem 0.75rem; background: #fde4e4; }
.note { border-left: 4px solid #6b4d00; padding: 0.3rem 0.75rem; background: #fff6d6; }
.skip { position: absolute; left: -100rem; }
.skip:focus { left: 0.5rem; top: 0.5rem; background: #fff; color: #12355b; padding: 0.3rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
`;

export interface Viewer {
  name: string;
  role: 'admin' | 'customer';
  csrf: string;
}

const NAV: { href: string; label: string; admin?: boolean }[] = [
  { href: '/domains', label: 'Domains' },
  { href: '/generate', label: 'Generate' },
  { href: '/check', label: 'Check' },
  { href: '/dnssec', label: 'DNSSEC' },
  { href: '/settings', label: 'Settings', admin: true },
];

/** The hidden CSRF field every form carries (checked on every POST). */
export const csrfField = (token: string) =>
  html`<input type="hidden" name="_csrf" value="${token}" />`;

export function page(o: {
  title: string;
  viewer: Viewer | null;
  current?: string;
  body: Html;
  /** same-origin script files (CSP script-src 'self'), loaded deferred; never inline */
  scripts?: string[];
}): Html {
  const nav = o.viewer
    ? html`<nav aria-label="Main">
          <ul>
            ${NAV.filter((n) => !n.admin || o.viewer!.role === 'admin').map(
              (n) =>
                html`<li>
                  <a href="${n.href}" ${o.current === n.href ? html`aria-current="page"` : ''}
                    >${n.label}</a
                  >
                </li>`,
            )}
          </ul>
        </nav>
        <div class="who">
          <span>Signed in as <strong>${o.viewer.name}</strong> (${o.viewer.role})</span>
          <form method="post" action="/logout">
            ${csrfField(o.viewer.csrf)}<button type="submit">Log out</button>
          </form>
        </div>`
    : '';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${o.title} · danekeeper</title>
        <link rel="stylesheet" href="/panel.css" />
        ${(o.scripts ?? []).map((src) => html`<script src="${src}" defer></script>`)}
      </head>
      <body>
        <a class="skip" href="#main">Skip to the content</a>
        <header>
          <a href="/domains"><strong>danekeeper</strong></a>
          ${nav}
        </header>
        <main id="main">
          <h1>${o.title}</h1>
          ${o.body}
        </main>
      </body>
    </html>`;
}
