/**
 * `check --file`: what is refused before any network step (the bulk run itself is proven in
 * the lab, test/lab/check-bulk.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../../test/support/pki.js';
import { isDkError } from '../core/errors.js';
import { fakeServerPool, response } from '../io/dns/fake-server.js';
import { lineBatcher, runCheck, type BulkIo } from './check.js';
import type { Io } from './io.js';

const io: Io = { out: () => {}, err: () => {}, verbose: () => {}, withVerbose: () => io };
const bulkIo: BulkIo = {
  readStdin: () => Promise.resolve(''),
  stderrIsTTY: false,
  writeErrRaw: () => {},
  onInterrupt: () => () => {},
};
const now = () => new Date();
const fake = fakeServerPool();

type Opts = Partial<Parameters<typeof runCheck>[1]>;

async function refused(args: Opts, domain?: string) {
  try {
    await runCheck(domain, { resolver: [], days: '14', ...args }, io, now, bulkIo);
  } catch (e) {
    assert.ok(isDkError(e));
    return e;
  }
  assert.fail('not refused');
}

test('--file with a DOMAIN or --host, or with options of a single service, is a usage error', async () => {
  assert.match((await refused({ file: 'x' }, 'a.example')).message, /either --file LIST or DOMAIN/);
  assert.match((await refused({ file: 'x', host: 'mx.example' })).message, /not both/);
  const e = await refused({ file: 'x', port: '465' });
  assert.equal(e.kind, 'usage');
  assert.match(e.message, /--port, --starttls and --trust-store do not apply/);
  assert.match(
    (await refused({ concurrency: '4' }, 'a.example')).message,
    /--concurrency goes with --file/,
  );
});

test('--concurrency and --timeout are checked; an unreadable list is "no input" (66)', async () => {
  assert.match(
    (await refused({ file: '-', concurrency: '0' })).message,
    /--concurrency "0" must be a number from 1 to 1024/,
  );
  assert.match((await refused({ file: '-', timeout: 'x' })).message, /--timeout "x"/);
  const missing = join(tempDir(), 'none.txt');
  const e = await refused({ file: missing });
  assert.equal(e.kind, 'noinput');
  assert.equal(e.message, `Cannot read ${missing}: no such file`);
});

test('the bulk run asks the resolver over one pipelined TCP connection and says so in the summary', async () => {
  // every name is NXDOMAIN, signed: each domain is `failed` without a probe
  const s = await fake((q) => response(q, { rcode: 3, ad: true }));
  const out: string[] = [];
  const err: string[] = [];
  const cap: Io = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    verbose: () => {},
    withVerbose: () => cap,
  };
  const code = await runCheck(
    undefined,
    { file: '-', resolver: [`127.0.0.1:${s.port}`], days: '14' },
    cap,
    now,
    { ...bulkIo, readStdin: () => Promise.resolve('a.example\nb.example\n# c.example\n') },
  );
  const lines = out
    .join('\n')
    .split('\n')
    .map((l) => JSON.parse(l) as { domain: string; verdict: string });
  assert.deepEqual(lines.map((l) => [l.domain, l.verdict]).sort(), [
    ['a.example', 'failed'],
    ['b.example', 'failed'],
  ]);
  assert.equal(code, 2);
  const mx = s.queries.filter((q) => q.type === 'MX');
  assert.equal(mx.length, 2);
  assert.ok(
    s.queries.every((q) => q.transport === 'tcp'),
    'no UDP query',
  );
  assert.equal(new Set(s.queries.map((q) => q.port)).size, 1, 'one connection');
  assert.match(err.join('\n'), /over 1 pipelined TCP connection\)/);
});

test('lines go out in batches: at most 20 ms late, at most 256 a write, the rest on flush', async () => {
  const writes: string[] = [];
  const b = lineBatcher((t) => writes.push(t));
  // lines finished in different turns of the event loop, within the wait: one write
  b.push('{"a":1}');
  await new Promise((r) => setImmediate(r));
  b.push('{"b":2}');
  assert.equal(writes.length, 0);
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(writes, ['{"a":1}\n{"b":2}']);
  // a full batch goes at once
  for (let i = 0; i < 256; i++) b.push(`{"i":${i}}`);
  assert.equal(writes.length, 2);
  assert.equal(writes[1]!.split('\n').length, 256);
  // flush writes what is left and stops the timer (nothing is written twice)
  b.push('{"z":0}');
  b.flush();
  b.flush();
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(writes.slice(2), ['{"z":0}']);
});
