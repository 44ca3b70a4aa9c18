import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DkError } from '../core/errors.js';
import { postWebhook, SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from './webhook.js';

interface Seen {
  headers: IncomingMessage['headers'];
  body: string;
}
let server: Server;
let url = '';
let seen: Seen[] = [];
let answers: number[] = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = answers.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=abc`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const noSleep = { sleep: async () => {} };

describe('webhook', () => {
  it('signs the raw body with HMAC-SHA256 and sends a timestamp', async () => {
    seen = [];
    answers = [204];
    const body = JSON.stringify({ version: 1, notices: [{ domain: 'a.test' }] });
    const r = await postWebhook(body, {
      url,
      secret: 's3cret',
      now: () => new Date(1_800_000_000_000),
      ...noSleep,
    });
    assert.equal(r.attempts, 1);
    const got = seen[0]!;
    assert.equal(got.body, body);
    assert.equal(got.headers[TIMESTAMP_HEADER.toLowerCase()], '1800000000');
    const sig = String(got.headers[SIGNATURE_HEADER.toLowerCase()]);
    const want = `sha256=${createHmac('sha256', 's3cret').update(got.body).digest('hex')}`;
    assert.ok(timingSafeEqual(Buffer.from(sig), Buffer.from(want)));
    assert.equal(signBody(body, 'other') === sig, false);
  });

  it('retries 5xx with backoff, then succeeds', async () => {
    seen = [];
    answers = [500, 503, 200];
    const waits: number[] = [];
    const r = await postWebhook('{}', {
      url,
      backoffMs: 100,
      sleep: async (ms) => void waits.push(ms),
    });
    assert.equal(r.attempts, 3);
    assert.deepEqual(waits, [100, 200]);
    assert.equal(seen.length, 3);
  });

  it('does not retry a 4xx, and the error names no token', async () => {
    seen = [];
    answers = [401, 200];
    await assert.rejects(
      postWebhook('{}', { url, secret: 'topsecret', ...noSleep }),
      (e: unknown) =>
        e instanceof DkError &&
        e.code === 'E_NOTIFY_WEBHOOK_REJECTED' &&
        /HTTP 401/.test(e.message) &&
        !/token|abc|topsecret/.test(e.message),
    );
    assert.equal(seen.length, 1);
  });

  it('retries connection errors and gives up after the attempts', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    let waits = 0;
    await assert.rejects(
      postWebhook('{}', {
        url: `http://127.0.0.1:${port}/`,
        attempts: 3,
        sleep: async () => void waits++,
      }),
      (e: unknown) =>
        e instanceof DkError && e.code === 'E_NOTIFY_WEBHOOK' && /3 times/.test(e.message),
    );
    assert.equal(waits, 2);
  });
});
