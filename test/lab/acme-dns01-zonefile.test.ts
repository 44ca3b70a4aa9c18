/**
 * DNS-01 through the zonefile backend against Pebble (lab): the challenge TXT is written into
 * the master file of an inline-signed BIND zone (the lab's `rndc reload` as reload command),
 * next to a hand-made TXT typed in a form the lab never writes; the solver waits until the
 * zone's server serves it, Pebble validates it through the lab's resolver, and afterwards the
 * file holds the hand-made value only. A value an earlier run published and never cleaned up
 * (recorded in the state database) is removed first.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import { startDnsLab, RESOLVER, type DnsLab } from './dns/dnslab.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startPebble, type Pebble } from './pebble.js';
import type { ZonefileDns } from './acme-dns01-zonefile-driver.js';

const avail = labAvailable();
const PEBBLE = '127.0.57.11';
const ZONE = 'zfacme.test.';
const DRIVER = 'test/lab/acme-dns01-zonefile-driver.ts';

describe(
  'ACME DNS-01 through the zonefile backend (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let pebble: Pebble;
    let dir: string;
    let dns: ZonefileDns;

    before(async () => {
      dir = tempDir('dk-acme-zf-lab-');
      ns = await createNetns({ addresses: [PEBBLE] });
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'acmezf-ca.test',
            servers: ['127.0.54.70'],
            records: [{ name: 'ca', type: 'A', data: PEBBLE }],
          },
          {
            name: 'zfacme.test',
            signing: 'inline',
            servers: ['127.0.54.71'],
            records: [{ name: 'mail', type: 'A', data: '127.0.58.11' }],
          },
        ],
      });
      const file = lab.zone(ZONE).file;
      // A hand-made TXT at the challenge's owner: two strings, an escape, a comment.
      const text = readFileSync(file, 'utf8');
      writeFileSync(
        file,
        text.replace(
          /( IN SOA \S+ \S+ )(\d+)/,
          (_m, a: string, s: string) => `${a}${Number(s) + 1}`,
        ),
      );
      appendFileSync(file, `_acme-challenge.mail 300 IN TXT "made by " "hand \\"x\\"" ; keep\n`);
      await lab.reloadZone(ZONE);
      dns = {
        zone: ZONE,
        file,
        reload: lab.reloadCommand(ZONE),
        store: join(dir, 'state', 'state.db'),
      };
      mkdirSync(join(dir, 'p'));
      pebble = await startPebble(ns, {
        hostname: 'ca.acmezf-ca.test',
        address: PEBBLE,
        dnsServer: `${RESOLVER}:53`,
        dir: join(dir, 'p'),
      });
    });

    after(async () => {
      // as in acme.test.ts: keep the loop alive while Pebble and the lab stop
      const keep = setInterval(() => {}, 1000);
      try {
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keep);
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('Pebble validates the TXT written into the zone file; a leftover of an earlier run and our value are removed, the hand-made one stays', async () => {
      const owner = '_acme-challenge.mail.zfacme.test.';
      await callInNetns(ns, DRIVER, 'publishLeftover', [dns, owner, 'left by a dead run'], {
        timeoutMs: 60_000,
      });
      const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
      const r = await callInNetns<{
        names: string[];
        looks: string[][];
        leftovers: { owner: string; removed: string[] }[];
        txtAfter: Record<string, string[]>;
        storeAfter: string[];
      }>(
        ns,
        DRIVER,
        'obtainDns01Zonefile',
        [
          { directory: pebble.directory, caFile: pebble.caFile, email: 'hostmaster@zfacme.test' },
          { ...dns, names: ['mail.zfacme.test'], keyPem, resolver: RESOLVER },
        ],
        { timeoutMs: 120_000 },
      );
      assert.deepEqual(r.names, ['mail.zfacme.test']);
      assert.deepEqual(r.leftovers, [{ owner, removed: ['left by a dead run'] }]);
      assert.deepEqual(r.looks.at(-1), ['127.0.54.71 serves'], JSON.stringify(r.looks));
      assert.deepEqual(r.txtAfter['mail.zfacme.test'], ['made by hand "x"']);
      assert.deepEqual(r.storeAfter, [], 'nothing left to clean up');
      const check = spawnSync('named-checkzone', ['-k', 'fail', 'zfacme.test', dns.file], {
        encoding: 'utf8',
      });
      assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
      assert.match(
        readFileSync(dns.file, 'utf8'),
        /^_acme-challenge\.mail 300 IN TXT "made by " "hand \\"x\\"" ; keep$/m,
      );
    });
  },
);
