import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DkError } from '../core/errors.js';
import { StaticResolver } from '../io/dns/static-resolver.js';
import type { Resolver } from '../io/dns/types.js';
import { openState } from '../store/state.js';
import { openUsersStore } from '../store/users.js';
import { FakeDnsServer, response } from '../io/dns/fake-server.js';
import { runCli, runCliAsync } from '../../test/support/cli.js';
import {
  defaultCertDir,
  mxAmongNames,
  parseDomainName,
  parseEndpoint,
  parseSubdomain,
  judgeZone,
  requireSecureZones,
  runAdd,
  runDane,
  type DomainDeps,
  type ZoneSecurity,
} from './domain.js';
import type { Io } from './io.js';
import type { DkimObservation, DnssecObservation } from '../core/prereq/types.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-domain-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `s${++n}`);

function capture(): Io & { lines: string[] } {
  const lines: string[] = [];
  const io: Io & { lines: string[] } = {
    lines,
    out: (l) => lines.push(l),
    err: (l) => lines.push(`ERR ${l}`),
    verbose: () => {},
    withVerbose: () => io,
  };
  return io;
}

async function rejects(p: Promise<unknown>): Promise<DkError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, String(e));
    assert.ok(!e.message.includes('\n'));
    return e;
  }
  assert.fail('no error');
}

const MX = new StaticResolver({
  'example.org/MX': {
    records: [
      { preference: 10, exchange: 'mail.example.org' },
      { preference: 20, exchange: 'backup.other.net' },
    ],
  },
  'nomx.test/MX': { records: [] },
  'nullmx.test/MX': { records: [{ preference: 0, exchange: '.' }] },
  'broken.test/MX': { status: 'bogus', why: 'RRSIG expired' },
});

function deps(
  stateDir: string,
  o: { resolver?: Resolver; zones?: Record<string, ZoneSecurity>; config?: string } = {},
): DomainDeps & { checked: string[] } {
  const checked: string[] = [];
  return {
    checked,
    env: { DANEKEEPER_STATE_DIR: stateDir, DANEKEEPER_CONFIG: o.config ?? '/dev/null' },
    uid: 0,
    now: () => new Date('2026-03-01T00:00:00Z'),
    resolver: async () => o.resolver ?? MX,
    zoneCheck: () => async (host) => {
      checked.push(host);
      const zone = host.split('.').slice(-2).join('.');
      return o.zones?.[zone] ?? { zone, ok: true };
    },
  };
}

const add = (extra: Record<string, unknown> = {}) => ({ domainName: true, ...extra });

describe('domain: parsing', () => {
  it('domain names, subdomains and endpoints', () => {
    assert.equal(parseDomainName('Example.ORG.'), 'example.org');
    assert.equal(parseDomainName('xn--bcher-kva.example'), 'xn--bcher-kva.example');
    assert.equal(parseDomainName('3com.example'), '3com.example');
    // RFC 1123 §2.1, RFC 5890 §2.3.1, RFC 3696 §2, RFC 5891 §5.4 (found by test/web-attacks)
    for (const bad of [
      'example',
      '*.example.org',
      'a..b',
      '_25._tcp.example.org',
      'a b.org',
      '127.0.0.1',
      '1.2.3.4',
      '-a.example',
      'a-.example',
      'x.123',
      '0x7f.1',
      'xn--zz.example',
    ]) {
      assert.throws(
        () => parseDomainName(bad),
        (e: unknown) => e instanceof DkError && e.kind === 'usage',
        bad,
      );
    }
    assert.equal(parseSubdomain('WWW', 'example.org'), 'www');
    assert.equal(parseSubdomain('mail.example.org', 'example.org'), 'mail');
    assert.equal(parseSubdomain('a.b', 'example.org'), 'a.b');
    assert.throws(() => parseSubdomain('@', 'example.org'), /covered unless --no-domain-name/);
    assert.deepEqual(parseEndpoint('mail.example.org:465', 'example.org'), {
      host: 'mail.example.org',
      port: 465,
      proto: 'tcp',
    });
    assert.deepEqual(parseEndpoint('smtp:587/TCP', 'example.org'), {
      host: 'smtp.example.org',
      port: 587,
      proto: 'tcp',
    });
    assert.equal(parseEndpoint('voip.example.org:5061/sctp', 'example.org').proto, 'sctp');
    assert.throws(() => parseEndpoint('mail.example.org', 'example.org'), /HOST:PORT/);
    assert.throws(() => parseEndpoint('mail.example.org:0', 'example.org'), /1 to 65535/);
    assert.throws(() => parseEndpoint('mail.example.org:25/quic', 'example.org'), /tcp, udp, sctp/);
  });

  it('the default cert dir: /etc/danekeeper/live for root, beside the state database otherwise', () => {
    assert.equal(defaultCertDir('example.org', {}, 0), '/etc/danekeeper/live/example.org');
    assert.equal(
      defaultCertDir('example.org', { DANEKEEPER_STATE_DIR: '/srv/dk' }, 0),
      '/srv/dk/live/example.org',
    );
    assert.equal(
      defaultCertDir('example.org', { HOME: '/home/u' }, 1000),
      '/home/u/.local/state/danekeeper/live/example.org',
    );
  });
});

describe('domain: the mail host from MX', () => {
  it("the MX targets among the certificate's names; a null MX is no host", async () => {
    assert.deepEqual(await mxAmongNames(MX, 'example.org', ['example.org', 'mail.example.org']), {
      mailHosts: ['mail.example.org'],
      mx: ['mail.example.org', 'backup.other.net'],
    });
    assert.deepEqual((await mxAmongNames(MX, 'example.org', ['example.org'])).mailHosts, []);
    assert.deepEqual(await mxAmongNames(MX, 'nullmx.test', ['nullmx.test']), {
      mailHosts: [],
      mx: [],
    });
    const e = await rejects(mxAmongNames(MX, 'broken.test', ['broken.test']));
    assert.equal(e.code, 'E_DOMAIN_MX');
    assert.match(e.message, /bogus \(RRSIG expired\); name it with --mail-host HOST$/);
  });
});

describe('domain: the DNSSEC prerequisite', () => {
  it('every zone of the domain and its endpoints must be secure; the refusal says why and how to fix it', async () => {
    const ok = async (h: string) => ({ zone: h.split('.').slice(-2).join('.'), ok: true });
    assert.deepEqual(
      await requireSecureZones(
        'example.org',
        [{ host: 'mail.other.net', port: 25, proto: 'tcp' }],
        ok,
      ),
      ['example.org', 'other.net'],
    );
    const island = async (h: string): Promise<ZoneSecurity> =>
      h === 'island.test'
        ? {
            zone: 'island.test',
            ok: false,
            reason: 'zone island.test has no secure chain of trust (chain insecure). No DS',
            fix: 'give the registrar this DS: island.test. IN DS 1 13 2 AB',
          }
        : { zone: h, ok: true };
    const e = await rejects(requireSecureZones('island.test', [], island));
    assert.equal(e.code, 'E_DOMAIN_DNSSEC');
    assert.equal(e.kind, 'config');
    assert.match(
      e.message,
      /^Cannot turn DANE on for island\.test: zone island\.test has no secure chain of trust \(chain insecure\)\. No DS\. Fix: give the registrar this DS: .* \(details: danekeeper dnssec status island\.test; or add the domain with --no-dane\)$/,
    );
    const unknown = await rejects(
      requireSecureZones('x.test', [], async () => ({
        zone: 'x.test',
        ok: false,
        unknown: true,
        reason: 'r',
      })),
    );
    assert.equal(unknown.kind, 'unavailable');
  });
});

const DS = {
  keyTag: 1234,
  flags: 257,
  algorithm: 13,
  algorithmName: 'ECDSAP256SHA256',
  digestType: 2,
  digestTypeName: 'SHA-256',
  digest: 'AB'.repeat(32),
  ds: `island.test. IN DS 1234 13 2 ${'AB'.repeat(32)}`,
  dnskey: 'island.test. IN DNSKEY 257 3 13 AAAA',
  publicKey: 'AAAA',
};
const server = (
  name: string,
  serial: number,
  source: 'both' | 'parent' | 'ns-rrset' = 'both',
): DnssecObservation['servers'][number] => ({
  name,
  address: '127.0.0.1',
  source,
  outcome: 'answer',
  serial,
});
const zoneObs = (o: Partial<DnssecObservation>): DnssecObservation => ({
  chain: 'secure',
  signing: 'signed',
  ready: true,
  parent: 'test',
  parentDs: [DS.ds],
  findings: [],
  registrar: [DS],
  servers: [server('ns1.test', 7), server('ns2.test', 7)],
  ...o,
});

describe('domain: the DNSSEC prerequisite judged by the prereq rules (judgeZone)', () => {
  const cases: {
    name: string;
    obs: DnssecObservation;
    ok: boolean;
    unknown?: boolean;
    reason?: RegExp;
    fix?: RegExp;
    warnings?: RegExp[];
  }[] = [
    { name: 'secure and ready', obs: zoneObs({}), ok: true },
    {
      name: 'an island: the finding and the registrar DS on one line',
      obs: zoneObs({
        chain: 'insecure',
        ready: false,
        parentDs: [],
        findings: [
          {
            severity: 'critical',
            code: 'no-ds',
            subject: 'island.test',
            message: 'The parent zone test holds no DS for island.test: an island.',
            fix: `Give the registrar of island.test this DS record (SHA-256, digest type 2):\n${DS.ds}`,
          },
        ],
      }),
      ok: false,
      reason:
        /^zone island\.test has no secure chain of trust \(chain insecure\)\. The parent zone test holds no DS for island\.test: an island$/,
      fix: /^Give the registrar of island\.test this DS record \(SHA-256, digest type 2\): island\.test\. IN DS 1234 13 2 AB/,
    },
    {
      name: 'a finding whose fix forgot the DS: the rule hands it over anyway',
      obs: zoneObs({
        chain: 'bogus',
        ready: false,
        findings: [
          {
            severity: 'critical',
            code: 'ds-no-match',
            subject: 'island.test',
            message: 'No DS at test matches any key of island.test.',
            fix: 'Ask the registrar.',
          },
        ],
      }),
      ok: false,
      reason: /\(chain bogus\)\. No DS at test matches any key of island\.test$/,
      fix: /^Ask the registrar\. Give the registrar of island\.test this DS record: island\.test\. IN DS 1234/,
    },
    {
      name: 'the resolver gave no verdict: undecided (exit 69), not refused as insecure',
      obs: zoneObs({ chain: 'indeterminate', ready: false, signing: 'unknown', registrar: [] }),
      ok: false,
      unknown: true,
      reason: /\(chain indeterminate\)\. The resolver gave no verdict on island\.test/,
    },
    {
      name: 'insecure without a critical finding is still refused (only a secure chain counts)',
      obs: zoneObs({ chain: 'insecure', ready: false, registrar: [] }),
      ok: false,
      reason: /chain insecure/,
    },
    {
      name: 'secure, a lagging secondary: accepted with the delegation warning',
      obs: zoneObs({ servers: [server('ns1.test', 7), server('ns2.test', 6)] }),
      ok: true,
      warnings: [
        /^island\.test: The servers of island\.test serve different SOA serials .* Fix: Check NOTIFY/,
      ],
    },
    {
      name: 'secure, a lame delegated server: accepted, the failing delegation told as a warning',
      obs: zoneObs({
        servers: [
          server('ns1.test', 7),
          { ...server('ns2.test', 7), outcome: 'lame', serial: null },
        ],
      }),
      ok: true,
      warnings: [
        /^island\.test: ns2\.test \(127\.0\.0\.1\) is named in the delegation of island\.test but does not serve the zone \(lame\)/,
      ],
    },
    {
      name: 'secure but not ready (a DS digest not recommended): accepted with the DNSSEC warning',
      obs: zoneObs({
        ready: false,
        findings: [
          {
            severity: 'warning',
            code: 'ds-digest-not-recommended',
            subject: 'island.test',
            message: 'The DS uses SHA-1.',
            fix: `Replace it at the registrar with the SHA-256 DS:\n${DS.ds}`,
          },
        ],
      }),
      ok: true,
      warnings: [
        /^island\.test: The DS uses SHA-1\. Fix: Replace it at the registrar with the SHA-256 DS: island\.test\. IN DS 1234/,
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = judgeZone('island.test', 'island.test', c.obs);
      assert.equal(s.ok, c.ok, JSON.stringify(s));
      assert.equal(s.zone, 'island.test');
      if (c.unknown !== undefined) assert.equal(s.unknown, c.unknown);
      if (c.reason) assert.match(s.reason ?? '', c.reason);
      if (c.fix) assert.match(s.fix ?? '', c.fix);
      assert.equal((s.warnings ?? []).length, (c.warnings ?? []).length, JSON.stringify(s));
      c.warnings?.forEach((w, i) => assert.match(s.warnings![i]!, w));
      for (const l of [s.reason, s.fix, ...(s.warnings ?? [])]) assert.ok(!l?.includes('\n'));
    });
  }

  it('warnings are told once DANE is on, never with a refusal', async () => {
    const told: string[] = [];
    const warned = async (h: string): Promise<ZoneSecurity> => ({
      zone: h,
      ok: true,
      warnings: [`${h}: lagging`],
    });
    await requireSecureZones('a.test', [], warned, (w) => told.push(w));
    assert.deepEqual(told, ['a.test: lagging']);
    told.length = 0;
    const mixed = async (h: string): Promise<ZoneSecurity> =>
      h === 'a.test'
        ? { zone: h, ok: true, warnings: ['a.test: lagging'] }
        : { zone: h, ok: false, reason: 'r' };
    await rejects(
      requireSecureZones('a.test', [{ host: 'mail.b.test', port: 25, proto: 'tcp' }], mixed, (w) =>
        told.push(w),
      ),
    );
    assert.deepEqual(told, []);
  });
});

describe('domain add (in process)', () => {
  it('--dane is the default: the mail host from MX, port 25 added, every zone checked, an event logged', async () => {
    const d = deps(fresh());
    const io = capture();
    assert.equal(
      await runAdd('example.org', add({ subdomain: ['mail'], endpoint: ['mail:993'] }), io, d),
      0,
    );
    assert.deepEqual(d.checked, ['example.org', 'mail.example.org']);
    const s = openState(join(d.env.DANEKEEPER_STATE_DIR!, 'state.db'));
    const got = s.domains.get('example.org')!;
    assert.equal(got.dane, true);
    assert.deepEqual(got.mailHosts, ['mail.example.org']);
    assert.deepEqual(
      got.endpoints.map((e) => `${e.host}:${e.port}/${e.proto}`),
      ['mail.example.org:25/tcp', 'mail.example.org:993/tcp'],
    );
    assert.equal(got.certDir, join(d.env.DANEKEEPER_STATE_DIR!, 'live', 'example.org'));
    assert.deepEqual(
      s.events.list({ domain: 'example.org' }).map((e) => e.kind),
      ['domain-added'],
    );
    s.close();
    assert.ok(
      io.lines.some((l) => /DANE: +on/.test(l)),
      io.lines.join('\n'),
    );
  });

  it('a zone accepted with a caveat: the warning on stderr, the domain added', async () => {
    const d = deps(fresh(), {
      zones: {
        'example.org': {
          zone: 'example.org',
          ok: true,
          warnings: ['example.org: The servers of example.org serve different SOA serials (6, 7).'],
        },
      },
    });
    const io = capture();
    assert.equal(await runAdd('example.org', add({ subdomain: ['mail'] }), io, d), 0);
    assert.deepEqual(
      io.lines.filter((l) => l.startsWith('ERR')),
      [
        'ERR danekeeper: warning: example.org: The servers of example.org serve different SOA serials (6, 7).',
      ],
    );
  });

  it('DKIM (the seed asks for it next to DANE): a warning with the fix when no key is found, none when one is; not asked without DANE', async () => {
    // RFC 8463 §4.2: an ed25519 DKIM key is the bare 32-byte public key (the SPKI's tail)
    const ed = generateKeyPairSync('ed25519')
      .publicKey.export({ type: 'spki', format: 'der' })
      .subarray(-32)
      .toString('base64');
    const dkimFor =
      (values: Record<string, string>) =>
      async (_r: Resolver, domain: string): Promise<DkimObservation> => ({
        selectorsFrom: 'defaults',
        lookups: ['default', 'mail'].map((selector) => ({
          selector,
          name: `${selector}._domainkey.${domain}`,
          outcome: values[selector] ? ('found' as const) : ('none' as const),
          status: 'secure' as const,
          values: values[selector] ? [values[selector]] : [],
        })),
      });
    const none = { ...deps(fresh()), dkim: dkimFor({}) };
    const io = capture();
    assert.equal(await runAdd('example.org', add({ subdomain: ['mail'] }), io, none), 0);
    const errs = io.lines.filter((l) => l.startsWith('ERR'));
    assert.equal(errs.length, 1, errs.join('\n'));
    assert.match(
      errs[0]!,
      /^ERR danekeeper: warning: example\.org: .*DKIM.* Fix: Publish the public key .*default\._domainkey\.example\.org\. IN TXT .* \(details, another selector: danekeeper prereq example\.org --dkim-selector S\)$/,
    );
    const has = { ...deps(fresh()), dkim: dkimFor({ mail: `v=DKIM1; k=ed25519; p=${ed}` }) };
    const io2 = capture();
    assert.equal(await runAdd('example.org', add({ subdomain: ['mail'] }), io2, has), 0);
    assert.deepEqual(
      io2.lines.filter((l) => l.startsWith('ERR')),
      [],
    );
    let asked = false;
    const off = {
      ...deps(fresh()),
      dkim: async () => {
        asked = true;
        return { selectorsFrom: 'defaults' as const, lookups: [] };
      },
    };
    assert.equal(
      await runAdd('example.org', add({ subdomain: ['mail'], dane: false }), capture(), off),
      0,
    );
    assert.equal(asked, false);
  });

  it('refused for an insecure zone, and nothing is written', async () => {
    const d = deps(fresh(), {
      zones: {
        'example.org': {
          zone: 'example.org',
          ok: false,
          reason: 'zone example.org has no secure chain of trust (chain insecure)',
          fix: 'sign it',
        },
      },
    });
    const e = await rejects(runAdd('example.org', add({ subdomain: ['mail'] }), capture(), d));
    assert.equal(e.code, 'E_DOMAIN_DNSSEC');
    const s = openState(join(d.env.DANEKEEPER_STATE_DIR!, 'state.db'));
    assert.deepEqual(s.domains.list(), []);
    assert.deepEqual(s.events.list(), []);
    s.close();
  });

  it('no MX among the names: refused with the subdomain to add; with --no-dane no mail host', async () => {
    const d = deps(fresh());
    const e = await rejects(runAdd('example.org', add(), capture(), d));
    assert.equal(e.kind, 'usage');
    assert.match(
      e.message,
      /None of example\.org's MX hosts \(mail\.example\.org, backup\.other\.net\).*add --subdomain mail/,
    );
    const none = await rejects(runAdd('nomx.test', add(), capture(), d));
    assert.match(
      none.message,
      /has no MX record.*--mail-host HOST, or add the domain with --no-dane/,
    );
    assert.equal(
      await runAdd('example.org', add({ dane: false, subdomain: ['www'] }), capture(), d),
      0,
    );
    const s = openState(join(d.env.DANEKEEPER_STATE_DIR!, 'state.db'));
    assert.deepEqual(s.domains.get('example.org')?.mailHosts, []);
    assert.deepEqual(s.domains.get('example.org')?.endpoints, []);
    s.close();
    assert.deepEqual(d.checked, [], 'no DNSSEC check without DANE');
  });

  it('an explicit --mail-host wins over MX, and must be among the names', async () => {
    const d = deps(fresh(), { resolver: new StaticResolver({}, { missing: 'indeterminate' }) });
    assert.equal(
      await runAdd(
        'example.org',
        add({ subdomain: ['mx'], mailHost: ['mx'], dane: false }),
        capture(),
        d,
      ),
      0,
    );
    const e = await rejects(
      runAdd('b.test', add({ mailHost: ['mail.b.test'], dane: false }), capture(), d),
    );
    assert.match(
      e.message,
      /--mail-host mail\.b\.test is not among the certificate's names \(b\.test\): add --subdomain mail/,
    );
  });

  it('daneEnabled = false: --dane and enable-dane refused; the default is off', async () => {
    const cfg = join(dir, 'off.ini');
    writeFileSync(cfg, '[ext-sslit]\ndaneEnabled = false\n');
    const d = deps(fresh(), { config: cfg });
    const e = await rejects(
      runAdd('example.org', add({ dane: true, subdomain: ['mail'] }), capture(), d),
    );
    assert.equal(e.code, 'E_DOMAIN_DANE_DISABLED');
    assert.match(e.message, /daneEnabled = false in \[ext-sslit\] of .*off\.ini\)$/);
    assert.equal(await runAdd('example.org', add({ subdomain: ['mail'] }), capture(), d), 0);
    assert.deepEqual(d.checked, []);
    const e2 = await rejects(runDane('example.org', true, {}, capture(), d));
    assert.equal(e2.code, 'E_DOMAIN_DANE_DISABLED');
  });

  it("daneEnabled off in the panel's settings (over an INI that has it on): --dane and enable-dane refused, the default is off", async () => {
    const d = deps(fresh());
    await runAdd('a.example', add({ subdomain: ['mail'], dane: false }), capture(), d);
    const users = openUsersStore(join(d.env.DANEKEEPER_STATE_DIR!, 'state.db'));
    users.setSettings({ daneEnabled: false }, new Date());
    users.close();
    const e = await rejects(
      runAdd('example.org', add({ dane: true, subdomain: ['mail'] }), capture(), d),
    );
    assert.equal(e.code, 'E_DOMAIN_DANE_DISABLED');
    assert.match(e.message, /settings an admin changed in the panel or the API/);
    assert.equal(await runAdd('example.org', add({ subdomain: ['mail'] }), capture(), d), 0);
    const s = openState(join(d.env.DANEKEEPER_STATE_DIR!, 'state.db'));
    assert.equal(s.domains.get('example.org')?.dane, false, 'the default follows the override');
    s.close();
    const e2 = await rejects(runDane('example.org', true, {}, capture(), d));
    assert.equal(e2.code, 'E_DOMAIN_DANE_DISABLED');
    assert.deepEqual(d.checked, [], 'refused before any DNS lookup');
  });

  it('enable-dane checks the zones, disable-dane does not; both logged', async () => {
    const d = deps(fresh());
    await runAdd('example.org', add({ subdomain: ['mail'], dane: false }), capture(), d);
    assert.deepEqual(d.checked, []);
    const io = capture();
    assert.equal(await runDane('example.org', true, {}, io, d), 0);
    assert.deepEqual(d.checked, ['example.org', 'mail.example.org']);
    assert.match(io.lines.join('\n'), /_25\._tcp\.mail\.example\.org/);
    assert.equal(await runDane('example.org', false, {}, capture(), d), 0);
    const s = openState(join(d.env.DANEKEEPER_STATE_DIR!, 'state.db'));
    assert.deepEqual(
      s.events.list({ domain: 'example.org' }).map((x) => x.kind),
      ['domain-added', 'dane-enabled', 'dane-disabled'],
    );
    assert.equal(s.domains.get('example.org')?.dane, false);
    s.close();
  });
});

describe('danekeeper domain (CLI, no server)', () => {
  const env = (stateDir: string) => ({
    DANEKEEPER_STATE_DIR: stateDir,
    DANEKEEPER_CONFIG: '/dev/null',
  });

  it('add --no-dane, list, show --json without secrets, remove; errors are one line with their exit status', () => {
    const sd = fresh();
    const e = env(sd);
    const a = runCli(
      [
        'domain',
        'add',
        'Example.org',
        '--subdomain',
        'mail',
        '--mail-host',
        'mail',
        '--no-dane',
        '--endpoint',
        'mail.example.org:465',
        '--reload',
        'systemctl reload "postfix@-"',
        '--key-type',
        'rsa-3072',
        '--new-key-each-renewal',
        '--issuer-records',
        '--challenge',
        'dns-01',
      ],
      { env: e },
    );
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^Added example\.org\./);
    // a key in the store: show --json must not carry its PEM
    const s = openState(join(sd, 'state.db'));
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    s.keys.add(
      {
        domain: 'example.org',
        role: 'current',
        type: 'rsa-3072',
        privateKeyPem: pem,
        spkiSha256: 'ab'.repeat(32),
      },
      new Date(),
    );
    s.close();
    const show = runCli(['domain', 'show', 'example.org', '--json'], { env: e });
    assert.equal(show.code, 0, show.stderr);
    assert.ok(!show.stdout.includes('PRIVATE'));
    const j = JSON.parse(show.stdout) as Record<string, unknown>;
    assert.deepEqual(j.names, ['example.org', 'mail.example.org']);
    assert.deepEqual(j.reload, [['systemctl', 'reload', 'postfix@-']]);
    assert.equal(j.keyType, 'rsa-3072');
    assert.equal(j.newKeyEachRenewal, true);
    assert.equal(j.issuerRecords, true);
    assert.equal(j.challenge, 'dns-01');
    assert.equal(j.dane, false);
    assert.equal(j.certificate, null);
    assert.deepEqual(
      (j.keys as { spkiSha256: string }[]).map((k) => k.spkiSha256),
      ['ab'.repeat(32)],
    );
    assert.deepEqual(
      (j.endpoints as { port: number }[]).map((x) => x.port),
      [25, 465],
    );
    const list = runCli(['domain', 'list', '--json'], { env: e });
    assert.deepEqual(
      (JSON.parse(list.stdout) as { domains: { name: string }[] }).domains.map((d) => d.name),
      ['example.org'],
    );
    assert.ok(!list.stdout.includes('PRIVATE'));
    assert.match(
      runCli(['domain', 'list'], { env: e }).stdout,
      /^DOMAIN +DANE +MAIL HOST +CERTIFICATE\nexample\.org +off +mail\.example\.org +none yet\n$/,
    );
    const human = runCli(['domain', 'show', 'example.org'], { env: e });
    assert.match(human.stdout, /keys: +current rsa-3072 3 1 1 (ab){32}/);
    assert.ok(!human.stdout.includes('PRIVATE'));

    const again = runCli(['domain', 'add', 'example.org', '--no-dane', '--mail-host', 'mail'], {
      env: e,
    });
    assert.equal(again.code, 64);
    assert.match(again.stderr, /^danekeeper: example\.org is managed already: .*\n$/);

    const rm = runCli(['domain', 'remove', 'example.org'], { env: e });
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /Left in place: the files in .*live\/example\.org/);
    assert.equal(runCli(['domain', 'show', 'example.org'], { env: e }).code, 64);
    assert.match(runCli(['domain', 'list'], { env: e }).stdout, /^No managed domains/);
  });

  it('usage errors are 64 and write nothing; list on a missing database creates none', () => {
    const sd = fresh();
    const e = env(sd);
    const cases: [string[], RegExp][] = [
      [
        ['domain', 'add', 'localhost', '--no-dane'],
        /not a domain name a certificate can be issued for/,
      ],
      [
        ['domain', 'add', 'a.test', '--key-type', 'ed25519', '--no-dane'],
        /--key-type "ed25519" must be one of ec-p256/,
      ],
      [
        ['domain', 'add', 'a.test', '--challenge', 'tls-alpn-01', '--no-dane'],
        /--challenge "tls-alpn-01"/,
      ],
      [
        ['domain', 'add', 'a.test', '--no-domain-name', '--no-dane'],
        /--no-domain-name leaves the certificate without names/,
      ],
      [['domain', 'add', 'a.test', '--endpoint', 'a.test', '--no-dane'], /HOST:PORT/],
      [
        ['domain', 'add', 'a.test', '--reload', '', '--no-dane', '--mail-host', 'a.test'],
        /--reload "" names no command/,
      ],
      [['domain', 'enable-dane', 'a.test'], /a\.test is not a managed domain/],
      [['domain', 'frobnicate'], /unknown command/],
    ];
    for (const [args, re] of cases) {
      const r = runCli(args, { env: e });
      assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.equal(runCli(['domain', 'list'], { env: e }).code, 0);
    assert.equal(existsSync(join(sd, 'state.db')), false);
  });

  it('a bad daneEnabled is a config error (78) naming the key; daneEnabled = false refuses --dane in one line', () => {
    const bad = join(dir, 'bad.ini');
    writeFileSync(bad, '[ext-sslit]\ndaneEnabled = yes\n');
    const r = runCli(['domain', 'list', '--config', bad], { env: env(fresh()) });
    assert.equal(r.code, 78);
    assert.equal(r.stderr, `danekeeper: ${bad}: ext-sslit.daneEnabled: must be true or false\n`);
    const off = join(dir, 'off2.ini');
    writeFileSync(off, '[ext-sslit]\ndaneEnabled = false\n');
    const d = runCli(['domain', 'add', 'a.test', '--dane', '--config', off], { env: env(fresh()) });
    assert.equal(d.code, 64);
    assert.match(
      d.stderr,
      /^danekeeper: Cannot add a\.test with --dane: DANE is turned off on this server \(daneEnabled = false in \[ext-sslit\] of .*\)\n$/,
    );
  });

  it('remove and disable-dane wait for no pass: a held lease is refused with 75', () => {
    const sd = fresh();
    const e = env(sd);
    assert.equal(
      runCli(['domain', 'add', 'a.test', '--no-dane', '--mail-host', 'a.test'], { env: e }).code,
      0,
    );
    const s = openState(join(sd, 'state.db'));
    assert.ok(s.rollover.acquireLease('a.test', 'run-4242', 60_000));
    const r = runCli(['domain', 'remove', 'a.test'], { env: e });
    assert.equal(r.code, 75, r.stderr);
    assert.match(
      r.stderr,
      /^danekeeper: Cannot remove a\.test now: a keep-secured pass \(run-4242\) is working on it until .*; try again when it is done\n$/,
    );
    assert.ok(s.domains.get('a.test'), 'still there');
    const off = runCli(['domain', 'disable-dane', 'a.test'], { env: e });
    assert.equal(off.code, 0, 'already off: nothing to change, no lease needed');
    s.domains.update('a.test', { dane: true }, new Date());
    const busy = runCli(['domain', 'disable-dane', 'a.test'], { env: e });
    assert.equal(busy.code, 75, busy.stderr);
    assert.match(
      busy.stderr,
      /^danekeeper: Cannot disable DANE for a\.test now: a keep-secured pass \(run-4242\)/,
    );
    assert.equal(s.domains.get('a.test')?.dane, true);
    s.rollover.releaseLease('a.test', 'run-4242');
    assert.equal(runCli(['domain', 'remove', 'a.test'], { env: e }).code, 0);
    assert.equal(s.domains.get('a.test'), undefined);
    assert.equal(s.rollover.lease('a.test'), undefined, 'the CLI gave its lease back');
    s.close();
  });

  it('add --dane with an unreachable resolver is 69 and writes nothing', () => {
    const sd = fresh();
    const r = runCli(
      ['domain', 'add', 'a.test', '--mail-host', 'a.test', '--resolver', '127.0.0.1:1'],
      {
        env: env(sd),
      },
    );
    assert.equal(r.code, 69, r.stderr);
    assert.match(
      r.stderr,
      /^danekeeper: Cannot check the domain's DNS: could not prove that resolver 127\.0\.0\.1:1 validates DNSSEC/,
    );
    const s = openState(join(sd, 'state.db'));
    assert.deepEqual(s.domains.list(), []);
    s.close();
  });
  it('add --no-dane finds the mail host through a resolver that does not validate; --dane there is refused', async () => {
    // A resolver that answers MX without AD (it does not validate): enough to name the mail
    // host of a domain without DANE, never enough to judge a zone for DANE.
    const dns = await FakeDnsServer.start((q) =>
      response(q, {
        answers:
          q.type === 'MX' && q.name.replace(/\.$/, '') === 'plain.test'
            ? [
                {
                  type: 'MX',
                  name: q.name,
                  ttl: 300,
                  data: { preference: 10, exchange: 'mail.plain.test' },
                },
              ]
            : [],
      }),
    );
    try {
      const sd = fresh();
      const resolver = ['--resolver', `127.0.0.1:${dns.port}`];
      const plain = await runCliAsync(
        ['domain', 'add', 'plain.test', '--subdomain', 'mail', '--no-dane', ...resolver],
        { env: env(sd) },
      );
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /mail host: +mail\.plain\.test/);
      const dane = await runCliAsync(
        ['domain', 'add', 'dane.test', '--subdomain', 'mail', '--dane', ...resolver],
        { env: env(sd) },
      );
      assert.equal(dane.code, 78, dane.stderr);
      assert.match(dane.stderr, /^danekeeper: Cannot check the domain's DNS: .*does not validate/);
    } finally {
      await dns.close();
    }
  });
});
