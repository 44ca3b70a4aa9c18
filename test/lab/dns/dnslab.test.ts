/**
 * The DNS lab itself: a signed private tree served by BIND, validated by Unbound, seen from
 * inside the namespace by dig, delv and glibc. Every later DANE scenario rests on these
 * verdicts, so each security state is checked against the resolver's flags and rcode.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNetns, labAvailable, type Netns } from '../netns.js';
import { startDnsLab, type DnsLab } from './dnslab.js';

const avail = labAvailable();
const TLSA_HEX = 'ab'.repeat(32);
const V6_SERVER = 'fd00:53::54';
/** the answer without its signatures and TTLs (cached answers count down) */
const data = (answer: string[]) =>
  answer.filter((l) => !l.includes(' RRSIG ')).map((l) => l.replace(/ \d+ IN /, ' IN '));

describe(
  'DNS lab: signed private tree + validating Unbound',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;

    before(async () => {
      ns = await createNetns();
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'secure.test',
            records: [
              { name: 'www', type: 'A', data: '127.0.10.1' },
              { name: 'www', type: 'AAAA', data: 'fd00:10::1' },
              { name: '@', type: 'MX', data: '10 mx' },
              { name: 'mx', type: 'A', data: '127.0.10.1' },
              { name: '_25._tcp.mx', type: 'TLSA', data: `3 1 1 ${TLSA_HEX}` },
              { name: 'alias', type: 'CNAME', data: 'hop' },
              { name: 'hop', type: 'CNAME', data: 'www' },
              { name: 'out', type: 'CNAME', data: 'www.insecure.test.' },
              { name: 'broken', type: 'A', data: '127.0.10.66', bogus: true },
            ],
          },
          {
            name: 'insecure.test',
            security: 'insecure',
            records: [{ name: 'www', type: 'A', data: '127.0.10.2' }],
          },
          {
            name: 'bogus.test',
            security: 'bogus-ds',
            records: [{ name: 'www', type: 'A', data: '127.0.10.3' }],
          },
          {
            name: 'expired.test',
            security: 'bogus-expired',
            records: [{ name: 'www', type: 'A', data: '127.0.10.4' }],
          },
          {
            name: 'badsig.test',
            security: 'bogus-sig',
            records: [{ name: 'www', type: 'A', data: '127.0.10.5' }],
          },
          {
            name: 'island.test',
            security: 'island',
            records: [{ name: 'www', type: 'A', data: '127.0.10.6' }],
          },
          {
            name: 'nsec3.test',
            nsec3: true,
            csk: true,
            servers: [V6_SERVER],
            records: [{ name: 'www', type: 'A', data: '127.0.10.7' }],
          },
        ],
      });
    });

    after(async () => {
      await lab?.stop();
      await ns?.destroy();
    });

    it('starts within 5 s', () => {
      assert.ok(lab.startMs < 5_000, `took ${lab.startMs} ms`);
    });

    it('delegates for real: root -> test. -> secure.test. on separate servers', async () => {
      const root = await lab.dig(['@127.0.53.1', '+norec', 'www.secure.test', 'A']);
      assert.equal(root.status, 'NOERROR');
      assert.ok(!root.flags.includes('aa'), 'the root refers, it does not answer');
      assert.match(root.stdout, /test\.\s+\d+\s+IN\s+NS\s+ns1\.test\./);
      const tld = await lab.dig(['@127.0.53.2', '+norec', '+dnssec', 'www.secure.test', 'A']);
      assert.match(tld.stdout, /secure\.test\.\s+\d+\s+IN\s+NS\s+ns1\.secure\.test\./);
      assert.match(tld.stdout, /secure\.test\.\s+\d+\s+IN\s+DS\s+\d+ 13 2 /);
      const ins = await lab.dig(['@127.0.53.2', '+norec', '+dnssec', 'www.insecure.test', 'A']);
      assert.doesNotMatch(ins.stdout, /IN\s+DS\s/, 'insecure.test. is delegated without DS');
      assert.match(ins.stdout, /IN\s+NSEC\s/, 'the parent proves the DS absent');
      const zone = lab.zone('secure.test');
      const auth = await lab.dig([`@${zone.servers[0]}`, '+norec', 'www.secure.test', 'A']);
      assert.ok(auth.flags.includes('aa'));
      assert.deepEqual(auth.answer, ['www.secure.test. 300 IN A 127.0.10.1']);
    });

    it('secure: NOERROR with AD, for A, AAAA, MX and TLSA', async () => {
      for (const [name, type, data] of [
        ['www.secure.test', 'A', '127.0.10.1'],
        ['www.secure.test', 'AAAA', 'fd00:10::1'],
        ['secure.test', 'MX', '10 mx.secure.test.'],
        ['_25._tcp.mx.secure.test', 'TLSA', '3 1 1'],
      ] as const) {
        const r = await lab.dig(['+dnssec', name, type]);
        assert.equal(r.status, 'NOERROR', `${name} ${type}`);
        assert.ok(r.flags.includes('ad'), `${name} ${type}: AD expected, flags ${r.flags}`);
        assert.ok(
          r.answer.some((l) => l.includes(` ${type} ${data}`)),
          `${name} ${type}: ${r.answer.join(' | ')}`,
        );
      }
      const tlsa = await lab.dig(['+short', '_25._tcp.mx.secure.test', 'TLSA']);
      assert.equal(tlsa.stdout.replace(/\s+/g, '').toLowerCase(), `311${TLSA_HEX}`);
    });

    it('secure: NXDOMAIN and NODATA are authenticated (NSEC and NSEC3)', async () => {
      for (const [name, type, status] of [
        ['nope.secure.test', 'A', 'NXDOMAIN'],
        ['www.secure.test', 'TLSA', 'NOERROR'],
        ['nope.nsec3.test', 'A', 'NXDOMAIN'],
        ['_25._tcp.www.nsec3.test', 'TLSA', 'NXDOMAIN'],
      ] as const) {
        const r = await lab.dig(['+dnssec', name, type]);
        assert.equal(r.status, status, `${name} ${type}`);
        assert.ok(r.flags.includes('ad'), `${name} ${type}: AD expected`);
        assert.deepEqual(r.answer, []);
      }
    });

    it('a CSK + NSEC3 zone served over IPv6 validates', async () => {
      const r = await lab.dig(['+dnssec', 'www.nsec3.test', 'A']);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('ad'));
      assert.equal(lab.zone('nsec3.test').servers[0], V6_SERVER);
      const glue = await lab.dig(['@127.0.53.2', '+norec', 'nsec3.test', 'NS']);
      assert.match(glue.stdout, /ns1\.nsec3\.test\.\s+\d+\s+IN\s+AAAA\s+fd00:53::54/);
    });

    it('CNAME chains resolve; AD only when every link is secure', async () => {
      const r = await lab.dig(['+dnssec', 'alias.secure.test', 'A']);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('ad'));
      assert.deepEqual(data(r.answer), [
        'alias.secure.test. IN CNAME hop.secure.test.',
        'hop.secure.test. IN CNAME www.secure.test.',
        'www.secure.test. IN A 127.0.10.1',
      ]);
      const out = await lab.dig(['+dnssec', 'out.secure.test', 'A']);
      assert.equal(out.status, 'NOERROR');
      assert.ok(out.answer.some((l) => l.endsWith('IN A 127.0.10.2')));
      assert.ok(!out.flags.includes('ad'), 'the target in insecure.test. is not secure');
    });

    it('insecure and island zones: answers without AD', async () => {
      for (const [name, addr] of [
        ['www.insecure.test', '127.0.10.2'],
        ['www.island.test', '127.0.10.6'],
      ] as const) {
        const r = await lab.dig(['+dnssec', name, 'A']);
        assert.equal(r.status, 'NOERROR', name);
        assert.ok(!r.flags.includes('ad'), `${name}: no AD expected`);
        assert.deepEqual(data(r.answer), [`${name}. IN A ${addr}`]);
      }
      // the island is signed: its DNSKEY and RRSIGs are served, only the DS is missing
      const keys = await lab.dig(['+dnssec', 'island.test', 'DNSKEY']);
      assert.ok(keys.answer.some((l) => l.includes(' DNSKEY 257 3 13 ')));
    });

    it('bogus zones and a bogus name: SERVFAIL, and the data comes back with +cd', async () => {
      for (const [name, addr] of [
        ['www.bogus.test', '127.0.10.3'],
        ['www.expired.test', '127.0.10.4'],
        ['www.badsig.test', '127.0.10.5'],
        ['broken.secure.test', '127.0.10.66'],
      ] as const) {
        const r = await lab.dig(['+dnssec', name, 'A']);
        assert.equal(r.status, 'SERVFAIL', name);
        assert.deepEqual(r.answer, []);
        const cd = await lab.dig(['+dnssec', '+cd', name, 'A']);
        assert.equal(cd.status, 'NOERROR', `${name} +cd`);
        assert.ok(!cd.flags.includes('ad'));
        assert.deepEqual(data(cd.answer), [`${name}. IN A ${addr}`]);
      }
      const log = lab.unboundLog();
      assert.match(log, /validation failure <www\.bogus\.test\. A IN>/);
      assert.match(log, /validation failure <www\.expired\.test\. A IN>.*expired/);
      assert.match(log, /validation failure <broken\.secure\.test\. A IN>/);
    });

    it('delv, validating on its own from the lab root DS, agrees', async () => {
      const anchors = join(lab.dir, 'delv-anchors.conf');
      const ds = lab.zone('.').ownDs.map((l) => {
        const [, , , tag, alg, dt, hex] = l.split(/\s+/);
        return `  "." static-ds ${tag} ${alg} ${dt} "${hex}";`;
      });
      writeFileSync(anchors, `trust-anchors {\n${ds.join('\n')}\n};\n`);
      const delv = (name: string) =>
        ns.exec('delv', [`@${lab.resolver}`, '-a', anchors, name, 'A'], { allowFail: true });
      assert.match((await delv('www.secure.test')).stdout, /; fully validated/);
      assert.match((await delv('www.insecure.test')).stdout, /; unsigned answer/);
      const bad = await delv('www.bogus.test');
      assert.doesNotMatch(bad.stdout, /fully validated/);
    });

    it("glibc in the namespace resolves through the lab's Unbound", async () => {
      const r = await ns.exec('getent', ['ahostsv4', 'www.secure.test']);
      assert.match(r.stdout, /^127\.0\.10\.1\s+STREAM\s+www\.secure\.test/m);
      const v6 = await ns.exec('getent', ['ahostsv6', 'www.secure.test']);
      assert.match(v6.stdout, /fd00:10::1/);
      const bogus = await ns.exec('getent', ['hosts', 'www.bogus.test'], { allowFail: true });
      assert.notEqual(bogus.code, 0, 'a bogus name must not resolve through glibc');
      const conf = await ns.exec('cat', ['/etc/resolv.conf']);
      assert.match(conf.stdout, /nameserver 127\.0\.53\.53/);
      assert.match(conf.stdout, /options trust-ad/);
    });

    it('re-signs and reloads a zone: a new TLSA record validates after a flush', async () => {
      const hex = 'cd'.repeat(32);
      const before = lab.zone('secure.test').serial;
      const miss = await lab.dig(['+dnssec', '_443._tcp.www.secure.test', 'TLSA']);
      assert.equal(miss.status, 'NXDOMAIN');
      await lab.addRecords('secure.test', [
        { name: '_443._tcp.www', type: 'TLSA', data: `3 1 1 ${hex}` },
      ]);
      assert.equal(lab.zone('secure.test').serial, before + 1);
      await lab.flushResolver('secure.test');
      const r = await lab.dig(['+dnssec', '_443._tcp.www.secure.test', 'TLSA']);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('ad'));
      assert.ok(r.answer.some((l) => l.replace(/\s+/g, '').toLowerCase().endsWith(`311${hex}`)));
      await lab.flushResolver();
      const again = await lab.dig(['+dnssec', 'www.secure.test', 'A']);
      assert.ok(again.flags.includes('ad'), 'validates again after a full flush');
    });
  },
);
