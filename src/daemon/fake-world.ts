/**
 * A fake world for tests of the pass and the CLI: DNS served at once by two servers, a CA that
 * issues at once, a service that reloads and presents what is installed. Not used in production.
 */
import type { Action, CertFacts, KeyFacts, RolloverPolicy } from '../core/rollover/index.js';
import type { Domain } from '../store/domains.js';
import type { DomainWorld } from './pass.js';

export const OWNER = '_25._tcp.mail.example.org.';
const hex = (n: number) => n.toString(16).padStart(64, '0');

/** A world that does what it is told: DNS served at once by two servers, the service reloads. */
export class FakeWorld implements DomainWorld {
  keys: KeyFacts[] = [];
  certs: CertFacts[] = [];
  published: string[] = [];
  deployed: string | null = null;
  log: Action[] = [];
  /** observe() calls: a pass over a domain at rest makes none */
  observed = 0;
  /** DNS-01 values a killed run left behind; sweep() removes them (or throws `sweepError`) */
  leftovers: string[] = [];
  sweepError: Error | null = null;
  swept = 0;
  failNext: Partial<Record<Action['kind'], Error>> = {};
  clock: { t: number };
  n = 0;
  constructor(clock: { t: number }) {
    this.clock = clock;
  }
  policy(d: Domain): RolloverPolicy {
    return {
      domain: d.name,
      owners: [OWNER],
      keyType: d.keyType,
      confirmationIntervalHours: 0.001,
      newKeyEachRenewal: d.newKeyEachRenewal,
      issuerRecords: d.issuerRecords,
      issuerSpkis: [],
      verifyGraceSeconds: 60,
    };
  }
  observe() {
    this.observed++;
    const cert = this.certs.find((c) => c.id === this.deployed);
    const key = this.keys.find((k) => k.id === cert?.keyId);
    return Promise.resolve({
      dns: {
        [OWNER]: {
          published: [...this.published],
          servers: ['ns1', 'ns2'].map((name) => ({
            name,
            served: [...this.published],
            ttl: 1,
          })),
        },
      },
      live: {
        [OWNER]: [
          cert && key
            ? {
                address: '192.0.2.1',
                leafSpki: key.spki,
                leafSerial: cert.serial,
                chainSpkis: [key.spki, hex(999)],
              }
            : { address: '192.0.2.1', error: 'connection refused' },
        ],
      },
      keys: [...this.keys],
      certificates: [...this.certs],
      deployed: this.deployed,
      random: 0.5,
    });
  }
  sweep(): Promise<string[]> {
    this.swept++;
    if (this.sweepError) return Promise.reject(this.sweepError);
    const gone = this.leftovers.map((v) => `Removed ${v}`);
    this.leftovers = [];
    return Promise.resolve(gone);
  }
  execute(_d: Domain, a: Action): Promise<void> {
    this.log.push(a);
    const fail = this.failNext[a.kind];
    if (fail) {
      delete this.failNext[a.kind];
      return Promise.reject(fail);
    }
    switch (a.kind) {
      case 'generateKey':
        if (!this.keys.some((k) => k.id === a.keyId))
          this.keys.push({ id: a.keyId, keyType: a.keyType, spki: hex(++this.n) });
        break;
      case 'publishRecords':
        this.published = [...this.published.filter((r) => !a.remove.includes(r)), ...a.add];
        break;
      case 'orderCertificate': {
        const now = new Date(this.clock.t);
        this.certs.push({
          id: a.certId,
          keyId: a.keyId,
          notBefore: now.toISOString(),
          notAfter: new Date(this.clock.t + 90 * 86400_000).toISOString(),
          serial: (++this.n).toString(16),
          issuerSpkis: [hex(999)],
        });
        break;
      }
      case 'install':
      case 'rollback':
        this.deployed = a.certId;
        break;
    }
    return Promise.resolve();
  }
}
