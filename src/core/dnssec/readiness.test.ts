import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assessDnssec,
  bindPolicyStanza,
  computeDs,
  keySigningKeys,
  type DnskeyData,
  type DnssecObservations,
} from './index.js';

const KSK: DnskeyData = {
  flags: 257,
  protocol: 3,
  algorithm: 13,
  key: Buffer.from(
    'GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==',
    'base64',
  ),
};
const ZSK: DnskeyData = { ...KSK, flags: 256, key: Buffer.alloc(64, 9) };
const NOW = new Date('2026-01-01T00:00:00Z');
const nowS = NOW.getTime() / 1000;
const DS2 = computeDs('example.net', KSK, 2);

function obs(over: Partial<DnssecObservations> = {}): DnssecObservations {
  return {
    zone: 'example.net',
    parent: 'net',
    keys: [KSK, ZSK],
    servers: [
      { server: 'ns1 (192.0.2.1)', answered: true, dnskeys: 2, soaSigned: true },
      { server: 'ns2 (192.0.2.2)', answered: true, dnskeys: 2, soaSigned: true },
    ],
    signatures: [
      {
        server: 'ns1 (192.0.2.1)',
        covered: 'SOA',
        algorithm: 13,
        keyTag: 1,
        inception: nowS - 86400,
        expiration: nowS + 20 * 86400,
      },
    ],
    parentDs: [DS2],
    resolverDs: [DS2],
    chain: 'secure',
    now: NOW,
    ...over,
  };
}

const codes = (o: DnssecObservations) =>
  assessDnssec(o)
    .findings.map((f) => f.code)
    .sort();

describe('core/dnssec readiness rules', () => {
  it('a signed zone with a matching SHA-256 DS and a secure chain is ready, with no findings', () => {
    const a = assessDnssec(obs());
    assert.equal(a.ready, true);
    assert.equal(a.signing, 'signed');
    assert.deepEqual(a.findings, []);
    assert.deepEqual(
      a.dsMatches.map((m) => m.matchesKey),
      [55648],
    );
    assert.equal(a.registrar.length, 1);
    assert.equal(a.registrar[0]!.keyTag, 55648);
  });

  it('an unsigned zone: the fix is for the software given', () => {
    const o = obs({
      keys: [],
      servers: [{ server: 'ns1', answered: true, dnskeys: 0, soaSigned: false }],
      signatures: [],
      parentDs: [],
      resolverDs: [],
      chain: 'insecure',
    });
    assert.deepEqual(codes(o), ['zone-unsigned']);
    const bind = assessDnssec({ ...o, software: 'bind' }).findings[0]!.fix!;
    assert.ok(bind.includes(bindPolicyStanza('example.net')));
    assert.match(bind, /rndc reconfig/);
    const pdns = assessDnssec({ ...o, software: 'powerdns' }).findings[0]!.fix!;
    assert.match(pdns, /danekeeper dnssec status example\.net --secure/);
  });

  it('a server serving the zone unsigned next to signed ones is named', () => {
    const a = assessDnssec(
      obs({
        servers: [
          { server: 'ns1', answered: true, dnskeys: 2, soaSigned: true },
          { server: 'ns2 (192.0.2.2)', answered: true, dnskeys: 0, soaSigned: false },
        ],
      }),
    );
    assert.equal(a.signing, 'partly');
    assert.equal(a.ready, false);
    const f = a.findings.find((x) => x.code === 'zone-partly-signed')!;
    assert.match(f.message, /^ns2 \(192\.0\.2\.2\) serves example\.net unsigned/);
  });

  it('a SHA-1 DS beside the SHA-256 one is flagged; a stale DS is a warning while another matches', () => {
    const sha1 = computeDs('example.net', KSK, 1);
    const stale = { ...DS2, keyTag: 4242, digest: Buffer.alloc(32, 1) };
    const o = obs({ parentDs: [DS2, sha1, stale], resolverDs: [DS2, sha1, stale] });
    assert.deepEqual(codes(o), ['ds-digest-not-recommended', 'ds-stale']);
    assert.equal(assessDnssec(o).ready, true);
    assert.deepEqual(
      assessDnssec(o).digests.map((d) => [d.digestType, d.delegation]),
      [
        [2, 'must'],
        [1, 'must-not'],
      ],
    );
  });

  it('no DS matching any key is critical, with the DS to replace it', () => {
    const wrong = { ...DS2, digest: Buffer.alloc(32, 1) };
    const a = assessDnssec(obs({ parentDs: [wrong], resolverDs: [wrong], chain: 'bogus' }));
    assert.deepEqual(a.findings.map((f) => f.code).sort(), ['chain-bogus', 'ds-no-match']);
    assert.ok(a.findings.find((f) => f.code === 'ds-no-match')!.fix!.includes(a.registrar[0]!.ds));
  });

  it('a DS on a signed zone without DS at the parent gives the registrar lines', () => {
    const a = assessDnssec(obs({ parentDs: [], resolverDs: [], chain: 'insecure' }));
    assert.deepEqual(
      a.findings.map((f) => f.code),
      ['no-ds'],
    );
    assert.match(a.findings[0]!.message, /^The parent zone net holds no DS/);
    assert.ok(a.findings[0]!.fix!.includes('example.net. IN DS 55648 13 2 '));
    assert.ok(a.findings[0]!.fix!.includes('example.net. IN DNSKEY 257 3 13 '));
  });

  it('RSASHA1 keys MUST NOT sign (RFC 9905); RSASHA512 is NOT RECOMMENDED', () => {
    const rsa1 = { ...KSK, algorithm: 5 };
    const rsa512 = { ...ZSK, algorithm: 10 };
    const c = codes(obs({ keys: [rsa1, rsa512], parentDs: [computeDs('example.net', rsa1, 2)] }));
    assert.ok(c.includes('algorithm-must-not'));
    assert.ok(c.includes('algorithm-not-recommended'));
    assert.ok(c.includes('ds-algorithm-must-not'));
  });

  it('signature expiry: expired is critical, under three days a warning; serial arithmetic', () => {
    const sig = obs().signatures[0]!;
    const expired = obs({ signatures: [{ ...sig, expiration: nowS - 3600 }] });
    assert.deepEqual(codes(expired), ['signature-expired']);
    const soon = obs({ signatures: [{ ...sig, expiration: nowS + 3600 }] });
    assert.deepEqual(codes(soon), ['signature-expiring']);
    const future = obs({ signatures: [{ ...sig, inception: nowS + 3600 }] });
    assert.deepEqual(codes(future), ['signature-not-yet-valid']);
    // RFC 4034 §3.1.5: a time just past 2^32 wraps and is still "in 20 days"
    const wrapNow = new Date((2 ** 32 - 86400) * 1000);
    const wrapped = obs({
      now: wrapNow,
      signatures: [{ ...sig, inception: 2 ** 32 - 2 * 86400, expiration: 19 * 86400 }],
    });
    assert.deepEqual(codes(wrapped), []);
  });

  it('a resolver with another DS set than the parent is a note; an insecure chain despite a DS a warning', () => {
    assert.deepEqual(codes(obs({ resolverDs: [] })), ['ds-cached']);
    assert.deepEqual(codes(obs({ chain: 'insecure' })), ['chain-insecure']);
    assert.equal(assessDnssec(obs({ chain: 'insecure' })).ready, false);
    assert.deepEqual(codes(obs({ parentDs: null })), ['parent-unreachable']);
  });

  it('a zone without a SEP key gives its zone keys as key-signing keys', () => {
    assert.deepEqual(keySigningKeys([ZSK]), [ZSK]);
    assert.deepEqual(keySigningKeys([KSK, ZSK]), [KSK]);
    assert.deepEqual(keySigningKeys([{ ...KSK, flags: 257 | 0x80 }]), []);
  });
});
