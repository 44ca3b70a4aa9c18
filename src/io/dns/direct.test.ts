import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeServerPool, response } from './fake-server.js';
import { queryDirect, rrsetIn, rrsigsIn } from './direct.js';

const startServer = fakeServerPool();

describe('queryDirect and section readers', () => {
  it('decodes RRSIGs covering a type (RFC 4034 §3.1) and keeps AA answers as answers', async () => {
    const s = await startServer((q) =>
      response(q, {
        aa: true,
        answers: [
          {
            name: 'example.test',
            type: 'SOA',
            ttl: 300,
            data: {
              mname: 'ns1.example.test',
              rname: 'h.example.test',
              serial: 42,
              refresh: 1,
              retry: 1,
              expire: 1,
              minimum: 1,
            },
          },
          {
            name: 'example.test',
            type: 'RRSIG',
            ttl: 300,
            data: {
              typeCovered: 'SOA',
              algorithm: 13,
              labels: 2,
              originalTTL: 300,
              expiration: 2000000000,
              inception: 1900000000,
              keyTag: 4242,
              signersName: 'example.test',
              signature: Buffer.alloc(64, 1),
            },
          },
        ],
      }),
    );
    const r = await queryDirect('127.0.0.1', 'example.test', 'SOA', { serverFor: () => s.server });
    assert.equal(r.outcome, 'answer');
    assert.equal(r.authoritative, true);
    assert.equal(rrsetIn(r.message!, 'answer', 'EXAMPLE.test', 'SOA').records[0]!.serial, 42);
    const sigs = rrsigsIn(r.message!, 'answer', 'example.test', 'SOA');
    assert.equal(sigs.length, 1);
    assert.deepEqual(
      [sigs[0]!.typeCovered, sigs[0]!.keyTag, sigs[0]!.signerName, sigs[0]!.expiration],
      [6, 4242, 'example.test', 2000000000],
    );
    assert.equal(sigs[0]!.signature.length, 64);
    assert.deepEqual(rrsigsIn(r.message!, 'answer', 'example.test', 'DNSKEY'), []);
    assert.equal(s.queries[0]!.rd, false);
    assert.equal(s.queries[0]!.dnssecOk, true);
  });

  it('sorts REFUSED and answers without AA as lame, silence as unreachable', async () => {
    const refused = await startServer((q) => response(q, { rcode: 5 }));
    const noAa = await startServer((q) => response(q, {}));
    const silent = await startServer(() => null);
    const ask = (srv: typeof refused) =>
      queryDirect('127.0.0.1', 'example.test', 'SOA', {
        serverFor: () => srv.server,
        timeoutMs: 100,
        tries: 1,
      });
    const [a, b, c] = await Promise.all([ask(refused), ask(noAa), ask(silent)]);
    assert.deepEqual([a.outcome, a.rcode], ['lame', 'REFUSED']);
    assert.match(a.why!, /answered REFUSED/);
    assert.deepEqual([b.outcome, b.rcode], ['lame', 'NOERROR']);
    assert.match(b.why!, /without the AA bit/);
    assert.equal(c.outcome, 'unreachable');
    assert.match(c.why!, /TCP failed too/);
    // UDP once, then the TCP fallback
    assert.deepEqual(
      silent.queries.map((q) => q.transport),
      ['udp', 'tcp'],
    );
  });
});
