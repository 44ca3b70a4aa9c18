/**
 * The powerdns backend against a real pdns_server 4.7 (gsqlite3, signed zone) delegated from the
 * lab's signed tree, seen through the validating Unbound: add, repeat, replace, remove through
 * the tlsa-set policy; a hand-made record (and a disabled one) surviving all of it; API 401,
 * 404, 422, server down and a stale guard each failing cleanly with nothing half-applied; and a
 * zone secured through the API whose DS, once in the parent, makes it validate.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DkError } from '../../src/core/errors.js';
import { callInNetns } from '../support/netns-call.js';
import { startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import { startPdns, type PdnsServer } from './dns/pdns.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import type { DriverOpts } from './publish-powerdns-driver.js';

const avail = labAvailable();
const DRIVER = 'test/lab/publish-powerdns-driver.ts';
const ZONE = 'pdns.test.';
const UNSIGNED = 'later.pdns-lab.test.';
const OWNER = '_25._tcp.mail.pdns.test.';
const r = (c: string) => `3 1 1 ${c.repeat(32)}`;
const HAND = r('ad');
const HAND_OFF = r('0f');
const A = r('a1');
const B = r('b2');
const C = r('c3');

describe('publish: powerdns backend on pdns_server', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let pdns: PdnsServer;
  let lab: DnsLab;
  let o: DriverOpts;
  let storeFile: string;

  const call = <T>(fn: string, args: unknown[]) => callInNetns<T>(ns, DRIVER, fn, args);
  const setOp = (op: string, records: string[], owner = OWNER) =>
    call<{ changed: boolean; after: string[]; foreign: string[] }>('setOp', [
      o,
      storeFile,
      op,
      owner,
      records,
    ]);

  /** The TLSA RRset as the validating resolver serves it: sorted `3 1 1 hex`, and the AD bit. */
  async function served(owner = OWNER, zone = ZONE) {
    await lab.flushResolver(zone);
    const d = await lab.dig(['+dnssec', owner, 'TLSA']);
    return { status: d.status, ad: d.flags.includes('ad'), set: tlsaIn(d.answer) };
  }
  async function expectServed(set: string[], owner = OWNER, zone = ZONE) {
    const s = await served(owner, zone);
    assert.equal(s.status, set.length ? 'NOERROR' : s.status);
    assert.ok(s.ad, `AD for ${owner}: ${JSON.stringify(s)}`);
    assert.deepEqual(s.set, [...set].sort());
  }
  async function serial(zone = ZONE): Promise<string> {
    const d = await lab.dig([`@${pdns.zone(zone).address}`, '+norec', '+short', zone, 'SOA']);
    return d.stdout.trim().split(/\s+/)[2]!;
  }
  async function rejects(p: Promise<unknown>, code: string, msg?: RegExp): Promise<DkError> {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof DkError, String(e));
      assert.equal(e.code, code, e.message);
      if (msg) assert.match(e.message, msg);
      assert.ok(!e.message.includes(pdns.apiKey), 'no API key in messages');
      return e;
    }
    assert.fail(`expected ${code}`);
  }

  before(async () => {
    ns = await createNetns();
    // the documented order: PowerDNS first, so its DS goes into the parent at the lab's start
    pdns = await startPdns(ns, {
      zones: [
        { name: ZONE, records: ['mail IN A 127.0.10.25', 'www IN A 127.0.10.80'] },
        { name: UNSIGNED, secure: false, address: '127.0.56.2' },
      ],
    });
    lab = await startDnsLab(ns, {
      zones: [
        { name: ZONE, servers: [pdns.address], external: { ds: pdns.zone(ZONE).ds } },
        { name: UNSIGNED, servers: [pdns.zone(UNSIGNED).address], external: {} },
      ],
    });
    o = { zone: ZONE, apiUrl: pdns.apiUrl, apiKeyFile: pdns.apiKeyFile };
    storeFile = join(pdns.dir, 'owned.sqlite');
    // made by hand, outside danekeeper: one served, one disabled
    const made = await pdns.api('PATCH', `/servers/localhost/zones/${ZONE}`, {
      rrsets: [
        {
          name: OWNER,
          type: 'TLSA',
          changetype: 'REPLACE',
          ttl: 300,
          records: [
            { content: HAND, disabled: false },
            { content: HAND_OFF, disabled: true },
          ],
        },
      ],
    });
    assert.equal(made.status, 204, JSON.stringify(made.body));
    process.stderr.write(`# pdns start ${pdns.startMs} ms, DNS lab start ${lab.startMs} ms\n`);
  });

  after(async () => {
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      await lab?.stop();
      await pdns?.stop();
      await ns?.destroy();
    } finally {
      clearInterval(keepAlive);
    }
  });

  /** the hand-made disabled record, straight from the API: still there, still disabled */
  async function handOffIntact() {
    // the whole zone: 4.7.3 leaves disabled records out of rrset_name-filtered answers
    const z = await pdns.api('GET', `/servers/localhost/zones/${ZONE}`);
    type Rrset = { name: string; type: string; records: { content: string; disabled: boolean }[] };
    const rs = (z.body as { rrsets: Rrset[] }).rrsets.find(
      (x) => x.name === OWNER && x.type === 'TLSA',
    );
    assert.ok(
      rs?.records.some((x) => x.content === HAND_OFF && x.disabled),
      `disabled hand-made record kept: ${JSON.stringify(rs)}`,
    );
  }

  it('the zone is signed by PowerDNS and validates through the lab tree', async () => {
    await expectServed([HAND]);
    assert.equal(await call('defaultTtl', [o]), 300);
    assert.deepEqual(await call('zoneSettings', [o]), {
      kind: 'Native',
      dnssec: true,
      serial: Number(await serial()),
      soaEditApi: 'DEFAULT',
      apiRectify: false,
      nsec3param: '',
    });
    assert.deepEqual(await call('read', [o, OWNER]), { ttl: 300, records: [HAND] });
  });

  it('add, repeat, replace, remove through tlsa-set; the hand-made records survive', async () => {
    const add = await setOp('add', [A]);
    assert.equal(add.changed, true);
    assert.deepEqual(add.foreign, [HAND]);
    await expectServed([HAND, A]);

    const s0 = await serial();
    const again = await setOp('add', [A]);
    assert.equal(again.changed, false, 'repeat changes nothing');
    assert.equal(await serial(), s0, 'no write, no new serial');
    await expectServed([HAND, A]);

    const rep = await setOp('replace', [B]);
    assert.equal(rep.changed, true);
    assert.notEqual(await serial(), s0, 'a write bumps the serial (SOA-EDIT-API)');
    await expectServed([HAND, B]);

    const rm = await setOp('remove', [B]);
    assert.equal(rm.changed, true);
    await expectServed([HAND]);

    // not created by danekeeper: stays without --force
    const keep = await setOp('remove', [HAND]);
    assert.equal(keep.changed, false);
    await expectServed([HAND]);
    await handOffIntact();
  });

  it('removing the last record leaves a validated NXDOMAIN', async () => {
    const other = '_443._tcp.www.pdns.test.';
    await setOp('add', [C], other);
    await expectServed([C], other);
    await setOp('remove', [C], other);
    const s = await served(other);
    // the name held nothing else: gone altogether
    assert.equal(s.status, 'NXDOMAIN');
    assert.ok(s.ad, 'the denial validates (PowerDNS rectified the zone after the PATCH)');
    assert.deepEqual(s.set, []);
  });

  it('a concurrent writer between read and write: conflict, retry, both records kept', async () => {
    const owner = '_587._tcp.mail.pdns.test.';
    const res = await call<{ changed: boolean; tries: number; after: string[] }>('addRacing', [
      o,
      storeFile,
      owner,
      [A],
      B,
    ]);
    assert.equal(res.tries, 2, 'the first try hit the guard');
    assert.deepEqual(res.after, [A, B].sort());
    await expectServed([A, B], owner);
  });

  describe('failures leave the RRset as it was', () => {
    before(async () => {
      await setOp('add', [C]);
      await expectServed([HAND, C]);
    });
    const change = () => ({ owner: OWNER, expected: [HAND, C], add: [A], remove: [C], ttl: 300 });

    it('wrong API key: 401 -> E_PUBLISH_AUTH', async () => {
      const bad = join(pdns.dir, 'wrong.key');
      writeFileSync(bad, 'not-the-key\n', { mode: 0o600 });
      await rejects(
        call('apply', [{ ...o, apiKeyFile: bad }, change()]),
        'E_PUBLISH_AUTH',
        /^PowerDNS API at http:\/\/127\.0\.56\.1:8081 refused the API key \(HTTP 401\) for the update of the TLSA RRset at _25\._tcp\.mail\.pdns\.test\.$/,
      );
      await expectServed([HAND, C]);
    });

    it('zone not there, wrong server id: 404 -> E_PUBLISH_NOTAUTH', async () => {
      await rejects(
        call('apply', [
          { ...o, zone: 'elsewhere.test' },
          { ...change(), owner: '_25._tcp.mail.elsewhere.test.' },
        ]),
        'E_PUBLISH_NOTAUTH',
        /does not serve the zone elsewhere\.test\. \(HTTP 404\)/,
      );
      await rejects(
        call('apply', [{ ...o, serverId: 'primary' }, change()]),
        'E_PUBLISH_NOTAUTH',
        /has no server id "primary" \(HTTP 404\)/,
      );
      await expectServed([HAND, C]);
    });

    it("a TLSA where a CNAME is: 422 -> E_PUBLISH_REJECTED with PowerDNS's reason", async () => {
      const owner = '_443._tcp.alias.pdns.test.';
      const made = await pdns.api('PATCH', `/servers/localhost/zones/${ZONE}`, {
        rrsets: [
          {
            name: owner,
            type: 'CNAME',
            changetype: 'REPLACE',
            ttl: 300,
            records: [{ content: OWNER, disabled: false }],
          },
        ],
      });
      assert.equal(made.status, 204);
      await rejects(
        call('setOp', [o, storeFile, 'add', owner, [A]]),
        'E_PUBLISH_REJECTED',
        /rejected the update of the TLSA RRset at _443\._tcp\.alias\.pdns\.test\. \(HTTP 422\): RRset _443\._tcp\.alias\.pdns\.test\. IN TLSA: Conflicts with pre-existing RRset$/,
      );
      // the CNAME still leads to the untouched set; no TLSA of its own was added
      await expectServed([HAND, C], owner);
      await expectServed([HAND, C]);
    });

    it('server down -> E_PUBLISH_UNREACHABLE; after the restart the old set is served', async () => {
      await pdns.halt();
      try {
        await rejects(
          call('apply', [o, change()]),
          'E_PUBLISH_UNREACHABLE',
          /did not answer the update of the TLSA RRset at .*: connection refused$/,
        );
      } finally {
        await pdns.start();
      }
      await lab.flushResolver();
      await expectServed([HAND, C]);
    });

    it('a stale guard -> E_PUBLISH_CONFLICT, nothing sent', async () => {
      const s0 = await serial();
      await rejects(
        call('apply', [o, { ...change(), expected: [HAND] }]),
        'E_PUBLISH_CONFLICT',
        /changed since it was read \(2 records now, 1 expected\); nothing was applied$/,
      );
      assert.equal(await serial(), s0);
      await expectServed([HAND, C]);
      await handOffIntact();
    });
  });

  it('securing an unsigned zone through the API; its DS in the parent makes it validate', async () => {
    const uo = { ...o, zone: UNSIGNED };
    const before0 = await call<{ dnssec: boolean; keys: unknown[] }>('dnssecStatus', [uo]);
    assert.deepEqual(before0, { dnssec: false, keys: [] });
    const insecure = await lab.dig(['+dnssec', UNSIGNED, 'SOA']);
    assert.equal(insecure.status, 'NOERROR');
    assert.ok(!insecure.flags.includes('ad'));

    const st = await call<{
      dnssec: boolean;
      keys: { keytype: string; active: boolean; dnskey: string; ds: string[]; algorithm: string }[];
    }>('secureZone', [uo]);
    assert.equal(st.dnssec, true);
    const ksk = st.keys.find((k) => k.active && (k.keytype === 'csk' || k.keytype === 'ksk'))!;
    assert.ok(ksk, JSON.stringify(st));
    assert.ok(!JSON.stringify(st).toLowerCase().includes('private'));
    const ds2 = ksk.ds.find((d) => d.split(' ')[2] === '2')!;
    assert.ok(ds2, `a SHA-256 DS: ${ksk.ds.join(', ')}`);

    // the DNSKEY PowerDNS now serves hashes to the DS the API gave (dnssec-dsfromkey)
    const dk = await lab.dig([`@${pdns.zone(UNSIGNED).address}`, '+norec', UNSIGNED, 'DNSKEY']);
    assert.equal(dk.status, 'NOERROR');
    assert.ok(
      dk.answer.some((l) => / IN DNSKEY 257 /.test(l)),
      dk.stdout,
    );
    const keyFile = join(pdns.dir, 'served.dnskey');
    writeFileSync(keyFile, dk.answer.filter((l) => / IN DNSKEY /.test(l)).join('\n') + '\n');
    const fromKey = execFileSync('dnssec-dsfromkey', ['-2', '-f', keyFile, UNSIGNED], {
      encoding: 'utf8',
    });
    const [tag, alg, , digest] = ds2.split(' ');
    assert.match(
      fromKey.replace(/\s+/g, ' '),
      new RegExp(`IN DS ${tag} ${alg} 2 ${digest!.toUpperCase()}`),
    );

    await lab.setDs(UNSIGNED, [ds2]);
    const secure = await lab.dig(['+dnssec', UNSIGNED, 'SOA']);
    assert.equal(secure.status, 'NOERROR');
    assert.ok(secure.flags.includes('ad'), `AD after the DS: ${secure.flags}`);

    // and TLSA published there afterwards validates (rectified after the API change)
    const owner = `_25._tcp.mx.${UNSIGNED}`;
    await call('apply', [uo, { owner, expected: [], add: [A], remove: [], ttl: 300 }]);
    await expectServed([A], owner, UNSIGNED);
    // securing again changes nothing
    const again = await call<typeof st>('secureZone', [uo]);
    assert.deepEqual(again.keys, st.keys);
  });
});
