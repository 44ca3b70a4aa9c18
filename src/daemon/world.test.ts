import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { emptyState, type RolloverState } from '../core/rollover/index.js';
import { DkError } from '../core/errors.js';
import { StaticResolver } from '../io/dns/static-resolver.js';
import type { Publisher } from '../publish/types.js';
import { formatRdata, parseTlsa } from '../core/tlsa/index.js';
import { memoryState } from '../store/state.js';
import type { Domain } from '../store/domains.js';
import { generateKey, ownersOf, RealWorld } from './world.js';

const T0 = new Date('2026-03-01T00:00:00.000Z');

function setup(dane = true) {
  const store = memoryState();
  const d = store.domains.add(
    {
      name: 'example.org',
      includeDomainName: true,
      subdomains: ['mail'],
      mailHosts: ['mail.example.org'],
      endpoints: [{ host: 'mail.example.org', port: 25, proto: 'tcp' }],
      dane,
      certDir: '/nonexistent/dk-live',
      reload: [],
      keyType: 'ec-p256',
      newKeyEachRenewal: false,
      issuerRecords: false,
      challenge: null,
    },
    T0,
  );
  const world = new RealWorld({
    store,
    now: () => T0,
    publisher: () => null,
    resolver: new StaticResolver({}),
    probe: () => Promise.reject(new Error('no probe in this test')),
    confirmationIntervalHours: 0.5,
    daneEnabled: true,
    acme: { directory: 'https://127.0.0.1:1/dir', accountFile: '/nonexistent/acct.json' },
    solver: () => {
      throw new Error('no solver in this test');
    },
  });
  return { store, d, world };
}

test('ownersOf: the TLSA owner of every endpoint (RFC 6698 §3)', () => {
  const { d } = setup();
  assert.deepEqual(
    ownersOf({
      ...d,
      endpoints: [...d.endpoints, { host: 'www.example.org', port: 443, proto: 'tcp' }],
    }),
    ['_25._tcp.mail.example.org.', '_443._tcp.www.example.org.'],
  );
});

test('policy: DANE off (per domain or server-wide) means no owners; the interval comes from the config', () => {
  const { d, world } = setup();
  assert.deepEqual(world.policy(d).owners, ['_25._tcp.mail.example.org.']);
  assert.equal(world.policy(d).confirmationIntervalHours, 0.5);
  assert.deepEqual(world.policy({ ...d, dane: false } as Domain).owners, []);
});

test('generateKey: node:crypto keys of each type, the SPKI digest of the public key', () => {
  for (const t of ['ec-p256', 'ec-p384', 'rsa-2048']) {
    const k = generateKey(t);
    assert.match(k.pem, /BEGIN PRIVATE KEY/);
    assert.match(k.spki, /^[0-9a-f]{64}$/);
  }
  assert.throws(() => generateKey('dsa-1024'), { code: 'E_DAEMON_KEY_TYPE' });
});

test('the generateKey action is idempotent (a crash after the store write) and keeps store roles in step with the planner', async () => {
  const { store, d, world } = setup();
  const policy = world.policy(d);
  const s: RolloverState = emptyState();
  await world.execute(
    d,
    { kind: 'generateKey', role: 'current', keyId: 'example.org#k1', keyType: 'ec-p256' },
    s,
    policy,
  );
  const k1 = store.keys.get('example.org#k1')!;
  // handed out again after a crash: nothing changes, no E_STORE_KEY
  await world.execute(
    d,
    { kind: 'generateKey', role: 'current', keyId: 'example.org#k1', keyType: 'ec-p256' },
    s,
    policy,
  );
  assert.deepEqual(store.keys.get('example.org#k1'), k1);
  const facts = { id: k1.id, keyType: 'ec-p256', spki: k1.spkiSha256 };
  await world.execute(
    d,
    { kind: 'generateKey', role: 'next', keyId: 'example.org#k2', keyType: 'ec-p256' },
    { ...s, keys: { current: facts, next: null } },
    policy,
  );
  const k2 = store.keys.get('example.org#k2')!;
  assert.equal(k2.role, 'next');
  // after a rotation the planner's current is k2 and it asks for a new next key k3: the store
  // had k2 as `next`; it must give up that role first instead of refusing the new key
  await world.execute(
    d,
    { kind: 'generateKey', role: 'next', keyId: 'example.org#k3', keyType: 'ec-p256' },
    { ...s, keys: { current: { id: k2.id, keyType: 'ec-p256', spki: k2.spkiSha256 }, next: null } },
    policy,
  );
  assert.equal(store.keys.get('example.org#k1')!.role, 'retired');
  assert.equal(store.keys.get('example.org#k2')!.role, 'current');
  assert.equal(store.keys.get('example.org#k3')!.role, 'next');
  // a rotation verified (k3 current, no next key): the next action brings the store along
  const k3 = store.keys.get('example.org#k3')!;
  await assert.rejects(
    world.execute(
      d,
      {
        kind: 'publishRecords',
        owner: '_25._tcp.mail.example.org.',
        add: [],
        remove: [`3 1 1 ${k2.spkiSha256}`],
      },
      {
        ...s,
        keys: { current: { id: k3.id, keyType: 'ec-p256', spki: k3.spkiSha256 }, next: null },
      },
      policy,
    ),
    { code: 'E_DAEMON_NO_BACKEND' },
  );
  assert.equal(store.keys.get('example.org#k2')!.role, 'retired');
  assert.equal(store.keys.get('example.org#k3')!.role, 'current');
  // observations carry public facts only
  const obs = await world.observe(d, null, { ...policy, owners: [] }, { ari: false });
  assert.equal(obs.keys.length, 3);
  assert.doesNotMatch(JSON.stringify(obs), /PRIVATE/);
  assert.equal(obs.deployed, null);
});

test('publishRecords without a [dns] backend fails with a reason, not silently', async () => {
  const { d, world } = setup();
  await assert.rejects(
    world.execute(
      d,
      {
        kind: 'publishRecords',
        owner: '_25._tcp.mail.example.org.',
        add: [`3 1 1 ${'a'.repeat(64)}`],
        remove: [],
      },
      emptyState(),
      world.policy(d),
    ),
    { code: 'E_DAEMON_NO_BACKEND' },
  );
});

test('install: deployPair into --cert-dir, the deployed id found by leaf hash; rollback puts the previous pair back', async () => {
  const { makePairs } = await import('../../test/support/deploy-pairs.js');
  const { mkdtempSync, rmSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { readDeployed } = await import('../deploy/index.js');
  const { issuerSpkis } = await import('./world.js');
  const tmp = mkdtempSync(join(tmpdir(), 'dk-world-'));
  try {
    const pairs = makePairs(tmp, 2, 'mail.example.org');
    const store = memoryState();
    const certDir = join(tmp, 'live');
    const d = store.domains.add(
      {
        name: 'example.org',
        includeDomainName: false,
        subdomains: ['mail'],
        mailHosts: ['mail.example.org'],
        endpoints: [{ host: 'mail.example.org', port: 25, proto: 'tcp' }],
        dane: false,
        certDir,
        reload: [],
        keyType: 'ec-p256',
        newKeyEachRenewal: false,
        issuerRecords: false,
        challenge: null,
      },
      T0,
    );
    // the service presents what --cert-dir holds now (a reload is instant)
    const { existsSync } = await import('node:fs');
    const { DkError } = await import('../core/errors.js');
    const base = {
      protocol: 'TLSv1.3',
      cipher: 'x',
      address: '192.0.2.1',
      port: 25,
      servername: 'mail.example.org',
      transcript: [],
      chainSource: 'presented' as const,
    };
    let frozen = false;
    let last: Buffer[] = [];
    const probe = () => {
      if (frozen) return Promise.resolve({ ...base, chain: last });
      if (!existsSync(join(certDir, 'fullchain.pem'))) {
        return Promise.reject(new DkError('unavailable', 'E_PROBE_CONNECT', 'connection refused'));
      }
      const pem = readFileSync(join(certDir, 'fullchain.pem'), 'utf8');
      const chain = pem
        .split(/(?=-----BEGIN CERTIFICATE-----)/)
        .filter((c) => c.includes('BEGIN'))
        .map((c) => new X509Certificate(c).raw);
      last = chain;
      return Promise.resolve({
        ...base,
        chain,
        protocol: 'TLSv1.3',
        cipher: 'x',
        address: '192.0.2.1',
        port: 25,
        servername: 'mail.example.org',
        transcript: [],
        chainSource: 'presented' as const,
      });
    };
    const worldOptions = {
      store,
      now: () => new Date(),
      publisher: () => null,
      resolver: new StaticResolver({
        'mail.example.org/A': { status: 'secure', records: ['192.0.2.1'] },
        'mail.example.org/AAAA': { status: 'secure', records: [] },
      }),
      probe,
      confirmationIntervalHours: 0.5,
      daneEnabled: true,
      acme: { directory: 'https://127.0.0.1:1/dir', accountFile: join(tmp, 'acct.json') },
      solver: () => {
        throw new Error('no solver');
      },
      settleMs: 0,
    };
    const world = new RealWorld(worldOptions);
    const ids = ['example.org#c1', 'example.org#c2'];
    pairs.forEach((p, i) => {
      const spki = createHash('sha256')
        .update(new X509Certificate(p.leafPem).publicKey.export({ type: 'spki', format: 'der' }))
        .digest('hex');
      store.keys.add(
        {
          id: `example.org#k${i + 1}`,
          domain: 'example.org',
          role: i ? 'next' : 'current',
          type: 'ec-p256',
          privateKeyPem: p.keyPem,
          spkiSha256: spki,
        },
        T0,
      );
      const x = new X509Certificate(p.leafPem);
      store.certificates.add({
        id: ids[i]!,
        domain: 'example.org',
        keyId: `example.org#k${i + 1}`,
        chainPem: p.chainPem,
        notBefore: new Date(x.validFrom).toISOString(),
        notAfter: new Date(x.validTo).toISOString(),
        serial: x.serialNumber,
        ariCertId: null,
        issuedAt: T0.toISOString(),
      });
    });
    const policy = world.policy(d);
    const s = emptyState();
    const obs0 = await world.observe(d, s, policy, { ari: false });
    assert.equal(obs0.deployed, null);
    assert.deepEqual(obs0.certificates[0]!.issuerSpkis, issuerSpkis(pairs[0]!.chainPem));
    assert.equal(obs0.certificates[0]!.issuerSpkis.length, 1);
    assert.equal('ariCertId' in obs0.certificates[0]!, false);
    await world.execute(d, { kind: 'install', certId: ids[0]! }, s, policy);
    assert.equal((await world.observe(d, s, policy, { ari: false })).deployed, ids[0]);
    // idempotent: installed already, nothing to do
    await world.execute(d, { kind: 'install', certId: ids[0]! }, s, policy);
    await world.execute(d, { kind: 'install', certId: ids[1]! }, s, policy);
    const obs2 = await world.observe(d, s, policy, { ari: false });
    assert.equal(obs2.deployed, ids[1]);
    const live = obs2.live['_25._tcp.mail.example.org.']![0]!;
    const norm = (x: string) => x.toLowerCase().replace(/^0+/, '');
    assert.ok('leafSerial' in live);
    assert.equal(norm(live.leafSerial), norm(obs2.certificates[1]!.serial));
    // a service that keeps presenting the old chain: deploy rolls back, the action fails
    frozen = true;
    await assert.rejects(
      world.execute(d, { kind: 'install', certId: ids[0]! }, s, policy),
      (e: Error) => {
        assert.equal((e as { code?: string }).code, 'E_DEPLOY_ROLLED_BACK_NOT_SERVED');
        assert.match(e.message, /not served as installed.*; the previous pair is back in place$/);
        return true;
      },
    );
    assert.equal((await world.observe(d, s, policy, { ari: false })).deployed, ids[1]);
    frozen = false;
    await world.execute(d, { kind: 'rollback', certId: ids[0]!, reason: 'test' }, s, policy);
    assert.equal((await world.observe(d, s, policy, { ari: false })).deployed, ids[0]);
    // a reload command that fails: another code, so scripts can tell the two apart; put back too
    await assert.rejects(
      world.execute(
        { ...d, reload: [['/bin/false']] },
        { kind: 'install', certId: ids[1]! },
        s,
        policy,
      ),
      (e: Error) => {
        assert.equal((e as { code?: string }).code, 'E_DEPLOY_ROLLED_BACK_RELOAD');
        assert.match(e.message, /exited 1.*; the previous pair is back in place$/);
        return true;
      },
    );
    assert.equal((await world.observe(d, s, policy, { ari: false })).deployed, ids[0]);
    assert.equal(readDeployed(certDir).previous?.certSha256 !== undefined, true);
    // [run] reload: the reload of a domain added without one (the panel, the API) ...
    const withDefault = new RealWorld({ ...worldOptions, defaultReload: [['/bin/false']] });
    await assert.rejects(
      withDefault.execute(d, { kind: 'install', certId: ids[1]! }, s, policy),
      (e: Error) => (e as { code?: string }).code === 'E_DEPLOY_ROLLED_BACK_RELOAD',
      'the default reload runs (and fails here) for a domain without its own',
    );
    // ... and never instead of the domain's own
    await withDefault.execute(
      { ...d, reload: [['/bin/true']] },
      { kind: 'install', certId: ids[1]! },
      s,
      policy,
    );
    assert.equal((await world.observe(d, s, policy, { ari: false })).deployed, ids[1]);
    store.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** A TXT-capable publisher holding one zone in memory (owner -> values). */
function txtMemory(zone: string, initial: Record<string, string[]> = {}) {
  const values = new Map<string, string[]>(Object.entries(initial));
  const p: Publisher = {
    backend: 'zonefile',
    zone,
    describe: 'memory',
    read: (owner) => Promise.resolve({ owner, ttl: null, records: [] }),
    apply: () => Promise.resolve(),
    defaultTtl: () => Promise.resolve(300),
    readTxt: (owner) =>
      Promise.resolve({ owner, ttl: 300, values: [...(values.get(owner) ?? [])] }),
    applyTxt: (c) => {
      const cur = values.get(c.owner) ?? [];
      if (c.expected.length !== cur.length || !c.expected.every((v) => cur.includes(v))) {
        return Promise.reject(new DkError('tempfail', 'E_PUBLISH_CONFLICT', 'changed'));
      }
      values.set(c.owner, [...cur.filter((v) => !c.remove.includes(v)), ...c.add]);
      return Promise.resolve();
    },
  };
  return { p, values };
}

test('sweep: DNS-01 values a killed run recorded are removed at the domain’s challenge owners; hand-made and foreign ones stay', async () => {
  const store = memoryState();
  const base = {
    includeDomainName: true,
    mailHosts: [],
    endpoints: [],
    dane: false,
    certDir: '/nonexistent/dk-live',
    reload: [],
    keyType: 'ec-p256' as const,
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
  const d = store.domains.add({ ...base, name: 'example.org', subdomains: ['mail', 'www'] }, T0);
  // another managed domain whose names include www.example.org
  store.domains.add({ ...base, name: 'www.example.org', subdomains: [] }, T0);
  const MAIL = '_acme-challenge.mail.example.org.';
  const APEX = '_acme-challenge.example.org.';
  const WWW = '_acme-challenge.www.example.org.';
  const OTHER = '_acme-challenge.shop.example.org.';
  const { p, values } = txtMemory('example.org.', {
    [MAIL]: ['hand-made', 'left-mail'],
    [APEX]: ['left-apex'],
    [WWW]: ['young-www', 'old-www'],
    [OTHER]: ['left-other'],
  });
  const t = store.txt;
  const old = new Date(T0.getTime() - 3_600_000);
  t.remember('example.org.', MAIL, ['left-mail'], T0);
  // pending (a run killed between its intent and the UPDATE) counts as recorded
  t.intend('example.org.', APEX, ['left-apex'], T0);
  t.remember('example.org.', WWW, ['young-www'], T0);
  t.remember('example.org.', WWW, ['old-www'], old);
  t.remember('example.org.', OTHER, ['left-other'], T0);
  let now = new Date(T0.getTime() + 60_000);
  const world = new RealWorld({
    store,
    now: () => now,
    publisher: () => p,
    resolver: new StaticResolver({}),
    probe: () => Promise.reject(new Error('no probe in this test')),
    confirmationIntervalHours: 0.5,
    daneEnabled: true,
    acme: { directory: 'https://127.0.0.1:1/dir', accountFile: '/nonexistent/acct.json' },
    solver: () => {
      throw new Error('no solver in this test');
    },
  });
  const lines = await world.sweep(d);
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.deepEqual(values.get(MAIL), ['hand-made']);
  assert.deepEqual(values.get(APEX), []);
  // www.example.org is also another domain's name: a young value may be its challenge in progress
  assert.deepEqual(values.get(WWW), ['young-www']);
  assert.deepEqual(values.get(OTHER), ['left-other']);
  assert.deepEqual(
    t.list('example.org.').map((r) => `${r.owner} ${r.value}`),
    [`${OTHER} left-other`, `${WWW} young-www`],
  );
  // nothing recorded at the domain's owners: nothing read, nothing written
  values.clear();
  now = new Date(T0.getTime() + 120_000);
  t.forget('example.org.', WWW, ['young-www']);
  const calls: string[] = [];
  const spy = { ...p, readTxt: (o: string) => (calls.push(o), p.readTxt!(o)) };
  assert.deepEqual(
    await new RealWorld({
      store,
      now: () => now,
      publisher: () => spy,
      resolver: new StaticResolver({}),
      probe: () => Promise.reject(new Error('no probe')),
      confirmationIntervalHours: 0.5,
      daneEnabled: true,
      acme: { directory: 'https://127.0.0.1:1/dir', accountFile: '/nonexistent/acct.json' },
      solver: () => {
        throw new Error('no solver');
      },
    }).sweep(d),
    [],
  );
  assert.deepEqual(calls, []);
});

test('sweep: a value recorded in a delegated zone is removed through that zone’s backend; one in a zone no backend serves is refused, naming it', async () => {
  const store = memoryState();
  const d = store.domains.add(
    {
      name: 'example.org',
      includeDomainName: true,
      subdomains: ['mail'],
      mailHosts: [],
      endpoints: [],
      dane: false,
      certDir: '/nonexistent/dk-live',
      reload: [],
      keyType: 'ec-p256',
      newKeyEachRenewal: false,
      issuerRecords: false,
      challenge: null,
    },
    T0,
  );
  const MAIL = '_acme-challenge.mail.example.org.';
  const APEX = '_acme-challenge.example.org.';
  const parent = txtMemory('example.org.', { [APEX]: ['left-apex'] });
  const child = txtMemory('mail.example.org.', { [MAIL]: ['left-mail', 'hand-made'] });
  store.txt.remember('example.org.', APEX, ['left-apex'], T0);
  store.txt.remember('mail.example.org.', MAIL, ['left-mail'], T0);
  const asked: string[] = [];
  const world = (serves: string[]) =>
    new RealWorld({
      store,
      now: () => new Date(T0.getTime() + 60_000),
      publisher: (_d, zone) => {
        asked.push(zone ?? '(configured)');
        const z = zone && serves.includes(zone) ? zone : 'example.org.';
        return z === 'mail.example.org.' ? child.p : parent.p;
      },
      resolver: new StaticResolver({}),
      probe: () => Promise.reject(new Error('no probe')),
      confirmationIntervalHours: 0.5,
      daneEnabled: true,
      acme: { directory: 'https://127.0.0.1:1/dir', accountFile: '/nonexistent/acct.json' },
      solver: () => {
        throw new Error('no solver');
      },
    });
  // a backend only for example.org: the delegated zone's value cannot be reached, and is named
  await assert.rejects(world(['example.org.']).sweep(d), (e: DkError) => {
    assert.equal(e.code, 'E_DAEMON_ZONE');
    assert.match(
      e.message,
      /recorded in mail\.example\.org\. \(the \[dns\] backend serves example\.org\.\)/,
    );
    assert.match(e.message, /1 removed elsewhere/);
    return true;
  });
  assert.deepEqual(parent.values.get(APEX), []);
  assert.deepEqual(child.values.get(MAIL), ['left-mail', 'hand-made']);
  // with a backend for each zone, each value goes through its own zone's
  assert.deepEqual(await world(['example.org.', 'mail.example.org.']).sweep(d), [
    `Removed the DNS-01 value(s) left-mail at ${MAIL} that an earlier run left behind`,
  ]);
  assert.deepEqual(child.values.get(MAIL), ['hand-made']);
  assert.deepEqual(store.txt.zonesOf([APEX, MAIL]), []);
  assert.ok(asked.includes('mail.example.org.'));
});

/** A TLSA publisher of one zone in memory that logs what it applied. */
function tlsaMemory(zone: string) {
  const sets = new Map<string, string[]>();
  const applied: string[] = [];
  const p: Publisher = {
    backend: 'rfc2136',
    zone,
    describe: `memory ${zone}`,
    read: (owner) =>
      Promise.resolve({
        owner,
        ttl: sets.has(owner) ? 300 : null,
        records: (sets.get(owner) ?? []).map((r) => parseTlsa(r)),
      }),
    defaultTtl: () => Promise.resolve(300),
    apply: (c) => {
      if (!`.${c.owner}`.endsWith(`.${zone}`)) {
        return Promise.reject(new DkError('config', 'E_PUBLISH_NOTAUTH', `NOTZONE ${c.owner}`));
      }
      const cur = sets.get(c.owner) ?? [];
      const rm = c.remove.map(formatRdata);
      sets.set(c.owner, [...cur.filter((r) => !rm.includes(r)), ...c.add.map(formatRdata)]);
      applied.push(`${c.owner} +${c.add.length}`);
      return Promise.resolve();
    },
  };
  return { p, sets, applied };
}

const SOA = {
  mname: 'ns1.example.org',
  rname: 'hostmaster.example.org',
  serial: 1,
  refresh: 3600,
  retry: 600,
  expire: 86400,
  minimum: 300,
};

test('TLSA records go to the zone that holds the owner (a delegated mail.example.org); a backend of another zone is refused, naming both', async () => {
  const { store, d } = setup();
  const resolver = new StaticResolver({
    'example.org/SOA': { records: [SOA] },
    'mail.example.org/SOA': { records: [SOA] },
  });
  const zones = new Map<string, ReturnType<typeof tlsaMemory>>();
  const asked: (string | undefined)[] = [];
  const world = (publisher: (d: Domain, zone?: string) => Publisher | null) =>
    new RealWorld({
      store,
      now: () => T0,
      publisher,
      resolver,
      probe: () => Promise.reject(new Error('no probe in this test')),
      confirmationIntervalHours: 0.5,
      daneEnabled: true,
      acme: { directory: 'https://127.0.0.1:1/dir', accountFile: '/nonexistent/acct.json' },
      solver: () => {
        throw new Error('no solver in this test');
      },
    });
  const w = world((_d, zone) => {
    asked.push(zone);
    const z = zone ?? 'example.org.';
    if (!zones.has(z)) zones.set(z, tlsaMemory(z));
    return zones.get(z)!.p;
  });
  const rec = `3 1 1 ${'ab'.repeat(32)}`;
  const OWNER = '_25._tcp.mail.example.org.';
  await w.execute(
    d,
    { kind: 'publishRecords', owner: OWNER, add: [rec], remove: [] },
    emptyState(),
    w.policy(d),
  );
  assert.deepEqual(zones.get('mail.example.org.')?.sets.get(OWNER), [rec]);
  assert.equal(zones.get('example.org.')?.applied.length ?? 0, 0);
  assert.ok(asked.includes('mail.example.org.'));
  // a backend that serves example.org only ([dns] zone = example.org)
  const fixed = tlsaMemory('example.org.');
  const w2 = world(() => fixed.p);
  await assert.rejects(
    w2.execute(
      d,
      { kind: 'publishRecords', owner: OWNER, add: [rec], remove: [] },
      emptyState(),
      w2.policy(d),
    ),
    (e: Error) => {
      assert.equal((e as { code?: string }).code, 'E_DAEMON_ZONE');
      assert.equal(
        e.message,
        '_25._tcp.mail.example.org. is in the zone mail.example.org. (the closest enclosing SOA), but the [dns] backend serves example.org.: configure a backend for mail.example.org.',
      );
      return true;
    },
  );
  assert.equal(fixed.applied.length, 0);
  // observing refuses as well (status and run say why, instead of reading the wrong zone)
  await assert.rejects(w2.observe(d, null, w2.policy(d), { ari: false }), {
    code: 'E_DAEMON_ZONE',
  });
});

test('a backend that cannot be read: the observation carries its own reason (status quotes it), as does a missing backend', async () => {
  const { store, d } = setup();
  const OWNER = '_25._tcp.mail.example.org.';
  const resolver = new StaticResolver({ 'example.org/SOA': { records: [SOA] } });
  const world = (publisher: (d: Domain, zone?: string) => Publisher | null) =>
    new RealWorld({
      store,
      now: () => T0,
      publisher,
      resolver,
      probe: () => Promise.reject(new Error('no probe in this test')),
      confirmationIntervalHours: 0.5,
      daneEnabled: true,
      acme: { directory: 'https://127.0.0.1:1/dir', accountFile: '/nonexistent/acct.json' },
      solver: () => {
        throw new Error('no solver in this test');
      },
    });
  const m = tlsaMemory('example.org.');
  const w = world(() => ({
    ...m.p,
    read: () =>
      Promise.reject(
        new DkError(
          'tempfail',
          'E_PUBLISH_AUTH',
          'TSIG verification of\n  the answer failed (BADSIG)',
        ),
      ),
  }));
  const obs = await w.observe(d, null, w.policy(d), { ari: false });
  assert.equal(obs.dns[OWNER]?.published, null);
  assert.equal(obs.dns[OWNER]?.readError, 'TSIG verification of the answer failed (BADSIG)');
  const none = world(() => null);
  const o2 = await none.observe(d, null, none.policy(d), { ari: false });
  assert.equal(o2.dns[OWNER]?.published, null);
  assert.match(o2.dns[OWNER]?.readError ?? '', /no \[dns\] backend is configured/);
  // readable: no reason
  const ok = world(() => m.p);
  const o3 = await ok.observe(d, null, ok.policy(d), { ari: false });
  assert.deepEqual(o3.dns[OWNER]?.published, []);
  assert.equal(o3.dns[OWNER]?.readError, undefined);
});

test('policy: [run] retry-seconds and verify-grace-seconds reach the planner; unset, its defaults', () => {
  const { store, d, world: plain } = setup();
  assert.equal(plain.policy(d).backoffBaseSeconds, undefined);
  assert.equal(plain.policy(d).verifyGraceSeconds, undefined);
  const w = new RealWorld({
    store,
    now: () => T0,
    publisher: () => null,
    resolver: new StaticResolver({}),
    probe: () => Promise.reject(new Error('no probe in this test')),
    confirmationIntervalHours: 0.5,
    daneEnabled: true,
    acme: { directory: 'https://127.0.0.1:1/dir', accountFile: '/nonexistent/acct.json' },
    solver: () => {
      throw new Error('no solver in this test');
    },
    backoffBaseSeconds: 2,
    verifyGraceSeconds: 3,
  });
  assert.equal(w.policy(d).backoffBaseSeconds, 2);
  assert.equal(w.policy(d).verifyGraceSeconds, 3);
});

test('a domain added again takes over the records danekeeper published at its owners before; an owner another domain uses is left alone', async () => {
  const { store, d, world } = setup();
  const OWNER = '_25._tcp.mail.example.org.';
  const old = parseTlsa(`3 1 1 ${'ab'.repeat(32)}`);
  const shared = parseTlsa(`3 1 1 ${'cd'.repeat(32)}`);
  store.ownership.remember('example.org.', OWNER, [old], T0);
  store.ownership.remember('example.net.', '_25._tcp.mx.example.net.', [shared], T0);
  store.domains.add(
    {
      ...d,
      name: 'example.net',
      mailHosts: ['mx.example.net'],
      endpoints: [{ host: 'mx.example.net', port: 25, proto: 'tcp' }],
    },
    T0,
  );
  store.domains.add(
    {
      ...d,
      name: 'example.com',
      mailHosts: ['mx.example.net'],
      endpoints: [{ host: 'mx.example.net', port: 25, proto: 'tcp' }],
    },
    T0,
  );
  const first = await world.observe(d, null, world.policy(d), { ari: false });
  assert.deepEqual(first.inherited, { [OWNER]: [formatRdata(old)] });
  const later = await world.observe(d, emptyState(), world.policy(d), { ari: false });
  assert.equal(later.inherited, undefined, 'only before the domain has a state');
  const net = store.domains.get('example.net')!;
  const o = await world.observe(net, null, world.policy(net), { ari: false });
  assert.equal(o.inherited, undefined, 'example.com uses mx.example.net too: not taken');
});
