/**
 * The panel's Settings page (issue 11 item 2, "Settings (admin)"; seed plesk-dane-guide's
 * panel.ini keys `[ext-sslit] dane-confirmation-interval-in-hours` and `daneEnabled`): what the
 * API's settings routes read and change (`GET`/`PUT /v1/settings`, stored over the INI file's
 * values), what else the API reports read-only, and the accounts. A customer gets the same 404
 * as for a missing page: the page's existence is the admin's business.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import { authorize } from '../../auth/authz.js';
import { SettingsChange } from '../api/table.js';
import { callFailure, type PageStatus } from './call-error.js';
import { csrfField, type Html } from './layout.js';
import type { PanelPage } from './panel.js';

/** `GET /v1/settings` (api/settings.ts); any further keys are shown read-only as they come. */
interface SettingsView {
  daneEnabled: boolean;
  /** seconds */
  confirmationInterval: number;
  [key: string]: unknown;
}

/** the API's bounds (seconds), for a message in the form's unit */
const INTERVAL = SettingsChange.shape.confirmationInterval.unwrap();

const EDITABLE = new Set(['daneEnabled', 'confirmationInterval']);

/**
 * Shown, not changed (the INI file is the operator's): the keys `GET /v1/settings` is asked to
 * carry for them, the label, and where the INI file sets them (DESIGN.md "Global settings").
 */
const READ_ONLY: readonly (readonly [string, string, string])[] = [
  ['acmeDirectory', 'ACME CA (directory)', '[acme] directory'],
  ['dnsBackend', 'DNS backend', '[dns] backend'],
  ['notifyEmail', 'Notification address', '[notify] email'],
];

/** Seconds as the INI file's hours (decimals allowed there, so here too). */
export const hoursOf = (seconds: number) => String(Math.round((seconds / 3600) * 10_000) / 10_000);

/**
 * The form's hours as the API's seconds; null when it is not a number of hours at all (the
 * range is the API's to judge: SettingsChange in table.ts).
 */
export function secondsOf(hours: string): number | null {
  const t = hours.trim();
  if (!/^[0-9]+(\.[0-9]+)?$/.test(t)) return null;
  return Math.round(Number(t) * 3600);
}

const shown = (v: unknown): string =>
  v === null || v === undefined
    ? '—'
    : typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : JSON.stringify(v);

export const settingsPage: PanelPage = {
  paths: ['/settings', '/settings/users', '/settings/users/remove'],
  register(app, kit) {
    const read = (c: Context) =>
      kit.deps.call('GET /v1/settings', {
        user: kit.me(c).user,
        source: kit.source(c),
      }) as Promise<SettingsView>;

    const view = async (
      c: Context,
      status: 200 | PageStatus,
      o: {
        form?: { daneEnabled: boolean; hours: string };
        error?: { field: 'interval' | 'form'; message: string };
        done?: string;
        /** the add-user form as sent (never its password) and why it was refused */
        userForm?: { name: string; role: string; domains: string };
        userError?: string;
      } = {},
    ) => {
      const v = kit.me(c);
      let s: SettingsView | null = null;
      let readError: string | null = null;
      try {
        s = await read(c);
      } catch (e) {
        readError = callFailure(e).message;
      }
      const f = o.form ?? {
        daneEnabled: s?.daneEnabled ?? true,
        hours: s ? hoursOf(s.confirmationInterval) : '',
      };
      const err = o.error;
      const known = new Set([...EDITABLE, ...READ_ONLY.map(([k]) => k)]);
      const others = s ? Object.entries(s).filter(([k]) => !known.has(k)) : [];
      // The accounts: no API route lists them yet, so the store is read here behind the same
      // authorize() rule a `GET /v1/users` would apply.
      const users = authorize(v.user, 'users.read') ? kit.deps.users.users() : [];
      // The switch's hint says what off does to what is published: daemon/world.ts gives the
      // planner no TLSA owners then, and the planner (core/rollover/plan.ts cleanup) only ever
      // removes records at its owners, so what was published stays.
      const body: Html = html`${o.done ? html`<p class="note" role="status">${o.done}</p>` : ''}
        ${readError ? html`<p class="error" role="alert">${readError}</p>` : ''}
        ${
          err?.field === 'form'
            ? html`<p class="error" role="alert" id="settings-error">${err.message}</p>`
            : ''
        }
        <h2>DANE</h2>
        <form method="post" action="/settings">
          ${csrfField(v.csrf)}
          <div class="check">
            <input
              type="checkbox"
              id="settings-dane"
              name="daneEnabled"
              value="on"
              ${f.daneEnabled ? html`checked` : ''}
              aria-describedby="settings-dane-hint"
            />
            <label for="settings-dane">DANE support offered (daneEnabled)</label>
          </div>
          <p class="hint" id="settings-dane-hint">
            Off: the “DANE support” checkbox is hidden from everyone, the API refuses to turn DANE
            on, and the keep-secured pass removes the TLSA records it published. A certificate with
            a new key then waits until no resolver can still hold them (2 × TTL).
          </p>
          <label for="settings-interval">Confirmation interval (hours)</label>
          <p class="hint" id="settings-interval-hint">
            How long new TLSA records must be served by every nameserver before a certificate that
            relies on them is installed (dane-confirmation-interval-in-hours; default 24). The wait
            is never shorter than twice the records' TTL.
          </p>
          ${
            err?.field === 'interval'
              ? html`<p class="error" role="alert" id="settings-interval-error">${err.message}</p>`
              : ''
          }
          <input
            id="settings-interval"
            name="hours"
            inputmode="decimal"
            value="${f.hours}"
            required
            aria-describedby="settings-interval-hint${
              err?.field === 'interval' ? ' settings-interval-error' : ''
            }"
            ${err?.field === 'interval' ? html`aria-invalid="true"` : ''}
          />
          <p><button type="submit">Save</button></p>
        </form>
        <h2>From the configuration</h2>
        <dl>
          ${READ_ONLY.map(
            ([k, label, ini]) =>
              html`<dt>${label}</dt>
                <dd>
                  ${
                    s && k in s
                      ? shown(s[k])
                      : html`not reported by the API: see <code>${ini}</code> in the configuration
                          file`
                  }
                </dd>`,
          )}
          ${others.map(
            ([k, x]) =>
              html`<dt>${k}</dt>
                <dd>${shown(x)}</dd>`,
          )}
        </dl>
        <h2>Users</h2>
        ${
          users.length
            ? html`<table>
                <caption class="visually-hidden">
                  The panel's accounts
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Role</th>
                    <th scope="col">Domains</th>
                    <th scope="col">Since</th>
                    <th scope="col"><span class="visually-hidden">Remove</span></th>
                  </tr>
                </thead>
                <tbody>
                  ${users.map(
                    (u) =>
                      html`<tr>
                        <th scope="row">${u.name}</th>
                        <td>${u.role}</td>
                        <td>${u.role === 'admin' ? 'all' : u.domains.join(', ') || '—'}</td>
                        <td><time datetime="${u.createdAt}">${u.createdAt}</time></td>
                        <td>
                          <form method="post" action="/settings/users/remove">
                            ${csrfField(v.csrf)}
                            <input type="hidden" name="name" value="${u.name}" />
                            <button type="submit" aria-label="Remove ${u.name}">Remove</button>
                          </form>
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
            : html`<p>No users.</p>`
        }
        <h3>Add a user</h3>
        ${o.userError ? html`<p class="error" role="alert" id="user-error">${o.userError}</p>` : ''}
        <form method="post" action="/settings/users">
          ${csrfField(v.csrf)}
          <label for="user-name">Name</label>
          <input
            id="user-name"
            name="name"
            value="${o.userForm?.name ?? ''}"
            required
            autocomplete="off"
            ${o.userError ? html`aria-describedby="user-error" aria-invalid="true"` : ''}
          />
          <label for="user-role">Role</label>
          <select id="user-role" name="role">
            <option value="customer" ${o.userForm?.role !== 'admin' ? html`selected` : ''}>
              customer
            </option>
            <option value="admin" ${o.userForm?.role === 'admin' ? html`selected` : ''}>
              admin
            </option>
          </select>
          <label for="user-domains">Domains (a customer's; separated by spaces or commas)</label>
          <input id="user-domains" name="domains" value="${o.userForm?.domains ?? ''}" />
          <label for="user-password">Password (at least 8 characters)</label>
          <input
            id="user-password"
            name="password"
            type="password"
            autocomplete="new-password"
            required
            minlength="8"
          />
          <p><button type="submit">Add user</button></p>
        </form>`;
      return kit.render(c, status, {
        title: 'Settings',
        viewer: v,
        current: '/settings',
        body,
      });
    };

    app.get('/settings', (c) => {
      const v = kit.me(c);
      if (!authorize(v.user, 'settings.read')) return kit.notFound(c, v);
      return view(c, 200);
    });

    app.post('/settings', async (c) => {
      const v = kit.me(c);
      if (!authorize(v.user, 'settings.change')) return kit.notFound(c, v);
      const f = await kit.form(c);
      const form = { daneEnabled: f.daneEnabled === 'on', hours: f.hours ?? '' };
      const seconds = secondsOf(form.hours);
      if (seconds === null) {
        return view(c, 400, {
          form,
          error: {
            field: 'interval',
            message: 'The confirmation interval must be a number of hours, such as 24 or 0.5.',
          },
        });
      }
      try {
        await kit.deps.call('PUT /v1/settings', {
          user: v.user,
          body: { daneEnabled: form.daneEnabled, confirmationInterval: seconds },
          source: kit.source(c),
        });
      } catch (e) {
        const fail = callFailure(e);
        // The body has two fields and only the interval can be out of range.
        const field = /confirmationInterval/.test(fail.message) ? 'interval' : 'form';
        const message =
          field === 'interval'
            ? `The confirmation interval must be from ${hoursOf(INTERVAL.minValue ?? 0)} to ${hoursOf(INTERVAL.maxValue ?? 0)} hours (${fail.message}).`
            : fail.message;
        return view(c, fail.status, { form, error: { field, message } });
      }
      return view(c, 200, { done: 'Settings saved.' });
    });

    // Accounts through the API's users routes (the CLI's rules there); the password is sent
    // on once and never shown back, even when the form is refused.
    app.post('/settings/users', async (c) => {
      const v = kit.me(c);
      if (!authorize(v.user, 'users.change')) return kit.notFound(c, v);
      const f = await kit.form(c);
      const userForm = { name: f.name ?? '', role: f.role ?? 'customer', domains: f.domains ?? '' };
      const domains = userForm.domains.split(/[\s,]+/).filter((d) => d !== '');
      let added: { name: string; role: string };
      try {
        added = (await kit.deps.call('POST /v1/users', {
          user: v.user,
          body: { name: userForm.name, role: userForm.role, domains, password: f.password ?? '' },
          source: kit.source(c),
        })) as { name: string; role: string };
      } catch (e) {
        const fail = callFailure(e);
        return view(c, fail.status, { userForm, userError: fail.message });
      }
      return view(c, 200, { done: `Added ${added.role} ${added.name}.` });
    });

    app.post('/settings/users/remove', async (c) => {
      const v = kit.me(c);
      if (!authorize(v.user, 'users.change')) return kit.notFound(c, v);
      const f = await kit.form(c);
      try {
        await kit.deps.call('DELETE /v1/users/{name}', {
          user: v.user,
          params: { name: f.name ?? '' },
          source: kit.source(c),
        });
      } catch (e) {
        const fail = callFailure(e);
        return view(c, fail.status, { userError: fail.message });
      }
      return view(c, 200, { done: `Removed ${f.name ?? ''} with their API tokens and sessions.` });
    });
  },
};
