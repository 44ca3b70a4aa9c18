/**
 * The store bench/api.ts measures: DOMAINS managed domains (default 10,000), each with a
 * certificate lineage at rest as a real keep-secured pass leaves it (current + next key in the
 * keys table, the installed certificate with its chain in the certificates table, the rollover
 * state with its rest mark, the timeline's events), an admin and a customer who owns
 * CUSTOMER_DOMAINS of them, an API token for each, and the INI file `serve` reads.
 *
 * Every domain shares one real chain (leaf + intermediate made by openssl, test/support/pki.ts)
 * and one "next" key: what status parses per domain is real PEM, only not distinct. The state
 * comes from the planner itself (runs of runPass through the fake world), re-keyed to the
 * real key and certificate, and its rest mark is made with the policy `serve`'s real world
 * computes from the same INI file, so serve's own pass finds every domain at rest and asks
 * nothing of DNS, the probe or the CA. The INI's resolver and ACME directory are 127.0.0.1 on
 * ports where nothing listens: a status request's DNS lookups are refused at once (nothing
 * outside the machine is ever reached).
 */
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createServer } from 'node:net';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../src/auth/password.js';
import { newApiToken } from '../src/auth/tokens.js';
import type { Io } from '../src/cli/io.js';
import { processRunDeps } from '../src/cli/run.js';
import { loadConfig } from '../src/config/config.js';
import type { RolloverState } from '../src/core/rollover/index.js';
import { restMark } from '../src/core/rollover/rest.js';
import { installPair } from '../src/deploy/index.js';
import { FakeWorld } from '../src/daemon/fake-world.js';
import { runPass, settingsKey } from '../src/daemon/pass.js';
import type { DomainSettings } from '../src/store/domains.js';
import { memoryState, openState } from '../src/store/state.js';
import { openUsersStore } from '../src/store/users.js';
import { makePki } from '../test/support/pki.js';

export interface Fixture {
  dir: string;
  statePath: string;
  configPath: string;
  /** 127.0.0.1:PORT where nothing listens (the INI's resolver) */
  deadResolver: string;
  names: string[];
  customerNames: string[];
  admin: { name: string; password: string; token: string };
  customer: { name: string; password: string; token: string };
  /** when the rest marks were made: serve's pass re-checks an hour after */
  at: Date;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const hex = (n: number) => n.toString(16).padStart(64, '0');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const spkiOf = (pem: string) =>
  createPublicKey(pem).export({ type: 'spki', format: 'der' }) as Buffer;

/** A loopback port nothing listens on: bound (TCP, the UDP side is unused too) and let go. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function settings(name: string, certRoot: string): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
    dane: true,
    certDir: join(certRoot, name),
    reload: [],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

/** The planner's own state at rest for example.org, and its timeline (fake world, fast). */
async function template(t0: Date, certRoot: string) {
  const store = memoryState();
  store.domains.add(settings('example.org', certRoot), t0);
  const clock = { t: t0.getTime() };
  const world = new FakeWorld(clock);
  for (let i = 0; i < 30; i++) {
    const [r] = await runPass({ store, world, now: () => new Date(clock.t), holder: 'bench' });
    if (r!.result === 'idle') {
      const state = store.rollover.read('example.org')!.state as RolloverState;
      const events = store.events.list({ domain: 'example.org', limit: 100 }).reverse();
      store.close();
      return { state, events };
    }
    clock.t += 10_000;
  }
  throw new Error('the fake world never came to rest');
}

const quiet: Io = { out: () => {}, err: () => {}, verbose: () => {}, withVerbose: () => quiet };

export async function buildFixture(
  dir: string,
  o: { domains: number; customerDomains: number },
): Promise<Fixture> {
  const statePath = join(dir, 'state.db');
  const configPath = join(dir, 'danekeeper.ini');
  const certRoot = join(dir, 'live');
  mkdirSync(certRoot, { recursive: true });
  mkdirSync(join(dir, 'pki'));
  const resolverPort = await deadPort();
  const acmePort = await deadPort();
  const deadResolver = `127.0.0.1:${resolverPort}`;
  writeFileSync(
    configPath,
    [
      '[dns]',
      `resolver = ${deadResolver}`,
      '[store]',
      `path = ${statePath}`,
      '[acme]',
      `directory = https://127.0.0.1:${acmePort}/directory`,
      'email = hostmaster@example.org',
      '[ext-sslit]',
      'dane-confirmation-interval-in-hours = 24',
      'daneEnabled = true',
      '',
    ].join('\n'),
  );

  // one real chain and one real next key, shared by every domain
  const pki = makePki(join(dir, 'pki'), { names: ['mail.d00000.example'] });
  const leaf = new X509Certificate(pki.leaf.certPem);
  const chainPem = pki.leaf.certPem + pki.intermediate.certPem;
  const next = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const nextPem = next.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const spkiCur = sha256(spkiOf(pki.leaf.keyPem));
  const spkiNext = sha256(spkiOf(nextPem));
  const spkiIssuer = sha256(spkiOf(pki.intermediate.certPem));
  const notBefore = new Date(leaf.validFrom).toISOString();
  const notAfter = new Date(leaf.validTo).toISOString();
  const serial = leaf.serialNumber.toLowerCase();

  const at = new Date();
  const { state: tState, events } = await template(new Date(at.getTime() - 3 * HOUR), certRoot);
  // the fake world's placeholder digests become the real key's, next key's and issuer's
  const json = JSON.stringify(tState)
    .replaceAll(hex(1), spkiCur)
    .replaceAll(hex(2), spkiNext)
    .replaceAll(hex(999), spkiIssuer);

  const world = await processRunDeps().world({
    config: loadConfig(configPath, {}),
    flags: { config: configPath },
    store: memoryState(),
    statePath,
    io: quiet,
    now: () => at,
  });

  const names = Array.from(
    { length: o.domains },
    (_, i) => `d${String(i).padStart(5, '0')}.example`,
  );
  const store = openState(statePath);
  try {
    store.transaction(() => {
      for (const name of names) {
        const d = store.domains.add(settings(name, certRoot), at);
        const s = JSON.parse(json.replaceAll('example.org', name)) as RolloverState;
        s.installed = { ...s.installed!, notBefore, notAfter, serial };
        store.keys.add(
          {
            id: s.keys.current!.id,
            domain: name,
            role: 'current',
            type: 'ec-p256',
            privateKeyPem: pki.leaf.keyPem,
            spkiSha256: spkiCur,
          },
          at,
        );
        store.keys.add(
          {
            id: s.keys.next!.id,
            domain: name,
            role: 'next',
            type: 'ec-p256',
            privateKeyPem: nextPem,
            spkiSha256: spkiNext,
          },
          at,
        );
        store.certificates.add({
          id: s.installed.id,
          domain: name,
          keyId: s.keys.current!.id,
          chainPem,
          notBefore,
          notAfter,
          serial,
          ariCertId: null,
          issuedAt: notBefore,
        });
        store.certificates.markInstalled(s.installed.id, at);
        for (const e of events) {
          store.events.append(
            name,
            e.kind,
            e.message.replaceAll('example.org', name),
            e.details,
            new Date(e.at),
          );
        }
        // renewal moment: a third of the lifetime left (DESIGN.md "Renewal time")
        const until = new Date(Date.parse(notAfter) - 30 * DAY).toISOString();
        const idle = { kind: 'idle' as const, until, state: s, phase: 'idle' as const, events: [] };
        // the pass's own re-check (pass.ts DEFAULT_RECHECK_MS, 1 h) and the real world's policy
        s.rest = restMark(idle, at.toISOString(), HOUR, settingsKey(d, world.policy(d)));
        store.rollover.save(name, s, { expectedVersion: 0, now: at });
      }
    });
  } finally {
    store.close();
    await world.close?.();
  }

  // the pair installed in each --cert-dir as a real install leaves it (versioned directory,
  // certbot's four names, relative links): installed once and copied, which is 10x faster than
  // installing 10,000 times (each install syncs); status reads what is deployed there
  const once = join(dir, 'installed-once');
  installPair(once, { keyPem: pki.leaf.keyPem, chainPem });
  for (const name of names) {
    cpSync(once, join(certRoot, name), { recursive: true, verbatimSymlinks: true });
  }

  // a customer with CUSTOMER_DOMAINS domains spread over the list
  const step = Math.max(1, Math.floor(o.domains / o.customerDomains));
  const customerNames = names.filter((_, i) => i % step === 0).slice(0, o.customerDomains);
  const users = openUsersStore(statePath);
  const mk = async (name: string, role: 'admin' | 'customer', domains: string[]) => {
    const password = `bench-${name}-password`;
    users.addUser({ name, role, domains, passwordHash: await hashPassword(password) }, at);
    const t = newApiToken();
    users.addToken({ id: t.id, user: name, sha256: t.sha256, expiresAt: null }, at);
    return { name, password, token: t.token };
  };
  try {
    const admin = await mk('admin', 'admin', []);
    const customer = await mk('customer', 'customer', customerNames);
    return { dir, statePath, configPath, deadResolver, names, customerNames, admin, customer, at };
  } finally {
    users.close();
  }
}

// scripts/bench.sh runs every bench/*.ts: this one is bench/api.ts's helper
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log('bench/api-fixture.ts: the store of bench/api.ts');
}
