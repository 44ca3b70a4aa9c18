/**
 * The powerdns backend against a fake PowerDNS API on 127.0.0.1:0 in this process: request
 * shape (paths, filters, the key header, PATCH bodies), the guard, and the mapping of every
 * failure to its DkError code. The real pdns_server is exercised by
 * test/lab/publish-powerdns.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DkError } from '../core/errors.js';
import type { TlsaRecord } from '../core/tlsa/record.js';
import { powerdnsDnssec, powerdnsSecureZone, powerdnsZoneSettings } from './powerdns-dnssec.js';
import { createPowerdnsPublisher } from './powerdns.js';

const KEY = 'sekrit-api-key-0123456789';
const ZONE = 'example.test.';
const OWNER = '_25._tcp.mail.example.test.';
const rec = (n: number): TlsaRecord => ({
  usage: 3,
  selector: 1,
  mtype: 1,
  data: Buffer.alloc(32, n),
});
const content = (n: number, upper = false) => {
  const hex = Buffer.alloc(32, n).toString('hex');
  return `3 1 1 ${upper ? hex.toUpperCase() : hex}`;
};
const ids = (rs: TlsaRecord[]) => rs.map((r) => r.data[0]).sort();

interface FakeRecord {
  content: string;
  disabled: boolean;
}
interface FakeRrset {
  name: string;
  type: string;
  ttl: number;
  records: FakeRecord[];
}
interface Seen {
  method: string;
  url: string;
  key: string | undefined;
  body: unknown;
}

/** Just enough of PowerDNS 4.7's API for the publisher, with switches for failures. */
class FakePdns {
  server!: Server;
  url = '';
  rrsets: FakeRrset[] = [];
  seen: Seen[] = [];
  dnssec = false;
  keys: unknown[] = [];
  /** answer every request with this (status, body) instead */
  fail?: { status: number; body: string; contentType?: string; headers?: Record<string, string> };
  /** ignore PATCH bodies (answer 204, change nothing) */
  dropPatches = false;
  /** runs once right after a PATCH is applied: another writer in between */
  afterPatch?: () => void;
  /** never answer */
  hang = false;
  /** answer PATCH with this (status, JSON body) and change nothing */
  failPatch?: { status: number; body: unknown };

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.rrsets = [
      {
        name: ZONE,
        type: 'SOA',
        ttl: 1800,
        records: [{ content: 'ns1.example.test. h. 1 2 3 4 5', disabled: false }],
      },
      {
        name: ZONE,
        type: 'NS',
        ttl: 3600,
        records: [{ content: 'ns1.example.test.', disabled: false }],
      },
    ];
    this.seen = [];
    this.dnssec = false;
    this.keys = [];
    this.fail = undefined;
    this.dropPatches = false;
    this.hang = false;
    this.failPatch = undefined;
  }

  tlsa(name = OWNER): FakeRrset | undefined {
    return this.rrsets.find((s) => s.name === name && s.type === 'TLSA');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const key = req.headers['x-api-key'];
    this.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      key: typeof key === 'string' ? key : undefined,
      body: text ? (JSON.parse(text) as unknown) : undefined,
    });
    if (this.hang) return;
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (this.fail) {
      res.writeHead(this.fail.status, {
        'Content-Type': this.fail.contentType ?? 'application/json',
        ...this.fail.headers,
      });
      res.end(this.fail.body);
      return;
    }
    if (key !== KEY) return void res.writeHead(401).end('Unauthorized');
    const u = new URL(req.url ?? '/', this.url);
    const m = /^\/api\/v1\/servers\/([^/]+)(?:\/zones\/([^/]+)(\/.*)?)?$/.exec(u.pathname);
    if (!m || m[1] !== 'localhost') return void res.writeHead(404).end('Not Found');
    if (m[2] === undefined) return send(200, { id: 'localhost', type: 'Server' });
    if (decodeURIComponent(m[2]) !== ZONE) return void res.writeHead(404).end('Not Found');
    const sub = m[3] ?? '';
    if (req.method === 'GET' && sub === '') {
      const zone: Record<string, unknown> = {
        name: ZONE,
        kind: 'Native',
        dnssec: this.dnssec,
        serial: 2026010101,
        soa_edit_api: '',
        api_rectify: false,
        nsec3param: '',
      };
      if (u.searchParams.get('rrsets') !== 'false') {
        const name = u.searchParams.get('rrset_name');
        const type = u.searchParams.get('rrset_type');
        zone.rrsets = this.rrsets
          .filter((s) => (name === null || s.name === name) && (type === null || s.type === type))
          // as 4.7.3 does: a filtered answer leaves disabled records out
          .map((s) => ({
            ...s,
            records: name === null ? s.records : s.records.filter((r) => !r.disabled),
            comments: [],
          }));
      }
      return send(200, zone);
    }
    if (req.method === 'PATCH' && sub === '') {
      if (this.failPatch) return send(this.failPatch.status, this.failPatch.body);
      if (!this.dropPatches) {
        for (const c of (JSON.parse(text) as { rrsets: Record<string, unknown>[] }).rrsets) {
          this.rrsets = this.rrsets.filter((s) => !(s.name === c.name && s.type === c.type));
          if (c.changetype === 'REPLACE') {
            this.rrsets.push({
              name: c.name as string,
              type: c.type as string,
              ttl: c.ttl as number,
              records: c.records as FakeRecord[],
            });
          }
        }
      }
      const other = this.afterPatch;
      this.afterPatch = undefined;
      other?.();
      return send(204);
    }
    if (req.method === 'GET' && sub === '/cryptokeys') return send(200, this.keys);
    if (req.method === 'PUT' && sub === '') {
      if ((JSON.parse(text) as { dnssec?: boolean }).dnssec === true) {
        this.dnssec = true;
        this.keys = [
          {
            type: 'Cryptokey',
            id: 7,
            keytype: 'csk',
            active: true,
            published: true,
            algorithm: 'ECDSAP256SHA256',
            bits: 256,
            flags: 257,
            dnskey: '257 3 13 AAAA',
            ds: ['1 13 2 abcd'],
            privatekey: 'Private-key-format: v1.2\nPrivateKey: SECRET==',
          },
        ];
      }
      return send(204);
    }
    if (req.method === 'PUT' && sub === '/rectify') return send(200, { result: 'Rectified' });
    res.writeHead(405).end();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, kind?: string): Promise<DkError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, `expected a DkError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (kind) assert.equal(e.kind, kind);
    assert.ok(!e.message.includes(KEY), 'the API key must never be in a message');
    assert.ok(!e.message.includes('\n'), 'one line');
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('powerdns publisher (fake API)', () => {
  const fake = new FakePdns();
  const pub = () =>
    createPowerdnsPublisher({ zone: 'Example.Test', apiUrl: fake.url, apiKey: KEY });
  before(() => fake.start());
  after(() => new Promise<void>((r) => fake.server.close(() => r())));
  beforeEach(() => fake.reset());

  it('reads one RRset with rrset_name/rrset_type, the key only in X-API-Key', async () => {
    fake.rrsets.push({
      name: OWNER,
      type: 'TLSA',
      ttl: 600,
      records: [
        { content: content(1, true), disabled: false },
        { content: content(2), disabled: false },
        { content: content(3), disabled: true },
      ],
    });
    const rs = await pub().read('_25._tcp.MAIL.example.test');
    assert.deepEqual(ids(rs.records), [1, 2], 'disabled records are not served');
    assert.equal(rs.ttl, 600);
    assert.equal(rs.owner, OWNER);
    assert.equal(fake.seen.length, 1);
    const s = fake.seen[0]!;
    assert.equal(s.method, 'GET');
    assert.equal(
      s.url,
      `/api/v1/servers/localhost/zones/example.test.?rrset_name=${encodeURIComponent(OWNER)}&rrset_type=TLSA`,
    );
    assert.equal(s.key, KEY);
    assert.ok(!s.url.includes(KEY));
  });

  it('reads a missing RRset as ttl null, no records; defaultTtl is the SOA TTL', async () => {
    assert.deepEqual(await pub().read(OWNER), { owner: OWNER, ttl: null, records: [] });
    assert.equal(await pub().defaultTtl(), 1800);
    assert.match(pub().describe, /^powerdns at http:\/\/127\.0\.0\.1:\d+ \(server localhost\)$/);
  });

  it('accepts an API URL that already ends in /api/v1', async () => {
    const p = createPowerdnsPublisher({ zone: ZONE, apiUrl: `${fake.url}/api/v1/`, apiKey: KEY });
    assert.equal(await p.defaultTtl(), 1800);
    assert.ok(fake.seen[0]!.url.startsWith('/api/v1/servers/localhost/zones/'));
  });

  it('add: one PATCH REPLACE carrying hand-made and disabled records verbatim, then a check', async () => {
    fake.rrsets.push({
      name: OWNER,
      type: 'TLSA',
      ttl: 300,
      records: [
        { content: content(1, true), disabled: false },
        { content: content(9), disabled: true },
      ],
    });
    await pub().apply({ owner: OWNER, expected: [rec(1)], add: [rec(2)], remove: [], ttl: 300 });
    assert.deepEqual(
      fake.seen.map((s) => s.method),
      ['GET', 'PATCH', 'GET'],
    );
    assert.deepEqual(fake.seen[1]!.body, {
      rrsets: [
        {
          name: OWNER,
          type: 'TLSA',
          changetype: 'REPLACE',
          ttl: 300,
          records: [
            { content: content(1, true), disabled: false },
            { content: content(9), disabled: true },
            { content: content(2), disabled: false },
          ],
        },
      ],
    });
    assert.equal(fake.seen[1]!.url, '/api/v1/servers/localhost/zones/example.test.');
  });

  it('TXT (ACME DNS-01): read, guarded add next to a hand-made value, remove ours only, DELETE when empty', async () => {
    const T = '_acme-challenge.mail.example.test.';
    fake.rrsets.push({
      name: T,
      type: 'TXT',
      ttl: 60,
      records: [{ content: '"hand \\"made\\""', disabled: false }],
    });
    const p = pub();
    assert.deepEqual(await p.readTxt!(T), { owner: T, ttl: 60, values: ['hand "made"'] });
    await p.applyTxt!({ owner: T, expected: ['hand "made"'], add: ['v1'], remove: [], ttl: 60 });
    assert.deepEqual(
      (fake.seen.find((x) => x.method === 'PATCH')!.body as { rrsets: unknown[] }).rrsets,
      [
        {
          name: T,
          type: 'TXT',
          changetype: 'REPLACE',
          ttl: 60,
          records: [
            { content: '"hand \\"made\\""', disabled: false },
            { content: '"v1"', disabled: false },
          ],
        },
      ],
    );
    await assert.rejects(
      p.applyTxt!({ owner: T, expected: ['hand "made"'], add: [], remove: ['v1'], ttl: 60 }),
      {
        code: 'E_PUBLISH_CONFLICT',
      },
    );
    await p.applyTxt!({
      owner: T,
      expected: ['hand "made"', 'v1'],
      add: [],
      remove: ['v1', 'hand "made"'],
      ttl: 60,
    });
    assert.deepEqual(
      (fake.seen.filter((x) => x.method === 'PATCH').at(-1)!.body as { rrsets: unknown[] }).rrsets,
      [{ name: T, type: 'TXT', changetype: 'DELETE' }],
    );
  });

  it('describeChange: the PATCH URL and JSON body apply would send, without the key; nothing changed', async () => {
    fake.rrsets.push({
      name: OWNER,
      type: 'TLSA',
      ttl: 300,
      records: [
        { content: content(1, true), disabled: false },
        { content: content(9), disabled: true },
      ],
    });
    const before = JSON.stringify(fake.rrsets);
    const c = { owner: OWNER, expected: [rec(1)], add: [rec(2)], remove: [], ttl: 300 };
    const lines = await pub().describeChange!(c);
    assert.deepEqual(
      fake.seen.map((s) => s.method),
      ['GET'],
      'a description only reads',
    );
    assert.equal(JSON.stringify(fake.rrsets), before);
    assert.equal(lines.length, 2);
    assert.equal(lines[0], `PATCH ${fake.url}/api/v1/servers/localhost/zones/example.test.`);
    assert.ok(!lines.join('\n').includes(KEY), 'never the API key');
    await pub().apply(c);
    assert.deepEqual(JSON.parse(lines[1]!), fake.seen[2]!.body, 'exactly the body apply sends');
    // every served record removed: the disabled one stays; the guard holds as for apply
    const del = await pub().describeChange!({
      owner: OWNER,
      expected: [rec(1), rec(2)],
      add: [],
      remove: [rec(1), rec(2)],
      ttl: 300,
    });
    assert.deepEqual(JSON.parse(del[1]!), {
      rrsets: [
        {
          name: OWNER,
          type: 'TLSA',
          changetype: 'REPLACE',
          ttl: 300,
          records: [{ content: content(9), disabled: true }],
        },
      ],
    });
    await rejectsWith(pub().describeChange!({ ...c, expected: [] }), 'E_PUBLISH_CONFLICT');
  });

  it('guard: a set that differs from expected is a conflict and nothing is sent', async () => {
    fake.rrsets.push({
      name: OWNER,
      type: 'TLSA',
      ttl: 300,
      records: [{ content: content(1), disabled: false }],
    });
    await rejectsWith(
      pub().apply({ owner: OWNER, expected: [], add: [rec(2)], remove: [], ttl: 300 }),
      'E_PUBLISH_CONFLICT',
      'tempfail',
    );
    assert.deepEqual(
      fake.seen.map((s) => s.method),
      ['GET'],
    );
    // order and hex case do not matter
    fake.rrsets[2]!.records.push({ content: content(3, true), disabled: false });
    await pub().apply({
      owner: OWNER,
      expected: [rec(3), rec(1)],
      add: [],
      remove: [rec(3)],
      ttl: 300,
    });
    assert.deepEqual(fake.tlsa()!.records, [{ content: content(1), disabled: false }]);
  });

  it('remove: DELETE when nothing is left, REPLACE when a disabled record stays', async () => {
    fake.rrsets.push({
      name: OWNER,
      type: 'TLSA',
      ttl: 300,
      records: [{ content: content(1), disabled: false }],
    });
    await pub().apply({ owner: OWNER, expected: [rec(1)], add: [], remove: [rec(1)], ttl: 300 });
    assert.deepEqual(fake.seen[1]!.body, {
      rrsets: [{ name: OWNER, type: 'TLSA', changetype: 'DELETE' }],
    });
    assert.equal(fake.tlsa(), undefined);

    fake.rrsets.push({
      name: OWNER,
      type: 'TLSA',
      ttl: 300,
      records: [
        { content: content(1), disabled: false },
        { content: content(5), disabled: true },
      ],
    });
    await pub().apply({ owner: OWNER, expected: [rec(1)], add: [], remove: [rec(1)], ttl: 300 });
    assert.deepEqual(fake.tlsa()!.records, [{ content: content(5), disabled: true }]);
  });

  it('a change that changes nothing sends no PATCH; a new TTL does', async () => {
    fake.rrsets.push({
      name: OWNER,
      type: 'TLSA',
      ttl: 300,
      records: [{ content: content(1), disabled: false }],
    });
    await pub().apply({ owner: OWNER, expected: [rec(1)], add: [], remove: [], ttl: 300 });
    await pub()
      .apply({ owner: OWNER, expected: [], add: [], remove: [], ttl: 300 })
      .catch(() => {});
    assert.deepEqual(
      fake.seen.filter((s) => s.method === 'PATCH'),
      [],
    );
    await pub().apply({ owner: OWNER, expected: [rec(1)], add: [], remove: [], ttl: 60 });
    assert.equal(fake.tlsa()!.ttl, 60);
  });

  it('a set that is not what was written afterwards is a conflict', async () => {
    fake.dropPatches = true;
    await rejectsWith(
      pub().apply({ owner: OWNER, expected: [], add: [rec(1)], remove: [], ttl: 300 }),
      'E_PUBLISH_CONFLICT',
    );
  });

  it('read-back: the right TTL with other records (someone wrote right after) is a conflict', async () => {
    // the TTL half of the check passes here; only comparing the records catches it
    fake.afterPatch = () => {
      const s = fake.tlsa()!;
      s.records = [...s.records, { content: content(7), disabled: false }];
    };
    const e = await rejectsWith(
      pub().apply({ owner: OWNER, expected: [], add: [rec(1)], remove: [], ttl: 300 }),
      'E_PUBLISH_CONFLICT',
    );
    assert.match(e.message, /\(2 records, 1 written\)/);
    assert.equal(fake.tlsa()!.ttl, 300);
  });

  it('a bad TTL is refused before anything is sent', async () => {
    await rejectsWith(
      pub().apply({ owner: OWNER, expected: [], add: [rec(1)], remove: [], ttl: 2 ** 32 }),
      'E_TTL',
      'usage',
    );
    assert.equal(fake.seen.length, 0);
  });

  it('401 and 403: E_PUBLISH_AUTH naming the API, never the key', async () => {
    const bad = createPowerdnsPublisher({ zone: ZONE, apiUrl: fake.url, apiKey: 'wrong-key' });
    const e = await rejectsWith(bad.read(OWNER), 'E_PUBLISH_AUTH', 'noperm');
    assert.match(
      e.message,
      /^PowerDNS API at http:\/\/127\.0\.0\.1:\d+ refused the API key \(HTTP 401\)/,
    );
    assert.ok(!e.message.includes('wrong-key'));
    fake.fail = { status: 403, body: 'Forbidden' };
    await rejectsWith(pub().defaultTtl(), 'E_PUBLISH_AUTH', 'noperm');
  });

  it('404: an unknown zone or server id is E_PUBLISH_NOTAUTH saying which', async () => {
    const other = createPowerdnsPublisher({ zone: 'other.test', apiUrl: fake.url, apiKey: KEY });
    const e1 = await rejectsWith(other.read(OWNER), 'E_PUBLISH_NOTAUTH', 'config');
    assert.match(e1.message, /does not serve the zone other\.test\. \(HTTP 404\)/);
    const wrongId = createPowerdnsPublisher({
      zone: ZONE,
      apiUrl: fake.url,
      apiKey: KEY,
      serverId: 'ns9',
    });
    const e2 = await rejectsWith(
      wrongId.apply({ owner: OWNER, expected: [], add: [rec(1)], remove: [], ttl: 300 }),
      'E_PUBLISH_NOTAUTH',
    );
    assert.match(e2.message, /has no server id "ns9" \(HTTP 404\)/);
  });

  it("422 is E_PUBLISH_REJECTED with PowerDNS's error on one line; nothing half-applied", async () => {
    fake.rrsets.push({
      name: OWNER,
      type: 'TLSA',
      ttl: 300,
      records: [{ content: content(1), disabled: false }],
    });
    const p = pub();
    fake.failPatch = {
      status: 422,
      body: { error: `RRset ${OWNER} IN TLSA: Conflicts with pre-existing RRset\nsecond line` },
    };
    const e = await rejectsWith(
      p.apply({ owner: OWNER, expected: [rec(1)], add: [rec(2)], remove: [], ttl: 300 }),
      'E_PUBLISH_REJECTED',
      'protocol',
    );
    assert.deepEqual(fake.tlsa()!.records, [{ content: content(1), disabled: false }]);
    assert.match(
      e.message,
      /rejected the update of the TLSA RRset at _25\._tcp\.mail\.example\.test\. \(HTTP 422\): RRset .* Conflicts with pre-existing RRset$/,
    );
  });

  it('500 and 400 are E_PUBLISH_REJECTED', async () => {
    fake.fail = {
      status: 500,
      body: JSON.stringify({ error: 'Backend error: database is locked' }),
    };
    const e = await rejectsWith(pub().read(OWNER), 'E_PUBLISH_REJECTED', 'protocol');
    assert.match(e.message, /\(HTTP 500\): Backend error: database is locked$/);
    fake.fail = { status: 400, body: 'Bad Request', contentType: 'text/plain' };
    await rejectsWith(pub().read(OWNER), 'E_PUBLISH_REJECTED');
  });

  it('a body that is not JSON, or not a zone, is E_PUBLISH_PROTOCOL', async () => {
    fake.fail = { status: 200, body: '<html>login</html>', contentType: 'text/html' };
    await rejectsWith(pub().read(OWNER), 'E_PUBLISH_PROTOCOL', 'protocol');
    fake.fail = { status: 200, body: JSON.stringify({ name: ZONE }) };
    await rejectsWith(pub().read(OWNER), 'E_PUBLISH_PROTOCOL');
    fake.fail = {
      status: 200,
      body: JSON.stringify({
        rrsets: [
          {
            name: OWNER,
            type: 'TLSA',
            ttl: 1,
            records: [{ content: '3 1 1 zz', disabled: false }],
          },
        ],
      }),
    };
    await rejectsWith(pub().read(OWNER), 'E_PUBLISH_PROTOCOL');
  });

  it('a redirect is not followed (the key would go along)', async () => {
    const target = new FakePdns();
    await target.start();
    try {
      fake.fail = {
        status: 302,
        body: '',
        headers: { Location: `${target.url}/api/v1/servers/localhost/zones/example.test.` },
      };
      await rejectsWith(pub().read(OWNER), 'E_PUBLISH_PROTOCOL');
      assert.equal(target.seen.length, 0);
    } finally {
      await new Promise<void>((r) => target.server.close(() => r()));
    }
  });

  it('connection refused and no answer are E_PUBLISH_UNREACHABLE', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const down = createPowerdnsPublisher({
      zone: ZONE,
      apiUrl: `http://127.0.0.1:${port}`,
      apiKey: KEY,
    });
    const e = await rejectsWith(down.read(OWNER), 'E_PUBLISH_UNREACHABLE', 'unavailable');
    assert.match(e.message, /did not answer the read of the TLSA RRset at .*: connection refused$/);

    fake.hang = true;
    const slow = createPowerdnsPublisher({
      zone: ZONE,
      apiUrl: fake.url,
      apiKey: KEY,
      timeoutMs: 200,
    });
    const t0 = Date.now();
    const e2 = await rejectsWith(slow.read(OWNER), 'E_PUBLISH_UNREACHABLE');
    assert.match(e2.message, /no answer within 200 ms$/);
    assert.ok(Date.now() - t0 < 3_000);
    fake.server.closeAllConnections();
  });

  it('an API URL with credentials or another scheme is a config error', () => {
    for (const apiUrl of [
      'http://u:p@127.0.0.1:8081',
      'ftp://127.0.0.1/',
      'not a url',
      'http://h/?key=x',
    ]) {
      assert.throws(
        () => createPowerdnsPublisher({ zone: ZONE, apiUrl, apiKey: KEY }),
        (e: unknown) =>
          e instanceof DkError && e.code === 'E_PUBLISH_CONFIG' && e.kind === 'config',
      );
    }
    assert.throws(
      () => createPowerdnsPublisher({ zone: ZONE, apiUrl: fake.url, apiKey: '  ' }),
      (e: unknown) => e instanceof DkError && e.code === 'E_PUBLISH_CONFIG',
    );
  });
});

describe('powerdns DNSSEC helpers (fake API)', () => {
  const fake = new FakePdns();
  const opts = () => ({ zone: ZONE, apiUrl: fake.url, apiKey: KEY });
  before(() => fake.start());
  after(() => new Promise<void>((r) => fake.server.close(() => r())));
  beforeEach(() => fake.reset());

  it('an unsigned zone reads as dnssec false, no keys', async () => {
    assert.deepEqual(await powerdnsDnssec(opts()), { dnssec: false, keys: [] });
  });

  it('secureZone PUTs dnssec true, rectifies, and returns the keys without private parts', async () => {
    const st = await powerdnsSecureZone(opts());
    assert.deepEqual(
      fake.seen.map((s) => `${s.method} ${s.url}`),
      [
        'GET /api/v1/servers/localhost/zones/example.test.?rrsets=false',
        'PUT /api/v1/servers/localhost/zones/example.test.',
        'PUT /api/v1/servers/localhost/zones/example.test./rectify',
        'GET /api/v1/servers/localhost/zones/example.test.?rrsets=false',
        'GET /api/v1/servers/localhost/zones/example.test./cryptokeys',
      ],
    );
    assert.deepEqual(fake.seen[1]!.body, { dnssec: true });
    assert.deepEqual(st, {
      dnssec: true,
      keys: [
        {
          id: 7,
          keytype: 'csk',
          active: true,
          published: true,
          algorithm: 'ECDSAP256SHA256',
          dnskey: '257 3 13 AAAA',
          ds: ['1 13 2 abcd'],
        },
      ],
    });
    assert.ok(!JSON.stringify(st).includes('SECRET'));
    // already signed: nothing is changed
    fake.seen = [];
    await powerdnsSecureZone(opts());
    assert.deepEqual(
      fake.seen.filter((s) => s.method !== 'GET'),
      [],
    );
  });

  it('zone settings: SOA-EDIT-API empty is reported as it is', async () => {
    assert.deepEqual(await powerdnsZoneSettings(opts()), {
      kind: 'Native',
      dnssec: false,
      serial: 2026010101,
      soaEditApi: '',
      apiRectify: false,
      nsec3param: '',
    });
  });

  it('errors map as for the publisher', async () => {
    await rejectsWith(powerdnsDnssec({ ...opts(), apiKey: 'nope' }), 'E_PUBLISH_AUTH', 'noperm');
    await rejectsWith(powerdnsSecureZone({ ...opts(), zone: 'gone.test' }), 'E_PUBLISH_NOTAUTH');
  });
});
