/**
 * DNS-01 leftovers (lab): a `run` killed during a DNS-01 order leaves its challenge value in the
 * zone (the master file of an inline-signed BIND zone) and recorded in the state database. The
 * next keep-secured pass over the domain removes it before anything else, even though the
 * domain's next order is far away; a hand-made TXT at the same owner and a recorded value at
 * another domain's owner stay.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import { startDnsLab, RESOLVER, type DnsLab } from './dns/dnslab.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import type { LeftoverLab } from './dns01-leftover-driver.js';

const avail = labAvailable();
const ZONE = 'leftover.test.';
const DRIVER = 'test/lab/dns01-leftover-driver.ts';

describe('DNS-01 leftovers of a killed run (lab)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;
  let dir: string;
  let l: LeftoverLab;

  before(async () => {
    dir = tempDir('dk-leftover-lab-');
    ns = await createNetns({ addresses: [] });
    lab = await startDnsLab(ns, {
      zones: [
        {
          name: 'leftover.test',
          signing: 'inline',
          servers: ['127.0.54.81'],
          records: [{ name: 'mail', type: 'A', data: '127.0.58.81' }],
        },
      ],
    });
    const file = lab.zone(ZONE).file;
    const text = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      text.replace(/( IN SOA \S+ \S+ )(\d+)/, (_m, a: string, s: string) => `${a}${Number(s) + 1}`),
    );
    appendFileSync(file, `_acme-challenge.mail 300 IN TXT "typed by hand"\n`);
    await lab.reloadZone(ZONE);
    l = { zone: ZONE, file, reload: lab.reloadCommand(ZONE), dir, resolver: RESOLVER };
  });

  after(async () => {
    const keep = setInterval(() => {}, 1000);
    try {
      await lab?.stop();
      await ns?.destroy();
    } finally {
      clearInterval(keep);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the next pass removes the recorded value; the hand-made one and another domain’s stay', async () => {
    const owner = '_acme-challenge.mail.leftover.test.';
    const other = '_acme-challenge.shop.leftover.test.';
    assert.deepEqual(
      await callInNetns(ns, DRIVER, 'publishLeftover', [l, owner, 'killed-run'], {
        timeoutMs: 60_000,
      }),
      ['killed-run'],
    );
    await callInNetns(ns, DRIVER, 'publishLeftover', [l, other, 'not-this-domain'], {
      timeoutMs: 60_000,
    });
    assert.match(readFileSync(l.file, 'utf8'), /killed-run/);
    const r = await callInNetns<{
      outcomes: { domain: string; result: string }[];
      events: string[];
      recorded: string[];
      txt: string[];
    }>(ns, DRIVER, 'passOver', [l, 'leftover.test'], { timeoutMs: 120_000 });
    assert.deepEqual(r.events, [
      `leftover-removed: Removed the DNS-01 value(s) killed-run at ${owner} that an earlier run left behind`,
    ]);
    assert.deepEqual(r.txt, ['typed by hand']);
    assert.deepEqual(r.recorded, [`${other} not-this-domain`]);
    const zone = readFileSync(l.file, 'utf8');
    assert.doesNotMatch(zone, /killed-run/);
    assert.match(zone, /not-this-domain/);
    assert.match(zone, /^_acme-challenge\.mail 300 IN TXT "typed by hand"$/m);
    const check = spawnSync('named-checkzone', ['-k', 'fail', 'leftover.test', l.file], {
      encoding: 'utf8',
    });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });
});
