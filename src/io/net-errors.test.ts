import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { netErrorCode, netErrorReason } from './net-errors.js';

test('a refused connection, from net, from a fetch cause and from happy eyeballs, reads the same', async () => {
  const refused = await new Promise<Error>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: 1 });
    s.on('error', resolve);
  });
  assert.equal(netErrorReason(refused), 'connection refused');
  const viaFetch = new TypeError('fetch failed', { cause: refused });
  assert.equal(netErrorCode(viaFetch), 'ECONNREFUSED');
  assert.equal(netErrorReason(viaFetch), 'connection refused');
  const eyeballs = Object.assign(new AggregateError([new Error('x'), refused]), {});
  assert.equal(netErrorReason(eyeballs), 'connection refused');
});

test('names that do not resolve, unknown codes and plain errors', () => {
  assert.equal(
    netErrorReason(Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' })),
    'the host name does not resolve',
  );
  assert.equal(netErrorReason(Object.assign(new Error('odd'), { code: 'EWHATEVER' })), 'EWHATEVER');
  assert.equal(netErrorReason(new Error('first line\nsecond')), 'first line');
});
