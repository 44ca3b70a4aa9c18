import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckReport } from '../check/report.js';
import type { PropagationReport, ServerPropagation } from '../publish/propagation.js';
import { domainFindings, liveRules, rrsigRules, serverRules } from './rules.js';

const now = new Date('2026-05-01T00:00:00Z');
const sec = (days: number) => Math.floor(now.getTime() / 1000 + days * 86400);

function server(over: Partial<ServerPropagation>): ServerPropagation {
  return {
    name: 'ns1.z.test',
    address: '127.0.54.1',
    source: 'both',
    addressFrom: ['glue'],
    state: 'in-step',
    serial: 5,
    serialBehind: false,
    served: [],
    missing: [],
    extra: [],
    ttl: 300,
    rcode: 'NOERROR',
    transport: 'udp',
    ...over,
  };
}

function prop(owner: string, servers: ServerPropagation[]): PropagationReport {
  return {
    zone: 'z.test.',
    owner,
    expected: [],
    expectedFrom: 'primary',
    primary: null,
    serialReference: { serial: 5, from: 'primary' },
    servers,
    allInStep: false,
    counts: { 'in-step': 0, old: 0, unreachable: 0, lame: 0 },
    maxTtl: 300,
    nsRrset: { names: [], status: 'secure' },
    delegation: { parent: 'test.', names: [] },
    onlyInZone: [],
    onlyInParent: [],
    findings: [],
    checkedAt: now.toISOString(),
  };
}

function report(verdict: 'verified' | 'failed'): CheckReport {
  return {
    domain: 'z.test',
    service: { port: 25, starttls: 'smtp', mode: 'smtp' },
    verdict,
    resolver: { servers: [], validating: true, summary: '' },
    mx: null,
    hosts: [
      {
        name: 'mx.z.test',
        preference: 10,
        verdict,
        tlsaBase: 'mx.z.test',
        tlsa: { owner: '_25._tcp.mx.z.test', status: 'secure', ttl: 300, records: [] },
        addresses: [
          {
            address: '127.0.10.1',
            family: 4,
            status: 'secure',
            verdict,
            tls: null,
            chain: [],
            matched: null,
            inUse: [],
            reasons: [],
          },
        ],
        reasons: [],
      },
    ],
    delivery: null,
    warnings: [],
    dns: [],
    reasons: [],
    checkedAt: now.toISOString(),
  };
}

const target = { domain: 'z.test', source: 'watched' as const, dane: false };

describe('monitor rules', () => {
  it('a live chain that matches no record is a critical live-mismatch per address', () => {
    assert.deepEqual(liveRules(report('verified'), target), []);
    const [f] = liveRules(report('failed'), target);
    assert.equal(f!.code, 'live-mismatch');
    assert.equal(f!.severity, 'critical');
    assert.equal(f!.subject, 'mx.z.test:25 127.0.10.1');
    assert.match(f!.message, /matches no TLSA record at _25\._tcp\.mx\.z\.test/);
  });

  it("keeps check's certificate-expiry and resolver warnings, not its record-set advice", () => {
    const r = report('verified');
    r.warnings = [
      {
        severity: 'warning',
        code: 'no-rollover',
        subject: '_25._tcp.mx.z.test',
        message: 'one record',
      },
      { severity: 'warning', code: 'expires-soon', subject: 'mx', message: 'expires in 3 day(s)' },
      {
        severity: 'warning',
        code: 'resolver-not-validating',
        subject: '127.0.0.1',
        message: 'no AD',
      },
      { severity: 'note', code: 'expires-soon', subject: 'x', message: 'a note' },
    ];
    assert.deepEqual(
      liveRules(r, target).map((f) => f.code),
      ['certificate-expiry', 'resolver-not-validating'],
    );
  });

  it('a secondary behind on the serial, or serving another TLSA RRset, is out of step', () => {
    const p = prop('_25._tcp.mx.z.test.', [
      server({}),
      server({
        name: 'ns2.z.test',
        address: '127.0.54.2',
        serial: 4,
        serialBehind: true,
        state: 'old',
        missing: ['3 1 1 aa'],
      }),
    ]);
    const codes = serverRules(p).map((f) => `${f.code} ${f.subject}`);
    assert.deepEqual(codes, [
      'serial-behind z.test ns2.z.test 127.0.54.2',
      'tlsa-differs _25._tcp.mx.z.test ns2.z.test 127.0.54.2',
    ]);
    // at the apex (no TLSA owner in the zone) only serials count
    const apex = prop('z.test.', [server({ serialBehind: true, serial: 4, state: 'old' })]);
    assert.deepEqual(
      serverRules(apex).map((f) => f.code),
      ['serial-behind'],
    );
  });

  it('RRSIGs: warning inside the window, critical in the last day and after expiry', () => {
    const o = (days: number) => ({ rrset: 'z.test/DNSKEY', expiration: sec(days), server: 'ns1' });
    const opt = { rrsigDays: 7, now };
    assert.deepEqual(rrsigRules(o(8), opt), []);
    assert.equal(rrsigRules(o(6.5), opt)[0]!.severity, 'warning');
    assert.equal(rrsigRules(o(0.5), opt)[0]!.severity, 'critical');
    assert.match(rrsigRules(o(-1), opt)[0]!.message, /expired/);
    assert.deepEqual(rrsigRules({ ...o(1), expiration: null }, opt), []);
  });

  it('domainFindings names the domain on every finding', () => {
    const fs = domainFindings(
      target,
      {
        checks: [report('failed')],
        propagation: [],
        rrsigs: [{ rrset: 'z.test/MX', expiration: sec(2), server: 'ns1' }],
      },
      { rrsigDays: 7, now },
    );
    assert.deepEqual(
      fs.map((f) => `${f.domain} ${f.code}`),
      ['z.test live-mismatch', 'z.test rrsig-expiry'],
    );
  });
});
