/**
 * The client against fake servers on 127.0.0.1: the query it sends, UDP with TCP fallback,
 * several servers, and every kind of hostile or broken answer. Timeouts are a few hundred
 * milliseconds so the file runs in a few seconds.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, test } from 'node:test';
import { DkError } from '../../core/errors.js';
import { DnsClient, type ClientOptions } from './client.js';
import { serverAddress, type ServerAddress } from './config.js';
import { fakeServerPool, FakeDnsServer, response, type FakeQuery } from './fake-server.js';
import { decodeRdata } from './rdata.js';

const fake = fakeServerPool();

function client(s: ServerAddress[], o: Partial<ClientOptions> = {}): DnsClient {
  return new DnsClient({ servers: s, timeoutMs: 250, tries: 1, ...o });
}

const answerA = (q: FakeQuery, ip = '192.0.2.1'): Buffer =>
  response(q, { ad: true, answers: [{ name: q.name, type: 'A', ttl: 60, data: ip }] });

/** The same bytes with another ID: a valid-looking answer to someone else's query. */
function withId(buf: Buffer, id: number): Buffer {
  const b = Buffer.from(buf);
  b.writeUInt16BE(id & 0xffff, 0);
  return b;
}

/** A header that matches the query, then whatever `body` holds. */
function hostile(q: FakeQuery, body: number[], counts = [1, 1, 0, 0]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.id, 0);
  h.writeUInt16BE(0x8180, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return Buffer.concat([h, Buffer.from(body)]);
}

/** The wire form of the question `q` asked, for hand-built answers. */
function questionBytes(q: FakeQuery): number[] {
  const out: number[] = [];
  for (const l of q.name.split('.')) out.push(l.length, ...Buffer.from(l));
  return [...out, 0, 0, 1, 0, 1];
}

async function rejectsWith(
  p: Promise<unknown>,
  kind: string,
  code: string,
  re: RegExp,
): Promise<DkError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, kind);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
  return caught as DkError;
}

/** A UDP and TCP port on 127.0.0.1 where nothing listens. */
async function deadServer(): Promise<ServerAddress> {
  const s = await FakeDnsServer.start(() => null);
  await s.close();
  return serverAddress('127.0.0.1', s.port);
}

describe('the query on the wire', () => {
  test('EDNS0 with DO=1 and 1232 bytes, AD=1, RD=1, CD=0 by default; random IDs and ports', async () => {
    const s = await fake((q) => answerA(q));
    const c = client([s.server]);
    const a = await c.query('Mail.Example.test.', 'A');
    await c.query('mail.example.test', 'A');
    assert.equal(a.transport, 'udp');
    assert.equal(a.name, 'Mail.Example.test');
    assert.equal(a.server.label, `127.0.0.1:${s.port}`);
    assert.equal(decodeRdata('A', a.message.buf, a.message.answers[0]!), '192.0.2.1');
    const [q1, q2] = s.queries as [FakeQuery, FakeQuery];
    assert.equal(q1.dnssecOk, true);
    assert.equal(q1.udpSize, 1232);
    assert.equal(q1.ad, true);
    assert.equal(q1.rd, true);
    assert.equal(q1.cd, false);
    assert.equal(q1.transport, 'udp');
    assert.notEqual(q1.port, q2.port, 'a fresh source port per query');
    // IDs are random: equal IDs would be a 1-in-65536 coincidence.
    assert.notEqual(q1.id, q2.id);
  });

  test('rd: false and cd: true are sent as asked', async () => {
    const s = await fake((q) => answerA(q));
    await client([s.server]).query('a.test', 'A', { rd: false, cd: true });
    assert.equal(s.queries[0]!.rd, false);
    assert.equal(s.queries[0]!.cd, true);
  });

  test('a name that is not a domain name is a usage error, before any packet', async () => {
    const s = await fake((q) => answerA(q));
    await rejectsWith(client([s.server]).query('a..b', 'A'), 'usage', 'E_DNS_NAME', /a\.\.b/);
    await rejectsWith(client([s.server]).query('', 'A'), 'usage', 'E_DNS_NAME', /""/);
    await rejectsWith(
      client([s.server]).query(`${'a'.repeat(64)}.test`, 'A'),
      'usage',
      'E_DNS_NAME',
      /not a valid domain name/,
    );
    assert.equal(s.queries.length, 0);
  });
});

describe('UDP and TCP', () => {
  test('TC=1 makes the client ask again over TCP, with a new ID', async () => {
    const s = await fake((q) =>
      q.transport === 'udp' ? response(q, { tc: true }) : answerA(q, '192.0.2.77'),
    );
    const a = await client([s.server]).query('big.test', 'A');
    assert.equal(a.transport, 'tcp');
    assert.equal(decodeRdata('A', a.message.buf, a.message.answers[0]!), '192.0.2.77');
    assert.deepEqual(
      s.queries.map((q) => q.transport),
      ['udp', 'tcp'],
    );
    assert.notEqual(s.queries[0]!.id, s.queries[1]!.id);
  });

  test('a TC=1 answer cut off after the question is still enough to fall back', async () => {
    const s = await fake((q) =>
      q.transport === 'udp'
        ? Buffer.concat([
            withId(Buffer.from([0, 0, 0x83, 0x80, 0, 1, 0, 5, 0, 0, 0, 0]), q.id),
            Buffer.from(questionBytes(q)),
            Buffer.from([0xc0]),
          ])
        : answerA(q),
    );
    assert.equal((await client([s.server]).query('cut.test', 'A')).transport, 'tcp');
  });

  test('tcpOnly and the tcp option skip UDP', async () => {
    const s = await fake((q) => answerA(q));
    assert.equal(
      (await client([s.server], { tcpOnly: true }).query('a.test', 'A')).transport,
      'tcp',
    );
    assert.equal((await client([s.server]).query('a.test', 'A', { tcp: true })).transport, 'tcp');
    assert.deepEqual(
      s.queries.map((q) => q.transport),
      ['tcp', 'tcp'],
    );
  });

  test('a timeout is retried with a new ID and a new source port', async () => {
    const s = await fake((q) => (s.queries.length === 1 ? null : answerA(q)));
    const a = await client([s.server], { tries: 2 }).query('slow.test', 'A');
    assert.equal(a.transport, 'udp');
    assert.equal(s.queries.length, 2);
    assert.notEqual(s.queries[0]!.port, s.queries[1]!.port);
  });

  test('no answer at all: E_DNS_TIMEOUT after every try', async () => {
    const s = await fake(() => null);
    const t = Date.now();
    await rejectsWith(
      client([s.server], { tries: 2, timeoutMs: 150 }).query('silent.test', 'A'),
      'unavailable',
      'E_DNS_TIMEOUT',
      new RegExp(`^No answer from 127\\.0\\.0\\.1:${s.port} for silent\\.test/A within 150 ms$`),
    );
    assert.equal(s.queries.length, 2);
    assert.ok(Date.now() - t < 1000);
  });

  test('a server that closes the TCP connection without a word: unreachable', async () => {
    const s = await fake(() => 'close');
    await rejectsWith(
      client([s.server], { tcpOnly: true }).query('a.test', 'A'),
      'unavailable',
      'E_DNS_UNREACHABLE',
      /closed the TCP connection for a\.test\/A without answering/,
    );
  });

  test('cancelled by the caller: E_DNS_ABORTED, not retried', async () => {
    const ac = new AbortController();
    // Cancel once the query has arrived, so the count below does not depend on timing.
    const s = await fake(() => {
      ac.abort();
      return null;
    });
    await rejectsWith(
      client([s.server], { tries: 3, timeoutMs: 2000 }).query('a.test', 'A', { signal: ac.signal }),
      'unavailable',
      'E_DNS_ABORTED',
      /was cancelled/,
    );
    assert.equal(s.queries.length, 1);
  });
});

describe('several servers', () => {
  test('the first is dead (port unreachable): the second answers, quickly', async () => {
    const dead = await deadServer();
    const s = await fake((q) => answerA(q));
    const t = Date.now();
    const a = await client([dead, s.server], { timeoutMs: 2000, tries: 2 }).query('a.test', 'A');
    assert.equal(a.server.port, s.port);
    assert.ok(Date.now() - t < 1000, 'ICMP port unreachable ends the wait at once');
  });

  test('the first times out: the second answers', async () => {
    const silent = await fake(() => null);
    const s = await fake((q) => answerA(q));
    const a = await client([silent.server, s.server]).query('a.test', 'A');
    assert.equal(a.server.port, s.port);
    assert.equal(silent.queries.length, 1);
  });

  test('REFUSED makes the client try the next server; returned if nobody does better', async () => {
    const refusing = await fake((q) => response(q, { rcode: 5 }));
    const s = await fake((q) => answerA(q));
    const a = await client([refusing.server, s.server]).query('a.test', 'A');
    assert.equal(a.server.port, s.port);
    const only = await client([refusing.server]).query('a.test', 'A');
    assert.equal(only.message.rcode, 5);
  });

  test('SERVFAIL is final: the next server is not asked', async () => {
    const failing = await fake((q) => response(q, { rcode: 2 }));
    const s = await fake((q) => answerA(q));
    const a = await client([failing.server, s.server]).query('a.test', 'A');
    assert.equal(a.message.rcode, 2);
    assert.equal(s.queries.length, 0);
  });

  test('all fail: one line naming each server', async () => {
    const dead = await deadServer();
    const silent = await fake(() => null);
    await rejectsWith(
      client([dead, silent.server]).query('a.test', 'A'),
      'unavailable',
      'E_DNS_UNREACHABLE',
      new RegExp(
        `^No usable answer for a\\.test/A from 2 servers: Cannot reach 127\\.0\\.0\\.1:${dead.port} ` +
          `over UDP for a\\.test/A: connection refused; No answer from 127\\.0\\.0\\.1:${silent.port}`,
      ),
    );
  });
});

describe('spoofed-looking answers are ignored and waited past', () => {
  test('wrong ID first, then the right answer: accepted', async () => {
    const s = await fake((q) => [withId(answerA(q, '203.0.113.66'), q.id + 1), answerA(q)]);
    const a = await client([s.server]).query('a.test', 'A');
    assert.equal(decodeRdata('A', a.message.buf, a.message.answers[0]!), '192.0.2.1');
  });

  test('only wrong IDs: a timeout that says what it ignored', async () => {
    const s = await fake((q) => [withId(answerA(q), q.id ^ 1), withId(answerA(q), q.id ^ 2)]);
    await rejectsWith(
      client([s.server]).query('a.test', 'A'),
      'unavailable',
      'E_DNS_TIMEOUT',
      /within 250 ms \(ignored 2 answers with a wrong ID\)$/,
    );
  });

  test('wrong question first, then the right answer: accepted', async () => {
    const s = await fake((q) => [
      response(q, { question: { name: 'evil.test', type: 'A' } }),
      { delayMs: 20, reply: answerA(q) },
    ]);
    const a = await client([s.server]).query('a.test', 'A');
    assert.equal(a.message.answers.length, 1);
  });

  test('only a wrong question: E_DNS_MISMATCH once the wait is over', async () => {
    const s = await fake((q) => response(q, { question: { name: q.name, type: 'AAAA' } }));
    await rejectsWith(
      client([s.server]).query('mx.example.test', 'TLSA'),
      'protocol',
      'E_DNS_MISMATCH',
      new RegExp(
        `^Answer from 127\\.0\\.0\\.1:${s.port} for mx\\.example\\.test/TLSA is for another question ` +
          `\\(mx\\.example\\.test type 28 class 1\\)$`,
      ),
    );
  });

  test('a query echoed back (QR=0) is not an answer', async () => {
    const s = await fake((q) => q.raw);
    await rejectsWith(
      client([s.server]).query('a.test', 'A'),
      'protocol',
      'E_DNS_MISMATCH',
      /is a query/,
    );
  });

  test('a spoofed answer from another port never counts; the real one does', async () => {
    const spoofer = dgram.createSocket('udp4');
    await new Promise<void>((ok) => spoofer.bind(0, '127.0.0.1', ok));
    try {
      const s = await fake((q) => {
        spoofer.send(answerA(q, '203.0.113.66'), q.port, '127.0.0.1');
        return { delayMs: 30, reply: answerA(q) };
      });
      const a = await client([s.server]).query('a.test', 'A');
      assert.equal(decodeRdata('A', a.message.buf, a.message.answers[0]!), '192.0.2.1');
    } finally {
      spoofer.close();
    }
  });

  test('datagrams too short to hold an ID are noise', async () => {
    const s = await fake((q) => [Buffer.from([1]), Buffer.alloc(0), answerA(q)]);
    assert.equal((await client([s.server]).query('a.test', 'A')).message.answers.length, 1);
  });
});

describe('hostile answers with the right ID give one clear DkError', () => {
  const malformedFrom = (s: FakeDnsServer, what: string, detail: RegExp): RegExp =>
    new RegExp(
      `^Answer from 127\\.0\\.0\\.1:${s.port} for ${what.replace(/\./g, '\\.')} is malformed: ${detail.source}`,
    );

  test('compression loop', async () => {
    // The answer's owner name is a pointer to itself.
    const s = await fake((q) => {
      const body = questionBytes(q);
      const at = 12 + body.length;
      return hostile(q, [
        ...body,
        0xc0 | (at >> 8),
        at & 0xff,
        0,
        1,
        0,
        1,
        0,
        0,
        0,
        60,
        0,
        4,
        1,
        2,
        3,
        4,
      ]);
    });
    const e = await rejectsWith(
      client([s.server], { tries: 2 }).query('mx.example.test', 'TLSA'),
      'protocol',
      'E_DNS_MALFORMED',
      malformedFrom(
        s,
        'mx.example.test/TLSA',
        /compression pointer at offset \d+ points forward .*loop/,
      ),
    );
    assert.equal(s.queries.length, 1, 'a broken answer is not worth a second try');
    assert.ok(typeof e.message === 'string');
  });

  test('pointer past the end', async () => {
    const s = await fake((q) =>
      hostile(q, [...questionBytes(q), 0xc3, 0xff, 0, 1, 0, 1, 0, 0, 0, 60, 0, 0]),
    );
    await rejectsWith(
      client([s.server]).query('a.test', 'A'),
      'protocol',
      'E_DNS_MALFORMED',
      malformedFrom(s, 'a.test/A', /compression pointer at offset \d+ points forward to 1023/),
    );
  });

  test('truncated packet (cut inside a record, TC=0)', async () => {
    // Cut two bytes into the A record's address, leaving the OPT record out too.
    const s = await fake((q) => answerA(q).subarray(0, answerA(q).length - 13));
    await rejectsWith(
      client([s.server]).query('a.test', 'A'),
      'protocol',
      'E_DNS_MALFORMED',
      malformedFrom(
        s,
        'a.test/A',
        /answer record 1: RDLENGTH 4 at offset \d+ runs past the end of the message/,
      ),
    );
  });

  test('garbage after a matching ID', async () => {
    const s = await fake((q) => withId(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), q.id));
    await rejectsWith(
      client([s.server]).query('a.test', 'A'),
      'protocol',
      'E_DNS_MALFORMED',
      /is malformed: /,
    );
  });

  test('a header that claims 65535 records in 40 bytes', async () => {
    const s = await fake((q) => hostile(q, questionBytes(q), [1, 65535, 65535, 65535]));
    await rejectsWith(
      client([s.server]).query('a.test', 'A'),
      'protocol',
      'E_DNS_MALFORMED',
      /announces 1 questions and 196605 records/,
    );
  });

  test('a UDP answer over the size limit', async () => {
    const s = await fake((q) => Buffer.concat([answerA(q), Buffer.alloc(3000)]));
    await rejectsWith(
      client([s.server], { maxResponseBytes: 2048 }).query('a.test', 'A'),
      'protocol',
      'E_DNS_TOO_LARGE',
      /is 30\d\d bytes, more than the limit of 2048/,
    );
  });

  test('TCP: a length prefix over the limit', async () => {
    const s = await fake(() => ({ stream: Buffer.from([0xff, 0xff, 1, 2, 3]) }));
    await rejectsWith(
      client([s.server], { tcpOnly: true, maxResponseBytes: 4096 }).query('a.test', 'A'),
      'protocol',
      'E_DNS_TOO_LARGE',
      /over TCP announces 65535 bytes, more than the limit of 4096/,
    );
  });

  test('TCP: a length prefix that promises more than ever comes (the deadline holds)', async () => {
    const s = await fake(() => ({ stream: Buffer.from([0xff, 0xff, 1, 2, 3]) }));
    const t = Date.now();
    await rejectsWith(
      client([s.server], { tcpOnly: true }).query('a.test', 'A'),
      'unavailable',
      'E_DNS_TIMEOUT',
      /over TCP for a\.test\/A within 250 ms \(5 of 65537 bytes received\)/,
    );
    assert.ok(Date.now() - t < 1000);
  });

  test('TCP: the server closes the connection mid-message', async () => {
    const s = await fake((q) => {
      const full = answerA(q);
      const framed = Buffer.concat([Buffer.from([full.length >> 8, full.length & 0xff]), full]);
      return { stream: framed.subarray(0, 20), close: true };
    });
    await rejectsWith(
      client([s.server], { tcpOnly: true }).query('a.test', 'A'),
      'protocol',
      'E_DNS_MALFORMED',
      /over TCP was cut short: the connection closed after 20 of \d+ bytes/,
    );
  });

  test('TCP: a wrong ID is an error, not noise (one query per connection)', async () => {
    const s = await fake((q) => withId(answerA(q), q.id + 1));
    await rejectsWith(
      client([s.server], { tcpOnly: true }).query('a.test', 'A'),
      'protocol',
      'E_DNS_MISMATCH',
      /over TCP has ID \d+, not \d+/,
    );
  });

  test('TCP: TC=1 even over TCP', async () => {
    const s = await fake((q) => response(q, { tc: true }));
    await rejectsWith(
      client([s.server]).query('a.test', 'A'),
      'protocol',
      'E_DNS_TRUNCATED',
      /TC=1/,
    );
    assert.deepEqual(
      s.queries.map((q) => q.transport),
      ['udp', 'tcp'],
    );
  });

  test('a hostile first server does not stop a good second one', async () => {
    const bad = await fake((q) => withId(Buffer.from('garbage garbage'), q.id));
    const good = await fake((q) => answerA(q));
    const a = await client([bad.server, good.server]).query('a.test', 'A');
    assert.equal(a.server.port, good.port);
  });
});
