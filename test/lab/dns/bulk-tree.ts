/**
 * A generated lab for `check --file`: hundreds or thousands of mail domains in a signed zone
 * tree, most of them hosted the way providers host them — many domains, few MX hosts — over a
 * handful of TLS listeners (one receiving Postfix, one listener per address), with every kind
 * of domain a bulk check meets:
 *
 *   - `hosted`: MX to one of the shared hosts in `hosters.test` (secure). Hosts take turns:
 *     `3 1 1` current + next (verified), `2 1 1` of the intermediate with the host named in the
 *     leaf (verified), a TLSA of another key (failed), a single `3 1 1` (verified, warning);
 *   - `twomx`: two shared MX hosts (the domain's verdict is the worse);
 *   - `insecure`: in the unsigned `bulkins.test`, MX to an unsigned host (no DANE);
 *   - `bogus`: in `bulkbog.test`, every signature broken (DNSSEC failure);
 *   - `nomx`: no MX, the domain's own A and TLSA (RFC 5321 §5.1): its own SNI, its own probe;
 *   - `noaddr`: no MX and no address (unreachable).
 *
 * Certificates and TLSA data come from openssl (test/support/pki.ts), never from danekeeper.
 *
 *   const lab = await startBulkLab({ domains: 300 });
 *   lab.domains[i].domain, .kind, .expect;  lab.listFile  (one domain per line)
 *   await lab.stop();
 */
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, makeKey, makePki, openssl, tempDir, type Issued } from '../../support/pki.js';
import { worst as worstOf, type CheckVerdict } from '../../../src/core/checks/verdict.js';
import { createNetns, type Netns } from '../netns.js';
import { startPostfix, type Listener, type PostfixInstance } from '../postfix.js';
import { RESOLVER, startDnsLab, type DnsLab } from './dnslab.js';
import type { RecordSpec } from './tree.js';

export type BulkKind = 'hosted' | 'twomx' | 'insecure' | 'bogus' | 'nomx' | 'noaddr';
export type HostKind = 'pair' | 'ta' | 'mismatch' | 'single';

export interface BulkDomain {
  domain: string;
  kind: BulkKind;
  /** the verdict RFC 7672 gives it (the lab's design, for sanity checks) */
  expect: CheckVerdict;
}

export interface BulkHost {
  name: string;
  kind: HostKind;
  address: string;
}

export interface BulkLabOptions {
  /** mail domains to generate */
  domains: number;
  /** TLS listeners (addresses 127.0.20.1..N); default 6 */
  listeners?: number;
  /** shared MX hosts in hosters.test; default 12 */
  hosts?: number;
}

export interface BulkLab {
  readonly ns: Netns;
  readonly dns: DnsLab;
  readonly receiver: PostfixInstance;
  readonly resolver: string;
  readonly domains: BulkDomain[];
  readonly hosts: BulkHost[];
  /** a file with every domain, one per line */
  readonly listFile: string;
  readonly dir: string;
  /** ms per stage: pki, dns, postfix */
  readonly timings: Record<string, number>;
  stop(): Promise<void>;
}

const HOST_KINDS: HostKind[] = ['pair', 'ta', 'pair', 'mismatch', 'single', 'pair'];
const HOST_VERDICT: Record<HostKind, CheckVerdict> = {
  pair: 'verified',
  ta: 'verified',
  single: 'verified',
  mismatch: 'failed',
};

function spki(pem: string): Buffer {
  return openssl(
    ['pkey', '-pubin', '-outform', 'der'],
    openssl(['x509', '-pubkey', '-noout'], pem),
  );
}
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Which kind the j-th domain is: a fixed, repeating mix (55 % hosted on one MX host). */
function kindOf(j: number): BulkKind {
  const k = j % 20;
  if (k <= 10) return 'hosted';
  if (k <= 12) return 'insecure';
  if (k <= 14) return 'bogus';
  if (k <= 16) return 'nomx';
  if (k === 17) return 'noaddr';
  return 'twomx';
}

export async function startBulkLab(o: BulkLabOptions): Promise<BulkLab> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (what: string) => {
    timings[what] = Date.now() - t;
    t = Date.now();
  };
  const nL = o.listeners ?? 6;
  const nH = o.hosts ?? 12;
  const dir = tempDir('dk-bulk-');
  const ca = makePki(dir, { prefix: 'ca-', names: ['unused.lab.test'] });
  const nextKey = join(dir, 'next.key');
  const otherKey = join(dir, 'other.key');
  makeKey(nextKey, 'p256');
  makeKey(otherKey, 'p256');
  const keySpki = (f: string) => openssl(['pkey', '-in', f, '-pubout', '-outform', 'der']);
  const next = sha256(keySpki(nextKey));
  const other = sha256(keySpki(otherKey));

  const addresses = Array.from({ length: nL }, (_, i) => `127.0.20.${i + 1}`);
  const hosts: BulkHost[] = Array.from({ length: nH }, (_, i) => ({
    name: `mx${i + 1}.hosters.test`,
    kind: HOST_KINDS[i % HOST_KINDS.length]!,
    address: addresses[i % nL]!,
  }));
  // One leaf per listener naming every host it serves (DANE-TA checks the name, RFC 7672 §3.2).
  const leaves: Issued[] = addresses.map((a, i) => {
    const names = [
      `listener${i + 1}.hosters.test`,
      ...hosts.filter((h) => h.address === a).map((h) => h.name),
    ];
    return issue(
      dir,
      `listener-${i + 1}`,
      { cn: names[0]!, dnsNames: names, alg: 'p256', notBeforeDays: -1, notAfterDays: 90 },
      ca.intermediate,
    );
  });
  const leafSpki = leaves.map((l) => sha256(spki(l.certPem)));
  const intSpki = sha256(spki(ca.intermediate.certPem));
  const listeners: Listener[] = addresses.map((a, i) => {
    const chainFile = join(dir, `listener-${i + 1}-chain.pem`);
    writeFileSync(chainFile, leaves[i]!.certPem + ca.intermediate.certPem);
    return { address: a, port: 25, keyFile: leaves[i]!.keyFile, chainFile };
  });

  const rec = (name: string, type: string, data: string): RecordSpec => ({
    name: `${name}.`,
    type,
    data,
  });
  const hosters: RecordSpec[] = [];
  for (const h of hosts) {
    const li = addresses.indexOf(h.address);
    hosters.push(rec(h.name, 'A', h.address));
    const owner = `_25._tcp.${h.name}`;
    const tlsa =
      h.kind === 'pair'
        ? [`3 1 1 ${leafSpki[li]}`, `3 1 1 ${next}`]
        : h.kind === 'ta'
          ? [`2 1 1 ${intSpki}`]
          : h.kind === 'single'
            ? [`3 1 1 ${leafSpki[li]}`]
            : [`3 1 1 ${other}`];
    for (const d of tlsa) hosters.push(rec(owner, 'TLSA', d));
  }
  const zones: Record<string, RecordSpec[]> = {
    'bulk1.test': [],
    'bulk2.test': [],
    'bulkins.test': [rec('mx.bulkins.test', 'A', addresses[0]!)],
    'bulkbog.test': [rec('mx.bulkbog.test', 'A', addresses[0]!)],
  };
  const domains: BulkDomain[] = [];
  for (let j = 0; j < o.domains; j++) {
    const kind = kindOf(j);
    const id = `d${String(j + 1).padStart(4, '0')}`;
    const h1 = hosts[j % nH]!;
    const h2 = hosts[(j + 1) % nH]!;
    const secureZone = j % 2 === 0 ? 'bulk1.test' : 'bulk2.test';
    let domain: string;
    let expect: CheckVerdict;
    if (kind === 'hosted' || kind === 'twomx') {
      domain = `${id}.${secureZone}`;
      zones[secureZone]!.push(rec(domain, 'MX', `10 ${h1.name}.`));
      if (kind === 'twomx') zones[secureZone]!.push(rec(domain, 'MX', `20 ${h2.name}.`));
      expect = worstOf(
        (kind === 'twomx' ? [h1, h2] : [h1]).map((h) => HOST_VERDICT[h.kind]),
        'unreachable',
      );
    } else if (kind === 'insecure' || kind === 'bogus') {
      const zone = kind === 'insecure' ? 'bulkins.test' : 'bulkbog.test';
      domain = `${id}.${zone}`;
      zones[zone]!.push(rec(domain, 'MX', `10 mx.${zone}.`));
      expect = kind === 'insecure' ? 'no-dane' : 'dnssec-failure';
    } else if (kind === 'nomx') {
      domain = `${id}.${secureZone}`;
      const li = j % nL;
      zones[secureZone]!.push(rec(domain, 'A', addresses[li]!));
      zones[secureZone]!.push(rec(`_25._tcp.${domain}`, 'TLSA', `3 1 1 ${leafSpki[li]}`));
      zones[secureZone]!.push(rec(`_25._tcp.${domain}`, 'TLSA', `3 1 1 ${next}`));
      expect = 'verified';
    } else {
      domain = `${id}.${secureZone}`;
      zones[secureZone]!.push(rec(domain, 'TXT', '"no mail here"'));
      expect = 'unreachable';
    }
    domains.push({ domain, kind, expect });
  }
  const listFile = join(dir, 'domains.txt');
  writeFileSync(
    listFile,
    `# ${domains.length} generated lab domains\n${domains.map((d) => d.domain).join('\n')}\n`,
  );
  lap('pki');

  const ns = await createNetns();
  let dns: DnsLab | undefined;
  let receiver: PostfixInstance | undefined;
  try {
    dns = await startDnsLab(ns, {
      zones: [
        { name: 'hosters.test', records: hosters },
        { name: 'bulk1.test', records: zones['bulk1.test']! },
        { name: 'bulk2.test', records: zones['bulk2.test']! },
        { name: 'bulkins.test', security: 'insecure', records: zones['bulkins.test']! },
        { name: 'bulkbog.test', security: 'bogus-sig', records: zones['bulkbog.test']! },
      ],
    });
    lap('dns');
    receiver = await startPostfix(ns, listeners, {
      hostname: 'receiver.hosters.test',
      main: {
        mynetworks: '127.0.0.0/8',
        default_transport: 'discard:lab receiver',
        relay_transport: 'discard:lab receiver',
        local_transport: 'discard:lab receiver',
      },
    });
    lap('postfix');
  } catch (e) {
    await receiver?.stop().catch(() => {});
    await dns?.stop().catch(() => {});
    await ns.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  return {
    ns,
    dns,
    receiver,
    resolver: RESOLVER,
    domains,
    hosts,
    listFile,
    dir,
    timings,
    async stop() {
      if (stopped) return;
      stopped = true;
      await receiver!.stop().catch(() => {});
      await dns!.stop().catch(() => {});
      await ns.destroy();
      if (process.env.DK_LAB_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}
