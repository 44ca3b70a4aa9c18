/**
 * checkPropagation over real sockets against scripted servers (FakeDnsServer), with the
 * resolver as plain data (StaticResolver). Addresses from the documentation range are mapped
 * to the fake servers' local ports with `serverFor`. What the lab cannot easily stage is here:
 * a name only in the parent's delegation, glue that disagrees with the server's own address,
 * an answer without AA, and a server that only answers over TCP.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerAddress } from '../io/dns/config.js';
import { fakeServerPool, response, type FakeQuery } from '../io/dns/fake-server.js';
import { StaticResolver } from '../io/dns/static-resolver.js';
import { parseTlsa } from '../core/tlsa/parse.js';
import {
  checkPropagation,
  confirmationWait,
  serialOlder,
  type PropagationReport,
} from './propagation.js';

const startServer = fakeServerPool();
const OWNER = '_25._tcp.mail.example.test';
const NEW = `3 1 1 ${'bb'.repeat(32)}`;
const OLD = `3 1 1 ${'aa'.repeat(32)}`;

const tlsa = (q: FakeQuery, rdata: string) => {
  const [u, s, m, hex] = rdata.split(' ');
  return {
    name: q.name,
    type: 'TLSA' as const,
    ttl: 600,
    data: {
      usage: Number(u),
      selector: Number(s),
      matchingType: Number(m),
      certificate: Buffer.from(hex!, 'hex'),
    },
  };
};

const soa = (serial: number) => ({
  name: 'example.test',
  type: 'SOA' as const,
  ttl: 300,
  data: {
    mname: 'ns1.example.test',
    rname: 'hostmaster.example.test',
    serial,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 60,
  },
});

/** An authoritative server for example.test serving `set` at OWNER and `serial`. */
function zoneServer(set: string[], serial: number, o: { aa?: boolean; udp?: boolean } = {}) {
  return (q: FakeQuery) => {
    if (o.udp === false && q.transport === 'udp') return null;
    const aa = o.aa ?? true;
    if (q.type === 'SOA') return response(q, { aa, answers: [soa(serial)] });
    if (q.type === 'TLSA' && q.name === OWNER)
      return response(q, { aa, answers: set.map((r) => tlsa(q, r)) });
    return response(q, { aa, authorities: [soa(serial)] });
  };
}

describe('checkPropagation (fake servers)', () => {
  it('unions NS RRset and delegation, compares glue, and judges each server', async () => {
    const parent = await startServer((q) =>
      response(q, {
        // RFC 1034 §4.3.2: a referral, no AA, NS in the authority section, glue in additional
        authorities: [
          { name: 'example.test', type: 'NS', ttl: 3600, data: 'ns1.example.test' },
          { name: 'example.test', type: 'NS', ttl: 3600, data: 'ns3.example.test' },
        ],
        additionals: [
          { name: 'ns1.example.test', type: 'A', ttl: 3600, data: '192.0.2.1' },
          { name: 'ns3.example.test', type: 'A', ttl: 3600, data: '192.0.2.33' },
          // out of bailiwick for example.test: must be ignored
          { name: 'evil.other.test', type: 'A', ttl: 3600, data: '192.0.2.66' },
        ],
      }),
    );
    const s1 = await startServer(zoneServer([NEW], 7));
    const s2 = await startServer(zoneServer([NEW], 7, { aa: false }));
    const s3 = await startServer(zoneServer([OLD], 6, { udp: false }));
    const s3glue = await startServer(zoneServer([NEW], 7));
    const map: Record<string, ServerAddress> = {
      '192.0.2.53': parent.server,
      '192.0.2.1': s1.server,
      '192.0.2.2': s2.server,
      '192.0.2.3': s3.server,
      '192.0.2.33': s3glue.server,
    };
    const resolver = new StaticResolver({
      'test/NS': { records: ['ns1.test'] },
      'ns1.test/A': { records: ['192.0.2.53'] },
      'example.test/NS': { records: ['ns1.example.test', 'ns2.example.test'] },
      'example.test/SOA': { records: [soa(7).data] },
      'ns1.example.test/A': { records: ['192.0.2.1'] },
      'ns2.example.test/A': { records: ['192.0.2.2'] },
      'ns3.example.test/A': { records: ['192.0.2.3'] },
    });
    const r = await checkPropagation({
      zone: 'example.test',
      owner: OWNER + '.',
      expected: [parseTlsa(NEW)],
      resolver,
      timeoutMs: 200,
      tries: 1,
      serverFor: (a) => {
        const s = map[a];
        if (!s) throw new Error(`unexpected address ${a}`);
        return s;
      },
      now: () => new Date('2026-01-01T00:00:00Z'),
    });
    const view = r.servers
      .map((s) => [s.name, s.address, s.source, s.state, s.transport, s.addressFrom.join('+')])
      .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
    assert.deepEqual(view, [
      ['ns1.example.test', '192.0.2.1', 'both', 'in-step', 'udp', 'glue+resolver'],
      ['ns2.example.test', '192.0.2.2', 'ns-rrset', 'lame', 'udp', 'resolver'],
      // UDP never answered: the TCP fallback did, with the old set
      ['ns3.example.test', '192.0.2.3', 'parent', 'old', 'tcp', 'resolver'],
      ['ns3.example.test', '192.0.2.33', 'parent', 'in-step', 'udp', 'glue'],
    ]);
    assert.equal(r.allInStep, false);
    assert.deepEqual(r.onlyInZone, ['ns2.example.test']);
    assert.deepEqual(r.onlyInParent, ['ns3.example.test']);
    assert.equal(r.checkedAt, '2026-01-01T00:00:00.000Z');
    const old = r.servers.find((s) => s.address === '192.0.2.3')!;
    assert.deepEqual(old.missing, [NEW]);
    assert.deepEqual(old.extra, [OLD]);
    assert.equal(old.serial, 6);
    // expected given by the caller, so no primary was asked: the newest serial any server
    // serves (7) is the reference (RFC 1982), and 6 is behind it
    assert.equal(r.expectedFrom, 'published');
    assert.deepEqual(r.serialReference, { serial: 7, from: 'newest-served' });
    assert.equal(old.serialBehind, true);
    assert.equal(
      old.why,
      `127.0.0.1:${s3.server.port} serves an older TLSA RRset: 1 expected record missing, 1 other record served, serial 6 behind the newest served, 7`,
    );
    assert.equal(r.servers.find((s) => s.address === '192.0.2.1')!.serialBehind, false);
    // the lame server gave no authoritative SOA: unknown, not "in step"
    assert.equal(r.servers.find((s) => s.address === '192.0.2.2')!.serialBehind, null);
    assert.equal(r.maxTtl, 600);
    assert.deepEqual(r.findings.map((f) => `${f.code} ${f.subject}`).sort(), [
      'glue-mismatch ns3.example.test',
      'ns-only-in-parent ns3.example.test',
      'ns-only-in-zone ns2.example.test',
      'serial-behind ns3.example.test (192.0.2.3)',
      'server-lame ns2.example.test (192.0.2.2)',
    ]);
    // every zone server was asked with RD=0
    for (const s of [s1, s2, s3, s3glue, parent]) assert.ok(s.queries.every((q) => !q.rd));
  });

  it('takes the expected set from the SOA MNAME and flags serials behind it', async () => {
    const primary = await startServer(zoneServer([NEW, OLD], 9));
    const lagging = await startServer(zoneServer([OLD], 8));
    const parent = await startServer((q) =>
      response(q, {
        authorities: [
          { name: 'example.test', type: 'NS', ttl: 3600, data: 'ns1.example.test' },
          { name: 'example.test', type: 'NS', ttl: 3600, data: 'ns2.example.test' },
        ],
      }),
    );
    const map: Record<string, ServerAddress> = {
      '192.0.2.53': parent.server,
      '192.0.2.1': primary.server,
      '192.0.2.2': lagging.server,
    };
    const resolver = new StaticResolver({
      'test/NS': { records: ['ns1.test'] },
      'ns1.test/A': { records: ['192.0.2.53'] },
      'example.test/NS': { records: ['ns1.example.test', 'ns2.example.test'] },
      'example.test/SOA': { records: [soa(9).data] },
      'ns1.example.test/A': { records: ['192.0.2.1'] },
      'ns2.example.test/A': { records: ['192.0.2.2'] },
    });
    const r = await checkPropagation({
      zone: 'example.test',
      owner: OWNER,
      resolver,
      timeoutMs: 200,
      tries: 1,
      serverFor: (a) => map[a]!,
    });
    assert.equal(r.expectedFrom, 'primary');
    assert.deepEqual(r.primary, { name: 'ns1.example.test', address: '192.0.2.1', serial: 9 });
    assert.deepEqual([...r.expected].sort(), [OLD, NEW].sort());
    const lag = r.servers.find((s) => s.address === '192.0.2.2')!;
    assert.equal(lag.state, 'old');
    assert.equal(lag.serialBehind, true);
    assert.deepEqual(lag.missing, [NEW]);
    assert.ok(r.findings.some((f) => f.code === 'serial-behind'));
  });

  it('refuses an owner outside the zone', async () => {
    await assert.rejects(
      checkPropagation({
        zone: 'example.test',
        owner: '_25._tcp.mail.other.test',
        expected: [],
        resolver: new StaticResolver({}),
      }),
      { code: 'E_PROPAGATION_OWNER', kind: 'usage' },
    );
  });

  it('names where the expected set came from: published, --expect, or the primary', async () => {
    const s1 = await startServer(zoneServer([NEW], 3));
    const resolver = new StaticResolver({
      'test/NS': { records: ['ns1.test'] },
      'ns1.test/A': { records: ['192.0.2.53'] },
      'example.test/NS': { records: ['ns1.example.test'] },
      'ns1.example.test/A': { records: ['192.0.2.1'] },
    });
    const parent = await startServer((q) =>
      response(q, {
        authorities: [{ name: 'example.test', type: 'NS', ttl: 3600, data: 'ns1.example.test' }],
      }),
    );
    const map: Record<string, ServerAddress> = {
      '192.0.2.53': parent.server,
      '192.0.2.1': s1.server,
    };
    const base = {
      zone: 'example.test',
      owner: OWNER,
      expected: [parseTlsa(NEW)],
      resolver,
      timeoutMs: 200,
      tries: 1,
      serverFor: (a: string) => map[a]!,
    };
    const flag = await checkPropagation({ ...base, expectedFrom: 'expect-flag' });
    assert.equal(flag.expectedFrom, 'expect-flag');
    assert.equal(flag.allInStep, true);
    assert.deepEqual(flag.serialReference, { serial: 3, from: 'newest-served' });
    assert.equal(flag.servers[0]!.serialBehind, false);
    assert.equal((await checkPropagation(base)).expectedFrom, 'published');
  });

  it('confirmation wait: the longer of the interval and 2 x TTL, from the moment all are in step', () => {
    const report = (o: Partial<PropagationReport>) =>
      ({
        allInStep: true,
        expected: [NEW],
        maxTtl: 300,
        checkedAt: '2026-01-01T00:00:00.000Z',
        ...o,
      }) as PropagationReport;
    assert.deepEqual(confirmationWait(report({}), 24 * 3600), {
      from: '2026-01-01T00:00:00.000Z',
      until: '2026-01-02T00:00:00.000Z',
      seconds: 86400,
      intervalSeconds: 86400,
      twiceTtlSeconds: 600,
      boundBy: 'interval',
    });
    // a short interval (decimal hours) never cuts the wait below 2 x TTL
    const short = confirmationWait(report({}), 0.001 * 3600)!;
    assert.equal(short.seconds, 600);
    assert.equal(short.intervalSeconds, 4);
    assert.equal(short.boundBy, 'ttl');
    assert.equal(short.until, '2026-01-01T00:10:00.000Z');
    // nothing to confirm: a server lags, or the set is a removal
    assert.equal(confirmationWait(report({ allInStep: false }), 3600), null);
    assert.equal(confirmationWait(report({ expected: [], maxTtl: null }), 3600), null);
  });

  it('compares serials in RFC 1982 arithmetic', () => {
    assert.equal(serialOlder(1, 2), true);
    assert.equal(serialOlder(2, 2), false);
    assert.equal(serialOlder(2 ** 32 - 1, 0), true);
    assert.equal(serialOlder(0, 2 ** 32 - 1), false);
  });
});
