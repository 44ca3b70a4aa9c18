/**
 * `dnssecStatus` against the lab's real tree: a secure zone, an unsigned one, an island (signed,
 * no DS), one whose DS matches no key, one with expired signatures. The DS printed for the
 * registrar must equal what BIND's `dnssec-dsfromkey -2` and ldns's `ldns-key2ds -2` compute
 * from the DNSKEY the zone's server actually serves.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DnssecReport } from '../../src/publish/dnssec-status.js';
import { tempDir } from '../support/pki.js';
import { callInNetns } from '../support/netns-call.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startDnsLab, type DnsLab } from './dns/dnslab.js';

const avail = labAvailable();

function status(ns: Netns, zone: string, extra: Record<string, unknown> = {}) {
  return callInNetns<DnssecReport>(ns, 'test/lab/dnssec-driver.ts', 'dnssec', [
    { zone, resolver: '127.0.53.53', timeoutMs: 1000, tries: 1, ...extra },
  ]);
}

const codes = (r: DnssecReport) => r.findings.map((f) => f.code).sort();
/** `12345 13 2 ABCD` from any DS line (owner, TTL, class dropped), digest upper case */
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

describe('dnssec status (lab)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;
  let dir: string;

  before(async () => {
    dir = tempDir('dk-dnssec-');
    ns = await createNetns();
    lab = await startDnsLab(ns, {
      zones: [
        { name: 'secure.test' },
        { name: 'csk.test', csk: true, nsec3: true },
        { name: 'insecure.test', security: 'insecure' },
        { name: 'island.test', security: 'island' },
        { name: 'bogus.test', security: 'bogus-ds' },
        { name: 'expired.test', security: 'bogus-expired' },
        { name: 'inline.test', signing: 'inline' },
      ],
    });
  });

  after(async () => {
    await lab?.stop();
    await ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('secure: signed, the parent DS matches the KSK, the chain validates', async () => {
    const r = await status(ns, 'secure.test');
    const z = lab.zone('secure.test');
    assert.equal(r.signing, 'signed');
    assert.equal(r.chain.status, 'secure');
    assert.equal(r.ready, true, JSON.stringify(r.findings));
    assert.equal(r.parent, 'test');
    assert.deepEqual(r.findings, []);
    assert.deepEqual(
      r.keys.map((k) => [k.keyTag, k.role]).sort(),
      [
        [z.keys.ksk!.tag, 'ksk'],
        [z.keys.zsk!.tag, 'zsk'],
      ].sort(),
    );
    assert.deepEqual(
      r.algorithms.map((a) => [a.algorithm, a.signing]),
      [[13, 'must']],
    );
    assert.deepEqual(r.parentDs?.map(dsRdata), z.ds.map(dsRdata));
    assert.deepEqual(r.resolverDs.records.map(dsRdata), z.ds.map(dsRdata));
    assert.equal(r.resolverDs.status, 'secure');
    assert.deepEqual(
      r.dsMatches.map((m) => [m.matchesKey, m.keyFlags]),
      [[z.keys.ksk!.tag, 257]],
    );
    assert.deepEqual(
      r.digests.map((d) => [d.digestType, d.delegation]),
      [[2, 'must']],
    );
    assert.ok(r.signatures.some((s) => s.covered === 'SOA' && s.keyTag === z.keys.zsk!.tag));
    assert.ok(r.signatures.some((s) => s.covered === 'DNSKEY' && s.keyTag === z.keys.ksk!.tag));
    assert.ok(r.servers.every((s) => s.state === 'signed' && s.soaSigned && s.dnskeySigned));
    // the registrar DS is the one the parent already holds
    assert.deepEqual(
      r.registrar.map((x) => dsRdata(x.ds)),
      z.ds.map(dsRdata),
    );
  });

  it('a single combined key (CSK, NSEC3) is its own key-signing key', async () => {
    const r = await status(ns, 'csk.test');
    assert.equal(r.ready, true, JSON.stringify(r.findings));
    assert.deepEqual(
      r.keys.map((k) => k.role),
      ['ksk'],
    );
    assert.equal(r.registrar.length, 1);
  });

  it('insecure: unsigned, no DS; the fix names the BIND dnssec-policy stanza and PowerDNS', async () => {
    const r = await status(ns, 'insecure.test');
    assert.equal(r.signing, 'unsigned');
    assert.equal(r.chain.status, 'insecure');
    assert.equal(r.ready, false);
    assert.deepEqual(r.parentDs, []);
    assert.deepEqual(r.keys, []);
    assert.deepEqual(r.registrar, []);
    assert.deepEqual(codes(r), ['zone-unsigned']);
    const fix = r.findings[0]!.fix!;
    assert.match(fix, /dnssec-policy default;/);
    assert.match(fix, /inline-signing yes;/);
    assert.match(fix, /danekeeper dnssec status insecure\.test --secure/);
    const bind = await status(ns, 'insecure.test', { software: 'bind' });
    assert.doesNotMatch(bind.findings[0]!.fix!, /PowerDNS/);
    const pdns = await status(ns, 'insecure.test', { software: 'powerdns' });
    assert.doesNotMatch(pdns.findings[0]!.fix!, /dnssec-policy/);
    assert.match(pdns.findings[0]!.fix!, /--secure/);
  });

  it('island: signed without DS; the DS to give the registrar equals dnssec-dsfromkey and ldns-key2ds', async () => {
    const r = await status(ns, 'island.test');
    if (process.env.DK_SHOW) console.log(JSON.stringify(r, null, 2));
    const z = lab.zone('island.test');
    assert.equal(r.signing, 'signed');
    assert.equal(r.chain.status, 'insecure');
    assert.equal(r.ready, false);
    assert.deepEqual(r.parentDs, []);
    // the resolver proves the absence (test. is signed): a secure NODATA
    assert.deepEqual(r.resolverDs.records, []);
    assert.equal(r.resolverDs.status, 'secure');
    assert.deepEqual(codes(r), ['no-ds']);
    assert.equal(r.registrar.length, 1);
    const reg = r.registrar[0]!;
    assert.equal(reg.keyTag, z.keys.ksk!.tag);
    assert.equal(reg.digestType, 2);
    assert.equal(reg.flags, 257);
    const fix = r.findings[0]!.fix!;
    assert.ok(fix.includes(reg.ds), fix);
    assert.ok(fix.includes(reg.dnskey), fix);

    // The reference tools, fed the DNSKEY RRs the server serves (dig +norec at ns1).
    const d = await lab.dig([`@${z.servers[0]}`, '+norec', '+nocmd', 'island.test', 'DNSKEY']);
    const ksks = d.answer.filter((l) => / DNSKEY 257 /.test(l));
    assert.equal(ksks.length, 1, d.stdout);
    const keyFile = join(dir, 'island.key');
    writeFileSync(keyFile, ksks[0] + '\n');
    const bind = execFileSync('dnssec-dsfromkey', ['-2', '-f', keyFile, 'island.test'], {
      encoding: 'utf8',
    });
    const ldns = execFileSync('ldns-key2ds', ['-n', '-2', keyFile], { encoding: 'utf8' });
    assert.equal(dsRdata(reg.ds), dsRdata(bind));
    assert.equal(dsRdata(reg.ds), dsRdata(ldns));
    assert.equal(dsRdata(reg.ds), dsRdata(z.ownDs[0]!));
    // the DNSKEY line is the served one
    assert.equal(reg.publicKey, ksks[0]!.split(' ').slice(7).join(''));
  });

  it('bogus-ds: the parent DS matches no key; the chain is bogus', async () => {
    const r = await status(ns, 'bogus.test');
    const z = lab.zone('bogus.test');
    assert.equal(r.signing, 'signed');
    assert.equal(r.chain.status, 'bogus');
    assert.equal(r.ready, false);
    assert.deepEqual(r.parentDs?.map(dsRdata), z.ds.map(dsRdata));
    assert.deepEqual(
      r.dsMatches.map((m) => [m.matchesKey, m.checked]),
      [[null, true]],
    );
    assert.deepEqual(codes(r), ['chain-bogus', 'ds-no-match']);
    const fix = r.findings.find((f) => f.code === 'ds-no-match')!.fix!;
    assert.ok(fix.includes(r.registrar[0]!.ds));
    assert.equal(dsRdata(r.registrar[0]!.ds), dsRdata(z.ownDs[0]!));
  });

  it('expired signatures are named, with the bogus chain', async () => {
    const r = await status(ns, 'expired.test');
    assert.equal(r.chain.status, 'bogus');
    assert.ok(codes(r).includes('signature-expired'), JSON.stringify(codes(r)));
    assert.ok(codes(r).includes('chain-bogus'));
    assert.ok(!codes(r).includes('ds-no-match'));
    assert.ok(r.signatures.every((s) => Date.parse(s.expires) < Date.now()));
  });

  it('a zone that does not exist is named so, not called unsigned', async () => {
    const r = await status(ns, 'nowhere.test');
    if (process.env.DK_SHOW) console.log(JSON.stringify(r, null, 2));
    assert.equal(r.ready, false);
    assert.notEqual(r.signing, 'signed');
    assert.notEqual(r.signing, 'unsigned');
    assert.deepEqual(codes(r), ['zone-not-found']);
  });

  it('a zone BIND signs itself (dnssec-policy, inline signing) with its DS in the parent is ready', async () => {
    const r = await status(ns, 'inline.test', { software: 'bind' });
    assert.equal(r.signing, 'signed');
    assert.equal(r.chain.status, 'secure');
    assert.equal(r.ready, true, JSON.stringify(r.findings));
    assert.ok(r.dsMatches.length > 0 && r.dsMatches.every((m) => m.matchesKey !== null));
  });
});
