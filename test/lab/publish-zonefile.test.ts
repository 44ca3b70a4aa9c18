/**
 * The zone-file backend against real BIND: the zone is inline-signed (named signs the unsigned
 * file danekeeper edits, the DS is in the parent), danekeeper runs inside the lab namespace
 * through tlsa-set with a real state database and the lab's `rndc reload` as its reload
 * command, and every result is read back through the validating resolver with AD set.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DkError } from '../../src/core/errors.js';
import type { TlsaRecord } from '../../src/core/tlsa/record.js';
import type { TlsaSetResult } from '../../src/publish/tlsa-set.js';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import { createNetns, labAvailable, sleep, type Netns } from './netns.js';
import { startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import type { SetCall } from './publish-zonefile-call.js';

const avail = labAvailable();
const ZONE = 'zf.test.';
const OWNER = '_25._tcp.mx.zf.test.';
const rec = (c: string): TlsaRecord => ({
  usage: 3,
  selector: 1,
  mtype: 1,
  data: Buffer.from(c.repeat(32), 'hex'),
});
const rdata = (r: TlsaRecord) => `3 1 1 ${r.data.toString('hex')}`;
/** the lab writes this one; the second hand-made one is added below in a harder form */
const HAND1 = rec('a1');
const HAND2 = rec('b2');

async function dkError(p: Promise<unknown>): Promise<DkError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

describe(
  'zonefile backend: inline-signed BIND zone, through the validating resolver',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let work: string;
    let file: string;
    let storePath: string;

    const call = (
      op: SetCall['op'],
      records: SetCall['records'],
      extra: Partial<SetCall> = {},
    ): Promise<TlsaSetResult> =>
      callInNetns<TlsaSetResult>(
        ns,
        'test/lab/publish-zonefile-call.ts',
        'zonefileSet',
        [
          {
            publisher: { zone: ZONE, file, reloadCommand: lab.reloadCommand(ZONE) },
            store: storePath,
            op,
            owner: OWNER,
            records,
            ...extra,
          } satisfies SetCall,
        ],
        { timeoutMs: 60_000 },
      );

    /** named-checkzone must accept every file danekeeper wrote */
    const checkzone = () => {
      const r = spawnSync('named-checkzone', [ZONE, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, `named-checkzone: ${r.stdout}${r.stderr}`);
    };

    /**
     * Waits until the primary serves `want` (named reloads and re-signs after rndc returns),
     * then asks the validating resolver afresh: exactly `want`, with AD.
     */
    const expectServed = async (want: TlsaRecord[]) => {
      const w = want.map(rdata).sort();
      const server = lab.zone(ZONE).servers[0]!;
      const deadline = Date.now() + 10_000;
      for (;;) {
        const r = await lab.dig([`@${server}`, '+norec', OWNER, 'TLSA']);
        if (JSON.stringify(tlsaIn(r.answer)) === JSON.stringify(w)) break;
        if (Date.now() > deadline) assert.fail(`primary serves ${tlsaIn(r.answer)}, not ${w}`);
        await sleep(50);
      }
      await lab.flushResolver(ZONE);
      const r = await lab.dig(['+dnssec', OWNER, 'TLSA']);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('ad'), `no AD: ${r.flags.join(' ')}`);
      assert.deepEqual(tlsaIn(r.answer), w);
      assert.ok(
        r.answer.some((l) => / IN RRSIG TLSA /.test(l)),
        'the TLSA RRset is signed',
      );
    };

    before(async () => {
      ns = await createNetns();
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'zf.test',
            signing: 'inline',
            records: [
              { name: 'mx', type: 'A', data: '127.0.10.1' },
              { name: '_25._tcp.mx', type: 'TLSA', data: rdata(HAND1) },
            ],
          },
        ],
      });
      work = tempDir('dk-zonefile-lab-');
      storePath = join(work, 'state', 'state.db');
      file = lab.zone(ZONE).file;
      // A second hand-made record at the same owner, in a form the lab never writes: owner
      // inherited from the line before, data split over lines in parentheses, comments.
      const text = readFileSync(file, 'utf8');
      writeFileSync(
        file,
        text.replace(
          /( IN SOA \S+ \S+ )(\d+)/,
          (_m, a: string, s: string) => `${a}${Number(s) + 1}`,
        ),
      );
      appendFileSync(
        file,
        `; added by hand\n_25._tcp.mx IN TXT "not a TLSA; keep me"\n` +
          `\tIN TLSA ( 3 1 1 ; hand-made\n\t\t${'b2'.repeat(32)} )\n`,
      );
      await lab.reloadZone(ZONE);
    });

    after(async () => {
      await lab?.stop();
      await ns?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('starts with the two hand-made records, validated', async () => {
      checkzone();
      await expectServed([HAND1, HAND2]);
    });

    it('add: the new record next to the hand-made ones', async () => {
      const r = await call('add', [rec('c3')]);
      assert.equal(r.changed, true);
      assert.deepEqual(r.foreign.length, 2);
      checkzone();
      await expectServed([HAND1, HAND2, rec('c3')]);
    });

    it('repeat: nothing changes, the file is byte-identical', async () => {
      const before = readFileSync(file);
      const r = await call('add', [rec('c3')]);
      assert.equal(r.changed, false);
      assert.deepEqual(readFileSync(file), before);
      await expectServed([HAND1, HAND2, rec('c3')]);
    });

    it('replace: danekeeper’s record swapped for two new ones, the hand-made ones stay', async (t) => {
      const r = await call('replace', [rec('d4'), rec('e5')]);
      assert.deepEqual(r.removed.map(rdata), [rdata(rec('c3'))]);
      checkzone();
      t.diagnostic(readFileSync(file, 'utf8').replace(/\n/g, ' ⏎ '));
      await expectServed([HAND1, HAND2, rec('d4'), rec('e5')]);
    });

    it('remove: only what danekeeper created goes; a hand-made record is not removed', async () => {
      const r = await call('remove', 'owned');
      assert.equal(r.removed.length, 2);
      checkzone();
      await expectServed([HAND1, HAND2]);
      const refused = await call('remove', [HAND1]);
      assert.equal(refused.changed, false);
      assert.deepEqual(refused.notOwned.map(rdata), [rdata(HAND1)]);
      await expectServed([HAND1, HAND2]);
      const text = readFileSync(file, 'utf8');
      assert.ok(text.includes(`\tIN TLSA ( 3 1 1 ; hand-made\n\t\t${'b2'.repeat(32)} )\n`));
      assert.ok(text.includes('"not a TLSA; keep me"'));
    });

    it('a failing reload command: a clear error, the file changed, the next reload serves it', async (t) => {
      // rndc refuses a zone named does not serve: exit status 1 and a line on stderr
      const bad = lab.reloadCommand(ZONE).map((a) => (a === ZONE ? 'nosuch.test.' : a));
      assert.ok(bad.includes('nosuch.test.'), bad.join(' '));
      const e = await dkError(
        callInNetns(ns, 'test/lab/publish-zonefile-call.ts', 'zonefileSet', [
          {
            publisher: { zone: ZONE, file, reloadCommand: bad },
            store: storePath,
            op: 'add',
            owner: OWNER,
            records: [rec('f6')],
          } satisfies SetCall,
        ]),
      );
      t.diagnostic(e.message);
      assert.equal(e.code, 'E_PUBLISH_RELOAD');
      assert.match(
        e.message,
        /^Reload command "rndc .*reload nosuch\.test\. .*" failed \(exit status 1: /,
      );
      assert.match(e.message, /next successful reload will pick it up/);
      assert.ok(readFileSync(file, 'utf8').includes('f6'.repeat(32)));
      checkzone();
      // not reloaded: still the old set
      await expectServed([HAND1, HAND2]);
      await lab.reloadZone(ZONE);
      await expectServed([HAND1, HAND2, rec('f6')]);
      // clean up with force: the store never learnt of f6 (the apply threw)
      await call('remove', [rec('f6')], { force: true });
      await expectServed([HAND1, HAND2]);
    });

    it('a stale guard or an unwritable directory leaves the file byte-identical', async (t) => {
      const before = readFileSync(file);
      const stale = await dkError(
        callInNetns(ns, 'test/lab/publish-zonefile-call.ts', 'zonefileApply', [
          { zone: ZONE, file, reloadCommand: lab.reloadCommand(ZONE) },
          { owner: OWNER, expected: [HAND1], add: [rec('a7')], remove: [], ttl: 300 },
        ]),
      );
      assert.equal(stale.code, 'E_PUBLISH_CONFLICT');
      assert.deepEqual(readFileSync(file), before);
      const dir = dirname(file);
      execFileSync('chattr', ['+i', dir]);
      let io: DkError;
      try {
        io = await dkError(call('add', [rec('a8')]));
      } finally {
        execFileSync('chattr', ['-i', dir]);
      }
      t.diagnostic(`${stale.message} | ${io.message}`);
      assert.equal(io.code, 'E_PUBLISH_IO');
      assert.ok(io.message.includes(dir), io.message);
      assert.deepEqual(readFileSync(file), before);
      assert.ok(!readdirSync(dir).some((f) => f.includes('danekeeper')), 'no lock or temp left');
      await expectServed([HAND1, HAND2]);
    });
  },
);
