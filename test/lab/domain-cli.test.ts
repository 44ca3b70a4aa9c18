/**
 * `danekeeper domain add --dane` against the lab's real DNSSEC tree (BIND, Unbound): the seed's
 * prerequisite for the DANE option. Accepted for a signed zone with a secure chain, the mail
 * host found through its MX; refused with the reason and the fix for an island (signed, no DS),
 * an unsigned zone and a zone whose DS matches no key; and enable-dane refused the same way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openState } from '../../src/store/state.js';
import { runCli, type CliResult } from '../support/cli.js';
import { startDnsLab, type DnsLab } from './dns/dnslab.js';
import { createNetns, labAvailable, type Netns } from './netns.js';

const avail = labAvailable();
const mx = (zone: string) => [
  { name: '@', type: 'MX', data: `10 mail.${zone}.` },
  { name: 'mail', type: 'A', data: '127.0.10.25' },
];

describe(
  'danekeeper domain (lab, real BIND + Unbound)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let dir: string;

    const dk = (args: string[]): CliResult => {
      const r = runCli(
        [
          ...args,
          ...(['add', 'enable-dane'].includes(args[1]!) ? ['--resolver', lab.resolver] : []),
        ],
        {
          netns: ns.name,
          env: { DANEKEEPER_STATE_DIR: dir, DANEKEEPER_CONFIG: '/dev/null' },
        },
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      // DK_SHOW=1: what a user sees (the README's examples come from here)
      if (process.env.DK_SHOW) {
        process.stderr.write(
          `$ danekeeper ${args.join(' ')}\n${r.stdout}${r.stderr}[exit ${r.code}]\n`,
        );
      }
      return r;
    };
    const stored = () => {
      const s = openState(join(dir, 'state.db'));
      try {
        return s.domains.list().map((d) => [d.name, d.dane]);
      } finally {
        s.close();
      }
    };

    before(async () => {
      ns = await createNetns();
      dir = mkdtempSync(join(tmpdir(), 'dk-domain-lab-'));
      lab = await startDnsLab(ns, {
        zones: [
          { name: 'signed.test', records: mx('signed.test') },
          { name: 'island.test', security: 'island', records: mx('island.test') },
          { name: 'insecure.test', security: 'insecure', records: mx('insecure.test') },
          { name: 'bogus.test', security: 'bogus-ds', records: mx('bogus.test') },
        ],
      });
    });

    after(async () => {
      await lab?.stop();
      await ns?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('a signed zone with a secure chain: accepted, the mail host from MX, port 25 an endpoint', () => {
      const r = dk(['domain', 'add', 'signed.test', '--subdomain', 'mail', '--dane']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /DANE: +on/);
      // The zone has no DKIM key: prereq's DKIM finding, a warning only (one line, with the fix).
      assert.match(
        r.stderr,
        /^danekeeper: warning: signed\.test: No DKIM key .*Fix: Publish the public key .*\(details, another selector: danekeeper prereq signed\.test --dkim-selector S\)\n$/,
      );
      const show = dk(['domain', 'show', 'signed.test', '--json']);
      const j = JSON.parse(show.stdout) as {
        dane: boolean;
        mailHosts: string[];
        endpoints: unknown[];
      };
      assert.equal(j.dane, true);
      assert.deepEqual(j.mailHosts, ['mail.signed.test']);
      assert.deepEqual(j.endpoints, [{ host: 'mail.signed.test', port: 25, proto: 'tcp' }]);
      const s = openState(join(dir, 'state.db'));
      assert.match(
        s.events.list({ domain: 'signed.test' })[0]!.message,
        /DANE on \(signed\.test secure\)/,
      );
      s.close();
    });

    it('an island (signed, no DS at the parent): refused with the DS to give the registrar', () => {
      const r = dk(['domain', 'add', 'island.test', '--subdomain', 'mail', '--dane']);
      assert.equal(r.code, 78, r.stderr);
      assert.equal(r.stderr.split('\n').length, 2, 'one line');
      assert.match(
        r.stderr,
        /^danekeeper: Cannot turn DANE on for island\.test: zone island\.test has no secure chain of trust \(chain insecure\)\. The parent zone test holds no DS for island\.test.*\. Fix: .*island\.test\.? .*DS \d+ 13 2 [0-9A-F]+.* \(details: danekeeper dnssec status island\.test; or add the domain with --no-dane\)\n$/,
      );
      assert.deepEqual(stored(), [['signed.test', true]]);
    });

    it('an unsigned zone: refused with how to sign it; --no-dane accepted, enable-dane then refused', () => {
      const r = dk(['domain', 'add', 'insecure.test', '--subdomain', 'mail']);
      assert.equal(r.code, 78, r.stderr);
      assert.match(
        r.stderr,
        /Cannot turn DANE on for insecure\.test: zone insecure\.test has no secure chain of trust \(chain insecure\)\. insecure\.test is not signed.*Fix: .*dnssec-policy/,
      );
      const off = dk(['domain', 'add', 'insecure.test', '--subdomain', 'mail', '--no-dane']);
      assert.equal(off.code, 0, off.stderr);
      const on = dk(['domain', 'enable-dane', 'insecure.test']);
      assert.equal(on.code, 78, on.stderr);
      assert.match(on.stderr, /^danekeeper: Cannot turn DANE on for insecure\.test: /);
      assert.deepEqual(stored(), [
        ['insecure.test', false],
        ['signed.test', true],
      ]);
    });

    it('a DS that matches no key (bogus): the MX lookup already fails; with --mail-host the chain is named bogus', () => {
      const r = dk(['domain', 'add', 'bogus.test', '--subdomain', 'mail']);
      assert.equal(r.code, 78, r.stderr);
      assert.match(r.stderr, /Cannot find the mail host of bogus\.test: its MX lookup is bogus/);
      const h = dk(['domain', 'add', 'bogus.test', '--subdomain', 'mail', '--mail-host', 'mail']);
      assert.equal(h.code, 78, h.stderr);
      assert.match(h.stderr, /zone bogus\.test has no secure chain of trust \(chain bogus\)/);
      assert.equal(stored().length, 2);
    });
  },
);
