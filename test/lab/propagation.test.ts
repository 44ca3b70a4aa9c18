/**
 * The propagation check against real BIND servers in a lab namespace: a primary with a
 * secondary that lags (no NOTIFY) until `lab.refreshSecondary`, and a zone whose NS RRset
 * names servers the parent does not delegate to — one with no server behind its address,
 * one that is not authoritative for the zone. Every verdict is checked against what `dig
 * +norec` says each server serves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseTlsa } from '../../src/core/tlsa/parse.js';
import type { TlsaRecord } from '../../src/core/tlsa/record.js';
import type { PropagationReport } from '../../src/publish/propagation.js';
import { callInNetns } from '../support/netns-call.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startDnsLab, type DnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';

const avail = labAvailable();
const OLD = `3 1 1 ${'aa'.repeat(32)}`;
const NEW = `3 1 1 ${'bb'.repeat(32)}`;
const NEXT = `3 1 1 ${'cc'.repeat(32)}`;
const PRIMARY = '127.0.54.100';
const SECONDARY = '127.0.54.101';
const SPLIT = '127.0.54.110';
/** serves other.test only: REFUSED for split.test */
const OTHER = '127.0.54.120';
/** nothing listens there: port 53 is closed */
const DEAD = '127.0.54.119';
const OWNER = '_25._tcp.mail.lag.test';
const INLINE_PRIMARY = '127.0.54.130';
const INLINE_SECONDARY = '127.0.54.131';
const KEY = labTsigKey('dk-prop-update');

const rec = (s: string): TlsaRecord => parseTlsa(s);

function check(ns: Netns, o: Record<string, unknown>): Promise<PropagationReport> {
  return callInNetns<PropagationReport>(ns, 'test/lab/dnssec-driver.ts', 'propagation', [
    { resolver: '127.0.53.53', timeoutMs: 500, tries: 1, ...o },
  ]);
}

const byAddress = (r: PropagationReport, a: string) => {
  const s = r.servers.find((x) => x.address === a);
  assert.ok(s, `no server ${a} in ${JSON.stringify(r.servers.map((x) => x.address))}`);
  return s;
};

describe('propagation check (lab)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;

  before(async () => {
    ns = await createNetns();
    lab = await startDnsLab(ns, {
      zones: [
        {
          name: 'lag.test',
          servers: [PRIMARY],
          secondaries: [SECONDARY],
          records: [
            { name: 'mail', type: 'A', data: '127.0.10.1' },
            { name: '_25._tcp.mail', type: 'TLSA', data: OLD },
          ],
        },
        {
          name: 'split.test',
          servers: [SPLIT],
          records: [
            // In the zone's NS RRset, not in the parent's delegation (the lab delegates to
            // ns1 only): one dead address, one server that does not serve the zone. (Not the
            // parent's server: its referral back to ns1 sends Unbound round in circles.)
            { name: '@', type: 'NS', data: 'ns8' },
            { name: 'ns8', type: 'A', data: OTHER },
            { name: '@', type: 'NS', data: 'ns9' },
            { name: 'ns9', type: 'A', data: DEAD },
            { name: '_25._tcp.mail', type: 'TLSA', data: NEW },
          ],
        },
        { name: 'other.test', servers: [OTHER] },
        {
          // what a user runs: BIND signs the zone itself and takes TSIG-signed updates
          name: 'dyn.test',
          signing: 'inline',
          servers: [INLINE_PRIMARY],
          secondaries: [INLINE_SECONDARY],
          updateKeys: [KEY],
          records: [{ name: '_25._tcp.mail', type: 'TLSA', data: OLD }],
        },
      ],
    });
  });

  after(async () => {
    await lab?.stop();
    await ns?.destroy();
  });

  it('reports every server in step when primary and secondary serve the set', async () => {
    const r = await check(ns, { zone: 'lag.test', owner: OWNER, expected: [rec(OLD)] });
    assert.equal(r.allInStep, true, JSON.stringify(r, null, 1));
    assert.deepEqual(r.servers.map((s) => [s.address, s.state, s.source]).sort(), [
      [PRIMARY, 'in-step', 'both'],
      [SECONDARY, 'in-step', 'both'],
    ]);
    assert.deepEqual(r.nsRrset.names.sort(), ['ns1.lag.test', 'ns2.lag.test']);
    assert.equal(r.nsRrset.status, 'secure');
    assert.equal(r.delegation.parent, 'test');
    assert.deepEqual(r.onlyInZone, []);
    assert.deepEqual(r.onlyInParent, []);
    assert.equal(r.maxTtl, 300);
    const serial = await lab.serial('lag.test', PRIMARY);
    assert.equal(byAddress(r, PRIMARY).serial, serial);
    assert.deepEqual(byAddress(r, PRIMARY).addressFrom.sort(), ['glue', 'resolver']);
  });

  it('names the lagging secondary as old after an update, then in step once it catches up', async () => {
    await lab.setRecords('lag.test', [
      { name: 'mail', type: 'A', data: '127.0.10.1' },
      { name: '_25._tcp.mail', type: 'TLSA', data: NEW },
      { name: '_25._tcp.mail', type: 'TLSA', data: NEXT },
    ]);
    // the reference: what each server says with RD=0
    const digP = await lab.dig([`@${PRIMARY}`, '+norec', OWNER, 'TLSA']);
    const digS = await lab.dig([`@${SECONDARY}`, '+norec', OWNER, 'TLSA']);
    assert.ok(
      digP.answer.some((l) => l.includes('BBBB')) || digP.answer.some((l) => /bbbb/i.test(l)),
    );
    assert.ok(
      digS.answer.some((l) => /aaaa/i.test(l)),
      'the secondary should still lag',
    );

    // expected left out: what the primary (SOA MNAME ns1.lag.test) serves
    const r = await check(ns, { zone: 'lag.test', owner: OWNER });
    assert.equal(r.expectedFrom, 'primary');
    assert.equal(r.primary?.address, PRIMARY);
    assert.deepEqual(r.expected.sort(), [NEW, NEXT]);
    assert.equal(r.allInStep, false);
    const p = byAddress(r, PRIMARY);
    const s = byAddress(r, SECONDARY);
    assert.equal(p.state, 'in-step');
    assert.equal(s.state, 'old');
    assert.equal(s.name, 'ns2.lag.test');
    assert.deepEqual(s.missing.sort(), [NEW, NEXT]);
    assert.deepEqual(s.extra, [OLD]);
    assert.deepEqual(s.served, [OLD]);
    assert.equal(s.serialBehind, true);
    assert.ok(s.serial! < p.serial!);
    assert.deepEqual(r.counts, { 'in-step': 1, old: 1, unreachable: 0, lame: 0 });
    assert.ok(r.findings.some((f) => f.code === 'serial-behind' && f.subject.includes(SECONDARY)));

    await lab.refreshSecondary('lag.test');
    const r2 = await check(ns, { zone: 'lag.test', owner: OWNER, expected: [rec(NEW), rec(NEXT)] });
    assert.equal(r2.allInStep, true, JSON.stringify(r2.servers, null, 1));
    assert.equal(byAddress(r2, SECONDARY).serial, byAddress(r2, PRIMARY).serial);
  });

  it('reports a removal in step only when no server serves the records any more', async () => {
    const r = await check(ns, { zone: 'lag.test', owner: OWNER, expected: [] });
    assert.equal(r.allInStep, false);
    assert.equal(byAddress(r, PRIMARY).state, 'old');
    assert.deepEqual(byAddress(r, PRIMARY).extra.sort(), [NEW, NEXT]);
    const absent = await check(ns, {
      zone: 'lag.test',
      owner: '_443._tcp.mail.lag.test',
      expected: [],
    });
    assert.equal(absent.allInStep, true, JSON.stringify(absent.servers, null, 1));
    assert.deepEqual(byAddress(absent, PRIMARY).served, []);
  });

  it('names an unreachable server, a lame one, and NS names the parent does not delegate to', async () => {
    const t0 = Date.now();
    const r = await check(ns, {
      zone: 'split.test',
      owner: '_25._tcp.mail.split.test',
      expected: [rec(NEW)],
    });
    const ms = Date.now() - t0;
    if (process.env.DK_SHOW) console.log(JSON.stringify(r, null, 2), ms);
    assert.equal(r.allInStep, false);
    assert.deepEqual(r.onlyInZone.sort(), ['ns8.split.test', 'ns9.split.test']);
    assert.deepEqual(r.onlyInParent, []);
    assert.deepEqual(r.delegation.names, ['ns1.split.test']);
    const good = byAddress(r, SPLIT);
    assert.equal(good.state, 'in-step');
    assert.equal(good.source, 'both');
    const dead = byAddress(r, DEAD);
    assert.equal(dead.name, 'ns9.split.test');
    assert.equal(dead.state, 'unreachable');
    assert.equal(dead.source, 'ns-rrset');
    assert.match(dead.why ?? '', /127\.0\.54\.119/);
    const lame = byAddress(r, OTHER);
    assert.equal(lame.name, 'ns8.split.test');
    assert.equal(lame.state, 'lame');
    assert.match(lame.why ?? '', /REFUSED/);
    const codes = r.findings.map((f) => `${f.code} ${f.subject}`).sort();
    assert.deepEqual(codes, [
      'ns-only-in-zone ns8.split.test',
      'ns-only-in-zone ns9.split.test',
      `server-lame ns8.split.test (${OTHER})`,
      `server-unreachable ns9.split.test (${DEAD})`,
    ]);
    // bounded: a closed port is refused at once, nothing waits out a timeout here
    assert.ok(ms < 10_000, `took ${ms} ms`);
  });

  it('an RFC 2136 update on an inline-signed primary: the secondary is old until it transfers', async () => {
    const owner = '_25._tcp.mail.dyn.test';
    const u = await lab.nsupdate({
      zone: 'dyn.test',
      key: KEY,
      commands: [`update delete ${owner}. TLSA`, `update add ${owner}. 300 TLSA ${NEW}`],
    });
    assert.equal(u.rcode, 'NOERROR', u.stderr);
    // inline signing publishes the signed update a moment later: wait for the primary
    const t0 = Date.now();
    let r: PropagationReport;
    for (;;) {
      r = await check(ns, { zone: 'dyn.test', owner, expected: [rec(NEW)] });
      if (byAddress(r, INLINE_PRIMARY).state === 'in-step' || Date.now() - t0 > 10_000) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(byAddress(r, INLINE_PRIMARY).state, 'in-step');
    assert.equal(byAddress(r, INLINE_SECONDARY).state, 'old');
    assert.equal(byAddress(r, INLINE_SECONDARY).name, 'ns2.dyn.test');
    assert.deepEqual(byAddress(r, INLINE_SECONDARY).served, [OLD]);
    assert.equal(r.allInStep, false);
    await lab.refreshSecondary('dyn.test');
    const r2 = await check(ns, { zone: 'dyn.test', owner, expected: [rec(NEW)] });
    assert.equal(r2.allInStep, true, JSON.stringify(r2.servers, null, 1));
  });
});
