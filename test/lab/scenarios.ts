/**
 * The DANE scenarios of the integration lab: a table of mail domains, each with its MX hosts,
 * the chain every host presents, the TLSA records published for it and the verdict RFC 7672
 * expects, and a builder that brings ALL of them up at once in one namespace:
 *
 *   - one DNS lab (test/lab/dns): zones `secure.test`, `other.test` (secure), `insecure.test`
 *     (unsigned), `bogus.test` (every signature corrupted);
 *   - one receiving Postfix with a listener per MX address (127.0.10.N, fd00:10::N), each
 *     presenting its own chain, accepting any recipient and discarding the mail.
 *
 *   const lab = await startScenarioLab();
 *   for (const s of lab.scenarios) ... s.domain, s.hosts[i].addresses, s.expect ...
 *   await lab.stop();
 *
 * Every chain comes from one lab CA (root -> intermediate -> leaf, as a public CA's) unless a
 * scenario says otherwise; the root is never sent unless `sendRoot`. TLSA association data is
 * computed here with the seeds' openssl pipelines (never with danekeeper's code): it is the
 * reference the test compares danekeeper against.
 */
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  issue,
  makeBareCert,
  makeKey,
  makePki,
  openssl,
  tempDir,
  type Issued,
  type KeyAlg,
} from '../support/pki.js';
import { worst as worstOf, type CheckVerdict } from '../../src/core/checks/verdict.js';
import { RESOLVER, startDnsLab, type DnsLab } from './dns/dnslab.js';
import type { RecordSpec, ZoneSpec } from './dns/tree.js';
import { createNetns, type Netns } from './netns.js';
import { startPostfix, type Listener, type PostfixInstance } from './postfix.js';

/** The verdict words of `danekeeper check` (DESIGN.md, issue 3), one definition for all. */
export type Verdict = CheckVerdict;

/** A host is its worst address, a domain its worst host (the ranking is the contract's). */
export function worst(vs: Verdict[]): Verdict {
  return worstOf(vs, 'unreachable');
}

/** What a TLSA record is computed from. */
export type TlsaSource =
  /** the host's leaf certificate */
  | 'leaf'
  /** the lab CA's intermediate */
  | 'int'
  /** the lab CA's root (never sent unless `sendRoot`) */
  | 'root'
  /** a key the host does not use yet (the "next key" of a current + next pair) */
  | 'next'
  /** some unrelated key: matches nothing */
  | 'other';

export interface TlsaSpec {
  usage: number;
  selector: number;
  mtype: number;
  of: TlsaSource;
  /** replace the association data (malformed records) */
  rawData?: string;
}

export interface CertSpec {
  /**
   * `ca`: issued by the lab intermediate; `self`: self-signed leaf; `bare`: self-signed with
   * an empty subject and issuer, notAfter before notBefore (names and dates ignored)
   */
  issuer?: 'ca' | 'self' | 'bare';
  /** DNS SANs (and CN: the first); default the MX host name */
  names?: string[];
  alg?: KeyAlg;
  notBeforeDays?: number;
  notAfterDays?: number;
  /** append the root to the chain sent (leaf, intermediate, root) */
  sendRoot?: boolean;
}

export interface HostSpec {
  /** the MX target (absolute, no trailing dot) */
  name: string;
  /** MX preference; default 10 * (index + 1) */
  pref?: number;
  /** the MX host name is a CNAME to this name, which holds the address records */
  cnameTo?: string;
  /** address families of the host; default ['v4'] */
  families?: ('v4' | 'v6')[];
  /** no listener on its addresses (connection refused) */
  down?: boolean;
  cert?: CertSpec;
  tlsa?: TlsaSpec[];
  /**
   * The owner of the TLSA RRset: `expanded` (default) = `_25._tcp.<cnameTo ?? name>`,
   * `original` = `_25._tcp.<name>` even when the host is a CNAME.
   */
  tlsaAt?: 'expanded' | 'original';
  /** the TLSA RRset's signatures are corrupted (bogus TLSA, secure zone otherwise) */
  tlsaBogus?: boolean;
  /** the host's A/AAAA RRsets' signatures are corrupted */
  addressBogus?: boolean;
  /** RFC 7672 verdict for this host */
  expect: Verdict;
}

export interface ScenarioSpec {
  /** short id, also the first label of the domain in secure.test unless `domain` is given */
  id: string;
  /** the mail domain; default `<id>.secure.test` */
  domain?: string;
  /** which rule it exercises (RFC sections) */
  rule: string;
  /** MX hosts; with `noMx` the single host IS the domain (RFC 5321 §5.1 implicit MX) */
  hosts: HostSpec[];
  noMx?: boolean;
  /** the domain's MX RRset is bogus: there are no hosts to speak of */
  mxBogus?: boolean;
  /** domain verdict; default the worst host verdict */
  expect?: Verdict;
}

// --- the table -----------------------------------------------------------------------------

const s = (id: string) => `${id}.secure.test`;
const mx = (id: string, n = '') => `mx${n}.${id}.secure.test`;
const ee311: TlsaSpec = { usage: 3, selector: 1, mtype: 1, of: 'leaf' };
const next311: TlsaSpec = { usage: 3, selector: 1, mtype: 1, of: 'next' };
const ta211: TlsaSpec = { usage: 2, selector: 1, mtype: 1, of: 'int' };

export const SCENARIOS: ScenarioSpec[] = [
  {
    id: 'ok',
    rule: 'RFC 7671 §8.1 / RFC 7672 §3.1.1: DANE-EE(3) SPKI(1) SHA2-256(1), current + next key',
    hosts: [
      { name: mx('ok'), cert: { alg: 'rsa2048' }, tlsa: [ee311, next311], expect: 'verified' },
    ],
  },
  {
    id: 'bare',
    rule: 'RFC 7671 §5.1: DANE-EE checks no names or dates: a bare certificate (empty subject and issuer, notAfter before notBefore) verifies',
    hosts: [{ name: mx('bare'), cert: { issuer: 'bare' }, tlsa: [ee311], expect: 'verified' }],
  },
  {
    id: 'selfsigned',
    rule: 'RFC 7672 §3.1.1: DANE-EE ignores the issuer: a self-signed leaf verifies (one record: no rollover partner)',
    hosts: [
      { name: mx('selfsigned'), cert: { issuer: 'self' }, tlsa: [ee311], expect: 'verified' },
    ],
  },
  {
    id: 'expired',
    rule: 'RFC 7672 §3.1.1: DANE-EE ignores validity dates: an expired leaf verifies',
    hosts: [
      {
        name: mx('expired'),
        cert: { notBeforeDays: -120, notAfterDays: -10 },
        tlsa: [ee311, next311],
        expect: 'verified',
      },
    ],
  },
  {
    id: 'mismatch',
    rule: 'RFC 6698 §2.1 / RFC 7672 §2.2: usable records, none matches: authentication fails, do not deliver',
    hosts: [
      {
        name: mx('mismatch'),
        tlsa: [
          { usage: 3, selector: 1, mtype: 1, of: 'other' },
          { usage: 3, selector: 1, mtype: 2, of: 'other' },
        ],
        expect: 'failed',
      },
    ],
  },
  {
    id: 'ta',
    rule: 'RFC 7672 §3.1.2: DANE-TA(2) of the intermediate sent by the server, leaf named after the MX host',
    hosts: [{ name: mx('ta'), tlsa: [ta211], expect: 'verified' }],
  },
  {
    id: 'tadomain',
    rule: 'RFC 7672 §3.2.2: with a secure MX RRset the next-hop domain is a reference identifier too',
    hosts: [
      { name: mx('tadomain'), cert: { names: [s('tadomain')] }, tlsa: [ta211], expect: 'verified' },
    ],
  },
  {
    id: 'pair',
    rule: 'RFC 7671 §8.1 / RFC 7672 §3.1: the recommended pair, 3 1 1 of the leaf + 2 1 1 of the intermediate the server sends: both in use, nothing stale',
    hosts: [{ name: mx('pair'), tlsa: [ee311, ta211], expect: 'verified' }],
  },
  {
    id: 'taname',
    rule: 'RFC 7672 §3.2.2 / RFC 7671 §5.2: DANE-TA needs a name check; the leaf names neither MX host nor domain',
    hosts: [
      {
        name: mx('taname'),
        cert: { names: ['wrong.example.test'] },
        tlsa: [ta211],
        expect: 'failed',
      },
    ],
  },
  {
    id: 'taexpired',
    rule: 'RFC 7671 §5.2: below a DANE-TA trust anchor dates are checked: an expired leaf fails',
    hosts: [
      {
        name: mx('taexpired'),
        cert: { notBeforeDays: -120, notAfterDays: -10 },
        tlsa: [ta211],
        expect: 'failed',
      },
    ],
  },
  {
    id: 'taroot',
    rule: 'RFC 7672 §3.1.2: DANE-TA(2) of the root, which the server sends: trust anchor at depth 2',
    hosts: [
      {
        name: mx('taroot'),
        cert: { sendRoot: true },
        tlsa: [{ usage: 2, selector: 1, mtype: 1, of: 'root' }],
        expect: 'verified',
      },
    ],
  },
  {
    id: 'tamissing',
    rule: 'RFC 7671 §5.2.2: a DANE-TA digest of a certificate the server does not send cannot match',
    hosts: [
      {
        name: mx('tamissing'),
        tlsa: [{ usage: 2, selector: 1, mtype: 1, of: 'root' }],
        expect: 'failed',
      },
    ],
  },
  {
    id: 'tafull',
    rule: 'RFC 7671 §5.2.2: DANE-TA(2) Cert(0) Full(0): the record itself is the trust anchor, not sent by the server',
    hosts: [
      {
        name: mx('tafull'),
        tlsa: [{ usage: 2, selector: 0, mtype: 0, of: 'root' }],
        expect: 'verified',
      },
    ],
  },
  {
    id: 'takey',
    rule: 'RFC 7671 §5.2.2: DANE-TA(2) SPKI(1) Full(0): a bare public key as trust anchor, not sent',
    hosts: [
      {
        name: mx('takey'),
        tlsa: [{ usage: 2, selector: 1, mtype: 0, of: 'root' }],
        expect: 'verified',
      },
    ],
  },
  {
    id: 'pkix',
    rule: 'RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable in SMTP: encrypt, do not authenticate',
    hosts: [
      {
        name: mx('pkix'),
        tlsa: [
          { usage: 1, selector: 1, mtype: 1, of: 'leaf' },
          { usage: 0, selector: 0, mtype: 1, of: 'root' },
        ],
        expect: 'unusable',
      },
    ],
  },
  {
    id: 'malformed',
    rule: 'RFC 7671 §4.1 / RFC 6698 §2.1: unknown matching type, wrong digest length: unusable, not fatal',
    hosts: [
      {
        name: mx('malformed'),
        tlsa: [
          // a SHA2-256 digest of 31 bytes, and matching type 7 (unassigned)
          { usage: 3, selector: 1, mtype: 1, of: 'leaf', rawData: 'ab'.repeat(31) },
          { usage: 3, selector: 1, mtype: 7, of: 'leaf', rawData: 'cd'.repeat(32) },
        ],
        expect: 'unusable',
      },
    ],
  },
  {
    id: 'notlsa',
    rule: 'RFC 7672 §2.2.3: secure address records, TLSA securely denied: no DANE',
    hosts: [{ name: mx('notlsa'), tlsa: [], expect: 'no-dane' }],
  },
  {
    id: 'insecure',
    domain: 'mail.insecure.test',
    rule: 'RFC 7672 §2.2.1-2.2.3: unsigned zone: no DANE, even with (unauthenticated) TLSA records',
    hosts: [{ name: 'mx.insecure.test', tlsa: [ee311], expect: 'no-dane' }],
  },
  {
    id: 'insecurehost',
    rule: 'RFC 7672 §2.2.3: secure MX RRset, MX host in an unsigned zone: no TLSA lookup, no DANE',
    hosts: [{ name: 'mx2.insecure.test', tlsa: [ee311], expect: 'no-dane' }],
  },
  {
    id: 'insecuremx',
    domain: 'insecuremx.insecure.test',
    rule: 'RFC 7672 §2.2.1: an insecure MX RRset does not stop DANE for an MX host with secure TLSA',
    hosts: [{ name: mx('insecuremx'), tlsa: [ee311, next311], expect: 'verified' }],
  },
  {
    id: 'bogus',
    domain: 'bogus.test',
    rule: 'RFC 7672 §2.1.1: a bogus MX RRset: the destination is unknown, delivery must wait',
    mxBogus: true,
    hosts: [{ name: 'mx.bogus.test', tlsa: [ee311], expect: 'dnssec-failure' }],
    expect: 'dnssec-failure',
  },
  {
    id: 'tlsabogus',
    rule: 'RFC 7672 §2.2.3: a bogus TLSA RRset: the host must not be used',
    hosts: [{ name: mx('tlsabogus'), tlsa: [ee311], tlsaBogus: true, expect: 'dnssec-failure' }],
  },
  {
    id: 'addrbogus',
    rule: 'RFC 7672 §2.1.1 / §2.2.3: a bogus A RRset: the host must not be used',
    hosts: [{ name: mx('addrbogus'), tlsa: [ee311], addressBogus: true, expect: 'dnssec-failure' }],
  },
  {
    id: 'cname',
    rule: "RFC 7672 §2.2.3: CNAME'd MX host: TLSA at the fully expanded name, SNI = that name",
    hosts: [
      {
        name: mx('cname'),
        cnameTo: 'real.other.test',
        tlsa: [ee311, next311],
        expect: 'verified',
      },
    ],
  },
  {
    id: 'cnameorig',
    rule: "RFC 7672 §2.2.3: CNAME'd MX host, no TLSA at the expanded name: fall back to the original name",
    hosts: [
      {
        name: mx('cnameorig'),
        cnameTo: 'real2.other.test',
        tlsaAt: 'original',
        tlsa: [ee311, next311],
        expect: 'verified',
      },
    ],
  },
  {
    id: 'mixed',
    rule: 'RFC 7672 §2.2: every MX host is judged on its own: mx1 verifies, mx2 fails',
    hosts: [
      { name: mx('mixed', '1'), tlsa: [ee311, next311], expect: 'verified' },
      {
        name: mx('mixed', '2'),
        tlsa: [{ usage: 3, selector: 1, mtype: 1, of: 'other' }],
        expect: 'failed',
      },
    ],
  },
  {
    id: 'failfirst',
    rule: 'RFC 5321 §5.1 / RFC 7672 §2.2: the preferred MX host fails DANE, the next one verifies: senders fall back to it',
    hosts: [
      {
        name: mx('failfirst', '1'),
        tlsa: [{ usage: 3, selector: 1, mtype: 1, of: 'other' }],
        expect: 'failed',
      },
      { name: mx('failfirst', '2'), tlsa: [ee311, next311], expect: 'verified' },
    ],
  },
  {
    id: 'down',
    rule: 'RFC 7672 §2.2: a secure MX host that refuses connections is unreachable; the other one verifies',
    hosts: [
      { name: mx('down', '1'), tlsa: [ee311, next311], expect: 'verified' },
      { name: mx('down', '2'), tlsa: [ee311, next311], down: true, expect: 'unreachable' },
    ],
  },
  {
    id: 'ipv6',
    rule: 'RFC 7672 §2.2.3: an IPv6-only MX host (secure AAAA)',
    hosts: [{ name: mx('ipv6'), families: ['v6'], tlsa: [ee311, next311], expect: 'verified' }],
  },
  {
    id: 'dual',
    rule: 'RFC 7672 §2.2: every address of an MX host is probed (A and AAAA)',
    hosts: [
      { name: mx('dual'), families: ['v4', 'v6'], tlsa: [ee311, next311], expect: 'verified' },
    ],
  },
  {
    id: 'nomx',
    rule: 'RFC 5321 §5.1 / RFC 7672 §2.2.1: no MX: the domain itself is the host, TLSA at _25._tcp.<domain>',
    noMx: true,
    hosts: [{ name: s('nomx'), tlsa: [ee311, next311], expect: 'verified' }],
  },
];

// --- the builder ---------------------------------------------------------------------------

export interface TlsaRecord {
  /** `_25._tcp.<base>` */
  owner: string;
  /** presentation format, lower-case hex: `3 1 1 ab...` */
  rdata: string;
  spec: TlsaSpec;
}

export interface LabHost extends HostSpec {
  pref: number;
  /** addresses its A/AAAA records hold (of the expanded name) */
  addresses: string[];
  /** the TLSA base domain a DANE client uses (RFC 7672 §2.2.3) */
  tlsaBase: string;
  tlsaRecords: TlsaRecord[];
  /** the leaf (absent for down hosts) */
  leaf?: Issued;
  /** the PEM file the server sends, leaf first */
  chainFile?: string;
  /** the certificates it sends, PEM, leaf first */
  chainPems: string[];
}

export interface Scenario extends ScenarioSpec {
  domain: string;
  hosts: LabHost[];
  expect: Verdict;
}

export interface ScenarioLab {
  readonly ns: Netns;
  readonly dns: DnsLab;
  readonly receiver: PostfixInstance;
  readonly scenarios: Scenario[];
  readonly resolver: string;
  readonly dir: string;
  /** ms per stage: pki, dns, postfix */
  readonly timings: Record<string, number>;
  scenario(id: string): Scenario;
  stop(): Promise<void>;
}

const ZONES: ZoneSpec[] = [
  { name: 'secure.test' },
  { name: 'other.test' },
  { name: 'insecure.test', security: 'insecure' },
  { name: 'bogus.test', security: 'bogus-sig' },
];

function zoneOf(name: string): string {
  const n = name.toLowerCase().replace(/\.$/, '');
  const z = ZONES.map((z) => z.name)
    .filter((z) => n === z || n.endsWith(`.${z}`))
    .sort((a, b) => b.length - a.length)[0];
  if (!z) throw new Error(`Scenario lab: ${name} is in none of the lab zones`);
  return z;
}

const abs = (n: string) => `${n.replace(/\.$/, '')}.`;

/** DER of what a TLSA selector covers: the whole certificate (0) or its SPKI (1). */
export function selectedDer(certPem: string, selector: number): Buffer {
  return selector === 0
    ? openssl(['x509', '-outform', 'der'], certPem)
    : openssl(
        ['pkey', '-pubin', '-outform', 'der'],
        openssl(['x509', '-pubkey', '-noout'], certPem),
      );
}

function spkiOfKey(keyFile: string): Buffer {
  return openssl(['pkey', '-in', keyFile, '-pubout', '-outform', 'der']);
}

function associate(data: Buffer, mtype: number): string {
  if (mtype === 0) return data.toString('hex');
  return createHash(mtype === 1 ? 'sha256' : 'sha512')
    .update(data)
    .digest('hex');
}

/** SHA-256 of a certificate's SPKI, the seeds' way (`x509 -pubkey | pkey -pubin -outform der | sha256sum`). */
export function spkiSha256(certPem: string): string {
  return associate(selectedDer(certPem, 1), 1);
}

export interface StartOptions {
  /** subset of SCENARIOS (by id); default all */
  only?: string[];
}

export async function startScenarioLab(opts: StartOptions = {}): Promise<ScenarioLab> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (what: string) => {
    timings[what] = Date.now() - t;
    t = Date.now();
  };
  const specs = opts.only ? SCENARIOS.filter((x) => opts.only!.includes(x.id)) : SCENARIOS;
  const dir = tempDir('dk-scenarios-');
  const ca = makePki(dir, { prefix: 'ca-', names: ['unused.lab.test'] });
  const nextKey = join(dir, 'next.key');
  const otherKey = join(dir, 'other.key');
  makeKey(nextKey, 'p256');
  makeKey(otherKey, 'p256');
  const keyData: Record<'next' | 'other', Buffer> = {
    next: spkiOfKey(nextKey),
    other: spkiOfKey(otherKey),
  };

  let v4 = 0;
  let v6 = 0;
  const records = new Map<string, RecordSpec[]>(ZONES.map((z) => [z.name, []]));
  const add = (owner: string, type: string, data: string, bogus = false) =>
    records.get(zoneOf(owner))!.push({ name: abs(owner), type, data, ...(bogus ? { bogus } : {}) });
  const listeners: Listener[] = [];
  const v6Addresses: string[] = [];

  const scenarios: Scenario[] = specs.map((spec) => {
    const domain = spec.domain ?? s(spec.id);
    const hosts = spec.hosts.map((h, i): LabHost => {
      const pref = h.pref ?? 10 * (i + 1);
      const expanded = h.cnameTo ?? h.name;
      const addresses = (h.families ?? ['v4']).map((f) => {
        if (f === 'v4') return `127.0.10.${++v4}`;
        const a = `fd00:10::${(++v6).toString(16)}`;
        v6Addresses.push(a);
        return a;
      });
      const tlsaBase = h.tlsaAt === 'original' ? h.name : expanded;
      let leaf: Issued | undefined;
      let chainFile: string | undefined;
      let chainPems: string[] = [];
      const tag = `${spec.id}-${i + 1}`;
      if (!h.down || (h.tlsa ?? []).some((r) => r.of === 'leaf')) {
        const c = h.cert ?? {};
        const names = c.names ?? [h.name];
        const certOpts = {
          cn: names[0]!,
          dnsNames: names,
          alg: c.alg ?? 'p256',
          notBeforeDays: c.notBeforeDays ?? -1,
          notAfterDays: c.notAfterDays ?? 90,
        };
        leaf =
          c.issuer === 'bare'
            ? makeBareCert(dir, `${tag}-leaf`, certOpts.alg)
            : c.issuer === 'self'
              ? issue(dir, `${tag}-leaf`, certOpts)
              : issue(dir, `${tag}-leaf`, certOpts, ca.intermediate);
        chainPems =
          c.issuer === 'self' || c.issuer === 'bare'
            ? [leaf.certPem]
            : [leaf.certPem, ca.intermediate.certPem, ...(c.sendRoot ? [ca.root.certPem] : [])];
        chainFile = join(dir, `${tag}-chain.pem`);
        writeFileSync(chainFile, chainPems.join(''));
      }
      const tlsaRecords = (h.tlsa ?? []).map((r): TlsaRecord => {
        let data = r.rawData;
        if (data === undefined) {
          const der =
            r.of === 'next' || r.of === 'other'
              ? r.selector === 1
                ? keyData[r.of]
                : (() => {
                    throw new Error(
                      `Scenario ${spec.id}: "${r.of}" is a bare key: selector 1 only`,
                    );
                  })()
              : selectedDer(
                  r.of === 'leaf'
                    ? leaf!.certPem
                    : r.of === 'int'
                      ? ca.intermediate.certPem
                      : ca.root.certPem,
                  r.selector,
                );
          data = associate(der, r.mtype);
        }
        return {
          owner: `_25._tcp.${tlsaBase}`,
          rdata: `${r.usage} ${r.selector} ${r.mtype} ${data}`,
          spec: r,
        };
      });

      // DNS: the MX (or nothing for an implicit MX), the CNAME, the addresses, the TLSA RRset
      if (h.cnameTo) add(h.name, 'CNAME', abs(h.cnameTo));
      for (const a of addresses)
        add(expanded, a.includes(':') ? 'AAAA' : 'A', a, h.addressBogus ?? false);
      for (const r of tlsaRecords) add(r.owner, 'TLSA', r.rdata, h.tlsaBogus ?? false);
      if (!h.down)
        for (const a of addresses)
          listeners.push({ address: a, port: 25, keyFile: leaf!.keyFile, chainFile: chainFile! });
      return { ...h, pref, addresses, tlsaBase, tlsaRecords, leaf, chainFile, chainPems };
    });
    if (!spec.noMx)
      for (const h of hosts) add(domain, 'MX', `${h.pref} ${abs(h.name)}`, spec.mxBogus ?? false);
    return { ...spec, domain, hosts, expect: spec.expect ?? worst(hosts.map((h) => h.expect)) };
  });
  lap('pki');

  const ns = await createNetns({ addresses: v6Addresses });
  let dns: DnsLab | undefined;
  let receiver: PostfixInstance | undefined;
  try {
    dns = await startDnsLab(ns, {
      zones: ZONES.map((z) => ({ ...z, records: records.get(z.name)! })),
    });
    lap('dns');
    // The receiver accepts mail for any domain from anyone in the lab and discards it: what
    // matters is whether the sender got as far as handing it over.
    receiver = await startPostfix(ns, listeners, {
      hostname: 'receiver.lab.test',
      main: {
        mynetworks: '127.0.0.0/8 [::1]/128 [fd00::]/8',
        smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
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
    scenarios,
    resolver: RESOLVER,
    dir,
    timings,
    scenario(id) {
      const x = scenarios.find((y) => y.id === id);
      if (!x) throw new Error(`Scenario lab: no scenario "${id}"`);
      return x;
    },
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
