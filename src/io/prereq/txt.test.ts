import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fakeServerPool, response } from '../dns/fake-server.js';
import { decodeTxt, lookupTxt } from './txt.js';

const start = fakeServerPool();
const NAME = 'default._domainkey.example.org';

describe('decodeTxt (RFC 1035 §3.3.14)', () => {
  test('character-strings are joined', () => {
    assert.equal(decodeTxt(Buffer.from('\x03abc\x00\x02de', 'latin1')), 'abcde');
  });
  test('a string that runs past the RDATA throws', () => {
    assert.throws(() => decodeTxt(Buffer.from('\x05abc', 'latin1')), /runs past/);
  });
});

describe('lookupTxt', () => {
  test('a secure answer over TCP, the two strings of one RR joined, DO and AD asked', async () => {
    const s = await start((q) =>
      response(q, {
        ad: true,
        answers: [{ name: NAME, type: 'TXT', ttl: 300, data: ['v=DKIM1; k=rsa; ', 'p=AAAA'] }],
      }),
    );
    const r = await lookupTxt([s.server.label], NAME, 2000);
    assert.equal(r.status, 'secure');
    assert.deepEqual(r.values, ['v=DKIM1; k=rsa; p=AAAA']);
    assert.equal(s.queries[0]!.transport, 'tcp');
    assert.equal(s.queries[0]!.type, 'TXT');
    assert.ok(s.queries[0]!.dnssecOk && s.queries[0]!.ad && s.queries[0]!.rd);
  });
  test('NXDOMAIN without AD: insecure, no values', async () => {
    const s = await start((q) => response(q, { rcode: 3 }));
    const r = await lookupTxt([s.server.label], NAME, 2000);
    assert.equal(r.status, 'insecure');
    assert.equal(r.rcode, 'NXDOMAIN');
    assert.deepEqual(r.values, []);
  });
  test('SERVFAIL that CD=1 clears: bogus, with the data for diagnosis', async () => {
    const s = await start((q) =>
      q.cd
        ? response(q, { answers: [{ name: NAME, type: 'TXT', ttl: 300, data: ['p='] }] })
        : response(q, { rcode: 2 }),
    );
    const r = await lookupTxt([s.server.label], NAME, 2000);
    assert.equal(r.status, 'bogus');
    assert.deepEqual(r.values, ['p=']);
    assert.match(r.why!, /DNSSEC validation failed/);
  });
  test('SERVFAIL also with CD=1: indeterminate', async () => {
    const s = await start((q) => response(q, { rcode: 2 }));
    const r = await lookupTxt([s.server.label], NAME, 2000);
    assert.equal(r.status, 'indeterminate');
  });
  test('REFUSED from the first server: the next one is asked', async () => {
    const bad = await start((q) => response(q, { rcode: 5 }));
    const good = await start((q) =>
      response(q, { ad: true, answers: [{ name: NAME, type: 'TXT', ttl: 1, data: 'x' }] }),
    );
    const r = await lookupTxt([bad.server.label, good.server.label], NAME, 2000);
    assert.equal(r.status, 'secure');
    assert.deepEqual(r.values, ['x']);
  });
  test('no server answers: indeterminate with why, never a throw', async () => {
    const s = await start(() => null);
    const r = await lookupTxt([s.server.label], NAME, 300);
    assert.equal(r.status, 'indeterminate');
    assert.equal(r.rcode, null);
    assert.ok(r.why);
  });
});
