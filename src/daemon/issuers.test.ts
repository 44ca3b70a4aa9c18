import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { issue, tempDir, type Issued } from '../../test/support/pki.js';
import { StaticResolver } from '../io/dns/static-resolver.js';
import { memoryState } from '../store/state.js';
import {
  currentIssuers,
  issuersOfChains,
  mergeIssuers,
  readIssuerBook,
  writeIssuerBook,
} from './issuers.js';
import { RealWorld } from './world.js';

const dir = tempDir('dk-issuers-');
after(() => rmSync(dir, { recursive: true, force: true }));

const spki = (c: Issued) =>
  createHash('sha256')
    .update(new X509Certificate(c.certPem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');

// one leaf under two roots: a cross-signed intermediate (same key) plus a chain-own one above
const rootA = issue(dir, 'root-a', { cn: 'Root A', ca: true, alg: 'p256' });
const rootB = issue(dir, 'root-b', { cn: 'Root B', ca: true, alg: 'p256' });
const upA = issue(dir, 'up-a', { cn: 'Up A', ca: true, alg: 'p256' }, rootA);
const upB = issue(dir, 'up-b', { cn: 'Up B', ca: true, alg: 'p256', notAfterDays: 10 }, rootB);
const midA = issue(dir, 'mid-a', { cn: 'Mid', ca: true, alg: 'p256' }, upA);
const midB = issue(
  dir,
  'mid-b',
  { cn: 'Mid', ca: true, alg: 'p256', keyFile: midA.keyFile, notAfterDays: 10 },
  upB,
);
const leaf = issue(dir, 'leaf', { cn: 'mail.example.org', alg: 'p256' }, midA);
const chainA = leaf.certPem + midA.certPem + upA.certPem;
const chainB = leaf.certPem + midB.certPem + upB.certPem;

test('issuersOfChains: every certificate above the leaf in every chain, once per key', () => {
  const got = issuersOfChains([chainA, chainB]);
  assert.deepEqual(got.map((e) => e.spki).sort(), [spki(midA), spki(upA), spki(upB)].sort());
  // the cross-signed key keeps the later notAfter of its two certificates
  const mid = got.find((e) => e.spki === spki(midA))!;
  assert.equal(mid.notAfter, new Date(new X509Certificate(midA.certPem).validTo).toISOString());
  assert.match(mid.subject, /CN=Mid/);
  assert.deepEqual(issuersOfChains([leaf.certPem]), []);
});

test('mergeIssuers / currentIssuers: a union per key type, expired issuers dropped', () => {
  const now = new Date();
  const b1 = mergeIssuers({}, 'ec-p256', issuersOfChains([chainA]), now);
  const b2 = mergeIssuers(b1, 'ec-p256', issuersOfChains([chainB]), now);
  assert.equal(currentIssuers(b2, 'ec-p256', now).length, 3);
  assert.deepEqual(currentIssuers(b2, 'rsa-2048', now), []);
  // Up B expires in 10 days: gone from the policy then, and from the book at the next merge
  const later = new Date(now.getTime() + 20 * 86400_000);
  assert.deepEqual(currentIssuers(b2, 'ec-p256', later), [spki(midA), spki(upA)].sort());
  assert.equal(mergeIssuers(b2, 'rsa-2048', [], later)['ec-p256']!.length, 2);
  const file = join(dir, 'book.json');
  writeIssuerBook(file, b2);
  assert.deepEqual(readIssuerBook(file), b2);
  assert.deepEqual(readIssuerBook(join(dir, 'none.json')), {});
  writeFileSync(file, '[1]');
  assert.throws(() => readIssuerBook(file), { code: 'E_DAEMON_ISSUERS' });
});

test('the policy of an --issuer-records domain asks for the issuers the book holds for its key type', () => {
  const store = memoryState();
  const d = store.domains.add(
    {
      name: 'example.org',
      includeDomainName: true,
      subdomains: ['mail'],
      mailHosts: ['mail.example.org'],
      endpoints: [{ host: 'mail.example.org', port: 25, proto: 'tcp' }],
      dane: true,
      certDir: join(dir, 'live'),
      reload: [],
      keyType: 'ec-p256',
      newKeyEachRenewal: false,
      issuerRecords: true,
      challenge: null,
    },
    new Date(),
  );
  const accountFile = join(dir, 'acme-account-x.json');
  writeIssuerBook(
    join(dir, 'acme-account-x-issuers.json'),
    mergeIssuers({}, 'ec-p256', issuersOfChains([chainA, chainB]), new Date()),
  );
  const world = new RealWorld({
    store,
    now: () => new Date(),
    publisher: () => null,
    resolver: new StaticResolver({}),
    probe: () => Promise.reject(new Error('no probe')),
    confirmationIntervalHours: 1,
    daneEnabled: true,
    acme: { directory: 'https://127.0.0.1:1/dir', accountFile },
    solver: () => {
      throw new Error('no solver');
    },
  });
  assert.deepEqual(world.policy(d).issuerSpkis, [spki(midA), spki(upA), spki(upB)].sort());
  assert.deepEqual(world.policy({ ...d, issuerRecords: false }).issuerSpkis, []);
  assert.deepEqual(world.policy({ ...d, keyType: 'rsa-2048' }).issuerSpkis, []);
  store.close();
});
