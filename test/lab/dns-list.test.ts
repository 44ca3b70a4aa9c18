/**
 * `dns list` against real servers, as an operator runs it inside a lab namespace: every TLSA
 * RRset of the zone, with a record made by hand at a name danekeeper never touched listed
 * "by hand". BIND transfers a zone to the TSIG key it allows (RFC 5936 AXFR, every message
 * TSIG-verified) and refuses another zone's transfer, which gives the fallback to the owners
 * danekeeper knows with a notice saying what is missing and how to allow the transfer; Knot
 * the same with its ACLs; PowerDNS through its API (a disabled record shown as disabled); the
 * zone file BIND loads.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliAsync, type CliResult } from '../support/cli.js';
import { startDnsLab, type DnsLab } from './dns/dnslab.js';
import { startKnot, type KnotServer } from './dns/knot.js';
import { startPdns, type PdnsServer } from './dns/pdns.js';
import { labTsigKey, writeTsigKeyFile } from './dns/tsig.js';
import { createNetns, labAvailable, type Netns } from './netns.js';

const avail = labAvailable();
const KEY = labTsigKey('dk-list', 'hmac-sha256');
const KNOT_KEY = labTsigKey('dk-list-knot', 'hmac-sha512');
/** may update the Knot zone, not transfer it */
const KNOT_NOXFR = labTsigKey('dk-list-knot-noxfr', 'hmac-sha256');
const r = (c: string) => `3 1 1 ${c.repeat(32)}`;
const HAND = r('0f');
const HAND_WWW = r('1e');
const MINE = r('a1');
const GONE = r('b2');
const OFF = r('0d');
/**
 * Enough data for a transfer of several messages (about 64 KiB each), so that the TSIG chain
 * of RFC 8945 §5.3.1 is verified against each server, not just one signed answer.
 */
const BULK = Array.from({ length: 600 }, (_, i) => ({
  name: `h${i}`,
  type: 'TXT',
  data: `"${'x'.repeat(200)}"`,
}));

interface Listing {
  zone: string;
  backend: string;
  complete: boolean;
  notice: string | null;
  owners: {
    owner: string;
    ttl: number | null;
    records: { record: string; danekeeper: boolean; since: string | null }[];
    missing: string[];
    disabled: { record: string; danekeeper: boolean }[];
  }[];
}

/** [owner, [record, danekeeper?]...] per owner, for compact assertions */
const shape = (l: Listing) =>
  l.owners.map((o) => [o.owner, o.records.map((x) => [x.record, x.danekeeper]).sort()]);

describe(
  'dns list: every TLSA RRset of the zone (lab)',
  { skip: !avail.ok && avail.reason },
  () => {
    let ns: Netns;
    let lab: DnsLab;
    let knot: KnotServer;
    let pdns: PdnsServer;
    let dir: string;
    const outputs: CliResult[] = [];

    const dk = async (args: string[]) => {
      const res = await runCliAsync(args, { netns: ns.name });
      outputs.push(res);
      return res;
    };
    const state = (name: string) => ['--state', join(dir, `${name}.db`)];
    const rfc2136 = (zone: string, server: string, key: string, st: string) => [
      '--zone',
      zone,
      '--backend',
      'rfc2136',
      '--server',
      server,
      '--tsig-key',
      key,
      ...state(st),
    ];
    const listJson = async (args: string[]) => {
      const res = await dk(['dns', 'list', ...args, '--json']);
      assert.equal(res.code, 0, res.stderr + res.stdout);
      return JSON.parse(res.stdout) as Listing;
    };

    before(async () => {
      ns = await createNetns();
      dir = mkdtempSync(join(tmpdir(), 'dk-dns-list-'));
      // Knot and PowerDNS first: their DS go into the parent when the lab starts
      knot = await startKnot(ns, {
        zones: [
          {
            name: 'knot-list.test',
            records: [
              'mail IN A 127.0.10.25',
              `_25._tcp.mail IN TLSA ${HAND}`,
              `_443._tcp.www IN TLSA ${HAND_WWW}`,
              ...BULK.map((b) => `${b.name} IN ${b.type} ${b.data}`),
            ],
          },
        ],
        updateKeys: [KNOT_KEY, KNOT_NOXFR],
        transferKeys: [KNOT_KEY],
      });
      pdns = await startPdns(ns, {
        zones: [
          {
            name: 'pdns-list.test',
            records: ['mail IN A 127.0.10.25', `_443._tcp.www IN TLSA ${HAND_WWW}`],
          },
        ],
      });
      const records = [
        { name: 'mail', type: 'A', data: '127.0.10.25' },
        // made by hand: one where danekeeper publishes, one at a name it never touches
        { name: '_25._tcp.mail', type: 'TLSA', data: HAND },
        { name: '_443._tcp.www', type: 'TLSA', data: HAND_WWW },
      ];
      lab = await startDnsLab(ns, {
        zones: [
          {
            name: 'open.test',
            signing: 'inline',
            updateKeys: [KEY],
            transferKeys: [KEY],
            records: [...records, ...BULK],
          },
          { name: 'closed.test', signing: 'inline', updateKeys: [KEY], transferKeys: [], records },
          { name: 'file-list.test', signing: 'inline', records },
          {
            name: 'knot-list.test',
            servers: [knot.address],
            external: { ds: knot.zone('knot-list.test').ds },
          },
          {
            name: 'pdns-list.test',
            servers: [pdns.address],
            external: { ds: pdns.zone('pdns-list.test').ds },
          },
        ],
      });
      writeTsigKeyFile(join(dir, 'key'), KEY);
      writeTsigKeyFile(join(dir, 'knot.key'), KNOT_KEY);
      writeTsigKeyFile(join(dir, 'knot-noxfr.key'), KNOT_NOXFR);
      // made by hand in PowerDNS: a disabled record next to danekeeper's future one
      const made = await pdns.api('PATCH', '/servers/localhost/zones/pdns-list.test.', {
        rrsets: [
          {
            name: '_25._tcp.mail.pdns-list.test.',
            type: 'TLSA',
            changetype: 'REPLACE',
            ttl: 300,
            records: [{ content: OFF, disabled: true }],
          },
        ],
      });
      assert.equal(made.status, 204, JSON.stringify(made.body));
    });

    after(async () => {
      const keepAlive = setInterval(() => {}, 1000);
      try {
        await lab?.stop();
        await knot?.stop();
        await pdns?.stop();
        await ns?.destroy();
      } finally {
        clearInterval(keepAlive);
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });

    it('BIND, transfer allowed for the key: every TLSA RRset, hand-made ones "by hand", a removed one named', async () => {
      const z = lab.zone('open.test');
      const args = rfc2136('open.test', z.servers[0]!, join(dir, 'key'), 'open');
      for (const data of [MINE, GONE]) {
        const add = await dk(['dns', 'add-tlsa', ...args, '--name', 'mail', '--tlsa', data]);
        assert.equal(add.code, 0, add.stderr);
      }
      // someone deletes danekeeper's record by hand
      const del = await lab.nsupdate({
        zone: 'open.test',
        key: KEY,
        commands: [`update delete _25._tcp.mail.open.test. TLSA ${GONE}`],
      });
      assert.equal(del.rcode, 'NOERROR', del.stderr);

      const l = await listJson(args);
      assert.equal(l.complete, true);
      assert.equal(l.notice, null);
      const ended = [...lab.namedLog().matchAll(/'open\.test\/IN': AXFR ended: (\d+) messages/g)];
      assert.ok(
        Number(ended.at(-1)?.[1]) > 2,
        `a transfer of several messages: ${ended.at(-1)?.[0]}`,
      );
      assert.deepEqual(shape(l), [
        [
          '_25._tcp.mail.open.test.',
          [
            [HAND, false],
            [MINE, true],
          ],
        ],
        ['_443._tcp.www.open.test.', [[HAND_WWW, false]]],
      ]);
      assert.deepEqual(l.owners[0]!.missing, [GONE]);

      const text = await dk(['dns', 'list', ...args]);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stdout.split('\n');
      assert.equal(lines[0], '_25._tcp.mail.open.test.  TTL 300');
      assert.ok(lines.includes(`  ${HAND}  by hand`), text.stdout);
      assert.ok(
        lines.some((x) => x.startsWith(`  ${MINE}  danekeeper, since 20`)),
        text.stdout,
      );
      assert.ok(lines.includes(`  ${GONE}  danekeeper's, but no longer published`), text.stdout);
      assert.ok(lines.includes('_443._tcp.www.open.test.  TTL 300'), text.stdout);
      assert.ok(lines.includes(`  ${HAND_WWW}  by hand`), text.stdout);

      // --name/--port: one owner, no transfer needed
      const one = await listJson([...args, '--name', 'www', '--port', '443']);
      assert.deepEqual(shape(one), [['_443._tcp.www.open.test.', [[HAND_WWW, false]]]]);
    });

    it('BIND, transfer refused: the owners danekeeper knows, a notice with how to allow it (text and JSON)', async () => {
      const z = lab.zone('closed.test');
      const args = rfc2136('closed.test', z.servers[0]!, join(dir, 'key'), 'closed');
      const add = await dk(['dns', 'add-tlsa', ...args, '--name', 'mail', '--tlsa', MINE]);
      assert.equal(add.code, 0, add.stderr);

      const l = await listJson(args);
      assert.equal(l.complete, false);
      assert.match(
        l.notice!,
        /^Not the whole zone: only the 1 name danekeeper published at is listed; TLSA records made by hand at other names are not shown\. Zone transfer \(AXFR\) of closed\.test\. from 127\.0\.54\.\d+:53 was refused with TSIG key "dk-list" \(REFUSED\); to allow it, BIND: allow-transfer \{ key "dk-list"; \}; in the zone; Knot: an acl with action: transfer and key: dk-list on the zone$/,
      );
      // the hand-made record at _443._tcp.www is not seen; the one next to danekeeper's is
      assert.deepEqual(shape(l), [
        [
          '_25._tcp.mail.closed.test.',
          [
            [HAND, false],
            [MINE, true],
          ],
        ],
      ]);
      const text = await dk(['dns', 'list', ...args]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(
        text.stdout,
        /^Not the whole zone: only the 1 name danekeeper published at is listed; .*\n {2}Zone transfer .*allow-transfer \{ key "dk-list"; \};.*\n_25\._tcp\.mail\.closed\.test\. {2}TTL 300\n/,
      );
    });

    it('Knot, transfer allowed by its ACL: the hand-made records; refused for another key: the fallback', async () => {
      const allowed = rfc2136('knot-list.test', knot.address, join(dir, 'knot.key'), 'knot');
      const add = await dk(['dns', 'add-tlsa', ...allowed, '--name', 'mail', '--tlsa', MINE]);
      assert.equal(add.code, 0, add.stderr);
      const l = await listJson(allowed);
      assert.equal(l.complete, true, l.notice ?? '');
      const knotXfr = [...knot.output().matchAll(/AXFR, outgoing.*finished.* (\d+) messages/g)];
      assert.ok(
        Number(knotXfr.at(-1)?.[1]) > 2,
        `a transfer of several messages: ${knotXfr.at(-1)?.[0] ?? knot.output().slice(-2000)}`,
      );
      assert.deepEqual(shape(l), [
        [
          '_25._tcp.mail.knot-list.test.',
          [
            [HAND, false],
            [MINE, true],
          ],
        ],
        ['_443._tcp.www.knot-list.test.', [[HAND_WWW, false]]],
      ]);

      const denied = rfc2136('knot-list.test', knot.address, join(dir, 'knot-noxfr.key'), 'knot');
      const f = await listJson(denied);
      assert.equal(f.complete, false);
      assert.match(
        f.notice!,
        /was refused with TSIG key "dk-list-knot-noxfr" \((NOTAUTH|REFUSED)[^)]*\); to allow it, .*Knot: an acl with action: transfer and key: dk-list-knot-noxfr/,
      );
      assert.deepEqual(
        f.owners.map((o) => o.owner),
        ['_25._tcp.mail.knot-list.test.'],
      );
    });

    it('PowerDNS: every TLSA RRset through the API, a disabled record shown as disabled', async () => {
      const args = [
        '--zone',
        'pdns-list.test',
        '--backend',
        'powerdns',
        '--api-url',
        pdns.apiUrl,
        '--api-key-file',
        pdns.apiKeyFile,
        ...state('pdns'),
      ];
      const add = await dk(['dns', 'add-tlsa', ...args, '--name', 'mail', '--tlsa', MINE]);
      assert.equal(add.code, 0, add.stderr);
      const l = await listJson(args);
      assert.equal(l.complete, true);
      assert.deepEqual(shape(l), [
        ['_25._tcp.mail.pdns-list.test.', [[MINE, true]]],
        ['_443._tcp.www.pdns-list.test.', [[HAND_WWW, false]]],
      ]);
      assert.deepEqual(l.owners[0]!.disabled, [{ record: OFF, danekeeper: false, since: null }]);
      const text = await dk(['dns', 'list', ...args]);
      assert.ok(text.stdout.includes(`  ${OFF}  disabled (not served), by hand\n`), text.stdout);
    });

    it('zone file: every TLSA RR in the file BIND loads, the hand-made one "by hand"', async () => {
      const z = lab.zone('file-list.test');
      const args = [
        '--zone',
        'file-list.test',
        '--zone-file',
        z.file,
        '--reload-cmd',
        lab.reloadCommand('file-list.test').join(' '),
        ...state('file'),
      ];
      const add = await dk(['dns', 'add-tlsa', ...args, '--name', 'mail', '--tlsa', MINE]);
      assert.equal(add.code, 0, add.stderr);
      const l = await listJson(args);
      assert.equal(l.backend, 'zonefile');
      assert.equal(l.complete, true);
      assert.deepEqual(shape(l), [
        [
          '_25._tcp.mail.file-list.test.',
          [
            [HAND, false],
            [MINE, true],
          ],
        ],
        ['_443._tcp.www.file-list.test.', [[HAND_WWW, false]]],
      ]);
    });

    it('no secret ever reaches the output', () => {
      for (const o of outputs)
        for (const s of [KEY.secret, KNOT_KEY.secret, KNOT_NOXFR.secret, pdns.apiKey])
          assert.ok(!o.stdout.includes(s) && !o.stderr.includes(s), 'a secret was printed');
      assert.ok(outputs.length > 10);
    });
  },
);
