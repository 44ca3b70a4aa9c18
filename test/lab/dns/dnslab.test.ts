/**
 * The DNS lab itself: a signed private tree served by BIND, validated by Unbound, seen from
 * inside the namespace by dig, delv and glibc. Every later DANE scenario rests on these
 * verdicts, so each security state is checked against the resolver's flags and rcode.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../support/pki.js';
import { createNetns, labAvailable, sleep, type LabProcess, type Netns } from '../netns.js';
import { labTsigKey, startDnsLab, tlsaIn, type DnsLab } from './dnslab.js';

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

    it('starts within 5 s', (t) => {
      t.diagnostic(`startDnsLab took ${lab.startMs} ms`);
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

/**
 * A stand-in for Knot or PowerDNS: a second named on its own address, serving zones signed
 * here with dnssec-signzone, that the lab only delegates to (ZoneSpec.external).
 */
async function startExternal(
  ns: Netns,
  dir: string,
  address: string,
  zones: { name: string; tlsa: string }[],
): Promise<{ ds: Map<string, string[]>; proc: LabProcess }> {
  mkdirSync(dir, { recursive: true });
  const run = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { cwd: dir, encoding: 'utf8' }).trim();
  const ds = new Map<string, string[]>();
  const stanzas: string[] = [];
  for (const z of zones) {
    const key = run('dnssec-keygen', [
      '-q',
      '-a',
      'ECDSAP256SHA256',
      '-f',
      'KSK',
      '-K',
      dir,
      z.name,
    ]);
    const text = [
      '$TTL 300',
      `$ORIGIN ${z.name}.`,
      `@ IN SOA ns1 hostmaster 1 3600 600 86400 60`,
      '@ IN NS ns1',
      `ns1 IN A ${address}`,
      `_25._tcp.mx IN TLSA 3 1 1 ${z.tlsa}`,
      `$INCLUDE ${join(dir, key)}.key`,
    ].join('\n');
    writeFileSync(join(dir, `${z.name}.db`), text + '\n');
    run('dnssec-signzone', ['-q', '-z', '-K', dir, '-o', `${z.name}.`, join(dir, `${z.name}.db`)]);
    ds.set(z.name, run('dnssec-dsfromkey', ['-2', join(dir, `${key}.key`)]).split('\n'));
    stanzas.push(`zone "${z.name}" { type primary; file "${join(dir, `${z.name}.db.signed`)}"; };`);
  }
  const conf = join(dir, 'named.conf');
  writeFileSync(
    conf,
    [
      'controls { };',
      'options {',
      `  directory "${dir}"; pid-file "${dir}/named.pid"; session-keyfile "${dir}/s.key";`,
      `  listen-on port 53 { ${address}; }; listen-on-v6 { none; }; recursion no;`,
      '};',
      ...stanzas,
    ].join('\n') + '\n',
  );
  if (!ns.addresses.includes(address)) await ns.addAddress(address);
  const proc = ns.spawn('named', ['-g', '-c', conf], { label: `named@${address}` });
  const deadline = Date.now() + 5_000;
  while (!/ running$/m.test(proc.output())) {
    if (proc.exitCode() !== null || Date.now() > deadline)
      throw new Error(`external named on ${address} did not start: ${proc.output().slice(-500)}`);
    await sleep(20);
  }
  return { ds, proc };
}

describe(
  'DNS lab: external zones, inline-signed TSIG-updatable zones, lagging secondaries',
  { skip: !avail.ok && avail.reason },
  () => {
    const EXT = '127.0.55.9';
    const LATE = '127.0.55.10';
    const hex = (c: string) => c.repeat(32);
    const SEC_PRIMARY = '127.0.54.200';
    const SEC_SECONDARY = '127.0.54.201';
    const SEC_SECONDARY6 = 'fd00:53::201';
    const UPDATE_KEY = labTsigKey('dk-update', 'hmac-sha256');
    const OTHER_KEY = labTsigKey('dk-other', 'hmac-sha512');
    /** polls `address` (RD=0) until `owner` TLSA is `want` */
    const waitTlsa = async (address: string, owner: string, want: string[]) => {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const r = await lab.dig([`@${address}`, '+norec', owner, 'TLSA']);
        if (JSON.stringify(tlsaIn(r.answer)) === JSON.stringify(want)) return r;
        if (Date.now() > deadline) assert.fail(`${address}: ${owner} TLSA ${tlsaIn(r.answer)}`);
        await sleep(20);
      }
    };
    let ns: Netns;
    let lab: DnsLab;
    let extDir: string;
    let ext: Awaited<ReturnType<typeof startExternal>>;

    before(async () => {
      ns = await createNetns();
      extDir = tempDir('dk-dns-ext-');
      // the documented order: the external server first, so its DS can go in at start
      ext = await startExternal(ns, join(extDir, 'a'), EXT, [
        { name: 'ext.test', tlsa: hex('e1') },
      ]);
      lab = await startDnsLab(ns, {
        zones: [
          { name: 'ext.test', servers: [EXT], external: { ds: ext.ds.get('ext.test')! } },
          // its server starts only after the lab, its DS is set then
          { name: 'late.test', servers: [LATE], external: {} },
          {
            name: 'inl.test',
            signing: 'inline',
            updateKeys: [UPDATE_KEY],
            records: [
              { name: 'mx', type: 'A', data: '127.0.10.1' },
              { name: '_25._tcp.mx', type: 'TLSA', data: `3 1 1 ${hex('a1')}` },
            ],
          },
          {
            name: 'sec.test',
            signing: 'inline',
            updateKeys: [UPDATE_KEY],
            servers: [SEC_PRIMARY],
            secondaries: [SEC_SECONDARY, SEC_SECONDARY6],
            records: [{ name: '_25._tcp.mx', type: 'TLSA', data: `3 1 1 ${hex('b1')}` }],
          },
          {
            name: 'file.test',
            signing: 'inline',
            csk: true,
            nsec3: true,
            records: [{ name: 'mx', type: 'A', data: '127.0.10.2' }],
          },
        ],
        tsigKeys: [OTHER_KEY],
      });
    });

    after(async () => {
      // the external nameds are unref'd children that ns.destroy() waits for
      const keepAlive = setInterval(() => {}, 1_000);
      try {
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keepAlive);
        rmSync(extDir, { recursive: true, force: true });
      }
    });

    it('starts within 5 s (inline zones signed, secondaries in step)', (t) => {
      t.diagnostic(`startDnsLab took ${lab.startMs} ms`);
      assert.ok(lab.startMs < 5_000, `took ${lab.startMs} ms`);
    });

    it('external zone: the parent delegates with NS, glue and the DS given', async () => {
      const z = lab.zone('ext.test');
      assert.equal(z.external, true);
      assert.deepEqual(z.nsNames, ['ns1.ext.test.']);
      const r = await lab.dig(['@127.0.53.2', '+norec', '+dnssec', 'www.ext.test', 'A']);
      assert.match(r.stdout, /ext\.test\.\s+\d+\s+IN\s+NS\s+ns1\.ext\.test\./);
      assert.match(r.stdout, /ns1\.ext\.test\.\s+\d+\s+IN\s+A\s+127\.0\.55\.9/);
      const tag = ext.ds.get('ext.test')![0]!.split(/\s+/)[3]!;
      assert.match(r.stdout, new RegExp(`ext\\.test\\.\\s+\\d+\\s+IN\\s+DS\\s+${tag} 13 2 `));
      const v = await lab.dig(['+dnssec', '_25._tcp.mx.ext.test', 'TLSA']);
      assert.equal(v.status, 'NOERROR');
      assert.ok(v.flags.includes('ad'), `flags ${v.flags}`);
      assert.ok(
        v.answer.some((l) =>
          l
            .replace(/\s/g, '')
            .toLowerCase()
            .endsWith(`311${hex('e1')}`),
        ),
      );
    });

    it('external server started after the lab: setDs + flush make it secure', async () => {
      // nothing answers on LATE yet: the resolver gets nothing and remembers the server as down
      // (dig gives up first: Unbound keeps trying an unresponsive server for several seconds)
      const down = await lab.dig(['+dnssec', '+time=1', '_25._tcp.mx.late.test', 'TLSA']);
      assert.notEqual(down.status, 'NOERROR');
      // left running: ns.destroy() ends it
      const late = await startExternal(ns, join(extDir, 'b'), LATE, [
        { name: 'late.test', tlsa: hex('e2') },
      ]);
      {
        const insecure = lab.zone('late.test').ds;
        assert.deepEqual(insecure, []);
        const rdata = late.ds.get('late.test')!.map((l) => l.split(/\s+/).slice(3).join(' '));
        const parentSerial = lab.zone('test').serial;
        await lab.setDs('late.test', rdata);
        assert.equal(lab.zone('test').serial, parentSerial + 1);
        assert.equal(lab.zone('late.test').ds.length, 1);
        const r = await lab.dig(['+dnssec', '_25._tcp.mx.late.test', 'TLSA']);
        assert.equal(r.status, 'NOERROR');
        assert.ok(r.flags.includes('ad'), `flags ${r.flags}`);
        // a DS of another key: the zone turns bogus, as a wrong DS at a registrar does
        await lab.setDs(
          'late.test',
          ext.ds.get('ext.test')!.map((l) => l.split(/\s+/).slice(3).join(' ')),
        );
        const bogus = await lab.dig(['+dnssec', '_25._tcp.mx.late.test', 'TLSA']);
        assert.equal(bogus.status, 'SERVFAIL');
      }
    });

    it('inline-signed zone: secure from the start, signed by named with the keys made beforehand', async () => {
      const z = lab.zone('inl.test');
      assert.equal(z.signing, 'inline');
      assert.match(z.file, /\/db$/);
      assert.doesNotMatch(readFileSync(z.file, 'utf8'), /RRSIG|DNSKEY/, 'the file is unsigned');
      const r = await lab.dig(['+dnssec', '_25._tcp.mx.inl.test', 'TLSA']);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('ad'), `flags ${r.flags}`);
      assert.deepEqual(tlsaIn(r.answer), [`3 1 1 ${hex('a1')}`]);
      const keys = await lab.dig([`@${z.servers[0]}`, '+norec', '+multi', 'inl.test', 'DNSKEY']);
      const tags = [...keys.stdout.matchAll(/key id = (\d+)/g)]
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      assert.deepEqual(
        tags,
        [z.keys.ksk!.tag, z.keys.zsk!.tag].sort((a, b) => a - b),
      );
      assert.equal(z.ds, z.ownDs);
      const csk = lab.zone('file.test');
      assert.equal(csk.keys.ksk, csk.keys.zsk);
      const f = await lab.dig(['+dnssec', 'mx.file.test', 'A']);
      assert.ok(f.flags.includes('ad'), 'CSK + NSEC3 inline zone validates');
      const nx = await lab.dig(['+dnssec', 'nope.file.test', 'A']);
      assert.equal(nx.status, 'NXDOMAIN');
      assert.ok(nx.flags.includes('ad'));
    });

    it('TSIG update adds a TLSA record that validates (AD) after a flush', async () => {
      const z = lab.zone('inl.test');
      const owner = '_25._tcp.mx.inl.test.';
      const r = await lab.nsupdate({
        zone: 'inl.test',
        key: UPDATE_KEY,
        commands: [`update add ${owner} 300 TLSA 3 1 1 ${hex('a2')}`],
      });
      assert.equal(r.rcode, 'NOERROR', r.stderr);
      const want = [`3 1 1 ${hex('a1')}`, `3 1 1 ${hex('a2')}`];
      // named signs an update right after committing it: poll the primary
      await waitTlsa(z.servers[0]!, owner, want);
      await lab.flushResolver('inl.test');
      const v = await lab.dig(['+dnssec', owner, 'TLSA']);
      assert.ok(v.flags.includes('ad'), `flags ${v.flags}`);
      assert.deepEqual(tlsaIn(v.answer), want);
    });

    it('updates: a key not allowed is REFUSED, a zone not served there NOTAUTH, no key REFUSED', async () => {
      const owner = '_443._tcp.mx.inl.test.';
      const add = [`update add ${owner} 300 TLSA 3 1 1 ${hex('a3')}`];
      const refused = await lab.nsupdate({ zone: 'inl.test', key: OTHER_KEY, commands: add });
      assert.equal(refused.rcode, 'REFUSED');
      const unsigned = await lab.nsupdate({ zone: 'inl.test', commands: add });
      assert.equal(unsigned.rcode, 'REFUSED');
      // 127.0.53.2 serves test., not inl.test.
      const notauth = await lab.nsupdate({
        server: '127.0.53.2',
        zone: 'inl.test',
        key: UPDATE_KEY,
        commands: add,
      });
      assert.equal(notauth.rcode, 'NOTAUTH');
      const unknown = await lab.nsupdate({
        zone: 'inl.test',
        key: labTsigKey('dk-unknown'),
        commands: add,
      });
      assert.equal(unknown.rcode, 'NOTAUTH', 'RFC 8945 §5.2: BADKEY comes back as NOTAUTH');
      assert.match(unknown.stderr + unknown.stdout, /BADKEY|tsig/i);
      const r = await lab.dig([`@${lab.zone('inl.test').servers[0]}`, '+norec', owner, 'TLSA']);
      assert.equal(r.status, 'NXDOMAIN', 'nothing was applied');
    });

    it('inline zone file edited + reloadZone: the change validates (AD)', async () => {
      const z = lab.zone('file.test');
      const text = readFileSync(z.file, 'utf8');
      const serial = z.serial;
      const edited = text
        .replace(/( SOA \S+ \S+ )(\d+)/, (_, a: string, n: string) => `${a}${Number(n) + 1}`)
        .concat(`_25._tcp.mx IN TLSA 3 1 1 ${hex('f1')}\n`);
      writeFileSync(z.file, edited);
      await lab.reloadZone('file.test');
      assert.equal(z.serial, serial + 1);
      assert.deepEqual(lab.reloadCommand('file.test').slice(-4), [
        'reload',
        'file.test.',
        'IN',
        `ns-${z.servers[0]}`,
      ]);
      await lab.flushResolver('file.test');
      const v = await lab.dig(['+dnssec', '_25._tcp.mx.file.test', 'TLSA']);
      assert.ok(v.flags.includes('ad'), `flags ${v.flags}`);
      assert.deepEqual(tlsaIn(v.answer), [`3 1 1 ${hex('f1')}`]);
      // the lab's own rewrite of an inline zone goes above the served serial
      await lab.addRecords('file.test', [{ name: 'www', type: 'A', data: '127.0.10.3' }]);
      await lab.flushResolver('file.test');
      const w = await lab.dig(['+dnssec', 'www.file.test', 'A']);
      assert.ok(w.flags.includes('ad'));
    });

    it('dynamic inline zone: setRecords goes through freeze/thaw and validates', async () => {
      await lab.addRecords('inl.test', [{ name: 'www', type: 'A', data: '127.0.10.4' }]);
      await lab.flushResolver('inl.test');
      const w = await lab.dig(['+dnssec', 'www.inl.test', 'A']);
      assert.equal(w.status, 'NOERROR');
      assert.ok(w.flags.includes('ad'));
    });

    it('secondaries: in the NS set and the delegation, in step at start', async () => {
      const z = lab.zone('sec.test');
      assert.deepEqual(z.nsNames, ['ns1.sec.test.', 'ns2.sec.test.', 'ns3.sec.test.']);
      const ref = await lab.dig(['@127.0.53.2', '+norec', 'sec.test', 'NS']);
      assert.match(ref.stdout, /ns2\.sec\.test\.\s+\d+\s+IN\s+A\s+127\.0\.54\.201/);
      assert.match(ref.stdout, /ns3\.sec\.test\.\s+\d+\s+IN\s+AAAA\s+fd00:53::201/);
      const ns2 = await lab.dig([`@${SEC_SECONDARY}`, '+norec', 'sec.test', 'NS']);
      assert.ok(ns2.flags.includes('aa'));
      assert.equal(ns2.answer.length, 3);
      const p = await lab.serial('sec.test', SEC_PRIMARY);
      assert.ok(p !== null && p > 1, `primary serial ${p}`);
      assert.equal(await lab.serial('sec.test', SEC_SECONDARY), p);
      assert.equal(await lab.serial('sec.test', SEC_SECONDARY6), p);
      assert.equal(
        await lab.serial('sec.test', '127.0.53.2'),
        null,
        'test. serves no sec.test SOA',
      );
    });

    it('a secondary lags after an update until refreshSecondary; answers validate throughout', async () => {
      const owner = '_25._tcp.mx.sec.test.';
      const old = [`3 1 1 ${hex('b1')}`];
      const next = [`3 1 1 ${hex('b2')}`];
      const before = await lab.serial('sec.test', SEC_PRIMARY);
      const u = await lab.nsupdate({
        zone: 'sec.test',
        key: UPDATE_KEY,
        commands: [`update delete ${owner} TLSA`, `update add ${owner} 300 TLSA ${next[0]}`],
      });
      assert.equal(u.rcode, 'NOERROR', u.stderr);
      await waitTlsa(SEC_PRIMARY, owner, next);
      const after = await lab.serial('sec.test', SEC_PRIMARY);
      assert.ok(after! > before!, `serial ${before} -> ${after}`);
      // no NOTIFY, refresh a day: the secondaries keep the old set (give them a moment to prove it)
      await sleep(500);
      for (const a of [SEC_SECONDARY, SEC_SECONDARY6]) {
        const r = await lab.dig([`@${a}`, '+norec', '+dnssec', owner, 'TLSA']);
        assert.ok(r.flags.includes('aa'));
        assert.deepEqual(tlsaIn(r.answer), old, a);
        assert.ok(
          r.answer.some((l) => / IN RRSIG TLSA /.test(l)),
          'the old set is still signed',
        );
        assert.equal(await lab.serial('sec.test', a), before);
      }
      // whichever server the resolver asks, the answer validates
      await lab.flushResolver('sec.test');
      const mid = await lab.dig(['+dnssec', owner, 'TLSA']);
      assert.ok(mid.flags.includes('ad'), `flags ${mid.flags}`);
      assert.ok([old, next].some((w) => JSON.stringify(w) === JSON.stringify(tlsaIn(mid.answer))));

      await lab.refreshSecondary('sec.test');
      for (const a of [SEC_SECONDARY, SEC_SECONDARY6]) {
        assert.equal(await lab.serial('sec.test', a), after);
        const r = await lab.dig([`@${a}`, '+norec', owner, 'TLSA']);
        assert.deepEqual(tlsaIn(r.answer), next, a);
      }
      await lab.flushResolver('sec.test');
      const v = await lab.dig(['+dnssec', owner, 'TLSA']);
      assert.ok(v.flags.includes('ad'));
      assert.deepEqual(tlsaIn(v.answer), next);
    });

    it('an update sent to a secondary is REFUSED (no update forwarding)', async () => {
      const r = await lab.nsupdate({
        server: SEC_SECONDARY,
        zone: 'sec.test',
        key: UPDATE_KEY,
        commands: [`update add x.sec.test. 300 A 127.0.10.9`],
      });
      assert.equal(r.rcode, 'REFUSED');
    });
  },
);
