/**
 * Issue 12: the CLI's PowerDNS path, as a user types it, against the lab's pdns_server 4.7
 * (gsqlite3) delegated from the lab's signed tree: `dns add-tlsa` / `dns remove` with
 * `--backend powerdns`, and `dnssec status --secure`, which signs an unsigned zone through the
 * API. Unit tests use a fake API; only this file proves the CLI wiring reaches the real one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliAsync, type CliResult } from '../support/cli.js';
import { startDnsLab, RESOLVER, type DnsLab } from './dns/dnslab.js';
import { startPdns, type PdnsServer } from './dns/pdns.js';
import { createNetns, labAvailable, sleep, type Netns } from './netns.js';

const avail = labAvailable();
const ZONE = 'pdns.test';
const UNSIGNED = 'later.pdns-lab.test';
const OWNER = '_25._tcp.mail.pdns.test.';
const A = `3 1 1 ${'a1'.repeat(32)}`;

describe(
  'danekeeper CLI, --backend powerdns (lab, real pdns_server)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let pdns: PdnsServer;
    let lab: DnsLab;
    let dir: string;
    let backend: (zone: string) => string[];
    const outputs: CliResult[] = [];

    const dk = async (args: string[]) => {
      const r = await runCliAsync(args, { netns: ns.name });
      outputs.push(r);
      return r;
    };
    const tlsaViaApi = async () => {
      const z = await pdns.api(
        'GET',
        `/servers/localhost/zones/${ZONE}.?rrset_name=${OWNER}&rrset_type=TLSA`,
      );
      type Rrset = { records: { content: string }[] };
      const rs = (z.body as { rrsets?: Rrset[] }).rrsets?.[0];
      return (rs?.records ?? []).map((r) => r.content.toLowerCase()).sort();
    };

    before(async () => {
      ns = await createNetns();
      dir = mkdtempSync(join(tmpdir(), 'dk-pdns-cli-'));
      pdns = await startPdns(ns, {
        zones: [
          { name: ZONE, records: ['mail IN A 127.0.10.25'] },
          { name: UNSIGNED, secure: false, address: '127.0.56.2' },
        ],
      });
      lab = await startDnsLab(ns, {
        zones: [
          { name: ZONE, servers: [pdns.address], external: { ds: pdns.zone(ZONE).ds } },
          { name: UNSIGNED, servers: [pdns.zone(UNSIGNED).address], external: {} },
        ],
      });
      backend = (zone) => [
        '--zone',
        zone,
        '--backend',
        'powerdns',
        '--api-url',
        pdns.apiUrl,
        '--api-key-file',
        pdns.apiKeyFile,
        '--state',
        join(dir, 'state.db'),
      ];
    });

    after(async () => {
      const keepAlive = setInterval(() => {}, 1000);
      try {
        await lab?.stop();
        await pdns?.stop();
        await ns?.destroy();
        if (dir) rmSync(dir, { recursive: true, force: true });
      } finally {
        clearInterval(keepAlive);
      }
    });

    it('dns add-tlsa and dns remove go through the API; the resolver serves it with AD', async () => {
      const add = await dk(['dns', 'add-tlsa', ...backend(ZONE), '--name', 'mail', '--tlsa', A]);
      assert.equal(add.code, 0, add.stderr + add.stdout);
      assert.deepEqual(await tlsaViaApi(), [A]);
      let d = await lab.dig(['+dnssec', OWNER, 'TLSA']);
      for (let i = 0; i < 30 && !d.answer.includes('a1a1'); i++) {
        await sleep(200);
        await lab.flushResolver(ZONE);
        d = await lab.dig(['+dnssec', OWNER, 'TLSA']);
      }
      assert.ok(d.flags.includes('ad'), `AD: ${d.flags.join(' ')}`);
      const rm = await dk([
        'dns',
        'remove',
        ...backend(ZONE),
        '--name',
        'mail',
        '--tlsa',
        A,
        '--force',
      ]);
      assert.equal(rm.code, 0, rm.stderr + rm.stdout);
      assert.deepEqual(await tlsaViaApi(), []);
    });

    it('dnssec status on the unsigned zone: not signed; --secure signs it through the API', async () => {
      const before = await dk([
        'dnssec',
        'status',
        UNSIGNED,
        ...backend(UNSIGNED),
        '--resolver',
        RESOLVER,
        '--json',
      ]);
      const b = JSON.parse(before.stdout) as { signing: string; keys: unknown[] };
      assert.equal(b.signing, 'unsigned', before.stdout);
      assert.notEqual(before.code, 0);
      const zoneBefore = await pdns.api(
        'GET',
        `/servers/localhost/zones/${UNSIGNED}.?rrsets=false`,
      );
      assert.equal((zoneBefore.body as { dnssec: boolean }).dnssec, false);

      const secured = await dk([
        'dnssec',
        'status',
        UNSIGNED,
        ...backend(UNSIGNED),
        '--resolver',
        RESOLVER,
        '--secure',
        '--json',
      ]);
      const s = JSON.parse(secured.stdout) as { signing: string; keys: unknown[]; ready: boolean };
      const zoneAfter = await pdns.api('GET', `/servers/localhost/zones/${UNSIGNED}.?rrsets=false`);
      assert.equal((zoneAfter.body as { dnssec: boolean }).dnssec, true, 'the API says signed');
      assert.notEqual(s.signing, 'unsigned', secured.stdout);
      assert.ok(s.keys.length > 0, secured.stdout);
      // no DS at the parent yet: signed but not ready, with the DS to hand over
      assert.equal(s.ready, false);
      assert.notEqual(secured.code, 0, secured.stderr);
      const text = await dk([
        'dnssec',
        'status',
        UNSIGNED,
        ...backend(UNSIGNED),
        '--resolver',
        RESOLVER,
      ]);
      process.stderr.write(
        `# dnssec status after --secure (exit ${text.code}):\n${text.stdout.replace(/^/gm, '#   ')}\n`,
      );
      assert.match(text.stdout, /key \d+ +\w+ ECDSAP256SHA256/);
    });

    it('--secure without --backend powerdns is refused (64), nothing signed', async () => {
      const r = await dk(['dnssec', 'status', ZONE, '--secure', '--resolver', RESOLVER]);
      assert.equal(r.code, 64, r.stderr);
      assert.match(
        r.stderr,
        /--secure signs the zone through the PowerDNS API: add --backend powerdns/,
      );
    });
  },
);
