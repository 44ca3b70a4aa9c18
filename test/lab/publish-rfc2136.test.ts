/**
 * The rfc2136 backend against real servers: BIND 9.18 (an inline-signed zone, dnssec-policy,
 * TSIG hmac-sha256 allowed to update) and Knot 3.2 (a zone it signs itself, TSIG hmac-sha512 in
 * its update ACL), both delegated from the lab's signed tree and seen through the validating
 * Unbound. Per server: add, repeat, replace, remove through the tlsa-set policy with AD after
 * each; a hand-made record surviving all of it; the TTL of the whole RRset; wrong key name,
 * wrong secret, no key, a key known but not allowed, zone not served, server down and a stale
 * guard each failing with its code and nothing half-applied (same SOA serial, same RRset).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DkError } from '../../src/core/errors.js';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import {
  labTsigKey,
  startDnsLab,
  tlsaIn,
  writeTsigKeyFile,
  type DnsLab,
  type TsigKeySpec,
} from './dns/dnslab.js';
import { startKnot, type KnotServer } from './dns/knot.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import type { DriverOpts } from './publish-rfc2136-driver.js';

const avail = labAvailable();
const DRIVER = 'test/lab/publish-rfc2136-driver.ts';
const r = (c: string) => `3 1 1 ${c.repeat(32)}`;
const HAND = r('ad');
const A = r('a1');
const B = r('b2');
const C = r('c3');

interface Server {
  label: string;
  zone: string;
  /** the other server's zone: not served here */
  foreignZone: string;
  owner: string;
  host: () => string;
  /** the key allowed to update, as a key file */
  keyFile: () => string;
  /** known to the server, not allowed to update: BIND REFUSED, Knot BADKEY */
  deniedKeyFile: () => string;
  denied: { code: string; msg: RegExp };
  /** an unsigned update: BIND REFUSED, Knot NOTAUTH (its ACL denial without TSIG) */
  unsigned: { code: string; msg: RegExp };
  /** how the server answers each case: `RCODE tsig-verdict TSIG-error` */
  answers: Record<string, string>;
}

describe('publish: rfc2136 backend on BIND and Knot', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let knot: KnotServer;
  let lab: DnsLab;
  let dir: string;
  const files: Record<string, string> = {};
  const bindKey = labTsigKey('dk-update', 'hmac-sha256');
  const knotKey = labTsigKey('dk-knot-update', 'hmac-sha512');
  const other = labTsigKey('dk-other', 'hmac-sha256');

  const call = <T>(fn: string, args: unknown[]) =>
    callInNetns<T>(ns, DRIVER, fn, args, { timeoutMs: 30_000 });

  /** The TLSA RRset as the validating resolver serves it: sorted `3 1 1 hex`, and the AD bit. */
  async function served(owner: string, zone: string) {
    await lab.flushResolver(zone);
    const d = await lab.dig(['+dnssec', owner, 'TLSA']);
    return { status: d.status, ad: d.flags.includes('ad'), set: tlsaIn(d.answer) };
  }
  async function expectServed(set: string[], owner: string, zone: string) {
    const s = await served(owner, zone);
    assert.equal(s.status, set.length > 0 ? 'NOERROR' : s.status, JSON.stringify(s));
    assert.ok(s.ad, `AD for ${owner}: ${JSON.stringify(s)}`);
    assert.deepEqual(s.set, [...set].sort());
  }
  /** The RRset at the primary (RD=0): records with their TTLs, `TTL 3 1 1 hex`. */
  async function atPrimary(host: string, owner: string): Promise<string[]> {
    const d = await lab.dig([`@${host}`, '+norec', owner, 'TLSA']);
    return d.answer
      .filter((l) => / IN TLSA /.test(l))
      .map((l) => {
        const [, ttl] = l.split(' ');
        const [u, s, m, ...hex] = l.split(' IN TLSA ')[1]!.split(' ');
        return `${ttl} ${u} ${s} ${m} ${hex.join('').toLowerCase()}`;
      })
      .sort();
  }
  async function serial(host: string, zone: string): Promise<number> {
    const d = await lab.dig([`@${host}`, '+norec', '+short', zone, 'SOA']);
    return Number(d.stdout.trim().split(/\s+/)[2]);
  }
  async function rejects(p: Promise<unknown>, code: string, msg?: RegExp): Promise<DkError> {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof DkError, String(e));
      assert.equal(e.code, code, e.message);
      if (msg) assert.match(e.message, msg);
      for (const k of [bindKey, knotKey, other])
        assert.ok(!e.message.includes(k.secret), 'no secret in messages');
      return e;
    }
    assert.fail(`expected ${code}`);
  }
  const keyFile = (name: string, k: TsigKeySpec) => {
    files[name] = writeTsigKeyFile(join(dir, `${name}.key`), k);
    return files[name];
  };

  before(async () => {
    ns = await createNetns();
    dir = tempDir(`dk-rfc2136-${process.pid}-`);
    // Knot first: its DS goes into the parent when the lab starts (test/lab/dns/README.md)
    knot = await startKnot(ns, {
      zones: [
        {
          name: 'knot.test',
          records: ['mail IN A 127.0.10.25', `_25._tcp.mail IN TLSA ${HAND}`],
        },
      ],
      updateKeys: [knotKey],
      deniedKeys: [other],
    });
    lab = await startDnsLab(ns, {
      zones: [
        {
          name: 'bind.test',
          signing: 'inline',
          updateKeys: [bindKey],
          records: [
            { name: 'mail', type: 'A', data: '127.0.10.25' },
            // made by hand, in the zone file: danekeeper must never touch it
            { name: '_25._tcp.mail', type: 'TLSA', data: HAND },
          ],
        },
        { name: 'knot.test', servers: [knot.address], external: { ds: knot.zone('knot.test').ds } },
      ],
      tsigKeys: [other],
    });
    keyFile('bind', bindKey);
    keyFile('knot', knotKey);
    keyFile('other', other);
    for (const k of [bindKey, knotKey]) {
      // the right name with a wrong secret, and a name no server knows
      keyFile(`${k.name}-wrong-secret`, { ...labTsigKey(k.name, k.algorithm) });
    }
    keyFile('unknown', labTsigKey('dk-nobody', 'hmac-sha256'));
    process.stderr.write(`# knot start ${knot.startMs} ms, DNS lab start ${lab.startMs} ms\n`);
  });

  after(async () => {
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      await lab?.stop();
      await knot?.stop();
      await ns?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    } finally {
      clearInterval(keepAlive);
    }
  });

  const servers: Server[] = [
    {
      label: 'BIND 9.18 (inline signing, hmac-sha256)',
      zone: 'bind.test.',
      foreignZone: 'knot.test.',
      owner: '_25._tcp.mail.bind.test.',
      host: () => lab.zone('bind.test').servers[0]!,
      keyFile: () => files.bind!,
      deniedKeyFile: () => files.other!,
      denied: {
        code: 'E_PUBLISH_REFUSED',
        msg: /refused: the server does not allow this update with TSIG key "dk-other" \(REFUSED\)$/,
      },
      unsigned: {
        code: 'E_PUBLISH_REFUSED',
        msg: /does not allow this update with no TSIG key \(unsigned\) \(REFUSED\)$/,
      },
      answers: {
        applied: 'NOERROR verified NOERROR',
        'stale guard': 'YXRRSET verified NOERROR',
        'denied key': 'REFUSED verified NOERROR',
        'unknown key': 'NOTAUTH unsigned-error BADKEY',
        'wrong secret': 'NOTAUTH unsigned-error BADSIG',
        'zone not served': 'NOTAUTH verified NOERROR',
        unsigned: 'REFUSED no key -',
      },
    },
    {
      label: 'Knot 3.2 (automatic signing, hmac-sha512)',
      zone: 'knot.test.',
      foreignZone: 'bind.test.',
      owner: '_25._tcp.mail.knot.test.',
      host: () => knot.address,
      keyFile: () => files.knot!,
      deniedKeyFile: () => files.other!,
      denied: {
        code: 'E_PUBLISH_AUTH',
        msg: /refused: TSIG key "dk-other" is not known to the server, or not allowed there \(BADKEY\)$/,
      },
      unsigned: {
        code: 'E_PUBLISH_NOTAUTH',
        msg: /not authoritative for zone knot\.test\. \(NOTAUTH\)$/,
      },
      answers: {
        applied: 'NOERROR verified NOERROR',
        'stale guard': 'YXRRSET verified NOERROR',
        'denied key': 'NOTAUTH unsigned-error BADKEY',
        'unknown key': 'NOTAUTH unsigned-error BADKEY',
        'wrong secret': 'NOTAUTH unsigned-error BADSIG',
        // Knot does not sign an answer for a zone it does not serve
        'zone not served': 'NOTAUTH none -',
        unsigned: 'NOTAUTH no key -',
      },
    },
  ];

  for (const s of servers) {
    describe(s.label, () => {
      let o: DriverOpts;
      let storeFile: string;
      const setOp = (op: string, records: string[], owner = s.owner, opts: DriverOpts = o) =>
        call<{ changed: boolean; after: string[]; foreign: string[]; ttl: number }>('setOp', [
          opts,
          storeFile,
          op,
          owner,
          records,
        ]);

      before(() => {
        o = { zone: s.zone, host: s.host(), keyFile: s.keyFile() };
        storeFile = join(dir, `${s.zone}owned.sqlite`);
      });

      it('the zone validates; read and defaultTtl ask the primary', async () => {
        await expectServed([HAND], s.owner, s.zone);
        assert.deepEqual(await call('read', [o, s.owner]), { ttl: 300, records: [HAND] });
        const soaTtl = Number(
          (await lab.dig([`@${s.host()}`, '+norec', s.zone, 'SOA'])).answer[0]!.split(' ')[1],
        );
        assert.equal(await call('defaultTtl', [o]), soaTtl);
      });

      it('add, repeat, replace, remove through tlsa-set; the hand-made record survives', async () => {
        const add = await setOp('add', [A]);
        assert.equal(add.changed, true);
        assert.deepEqual(add.foreign, [HAND]);
        await expectServed([HAND, A], s.owner, s.zone);

        const s0 = await serial(s.host(), s.zone);
        const again = await setOp('add', [A]);
        assert.equal(again.changed, false, 'repeat changes nothing');
        assert.equal(await serial(s.host(), s.zone), s0, 'no update, no new serial');
        await expectServed([HAND, A], s.owner, s.zone);

        const rep = await setOp('replace', [B]);
        assert.equal(rep.changed, true);
        assert.ok((await serial(s.host(), s.zone)) > s0, 'the update bumped the serial');
        await expectServed([HAND, B], s.owner, s.zone);

        const rm = await setOp('remove', [B]);
        assert.equal(rm.changed, true);
        await expectServed([HAND], s.owner, s.zone);

        // not created by danekeeper: stays without --force
        const keep = await setOp('remove', [HAND]);
        assert.equal(keep.changed, false);
        await expectServed([HAND], s.owner, s.zone);
        assert.deepEqual(await atPrimary(s.host(), s.owner), [`300 ${HAND}`]);
      });

      it('removing the last record leaves a validated denial', async () => {
        const owner = `_443._tcp.www.${s.zone}`;
        await setOp('add', [C], owner);
        await expectServed([C], owner, s.zone);
        await setOp('remove', [C], owner);
        const sv = await served(owner, s.zone);
        assert.equal(sv.status, 'NXDOMAIN');
        assert.ok(sv.ad, 'the denial (NSEC) validates');
      });

      it('one TTL for the whole RRset: every record moves to the new TTL, an unchanged TTL is no update', async () => {
        const owner = `_465._tcp.mail.${s.zone}`;
        const ap = (expected: string[], add: string[], remove: string[], ttl: number) =>
          call('apply', [o, { owner, expected, add, remove, ttl }]);
        await ap([], [A], [], 300);
        assert.deepEqual(await atPrimary(s.host(), owner), [`300 ${A}`]);
        await ap([A], [B], [], 900);
        assert.deepEqual(await atPrimary(s.host(), owner), [`900 ${A}`, `900 ${B}`]);
        // nothing added or removed: the kept records are re-added with the TTL (Knot ignores
        // a plain re-add of an existing record with another TTL)
        await ap([A, B], [], [], 120);
        assert.deepEqual(await atPrimary(s.host(), owner), [`120 ${A}`, `120 ${B}`]);
        await ap([A, B], [], [A], 60);
        assert.deepEqual(await atPrimary(s.host(), owner), [`60 ${B}`]);
        const s0 = await serial(s.host(), s.zone);
        await ap([B], [], [], 60);
        assert.equal(await serial(s.host(), s.zone), s0, 'same TTL: the server changed nothing');
        await expectServed([B], owner, s.zone);
        await ap([B], [], [B], 60);
      });

      it('how it answers (RCODE, TSIG of the answer) — the table the error mapping rests on', async () => {
        const owner = `_993._tcp.mail.${s.zone}`;
        const name = s.zone === 'bind.test.' ? bindKey.name : knotKey.name;
        const c = { owner, expected: [] as string[], add: [A], remove: [] as string[], ttl: 300 };
        const cases: [string, DriverOpts, typeof c][] = [
          ['applied', o, c],
          ['stale guard', o, c],
          ['denied key', { ...o, keyFile: s.deniedKeyFile() }, c],
          ['unknown key', { ...o, keyFile: files.unknown! }, c],
          ['wrong secret', { ...o, keyFile: files[`${name}-wrong-secret`]! }, c],
          [
            'zone not served',
            { ...o, zone: s.foreignZone },
            { ...c, owner: `_993._tcp.mail.${s.foreignZone}` },
          ],
          ['unsigned', { zone: o.zone, host: o.host }, c],
        ];
        const got: Record<string, string> = {};
        for (const [label, opts, ch] of cases) {
          const a = await call<{ rcode: string; tsig: string; tsigError: string }>('rawUpdate', [
            opts,
            ch,
          ]);
          got[label] = `${a.rcode} ${a.tsig} ${a.tsigError}`;
        }
        process.stderr.write(`# ${s.label}: ${JSON.stringify(got)}\n`);
        assert.deepEqual(got, s.answers);
        await call('apply', [o, { ...c, expected: [A], add: [], remove: [A] }]);
        await expectServed([], owner, s.zone);
      });

      describe('failures leave the RRset and the serial as they were', () => {
        let s0: number;
        before(async () => {
          await setOp('add', [C]);
          await expectServed([HAND, C], s.owner, s.zone);
          s0 = await serial(s.host(), s.zone);
        });
        const change = () => ({
          owner: s.owner,
          expected: [HAND, C],
          add: [A],
          remove: [C],
          ttl: 300,
        });
        const unchanged = async () => {
          assert.equal(await serial(s.host(), s.zone), s0, 'no new serial');
          await expectServed([HAND, C], s.owner, s.zone);
        };

        it('unknown key name -> E_PUBLISH_AUTH (BADKEY)', async () => {
          const bad = { ...o, keyFile: files.unknown! };
          const re =
            /refused: TSIG key "dk-nobody" is not known to the server, or not allowed there \(BADKEY\)$/;
          await rejects(call('apply', [bad, change()]), 'E_PUBLISH_AUTH', re);
          // through tlsa-set the signed read already fails
          await rejects(setOp('replace', [A], s.owner, bad), 'E_PUBLISH_AUTH', re);
          await unchanged();
        });

        it('right key name, wrong secret -> E_PUBLISH_AUTH (BADSIG)', async () => {
          const name = s.zone === 'bind.test.' ? bindKey.name : knotKey.name;
          const bad = { ...o, keyFile: files[`${name}-wrong-secret`]! };
          await rejects(
            call('apply', [bad, change()]),
            'E_PUBLISH_AUTH',
            new RegExp(
              `^Update of ${s.owner.replace(/\./g, '\\.')} at ${s.host().replace(/\./g, '\\.')}:53 refused: the server does not accept the signature of TSIG key "${name}"; its secret or algorithm differs there \\(BADSIG\\)$`,
            ),
          );
          await unchanged();
        });

        it('a key the server knows but does not allow to update', async () => {
          const denied = { ...o, keyFile: s.deniedKeyFile() };
          await rejects(call('apply', [denied, change()]), s.denied.code, s.denied.msg);
          await unchanged();
        });

        it('no key at all', async () => {
          const { keyFile: _k, ...unsigned } = o;
          await rejects(call('apply', [unsigned, change()]), s.unsigned.code, s.unsigned.msg);
          await unchanged();
        });

        it('zone not served at that server -> E_PUBLISH_NOTAUTH', async () => {
          const owner = `_25._tcp.mail.${s.foreignZone}`;
          const there = { ...o, zone: s.foreignZone };
          const theirs = await served(owner, s.foreignZone);
          await rejects(
            call('apply', [there, { ...change(), owner }]),
            'E_PUBLISH_NOTAUTH',
            new RegExp(
              `the server is not authoritative for zone ${s.foreignZone.replace(/\./g, '\\.')} \\(NOTAUTH\\)$`,
            ),
          );
          // through tlsa-set: the read is refused first (REFUSED to a query = not served there)
          await rejects(
            setOp('add', [A], owner, there),
            'E_PUBLISH_NOTAUTH',
            /does not answer for zone/,
          );
          await unchanged();
          // and the zone where it is served is untouched too
          await expectServed(theirs.set, owner, s.foreignZone);
        });

        it('server down (nothing listening) -> E_PUBLISH_UNREACHABLE', async () => {
          const down = { ...o, port: 5399 };
          await rejects(
            call('apply', [down, change()]),
            'E_PUBLISH_UNREACHABLE',
            new RegExp(`at ${s.host().replace(/\./g, '\\.')}:5399 failed: connection refused$`),
          );
          await rejects(setOp('add', [A], s.owner, down), 'E_PUBLISH_UNREACHABLE');
          await unchanged();
        });

        it('a stale guard -> E_PUBLISH_CONFLICT (NXRRSET / YXRRSET), nothing applied', async () => {
          await rejects(
            call('apply', [o, { ...change(), expected: [HAND] }]),
            'E_PUBLISH_CONFLICT',
            /not applied: the TLSA RRset there is no longer the one it was read as \(NXRRSET\); read it again$/,
          );
          await rejects(
            call('apply', [o, { ...change(), expected: [] }]),
            'E_PUBLISH_CONFLICT',
            /where none was expected \(YXRRSET\)/,
          );
          await unchanged();
        });
      });
    });
  }
});
