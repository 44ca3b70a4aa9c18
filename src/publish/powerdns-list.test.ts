/**
 * listAll of the powerdns backend against a fake PowerDNS API on 127.0.0.1:0: every TLSA RRset
 * of the zone, disabled records apart, sorted by owner. The real pdns_server is exercised by
 * test/lab/dns-list.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DkError } from '../core/errors.js';
import { formatRdata } from '../core/tlsa/format.js';
import { createPowerdnsPublisher } from './powerdns.js';

const KEY = 'list-api-key-0123456789';
const ZONE = 'example.test.';
const hex = (n: number) => Buffer.alloc(32, n).toString('hex');

describe('powerdns listAll (fake API)', () => {
  let server: Server;
  let url = '';
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const seen: { url: string; key: string | undefined }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', key: req.headers['x-api-key'] as string | undefined });
      res.writeHead(answer.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const pub = () => createPowerdnsPublisher({ zone: ZONE, apiUrl: url, apiKey: KEY });
  const rrset = (name: string, type: string, ttl: number, recs: [string, boolean][]) => ({
    name,
    type,
    ttl,
    records: recs.map(([content, disabled]) => ({ content, disabled })),
  });

  it('lists every TLSA RRset from one GET of the zone, disabled records apart', async () => {
    answer = {
      status: 200,
      body: {
        name: ZONE,
        rrsets: [
          rrset(ZONE, 'SOA', 300, [['ns1.example.test. h. 1 2 3 4 5', false]]),
          rrset(`_443._tcp.www.${ZONE}`, 'TLSA', 600, [[`3 1 1 ${hex(3)}`, false]]),
          rrset(`_25._tcp.mx.${ZONE}`, 'TLSA', 300, [
            [`3 1 1 ${hex(1).toUpperCase()}`, false],
            [`3 1 1 ${hex(2)}`, true],
          ]),
          rrset(`_25._tcp.off.${ZONE}`, 'TLSA', 300, [[`3 1 1 ${hex(4)}`, true]]),
          rrset(`mx.${ZONE}`, 'A', 300, [['127.0.0.1', false]]),
        ],
      },
    };
    seen.length = 0;
    const sets = await pub().listAll!();
    assert.deepEqual(
      sets.map((s) => ({
        owner: s.owner,
        ttl: s.ttl,
        records: s.records.map(formatRdata),
        disabled: (s.disabled ?? []).map(formatRdata),
      })),
      [
        {
          owner: `_25._tcp.mx.${ZONE}`,
          ttl: 300,
          records: [`3 1 1 ${hex(1)}`],
          disabled: [`3 1 1 ${hex(2)}`],
        },
        // only disabled: not served (no RRset to DNS, TTL null), still listed
        { owner: `_25._tcp.off.${ZONE}`, ttl: null, records: [], disabled: [`3 1 1 ${hex(4)}`] },
        { owner: `_443._tcp.www.${ZONE}`, ttl: 600, records: [`3 1 1 ${hex(3)}`], disabled: [] },
      ],
    );
    assert.deepEqual(seen, [{ url: '/api/v1/servers/localhost/zones/example.test.', key: KEY }]);
  });

  it('TLSA content that does not parse is a protocol error naming the owner', async () => {
    answer = {
      status: 200,
      body: { rrsets: [rrset(`_25._tcp.mx.${ZONE}`, 'TLSA', 300, [['3 1 1 zz', false]])] },
    };
    await assert.rejects(
      pub().listAll!(),
      (e: unknown) =>
        e instanceof DkError &&
        e.code === 'E_PUBLISH_PROTOCOL' &&
        /_25\._tcp\.mx\.example\.test\. does not parse/.test(e.message),
    );
  });

  it('a refused API key is E_PUBLISH_AUTH, and the key is in no message', async () => {
    answer = { status: 401, body: { error: 'Unauthorized' } };
    await assert.rejects(
      pub().listAll!(),
      (e: unknown) =>
        e instanceof DkError && e.code === 'E_PUBLISH_AUTH' && !e.message.includes(KEY),
    );
  });
});
