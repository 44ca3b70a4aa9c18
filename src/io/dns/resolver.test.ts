/**
 * DNSSEC status rules and record extraction through StubResolver, and proveValidating, against
 * fake servers that play a validating resolver: AD for secure data, SERVFAIL for bogus data
 * unless CD=1, silence for a dead server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type dnsPacket from 'dns-packet';
import { DkError } from '../../core/errors.js';
import type { ServerAddress } from './config.js';
import { fakeServerPool, FakeDnsServer, response, type FakeHandler } from './fake-server.js';
import { proveValidating } from './prove.js';
import { StubResolver } from './resolver.js';

const fake = fakeServerPool();

function resolver(...s: ServerAddress[]): StubResolver {
  return new StubResolver({ servers: s, timeoutMs: 200, tries: 1 });
}

const soa: dnsPacket.Answer = {
  name: 'example.test',
  type: 'SOA',
  ttl: 3600,
  data: {
    mname: 'ns1.example.test',
    rname: 'hostmaster.example.test',
    serial: 1,
    refresh: 7200,
    retry: 900,
    expire: 1209600,
    minimum: 120,
  },
};

const tlsaData = Buffer.alloc(32, 0xcd);

/**
 * A little validating resolver:
 *   secure.example.test      A, AAAA, MX, TLSA, NS, DS, DNSKEY with AD=1
 *   insecure.example.test    A without AD
 *   bogus.example.test       SERVFAIL unless CD=1, then A
 *   broken.example.test      SERVFAIL always
 *   refused.example.test     REFUSED
 *   www.example.test         CNAME a.example.test -> CNAME b.example.test -> A, AD=1
 *   loop.example.test        CNAME loop2 -> CNAME loop (a resolver would SERVFAIL; this one lies)
 *   anything else            NXDOMAIN with SOA, AD=1
 * and the root DNSKEY with AD=1.
 */
const validating: FakeHandler = (q) => {
  const n = q.name.toLowerCase();
  const ans = (answers: dnsPacket.Answer[], ad = true): Buffer => response(q, { ad, answers });
  if (n === '.' || n === '') {
    return ans([
      {
        name: '.',
        type: 'DNSKEY',
        ttl: 172800,
        data: { flags: 257, algorithm: 8, key: Buffer.alloc(260, 3) },
      },
      {
        name: '.',
        type: 'DNSKEY',
        ttl: 172800,
        data: { flags: 256, algorithm: 8, key: Buffer.alloc(260, 4) },
      },
    ]);
  }
  switch (n) {
    case 'secure.example.test':
      switch (q.type) {
        case 'A':
          return ans([
            { name: q.name, type: 'A', ttl: 300, data: '192.0.2.1' },
            { name: q.name, type: 'A', ttl: 200, data: '192.0.2.2' },
          ]);
        case 'AAAA':
          return ans([{ name: q.name, type: 'AAAA', ttl: 300, data: '2001:db8::1' }]);
        case 'MX':
          return ans([
            {
              name: q.name,
              type: 'MX',
              ttl: 300,
              data: { preference: 10, exchange: 'mx1.example.test' },
            },
            {
              name: q.name,
              type: 'MX',
              ttl: 300,
              data: { preference: 20, exchange: 'mx2.example.test' },
            },
          ]);
        case 'NS':
          return ans([{ name: q.name, type: 'NS', ttl: 300, data: 'ns1.example.test' }]);
        case 'DS':
          return ans([
            {
              name: q.name,
              type: 'DS',
              ttl: 300,
              data: { keyTag: 4242, algorithm: 13, digestType: 2, digest: Buffer.alloc(32, 9) },
            },
          ]);
        case 'DNSKEY':
          return ans([
            {
              name: q.name,
              type: 'DNSKEY',
              ttl: 300,
              data: { flags: 257, algorithm: 13, key: Buffer.alloc(64, 5) },
            },
          ]);
        case 'SOA':
          return ans([{ ...soa, name: q.name }]);
        default:
          return response(q, { ad: true, authorities: [soa] });
      }
    case '_25._tcp.secure.example.test':
      return ans([
        {
          name: q.name,
          type: 'TLSA',
          ttl: 3600,
          data: { usage: 3, selector: 1, matchingType: 1, certificate: tlsaData },
        },
      ]);
    case 'insecure.example.test':
      return ans([{ name: q.name, type: 'A', ttl: 300, data: '192.0.2.9' }], false);
    case 'bogus.example.test':
      return q.cd
        ? ans([{ name: q.name, type: 'A', ttl: 300, data: '203.0.113.6' }], false)
        : response(q, { rcode: 2 });
    case 'broken.example.test':
      return response(q, { rcode: 2 });
    case 'refused.example.test':
      return response(q, { rcode: 5 });
    case 'www.example.test':
      return ans([
        { name: 'WWW.example.test', type: 'CNAME', ttl: 300, data: 'a.example.test' },
        { name: 'a.example.test', type: 'CNAME', ttl: 300, data: 'b.example.test' },
        { name: 'b.example.test', type: 'A', ttl: 60, data: '192.0.2.80' },
        { name: 'unrelated.example.test', type: 'A', ttl: 60, data: '198.51.100.1' },
      ]);
    case 'loop.example.test':
      return ans([
        { name: 'loop.example.test', type: 'CNAME', ttl: 300, data: 'loop2.example.test' },
        { name: 'loop2.example.test', type: 'CNAME', ttl: 300, data: 'loop.example.test' },
      ]);
    default:
      return response(q, { rcode: 3, ad: true, authorities: [soa] });
  }
};

let main: FakeDnsServer;

async function mainServer(): Promise<FakeDnsServer> {
  main ??= await fake(validating);
  return main;
}

describe('status rules (RFC 4035 §3.2.3, RFC 6840 §5.7)', () => {
  test('AD=1: secure, with records, TTL and server', async () => {
    const s = await mainServer();
    const r = await resolver(s.server).lookup('Secure.Example.test.', 'A');
    assert.deepEqual(r, {
      name: 'Secure.Example.test',
      type: 'A',
      status: 'secure',
      rcode: 'NOERROR',
      records: ['192.0.2.1', '192.0.2.2'],
      cnameChain: [],
      canonicalName: 'Secure.Example.test',
      ttl: 200,
      server: `127.0.0.1:${s.port}`,
      authoritative: false,
      skipped: 0,
    });
  });

  test('AD=0: insecure', async () => {
    const r = await resolver((await mainServer()).server).lookup('insecure.example.test', 'A');
    assert.equal(r.status, 'insecure');
    assert.deepEqual(r.records, ['192.0.2.9']);
  });

  test('NXDOMAIN with AD=1: secure denial, negative TTL from the SOA (RFC 2308 §5)', async () => {
    const r = await resolver((await mainServer()).server).lookup('nothing.example.test', 'TLSA');
    assert.equal(r.status, 'secure');
    assert.equal(r.rcode, 'NXDOMAIN');
    assert.deepEqual(r.records, []);
    assert.equal(r.ttl, 120);
  });

  test('NODATA with AD=1: secure, no records', async () => {
    const r = await resolver((await mainServer()).server).lookup('secure.example.test', 'TLSA');
    assert.equal(r.status, 'secure');
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.records, []);
    assert.equal(r.ttl, 120);
  });

  test('SERVFAIL, then an answer with CD=1: bogus, records shown, reason given', async () => {
    const s = await fake(validating);
    const r = await resolver(s.server).lookup('bogus.example.test', 'A');
    assert.equal(r.status, 'bogus');
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.records, ['203.0.113.6']);
    assert.match(
      r.why!,
      /answered SERVFAIL, but NOERROR with checking disabled \(CD=1\): DNSSEC validation failed/,
    );
    assert.deepEqual(
      s.queries.map((q) => q.cd),
      [false, true],
    );
  });

  test('SERVFAIL also with CD=1: indeterminate (server failure)', async () => {
    const r = await resolver((await mainServer()).server).lookup('broken.example.test', 'A');
    assert.equal(r.status, 'indeterminate');
    assert.equal(r.rcode, 'SERVFAIL');
    assert.match(r.why!, /also with checking disabled \(CD=1\): a server failure, not DNSSEC/);
  });

  test('SERVFAIL, and the CD=1 retry times out: indeterminate', async () => {
    const s = await fake((q) => (q.cd ? null : response(q, { rcode: 2 })));
    const r = await resolver(s.server).lookup('a.test', 'A');
    assert.equal(r.status, 'indeterminate');
    assert.equal(r.error?.code, 'E_DNS_TIMEOUT');
    assert.match(r.why!, /answered SERVFAIL, and the CD=1 retry failed: No answer from/);
  });

  test('timeout: indeterminate, rcode null, the error kept', async () => {
    const s = await fake(() => null);
    const r = await resolver(s.server).lookup('secure.example.test', 'TLSA');
    assert.equal(r.status, 'indeterminate');
    assert.equal(r.rcode, null);
    assert.equal(r.server, `127.0.0.1:${s.port}`);
    assert.ok(r.error instanceof DkError);
    assert.equal(r.error.kind, 'unavailable');
    assert.match(
      r.why!,
      /^No answer from 127\.0\.0\.1:\d+ for secure\.example\.test\/TLSA within 200 ms$/,
    );
  });

  test('a malformed answer: indeterminate with the protocol error', async () => {
    const s = await fake((q) => {
      const b = response(q);
      return Buffer.concat([b.subarray(0, 6), Buffer.from([0, 9]), b.subarray(8)]);
    });
    const r = await resolver(s.server).lookup('mx.example.test', 'TLSA');
    assert.equal(r.status, 'indeterminate');
    assert.equal(r.error?.code, 'E_DNS_MALFORMED');
    assert.match(
      r.why!,
      /^Answer from 127\.0\.0\.1:\d+ for mx\.example\.test\/TLSA is malformed: /,
    );
  });

  test('REFUSED: indeterminate', async () => {
    const r = await resolver((await mainServer()).server).lookup('refused.example.test', 'A');
    assert.equal(r.status, 'indeterminate');
    assert.equal(r.rcode, 'REFUSED');
    assert.match(r.why!, /answered REFUSED/);
  });

  test('cd: true asked by the caller: AD=0 says nothing (indeterminate)', async () => {
    const r = await resolver((await mainServer()).server).lookup('insecure.example.test', 'A', {
      cd: true,
    });
    assert.equal(r.status, 'indeterminate');
    assert.match(r.why!, /did not set AD on a CD=1 query/);
  });

  test('a bad name is a usage error, thrown', async () => {
    await assert.rejects(
      resolver((await mainServer()).server).lookup('bad name', 'A'),
      (e: unknown) => e instanceof DkError && e.kind === 'usage' && e.code === 'E_DNS_NAME',
    );
  });

  test('the first server dead, the second answers', async () => {
    const dead = await FakeDnsServer.start(() => null);
    await dead.close();
    const r = await resolver(dead.server, (await mainServer()).server).lookup(
      'secure.example.test',
      'A',
    );
    assert.equal(r.status, 'secure');
    assert.equal(r.server, `127.0.0.1:${main.port}`);
  });
});

describe('records', () => {
  test('CNAME chain followed, reported in order; the status is the whole answer AD', async () => {
    const r = await resolver((await mainServer()).server).lookup('www.example.test', 'A');
    assert.equal(r.status, 'secure');
    assert.deepEqual(r.cnameChain, ['a.example.test', 'b.example.test']);
    assert.equal(r.canonicalName, 'b.example.test');
    assert.deepEqual(r.records, ['192.0.2.80'], 'records off the chain are ignored');
    assert.equal(r.ttl, 60);
  });

  test('a CNAME question returns the CNAME, not the chain', async () => {
    const r = await resolver((await mainServer()).server).lookup('www.example.test', 'CNAME');
    assert.deepEqual(r.records, ['a.example.test']);
    assert.deepEqual(r.cnameChain, []);
  });

  test('a CNAME loop in the answer stops with a reason', async () => {
    const r = await resolver((await mainServer()).server).lookup('loop.example.test', 'A');
    assert.deepEqual(r.records, []);
    assert.deepEqual(r.cnameChain, ['loop2.example.test']);
    assert.match(r.why!, /the CNAME chain loops back to loop\.example\.test/);
  });

  test('typed: AAAA, MX, NS, DS, DNSKEY, SOA, TLSA', async () => {
    const res = resolver((await mainServer()).server);
    const name = 'secure.example.test';
    assert.deepEqual((await res.lookup(name, 'AAAA')).records, ['2001:db8::1']);
    assert.deepEqual((await res.lookup(name, 'MX')).records, [
      { preference: 10, exchange: 'mx1.example.test' },
      { preference: 20, exchange: 'mx2.example.test' },
    ]);
    assert.deepEqual((await res.lookup(name, 'NS')).records, ['ns1.example.test']);
    assert.deepEqual((await res.lookup(name, 'DS')).records, [
      { keyTag: 4242, algorithm: 13, digestType: 2, digest: Buffer.alloc(32, 9) },
    ]);
    const [key] = (await res.lookup(name, 'DNSKEY')).records;
    assert.equal(key!.flags, 257);
    assert.equal(key!.algorithm, 13);
    assert.equal(typeof key!.keyTag, 'number');
    assert.equal((await res.lookup(name, 'SOA')).records[0]!.minimum, 120);
    const tlsa = await res.lookup('_25._tcp.secure.example.test', 'TLSA');
    assert.equal(tlsa.status, 'secure');
    assert.deepEqual(tlsa.records, [{ usage: 3, selector: 1, mtype: 1, data: tlsaData }]);
    assert.equal(tlsa.ttl, 3600);
  });

  test('a TLSA record too short to decode is skipped and counted, the rest kept', async () => {
    const s = await fake((q) =>
      response(q, {
        ad: true,
        answers: [
          // dns-packet's TLSA encoder cannot write a short record; its generic one can.
          {
            name: q.name,
            type: 'UNKNOWN_52',
            ttl: 300,
            data: Buffer.from([3, 1]),
          } as unknown as dnsPacket.Answer,
          {
            name: q.name,
            type: 'TLSA',
            ttl: 300,
            data: { usage: 2, selector: 1, matchingType: 1, certificate: tlsaData },
          },
        ],
      }),
    );
    const r = await resolver(s.server).lookup('_25._tcp.mx.example.test', 'TLSA');
    assert.equal(r.status, 'secure');
    assert.equal(r.skipped, 1);
    assert.deepEqual(r.records, [{ usage: 2, selector: 1, mtype: 1, data: tlsaData }]);
    assert.match(r.why!, /a TLSA record was skipped: TLSA record: RDATA of 2 octets/);
  });
});

describe('proveValidating', () => {
  test('a validating resolver: root DNSKEY secure and the bogus name refused', async () => {
    const p = await proveValidating(resolver((await mainServer()).server), {
      bogusName: 'bogus.example.test',
    });
    assert.equal(p.validating, true);
    assert.deepEqual(
      p.servers[0]!.checks.map((c) => [c.what, c.ok, c.status]),
      [
        ['root DNSKEY', true, 'secure'],
        ['bogus.example.test/A (expected bogus)', true, 'bogus'],
      ],
    );
    assert.match(
      p.summary,
      /^Resolver 127\.0\.0\.1:\d+ validates DNSSEC \(root DNSKEY, bogus\.example\.test\/A refused\)$/,
    );
    assert.deepEqual(p.warnings, []);
  });

  test('a resolver that does not validate: said loudly, not thrown', async () => {
    const s = await fake((q) =>
      response(q, {
        answers: [
          {
            name: '.',
            type: 'DNSKEY',
            ttl: 1,
            data: { flags: 257, algorithm: 8, key: Buffer.alloc(8) },
          },
        ],
      }),
    );
    const p = await proveValidating(resolver(s.server));
    assert.equal(p.validating, false);
    assert.match(
      p.summary,
      /^WARNING: resolver 127\.0\.0\.1:\d+ does not validate DNSSEC: the DNSKEY RRset of the root came back without AD/,
    );
  });

  test('a bogus name that comes back insecure fails the proof', async () => {
    const s = await fake((q) => (q.name === '.' ? validating(q) : response(q, { answers: [] })));
    const p = await proveValidating(resolver(s.server), { bogusName: 'bogus.example.test' });
    assert.equal(p.validating, false);
    assert.match(p.summary, /a deliberately broken name came back insecure/);
  });

  test('every server is proven: a non-validating second server fails the whole', async () => {
    const bad = await fake((q) => response(q, { answers: [] }));
    const p = await proveValidating(resolver((await mainServer()).server, bad.server));
    assert.equal(p.validating, false);
    assert.deepEqual(
      p.servers.map((s) => s.validating),
      [true, false],
    );
    assert.match(p.summary, new RegExp(`resolver 127\\.0\\.0\\.1:${bad.port} does not validate`));
  });

  test('no answer for the root DNSKEY: not validating, with the reason', async () => {
    const s = await fake(() => null);
    const p = await proveValidating(resolver(s.server));
    assert.equal(p.validating, false);
    assert.equal(p.servers[0]!.checks[0]!.status, 'indeterminate');
    assert.match(
      p.summary,
      /^WARNING: could not prove that resolver 127\.0\.0\.1:\d+ validates DNSSEC: no usable answer for the DNSKEY of the root: No answer from/,
    );
  });

  test('another trust anchor than the root', async () => {
    const p = await proveValidating(resolver((await mainServer()).server), {
      anchor: 'secure.example.test.',
    });
    assert.equal(p.validating, true);
    assert.equal(p.servers[0]!.checks[0]!.what, 'secure.example.test/DNSKEY');
    assert.match(
      p.servers[0]!.checks[0]!.detail,
      /DNSKEY RRset of secure\.example\.test came back validated/,
    );
  });

  test('a resolver off this machine draws a warning', async () => {
    const fakeRemote = {
      servers: ['192.0.2.53:53'],
      lookup: async () => ({
        ...(await resolver((await mainServer()).server).lookup('.', 'DNSKEY')),
      }),
    };
    const p = await proveValidating(fakeRemote as never);
    assert.equal(p.validating, true);
    assert.match(p.warnings[0]!, /192\.0\.2\.53:53 is not on this machine/);
  });
});
