import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { it } from 'node:test';
import { Hono } from 'hono';
import { issue, tempDir } from '../../test/support/pki.js';
import { listen } from './listen.js';

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
