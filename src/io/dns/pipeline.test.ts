/**
 * Pipelined TCP to the resolver (pipeline.ts) against fake servers on 127.0.0.1: many queries
 * on one connection answered out of order, unique IDs in flight, and every way a connection can
 * fail sending its queries back to the normal path (UDP) instead of failing them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DkError } from '../../core/errors.js';
import { DnsClient } from './client.js';
import { fakeServerPool, response, type FakeQuery, type FakeReply } from './fake-server.js';
import { encodeQuery } from './query.js';
import { decodeRdata } from './rdata.js';
import { StubResolver } from './resolver.js';
import { E_DNS_PIPELINE, TcpPipeline } from './pipeline.js';

const fake = fakeServerPool();

/** An A answer whose address says which name was asked: 192.0.2.N for hN.test. */
const answer = (q: FakeQuery): Buffer =>
  response(q, {
    ad: true,
    answers: [{ name: q.name, type: 'A', ttl: 60, data: `192.0.2.${/\d+/.exec(q.name)![0]}` }],
  });

function client(server: DnsClient['servers'][number], pipeline: TcpPipeline, timeoutMs = 400) {
  return new DnsClient({ servers: [server], timeoutMs, tries: 1, pipeline });
}

const ip = (a: { message: { buf: Buffer; answers: unknown[] } }) =>
  decodeRdata('A', a.message.buf, a.message.answers[0] as never);

test('20 queries at once share one TCP connection, answered in reverse order, each matched by ID', async () => {
  const s = await fake((q) => {
    if (q.transport === 'udp') return answer(q);
    // the later the query, the sooner the answer: out of order on the connection
    const n = Number(/\d+/.exec(q.name)![0]);
    return { delayMs: (20 - n) * 5, reply: answer(q) };
  });
  const p = new TcpPipeline();
  const c = client(s.server, p);
  const got = await Promise.all(
    Array.from({ length: 20 }, (_, i) => c.query(`h${i + 1}.test`, 'A')),
  );
  got.forEach((a, i) => {
    assert.equal(a.transport, 'tcp');
    assert.equal(ip(a), `192.0.2.${i + 1}`);
  });
  assert.ok(
    s.queries.every((q) => q.transport === 'tcp'),
    'no UDP query',
  );
  assert.equal(new Set(s.queries.map((q) => q.port)).size, 1, 'one connection');
  assert.equal(new Set(s.queries.map((q) => q.id)).size, 20, 'IDs unique in flight');
  assert.deepEqual(p.stats, { connectionsOpened: 1, queries: 20, fellBack: 0 });
  p.close();
});

test('a server that closes the connection with answers owed: those queries are asked again over UDP', async () => {
  let tcp = 0;
  const s = await fake((q) => {
    if (q.transport === 'udp') return answer(q);
    return ++tcp === 3 ? 'close' : null;
  });
  const p = new TcpPipeline();
  const c = client(s.server, p);
  const got = await Promise.all([1, 2, 3].map((n) => c.query(`h${n}.test`, 'A')));
  assert.deepEqual(
    got.map((a) => [a.transport, ip(a)]),
    [
      ['udp', '192.0.2.1'],
      ['udp', '192.0.2.2'],
      ['udp', '192.0.2.3'],
    ],
  );
  assert.equal(p.stats.fellBack, 3);
  p.close();
});

test('an answer with an ID nobody asked for ends the connection (RFC 7766 §7); its queries go over UDP', async () => {
  const s = await fake((q) =>
    q.transport === 'udp' ? answer(q) : response(q, { id: (q.id + 1) & 0xffff }),
  );
  const p = new TcpPipeline();
  const a = await client(s.server, p).query('h7.test', 'A');
  assert.equal(a.transport, 'udp');
  assert.equal(ip(a), '192.0.2.7');
  p.close();
});

test('one query timing out leaves the connection to the others; its late answer is dropped quietly', async () => {
  const s = await fake((q): FakeReply => {
    if (q.transport === 'udp') return answer(q);
    return q.name === 'h1.test' ? { delayMs: 300, reply: answer(q) } : answer(q);
  });
  const p = new TcpPipeline();
  const c = client(s.server, p, 150);
  await assert.rejects(c.query('h1.test', 'A'), (e: unknown) => {
    assert.ok(e instanceof DkError);
    assert.equal(e.code, 'E_DNS_TIMEOUT');
    assert.match(e.message, /^No answer from 127\.0\.0\.1:\d+ for h1\.test\/A within 150 ms$/);
    return true;
  });
  await new Promise((r) => setTimeout(r, 250)); // the late answer arrives meanwhile
  const a = await c.query('h2.test', 'A');
  assert.equal(a.transport, 'tcp');
  assert.equal(ip(a), '192.0.2.2');
  assert.equal(p.stats.connectionsOpened, 1, 'the same connection');
  p.close();
});

test('cancelled by the caller: E_DNS_ABORTED, no fallback', async () => {
  const s = await fake((q) => (q.transport === 'udp' ? answer(q) : null));
  const p = new TcpPipeline();
  const ctl = new AbortController();
  const q = client(s.server, p, 2000).query('h1.test', 'A', { signal: ctl.signal });
  setTimeout(() => ctl.abort(), 50);
  await assert.rejects(q, (e: unknown) => e instanceof DkError && e.code === 'E_DNS_ABORTED');
  assert.ok(s.queries.every((x) => x.transport === 'tcp'));
  p.close();
});

test('a connection the server closed while idle is replaced on the next query', async () => {
  let first = true;
  const s = await fake((q) => {
    if (q.transport === 'udp') return answer(q);
    if (first) {
      first = false;
      return { stream: Buffer.concat([lenPrefix(answer(q))]), close: true };
    }
    return answer(q);
  });
  const p = new TcpPipeline();
  const c = client(s.server, p);
  assert.equal((await c.query('h1.test', 'A')).transport, 'tcp');
  await new Promise((r) => setTimeout(r, 50));
  const a = await c.query('h2.test', 'A');
  assert.equal(a.transport, 'tcp');
  assert.equal(p.stats.connectionsOpened, 2);
  assert.equal(p.stats.fellBack, 0);
  p.close();
});

function lenPrefix(b: Buffer): Buffer {
  const l = Buffer.alloc(2);
  l.writeUInt16BE(b.length);
  return Buffer.concat([l, b]);
}

test('a resolver whose connections die before any answer is asked the normal way after 3 tries', async () => {
  const s = await fake((q) => (q.transport === 'udp' ? answer(q) : 'close'));
  const p = new TcpPipeline();
  const c = client(s.server, p);
  for (let n = 1; n <= 6; n++) assert.equal((await c.query(`h${n}.test`, 'A')).transport, 'udp');
  assert.equal(p.stats.connectionsOpened, 3);
  assert.equal(s.queries.filter((q) => q.transport === 'tcp').length, 3);
  p.close();
});

test('a mismatching or truncated answer over the pipeline is that query’s error, as over plain TCP', async () => {
  const s = await fake((q) =>
    q.name === 'h1.test'
      ? response(q, { question: { name: 'other.test', type: 'A' } })
      : response(q, { tc: true }),
  );
  const p = new TcpPipeline();
  const e = { name: 'h1.test', type: 1, what: 'h1.test/A' };
  const query = (name: string) =>
    encodeQuery({ id: 1, name, type: 'A', rd: true, cd: false, udpSize: 1232 });
  const o = { timeoutMs: 400, maxResponseBytes: 65535 };
  await assert.rejects(
    p.exchange(s.server, query('h1.test'), { ...e, id: 1 }, o),
    (x: unknown) => x instanceof DkError && x.code === 'E_DNS_MISMATCH' && x.kind === 'protocol',
  );
  await assert.rejects(
    p.exchange(s.server, query('h2.test'), { ...e, id: 1, name: 'h2.test', what: 'h2.test/A' }, o),
    (x: unknown) => x instanceof DkError && x.code === 'E_DNS_TRUNCATED',
  );
  p.close();
  await assert.rejects(
    p.exchange(s.server, query('h3.test'), { ...e, id: 1 }, o),
    (x: unknown) => x instanceof DkError && x.code === E_DNS_PIPELINE,
  );
});

test('through StubResolver: statuses as over UDP (AD=1 secure), and the bogus retry with CD=1 rides the pipeline too', async () => {
  const s = await fake((q) => answer(q));
  const p = new TcpPipeline();
  const r = new StubResolver(client(s.server, p));
  const ok = await r.lookup('h5.test', 'A');
  assert.equal(ok.status, 'secure');
  assert.deepEqual(ok.records, ['192.0.2.5']);
  const s2 = await fake((q) => (!q.cd ? response(q, { rcode: 2 }) : response(q, { answers: [] })));
  const bad = await new StubResolver(client(s2.server, p)).lookup('x1.test', 'A');
  assert.equal(bad.status, 'bogus');
  assert.deepEqual(
    s2.queries.map((q) => [q.transport, q.cd]),
    [
      ['tcp', false],
      ['tcp', true],
    ],
  );
  p.close();
});
