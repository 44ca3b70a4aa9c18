/**
 * The panel's DNSSEC page (issue 11 item 2, "DNSSEC"; seeds: dane-postfix-powerdns-howto's
 * registrar DS step): the status of the zone holding a domain (signing, chain of trust, keys,
 * RRSIG expiry, each authoritative server) and the DS / DNSKEY to hand to the registrar, each
 * in a readonly textarea the user can select without any script, plus a "Copy" button that
 * /dnssec/copy.js adds when scripts run (the panel's CSP allows script-src 'self').
 * The report is the API's (`GET /v1/domains/{name}/dnssec`), the same as `dnssec status --json`.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { DnssecReport } from '../../publish/dnssec-status.js';
import { callFailure, type PageStatus } from './call-error.js';
import { breakable } from './breakable.js';
import { panelFix } from './domain-common.js';
import type { Html } from './layout.js';
import type { PanelPage } from './panel.js';

export const COPY_SCRIPT_PATH = '/dnssec/copy.js';

/**
 * Progressive enhancement: without scripts the readonly textareas are the fallback (select and
 * copy by hand), so the buttons are made here rather than rendered as dead controls. The
 * Clipboard API needs a secure context (TLS or localhost); elsewhere the text is selected and
 * the status line says to press the copy key.
 */
export const COPY_SCRIPT = `'use strict';
document.querySelectorAll('textarea[data-copy]').forEach(function (t) {
  var b = document.createElement('button');
  b.type = 'button';
  b.textContent = 'Copy ' + t.getAttribute('data-copy');
  var s = document.createElement('span');
  s.setAttribute('role', 'status');
  b.addEventListener('click', function () {
    var done = function () { s.textContent = 'Copied.'; };
    var fallback = function () {
      t.focus();
      t.select();
      s.textContent = 'Selected: press Ctrl+C (or Cmd+C) to copy.';
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(t.value).then(done, fallback);
    } else {
      fallback();
    }
  });
  var p = document.createElement('p');
  p.appendChild(b);
  p.appendChild(document.createTextNode(' '));
  p.appendChild(s);
  t.insertAdjacentElement('afterend', p);
});
`;

const EXPIRY_WARNING_MS = 3 * 86400_000;

const when = (iso: string) => html`<time datetime="${iso}">${iso}</time>`;

/** A readonly, selectable copy of a record, labelled; the script adds its Copy button. */
function copyBox(id: string, label: string, what: string, value: string): Html {
  // RFC 4034 §5.3 / §2.2 presentation form: one line each, so rows fit the record.
  return html`<label for="${id}">${label}</label>
    <textarea id="${id}" readonly rows="3" data-copy="${what}">${value}</textarea>`;
}

export function dnssecHtml(r: DnssecReport, now: Date): Html {
  const chain = r.chain;
  // core/dnssec/readiness.ts's rule: BIND re-signs 5 days ahead, so under 3 days left means
  // re-signing stopped; RFC 4035 §5.3.1: past its expiration an RRSIG validates nothing.
  const expiry = (iso: string): Html | '' => {
    const left = new Date(iso).getTime() - now.getTime();
    if (left <= 0) return html` <span class="badge badge-failing">expired</span>`;
    if (left < EXPIRY_WARNING_MS)
      return html` <span class="badge badge-waiting">expires soon</span>`;
    return '';
  };
  return html`<section aria-labelledby="status-h">
      <h2 id="status-h">Status of ${r.zone}</h2>
      <dl>
        <dt>Ready for DANE</dt>
        <dd>
          ${
            r.ready
              ? html`<span class="badge badge-verified">yes</span>`
              : html`<span class="badge badge-failing">no</span>`
          }
        </dd>
        <dt>Chain of trust</dt>
        <dd>
          ${chain.status} (SOA ${chain.soa}, DNSKEY
          ${chain.dnskey})${chain.why ? html` — ${chain.why}` : ''}
        </dd>
        <dt>Signing</dt>
        <dd>${r.signing}</dd>
        <dt>Parent zone</dt>
        <dd>${r.parent ?? '—'}</dd>
        <dt>DS at the parent</dt>
        <dd>
          ${
            r.parentDs === null
              ? 'no parent server answered'
              : r.parentDs.length
                ? html`<ul>
                    ${r.parentDs.map((d) => html`<li><code>${breakable(d)}</code></li>`)}
                  </ul>`
                : 'none'
          }
        </dd>
        <dt>Checked at</dt>
        <dd>${when(r.checkedAt)}</dd>
      </dl>
    </section>
    <section aria-labelledby="findings-h">
      <h2 id="findings-h">Findings</h2>
      ${
        r.findings.length
          ? html`<ul>
              ${r.findings.map(
                (f) =>
                  html`<li>
                    <strong>${f.severity}</strong> (<code>${f.subject}</code>): ${f.message}
                    ${f.fix ? html`<pre>${panelFix(f.fix)}</pre>` : ''}
                  </li>`,
              )}
            </ul>`
          : html`<p>None.</p>`
      }
    </section>
    <section aria-labelledby="registrar-h">
      <h2 id="registrar-h">For the registrar</h2>
      ${
        r.registrar.length
          ? r.registrar.map(
              (k, i) =>
                html`<h3>Key ${k.keyTag} (${k.algorithmName})</h3>
                  <dl>
                    <dt>Key tag</dt>
                    <dd>${k.keyTag}</dd>
                    <dt>Algorithm</dt>
                    <dd>${k.algorithm} (${k.algorithmName})</dd>
                    <dt>Digest type</dt>
                    <dd>${k.digestType} (${k.digestTypeName})</dd>
                    <dt>Digest</dt>
                    <dd><code>${breakable(k.digest)}</code></dd>
                  </dl>
                  ${copyBox(`ds-${i}`, `DS record of key ${k.keyTag}`, 'DS', k.ds)}
                  ${copyBox(`dnskey-${i}`, `DNSKEY record of key ${k.keyTag}`, 'DNSKEY', k.dnskey)}`,
            )
          : html`<p>No key-signing key is published: nothing to give the registrar yet.</p>`
      }
    </section>
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">Keys</h2>
      ${
        r.keys.length
          ? html`<table>
              <caption class="visually-hidden">
                DNSKEY records of ${r.zone}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Key tag</th>
                  <th scope="col">Role</th>
                  <th scope="col">Algorithm</th>
                  <th scope="col">Flags</th>
                </tr>
              </thead>
              <tbody>
                ${r.keys.map(
                  (k) =>
                    html`<tr>
                      <th scope="row">${k.keyTag}</th>
                      <td>${k.role.toUpperCase()}</td>
                      <td>${k.algorithm} (${k.algorithmName})</td>
                      <td>${k.flags}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p>No DNSKEY records.</p>`
      }
    </section>
    <section aria-labelledby="sigs-h">
      <h2 id="sigs-h">Signatures</h2>
      ${
        r.signatures.length
          ? html`<table>
              <caption class="visually-hidden">
                RRSIG records and when they expire
              </caption>
              <thead>
                <tr>
                  <th scope="col">Covers</th>
                  <th scope="col">Key tag</th>
                  <th scope="col">Signed</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                ${r.signatures.map(
                  (s) =>
                    html`<tr>
                      <th scope="row">${s.covered}</th>
                      <td>${s.keyTag}</td>
                      <td>${when(s.inception)}</td>
                      <td>${when(s.expires)}${expiry(s.expires)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p>No signatures seen.</p>`
      }
    </section>
    <section aria-labelledby="servers-h">
      <h2 id="servers-h">Authoritative servers</h2>
      <table>
        <caption class="visually-hidden">
          Each authoritative server of ${r.zone}, asked directly
        </caption>
        <thead>
          <tr>
            <th scope="col">Server</th>
            <th scope="col">Address</th>
            <th scope="col">State</th>
            <th scope="col">Serial</th>
          </tr>
        </thead>
        <tbody>
          ${r.servers.map(
            (s) =>
              html`<tr>
                <th scope="row">${s.name}</th>
                <td>${s.address ?? '—'}</td>
                <td>${s.state}${s.why ? html` — ${s.why}` : ''}</td>
                <td>${s.serial ?? '—'}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

export const dnssecPage: PanelPage = {
  paths: ['/dnssec', COPY_SCRIPT_PATH],
  register(app, kit) {
    app.get(COPY_SCRIPT_PATH, (c) =>
      c.body(COPY_SCRIPT, 200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'max-age=3600',
      }),
    );

    const view = (
      c: Context,
      status: 200 | PageStatus,
      domain: string,
      o: { report?: Html; error?: string } = {},
    ) =>
      kit.render(c, status, {
        title: 'DNSSEC',
        viewer: kit.me(c),
        current: '/dnssec',
        body: html`<form method="get" action="/dnssec">
            <label for="dnssec-domain">Domain</label>
            ${
              o.error
                ? html`<p class="error" role="alert" id="dnssec-domain-error">${o.error}</p>`
                : ''
            }
            <input
              id="dnssec-domain"
              name="domain"
              value="${domain}"
              required
              ${o.error ? html`aria-describedby="dnssec-domain-error" aria-invalid="true"` : ''}
            />
            <p><button type="submit">Show</button></p>
          </form>
          ${o.report ?? ''}`,
        // only with records to copy; layout.ts loads it deferred (CSP script-src 'self')
        ...(o.report ? { scripts: [COPY_SCRIPT_PATH] } : {}),
      });

    app.get('/dnssec', async (c) => {
      const v = kit.me(c);
      const domain = (c.req.query('domain') ?? '').trim();
      if (c.req.query('domain') === undefined) return view(c, 200, '');
      if (domain === '') return view(c, 400, domain, { error: 'Enter a domain.' });
      try {
        const r = (await kit.deps.call('GET /v1/domains/{name}/dnssec', {
          user: v.user,
          params: { name: domain },
          source: kit.source(c),
        })) as DnssecReport;
        return view(c, 200, domain, { report: dnssecHtml(r, kit.deps.now()) });
      } catch (e) {
        const fail = callFailure(e);
        return view(c, fail.status, domain, { error: fail.message });
      }
    });
  },
};
