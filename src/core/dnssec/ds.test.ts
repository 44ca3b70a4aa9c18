import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  algorithmName,
  canonicalNameWire,
  computeDs,
  digestName,
  formatDnskey,
  formatDs,
  keyTagOf,
  matchDs,
  type DnskeyData,
} from './index.js';

const key = (flags: number, algorithm: number, b64: string): DnskeyData => ({
  flags,
  protocol: 3,
  algorithm,
  key: Buffer.from(b64, 'base64'),
});

// RFC 4034 §5.4 and RFC 4509 §2.3: the same RSASHA1 key, DS with SHA-1 and SHA-256.
const DSKEY = key(
  256,
  5,
  'AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==',
);
// RFC 6605 §6.1 (ECDSA P-256, DS SHA-256) and §6.2 (ECDSA P-384, DS SHA-384).
const P256 = key(
  257,
  13,
  'GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==',
);
const P384 = key(
  257,
  14,
  'xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40',
);

describe('core/dnssec DS computation', () => {
  it('computes the RFC 4034 §5.4 SHA-1 DS and key tag', () => {
    const ds = computeDs('dskey.example.com.', DSKEY, 1);
    assert.equal(ds.keyTag, 60485);
    assert.equal(
      ds.digest.toString('hex').toUpperCase(),
      '2BB183AF5F22588179A53B0A98631FAD1A292118',
    );
  });

  it('computes the RFC 4509 §2.3 SHA-256 DS', () => {
    const ds = computeDs('dskey.example.com', DSKEY, 2);
    assert.equal(
      formatDs('dskey.example.com', ds),
      'dskey.example.com. IN DS 60485 5 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A',
    );
  });

  it('computes the RFC 6605 §6 ECDSA DS records (SHA-256 and SHA-384)', () => {
    const a = computeDs('example.net.', P256, 2);
    assert.equal(a.keyTag, 55648);
    assert.equal(
      a.digest.toString('hex'),
      'b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17',
    );
    const b = computeDs('example.net.', P384, 4);
    assert.equal(b.keyTag, 10771);
    assert.equal(
      b.digest.toString('hex'),
      '72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0563a9b5f4d288405c3008a946df983d6',
    );
  });

  it('hashes the owner in canonical form: case does not change the digest', () => {
    const a = computeDs('Example.NET', P256, 2);
    const b = computeDs('example.net.', P256, 2);
    assert.ok(a.digest.equals(b.digest));
    assert.deepEqual([...canonicalNameWire('A.b')], [1, 0x61, 1, 0x62, 0]);
    assert.deepEqual([...canonicalNameWire('.')], [0]);
    assert.deepEqual([...canonicalNameWire('a\\.b.c')], [3, 0x61, 0x2e, 0x62, 1, 0x63, 0]);
    assert.deepEqual([...canonicalNameWire('\\065')], [1, 0x61, 0]);
  });

  it('refuses digest types it cannot compute and malformed names', () => {
    assert.throws(() => computeDs('example.net', P256, 3), { code: 'E_DNSSEC_DIGEST' });
    assert.throws(() => canonicalNameWire('a..b'), { code: 'E_DNSSEC_NAME' });
    assert.throws(() => canonicalNameWire(`${'a'.repeat(64)}.b`), { code: 'E_DNSSEC_NAME' });
  });

  it('computes the RSA/MD5 key tag from the modulus (RFC 4034 Appendix B.1)', () => {
    const k = key(256, 1, Buffer.from([1, 2, 3, 0xab, 0xcd, 0xef]).toString('base64'));
    assert.equal(keyTagOf(k), 0xabcd);
  });

  it('matches DS records to zone keys and reports the ones that match none', () => {
    const good = computeDs('example.net', P256, 2);
    const sha1 = computeDs('example.net', P256, 1);
    const wrong = { ...good, digest: Buffer.alloc(32, 7) };
    const gost = { ...good, digestType: 3 };
    const m = matchDs('example.net', [good, sha1, wrong, gost], [P256, P384]);
    assert.deepEqual(
      m.map((x) => [x.key ? keyTagOf(x.key) : null, x.checked]),
      [
        [55648, true],
        [55648, true],
        [null, true],
        [null, false],
      ],
    );
    // a key without the Zone Key flag authenticates nothing (RFC 4035 §5.2)
    const notZone = { ...P256, flags: 1 };
    assert.equal(
      matchDs('example.net', [computeDs('example.net', notZone, 2)], [notZone])[0]!.key,
      null,
    );
  });

  it('presents DNSKEY lines and names algorithms and digests', () => {
    assert.equal(
      formatDnskey('example.net', P256),
      `example.net. IN DNSKEY 257 3 13 ${P256.key.toString('base64')}`,
    );
    assert.equal(algorithmName(13), 'ECDSAP256SHA256 (13)');
    assert.equal(algorithmName(99), 'algorithm 99');
    assert.equal(digestName(2), 'SHA-256 (2)');
  });
});
