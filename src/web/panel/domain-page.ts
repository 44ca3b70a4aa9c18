/**
 * A domain's page (issue 11 item 2, "A domain's SSL/TLS certificates"): status, the certificate
 * and its .pem download, DANE on/off, "Renew now", removal, the propagation progress and the
 * rollover timeline. Every change goes through the API's route logic (`deps.call`), so it is
 * authorized and audited exactly as the API call is. Another customer's domain answers exactly
 * like a missing one (404), for reads and for changes.
 */
import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { authorize, type DomainAction } from '../../auth/authz.js';
import type { Domain } from '../../store/domains.js';
import type { PanelKit, PanelPage } from './panel.js';
import {
  badge,
  BADGE_TEXT,
  badgeHtml,
  pathName,
  refusal,
  statusOf,
  type RefusalStatus,
} from './domain-common.js';
import { progressHtml, progressOf, timeline, timelineHtml } from './domain-progress.js';
import { csrfField } from './layout.js';
import { formatRdata } from '../../core/tlsa/format.js';
import { tlsaOwner } from '../../core/tlsa/record.js';

/** What a finished action says on the page it redirects to (fixed texts: no query reflected). */
const DONE: Record<string, string> = {
  added:
    'Added. The next keep-secured pass obtains the certificate; with DANE support it publishes the TLSA records first and waits until every nameserver serves them.',
  'dane-on':
    'DANE turned on: the next pass publishes the TLSA records, waits until every nameserver serves them, and only then relies on them.',
  'dane-off': "DANE turned off: the next pass removes danekeeper's TLSA records.",
  renew: 'Renewal requested: the next keep-secured pass renews the certificate.',
};

/** The certificates of a PEM bundle, nothing else (never a key, whatever the store holds). */
export function certificatesOnly(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => `${b}\n`).join('');
}

export function domainPage(): PanelPage {
  return {
    paths: ['/domains/*'],
    register(app: Hono, kit: PanelKit) {
      const { deps } = kit;
      const daneOn = () => deps.daneEnabled?.() ?? false;
      // For what the page says the pass does: an unwired panel (no daneEnabled) cannot know the
      // server's setting, so it shows the domain's own flag; it still never offers DANE (daneOn).
      const serverDane = () => deps.daneEnabled?.() ?? true;

      /** The TLSA records danekeeper published at the domain's endpoints and still holds as its own. */
      const stillPublished = (d: Domain) => {
        const owners = new Set(d.endpoints.map((e) => tlsaOwner(e.host, e.port, e.proto)));
        return deps.state.ownership
          .list()
          .filter((o) => owners.has(o.owner.toLowerCase()))
          .map((o) => ({ owner: o.owner, rdata: formatRdata(o.record), at: o.createdAt }));
      };

      /** The domain when the viewer may do `action` on it; null answers 404 (not 403). */
      const domainFor = (c: Context, action: DomainAction): Domain | null => {
        const v = kit.me(c);
        const d = deps.state.domains.get(pathName(c.req.param('name') ?? ''));
        return d && authorize(v.user, action, d.name) ? d : null;
      };

      const show = async (
        c: Context,
        d: Domain,
        status: 200 | RefusalStatus = 200,
        message?: string,
      ) => {
        const v = kit.me(c);
        const s = await statusOf(deps.status, d);
        const events = deps.state.events.list({ domain: d.name, limit: 50 });
        const cert = s?.certificate ?? null;
        const installed = deps.state.certificates.installed(d.name);
        const done = DONE[c.req.query('done') ?? ''];
        const base = `/domains/${encodeURIComponent(d.name)}`;
        const may = (a: DomainAction) => authorize(v.user, a, d.name);
        // the domain's DANE as the pass sees it: its own flag under the server's daneEnabled
        const dane = d.dane && serverDane();
        const progress = progressOf(dane, s, deps.now());
        // DANE off with nothing left in DNS: there is nothing to propagate, so no table of
        // nameservers, no polling script, one plain sentence (leftover records being removed
        // after "Turn DANE off" still show, with their servers, until they are gone).
        // The status lists no records for a domain with DANE off, but danekeeper's own ledger
        // of what it published (the ownership store) may still hold some: those are in the
        // zone and senders still rely on them (RFC 7672 §2.2), so the page must not say
        // "nothing to propagate" while they are there.
        const left = !dane && progress.records.length === 0 ? stillPublished(d) : [];
        const quiet = !dane && progress.records.length === 0 && left.length === 0;
        return kit.render(c, status, {
          title: d.name,
          viewer: v,
          current: '/domains',
          ...(quiet ? {} : { scripts: ['/progress.js'] }),
          body: html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
            ${done && !message ? html`<p class="note" role="status">${done}</p>` : ''}
            <p id="domain-badge">${badgeHtml(badge(d, s, serverDane()))}</p>
            ${
              kit.serves('/domains/:name/dns') || kit.serves('/dnssec') || kit.serves('/check')
                ? html`<nav aria-label="This domain">
                    <ul>
                      ${kit.serves('/domains/:name/dns') ? html`<li><a href="${base}/dns">DNS records</a></li>` : ''}
                      ${kit.serves('/dnssec') ? html`<li><a href="/dnssec?${new URLSearchParams({ domain: d.name })}">DNSSEC</a></li>` : ''}
                      ${kit.serves('/check') ? html`<li><a href="/check?${new URLSearchParams({ domain: d.name })}">Check</a></li>` : ''}
                    </ul>
                  </nav>`
                : ''
            }
            ${s?.error ? html`<p class="error" role="alert">${s.error.message}</p>` : ''}
            ${s?.hint ? html`<p class="note">${s.hint}</p>` : ''}
            <section aria-labelledby="cert-h">
              <h2 id="cert-h">Certificate</h2>
              <dl>
                <dt>Names</dt>
                <dd>
                  ${[...(d.includeDomainName ? [d.name] : []), ...d.subdomains.map((x) => `${x}.${d.name}`)].join(', ')}
                </dd>
                <dt>Mail host</dt>
                <dd>${d.mailHosts.join(', ') || '—'}</dd>
                ${
                  cert
                    ? html`<dt>Serial</dt>
                        <dd><code>${cert.serial}</code></dd>
                        <dt>Valid from</dt>
                        <dd><time datetime="${cert.notBefore}">${cert.notBefore}</time></dd>
                        <dt>Valid until</dt>
                        <dd><time datetime="${cert.notAfter}">${cert.notAfter}</time></dd>
                        <dt>Verified live</dt>
                        <dd>${cert.verified ? 'yes' : 'no'}</dd>`
                    : ''
                }
              </dl>
              ${
                installed
                  ? html`<p>
                      <a href="${base}/certificate.pem" download
                        >Download the certificate (${d.name}-fullchain.pem)</a
                      >
                      — the certificate and its chain, never the private key.
                    </p>`
                  : html`<p>No certificate installed yet.</p>`
              }
            </section>
            ${
              may('domain.change')
                ? html`<section aria-labelledby="actions-h">
                    <h2 id="actions-h">Actions</h2>
                    ${
                      d.dane && !serverDane()
                        ? html`<p>
                            DANE is on for this domain, but DANE support is turned off on this
                            server (daneEnabled = false): danekeeper publishes no TLSA records for
                            any domain and removes the ones it published.
                          </p>`
                        : d.dane
                          ? html`<form method="post" action="${base}/disable-dane">
                              ${csrfField(v.csrf)}
                              <p id="dane-off-text">
                                DANE is on. Turning it off makes the next pass remove danekeeper's
                                TLSA records: sending servers then stop authenticating this mail
                                host.
                              </p>
                              <button type="submit" aria-describedby="dane-off-text">
                                Turn DANE off
                              </button>
                            </form>`
                          : daneOn()
                            ? html`<form method="post" action="${base}/enable-dane">
                                ${csrfField(v.csrf)}
                                <p id="dane-on-text">
                                  DANE is off. Turning it on publishes TLSA records for the mail
                                  host; the certificate relies on them only after every nameserver
                                  serves them for the confirmation interval. The zone must be
                                  DNSSEC-signed.
                                </p>
                                <button type="submit" aria-describedby="dane-on-text">
                                  Turn DANE on
                                </button>
                              </form>`
                            : html`<p>
                                DANE is off, and DANE support is turned off on this server.
                              </p>`
                    }
                    <form method="post" action="${base}/renew">
                      ${csrfField(v.csrf)}
                      <p id="renew-text">
                        Renews the certificate at the next keep-secured pass, whatever its expiry.
                      </p>
                      <button type="submit" aria-describedby="renew-text">Renew now</button>
                    </form>
                    ${
                      may('domain.remove')
                        ? html`<p><a href="${base}/remove">Remove this domain…</a></p>`
                        : ''
                    }
                  </section>`
                : ''
            }
            ${
              left.length
                ? html`<section aria-labelledby="progress-h" id="progress">
                    <h2 id="progress-h">Propagation</h2>
                    <p id="progress-summary">
                      DANE is off, but
                      ${left.length === 1 ? 'this TLSA record' : `these ${left.length} TLSA records`}
                      danekeeper published ${left.length === 1 ? 'is' : 'are'} still in the zone:
                      sending servers that check DANE keep relying on
                      ${left.length === 1 ? 'it' : 'them'} until danekeeper removes
                      ${left.length === 1 ? 'it' : 'them'}.
                    </p>
                    <table>
                      <caption>
                        TLSA records still published
                      </caption>
                      <thead>
                        <tr>
                          <th scope="col">Owner</th>
                          <th scope="col">Record</th>
                          <th scope="col">Published</th>
                        </tr>
                      </thead>
                      <tbody>
                        ${left.map(
                          (r) =>
                            html`<tr>
                              <td><code>${r.owner}</code></td>
                              <td><code>${r.rdata}</code></td>
                              <td><time datetime="${r.at}">${r.at}</time></td>
                            </tr>`,
                        )}
                      </tbody>
                    </table>
                    ${
                      kit.serves('/domains/:name/dns')
                        ? html`<p>
                            To take ${left.length === 1 ? 'it' : 'them'} out now:
                            <a href="${base}/dns">DNS records of ${d.name}</a>.
                          </p>`
                        : ''
                    }
                  </section>`
                : quiet
                  ? html`<section aria-labelledby="progress-h" id="progress">
                      <h2 id="progress-h">Propagation</h2>
                      <p id="progress-summary">
                        DANE is off: this domain has no TLSA records, so there is nothing to
                        propagate.
                      </p>
                    </section>`
                  : progressHtml(d.name, progress)
            }
            ${timelineHtml(timeline(events, s, deps.now()), events)}`,
        });
      };

      app.get('/domains/:name', async (c) => {
        const d = domainFor(c, 'domain.read');
        return d ? show(c, d) : kit.notFound(c, kit.me(c));
      });

      app.get('/domains/:name/progress.json', async (c) => {
        const d = domainFor(c, 'domain.read');
        if (!d) return c.json({ error: { code: 'E_NOT_FOUND', message: 'No such domain' } }, 404);
        const s = await statusOf(deps.status, d);
        const now = deps.now();
        const events = deps.state.events.list({ domain: d.name, limit: 50 });
        // the badge and the timeline too: the script turns "waiting" into "DANE verified" and
        // fills in each step as it happens, without a reload
        const b = badge(d, s, serverDane());
        return c.json({
          ...progressOf(d.dane && serverDane(), s, now),
          badge: { kind: b, text: BADGE_TEXT[b] },
          steps: timeline(events, s, now),
        });
      });

      app.get('/domains/:name/certificate.pem', (c) => {
        const d = domainFor(c, 'domain.read');
        const pem = d
          ? certificatesOnly(deps.state.certificates.installed(d.name)?.chainPem ?? '')
          : '';
        if (!d || pem === '') return kit.notFound(c, kit.me(c));
        return c.body(pem, 200, {
          // RFC 8555 §9.1: the media type of a PEM certificate chain
          'content-type': 'application/pem-certificate-chain',
          // RFC 6266 §4: a download, named after the domain (its characters are [a-z0-9.-])
          'content-disposition': `attachment; filename="${d.name}-fullchain.pem"`,
        });
      });

      /** A POST that calls one API route about the domain, then shows the page again. */
      const action = (path: string, route: string, done: string) =>
        app.post(`/domains/:name/${path}`, async (c) => {
          const d = domainFor(c, 'domain.change');
          if (!d) return kit.notFound(c, kit.me(c));
          try {
            await deps.call(route, {
              user: kit.me(c).user,
              params: { name: d.name },
              source: kit.source(c),
            });
          } catch (e) {
            const r = refusal(e);
            return show(c, deps.state.domains.get(d.name) ?? d, r.status, r.message);
          }
          return c.redirect(`/domains/${encodeURIComponent(d.name)}?done=${done}`, 303);
        });
      action('enable-dane', 'POST /v1/domains/{name}/enable-dane', 'dane-on');
      action('disable-dane', 'POST /v1/domains/{name}/disable-dane', 'dane-off');
      action('renew', 'POST /v1/domains/{name}/renew', 'renew');

      const removePage = (c: Context, d: Domain, status: 200 | RefusalStatus, message?: string) => {
        const v = kit.me(c);
        const base = `/domains/${encodeURIComponent(d.name)}`;
        return kit.render(c, status, {
          title: `Remove ${d.name}`,
          viewer: v,
          current: '/domains',
          body: html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
            <p id="remove-text">
              danekeeper stops managing ${d.name}: no more renewals, no more TLSA updates. Its
              certificate files and its TLSA records stay where they are; remove the records
              yourself before the certificate's key changes, or mail to it will fail.
            </p>
            <form method="post" action="${base}/remove">
              ${csrfField(v.csrf)}
              <p>
                <button type="submit" aria-describedby="remove-text">Remove ${d.name}</button>
                <a href="${base}">Cancel</a>
              </p>
            </form>`,
        });
      };

      app.get('/domains/:name/remove', (c) => {
        const d = domainFor(c, 'domain.remove');
        return d ? removePage(c, d, 200) : kit.notFound(c, kit.me(c));
      });

      app.post('/domains/:name/remove', async (c) => {
        const d = domainFor(c, 'domain.remove');
        if (!d) return kit.notFound(c, kit.me(c));
        try {
          await deps.call('DELETE /v1/domains/{name}', {
            user: kit.me(c).user,
            params: { name: d.name },
            source: kit.source(c),
          });
        } catch (e) {
          const r = refusal(e);
          return removePage(c, d, r.status, r.message);
        }
        // POST-redirect-GET: a reload of the result must not send the removal again
        return c.redirect('/domains?done=removed', 303);
      });
    },
  };
}
