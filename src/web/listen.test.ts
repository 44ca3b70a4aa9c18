import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { it } from 'node:test';
import { Hono } from 'hono';
import { issue, tempDir } from '../../test/support/pki.js';
import { listen, socketAddress } from './listen.js';

it('listens on a port, says where, and refuses a port in use with one line', async () => {
  const app = new Hono().get('/', (c) => c.text('hi'));
  const a = await listen(app, '127.0.0.1', 0);
  try {
    assert.match(a.address, /^127\.0\.0\.1:[0-9]+$/);
    assert.equal(await (await fetch(`http://${a.address}/`)).text(), 'hi');
    const port = Number(a.address.split(':')[1]);
    await assert.rejects(listen(app, '127.0.0.1', port), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_SERVE_LISTEN');
      assert.equal(e.message, `Cannot listen on 127.0.0.1:${port}: the address is in use`);
      return true;
    });
  } finally {
    await a.close();
  }
});

it('serves HTTPS with --tls-cert/--tls-key', async () => {
  const dir = tempDir('dk-listen-');
  try {
    const ca = issue(dir, 'ca', { cn: 'listen test CA', ca: true });
    const leaf = issue(dir, 'leaf', { cn: 'localhost', dnsNames: ['localhost'] }, ca);
    const app = new Hono().get('/healthz', (c) => c.json({ status: 'ok' }));
    const a = await listen(app, '127.0.0.1', 0, {
      cert: readFileSync(leaf.certFile, 'utf8'),
      key: readFileSync(leaf.keyFile, 'utf8'),
    });
    try {
      const port = Number(a.address.split(':')[1]);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsGet(
          { host: '127.0.0.1', port, path: '/healthz', servername: 'localhost', ca: ca.certPem },
          (res) => {
            let s = '';
            res.setEncoding('utf8').on('data', (d: string) => (s += d));
            res.on('end', () => resolve(s));
          },
        );
        req.on('error', reject);
      });
      assert.equal(body, '{"status":"ok"}');
    } finally {
      await a.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('close() lets a request in flight finish and be answered, closes idle keep-alive connections at once, cuts the rest after the grace', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const app = new Hono()
    .get('/slow', async (c) => {
      await gate;
      return c.text('done');
    })
    .get('/who', (c) => c.text(socketAddress(c)))
    .get('/hang', () => new Promise<Response>(() => {}));
  const a = await listen(app, '127.0.0.1', 0);
  // a keep-alive connection that is idle now (a scraper's)
  assert.equal(await (await fetch(`http://${a.address}/who`)).text(), '127.0.0.1');
  const slow = fetch(`http://${a.address}/slow`);
  await new Promise((r) => setTimeout(r, 100));
  let closed = false;
  const closing = a.close().then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(closed, false, 'waits for the request in flight');
  release();
  const res = await slow;
  assert.equal(await res.text(), 'done');
  await closing;

  // a request that never ends is cut after the grace
  const b = await listen(app, '127.0.0.1', 0);
  const hung = fetch(`http://${b.address}/hang`).then(
    () => 'answered',
    () => 'cut',
  );
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  await b.close(300);
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(await hung, 'cut');
});

it('socketAddress without a socket (app.request in tests) is unknown', async () => {
  const app = new Hono().get('/', (c) => c.text(socketAddress(c)));
  assert.equal(await (await app.request('/')).text(), 'unknown');
});
