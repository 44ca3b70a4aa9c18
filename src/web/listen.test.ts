import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Hono } from 'hono';
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
