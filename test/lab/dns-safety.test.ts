/**
 * `dns` commands that cannot break delivery, against real servers in a lab namespace: BIND
 * signs safe.test itself and takes TSIG-signed updates, Unbound validates, and Postfix on
 * 127.0.10.1:25 presents the chain of mx1.safe.test. A `--replace` with a new certificate is
 * refused while Postfix still presents the old one and goes through once Postfix has the new
 * one; removing the record Postfix matches is refused unless --force; an address where nothing
 * listens is refused with 69; --dry-run changes neither the RRset nor the SOA serial; and
 * `dns publish --fetch` publishes what `tlsa --fetch` computes.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliAsync } from '../support/cli.js';
import { makePki, type Pki } from '../support/pki.js';
import { startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable, sleep, type Netns } from './netns.js';
import { startPostfix, type PostfixInstance } from './postfix.js';

const avail = labAvailable();
const PRIMARY = '127.0.54.150';
const MX1 = '127.0.10.1';
const MX2 = '127.0.10.2'; // nothing listens here
const KEY = labTsigKey('dk-safety-update', 'hmac-sha256');
const OWNER = '_25._tcp.mx1.safe.test.';

describe(
  'danekeeper dns: the live endpoint keeps a match (lab: BIND, Unbound, Postfix)',
  {
    skip: !avail.ok && avail.reason,
  },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let dir: string;
    let oldPki: Pki;
    let newPki: Pki;
    let postfix: PostfixInstance | undefined;
    let rfc2136: string[];
    let oldEe: string;
    let newEe: string;
    /** Postfix reads these; they hold the old chain, later the new one */
    let liveKey: string;
    let liveChain: string;

    const dk = (args: string[]) => runCliAsync(args, { netns: ns.name, timeoutMs: 60_000 });

    /** the RRset at `owner` through the validating resolver (AD), and the primary's serial */
    const published = async (owner = OWNER) => {
      await lab.flushResolver('safe.test');
      const d = await lab.dig(['+dnssec', owner, 'TLSA']);
      return {
        records: tlsaIn(d.answer),
        ad: d.flags.includes('ad'),
        serial: await lab.serial('safe.test', PRIMARY),
      };
    };
    /** waits (up to 5 s) for BIND to sign what it accepted, then asserts the RRset and AD */
    const expectRrset = async (want: string[], owner = OWNER) => {
      let seen = await published(owner);
      for (let i = 0; i < 50 && seen.records.join() !== [...want].sort().join(); i++) {
        await sleep(100);
        seen = await published(owner);
      }
      assert.deepEqual(seen.records, [...want].sort());
      if (want.length > 0) assert.equal(seen.ad, true, `no AD for ${owner}`);
      return seen;
    };

    /** (re)starts Postfix on MX1:25 presenting `p`'s chain */
    const present = async (p: Pki) => {
      await postfix?.stop();
      copyFileSync(p.leaf.keyFile, liveKey);
      copyFileSync(p.chainFile, liveChain);
      postfix = await startPostfix(ns, [
        { address: MX1, port: 25, keyFile: liveKey, chainFile: liveChain },
      ]);
    };

    before(async () => {
      ns = await createNetns({ addresses: [MX1, MX2] });
      dir = mkdtempSync(join(tmpdir(), 'dk-dns-safety-'));
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'safe.test',
            signing: 'inline',
            servers: [PRIMARY],
            updateKeys: [KEY],
            records: [
              { name: '@', type: 'MX', data: '10 mx1' },
              { name: 'mx1', type: 'A', data: MX1 },
              { name: 'mx2', type: 'A', data: MX2 },
            ],
          },
        ],
      });
      oldPki = makePki(dir, { names: ['mx1.safe.test'], prefix: 'old-' });
      newPki = makePki(dir, { names: ['mx1.safe.test'], prefix: 'new-' });
      liveKey = join(dir, 'live-key.pem');
      liveChain = join(dir, 'live-chain.pem');
      await present(oldPki);
      rfc2136 = [
        '--zone',
        'safe.test',
        '--backend',
        'rfc2136',
        '--server',
        PRIMARY,
        '--tsig-key',
        lab.tsigKeyFile(KEY),
        '--state',
        join(dir, 'state.db'),
        '--resolver',
        lab.resolver,
      ];
      const ee = async (p: Pki) => {
        const r = await dk(['tlsa', '--cert', p.leaf.certFile]);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trim();
      };
      oldEe = await ee(oldPki);
      newEe = await ee(newPki);
    });

    after(async () => {
      const keepAlive = setInterval(() => {}, 1000);
      try {
        await postfix?.stop();
        await lab?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keepAlive);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('publish --replace with the new certificate is refused while Postfix presents the old one; nothing changes', async () => {
      const pub = ['dns', 'publish', ...rfc2136, '--name', 'mx1'];
      const first = await dk([...pub, '--cert', oldPki.chainFile]);
      assert.equal(first.code, 0, first.stderr);
      const was = await expectRrset([oldEe]);

      const refused = await dk([...pub, '--cert', newPki.chainFile, '--replace']);
      assert.equal(refused.code, 64, refused.stderr + refused.stdout);
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
      assert.ok(
        refused.stderr.includes(
          `${MX1} presents CN=mx1.safe.test whose key only ${oldEe.slice(0, 18)}… matches: keep it, or install the new certificate first`,
        ),
        refused.stderr,
      );
      const now = await published();
      assert.deepEqual(now.records, [oldEe]);
      assert.equal(now.serial, was.serial, 'the SOA serial moved: something was sent');
    });

    it('--dry-run prints the UPDATE and changes neither the RRset nor the serial (exit 0; with --replace the refusal too)', async () => {
      const was = await published();
      const dry = await dk([
        'dns',
        'publish',
        ...rfc2136,
        '--name',
        'mx1',
        '--cert',
        newPki.chainFile,
        '--dry-run',
      ]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /dry run, would change \(nothing was sent\)/);
      assert.match(dry.stdout, /would send:\n/);
      // The UPDATE as nsupdate -d shows it: the new record added in the UPDATE section.
      assert.match(
        dry.stdout,
        new RegExp(
          `;; UPDATE SECTION:\\n(.*\\n)*\\s+${OWNER.replace(/\./g, '\\.')}\\t300\\tIN\\tTLSA\\t${newEe}\\n`,
        ),
      );
      const dryReplace = await dk([
        'dns',
        'publish',
        ...rfc2136,
        '--name',
        'mx1',
        '--cert',
        newPki.chainFile,
        '--replace',
        '--dry-run',
        '--json',
      ]);
      assert.equal(dryReplace.code, 64, dryReplace.stderr);
      const plan = JSON.parse(dryReplace.stdout) as {
        dryRun: boolean;
        removed: string[];
        endpoint: { addresses: { address: string; state: string }[] };
      };
      assert.equal(plan.dryRun, true);
      assert.deepEqual(plan.removed, [oldEe]);
      assert.deepEqual(
        plan.endpoint.addresses.map((a) => [a.address, a.state]),
        [[MX1, 'lost']],
      );
      const now = await published();
      assert.deepEqual(now.records, was.records);
      assert.equal(now.serial, was.serial);
    });

    it('remove of the record Postfix matches is refused', async () => {
      const r = await dk(['dns', 'remove', ...rfc2136, '--name', 'mx1', '--tlsa', oldEe]);
      assert.equal(r.code, 64, r.stderr);
      assert.match(r.stderr, /whose key only 3 1 1 [0-9a-f]{12}… matches: keep it/);
      await expectRrset([oldEe]);
    });

    it('once Postfix presents the new certificate, the same --replace goes through', async () => {
      await present(newPki);
      const r = await dk([
        'dns',
        'publish',
        ...rfc2136,
        '--name',
        'mx1',
        '--cert',
        newPki.chainFile,
        '--replace',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`endpoint ${MX1}:25 \\(CN=mx1\\.safe\\.test\\) still matches`),
      );
      await expectRrset([newEe]);
    });

    it('--force overrides: the record Postfix matches is removed', async () => {
      const args = ['dns', 'remove', ...rfc2136, '--name', 'mx1', '--tlsa', newEe];
      const refused = await dk(args);
      assert.equal(refused.code, 64, refused.stderr);
      await expectRrset([newEe]);
      const forced = await dk([...args, '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /endpoint not checked: --force/);
      await expectRrset([]);
    });

    it('an address where nothing listens: refused with 69, unless --force', async () => {
      const pub = ['dns', 'publish', ...rfc2136, '--name', 'mx2'];
      const owner = '_25._tcp.mx2.safe.test.';
      assert.equal((await dk([...pub, '--cert', oldPki.chainFile])).code, 0);
      await expectRrset([oldEe], owner);
      const refused = await dk([...pub, '--cert', newPki.chainFile, '--replace', '--timeout', '3']);
      assert.equal(refused.code, 69, refused.stderr);
      assert.match(refused.stderr, new RegExp(`${MX2.replace(/\./g, '\\.')} could not be reached`));
      await expectRrset([oldEe], owner);
      const forced = await dk([...pub, '--cert', newPki.chainFile, '--replace', '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      await expectRrset([newEe], owner);
    });

    it('publish --fetch mx1.safe.test publishes at _25._tcp.mx1.safe.test. what tlsa --fetch computes', async () => {
      const t = await dk(['tlsa', '--fetch', 'mx1.safe.test:25', '--chain']);
      assert.equal(t.code, 0, t.stderr);
      const want = t.stdout.trim().split('\n').sort();
      assert.equal(want.length, 2);
      const r = await dk([
        'dns',
        'publish',
        ...rfc2136,
        '--fetch',
        'mx1.safe.test',
        '--chain',
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { owner: string; added: string[] };
      assert.equal(j.owner, OWNER);
      assert.deepEqual(j.added.sort(), want);
      await expectRrset(want);
    });
  },
);
