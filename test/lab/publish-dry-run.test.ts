/**
 * Dry runs against the real backends: BIND 9.18 by RFC 2136 (inline-signed zone, TSIG),
 * pdns_server 4.7 through its API, and a zone file with a reload command. A dry run must leave
 * the server (RRset and SOA serial), the zone file, the reload command and the store alone, show
 * what would be sent (the UPDATE with the key's name only; the PATCH without the API key; the
 * file's diff and new serial), call beforeApply, and describe exactly the change the real run
 * then makes.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import { labTsigKey, startDnsLab, writeTsigKeyFile, type DnsLab } from './dns/dnslab.js';
import { startPdns, type PdnsServer } from './dns/pdns.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import type { Backend, RunText } from './publish-dry-run-driver.js';

const avail = labAvailable();
const DRIVER = 'test/lab/publish-dry-run-driver.ts';
const r = (c: string) => `3 1 1 ${c.repeat(32)}`;
const HAND = r('ad');
const A = r('a1');

describe(
  'publish: dry runs change nothing on any backend',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let pdns: PdnsServer;
    let lab: DnsLab;
    let dir: string;
    const bindKey = labTsigKey('dk-dry-update', 'hmac-sha256');

    const call = (
      b: Backend,
      store: string,
      op: string,
      owner: string,
      recs: string[],
      dry: boolean,
    ) =>
      callInNetns<RunText>(ns, DRIVER, 'run', [b, store, op, owner, recs, dry], {
        timeoutMs: 30_000,
      });

    /** The RRset at `host` (RD=0, sorted `TTL 3 1 1 hex`) and the zone's SOA serial there. */
    async function atServer(host: string, owner: string, zone: string) {
      const d = await lab.dig([`@${host}`, '+norec', owner, 'TLSA']);
      const set = d.answer
        .filter((l) => / IN TLSA /.test(l))
        .map((l) => {
          const [u, s, m, ...hex] = l.split(' IN TLSA ')[1]!.split(' ');
          return `${l.split(' ')[1]} ${u} ${s} ${m} ${hex.join('').toLowerCase()}`;
        })
        .sort();
      const soa = await lab.dig([`@${host}`, '+norec', '+short', zone, 'SOA']);
      return { set, serial: soa.stdout.trim().split(/\s+/)[2] };
    }

    before(async () => {
      ns = await createNetns();
      dir = tempDir(`dk-dry-run-${process.pid}-`);
      pdns = await startPdns(ns, {
        zones: [{ name: 'pdns.test.', records: ['mail IN A 127.0.10.25'] }],
      });
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'bind.test',
            signing: 'inline',
            updateKeys: [bindKey],
            records: [
              { name: 'mail', type: 'A', data: '127.0.10.25' },
              { name: '_25._tcp.mail', type: 'TLSA', data: HAND },
            ],
          },
          {
            name: 'pdns.test.',
            servers: [pdns.address],
            external: { ds: pdns.zone('pdns.test.').ds },
          },
        ],
      });
      process.stderr.write(`# pdns start ${pdns.startMs} ms, DNS lab start ${lab.startMs} ms\n`);
    });

    after(async () => {
      const keepAlive = setInterval(() => {}, 1_000);
      try {
        await lab?.stop();
        await pdns?.stop();
        await ns?.destroy();
        if (dir) rmSync(dir, { recursive: true, force: true });
      } finally {
        clearInterval(keepAlive);
      }
    });

    /** dry add, real add, dry remove, real remove; the server checked after each dry run. */
    async function roundTrip(
      b: Backend,
      owner: string,
      observe: () => Promise<unknown>,
      checkWire: (add: string[], remove: string[]) => void,
    ) {
      const store = join(dir, `${b.kind}.sqlite`);
      const before0 = await observe();
      const dry = await call(b, store, 'add', owner, [A], true);
      assert.equal(dry.dryRun, true);
      assert.equal(dry.changed, false);
      assert.deepEqual(dry.added, [A]);
      assert.equal(dry.hooks, 1, 'beforeApply is called in a dry run');
      assert.deepEqual(dry.owned, [], 'the store is untouched');
      assert.deepEqual(await observe(), before0, 'the server is untouched');
      const real = await call(b, store, 'add', owner, [A], false);
      assert.equal(real.changed, true);
      assert.deepEqual(real.change, dry.change, 'the dry run described the real change');
      assert.deepEqual(real.owned, [`${owner} ${A}`]);
      const before1 = await observe();
      assert.notDeepEqual(before1, before0);
      const dryRm = await call(b, store, 'remove-owned', owner, [], true);
      assert.deepEqual(dryRm.removed, [A]);
      assert.deepEqual(await observe(), before1, 'the server is untouched');
      assert.deepEqual(dryRm.owned, real.owned);
      checkWire(dry.wire, dryRm.wire);
      const rm = await call(b, store, 'remove-owned', owner, [], false);
      assert.deepEqual(rm.change, dryRm.change);
      assert.deepEqual(rm.owned, []);
    }

    it('rfc2136 on BIND: the UPDATE shown with the key name, never its secret', async () => {
      const host = lab.zone('bind.test').servers[0]!;
      const keyFile = writeTsigKeyFile(join(dir, 'bind.key'), bindKey);
      const owner = '_25._tcp.mail.bind.test.';
      await roundTrip(
        { kind: 'rfc2136', o: { zone: 'bind.test.', host, keyFile } },
        owner,
        () => atServer(host, owner, 'bind.test.'),
        (add, remove) => {
          const text = [...add, ...remove].join('\n');
          assert.ok(!text.includes(bindKey.secret), 'no secret');
          assert.match(
            add[0]!,
            new RegExp(
              `^; UPDATE to ${host}:53, signed with TSIG key "dk-dry-update" \\(hmac-sha256\\)$`,
            ),
          );
          assert.ok(add.includes(`${owner}\t0\tIN\tTLSA\t${HAND}`), add.join('\n'));
          assert.ok(add.includes(`${owner}\t300\tIN\tTLSA\t${A}`), add.join('\n'));
          assert.ok(remove.includes(`${owner}\t0\tNONE\tTLSA\t${A}`), remove.join('\n'));
        },
      );
    });

    it('powerdns: the PATCH URL and body shown without the API key', async () => {
      const owner = '_25._tcp.mail.pdns.test.';
      const address = pdns.zone('pdns.test.').address;
      await roundTrip(
        {
          kind: 'powerdns',
          o: { zone: 'pdns.test.', apiUrl: pdns.apiUrl, apiKeyFile: pdns.apiKeyFile },
        },
        owner,
        () => atServer(address, owner, 'pdns.test.'),
        (add, remove) => {
          assert.ok(![...add, ...remove].join('\n').includes(pdns.apiKey), 'no API key');
          assert.equal(
            add[0],
            `PATCH ${pdns.apiUrl.replace(/\/+$/, '')}/api/v1/servers/localhost/zones/pdns.test.`,
          );
          const body = JSON.parse(add[1]!) as {
            rrsets: { changetype: string; records: { content: string }[] }[];
          };
          assert.equal(body.rrsets[0]!.changetype, 'REPLACE');
          assert.deepEqual(
            body.rrsets[0]!.records.map((x) => x.content.toLowerCase()),
            [A],
          );
          assert.equal(
            (JSON.parse(remove[1]!) as { rrsets: { changetype: string }[] }).rrsets[0]!.changetype,
            'DELETE',
          );
        },
      );
    });

    it('zonefile: the diff and the new serial; the file and the reload command untouched', async () => {
      const file = join(dir, 'db.dry.test');
      const marker = join(dir, 'reloaded');
      writeFileSync(
        file,
        `$TTL 3600\n@ IN SOA ns1 hostmaster 2024010100 7200 3600 1209600 300\n  IN NS ns1\nns1 IN A 192.0.2.1\n_25._tcp.mail IN TLSA ${HAND}\n`,
      );
      const owner = '_25._tcp.mail.dry.test.';
      // one byte per reload
      const reload = ['sh', '-c', `printf x >> ${marker}`];
      await roundTrip(
        { kind: 'zonefile', o: { zone: 'dry.test', file, reloadCommand: reload } },
        owner,
        () =>
          Promise.resolve({
            text: readFileSync(file, 'utf8'),
            reloads: existsSync(marker) ? readFileSync(marker, 'utf8').length : 0,
          }),
        (add, remove) => {
          assert.deepEqual(add.slice(0, 2), [`--- ${file}`, `+++ ${file}`]);
          assert.ok(add.includes(`+${owner} 3600 IN TLSA ${A}`), add.join('\n'));
          assert.ok(add.some((l) => /^; SOA serial of dry\.test\. becomes \d{10}$/.test(l)));
          assert.ok(add.includes(`; then runs: ${reload.join(' ')}`));
          assert.ok(remove.includes(`-${owner} 3600 IN TLSA ${A}`), remove.join('\n'));
        },
      );
    });
  },
);
