/**
 * `--issuer-records` takes the CA's issuers from every chain it offers (lab): Pebble 2.4 with
 * PEBBLE_ALTERNATE_ROOTS=2 serves each certificate under three roots, the default chain and two
 * alternates (RFC 8555 §7.4.2, `Link: <url>;rel="alternate"`). An order through the daemon's
 * world records the issuers of all three chains for the key type, and the next pass's policy
 * asks for `2 1 1` of every one of them, which are exactly Pebble's intermediates 0, 1 and 2.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import { startDnsLab, RESOLVER, type DnsLab } from './dns/dnslab.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startPebble, type Pebble } from './pebble.js';

const avail = labAvailable();
const PEBBLE = '127.0.57.21';
const WEB = '127.0.58.21';
const DRIVER = 'test/lab/issuers-driver.ts';
const ALTERNATES = 2;
/** leaf + 3 intermediates: the upper two differ per chain (the lowest is cross-signed) */
const CHAIN_LENGTH = 3;

describe(
  '--issuer-records: the issuers of every chain the CA offers (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let pebble: Pebble;
    let dir: string;

    before(async () => {
      dir = tempDir('dk-issuers-lab-');
      ns = await createNetns({ addresses: [PEBBLE, WEB] });
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'issuers.test',
            servers: ['127.0.54.95'],
            records: [
              { name: 'ca', type: 'A', data: PEBBLE },
              { name: 'mail', type: 'A', data: WEB },
            ],
          },
        ],
      });
      mkdirSync(join(dir, 'p'));
      // startPebble passes this process's environment on to Pebble
      process.env.PEBBLE_ALTERNATE_ROOTS = String(ALTERNATES);
      process.env.PEBBLE_CHAIN_LENGTH = String(CHAIN_LENGTH);
      pebble = await startPebble(ns, {
        hostname: 'ca.issuers.test',
        address: PEBBLE,
        dnsServer: `${RESOLVER}:53`,
        nonceReject: 0,
        dir: join(dir, 'p'),
      });
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

    it('an order records the issuers of the default and both alternate chains; the policy asks for all of them', async () => {
      const [intermediates, roots] = await Promise.all([
        callInNetns<string[]>(
          ns,
          DRIVER,
          'pebbleIntermediates',
          [pebble.management, pebble.caFile, ALTERNATES + 1],
          { timeoutMs: 30_000 },
        ),
        callInNetns<string[]>(
          ns,
          DRIVER,
          'pebbleRootSubjects',
          [pebble.management, pebble.caFile, ALTERNATES + 1],
          { timeoutMs: 30_000 },
        ),
      ]);
      const r = await callInNetns<{
        before: string[];
        after: string[];
        withoutIssuerRecords: string[];
        rsa: string[];
        defaultIssuers: string[];
        book: Record<string, { spki: string; subject: string; notAfter: string }[]>;
      }>(
        ns,
        DRIVER,
        'orderWithIssuerRecords',
        [
          {
            directory: pebble.directory,
            caFile: pebble.caFile,
            name: 'mail.issuers.test',
            listen: `${WEB}:80`,
            dir,
          },
        ],
        { timeoutMs: 120_000 },
      );
      assert.deepEqual(r.before, [], 'nothing known before the first order');
      // the lowest intermediate is one key cross-signed under each root; the two above it are
      // the chain's own: 1 + 2 per chain
      assert.equal(r.defaultIssuers.length, CHAIN_LENGTH);
      assert.equal(
        r.after.length,
        1 + (ALTERNATES + 1) * (CHAIN_LENGTH - 1),
        JSON.stringify(r.book),
      );
      for (const s of r.defaultIssuers) assert.ok(r.after.includes(s));
      assert.equal(
        r.after.filter((s) => !r.defaultIssuers.includes(s)).length,
        ALTERNATES * (CHAIN_LENGTH - 1),
      );
      assert.ok(r.after.includes(intermediates[0]!), 'the issuer of the leaf');
      // the top of each chain is signed by one of Pebble's roots: every root's chain was read
      const idOf = (s: string) => /Pebble (?:Root|Intermediate) CA ([0-9a-f]+)/.exec(s)?.[1];
      const tops = r.book['ec-p256']!.filter((e) => / #2$/.test(e.subject)).map((e) =>
        idOf(e.subject),
      );
      assert.deepEqual(new Set(tops), new Set(roots.map(idOf)));
      assert.deepEqual(r.withoutIssuerRecords, []);
      assert.deepEqual(r.rsa, [], 'issuers are per key type');
      assert.deepEqual(Object.keys(r.book), ['ec-p256']);
    });
  },
);
