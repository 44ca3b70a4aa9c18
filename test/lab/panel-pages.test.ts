/**
 * The panel's Check and DNSSEC pages on real reports (issue 11 item 2): the lab's signed DNS
 * tree, a validating Unbound and a receiving Postfix presenting a chain per MX address
 * (test/lab/scenarios.ts), the pages served over the API's route caller on the real network
 * services. What a user reads must be what the reference sees: the verdict and the matched
 * record posttls-finger (Postfix's DANE client) reports, the chain the lab's Postfix presents,
 * and the DS the lab's BIND zone has for the registrar.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { labAvailable } from './netns.js';
import { posttlsFinger } from './reference.js';
import { startScenarioLab, type ScenarioLab } from './scenarios.js';

const avail = labAvailable();

type Got = { path: string; status: number; html: string }[];

/** The page's text as a reader gets it: no `<wbr />` (breakable.ts), entities of `&` only. */
const flat = (h: string) => h.replaceAll('<wbr />', '');

/** DS rdata as `TAG ALG DIGESTTYPE HEX` (upper-case hex, no spaces) from a zone line. */
const dsRdata = (line: string) => {
  const t = line.trim().split(/\s+/);
  const i = t.indexOf('DS');
  return [
    t[i + 1],
    t[i + 2],
    t[i + 3],
    t
      .slice(i + 4)
      .join('')
      .toUpperCase(),
  ].join(' ');
};

describe('panel Check and DNSSEC pages (lab)', { skip: !avail.ok && avail.reason }, () => {
  let lab: ScenarioLab;
  let got: Got;

  before(async () => {
    lab = await startScenarioLab({ only: ['ok', 'mismatch'] });
    const ok = lab.scenario('ok').domain;
    const bad = lab.scenario('mismatch').domain;
    got = await callInNetns<Got>(lab.ns, 'test/lab/panel-pages-driver.ts', 'panelPages', [
      {
        resolver: lab.resolver,
        owns: ['secure.test'],
        paths: [
          `/check?domain=${ok}&port=25`,
          `/check?domain=${bad}`,
          '/dnssec?domain=secure.test',
          '/dnssec?domain=other.test',
        ],
      },
    ]);
  });

  after(async () => {
    await lab?.stop();
  });

  it('Check shows the verdict, chain and matched record posttls-finger agrees with', async () => {
    const s = lab.scenario('ok');
    const h = s.hosts[0]!;
    const page = got[0]!;
    assert.equal(page.status, 200, page.html);
    const html = flat(page.html);
    const finger = await posttlsFinger(lab.ns, s.domain);
    assert.equal(finger.verdict, 'verified', finger.output);
    assert.match(html, /Result for [^:]+: <span class="badge badge-verified">verified<\/span>/);
    // the record Postfix matched (its hex upper-case) is the one the page names, at its depth
    assert.ok(finger.matched, finger.output);
    const matched = finger.matched.record.toLowerCase();
    assert.ok(
      html.includes(`<code>${matched}</code> at depth ${finger.matched.depth}`),
      `matched ${matched} at ${finger.matched.depth} on the page`,
    );
    // the chain the lab's Postfix presents: the leaf's subject, issuer and notAfter
    const leaf = new X509Certificate(h.chainPems[0]!);
    const cn = /CN=([^\n,]+)/.exec(leaf.subject)![1]!;
    assert.match(html, new RegExp(`<td>[^<]*CN=${cn.replace(/\./g, '\\.')}[^<]*</td>`));
    const until = new Date(leaf.validTo).toISOString().slice(0, 16);
    assert.ok(html.includes(`datetime="${until}`), `leaf notAfter ${until} shown`);
    for (const a of h.addresses) assert.match(html, new RegExp(`<h4>${a}</h4>`));
    assert.match(html, /<td>TLSA<\/td>\s*<td>secure<\/td>/, 'the TLSA lookup is secure');
  });

  it('Check of a domain whose records match nothing says failed, as posttls-finger does', async () => {
    const s = lab.scenario('mismatch');
    const page = got[1]!;
    assert.equal(page.status, 200, page.html);
    const finger = await posttlsFinger(lab.ns, s.domain);
    assert.equal(finger.verdict, 'failed', finger.output);
    assert.match(page.html, /Result for [^:]+: <span class="badge badge-failing">failed<\/span>/);
    assert.match(page.html, /no TLSA record/);
  });

  it("DNSSEC shows the registrar DS the lab's zone has, in a labelled readonly textarea", () => {
    const page = got[2]!;
    assert.equal(page.status, 200, page.html);
    const shown = [...page.html.matchAll(/data-copy="DS">([^<]+)<\/textarea>/g)].map((m) =>
      dsRdata(m[1]!),
    );
    assert.ok(shown.length > 0, 'a DS is shown');
    assert.deepEqual(shown, lab.dns.zone('secure.test').ds.map(dsRdata));
    assert.match(page.html, /secure \(SOA secure, DNSKEY\s+secure\)/);
    assert.match(page.html, /<label for="ds-0">DS record of key \d+<\/label>/);
  });

  it('DNSSEC of a zone the customer does not own is refused (403), nothing of it shown', () => {
    const page = got[3]!;
    assert.equal(page.status, 403);
    assert.match(
      page.html,
      /role="alert" id="dnssec-domain-error">carol may not dnssec.read other.test/,
    );
    assert.doesNotMatch(page.html, /For the registrar/);
  });
});
