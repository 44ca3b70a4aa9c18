/**
 * "Add a domain" (issue 11 item 2; seed plesk-dane-guide, "Hardening a Mail Connection Using
 * DANE via SSL It!", steps 4-8): the name first, then the certificate form with the seed's
 * checkboxes — "Secure the domain name", the subdomains, "Assign the certificate to the mail
 * domain" and "DANE support". The DANE checkbox is offered only when the server's daneEnabled
 * is on and the name passes the prerequisite checks (seed: "By default, DANE support is enabled
 * ... if the Plesk server and hosted domains meet the configuration criteria"); otherwise the
 * failing checks are listed with their fixes. The domain is added through the API's route
 * logic (`POST /v1/domains`), so the form is validated, authorized and audited as the API is.
 */
import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { authorize } from '../../auth/authz.js';
import type { MxObservation, PrereqFinding, PrereqReport } from '../../core/prereq/index.js';
import { DomainAdd } from '../api/table.js';
import type { PanelKit, PanelPage } from './panel.js';
import { panelFix, refusal, type RefusalStatus } from './domain-common.js';
import { csrfField, type Html } from './layout.js';

/** The seed's subdomain checkboxes (SSL It! offers www, mail and webmail). */
export const SUBDOMAIN_BOXES = ['www', 'mail', 'webmail'] as const;

/** Whether DANE may be offered for a name, and if not, what stands in the way. */
export type DaneOffer =
  | { kind: 'offered'; warnings: PrereqFinding[]; mx?: string[] }
  | { kind: 'server-off' }
  | { kind: 'failing'; findings: PrereqFinding[] }
  | { kind: 'unchecked'; message: string };

/**
 * Seed: the DANE checkbox needs every prerequisite met. A finding that could not be decided
 * (`unknown`: DNS or the mail service did not answer) is not met either: offering DANE on a
 * guess is how panels broke mail. A warning (`warn`) is met, and shown.
 */
export function daneOffer(
  // the API's prereq answer carries the observations it judged (src/web/api/network.ts)
  report: PrereqReport & { observations?: { mx?: MxObservation } },
): DaneOffer {
  const findings = report.findings ?? [];
  const failing = findings.filter((f) => f.status === 'fail' || f.status === 'unknown');
  if (failing.length) return { kind: 'failing', findings: failing };
  // the MX hosts the check saw, by preference: the form's mail host defaults to the first
  const mx = [...(report.observations?.mx?.records ?? [])]
    .sort((a, b) => a.preference - b.preference)
    .map((r) => r.exchange.replace(/\.$/, '').toLowerCase())
    .filter((x) => x !== '' && x !== '.');
  return {
    kind: 'offered',
    warnings: findings.filter((f) => f.status === 'warn'),
    ...(mx.length ? { mx } : {}),
  };
}

/**
 * Seed: "Assign the certificate to the mail domain" puts the mail domain on the certificate
 * (SSL It! secures mail.DOMAIN with it). The mail host typed ("mail" or "mail.example.org") is
 * qualified under the domain and added to the names when it is not there yet; a host outside
 * the domain is passed on as typed, for the API to refuse with its reason.
 */
export function mailDomainNames(
  name: string,
  typed: string,
  includeDomainName: boolean,
  subdomains: string[],
): { host: string; includeDomainName: boolean; subdomains: string[] } {
  const t = typed.trim().toLowerCase().replace(/\.$/, '');
  const host = t === name || t.endsWith(`.${name}`) || t.includes('.') ? t : `${t}.${name}`;
  if (host === name) return { host, includeDomainName: true, subdomains };
  if (!host.endsWith(`.${name}`)) return { host, includeDomainName, subdomains };
  const label = host.slice(0, -name.length - 1);
  return {
    host,
    includeDomainName,
    subdomains: subdomains.includes(label) ? subdomains : [...subdomains, label],
  };
}

/** The name typed in step 1, checked as the API will check it (table.ts DomainAdd.name). */
function nameError(raw: string): string | null {
  const r = DomainAdd.shape.name.safeParse(raw);
  if (!r.success) return `"${raw}" is not a domain name`;
  // RFC 1035 §2.3.1 labels; a certificate is issued for a name with at least two labels.
  if (!raw.replace(/\.$/, '').includes('.') || /(^|\.)\.|^\./.test(raw)) {
    return `"${raw}" is not a domain name a certificate can be issued for`;
  }
  return null;
}

const findingItem = (f: PrereqFinding) =>
  html`<li>
    <strong>${f.title}</strong> (${f.status}): ${f.message}
    ${
      f.fix
        ? html`<br />Fix:
            <pre>${panelFix(f.fix)}</pre>`
        : ''
    }
  </li>`;

export function domainAddPage(): PanelPage {
  return {
    paths: ['/domains/add'],
    register(app: Hono, kit: PanelKit) {
      const { deps } = kit;
      const daneOn = () => deps.daneEnabled?.() ?? false;

      /** Asks the API for the name's prerequisites (only when DANE could be offered at all). */
      const offer = async (c: Context, name: string): Promise<DaneOffer> => {
        if (!daneOn()) return { kind: 'server-off' };
        const v = kit.me(c);
        try {
          const r = (await deps.call('GET /v1/domains/{name}/prereq', {
            user: v.user,
            params: { name },
            source: kit.source(c),
          })) as PrereqReport;
          return daneOffer(r);
        } catch (e) {
          return { kind: 'unchecked', message: refusal(e).message };
        }
      };

      const stepOne = (c: Context, status: 200 | RefusalStatus, name: string, message?: string) => {
        const v = kit.me(c);
        // a customer's own domains that are not managed yet, one click from step 2
        const unmanaged = v.user.domains.filter((d) => !deps.state.domains.get(d));
        return kit.render(c, status, {
          title: 'Add a domain',
          viewer: v,
          current: '/domains',
          body: html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
            <p>
              Step 1 of 2: the domain. Then choose the certificate's names, the mail service and
              DANE support.
            </p>
            ${
              v.role === 'customer'
                ? html`<p>
                      You can add your own domains and names under them:
                      ${v.user.domains.join(', ') || 'none yet (ask your administrator)'}.
                    </p>
                    ${
                      unmanaged.length
                        ? html`<p>Not managed yet:</p>
                            <ul>
                              ${unmanaged.map(
                                (d) =>
                                  html`<li>
                                    <a href="/domains/add?name=${encodeURIComponent(d)}"
                                      >Add ${d}</a
                                    >
                                  </li>`,
                              )}
                            </ul>`
                        : ''
                    }`
                : ''
            }
            <form method="get" action="/domains/add">
              <label for="add-name">Domain name</label>
              <input
                id="add-name"
                name="name"
                value="${name}"
                autocomplete="off"
                spellcheck="false"
                required
              />
              <p><button type="submit">Next</button></p>
            </form>`,
        });
      };

      /** Step 2, also re-shown with the message when the API refuses the form. */
      const stepTwo = async (
        c: Context,
        status: 200 | RefusalStatus,
        name: string,
        f: Record<string, string> | null,
        message?: string,
        known?: DaneOffer,
      ) => {
        const v = kit.me(c);
        const o = known ?? (await offer(c, name));
        // a fresh form: the mail host the prerequisite check found (the first MX under the
        // domain), so the seed's defaults secure the mail service as they are
        const mxDefault =
          o.kind === 'offered'
            ? (o.mx ?? []).find((h) => h === name || h.endsWith(`.${name}`))
            : '';
        // A fresh form: the seed's defaults ("Keep «Secure the domain name» selected"; select
        // «Assign the certificate to the mail domain» and «DANE support»).
        const checked = (field: string, dflt: boolean) =>
          (f ? f[field] === 'on' : dflt) ? html`checked` : '';
        const daneBlock: Html | '' =
          o.kind === 'offered'
            ? html`<div class="check">
                  <input
                    type="checkbox"
                    id="dane"
                    name="dane"
                    aria-describedby="dane-hint"
                    ${checked('dane', true)}
                  />
                  <label for="dane">DANE support</label>
                </div>
                <p class="hint" id="dane-hint">
                  Publishes TLSA records for the mail host and waits until every nameserver serves
                  them before the certificate is relied on.
                </p>
                ${
                  o.warnings.length
                    ? html`<p>Warnings from the prerequisite checks:</p>
                        <ul>
                          ${o.warnings.map(findingItem)}
                        </ul>`
                    : ''
                }`
            : o.kind === 'failing'
              ? html`<p>
                    DANE support is not available for ${name} yet: these prerequisites are not met.
                  </p>
                  <ul>
                    ${o.findings.map(findingItem)}
                  </ul>
                  <p>Fix them, then <a href="/domains/add?name=${name}">check again</a>.</p>`
              : o.kind === 'unchecked'
                ? html`<p>
                    DANE support cannot be offered: the prerequisites could not be checked
                    (${o.message}). <a href="/domains/add?name=${name}">Check again</a>.
                  </p>`
                : v.role === 'admin'
                  ? html`<p>DANE support is turned off on this server (daneEnabled).</p>`
                  : '';
        return kit.render(c, status, {
          title: `Add ${name}`,
          viewer: v,
          current: '/domains',
          body: html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
            <p>
              Step 2 of 2: a certificate from ${deps.acmeCa?.() ?? 'the configured ACME CA'} for
              <strong>${name}</strong> (<a href="/domains/add?name=${name}&amp;edit=1"
                >change the name</a
              >).
            </p>
            <form method="post" action="/domains/add">
              ${csrfField(v.csrf)}
              <input type="hidden" name="name" value="${name}" />
              <fieldset>
                <legend>Names on the certificate</legend>
                <div class="check">
                  <input
                    type="checkbox"
                    id="secure-name"
                    name="includeDomainName"
                    ${checked('includeDomainName', true)}
                  />
                  <label for="secure-name">Secure the domain name (${name})</label>
                </div>
                ${SUBDOMAIN_BOXES.map(
                  (s) =>
                    html`<div class="check">
                      <input
                        type="checkbox"
                        id="sub-${s}"
                        name="sub_${s}"
                        ${checked(`sub_${s}`, false)}
                      />
                      <label for="sub-${s}">${s}.${name}</label>
                    </div>`,
                )}
                <label for="sub-other">Other subdomains (separated by spaces or commas)</label>
                <input
                  id="sub-other"
                  name="subOther"
                  value="${f?.subOther ?? ''}"
                  autocomplete="off"
                  spellcheck="false"
                />
              </fieldset>
              <fieldset>
                <legend>Mail</legend>
                <div class="check">
                  <input
                    type="checkbox"
                    id="assign-mail"
                    name="assignMail"
                    ${checked('assignMail', true)}
                  />
                  <label for="assign-mail">Assign the certificate to the mail domain</label>
                </div>
                <label for="mail-host"
                  >Mail host (put on the certificate; blank: the domain's MX host among the names
                  above)</label
                >
                <input
                  id="mail-host"
                  name="mailHost"
                  value="${f ? (f.mailHost ?? '') : mxDefault}"
                  autocomplete="off"
                  spellcheck="false"
                />
                ${daneBlock}
              </fieldset>
              <p><button type="submit">Add the domain and get the certificate</button></p>
            </form>`,
        });
      };

      app.get('/domains/add', async (c) => {
        const v = kit.me(c);
        const raw = (c.req.query('name') ?? '').trim().toLowerCase();
        if (raw === '' || c.req.query('edit') === '1') return stepOne(c, 200, raw);
        const bad = nameError(raw);
        if (bad) return stepOne(c, 400, raw, bad);
        const name = raw.replace(/\.$/, '');
        // The API refuses this too (authorize, domain.add); said here before any DNS is asked.
        if (!authorize(v.user, 'domain.add', name)) {
          return stepOne(c, 403, raw, `You may add only your own domains and names under them`);
        }
        if (deps.state.domains.get(name)) {
          return stepOne(c, 409, raw, `${name} is managed already`);
        }
        return stepTwo(c, 200, name, null);
      });

      app.post('/domains/add', async (c) => {
        const v = kit.me(c);
        const f = await kit.form(c);
        const raw = (f.name ?? '').trim().toLowerCase();
        const bad = nameError(raw);
        if (bad) return stepOne(c, 400, raw, bad);
        const name = raw.replace(/\.$/, '');
        if (!authorize(v.user, 'domain.add', name)) {
          return stepOne(c, 403, raw, `You may add only your own domains and names under them`);
        }
        const dane = f.dane === 'on';
        const assignMail = f.assignMail === 'on';
        const typedHost = (f.mailHost ?? '').trim();
        const boxes = {
          includeDomainName: f.includeDomainName === 'on',
          subdomains: [
            ...SUBDOMAIN_BOXES.filter((s) => f[`sub_${s}`] === 'on'),
            ...(f.subOther ?? '').split(/[\s,]+/).filter((s) => s !== ''),
          ],
        };
        const mail =
          assignMail && typedHost
            ? mailDomainNames(name, typedHost, boxes.includeDomainName, boxes.subdomains)
            : { host: '', ...boxes };
        const { subdomains } = mail;
        const mailHost = mail.host;
        let known: DaneOffer | undefined;
        if (dane) {
          // A forged or stale form: DANE is refused exactly when the checkbox would not be shown.
          if (!daneOn()) {
            return stepTwo(
              c,
              409,
              name,
              f,
              'DANE support is turned off on this server: the domain was not added',
            );
          }
          known = await offer(c, name);
          if (known.kind !== 'offered') {
            return stepTwo(
              c,
              409,
              name,
              f,
              'DANE support needs every prerequisite met (listed below): the domain was not added',
              known,
            );
          }
          // RFC 7672 §3: DANE for SMTP is about the mail host; without it there is nothing to pin.
          if (!assignMail) {
            return stepTwo(
              c,
              400,
              name,
              f,
              'DANE support needs the certificate assigned to the mail domain',
              known,
            );
          }
        }
        try {
          await deps.call('POST /v1/domains', {
            user: v.user,
            body: {
              name,
              includeDomainName: mail.includeDomainName,
              subdomains,
              mailHosts: assignMail && mailHost ? [mailHost] : [],
              // always explicit: an unticked box is "off", not the API's default
              dane,
            },
            source: kit.source(c),
          });
        } catch (e) {
          const r = refusal(e);
          return stepTwo(c, r.status, name, f, r.message, known);
        }
        return c.redirect(`/domains/${encodeURIComponent(name)}?done=added`, 303);
      });
    },
  };
}
