import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DkError } from '../core/errors.js';
import type { ChallengeItem, ChallengeSolver } from '../io/acme/solver.js';
import { StaticResolver } from '../io/dns/static-resolver.js';
import type { Dns01Options } from '../publish/acme-dns01.js';
import type { Publisher } from '../publish/types.js';
import { ZonedDns01Solver } from './dns01-zones.js';

const item = (name: string): ChallengeItem => ({
  name,
  token: `t-${name}`,
  keyAuthorization: `k-${name}`,
});

const pub = (zone: string): Publisher => ({
  backend: 'rfc2136',
  zone,
  describe: `backend of ${zone}`,
  read: (owner) => Promise.resolve({ owner, ttl: null, records: [] }),
  apply: () => Promise.resolve(),
  defaultTtl: () => Promise.resolve(300),
});

/** Per-zone solvers that log what they were asked. */
function recorder(fail: { prepare?: string; cleanup?: string } = {}) {
  const log: string[] = [];
  const solver = (o: Dns01Options): ChallengeSolver => ({
    type: 'dns-01',
    prepare: (its) => {
      log.push(`prepare ${o.publisher.zone} ${its.map((i) => i.name).join(' ')}`);
      return fail.prepare === o.publisher.zone
        ? Promise.reject(
            new DkError('tempfail', 'E_ACME_DNS01_PROPAGATION', `slow ${o.publisher.zone}`),
          )
        : Promise.resolve();
    },
    cleanup: () => {
      log.push(`cleanup ${o.publisher.zone}`);
      return fail.cleanup === o.publisher.zone
        ? Promise.reject(new DkError('tempfail', 'E_PUBLISH', `down ${o.publisher.zone}`))
        : Promise.resolve();
    },
  });
  return { log, solver };
}

// mail.example.org is delegated; www.example.org is in example.org
const zoneOf = (owner: string) =>
  Promise.resolve(owner.endsWith('mail.example.org.') ? 'mail.example.org.' : 'example.org.');

test('each name’s value goes to the zone that holds its owner, one solver per zone, all cleaned up', async () => {
  const r = recorder();
  const s = new ZonedDns01Solver({
    publisher: pub,
    resolver: new StaticResolver({}),
    zoneOf,
    solver: r.solver,
  });
  await s.prepare([item('example.org'), item('mail.example.org'), item('www.example.org')]);
  assert.deepEqual(r.log.sort(), [
    'prepare example.org. example.org www.example.org',
    'prepare mail.example.org. mail.example.org',
  ]);
  r.log.length = 0;
  await s.cleanup();
  assert.deepEqual(r.log.sort(), ['cleanup example.org.', 'cleanup mail.example.org.']);
  r.log.length = 0;
  await s.cleanup();
  assert.deepEqual(r.log, [], 'cleanup is idempotent');
});

test('a zone the backend does not serve is refused before anything is published, naming owner and zone', async () => {
  const r = recorder();
  const s = new ZonedDns01Solver({
    publisher: () => pub('example.org.'),
    resolver: new StaticResolver({}),
    zoneOf,
    solver: r.solver,
  });
  await assert.rejects(s.prepare([item('example.org'), item('mail.example.org')]), (e: DkError) => {
    assert.equal(e.code, 'E_DAEMON_ZONE');
    assert.match(
      e.message,
      /_acme-challenge\.mail\.example\.org\. is in the zone mail\.example\.org\. .* serves example\.org\./,
    );
    return true;
  });
  const none = new ZonedDns01Solver({
    publisher: () => null,
    resolver: new StaticResolver({}),
    zoneOf,
    solver: r.solver,
  });
  await assert.rejects(none.prepare([item('example.org')]), { code: 'E_DAEMON_NO_BACKEND' });
  assert.deepEqual(r.log, []);
});

test('one zone failing fails prepare; cleanup still reaches every zone, and retries only the one that failed', async () => {
  const r = recorder({ prepare: 'mail.example.org.', cleanup: 'example.org.' });
  const s = new ZonedDns01Solver({
    publisher: pub,
    resolver: new StaticResolver({}),
    zoneOf,
    solver: r.solver,
  });
  await assert.rejects(s.prepare([item('example.org'), item('mail.example.org')]), /slow mail/);
  r.log.length = 0;
  await assert.rejects(s.cleanup(), /down example\.org/);
  assert.deepEqual(r.log.sort(), ['cleanup example.org.', 'cleanup mail.example.org.']);
  r.log.length = 0;
  await assert.rejects(s.cleanup(), /down example\.org/);
  assert.deepEqual(r.log, ['cleanup example.org.']);
});

test('by default the zone comes from the SOA walk, a provably unsigned zone taken', async () => {
  const SOA = {
    mname: 'ns1.example.org',
    rname: 'hostmaster.example.org',
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 300,
  };
  const resolver = new StaticResolver(
    {
      'example.org/SOA': { records: [SOA], status: 'insecure' },
      'mail.example.org/SOA': { records: [SOA], status: 'insecure' },
    },
    { missing: 'insecure' },
  );
  const r = recorder();
  await new ZonedDns01Solver({ publisher: pub, resolver, solver: r.solver }).prepare([
    item('example.org'),
    item('mail.example.org'),
  ]);
  assert.deepEqual(r.log.sort(), [
    'prepare example.org. example.org',
    'prepare mail.example.org. mail.example.org',
  ]);
});
