import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { issue, openssl, tempDir } from '../../../test/support/pki.js';
import { certFromDer } from '../x509/index.js';
import { presentedIds } from './identity.js';
import { effectiveIds, isReferenceName, matchIds, matchName, normalizeName } from './names.js';

describe('matchName (RFC 6125 §6.4)', () => {
  // [presented, reference, expected, why]
  const table: [string, string, boolean, string][] = [
    ['mx.example.test', 'mx.example.test', true, 'exact'],
    ['MX.Example.TEST', 'mx.example.test', true, 'case-insensitive (§6.4.1)'],
    ['mx.example.test', 'MX.EXAMPLE.TEST', true, 'case-insensitive reference'],
    ['mx.example.test.', 'mx.example.test', true, 'trailing dot on the presented name'],
    ['mx.example.test', 'mx.example.test.', true, 'trailing dot on the reference'],
    ['mx.example.test', 'mx2.example.test', false, 'different first label'],
    ['mx.example.test', 'example.test', false, 'parent is not a match'],
    ['example.test', 'mx.example.test', false, 'child is not a match'],
    ['*.example.test', 'mx.example.test', true, 'wildcard is one whole left-most label (§6.4.3)'],
    ['*.EXAMPLE.test', 'Mx.example.TEST.', true, 'wildcard, mixed case, trailing dot'],
    ['*.example.test', 'a.b.example.test', false, 'wildcard matches exactly one label'],
    ['*.example.test', 'example.test', false, 'wildcard does not match the base domain'],
    ['m*.example.test', 'mx.example.test', false, 'partial-label wildcard is not honoured'],
    [
      '*x.example.test',
      'mx.example.test',
      false,
      'partial-label wildcard (suffix) is not honoured',
    ],
    ['mx.*.test', 'mx.example.test', false, 'wildcard not in the left-most label'],
    ['*.*.test', 'a.example.test', false, 'two wildcards'],
    ['*.test', 'example.test', false, 'wildcard over a whole TLD (§7.2)'],
    ['*', 'test', false, 'bare wildcard'],
    ['*.example.test', '*.example.test', false, 'a reference identifier is never a pattern'],
    [
      '*.example.test',
      'm_x.example.test',
      false,
      'wildcard stands for a letters-digits-hyphens label',
    ],
    ['*.example.test', 'xn--bcher-kva.example.test', true, 'an A-label is an ordinary label'],
    [
      '*.m_x.example.test',
      'mx.m_x.example.test',
      false,
      'a wildcard over a non-host label (OpenSSL)',
    ],
    ['*.a-.example.test', 'mx.a-.example.test', false, 'a wildcard over a label ending in -'],
    ['mx..example.test', 'mx..example.test', false, 'empty labels never match'],
    ['', 'mx.example.test', false, 'empty presented name'],
    ['mx.example.test', '', false, 'empty reference'],
    // A leading dot: any subdomain (Postfix match=, OpenSSL X509_check_host).
    ['mx.example.test', '.example.test', true, 'leading dot: one label below'],
    ['a.b.example.test', '.example.test', true, 'leading dot: several labels below'],
    ['example.test', '.example.test', false, 'leading dot: never the name itself'],
    ['xexample.test', '.example.test', false, 'leading dot: only at a label boundary'],
    ['MX.Example.TEST', '.EXAMPLE.test.', true, 'leading dot: case and trailing dot as usual'],
    ['*.example.test', '.example.test', true, 'leading dot: a wildcard matches by suffix'],
    ['m*.example.test', '.example.test', true, 'leading dot: OpenSSL does not judge the prefix'],
    ['*.test', '.example.test', false, 'leading dot: a wildcard above does not'],
    ['mx.example.test', '.mx.example.test', false, 'leading dot: the name is not its subdomain'],
    ['mx.example.test', '.test', true, 'leading dot under a TLD (Postfix allows it)'],
    ['mx.example.test', '.', false, 'a lone dot is no reference'],
    ['mx.example.test', '..example.test', false, 'leading dot then an empty label'],
    ['mx.example.test', '.*.test', false, 'leading dot then a wildcard'],
  ];
  for (const [p, r, want, why] of table) {
    test(`${JSON.stringify(p)} vs ${JSON.stringify(r)}: ${want} (${why})`, () => {
      assert.equal(matchName(p, r), want);
    });
  }
});

describe('reference names', () => {
  test('normalizeName lower-cases and drops one trailing dot', () => {
    assert.equal(normalizeName('MX.Example.Test.'), 'mx.example.test');
    assert.equal(normalizeName(' mx.example.test '), 'mx.example.test');
  });
  test('isReferenceName rejects patterns, empty labels and blanks', () => {
    assert.equal(isReferenceName('mx.example.test'), true);
    assert.equal(isReferenceName('mx.example.test.'), true);
    assert.equal(isReferenceName('*.example.test'), false);
    assert.equal(isReferenceName('mx..example.test'), false);
    assert.equal(isReferenceName(''), false);
    assert.equal(isReferenceName('a b.test'), false);
    assert.equal(isReferenceName(`${'a'.repeat(64)}.test`), false);
    assert.equal(isReferenceName('.example.test'), true);
    assert.equal(isReferenceName('.example.test.'), true);
    assert.equal(isReferenceName('.'), false);
    assert.equal(isReferenceName('..example.test'), false);
    assert.equal(isReferenceName('.*.example.test'), false);
  });
});

describe('matchIds: DNS-IDs first, CN-ID only without any (RFC 6125 §6.4.4)', () => {
  test('the CN is ignored when there is a DNS SAN', () => {
    const ids = { dns: ['other.example.test'], cn: ['mx.example.test'] };
    assert.equal(matchIds(ids, ['mx.example.test']), undefined);
    assert.deepEqual(effectiveIds(ids), { kind: 'DNS', names: ['other.example.test'] });
  });
  test('the CN counts when there is no DNS SAN, wildcards included', () => {
    assert.deepEqual(
      matchIds({ dns: [], cn: ['*.example.test'] }, ['nope.test', 'mx.example.test']),
      {
        presented: '*.example.test',
        reference: 'mx.example.test',
      },
    );
  });
  test('any of several names against any of several references', () => {
    const ids = { dns: ['a.example.test', 'b.example.test'], cn: [] };
    assert.deepEqual(matchIds(ids, ['x.test', 'B.example.test.']), {
      presented: 'b.example.test',
      reference: 'B.example.test.',
    });
    assert.equal(matchIds(ids, []), undefined);
  });
});

describe('presentedIds reads SANs and CNs from the DER', () => {
  let dir: string;
  before(() => {
    dir = tempDir();
  });

  test('DNS SANs in order, CN kept apart', () => {
    const c = issue(dir, 'sans', {
      cn: 'mx.example.test',
      dnsNames: ['mx.example.test', '*.example.test', 'Other.Example.Test'],
    });
    const ids = presentedIds(certFromDer(c.der));
    assert.deepEqual(ids, {
      dns: ['mx.example.test', '*.example.test', 'Other.Example.Test'],
      cn: ['mx.example.test'],
    });
  });

  test('no SAN extension: CN only', () => {
    const c = issue(dir, 'ca', { cn: 'Test CA', ca: true });
    assert.deepEqual(presentedIds(certFromDer(c.der)), { dns: [], cn: ['Test CA'] });
  });

  test('IP and e-mail SANs are not DNS-IDs; several CNs are all read', () => {
    const key = `${dir}/multi.key`;
    openssl(['genpkey', '-algorithm', 'ED25519', '-out', key]);
    const pem = openssl([
      'req',
      '-x509',
      '-key',
      key,
      '-subj',
      '/CN=first.example.test/O=Org, Inc./CN=second.example.test',
      '-multivalue-rdn',
      '-days',
      '1',
      '-addext',
      'subjectAltName=IP:192.0.2.1,email:a@example.test,DNS:dns.example.test',
    ]);
    const der = Buffer.from(new X509Certificate(pem).raw);
    assert.deepEqual(presentedIds(certFromDer(der)), {
      dns: ['dns.example.test'],
      cn: ['first.example.test', 'second.example.test'],
    });
  });

  test('agrees with node checkHost when partial wildcards are off', () => {
    const c = issue(dir, 'agree', { cn: 'x', dnsNames: ['*.example.test', 'mx.other.test'] });
    const cert = certFromDer(c.der);
    const ids = presentedIds(cert);
    for (const ref of [
      'mx.example.test',
      'a.b.example.test',
      'example.test',
      'mx.other.test',
      'x',
    ]) {
      const node =
        cert.x509.checkHost(ref, { partialWildcards: false, multiLabelWildcards: false }) !==
        undefined;
      assert.equal(matchIds(ids, [ref]) !== undefined, node, ref);
    }
  });
});
