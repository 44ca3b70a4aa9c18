/**
 * DNS-01 across a zone cut (lab): the domain `zones.test` has its mail name in the delegated,
 * signed zone `mail.zones.test`. The challenge value of each name goes into the zone holding
 * `_acme-challenge.NAME` (closest enclosing SOA through the validating resolver), is waited on
 * at that zone's server, and is removed afterwards; a backend of the parent zone only is refused
 * naming the owner and the zone, before anything is published; values a killed run left in both
 * zones are removed by the next pass's sweep, each through its own zone's backend.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import { startDnsLab, RESOLVER, type DnsLab } from './dns/dnslab.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import type { ZonesLab } from './dns01-zones-driver.js';

const avail = labAvailable();
const DRIVER = 'test/lab/dns01-zones-driver.ts';
const NAMES = ['zones.test', 'mail.zones.test'];

describe(
  'DNS-01 values in the zone that holds each name (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let dir: string;
    let l: ZonesLab;

    before(async () => {
      dir = tempDir('dk-dns01-zones-lab-');
      ns = await createNetns({ addresses: [] });
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'zones.test',
            signing: 'inline',
            servers: ['127.0.54.101'],
            records: [{ name: 'www', type: 'A', data: '127.0.58.100' }],
          },
          {
            name: 'mail.zones.test',
            signing: 'inline',
            servers: ['127.0.54.102'],
            records: [{ name: '@', type: 'A', data: '127.0.58.101' }],
          },
        ],
      });
      const z = (name: string) => ({ file: lab.zone(name).file, reload: lab.reloadCommand(name) });
      l = {
        zones: { 'zones.test.': z('zones.test.'), 'mail.zones.test.': z('mail.zones.test.') },
        dir,
        resolver: RESOLVER,
      };
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

    it('each value in its own zone, served there, removed after', async () => {
      const r = await callInNetns<{
        during: { parent: string[]; child: string[]; recorded: number[] };
        afterCleanup: { parent: string[]; child: string[]; recorded: number[] };
      }>(ns, DRIVER, 'solveAndClean', [l, NAMES], { timeoutMs: 90_000 });
      assert.equal(r.during.parent.length, 1, JSON.stringify(r));
      assert.equal(r.during.child.length, 1, JSON.stringify(r));
      assert.deepEqual(r.during.recorded, [1, 1]);
      assert.deepEqual(r.afterCleanup, { parent: [], child: [], recorded: [0, 0] });
    });

    it('a backend of the parent zone only is refused before anything is published', async () => {
      const refused = await callInNetns<string>(ns, DRIVER, 'refusedWithParentOnly', [l, NAMES], {
        timeoutMs: 60_000,
      });
      assert.equal(
        refused,
        'E_DAEMON_ZONE: _acme-challenge.mail.zones.test. is in the zone mail.zones.test. (the closest enclosing SOA), but the [dns] backend serves zones.test.: configure a backend for mail.zones.test.',
      );
      const s = await callInNetns<{ lines: string[]; parent: string[]; child: string[] }>(
        ns,
        DRIVER,
        'sweep',
        [l, 'zones.test'],
        { timeoutMs: 60_000 },
      );
      assert.deepEqual(s, { lines: [], parent: [], child: [], recorded: [0, 0] });
    });

    it('a killed run’s values in both zones are swept by the next pass, each through its zone', async () => {
      const recorded = await callInNetns<number[]>(ns, DRIVER, 'killedAfterPrepare', [l, NAMES], {
        timeoutMs: 90_000,
      });
      assert.deepEqual(recorded, [1, 1]);
      const s = await callInNetns<{
        lines: string[];
        parent: string[];
        child: string[];
        recorded: number[];
      }>(ns, DRIVER, 'sweep', [l, 'zones.test'], { timeoutMs: 60_000 });
      assert.equal(s.lines.length, 2, JSON.stringify(s));
      assert.match(s.lines.join('\n'), /_acme-challenge\.mail\.zones\.test\./);
      assert.deepEqual(
        { parent: s.parent, child: s.child, recorded: s.recorded },
        {
          parent: [],
          child: [],
          recorded: [0, 0],
        },
      );
    });
  },
);
