import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DkError } from '../../core/errors.js';
import type { BackendObservation, DnssecObservation } from '../../core/prereq/types.js';
import { StaticResolver, type StaticEntry } from '../dns/static-resolver.js';
import type { ProbeOptions, ProbeResult } from '../probe/types.js';
import {
  canonicalAddress,
  DEFAULT_DKIM_SELECTORS,
  gatherPrereq,
  type GatherDeps,
} from './gather.js';
import type { TxtLookup } from './txt.js';

const SOA = {
  mname: 'ns1.example.org',
  rname: 'h.example.org',
  serial: 1,
  refresh: 1,
  retry: 1,
  expire: 1,
  minimum: 1,
};
const DNSSEC: DnssecObservation = {
  chain: 'secure',
  signing: 'signed',
  ready: true,
  parent: 'org',
  parentDs: [],
  findings: [],
  registrar: [],
  servers: [],
};
const BACKEND: BackendObservation = { state: 'reachable', zone: 'example.org.' };

function world(extra: Record<string, StaticEntry> = {}) {
  const resolver = new StaticResolver({
    'example.org/SOA': { records: [SOA] },
    'example.org/MX': {
      records: [
        { preference: 10, exchange: 'mx1.example.org' },
        { preference: 20, exchange: 'mx2.example.org' },
      ],
    },
    'mx1.example.org/A': { records: ['192.0.2.1'] },
    'mx1.example.org/AAAA': { records: ['2001:db8::1'] },
    'mx2.example.org/A': { records: ['192.0.2.2'] },
    'smtp.example.org/A': { records: ['192.0.2.3'] },
    ...extra,
  });
  const probed: ProbeOptions[] = [];
  const txtAsked: string[] = [];
  const errors: Record<string, DkError> = {
    '2001:db8::1': new DkError(
      'protocol',
      'probe-starttls-refused',
      'mx1 does not offer STARTTLS.',
    ),
    '192.0.2.2': new DkError(
      'unavailable',
      'probe-connect',
      'Connecting failed: connection refused',
    ),
    '192.0.2.3': new DkError('unavailable', 'probe-connect-timeout', 'Connecting timed out'),
  };
  const deps: GatherDeps = {
    resolver,
    probe: async (o: ProbeOptions): Promise<ProbeResult> => {
      probed.push(o);
      const e = errors[o.address!];
      if (e) throw e;
      return { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' } as ProbeResult;
    },
    dnssec: async () => DNSSEC,
    backend: async () => BACKEND,
    interfaces: () => ['198.51.100.1'],
    validating: { validating: false, summary: 'WARNING: not proven' },
    txt: async (name): Promise<TxtLookup> => {
      txtAsked.push(name);
      if (name.startsWith('default.'))
        return { name, status: 'secure', rcode: 'NOERROR', values: ['v=DKIM1; p='] };
      if (name.startsWith('broken.'))
        return { name, status: 'indeterminate', rcode: null, values: [], why: 'timed out' };
      return { name, status: 'secure', rcode: 'NXDOMAIN', values: [] };
    },
  };
  return { deps, probed, txtAsked };
}

describe('gatherPrereq', () => {
  test('every MX address probed on port 25 with smtp; errors mapped by their code', async () => {
    const w = world();
    const o = await gatherPrereq({ domain: 'Example.org.', timeoutMs: 1000 }, w.deps);
    assert.equal(o.domain, 'example.org');
    assert.equal(o.zone, 'example.org');
    assert.equal(o.mailHostFrom, 'mx');
    assert.deepEqual(
      o.mailHosts.map((h) => [h.name, h.preference]),
      [
        ['mx1.example.org', 10],
        ['mx2.example.org', 20],
      ],
    );
    assert.ok(
      w.probed.every((p) => p.port === 25 && p.starttls === 'smtp' && p.connectTimeoutMs === 1000),
    );
    assert.deepEqual(
      o.starttls.map((s) => [s.address, s.outcome]),
      [
        ['192.0.2.1', 'tls'],
        ['2001:db8::1', 'no-starttls'],
        ['192.0.2.2', 'connect-failed'],
      ],
    );
    assert.equal(o.starttls[0]!.detail, 'TLSv1.3 TLS_AES_128_GCM_SHA256');
    assert.equal(
      o.starttls[1]!.detail,
      'mx1 does not offer STARTTLS',
      'the final full stop is the rule text’s',
    );
    assert.deepEqual(o.server, { addresses: ['198.51.100.1'], from: 'interfaces' });
    assert.deepEqual(o.dnssec, DNSSEC);
    assert.deepEqual(o.backend, BACKEND);
    assert.deepEqual(o.resolver, { validating: false, summary: 'WARNING: not proven' });
  });

  test('--mail-host: only that host is probed; the MX hosts are still looked up for the MX rule', async () => {
    const w = world();
    const o = await gatherPrereq(
      { domain: 'example.org', mailHost: 'smtp.example.org', addresses: ['192.0.2.3'] },
      w.deps,
    );
    assert.equal(o.mailHostFrom, 'flag');
    assert.equal(o.mailHosts[0]!.name, 'smtp.example.org');
    assert.deepEqual(o.mailHosts.map((h) => h.name).sort(), [
      'mx1.example.org',
      'mx2.example.org',
      'smtp.example.org',
    ]);
    assert.deepEqual(
      w.probed.map((p) => p.address),
      ['192.0.2.3'],
    );
    assert.equal(o.starttls[0]!.outcome, 'timeout');
    assert.deepEqual(o.server, { addresses: ['192.0.2.3'], from: 'flag' });
  });

  test('DKIM: the default selectors when none is given; found, none and failed told apart', async () => {
    const w = world();
    const o = await gatherPrereq({ domain: 'example.org' }, w.deps);
    assert.equal(o.dkim.selectorsFrom, 'defaults');
    assert.deepEqual(
      w.txtAsked,
      DEFAULT_DKIM_SELECTORS.map((s) => `${s}._domainkey.example.org`),
    );
    assert.equal(o.dkim.lookups[0]!.outcome, 'found');
    assert.equal(o.dkim.lookups[1]!.outcome, 'none');
    const given = await gatherPrereq(
      { domain: 'example.org', dkimSelectors: ['broken'] },
      world().deps,
    );
    assert.equal(given.dkim.selectorsFrom, 'flag');
    assert.deepEqual(
      given.dkim.lookups.map((l) => [l.name, l.outcome, l.why]),
      [['broken._domainkey.example.org', 'failed', 'timed out']],
    );
  });

  test('a name below the apex: the zone is found by walking up to the SOA', async () => {
    const w = world({ 'sub.example.org/MX': { records: [] } });
    const o = await gatherPrereq({ domain: 'sub.example.org' }, w.deps);
    assert.equal(o.zone, 'example.org');
    assert.deepEqual(o.mailHosts, []);
    assert.deepEqual(w.probed, []);
  });

  test('no zone found and dnssec not asked; a dnssec gatherer that throws is an observation', async () => {
    const w = world({
      'example.org/SOA': { status: 'indeterminate', rcode: null, why: 'timed out' },
    });
    const o = await gatherPrereq({ domain: 'example.org' }, w.deps);
    assert.equal(o.zone, null);
    assert.equal(o.dnssec, null);
    assert.match(o.dnssecWhy!, /timed out/);
    const t = world();
    t.deps.dnssec = async () => {
      throw new DkError('unavailable', 'E_X', 'the resolver went away');
    };
    const o2 = await gatherPrereq({ domain: 'example.org' }, t.deps);
    assert.equal(o2.dnssec, null);
    assert.equal(o2.dnssecWhy, 'the resolver went away');
  });

  test('null MX: no host to probe', async () => {
    const w = world({ 'example.org/MX': { records: [{ preference: 0, exchange: '' }] } });
    const o = await gatherPrereq({ domain: 'example.org' }, w.deps);
    assert.deepEqual(o.mx.records, [{ preference: 0, exchange: '.' }]);
    assert.deepEqual(o.mailHosts, []);
  });

  test('--address in any IPv6 spelling is compared as the resolver prints it (RFC 5952)', async () => {
    assert.equal(canonicalAddress('2001:DB8:0:0::25'), '2001:db8::25');
    assert.equal(canonicalAddress('192.0.2.1'), '192.0.2.1');
    const o = await gatherPrereq(
      { domain: 'example.org', addresses: ['2001:0DB8::0:1'] },
      world().deps,
    );
    assert.deepEqual(o.server.addresses, ['2001:db8::1']);
  });
});
