import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { assessPrereq, prereqExitStatus } from './index.js';
import {
  delegationRule,
  dkimRule,
  dnsBackendRule,
  dnssecRule,
  mxRule,
  starttlsRule,
  worstStatus,
  type PrereqRule,
} from './rules.js';
import type {
  AddressLookup,
  DnssecObservation,
  PrereqObservations,
  PrereqStatus,
} from './types.js';

const KEY = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'der' })
  .toString('base64');
const DS = 'example.org. IN DS 12345 13 2 ABCDEF0123';

const a = (addresses: string[], status: AddressLookup['status'] = 'secure'): AddressLookup => ({
  status,
  rcode: 'NOERROR',
  addresses,
});
const failedLookup: AddressLookup = {
  status: 'indeterminate',
  rcode: null,
  addresses: [],
  why: 'timed out',
};

function dnssecOk(): DnssecObservation {
  return {
    chain: 'secure',
    signing: 'signed',
    ready: true,
    parent: 'org',
    parentDs: [DS],
    findings: [],
    registrar: [
      {
        keyTag: 12345,
        algorithm: 13,
        algorithmName: 'ECDSAP256SHA256',
        digestType: 2,
        digestTypeName: 'SHA-256',
        digest: 'ABCDEF0123',
        ds: DS,
        dnskey: 'example.org. IN DNSKEY 257 3 13 AAAA',
        publicKey: 'AAAA',
        flags: 257,
      },
    ],
    servers: [
      {
        name: 'ns1.example.org',
        address: '192.0.2.53',
        source: 'both',
        outcome: 'answer',
        serial: 7,
      },
      {
        name: 'ns2.example.org',
        address: '192.0.2.54',
        source: 'both',
        outcome: 'answer',
        serial: 7,
      },
    ],
  };
}

/** Everything met: the baseline every row of the tables changes one thing of. */
function good(): PrereqObservations {
  return {
    domain: 'example.org',
    zone: 'example.org',
    mx: {
      status: 'secure',
      rcode: 'NOERROR',
      records: [{ preference: 10, exchange: 'mail.example.org' }],
    },
    mailHostFrom: 'mx',
    mailHosts: [{ name: 'mail.example.org', preference: 10, a: a(['192.0.2.25']), aaaa: a([]) }],
    server: { addresses: ['192.0.2.25'], from: 'flag' },
    starttls: [
      {
        host: 'mail.example.org',
        address: '192.0.2.25',
        port: 25,
        outcome: 'tls',
        detail: 'TLSv1.3 TLS_AES_256_GCM_SHA384',
      },
    ],
    dkim: {
      selectorsFrom: 'defaults',
      lookups: [
        {
          selector: 'default',
          name: 'default._domainkey.example.org',
          outcome: 'found',
          status: 'secure',
          values: [`v=DKIM1; k=rsa; p=${KEY}`],
        },
        {
          selector: 'mail',
          name: 'mail._domainkey.example.org',
          outcome: 'none',
          status: 'secure',
          values: [],
        },
      ],
    },
    backend: {
      state: 'reachable',
      describe: 'rfc2136 at 192.0.2.53:53',
      zone: 'example.org.',
      serial: 7,
    },
    dnssec: dnssecOk(),
  };
}

interface Row {
  name: string;
  change: (o: PrereqObservations) => void;
  status: PrereqStatus;
  message?: RegExp;
  fix?: RegExp;
}

function table(rule: PrereqRule, rows: Row[]) {
  for (const r of rows) {
    test(r.name, () => {
      const o = good();
      r.change(o);
      const f = rule(o);
      assert.equal(f.status, r.status, f.message);
      if (r.message) assert.match(f.message, r.message);
      if (r.fix) assert.match(f.fix ?? '', r.fix);
      if (f.status === 'ok') assert.equal(f.fix, undefined);
      else assert.ok(f.fix || f.status === 'unknown', 'a fix under every failure and warning');
    });
  }
}

describe('every rule is ok on the baseline', () => {
  for (const [n, r] of Object.entries({
    starttlsRule,
    dkimRule,
    dnsBackendRule,
    delegationRule,
    mxRule,
    dnssecRule,
  })) {
    test(n, () => assert.equal(r(good()).status, 'ok', r(good()).message));
  }
  test('assessPrereq: six findings, status ok, exit 0', () => {
    const r = assessPrereq(good(), new Date(0));
    assert.deepEqual(
      r.findings.map((f) => f.requirement),
      ['starttls', 'dkim', 'dns-backend', 'delegation', 'mx', 'dnssec'],
    );
    assert.equal(r.status, 'ok');
    assert.equal(prereqExitStatus(r.status), 0);
    assert.equal(r.checkedAt, '1970-01-01T00:00:00.000Z');
  });
});

describe('worstStatus and the exit status', () => {
  const rows: [PrereqStatus[], PrereqStatus, number][] = [
    [[], 'ok', 0],
    [['ok', 'warn'], 'warn', 1],
    [['warn', 'unknown'], 'unknown', 3],
    [['unknown', 'fail', 'warn'], 'fail', 2],
  ];
  for (const [all, w, code] of rows) {
    test(`${all.join(',') || '(none)'} -> ${w}, exit ${code}`, () => {
      assert.equal(worstStatus(all), w);
      assert.equal(prereqExitStatus(w), code);
    });
  }
});

describe('starttls rule (RFC 7672 §1.3, RFC 3207)', () => {
  const outcome = (
    o: PrereqObservations,
    x: PrereqObservations['starttls'][0]['outcome'],
    detail: string,
  ) => {
    o.starttls[0]!.outcome = x;
    o.starttls[0]!.detail = detail;
  };
  table(starttlsRule, [
    {
      name: 'STARTTLS not offered: fail, fix names smtpd_tls_security_level',
      change: (o) => outcome(o, 'no-starttls', '192.0.2.25:25 does not offer STARTTLS'),
      status: 'fail',
      message: /does not offer STARTTLS/,
      fix: /smtpd_tls_security_level = may/,
    },
    {
      name: 'connection refused: fail, fix says start the server',
      change: (o) =>
        outcome(o, 'connect-failed', 'Connecting to 192.0.2.25:25 failed: connection refused'),
      status: 'fail',
      fix: /Start the mail server on 192\.0\.2\.25 port 25/,
    },
    {
      name: 'handshake failed: fail',
      change: (o) => outcome(o, 'tls-failed', 'TLS handshake failed'),
      status: 'fail',
      fix: /certificate and key/,
    },
    {
      name: 'timeout: unknown (a firewall that drops looks like a dead host)',
      change: (o) => outcome(o, 'timeout', 'timed out'),
      status: 'unknown',
    },
    {
      name: 'no mail host: unknown',
      change: (o) => {
        o.mailHosts = [];
        o.starttls = [];
      },
      status: 'unknown',
      message: /No mail host to probe/,
    },
    {
      name: 'a host whose address lookups failed: unknown',
      change: (o) => {
        o.mailHosts[0]!.a = failedLookup;
        o.mailHosts[0]!.aaaa = failedLookup;
        o.starttls = [];
      },
      status: 'unknown',
    },
    {
      name: 'one of two addresses fails: fail',
      change: (o) => {
        o.starttls.push({
          ...o.starttls[0]!,
          address: '2001:db8::25',
          outcome: 'no-starttls',
          detail: 'no STARTTLS',
        });
      },
      status: 'fail',
      message: /2001:db8::25/,
    },
    {
      name: '--mail-host: an MX host without address that was not probed does not count',
      change: (o) => {
        o.mailHostFrom = 'flag';
        o.mailHosts.push({ name: 'backup.example.net', preference: 20, a: a([]), aaaa: a([]) });
      },
      status: 'ok',
    },
  ]);
});

describe('dkim rule (RFC 6376 §3.6.1)', () => {
  const at = (o: PrereqObservations, values: string[]) => {
    o.dkim.lookups[0]!.values = values;
  };
  table(dkimRule, [
    {
      name: 'no key at any default selector: fail, fix shows the record',
      change: (o) => {
        o.dkim.lookups[0] = { ...o.dkim.lookups[0]!, outcome: 'none', values: [] };
      },
      status: 'fail',
      message: /No DKIM key at any of the usual selectors \(default and mail\)/,
      fix: /default\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=rsa; p=/,
    },
    {
      name: 'no key at the selector given: fail, names it',
      change: (o) => {
        o.dkim = {
          selectorsFrom: 'flag',
          lookups: [
            {
              selector: 'sel',
              name: 'sel._domainkey.example.org',
              outcome: 'none',
              status: 'secure',
              values: [],
            },
          ],
        };
      },
      status: 'fail',
      message: /No DKIM key at sel\._domainkey\.example\.org/,
    },
    {
      name: 'revoked (empty p=): fail, fix says generate a new key',
      change: (o) => at(o, ['v=DKIM1; k=rsa; p=']),
      status: 'fail',
      message: /revoked/,
      fix: /is revoked \(RFC 6376 §3\.6\.1: empty p=\): generate a new key pair/,
    },
    {
      name: 'garbage key: fail',
      change: (o) => at(o, ['v=DKIM1; k=rsa; p=Zm9vYmFy']),
      status: 'fail',
      message: /not an RSA public key/,
      fix: /copied whole/,
    },
    {
      name: 'a valid key and a revoked one: warn',
      change: (o) => {
        o.dkim.lookups[1] = { ...o.dkim.lookups[1]!, outcome: 'found', values: ['v=DKIM1; p='] };
      },
      status: 'warn',
      message: /selector default\), but mail\._domainkey\.example\.org: p= is empty/,
    },
    {
      name: 'two records at one name: warn (RFC 6376 §3.6.2.2)',
      change: (o) => at(o, [`v=DKIM1; p=${KEY}`, `v=DKIM1; p=${KEY}`]),
      status: 'warn',
      message: /holds 2 TXT records/,
    },
    {
      name: 'lookups failed and nothing found: unknown',
      change: (o) => {
        for (const l of o.dkim.lookups)
          Object.assign(l, {
            outcome: 'failed',
            status: 'indeterminate',
            values: [],
            why: 'timed out',
          });
      },
      status: 'unknown',
      message: /2 of 2 lookups failed: timed out/,
    },
    {
      name: 'one lookup failed but a key was found: ok',
      change: (o) =>
        Object.assign(o.dkim.lookups[1]!, { outcome: 'failed', status: 'indeterminate' }),
      status: 'ok',
    },
    {
      name: 'a bogus lookup beside a valid key: warn',
      change: (o) => Object.assign(o.dkim.lookups[1]!, { status: 'bogus' }),
      status: 'warn',
      message: /mail\._domainkey\.example\.org fails DNSSEC validation/,
    },
    {
      name: 'a bogus TXT RRset: fail',
      change: (o) => Object.assign(o.dkim.lookups[0]!, { status: 'bogus' }),
      status: 'fail',
      message: /default\._domainkey\.example\.org fails DNSSEC validation/,
      fix: /Repair the chain of trust/,
    },
  ]);
});

describe('dns-backend rule (the seed: primary DNS)', () => {
  table(dnsBackendRule, [
    {
      name: 'not configured: fail, fix shows [dns]',
      change: (o) => {
        o.backend = { state: 'not-configured', why: 'The zonefile backend needs --zone-file FILE' };
      },
      status: 'fail',
      fix: /zone = example\.org, backend = rfc2136/,
    },
    {
      name: 'the backend is for another zone: fail',
      change: (o) => {
        o.backend.zone = 'other.org.';
      },
      status: 'fail',
      message: /publishes to zone other\.org, but example\.org is in zone example\.org/,
      fix: /zone = example\.org in \[dns\]/,
    },
    {
      name: 'not authoritative: fail, fix makes it the primary',
      change: (o) => {
        o.backend = { ...o.backend, state: 'failed', code: 'E_PUBLISH_NOTAUTH', why: 'NOTAUTH' };
      },
      status: 'fail',
      fix: /the primary for example\.org/,
    },
    {
      name: 'TSIG refused: fail, fix names the key',
      change: (o) => {
        o.backend = { ...o.backend, state: 'failed', code: 'E_PUBLISH_AUTH', why: 'BADKEY' };
      },
      status: 'fail',
      fix: /tsig-key-file/,
    },
    {
      name: 'unreachable: fail',
      change: (o) => {
        o.backend = {
          ...o.backend,
          state: 'failed',
          code: 'E_PUBLISH_UNREACHABLE',
          why: 'refused',
        };
      },
      status: 'fail',
      fix: /Start the DNS server/,
    },
    {
      name: "the delegated servers never serve the backend's serial: warn",
      change: (o) => {
        o.backend.serial = 9;
      },
      status: 'warn',
      message: /no server in the delegation serves that serial \(7\)/,
    },
    {
      name: 'no serial known (zonefile, powerdns): ok',
      change: (o) => {
        delete o.backend.serial;
      },
      status: 'ok',
    },
  ]);
});

describe('delegation rule (RFC 1034 §4.2.2)', () => {
  const server = (o: PrereqObservations, i: number) => o.dnssec!.servers[i]!;
  table(delegationRule, [
    {
      name: 'a delegated server that is lame: fail',
      change: (o) =>
        Object.assign(server(o, 1), { outcome: 'lame', serial: null, why: 'answered REFUSED' }),
      status: 'fail',
      message:
        /ns2\.example\.org \(192\.0\.2\.54\) is named in the delegation of example\.org but does not serve the zone \(lame\): answered REFUSED/,
      fix: /Make ns2\.example\.org serve example\.org .*or remove it/,
    },
    {
      name: 'a delegated server that does not answer: fail',
      change: (o) => Object.assign(server(o, 0), { outcome: 'unreachable', serial: null }),
      status: 'fail',
      message: /does not answer/,
    },
    {
      name: 'serials differ: warn',
      change: (o) => Object.assign(server(o, 1), { serial: 6 }),
      status: 'warn',
      message: /different SOA serials \(7 and 6\)/,
    },
    {
      name: 'NS RRset and delegation differ: warn',
      change: (o) => Object.assign(server(o, 1), { source: 'parent' }),
      status: 'warn',
      message: /ns2\.example\.org only at the parent/,
    },
    {
      name: 'no delegation found: unknown',
      change: (o) => {
        for (const s of o.dnssec!.servers) s.source = 'ns-rrset';
      },
      status: 'unknown',
    },
    {
      name: 'nothing gathered: unknown',
      change: (o) => {
        o.dnssec = null;
        o.dnssecWhy = 'SOA lookup failed';
      },
      status: 'unknown',
      message: /SOA lookup failed/,
    },
  ]);
});

describe("mx rule (the seed: MX to this server's address)", () => {
  table(mxRule, [
    {
      name: 'MX pointing elsewhere: fail, fix shows the records',
      change: (o) => {
        o.mailHosts[0]!.a = a(['198.51.100.7']);
      },
      status: 'fail',
      message:
        /No MX host of example\.org resolves to this server \(192\.0\.2\.25\): mail\.example\.org \(198\.51\.100\.7\)/,
      fix: /example\.org\. IN MX 10 mail\.example\.org\. and mail\.example\.org\. IN A 192\.0\.2\.25/,
    },
    {
      name: 'no MX: fail',
      change: (o) => {
        o.mx.records = [];
        o.mailHosts = [];
      },
      status: 'fail',
      message: /has no MX record/,
    },
    {
      name: 'null MX (RFC 7505): fail',
      change: (o) => {
        o.mx.records = [{ preference: 0, exchange: '.' }];
        o.mailHosts = [];
      },
      status: 'fail',
      message: /null MX/,
    },
    {
      name: 'NXDOMAIN: fail',
      change: (o) => {
        o.mx = { status: 'secure', rcode: 'NXDOMAIN', records: [] };
      },
      status: 'fail',
      message: /does not exist/,
    },
    {
      name: 'MX lookup failed: unknown',
      change: (o) => {
        o.mx = { status: 'indeterminate', rcode: null, records: [], why: 'timed out' };
      },
      status: 'unknown',
      message: /failed: timed out/,
    },
    {
      name: 'MX bogus: fail',
      change: (o) => {
        o.mx.status = 'bogus';
      },
      status: 'fail',
    },
    {
      name: "this server's addresses unknown: unknown, fix says --address",
      change: (o) => {
        o.server = { addresses: [], from: 'interfaces' };
      },
      status: 'unknown',
      fix: /--address/,
    },
    {
      name: 'a second MX host elsewhere: warn',
      change: (o) => {
        o.mx.records.push({ preference: 20, exchange: 'backup.example.net' });
        o.mailHosts.push({
          name: 'backup.example.net',
          preference: 20,
          a: a(['198.51.100.9']),
          aaaa: a([]),
        });
      },
      status: 'warn',
      message:
        /mail\.example\.org \(192\.0\.2\.25\) is this server, but backup\.example\.net \(198\.51\.100\.9\) is not/,
    },
    {
      name: 'the MX host has an address of ours and one elsewhere: warn, names only the other',
      change: (o) => {
        o.mailHosts[0]!.aaaa = a(['2001:db8::99']);
      },
      status: 'warn',
      message: /but mail\.example\.org \(2001:db8::99\) is not/,
    },
    {
      name: "the MX host's address lookups failed: unknown",
      change: (o) => {
        o.mailHosts[0]!.a = failedLookup;
        o.mailHosts[0]!.aaaa = failedLookup;
      },
      status: 'unknown',
    },
    {
      name: 'address records insecure in a secure zone: warn (RFC 7672 §2.2.2)',
      change: (o) => {
        o.mailHosts[0]!.a = a(['192.0.2.25'], 'insecure');
      },
      status: 'warn',
      message: /not DNSSEC-signed/,
    },
    {
      name: '--mail-host that is not an MX: warn',
      change: (o) => {
        o.mailHostFrom = 'flag';
        o.mailHosts.unshift({
          name: 'smtp.example.org',
          preference: null,
          a: a(['192.0.2.25']),
          aaaa: a([]),
        });
      },
      status: 'warn',
      message: /--mail-host smtp\.example\.org is not among them/,
    },
    {
      name: 'IPv6 in another case than --address: still ours',
      change: (o) => {
        o.server.addresses = ['2001:DB8::25'];
        o.mailHosts[0]!.a = a([]);
        o.mailHosts[0]!.aaaa = a(['2001:db8::25']);
      },
      status: 'ok',
    },
  ]);
});

describe('dnssec rule (RFC 6698 §4.1, RFC 4035 §5)', () => {
  const finding = (code: string, message: string, fix?: string) => ({
    severity: 'critical' as const,
    code,
    subject: 'example.org',
    message,
    ...(fix ? { fix } : {}),
  });
  table(dnssecRule, [
    {
      name: 'unsigned: fail with how to sign',
      change: (o) => {
        Object.assign(o.dnssec!, {
          chain: 'insecure',
          signing: 'unsigned',
          ready: false,
          registrar: [],
          findings: [
            finding('zone-unsigned', 'example.org is not signed.', 'dnssec-policy default;'),
          ],
        });
      },
      status: 'fail',
      message: /is not signed/,
      fix: /dnssec-policy/,
    },
    {
      name: 'island (no DS): fail, the DS to give the registrar',
      change: (o) => {
        Object.assign(o.dnssec!, {
          chain: 'insecure',
          ready: false,
          parentDs: [],
          findings: [
            finding('no-ds', 'org holds no DS for example.org.', `Give the registrar:\n${DS}`),
          ],
        });
      },
      status: 'fail',
      fix: /12345 13 2 ABCDEF0123/,
    },
    {
      name: 'bogus with a finding that has no DS in its fix: the DS is appended',
      change: (o) => {
        Object.assign(o.dnssec!, {
          chain: 'bogus',
          ready: false,
          findings: [
            finding('chain-bogus', 'The validating resolver rejects example.org as bogus.'),
          ],
        });
      },
      status: 'fail',
      fix: /Give the registrar of example\.org this DS record:\nexample\.org\. IN DS 12345/,
    },
    {
      name: 'a resolver not proven to validate: unknown, not a failure of the zone',
      change: (o) => {
        o.resolver = {
          validating: false,
          summary: 'WARNING: could not prove that resolver 192.0.2.9:53 validates',
        };
        Object.assign(o.dnssec!, { chain: 'insecure', ready: false, findings: [] });
      },
      status: 'unknown',
      message:
        /not proven to validate DNSSEC.*: could not prove that resolver 192\.0\.2\.9:53 validates/,
      fix: /validating resolver/,
    },
    {
      name: 'a resolver proven to validate: its insecure verdict stands',
      change: (o) => {
        o.resolver = { validating: true, summary: 'validates' };
        Object.assign(o.dnssec!, {
          chain: 'insecure',
          signing: 'unsigned',
          ready: false,
          findings: [
            {
              severity: 'critical',
              code: 'zone-unsigned',
              subject: 'example.org',
              message: 'not signed.',
              fix: 'sign it',
            },
          ],
        });
      },
      status: 'fail',
    },
    {
      name: 'indeterminate chain without a critical finding: unknown',
      change: (o) => {
        Object.assign(o.dnssec!, { chain: 'indeterminate', ready: false, findings: [] });
      },
      status: 'unknown',
    },
    {
      name: 'nothing gathered: unknown',
      change: (o) => {
        o.dnssec = null;
      },
      status: 'unknown',
    },
  ]);
});
