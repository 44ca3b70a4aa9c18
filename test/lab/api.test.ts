/**
 * The JSON API's network routes against the lab's real DNS tree (BIND serving a signed root,
 * TLD and zones; Unbound validating): `GET /api/v1/check/DOMAIN` and
 * `GET /api/v1/domains/DOMAIN/dnssec` answer what `check --json` and `dnssec status --json`
 * compute, and the DS for the registrar is the one BIND's zone has.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startDnsLab, type DnsLab } from './dns/dnslab.js';

const avail = labAvailable();

interface Calls {
  check: { status: number; body: { domain: string; verdict: string } };
  dnssec: {
    status: number;
    body: { zone: string; chain: { status: string }; registrar: { ds: string }[] };
  };
  direct: {
    check: { domain: string; verdict: string };
    dnssec: { chain: { status: string }; registrar: { ds: string }[] };
  };
  logged: string[];
}

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

describe('API check and dnssec status (lab)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;

  before(async () => {
    ns = await createNetns();
    lab = await startDnsLab(ns, {
      zones: [{ name: 'secure.test' }, { name: 'insecure.test', security: 'insecure' }],
    });
  });

  after(async () => {
    await lab?.stop();
    await ns?.destroy();
  });

  const calls = (domain: string) =>
    callInNetns<Calls>(ns, 'test/lab/api-driver.ts', 'apiCalls', [
      { resolver: lab.resolver, domain },
    ]);

  it('a secure zone: dnssec status with the registrar DS, check as check --json gives it', async () => {
    const r = await calls('secure.test');
    assert.deepEqual(r.logged, [], 'no 500');
    assert.equal(r.dnssec.status, 200, JSON.stringify(r.dnssec.body));
    assert.equal(r.dnssec.body.chain.status, 'secure');
    assert.deepEqual(
      r.dnssec.body.registrar.map((x) => dsRdata(x.ds)),
      lab.zone('secure.test').ds.map(dsRdata),
    );
    assert.deepEqual(r.dnssec.body.registrar, r.direct.dnssec.registrar);
    assert.equal(r.check.status, 200, JSON.stringify(r.check.body));
    assert.equal(r.check.body.domain, 'secure.test');
    assert.equal(r.check.body.verdict, r.direct.check.verdict);
  });

  it('an unsigned zone: insecure chain, and check says no DANE as the command does', async () => {
    const r = await calls('insecure.test');
    assert.equal(r.dnssec.status, 200);
    assert.equal(r.dnssec.body.chain.status, r.direct.dnssec.chain.status);
    assert.notEqual(r.dnssec.body.chain.status, 'secure');
    assert.equal(r.check.status, 200);
    assert.equal(r.check.body.verdict, r.direct.check.verdict);
  });
});
