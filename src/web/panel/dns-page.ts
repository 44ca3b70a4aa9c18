/**
 * The panel's DNS page (issue 11 item 2, "DNS"): a domain's TLSA records as the API lists them
 * (ours, hand-made, stale) and the seed's "add record" form (plesk-dane-guide: port, protocol,
 * domain name, usage, selector, matching type, data, TTL blank = the zone's default), at
 * `/domains/NAME/dns`. Every read and change goes through the API's route caller, so the form
 * is validated, authorized and audited exactly as `POST /api/v1/domains/NAME/tlsa` is; the page
 * only maps the refusal back onto the fields. Removing a record takes a confirmation step
 * (a GET page, then the POST), and the API's endpoint guard may still refuse it.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import { authorize } from '../../auth/authz.js';
import { validateTlsaForm, type TlsaFormField } from '../../core/forms/tlsa-form.js';
import { callFailure, type PageStatus } from './call-error.js';
import { breakable } from './breakable.js';
import { csrfField, type Html } from './layout.js';
import type { PanelPage } from './panel.js';

export const DNS_PATHS = ['/domains/:name/dns', '/domains/:name/dns/remove'];

/** What `GET /v1/domains/{name}/tlsa` answers (handlers.ts). */
interface TlsaListing {
  zone: string;
  complete: boolean;
  notice: string | null;
  owners: {
    owner: string;
    ttl: number | null;
    records: { rdata: string; kind: 'ours' | 'hand-made'; since: string | null }[];
    stale: string[];
  }[];
}

type Form = Record<string, string>;

// The seed's drop-downs ("3, DANE-EE", "1, SPKI", "1, SHA-256"); the values are the numbers
// RFC 6698 §2.1 assigns, the names RFC 7218's mnemonics.
const USAGES = [
  ['0', '0, PKIX-TA'],
  ['1', '1, PKIX-EE'],
  ['2', '2, DANE-TA'],
  ['3', '3, DANE-EE'],
] as const;
const SELECTORS = [
  ['0', '0, Cert (the whole certificate)'],
  ['1', '1, SPKI (the public key)'],
] as const;
const MTYPES = [
  ['0', '0, Full (no hash)'],
  ['1', '1, SHA-256'],
  ['2', '2, SHA-512'],
] as const;
const PROTOCOLS = [
  ['tcp', 'tcp'],
  ['udp', 'udp'],
  ['sctp', 'sctp'],
] as const;

const FIELD_LABEL: Record<TlsaFormField, string> = {
  port: 'Port',
  protocol: 'Protocol',
  name: 'Domain name',
  usage: 'Usage',
  selector: 'Selector',
  mtype: 'Matching type',
  data: 'Certificate association data',
  ttl: 'TTL',
};

const normName = (s: string) => s.trim().toLowerCase().replace(/\.$/, '');

/**
 * The seed's "Domain name" field holds `mail`, the label in front of the domain (Plesk appends
 * the domain): a name without a dot is taken as relative to the page's domain; anything else
 * is sent as typed, so a name outside the user's zones is the API's to refuse.
 */
export function hostOf(field: string, domain: string): string {
  const t = field.trim();
  return t !== '' && !t.includes('.') ? `${t}.${domain}` : t;
}

/** `_25._tcp.mail.example.org.` as the remove route takes it (RFC 6698 §3). */
export function splitOwner(
  owner: string,
): { name: string; port: number; protocol: 'tcp' | 'udp' | 'sctp' } | null {
  const m = /^_([0-9]{1,5})\._(tcp|udp|sctp)\.(.+?)\.?$/i.exec(owner.trim());
  if (!m) return null;
  return {
    port: Number(m[1]),
    protocol: m[2]!.toLowerCase() as 'tcp' | 'udp' | 'sctp',
    name: m[3]!.toLowerCase(),
  };
}

const options = (list: readonly (readonly [string, string])[], chosen: string) =>
  list.map(
    ([v, label]) =>
      html`<option value="${v}" ${v === chosen ? html`selected` : ''}>${label}</option>`,
  );

export const dnsPage: PanelPage = {
  paths: DNS_PATHS,
  register(app, kit) {
    const domainOf = (c: Context) => normName(c.req.param('name') ?? '');
    const url = (d: string) => `/domains/${encodeURIComponent(d)}/dns`;

    /** The domain if the viewer may read its DNS; another customer's answers as missing. */
    const allowed = (c: Context): string | null => {
      const name = domainOf(c);
      const v = kit.me(c);
      return name !== '' && authorize(v.user, 'dns.read', name) ? name : null;
    };

    const listing = async (
      c: Context,
      domain: string,
    ): Promise<
      { ok: true; l: TlsaListing } | { ok: false; status: PageStatus; message: string }
    > => {
      const v = kit.me(c);
      try {
        const l = (await kit.deps.call('GET /v1/domains/{name}/tlsa', {
          user: v.user,
          params: { name: domain },
          source: kit.source(c),
        })) as TlsaListing;
        return { ok: true, l };
      } catch (e) {
        const f = callFailure(e);
        return { ok: false, status: f.status, message: f.message };
      }
    };

    const recordsTable = (domain: string, l: TlsaListing): Html => {
      const rows = l.owners.flatMap((o) => [
        ...o.records.map((r) => ({ owner: o.owner, ttl: o.ttl, ...r, stale: false })),
        ...o.stale.map((rdata) => ({
          owner: o.owner,
          ttl: null,
          rdata,
          kind: 'ours' as const,
          since: null,
          stale: true,
        })),
      ]);
      if (rows.length === 0) return html`<p>No TLSA records under ${domain} in ${l.zone}.</p>`;
      return html`<table>
        <caption class="visually-hidden">
          TLSA records under ${domain}
        </caption>
        <thead>
          <tr>
            <th scope="col">Owner</th>
            <th scope="col">Record</th>
            <th scope="col">TTL</th>
            <th scope="col">Made by</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (r) =>
              html`<tr>
                <td><code>${r.owner}</code></td>
                <td><code>${breakable(r.rdata)}</code></td>
                <td>${r.ttl ?? '—'}</td>
                <td>
                  ${
                    r.stale
                      ? html`<span class="badge badge-failing">stale</span> published by danekeeper,
                          no longer served: someone removed it`
                      : r.kind === 'ours'
                        ? html`<span class="badge badge-verified">danekeeper</span>${
                              r.since
                                ? html` since <time datetime="${r.since}">${r.since}</time>`
                                : ''
                            }`
                        : html`<span class="badge badge-off">by hand</span>`
                  }
                </td>
                <td>
                  ${
                    r.kind === 'ours' && !r.stale
                      ? html`<form method="get" action="${url(domain)}/remove">
                          <input type="hidden" name="owner" value="${r.owner}" />
                          <input type="hidden" name="rdata" value="${r.rdata}" />
                          <button type="submit">
                            Remove…<span class="visually-hidden">
                              ${r.rdata.slice(0, 20)}… at ${r.owner}</span
                            >
                          </button>
                        </form>`
                      : r.stale
                        ? '—'
                        : 'Remove it where it was made'
                  }
                </td>
              </tr>`,
          )}
        </tbody>
      </table>`;
    };

    /** One field with its label, hint and error, the error tied by aria-describedby. */
    const field = (
      name: TlsaFormField,
      errors: Partial<Record<TlsaFormField, string>>,
      control: (attrs: Html) => Html,
      hint?: string,
    ) => {
      const id = `tlsa-${name}`;
      const err = errors[name];
      const described = [hint ? `${id}-hint` : '', err ? `${id}-error` : '']
        .filter(Boolean)
        .join(' ');
      const attrs = html`id="${id}" name="${name}"
      ${described ? html`aria-describedby="${described}"` : ''}
      ${err ? html`aria-invalid="true"` : ''}`;
      return html`<label for="${id}">${FIELD_LABEL[name]}</label>
        ${hint ? html`<p class="hint" id="${id}-hint">${hint}</p>` : ''}
        ${err ? html`<p class="error" id="${id}-error">${err}</p>` : ''} ${control(attrs)}`;
    };

    const addForm = (
      c: Context,
      domain: string,
      f: Form,
      errors: Partial<Record<TlsaFormField, string>>,
    ) =>
      html`<form method="post" action="${url(domain)}" novalidate>
        ${csrfField(kit.me(c).csrf)}
        ${field(
          'port',
          errors,
          (a) => html`<input ${a} inputmode="numeric" value="${f.port ?? '25'}" required />`,
          'The service port: 25 for SMTP, 443 for HTTPS (no underscore: it is added).',
        )}
        ${field(
          'protocol',
          errors,
          (a) =>
            html`<select ${a}>
              ${options(PROTOCOLS, f.protocol ?? 'tcp')}
            </select>`,
        )}
        ${field(
          'name',
          errors,
          (a) => html`<input ${a} value="${f.name ?? ''}" required />`,
          `The host the service runs on: mail (for mail.${domain}) or a full name in ${domain}.`,
        )}
        ${field(
          'usage',
          errors,
          (a) =>
            html`<select ${a}>
              ${options(USAGES, f.usage ?? '3')}
            </select>`,
          'For mail between servers only 2 (DANE-TA) and 3 (DANE-EE) count (RFC 7672 §3.1.3).',
        )}
        ${field(
          'selector',
          errors,
          (a) =>
            html`<select ${a}>
              ${options(SELECTORS, f.selector ?? '1')}
            </select>`,
        )}
        ${field(
          'mtype',
          errors,
          (a) =>
            html`<select ${a}>
              ${options(MTYPES, f.mtype ?? '1')}
            </select>`,
        )}
        ${field(
          'data',
          errors,
          (a) => html`<textarea ${a} required>${f.data ?? ''}</textarea>`,
          'Hex digits: the hash of the public key for 3 1 1 (the Generate page computes it).',
        )}
        ${field(
          'ttl',
          errors,
          (a) => html`<input ${a} inputmode="numeric" value="${f.ttl ?? ''}" />`,
          "Seconds; leave it blank for the zone's default.",
        )}
        <p><button type="submit">Add the record</button></p>
      </form>`;

    const dnsView = async (
      c: Context,
      domain: string,
      o: {
        status?: 200 | PageStatus;
        form?: Form;
        errors?: Partial<Record<TlsaFormField, string>>;
        /** the form's refusal (role=alert, above the form) */
        alert?: Html;
        /** what was done (role=status) */
        done?: Html;
      } = {},
    ) => {
      const got = await listing(c, domain);
      const errors = o.errors ?? {};
      // A failing listing (backend down) is said, with the form still there: the status of the
      // form's answer wins over the listing's.
      const status = o.status ?? (got.ok ? 200 : got.status);
      return kit.render(c, status, {
        title: `DNS of ${domain}`,
        viewer: kit.me(c),
        current: '/domains',
        body: html`<p>
            <a href="/domains/${encodeURIComponent(domain)}">Back to ${domain}</a> ·
            <a href="/dnssec?${new URLSearchParams({ domain })}">DNSSEC of ${domain}</a>
          </p>
          ${o.done ? html`<div class="note" role="status">${o.done}</div>` : ''}
          <h2>TLSA records</h2>
          ${
            got.ok
              ? html`<p>Zone: <code>${got.l.zone}</code></p>
                  ${got.l.notice ? html`<p class="note">${got.l.notice}</p>` : ''}
                  ${recordsTable(domain, got.l)}`
              : html`<p class="error" role="alert">${got.message}</p>`
          }
          <h2>Add a TLSA record</h2>
          ${o.alert ?? ''} ${addForm(c, domain, o.form ?? {}, errors)}`,
      });
    };

    app.get('/domains/:name/dns', async (c) => {
      const domain = allowed(c);
      if (!domain) return kit.notFound(c, kit.me(c));
      return dnsView(c, domain);
    });

    app.post('/domains/:name/dns', async (c) => {
      const v = kit.me(c);
      const domain = allowed(c);
      if (!domain) return kit.notFound(c, v);
      const f = await kit.form(c);
      const body: Record<string, string> = {};
      for (const k of [
        'port',
        'protocol',
        'name',
        'usage',
        'selector',
        'mtype',
        'data',
        'ttl',
      ] as const) {
        body[k] = k === 'name' ? hostOf(f[k] ?? '', domain) : (f[k] ?? '');
      }
      try {
        const r = (await kit.deps.call('POST /v1/domains/{name}/tlsa', {
          user: v.user,
          params: { name: domain },
          body,
          source: kit.source(c),
        })) as { owner: string; rdata: string; ttl: number; changed: boolean; warnings: string[] };
        return dnsView(c, domain, {
          done: html`<p>
              ${r.changed ? 'Added' : 'Already published:'} <code>${r.rdata}</code> at
              <code>${r.owner}</code> (TTL ${r.ttl}).
            </p>
            ${r.warnings.map((w) => html`<p>${w}</p>`)}`,
        });
      } catch (e) {
        const fail = callFailure(e);
        // The API's form errors name their fields ("port: ..."): the same pure rule it ran
        // (core/forms validateTlsaForm) gives them one by one, to sit next to each field.
        const errors: Partial<Record<TlsaFormField, string>> = {};
        if (fail.code === 'E_API_FORM') {
          const again = validateTlsaForm(body, [domain]);
          if (!again.ok) for (const x of again.errors) errors[x.field] ??= x.message;
        }
        const listed = Object.entries(errors) as [TlsaFormField, string][];
        return dnsView(c, domain, {
          status: fail.status,
          form: f,
          errors,
          alert: html`<div class="error" role="alert">
            <p>The record was not added${listed.length ? ':' : `: ${fail.message}`}</p>
            ${
              listed.length
                ? html`<ul>
                    ${listed.map(
                      ([k, m]) => html`<li><a href="#tlsa-${k}">${FIELD_LABEL[k]}</a>: ${m}</li>`,
                    )}
                  </ul>`
                : ''
            }
          </div>`,
        });
      }
    });

    const confirmView = (
      c: Context,
      domain: string,
      status: 200 | PageStatus,
      owner: string,
      rdata: string,
      alert?: string,
    ) =>
      kit.render(c, status, {
        title: 'Remove a TLSA record',
        viewer: kit.me(c),
        current: '/domains',
        body: html`${alert ? html`<p class="error" role="alert">${alert}</p>` : ''}
        ${
          splitOwner(owner) && rdata.trim() !== ''
            ? html`<p>Remove this record from the zone?</p>
                <dl>
                  <dt>Owner</dt>
                  <dd><code>${owner}</code></dd>
                  <dt>Record</dt>
                  <dd><code>${breakable(rdata)}</code></dd>
                </dl>
                <p>
                  DANE senders stop trusting a certificate whose key only this record names:
                  danekeeper refuses the removal while a live service still needs it.
                </p>
                <form method="post" action="${url(domain)}/remove">
                  ${csrfField(kit.me(c).csrf)}
                  <input type="hidden" name="owner" value="${owner}" />
                  <input type="hidden" name="rdata" value="${rdata}" />
                  <p>
                    <button type="submit">Remove the record</button>
                    <a href="${url(domain)}">Cancel</a>
                  </p>
                </form>`
            : html`<p><a href="${url(domain)}">Back to the DNS of ${domain}</a></p>`
        }`,
      });

    app.get('/domains/:name/dns/remove', (c) => {
      const domain = allowed(c);
      if (!domain) return kit.notFound(c, kit.me(c));
      const owner = c.req.query('owner') ?? '';
      const rdata = c.req.query('rdata') ?? '';
      if (!splitOwner(owner) || rdata.trim() === '') {
        return confirmView(c, domain, 400, owner, rdata, 'No TLSA record was named to remove.');
      }
      return confirmView(c, domain, 200, owner, rdata);
    });

    app.post('/domains/:name/dns/remove', async (c) => {
      const v = kit.me(c);
      const domain = allowed(c);
      if (!domain) return kit.notFound(c, v);
      const f = await kit.form(c);
      const owner = f.owner ?? '';
      const rdata = f.rdata ?? '';
      const at = splitOwner(owner);
      if (!at) {
        return confirmView(
          c,
          domain,
          400,
          owner,
          rdata,
          `${owner || 'The owner'} is not a _PORT._PROTO.HOST name.`,
        );
      }
      try {
        const r = (await kit.deps.call('POST /v1/domains/{name}/tlsa/remove', {
          user: v.user,
          params: { name: domain },
          body: { ...at, rdata },
          source: kit.source(c),
        })) as { owner: string; removed: string };
        return dnsView(c, domain, {
          done: html`<p>Removed <code>${r.removed}</code> from <code>${r.owner}</code>.</p>`,
        });
      } catch (e) {
        const fail = callFailure(e);
        return confirmView(
          c,
          domain,
          fail.status,
          owner,
          rdata,
          `The record was not removed: ${fail.message}`,
        );
      }
    });
  },
};
