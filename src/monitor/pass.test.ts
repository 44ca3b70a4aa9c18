import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckReport } from '../check/report.js';
import type { Channels } from '../notify/notifier.js';
import type { Payload } from '../notify/message.js';
import type { DomainSettings } from '../store/domains.js';
import { memoryMonitorStore } from '../store/monitor.js';
import { memoryState } from '../store/state.js';
import { runMonitorPass, type MonitorDeps } from './pass.js';
import type { DomainObservations, MonitorTarget } from './rules.js';

const T0 = new Date('2026-06-01T00:00:00Z');
const at = (min: number) => new Date(T0.getTime() + min * 60_000);

function settings(name: string): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [
      { host: `mail.${name}`, port: 25, proto: 'tcp' },
      { host: `mail.${name}`, port: 465, proto: 'tcp' },
    ],
    dane: true,
    certDir: `/tmp/live/${name}`,
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

/** A check report with one MX host whose one address has `verdict`. */
function report(domain: string, verdict: 'verified' | 'failed'): CheckReport {
  return {
    domain,
    service: { port: 25, starttls: 'smtp', mode: 'smtp' },
    verdict,
    resolver: { servers: [], validating: true, summary: '' },
    mx: null,
    hosts: [
      {
        name: `mail.${domain}`,
        preference: 10,
        verdict,
        tlsaBase: `mail.${domain}`,
        tlsa: { owner: `_25._tcp.mail.${domain}`, status: 'secure', ttl: 300, records: [] },
        addresses: [
          {
            address: '192.0.2.1',
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
    checkedAt: T0.toISOString(),
  };
}

function world() {
  const state = memoryState();
  state.domains.add(settings('managed.test'), T0);
  const monitor = memoryMonitorStore();
  monitor.watch('watched.test', T0);
  monitor.watch('managed.test', T0);
  const broken = new Set<string>();
  const down = new Set<string>();
  const seen: { target: MonitorTarget; endpoints: { host: string; port: number }[] }[] = [];
  const hooks: Payload[] = [];
  const channels: Channels = {
    mail: async () => {},
    webhook: async (body) => void hooks.push(JSON.parse(body) as Payload),
  };
  let now = T0;
  const pass = (over: Partial<MonitorDeps> = {}) =>
    runMonitorPass({
      state,
      monitor,
      resolver: null as never,
      validating: { validating: true, summary: '' },
      probe: null as never,
      now: () => now,
      notify: { webhook: { url: 'http://127.0.0.1:9/' } },
      channels,
      observe: async (target, endpoints): Promise<DomainObservations> => {
        seen.push({ target, endpoints });
        if (down.has(target.domain)) throw new Error('resolver timed out');
        const v = broken.has(target.domain) ? 'failed' : 'verified';
        return { checks: [report(target.domain, v)], propagation: [], rrsigs: [] };
      },
      ...over,
    });
  return { broken, down, seen, hooks, pass, monitor, setNow: (d: Date) => (now = d) };
}

const kinds = (hooks: Payload[]) =>
  hooks.flatMap((h) => h.notices.map((n) => `${n.type} ${n.domain}`));

describe('monitor pass', () => {
  it('looks at managed domains (their other endpoints too) and watched ones, each once', async () => {
    const w = world();
    const r = await w.pass();
    assert.deepEqual(
      r.targets.map((t) => `${t.domain} ${t.source} ${t.verdict}`),
      ['managed.test managed verified', 'watched.test watched verified'],
    );
    assert.deepEqual(
      w.seen.map(
        (s) =>
          `${s.target.domain} dane=${s.target.dane} ${s.endpoints.map((e) => e.port).join(',')}`,
      ),
      ['managed.test dane=true 465', 'watched.test dane=false '],
    );
  });

  it('a domain it could not look at keeps its findings open, and nobody hears a false recovery', async () => {
    const w = world();
    w.broken.add('watched.test');
    let r = await w.pass();
    assert.deepEqual(
      r.findings.map((f) => `${f.domain} ${f.code}`),
      ['watched.test live-mismatch'],
    );
    assert.deepEqual(kinds(w.hooks), ['problem watched.test']);
    w.down.add('watched.test');
    w.setNow(at(10));
    r = await w.pass();
    assert.equal(r.targets[1]!.verdict, null);
    assert.match(r.targets[1]!.error!, /resolver timed out/);
    assert.deepEqual(
      r.findings.map((f) => f.code),
      ['live-mismatch'],
    );
    assert.equal(r.recovered.length, 0);
    assert.deepEqual(kinds(w.hooks), ['problem watched.test']);
    w.down.clear();
    w.broken.clear();
    w.setNow(at(20));
    r = await w.pass();
    assert.deepEqual(
      r.recovered.map((f) => f.domain),
      ['watched.test'],
    );
    assert.deepEqual(kinds(w.hooks), ['problem watched.test', 'recovery watched.test']);
  });

  it('with `only`, other domains are neither checked nor recovered', async () => {
    const w = world();
    w.broken.add('watched.test');
    await w.pass();
    w.broken.clear();
    w.setNow(at(5));
    const r = await w.pass({ only: 'managed.test' });
    assert.deepEqual(
      r.targets.map((t) => t.domain),
      ['managed.test'],
    );
    assert.deepEqual(
      r.findings.map((f) => f.domain),
      ['watched.test'],
    );
    assert.deepEqual(kinds(w.hooks), ['problem watched.test']);
  });
});
