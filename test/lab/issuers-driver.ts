/**
 * Runs inside the lab namespace (callInNetns): the daemon's world ordering a certificate from
 * Pebble (HTTP-01 on its own listener) for a domain with `--issuer-records`, and what Pebble's
 * management interface says its intermediates are. Private keys stay in here.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyState } from '../../src/core/rollover/index.js';
import { RealWorld, generateKey } from '../../src/daemon/world.js';
import { HttpListenerSolver } from '../../src/io/acme/http01.js';
import { makeRequester } from '../../src/io/acme/http.js';
import { StaticResolver } from '../../src/io/dns/static-resolver.js';
import { memoryState } from '../../src/store/state.js';

const spkiOf = (pem: string) =>
  createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');

/** SPKI digests of Pebble's intermediates 0..n-1 (the management interface, RFC-less). */
export async function pebbleIntermediates(management: string, caFile: string, n: number) {
  const req = makeRequester({ ca: readFileSync(caFile, 'utf8') });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(spkiOf((await req('GET', `${management}/intermediates/${i}`)).body.toString()));
  }
  return out;
}

/** Subjects of Pebble's roots 0..n-1: one per chain it offers. */
export async function pebbleRootSubjects(management: string, caFile: string, n: number) {
  const req = makeRequester({ ca: readFileSync(caFile, 'utf8') });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(new X509Certificate((await req('GET', `${management}/roots/${i}`)).body).subject);
  }
  return out;
}

export async function orderWithIssuerRecords(o: {
  directory: string;
  caFile: string;
  name: string;
  listen: string;
  dir: string;
}) {
  const store = memoryState();
  const d = store.domains.add(
    {
      name: o.name,
      includeDomainName: true,
      subdomains: [],
      mailHosts: [o.name],
      endpoints: [{ host: o.name, port: 25, proto: 'tcp' }],
      dane: true,
      certDir: join(o.dir, 'live'),
      reload: [],
      keyType: 'ec-p256',
      newKeyEachRenewal: false,
      issuerRecords: true,
      challenge: 'http-01',
    },
    new Date(),
  );
  const world = new RealWorld({
    store,
    now: () => new Date(),
    publisher: () => null,
    resolver: new StaticResolver({}),
    probe: () => Promise.reject(new Error('no probe in this test')),
    confirmationIntervalHours: 0.001,
    daneEnabled: true,
    acme: {
      directory: o.directory,
      accountFile: join(o.dir, 'acme-account-lab.json'),
      ca: readFileSync(o.caFile, 'utf8'),
      pollLimitSeconds: 60,
    },
    solver: () => new HttpListenerSolver(o.listen),
  });
  const before = world.policy(d).issuerSpkis;
  const k = generateKey('ec-p256');
  store.keys.add(
    {
      id: `${o.name}#k1`,
      domain: o.name,
      role: 'current',
      type: 'ec-p256',
      privateKeyPem: k.pem,
      spkiSha256: k.spki,
    },
    new Date(),
  );
  const s = emptyState();
  s.keys.current = { id: `${o.name}#k1`, keyType: 'ec-p256', spki: k.spki };
  await world.execute(
    d,
    { kind: 'orderCertificate', certId: `${o.name}#c1`, keyId: `${o.name}#k1` },
    s,
    world.policy(d),
  );
  const cert = store.certificates.get(`${o.name}#c1`)!;
  // a later pass (a new world, as the next `run`) reads the book from the file
  const next = new RealWorld({
    ...{
      store,
      now: () => new Date(),
      publisher: () => null,
      resolver: new StaticResolver({}),
      probe: () => Promise.reject(new Error('no probe')),
      confirmationIntervalHours: 0.001,
      daneEnabled: true,
      acme: { directory: o.directory, accountFile: join(o.dir, 'acme-account-lab.json') },
      solver: () => new HttpListenerSolver(o.listen),
    },
  });
  const defaultIssuers = cert.chainPem
    .split(/(?=-----BEGIN CERTIFICATE-----)/)
    .filter((c) => c.includes('BEGIN'))
    .slice(1)
    .map(spkiOf);
  const out = {
    before,
    after: next.policy(d).issuerSpkis,
    withoutIssuerRecords: next.policy({ ...d, issuerRecords: false }).issuerSpkis,
    rsa: next.policy({ ...d, keyType: 'rsa-2048' }).issuerSpkis,
    defaultIssuers,
    book: JSON.parse(readFileSync(join(o.dir, 'acme-account-lab-issuers.json'), 'utf8')) as unknown,
  };
  store.close();
  return out;
}
