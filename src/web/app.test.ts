import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Hono } from 'hono';
import { DkError } from '../core/errors.js';
import { daemonApp } from './app.js';

const view = {
  health: () => ({ ok: true, detail: { domains: 0 } }),
  metrics: () => 'danekeeper_passes_total 1\n',
};

it('mounts the API at /api and the panel at /, next to /healthz and /metrics', async () => {
  const api = new Hono().get('/v1/ping', (c) => c.json({ api: true }));
  const panel = new Hono().get('/login', (c) => c.html('<form></form>'));
  const app = daemonApp(view, { api, panel });
  assert.deepEqual(await (await app.request('/api/v1/ping')).json(), { api: true });
  assert.equal(await (await app.request('/login')).text(), '<form></form>');
  assert.equal((await app.request('/healthz')).status, 200);
  assert.match(await (await app.request('/metrics')).text(), /passes_total 1/);
  const none = await app.request('/nothing');
  assert.equal(none.status, 404);
  assert.deepEqual(await none.json(), { error: { code: 'E_NOT_FOUND', message: 'No such page' } });
});

it('a DkError from a page answers the 4xx of its kind; anything else is logged and a generic 500', async () => {
  const logged: string[] = [];
  const panel = new Hono()
    .get('/dk', () => {
      throw new DkError('unavailable', 'E_TEST_DOWN', 'The backend is down');
    })
    .get('/bug', () => {
      throw new Error('token=s3cret in a library message');
    });
  const app = daemonApp(view, {
    panel,
    logger: { error: (d, m) => void logged.push(`${m} ${JSON.stringify(d)}`) },
  });
  const dk = await app.request('/dk');
  assert.equal(dk.status, 424);
  assert.deepEqual(await dk.json(), {
    error: { code: 'E_TEST_DOWN', message: 'The backend is down' },
  });
  assert.equal(logged.length, 0);
  const bug = await app.request('/bug');
  assert.equal(bug.status, 500);
  const text = await bug.text();
  assert.deepEqual(JSON.parse(text), {
    error: { code: 'E_INTERNAL', message: 'Internal error: see the server log' },
  });
  assert.ok(!text.includes('s3cret'), 'the client learns nothing of the bug');
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /^GET \/bug failed/);
});
