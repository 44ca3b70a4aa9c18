/**
 * `dns list` as a user runs it, without the lab: a zone file with a record made by hand, and an
 * RFC 2136 server (a fake one on loopback) that refuses or allows the zone transfer. The real
 * servers (BIND, Knot, PowerDNS) are in test/lab/dns-list.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseTlsa } from '../src/core/tlsa/parse.js';
import { encodeTlsaRdata } from '../src/core/tlsa/wire.js';
import { fakeServerPool, response, type FakeQuery } from '../src/io/dns/fake-server.js';
import { TYPE_AXFR } from '../src/publish/rfc2136/axfr.js';
import {
  CLASS_IN,
  encodeMessage,
  encodeName,
  TYPE_SOA,
  TYPE_TLSA,
} from '../src/publish/rfc2136/message.js';
import { openStore } from '../src/store/index.js';
import { runCli, runCliAsync } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-dns-list-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pool = fakeServerPool();
const HAND = `3 1 1 ${'ab'.repeat(32)}`;
const MINE = `3 1 1 ${'cd'.repeat(32)}`;
const GONE = `3 1 1 ${'ef'.repeat(32)}`;
const ZONE = 'example.test.';

interface Listing {
  complete: boolean;
  notice: string | null;
  owners: {
    owner: string;
    ttl: number | null;
    records: { record: string; danekeeper: boolean; since: string | null }[];
    missing: string[];
  }[];
}

/** a state file in which danekeeper published MINE and GONE at _25._tcp.mx */
function state(name: string): string {
  const path = join(dir, name);
  const store = openStore(path);
  store.remember(
    ZONE,
    `_25._tcp.mx.${ZONE}`,
    [parseTlsa(MINE), parseTlsa(GONE)],
    new Date('2026-01-02T03:04:05Z'),
  );
  store.close();
  return path;
}

describe('dns list (zone file)', () => {
  it('shows a hand-made record at a name danekeeper never touched, and what it no longer finds', () => {
    const zoneFile = join(dir, 'db.example.test');
    writeFileSync(
      zoneFile,
      [
        '$ORIGIN example.test.',
        '$TTL 3600',
        '@ IN SOA ns1 hostmaster 5 3600 600 86400 60',
        '  IN NS ns1',
        `_25._tcp.mx IN TLSA ${MINE}`,
        `_443._tcp.www 600 IN TLSA ${HAND}`,
        '',
      ].join('\n'),
    );
    const args = ['dns', 'list', '--zone', 'example.test', '--zone-file', zoneFile];
    const st = ['--state', state('zonefile.db')];
    const r = runCli([...args, ...st]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        '_25._tcp.mx.example.test.  TTL 3600',
        `  ${MINE}  danekeeper, since 2026-01-02T03:04:05.000Z`,
        `  ${GONE}  danekeeper's, but no longer published`,
        '_443._tcp.www.example.test.  TTL 600',
        `  ${HAND}  by hand`,
        '',
      ].join('\n'),
    );
    const j = JSON.parse(runCli([...args, ...st, '--json']).stdout) as Listing;
    assert.equal(j.complete, true);
    assert.equal(j.notice, null);
    assert.deepEqual(
      j.owners.map((o) => [o.owner, o.records.map((x) => [x.record, x.danekeeper]), o.missing]),
      [
        [`_25._tcp.mx.${ZONE}`, [[MINE, true]], [GONE]],
        [`_443._tcp.www.${ZONE}`, [[HAND, false]], []],
      ],
    );
    const one = runCli([...args, ...st, '--name', 'www', '--port', '443']);
    assert.equal(one.stdout, `_443._tcp.www.example.test.  TTL 600\n  ${HAND}  by hand\n`);
  });
});

/** A primary that answers TLSA queries for the zone and AXFR as `axfr` says. */
async function primary(axfr: 'refuse' | 'allow') {
  const soa = {
    name: ZONE,
    type: TYPE_SOA,
    class: CLASS_IN,
    ttl: 300,
    rdata: Buffer.concat([
      encodeName(`ns1.${ZONE}`),
      encodeName(`h.${ZONE}`),
      Buffer.from([0, 0, 0, 9, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]),
    ]),
  };
  const tlsa = (name: string, t: string) => ({
    name,
    type: TYPE_TLSA,
    class: CLASS_IN,
    ttl: 300,
    rdata: encodeTlsaRdata(parseTlsa(t)),
  });
  return pool((q: FakeQuery) => {
    if (q.type === `TYPE${TYPE_AXFR}`) {
      const m = encodeMessage({
        id: q.id,
        opcode: 0,
        question: { name: ZONE, type: TYPE_AXFR, class: CLASS_IN },
        an:
          axfr === 'allow'
            ? [soa, tlsa(`_25._tcp.mx.${ZONE}`, MINE), tlsa(`_443._tcp.www.${ZONE}`, HAND), soa]
            : [],
      });
      m.writeUInt16BE(0x8400 | (axfr === 'refuse' ? 5 : 0), 2);
      return m;
    }
    if (q.type === 'TLSA' && q.name === `_25._tcp.mx.example.test`) {
      return response(q, {
        aa: true,
        answers: [
          {
            name: q.name,
            type: 'TLSA',
            ttl: 300,
            data: {
              usage: 3,
              selector: 1,
              matchingType: 1,
              certificate: Buffer.from('cd'.repeat(32), 'hex'),
            },
          },
        ],
      });
    }
    return response(q, { aa: true });
  });
}

describe('dns list (rfc2136, fake primary)', () => {
  const rfc2136 = (port: number, st: string) => [
    'dns',
    'list',
    '--zone',
    'example.test',
    '--backend',
    'rfc2136',
    '--server',
    `127.0.0.1:${port}`,
    '--state',
    st,
  ];

  it('transfer refused: the owners danekeeper knows, and a notice saying what is missing and how to allow it', async () => {
    const srv = await primary('refuse');
    const st = state('refused.db');
    const r = await runCliAsync(rfc2136(srv.port, st));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(
      lines[0],
      'Not the whole zone: only the 1 name danekeeper published at is listed; TLSA records made by hand at other names are not shown.',
    );
    assert.match(
      lines[1]!,
      /^ {2}Zone transfer \(AXFR\) of example\.test\. from 127\.0\.0\.1:\d+ was refused \(unsigned\) \(REFUSED\); to allow it, give danekeeper a TSIG key/,
    );
    assert.deepEqual(lines.slice(2), [
      '_25._tcp.mx.example.test.  TTL 300',
      `  ${MINE}  danekeeper, since 2026-01-02T03:04:05.000Z`,
      `  ${GONE}  danekeeper's, but no longer published`,
      '',
    ]);
    const j = JSON.parse(
      (await runCliAsync([...rfc2136(srv.port, st), '--json'])).stdout,
    ) as Listing;
    assert.equal(j.complete, false);
    assert.match(j.notice!, /hand at other names are not shown.*refused/);
  });

  it('transfer allowed: every TLSA RRset, the hand-made one included', async () => {
    const srv = await primary('allow');
    const r = await runCliAsync([...rfc2136(srv.port, state('allowed.db')), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Listing;
    assert.equal(j.complete, true);
    assert.deepEqual(
      j.owners.map((o) => [o.owner, o.records.map((x) => [x.record, x.danekeeper]), o.missing]),
      [
        [`_25._tcp.mx.${ZONE}`, [[MINE, true]], [GONE]],
        [`_443._tcp.www.${ZONE}`, [[HAND, false]], []],
      ],
    );
  });
});
