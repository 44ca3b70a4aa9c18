/**
 * The panel's Check page (issue 11 item 2, "Check"): `danekeeper check DOMAIN` for any domain,
 * rendered the way a remote DANE-enabled MTA sees it (RFC 7672): the verdict, then per MX host
 * per address the chain presented, which TLSA record matched, the DNSSEC status of every
 * lookup, and the warnings. Read-only, so the form is a GET (bookmarkable, no CSRF token);
 * the report comes from the API's route caller (`GET /v1/check/{name}`), the same function
 * as `check --json`.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { AddressReport, CheckReport, HostReport } from '../../check/report.js';
import { CheckQuery } from '../api/table.js';
import { callFailure, type PageStatus } from './call-error.js';
import { breakable } from './breakable.js';
import type { Html } from './layout.js';
import type { PanelPage } from './panel.js';

/** The badge class a verdict wears (layout.ts CSS): good, in between, bad, no DANE. */
export function verdictBadge(v: string): 'verified' | 'waiting' | 'failing' | 'off' {
  if (v === 'verified') return 'verified';
  // RFC 7672 §2.2: no DANE at all is ordinary opportunistic TLS, neither good nor failing.
  if (v === 'no-dane') return 'off';
  // failed: no record matches; dnssec-failure: bogus or SERVFAIL, a DANE sender defers mail.
  if (v === 'failed' || v === 'dnssec-failure') return 'failing';
  return 'waiting';
}

const verdictHtml = (v: string) => html`<span class="badge badge-${verdictBadge(v)}">${v}</span>`;

const when = (iso: string) => html`<time datetime="${iso}">${iso}</time>`;

const list = (xs: readonly string[] | undefined) =>
  xs && xs.length
    ? html`<ul>
        ${xs.map((x) => html`<li>${x}</li>`)}
      </ul>`
    : '';

function chainTable(a: AddressReport, caption: string): Html {
  if (!a.chain?.length) return html`<p>No certificate chain was presented.</p>`;
  return html`<table>
    <caption>
      ${caption}
    </caption>
    <thead>
      <tr>
        <th scope="col">Depth</th>
        <th scope="col">Subject</th>
        <th scope="col">Issuer</th>
        <th scope="col">Valid from</th>
        <th scope="col">Valid until</th>
        <th scope="col">Key</th>
        <th scope="col">Matched record</th>
      </tr>
    </thead>
    <tbody>
      ${a.chain.map(
        (x) =>
          html`<tr>
            <th scope="row">${x.depth}</th>
            <td>${x.subject}</td>
            <td>${x.issuer}</td>
            <td>${when(x.notBefore)}</td>
            <td>${when(x.notAfter)}</td>
            <td>${x.keyType}</td>
            <td>${x.match ? html`<code>${breakable(x.match)}</code>` : '—'}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function addressSection(h: HostReport, a: AddressReport): Html {
  return html`<section aria-label="${h.name} at ${a.address}">
    <h4>${a.address}</h4>
    <dl>
      <dt>Verdict</dt>
      <dd>${verdictHtml(a.verdict)}</dd>
      <dt>Address lookup (${a.family === 6 ? 'AAAA' : 'A'})</dt>
      <dd>DNSSEC ${a.status}</dd>
      <dt>TLS</dt>
      <dd>
        ${
          a.tls
            ? html`${a.tls.protocol},
              ${a.tls.cipher}${a.tls.servername ? html`, SNI <code>${a.tls.servername}</code>` : ''}`
            : 'no TLS session'
        }
      </dd>
      <dt>Matched</dt>
      <dd>
        ${
          a.matched
            ? html`<code>${breakable(a.matched.record)}</code> at depth ${a.matched.depth}`
            : 'no TLSA record'
        }
      </dd>
    </dl>
    ${chainTable(a, `Chain presented by ${h.name} at ${a.address}`)} ${list(a.reasons)}
  </section>`;
}

function hostSection(h: HostReport): Html {
  return html`<section aria-labelledby="host-${h.name}">
    <h3 id="host-${h.name}">
      ${h.name}${h.preference === null ? ' (the domain itself)' : ` (MX ${h.preference})`}
    </h3>
    <dl>
      <dt>Verdict</dt>
      <dd>${verdictHtml(h.verdict)}</dd>
      <dt>TLSA records at</dt>
      <dd>
        <code>${h.tlsa?.owner ?? `_25._tcp.${h.tlsaBase}`}</code>${
          h.tlsa
            ? html` (DNSSEC ${h.tlsa.status}${h.tlsa.ttl !== null ? `, TTL ${h.tlsa.ttl}` : ''})`
            : ''
        }
      </dd>
      <dt>Records</dt>
      <dd>
        ${
          h.tlsa?.records.length
            ? html`<ul>
                ${h.tlsa.records.map((r) => html`<li><code>${breakable(r)}</code></li>`)}
              </ul>`
            : 'none'
        }
      </dd>
    </dl>
    ${list(h.reasons)} ${(h.addresses ?? []).map((a) => addressSection(h, a))}
  </section>`;
}

export function reportHtml(r: CheckReport): Html {
  return html`<section aria-labelledby="result-h">
      <h2 id="result-h">Result for ${r.domain ?? 'the host'}: ${verdictHtml(r.verdict)}</h2>
      <dl>
        <dt>Service</dt>
        <dd>port ${r.service.port}, STARTTLS ${r.service.starttls}</dd>
        ${
          r.delivery
            ? html`<dt>Delivery</dt>
                <dd>${r.delivery.summary}</dd>`
            : ''
        }
        <dt>Resolver</dt>
        <dd>${r.resolver.summary}</dd>
        ${
          r.mx
            ? html`<dt>MX lookup</dt>
                <dd>
                  DNSSEC
                  ${r.mx.status}${r.mx.implicit ? ' (no MX: the domain itself takes mail)' : ''}
                </dd>`
            : ''
        }
        <dt>Checked at</dt>
        <dd>${when(r.checkedAt)}</dd>
      </dl>
      ${list(r.reasons)}
    </section>
    <section aria-labelledby="warnings-h">
      <h2 id="warnings-h">Warnings</h2>
      ${
        r.warnings.length
          ? html`<ul>
              ${r.warnings.map(
                (w) =>
                  html`<li>
                    <strong>${w.severity}</strong> (<code>${w.subject}</code>): ${w.message}
                  </li>`,
              )}
            </ul>`
          : html`<p>None.</p>`
      }
    </section>
    <section aria-labelledby="hosts-h">
      <h2 id="hosts-h">Mail hosts</h2>
      ${r.hosts.length ? r.hosts.map(hostSection) : html`<p>No mail host was found.</p>`}
    </section>
    <section aria-labelledby="dns-h">
      <h2 id="dns-h">DNS lookups</h2>
      <table>
        <caption class="visually-hidden">
          Every DNS lookup of the check with its DNSSEC status
        </caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">DNSSEC</th>
            <th scope="col">Answer</th>
          </tr>
        </thead>
        <tbody>
          ${r.dns.map(
            (d) =>
              html`<tr>
                <td><code>${d.name}</code></td>
                <td>${d.type}</td>
                <td>${d.status}</td>
                <td>
                  ${
                    d.records.length
                      ? d.records.map((x) => html`<code>${breakable(x)}</code><br />`)
                      : (d.rcode ?? 'no records')
                  }${d.why ? html` — ${d.why}` : ''}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

export const checkPage: PanelPage = {
  paths: ['/check'],
  register(app, kit) {
    const view = (
      c: Context,
      status: 200 | PageStatus,
      f: { domain: string; port: string },
      o: { report?: Html; error?: { field: 'domain' | 'port'; message: string } } = {},
    ) => {
      const err = o.error;
      const tie = (name: 'domain' | 'port') =>
        err?.field === name ? html`aria-describedby="check-${name}-error" aria-invalid="true"` : '';
      const errP = (name: 'domain' | 'port') =>
        err?.field === name
          ? html`<p class="error" role="alert" id="check-${name}-error">${err.message}</p>`
          : '';
      return kit.render(c, status, {
        title: 'Check',
        viewer: kit.me(c),
        current: '/check',
        body: html`<p>
            What a DANE-enabled mail server sees when it delivers to a domain: DNSSEC, the TLSA
            records, and the certificate chain every MX address presents.
          </p>
          <form method="get" action="/check">
            <label for="check-domain">Domain</label>
            ${errP('domain')}
            <input id="check-domain" name="domain" value="${f.domain}" required ${tie('domain')} />
            <label for="check-port">Port</label>
            ${errP('port')}
            <input
              id="check-port"
              name="port"
              inputmode="numeric"
              value="${f.port}"
              ${tie('port')}
            />
            <p><button type="submit">Check</button></p>
          </form>
          ${o.report ?? ''}`,
      });
    };

    app.get('/check', async (c) => {
      const v = kit.me(c);
      const domain = (c.req.query('domain') ?? '').trim();
      const port = (c.req.query('port') ?? '25').trim();
      const f = { domain, port };
      if (c.req.query('domain') === undefined) return view(c, 200, f);
      if (domain === '') {
        return view(c, 400, f, { error: { field: 'domain', message: 'Enter a domain to check.' } });
      }
      const query = port === '' ? {} : { port };
      try {
        const r = (await kit.deps.call('GET /v1/check/{name}', {
          user: v.user,
          params: { name: domain },
          query,
          source: kit.source(c),
        })) as CheckReport;
        return view(c, 200, f, { report: reportHtml(r) });
      } catch (e) {
        const fail = callFailure(e);
        // Which field the refusal is about: the API's own query schema tells a bad port.
        const field = CheckQuery.safeParse(query).success ? 'domain' : 'port';
        return view(c, fail.status, f, { error: { field, message: fail.message } });
      }
    });
  },
};
