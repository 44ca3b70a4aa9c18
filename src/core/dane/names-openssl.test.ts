/**
 * Name matching against the reference: OpenSSL's X509_check_host, which Postfix hands its
 * reference identifiers to with X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, reached through node's
 * `X509Certificate.checkHost` with the same flag. Certificates with generated dNSName SANs and
 * CNs are built from DER; reference names are host names or, as Postfix's `match=.example.com`,
 * a leading dot for "any subdomain".
 *
 * Not generated: trailing dots (danekeeper ignores one on either side, OpenSSL does not) and
 * reference names with empty labels or wildcards (refused before matching).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { before, test } from 'node:test';
import fc from 'fast-check';
import { buildCert, name, OID, rfcTime, sanExtension } from '../../../test/support/der.js';
import { certFromDer } from '../x509/index.js';
import { presentedIds } from './identity.js';
import { matchIds } from './names.js';

let key: KeyObject;
let spki: Buffer;

before(() => {
  const pair = generateKeyPairSync('ed25519');
  key = pair.privateKey;
  spki = pair.publicKey.export({ type: 'spki', format: 'der' });
});

const PRESENTED_LABELS = [
  'mx',
  'a',
  'example',
  'test',
  'EXAMPLE',
  '*',
  'm*',
  '*x',
  'xn--bcher-kva',
  'm_x',
  '',
];
const REFERENCE_LABELS = [
  'mx',
  'a',
  'example',
  'test',
  'Example',
  'xn--bcher-kva',
  'm_x',
  'b-c',
  '-a',
  'a-',
  '7',
];

const presented = fc
  .array(fc.constantFrom(...PRESENTED_LABELS), { minLength: 1, maxLength: 4 })
  .map((l) => l.join('.'))
  .filter((n) => n.length > 0 && !n.endsWith('.'));

const reference = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.constantFrom(...REFERENCE_LABELS), { minLength: 1, maxLength: 4 }),
  )
  .map(([dot, l]) => (dot ? '.' : '') + l.join('.'));

test('matchIds agrees with OpenSSL X509_check_host (no partial wildcards), leading-dot references included', () => {
  fc.assert(
    fc.property(
      fc.array(presented, { maxLength: 3 }),
      fc.array(presented, { maxLength: 2 }),
      fc.array(reference, { minLength: 1, maxLength: 6 }),
      (sans, cns, refs) => {
        const der = buildCert({
          issuer: name([]),
          subject: name(cns.map((v) => [{ oid: OID.cn, type: 'utf8', value: v }])),
          notBefore: rfcTime(new Date('2026-01-01T00:00:00Z')),
          notAfter: rfcTime(new Date('2027-01-01T00:00:00Z')),
          spki,
          extensions: sans.length > 0 ? [sanExtension(sans)] : [],
          signer: key,
        });
        const cert = certFromDer(der);
        const ids = presentedIds(cert);
        for (const ref of refs) {
          const openssl =
            cert.x509.checkHost(ref, { partialWildcards: false, multiLabelWildcards: false }) !==
            undefined;
          assert.equal(
            matchIds(ids, [ref]) !== undefined,
            openssl,
            `SANs ${JSON.stringify(sans)} CNs ${JSON.stringify(cns)} reference ${ref}`,
          );
        }
      },
    ),
    { numRuns: 600 },
  );
});
