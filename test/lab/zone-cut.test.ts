/**
 * Per-owner zone (lab): the domain `cut.test` has its mail host in the delegated, signed zone
 * `mail.cut.test`. The daemon's world finds that zone by the closest enclosing SOA through the
 * validating resolver, publishes the TLSA record into the subzone's file (not the parent's),
 * sees the subzone's server serve it, and refuses a backend that serves only the parent zone,
 * naming the owner and the zone found.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import { startDnsLab, RESOLVER, type DnsLab } from './dns/dnslab.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import type { ZoneCutLab } from './zone-cut-driver.js';

const avail = labAvailable();
const DRIVER = 'test/lab/zone-cut-driver.ts';
const RDATA = `3 1 1 ${'5a'.repeat(32)}`;

describe('TLSA owner in a delegated subzone (lab)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;
  let dir: string;
  let l: ZoneCutLab;

  before(async () => {
    dir = tempDir('dk-zone-cut-lab-');
    ns = await createNetns({ addresses: [] });
    lab = await startDnsLab(ns, {
      zones: [
        {
          name: 'cut.test',
          signing: 'inline',
          servers: ['127.0.54.91'],
          records: [{ name: 'www', type: 'A', data: '127.0.58.90' }],
        },
        {
          name: 'mail.cut.test',
          signing: 'inline',
          servers: ['127.0.54.92'],
          records: [{ name: '@', type: 'A', data: '127.0.58.91' }],
        },
      ],
    });
    const z = (name: string) => ({
      file: lab.zone(name).file,
      reload: lab.reloadCommand(name),
    });
    l = {
      zones: { 'cut.test.': z('cut.test.'), 'mail.cut.test.': z('mail.cut.test.') },
      fixed: 'cut.test.',
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

  it('publishes into mail.cut.test, served there; a backend of cut.test only is refused', async () => {
    const r = await callInNetns<{
      dns: { published: string[] | null; servers: { name: string; served: string[] | null }[] };
      refused: string;
    }>(ns, DRIVER, 'publishAndObserve', [l, 'cut.test', RDATA], { timeoutMs: 120_000 });
    assert.deepEqual(r.dns.published, [RDATA]);
    assert.ok(r.dns.servers.length > 0, JSON.stringify(r.dns));
    for (const s of r.dns.servers) assert.deepEqual(s.served, [RDATA], JSON.stringify(r.dns));
    assert.match(r.dns.servers[0]!.name, /mail\.cut\.test/);
    assert.match(readFileSync(l.zones['mail.cut.test.']!.file, 'utf8'), /_25\._tcp/);
    assert.doesNotMatch(readFileSync(l.zones['cut.test.']!.file, 'utf8'), /_25\._tcp/);
    assert.equal(
      r.refused,
      'E_DAEMON_ZONE: _25._tcp.mail.cut.test. is in the zone mail.cut.test. (the closest enclosing SOA), but the [dns] backend serves cut.test.: configure a backend for mail.cut.test.',
    );
  });
});
