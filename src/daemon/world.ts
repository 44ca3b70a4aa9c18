/**
 * The real world of a keep-secured pass: how the store's, the DNS's, the probe's and deploy's
 * facts become the planner's observations, and how each action is carried out by the pieces
 * of issue 9 (docs/rollover.md "Inputs" and "Actions"). Every executor is idempotent: it is
 * handed the same action again after a crash and must then do nothing twice.
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DkError, isDkError } from '../core/errors.js';
import {
  confirmedAt,
  retiringOwners,
  type Action,
  type AddressObservation,
  type CertFacts,
  type KeyFacts,
  type Observations,
  type OwnerDns,
  type RolloverPolicy,
  type RolloverState,
} from '../core/rollover/index.js';
import { formatRdata, parseTlsa, type TlsaRecord } from '../core/tlsa/index.js';
import { deployPair, installPair, readDeployed, rollback, runReloads } from '../deploy/index.js';
import type { DeployEndpoint, VerifyDeps } from '../deploy/index.js';
import type { Resolver } from '../io/dns/index.js';
import {
  generateAccountKey,
  obtainCertificate,
  splitChain,
  type AcmeClient,
  type ChallengeSolver,
} from '../io/acme/index.js';
import { ensureAccount, type AccountSettings } from '../io/acme/account.js';
import { defaultStarttls, type ProbeOptions, type ProbeResult } from '../io/probe/index.js';
import { dns01Owner } from '../publish/acme-dns01.js';
import { observeEndpoint } from '../publish/endpoint-guard.js';
import { findZone } from '../publish/zone-cut.js';
import { checkPropagation } from '../publish/propagation.js';
import { absName, addTlsa, removeTlsa } from '../publish/tlsa-set.js';
import { LEFTOVER_MIN_AGE_MS, removeLeftoverTxt } from '../publish/txt-set.js';
import type { Publisher } from '../publish/types.js';
import { certificateNames, type Domain, type KeyType } from '../store/domains.js';
import type { StateStore } from '../store/state.js';
import {
  currentIssuers,
  issuersOfChains,
  mergeIssuers,
  readIssuerBook,
  writeIssuerBook,
  type IssuerBook,
} from './issuers.js';
import type { DomainWorld } from './pass.js';
import { chainFacts, readDeployedCached } from './status.js';

export interface WorldOptions {
  /** `[run] reload`: the reload commands of a domain added without any (the panel, the API) */
  defaultReload?: string[][];
  store: StateStore;
  now: () => Date;
  /**
   * The `[dns]` backend; null when none is configured (DANE off only). `zone`: the zone that
   * holds a TLSA owner (zone-cut.ts), absolute; the backend is opened for it unless `[dns] zone`
   * names the one zone it serves. The DNS-01 sweep asks for each zone a value was recorded
   * under. Without `zone`: the domain's zone as configured.
   */
  publisher: (d: Domain, zone?: string) => Publisher | null;
  /** the validating resolver: NS/addresses for propagation, endpoint addresses for the probe */
  resolver: Resolver;
  probe: (o: ProbeOptions) => Promise<ProbeResult>;
  /** `dane-confirmation-interval-in-hours` */
  confirmationIntervalHours: number;
  /** DANE turned off server-wide (daneEnabled = false): no records for any domain */
  daneEnabled: boolean;
  /** the ACME account settings ([acme]) and where the account key and URL are kept (0600) */
  acme: AccountSettings & { accountFile: string; profile?: string };
  /** the challenge solver for a domain (http-01 listener/webroot, dns-01 through the publisher) */
  solver: (d: Domain) => ChallengeSolver;
  /** `[run] retry-seconds`: the first backoff after a failed step (the planner's default: 300) */
  backoffBaseSeconds?: number;
  /** `[run] verify-grace-seconds`: how long an install may take to show live (default: 60) */
  verifyGraceSeconds?: number;
  /** per network step of each probe; default 5000 */
  probeTimeoutMs?: number;
  /** deploy's wait for services to settle after a reload */
  settleMs?: number;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function spkiOfPem(pem: string): string {
  const x = new X509Certificate(pem);
  return sha256(x.publicKey.export({ type: 'spki', format: 'der' }));
}

/** SHA-256 SPKI hex of each issuer in the chain the CA returned, leaf's issuer first. */
export function issuerSpkis(chainPem: string): string[] {
  return splitChain(chainPem).slice(1).map(spkiOfPem);
}

/** `_25._tcp.mail.example.org.` of each endpoint (RFC 6698 §3). */
export function ownersOf(d: Domain): string[] {
  return d.endpoints.map((e) => `_${e.port}._${e.proto}.${e.host}.`);
}

/** node:crypto key of the domain's key type (DESIGN.md key policy). */
export function generateKey(type: string): { pem: string; spki: string } {
  const pair =
    type === 'ec-p256' || type === 'ec-p384'
      ? generateKeyPairSync('ec', { namedCurve: type === 'ec-p256' ? 'P-256' : 'P-384' })
      : /^rsa-(2048|3072|4096)$/.test(type)
        ? generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) })
        : null;
  if (!pair) throw new DkError('config', 'E_DAEMON_KEY_TYPE', `Unknown key type ${type}`);
  return {
    pem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    spki: sha256(pair.publicKey.export({ type: 'spki', format: 'der' })),
  };
}

const tlsa = (rdata: string[]): TlsaRecord[] => rdata.map((r) => parseTlsa(r));

export class RealWorld implements DomainWorld {
  readonly #o: WorldOptions;
  #client: AcmeClient | undefined;
  readonly #publishers = new Map<string, Publisher | null>();
  /** the CA's issuers per key type (issuers.ts), read once per pass */
  #issuers: IssuerBook | undefined;
  /** the ownership store by owner, and which domains use each owner (#inherited), once per world */
  #owned: Map<string, string[]> | undefined;
  #ownerUse: Map<string, Set<string>> | undefined;
  /** owner -> the zone holding it, found once per pass (zone-cut.ts) */
  readonly #zones = new Map<string, Promise<string>>();

  constructor(o: WorldOptions) {
    this.#o = o;
  }

  policy(d: Domain): RolloverPolicy {
    return {
      domain: d.name,
      owners: d.dane && this.#o.daneEnabled ? ownersOf(d) : [],
      keyType: d.keyType,
      confirmationIntervalHours: this.#o.confirmationIntervalHours,
      newKeyEachRenewal: d.newKeyEachRenewal,
      issuerRecords: d.issuerRecords,
      // DESIGN.md key policy: all current issuers of the CA for the key type, as the default
      // and alternate chains of its certificates showed them (issuers.ts); the planner adds the
      // issuers of the certificates in use, so the first order is covered too
      issuerSpkis: d.issuerRecords ? currentIssuers(this.#book(), d.keyType, this.#o.now()) : [],
      ...(this.#o.backoffBaseSeconds !== undefined
        ? { backoffBaseSeconds: this.#o.backoffBaseSeconds }
        : {}),
      ...(this.#o.verifyGraceSeconds !== undefined
        ? { verifyGraceSeconds: this.#o.verifyGraceSeconds }
        : {}),
    };
  }

  /** Where the CA's issuers are kept: next to the account of the same directory. */
  #issuersFile(): string {
    return `${this.#o.acme.accountFile.replace(/\.json$/, '')}-issuers.json`;
  }

  #book(): IssuerBook {
    this.#issuers ??= readIssuerBook(this.#issuersFile());
    return this.#issuers;
  }

  #publisher(d: Domain, zone?: string): Publisher | null {
    const k = `${d.name} ${zone ?? ''}`;
    if (!this.#publishers.has(k)) {
      this.#publishers.set(k, zone ? this.#o.publisher(d, zone) : this.#o.publisher(d));
    }
    return this.#publishers.get(k)!;
  }

  /**
   * The backend for the zone that holds `owner` (RFC 1034 §4.3.2: the closest enclosing SOA,
   * authenticated). A backend that serves another zone is refused, naming both: an update sent
   * there would land in a zone no DANE client looks at, or be refused as NOTZONE.
   */
  async #publisherFor(d: Domain, owner: string): Promise<Publisher | null> {
    if (!this.#publisher(d)) return null;
    let z = this.#zones.get(owner);
    if (!z) {
      z = findZone(owner, this.#o.resolver);
      this.#zones.set(owner, z);
      z.catch(() => this.#zones.delete(owner));
    }
    const zone = await z;
    const pub = this.#publisher(d, zone);
    if (pub && absName(pub.zone) !== zone) {
      throw new DkError(
        'config',
        'E_DAEMON_ZONE',
        `${owner} is in the zone ${zone} (the closest enclosing SOA), but the [dns] backend serves ${absName(pub.zone)}: configure a backend for ${zone}`,
      );
    }
    return pub;
  }

  async #dns(d: Domain, owner: string): Promise<OwnerDns> {
    const pub = await this.#publisherFor(d, owner);
    if (!pub) {
      return {
        published: null,
        readError: 'no [dns] backend is configured (DANE needs one to publish TLSA records)',
        servers: [],
      };
    }
    let published: string[] | null = null;
    let readError: string | undefined;
    let records: TlsaRecord[] | undefined;
    try {
      records = (await pub.read(owner)).records;
      published = records.map(formatRdata);
    } catch (e) {
      if (!isDkError(e)) throw e;
      readError = e.message.replace(/\s*\n\s*/g, ' ');
    }
    const unread = readError === undefined ? {} : { readError };
    try {
      const rep = await checkPropagation({
        zone: pub.zone,
        owner,
        resolver: this.#o.resolver,
        ...(records ? { expected: records } : {}),
      });
      return {
        published,
        ...unread,
        servers: rep.servers.map((s) => ({
          name: s.address ? `${s.name} (${s.address})` : s.name,
          // RFC 7671 §8.4: only an authoritative answer counts as serving
          served: s.state === 'unreachable' || s.state === 'lame' ? null : s.served,
          ttl: s.ttl,
        })),
      };
    } catch (e) {
      if (!isDkError(e)) throw e;
      return { published, ...unread, servers: [] };
    }
  }

  async #live(owner: string, d: Domain): Promise<AddressObservation[]> {
    const e = d.endpoints.find((x) => `_${x.port}._${x.proto}.${x.host}.` === owner)!;
    const seen = await observeEndpoint(e.host, e.port, defaultStarttls(e.port), {
      resolver: this.#o.resolver,
      probe: this.#o.probe,
      timeoutMs: this.#o.probeTimeoutMs ?? 5000,
    });
    if (seen.unresolved) return [{ address: e.host, error: seen.unresolved }];
    return seen.addresses.map((a): AddressObservation => {
      if ('error' in a) return a;
      const leaf = a.chain[0];
      if (!leaf) return { address: a.address, error: 'no certificate presented' };
      return {
        address: a.address,
        leafSpki: sha256(leaf.spki),
        leafSerial: leaf.x509.serialNumber,
        chainSpkis: a.chain.map((c) => sha256(c.spki)),
      };
    });
  }

  #certFacts(d: Domain): CertFacts[] {
    return this.#o.store.certificates.list(d.name).map((c) => ({
      id: c.id,
      keyId: c.keyId,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      serial: c.serial,
      ...(c.ariCertId !== null ? { ariCertId: c.ariCertId } : {}),
      issuerSpkis: chainFacts(c.id, c.chainPem).issuerSpkis,
    }));
  }

  #deployed(d: Domain): string | null {
    if (!existsSync(d.certDir)) return null;
    let sha: string | undefined;
    try {
      // re-read only when a file under --cert-dir changed (status.ts): a status or pass over
      // thousands of domains would otherwise re-check every deployed pair each time
      sha = readDeployedCached(d.certDir).current?.certSha256;
    } catch (e) {
      if (!isDkError(e)) throw e;
      return null;
    }
    if (!sha) return null;
    const c = this.#o.store.certificates
      .list(d.name)
      .find((x) => chainFacts(x.id, x.chainPem).leafSha256 === sha);
    return c?.id ?? null;
  }

  async observe(
    d: Domain,
    state: RolloverState | null,
    policy: RolloverPolicy,
    o: { ari: boolean },
  ): Promise<Omit<Observations, 'request'>> {
    const dns: Record<string, OwnerDns> = {};
    const live: Record<string, AddressObservation[]> = {};
    const obsExtra: Pick<Observations, 'inherited'> = {};
    // and where DANE was turned off: what danekeeper published there must go (retire.ts)
    await Promise.all(
      [...policy.owners, ...retiringOwners(state, policy)].map(async (owner) => {
        dns[owner] = await this.#dns(d, owner);
      }),
    );
    // live is looked at for every endpoint (DANE off too: the planner verifies installs live)
    await Promise.all(
      ownersOf(d).map(async (owner) => {
        live[owner] = await this.#live(owner, d);
      }),
    );
    if (state === null) {
      const inherited = this.#inherited(d);
      if (Object.keys(inherited).length > 0) obsExtra.inherited = inherited;
    }
    const keys: KeyFacts[] = this.#o.store.keys
      .list(d.name)
      .map((k) => ({ id: k.id, keyType: k.type, spki: k.spkiSha256 }));
    const obs: Omit<Observations, 'request'> = {
      ...obsExtra,
      dns,
      live,
      keys,
      certificates: this.#certFacts(d),
      deployed: this.#deployed(d),
      random: Math.random(),
    };
    const certId = state?.installed?.ariCertId;
    if (o.ari && certId) {
      try {
        const info = await (await this.#acme()).renewalInfo(certId);
        obs.ari = info
          ? {
              start: info.windowStart,
              end: info.windowEnd,
              ...(info.retryAfter
                ? {
                    retryAfter: new Date(
                      this.#o.now().getTime() + info.retryAfter * 1000,
                    ).toISOString(),
                  }
                : {}),
            }
          : null;
      } catch (e) {
        // RFC 9773 §4.3: a failed renewalInfo request falls back to the lifetime rule
        if (!isDkError(e)) throw e;
      }
    }
    return obs;
  }

  /** The account: registered once, its key and URL kept 0600 next to the state database. */
  async #acme(): Promise<AcmeClient> {
    if (this.#client) return this.#client;
    const { accountFile, profile: _p, ...settings } = this.#o.acme;
    let stored: { keyPem: string; url?: string } | undefined;
    if (existsSync(accountFile)) {
      stored = JSON.parse(readFileSync(accountFile, 'utf8')) as { keyPem: string; url?: string };
    } else {
      // the key is written before it is registered: a crash in between reuses it (RFC 8555
      // §7.3.1 finds the account by its key)
      stored = { keyPem: generateAccountKey() };
      writePrivate(accountFile, JSON.stringify(stored));
    }
    const acct = await ensureAccount(settings, stored);
    if (acct.created)
      writePrivate(accountFile, JSON.stringify({ keyPem: acct.keyPem, url: acct.url }));
    this.#client = acct.client;
    return acct.client;
  }

  /**
   * DNS-01 values a killed run left published (RFC 8555 §8.4 values at `_acme-challenge.NAME`
   * of the domain's names): removed when the store recorded them, never another value (txt-set
   * removes only recorded values still published). Each value is looked for in the zone it was
   * recorded under (the zone that held its owner, RFC 1034 §4.3.2, or the configured one), so
   * nothing is asked of DNS when nothing is recorded. The pass holds this domain's lease, so its
   * values are not in use; a name another managed domain also covers may be that domain's
   * challenge in progress: only values older than LEFTOVER_MIN_AGE_MS go there.
   */
  async sweep(d: Domain): Promise<string[]> {
    const txt = this.#o.store.txt;
    const owners = new Set(certificateNames(d).map(dns01Owner));
    const zones = txt.zonesOf([...owners]);
    if (zones.length === 0) return [];
    const shared = new Set(
      this.#o.store.domains
        .list()
        .filter((x) => x.name !== d.name)
        .flatMap((x) => certificateNames(x).map(dns01Owner)),
    );
    const now = this.#o.now();
    const out: string[] = [];
    const refused: string[] = [];
    for (const zone of zones) {
      const pub = this.#publisher(d, zone);
      if (!pub?.applyTxt) continue;
      const here = new Set(txt.list(zone).map((r) => r.owner));
      if (![...owners].some((o) => here.has(o))) continue;
      if (absName(pub.zone) !== zone) {
        refused.push(`${zone} (the [dns] backend serves ${absName(pub.zone)})`);
        continue;
      }
      for (const minAgeMs of [0, LEFTOVER_MIN_AGE_MS]) {
        const mine = [...owners].filter((o) => here.has(o) && shared.has(o) === minAgeMs > 0);
        if (mine.length === 0) continue;
        const res = await removeLeftoverTxt(pub, { store: txt, owners: mine, minAgeMs, now });
        for (const r of res) {
          if (r.removed.length > 0) {
            out.push(
              `Removed the DNS-01 value(s) ${r.removed.join(', ')} at ${r.owner} that an earlier run left behind`,
            );
          }
        }
      }
    }
    if (refused.length > 0) {
      throw new DkError(
        'config',
        'E_DAEMON_ZONE',
        `DNS-01 values of ${d.name} recorded in ${refused.join(', ')} cannot be removed: configure a backend for that zone${out.length > 0 ? ` (${out.length} removed elsewhere)` : ''}`,
      );
    }
    return out;
  }

  /** Store roles follow the planner's keys (current/next unique per domain; others retired). */
  #syncRoles(d: Domain, state: RolloverState, add?: { id: string; role: 'current' | 'next' }) {
    const ks = this.#o.store.keys;
    this.#o.store.transaction(() => {
      const want = (id: string) =>
        add?.id === id
          ? add.role
          : state.keys.current?.id === id
            ? 'current'
            : state.keys.next?.id === id
              ? 'next'
              : 'retired';
      const list = ks.list(d.name);
      for (const k of list) {
        const w = want(k.id);
        if (k.role !== w && k.role !== 'retired') ks.setRole(k.id, 'retired');
        if (add && k.id !== add.id && k.role === add.role && w === add.role) {
          ks.setRole(k.id, 'retired');
        }
      }
      for (const k of ks.list(d.name)) {
        const w = want(k.id);
        if (k.role !== w) ks.setRole(k.id, w);
      }
    });
  }

  async execute(d: Domain, a: Action, state: RolloverState, policy: RolloverPolicy): Promise<void> {
    const store = this.#o.store;
    // the store's roles follow the planner's keys (a rotation moves them once verified), so
    // `domain show` and the other pieces read the same current and next key
    this.#syncRoles(d, state, a.kind === 'generateKey' ? { id: a.keyId, role: a.role } : undefined);
    switch (a.kind) {
      case 'generateKey': {
        // idempotent after a crash: a key stored under this id is kept (keys.add would refuse)
        if (store.keys.get(a.keyId)) return;
        const k = generateKey(a.keyType);
        // a stale holder of the role (the planner moved on) gives it up first
        const holder = store.keys.byRole(d.name, a.role);
        if (holder && holder.id !== a.keyId) store.keys.setRole(holder.id, 'retired');
        store.keys.add(
          {
            id: a.keyId,
            domain: d.name,
            role: a.role,
            type: a.keyType as KeyType,
            privateKeyPem: k.pem,
            spkiSha256: k.spki,
          },
          this.#o.now(),
        );
        return;
      }
      case 'publishRecords': {
        const pub = await this.#publisherFor(d, a.owner);
        if (!pub) {
          throw new DkError(
            'config',
            'E_DAEMON_NO_BACKEND',
            `Cannot publish at ${a.owner}: no [dns] backend is configured`,
          );
        }
        const opts = { now: this.#o.now(), ...(a.ttl !== undefined ? { ttl: a.ttl } : {}) };
        // RFC 7671 §8.1: add before remove, never the other way round
        if (a.add.length) await addTlsa(pub, store.ownership, a.owner, tlsa(a.add), opts);
        if (a.remove.length) {
          const r = await removeTlsa(pub, store.ownership, a.owner, tlsa(a.remove), {
            now: this.#o.now(),
          });
          if (r.notOwned.length > 0) {
            throw new DkError(
              'noperm',
              'E_DAEMON_NOT_OWNED',
              `Not removing ${r.notOwned.map(formatRdata).join(', ')} at ${a.owner}: danekeeper did not publish it`,
            );
          }
        }
        return;
      }
      case 'orderCertificate': {
        if (store.certificates.get(a.certId)) return;
        const client = await this.#acme();
        const got = await obtainCertificate(client, {
          names: certificateNames(d),
          keyPem: store.keys.privateKeyPem(a.keyId),
          solver: this.#o.solver(d),
          ...(a.replaces !== undefined ? { replaces: a.replaces } : {}),
          ...(this.#o.acme.profile !== undefined ? { profile: this.#o.acme.profile } : {}),
        });
        // the leaf must be of the key asked for: a CA that ignored the CSR's key is refused
        const key = store.keys.get(a.keyId)!;
        if (spkiOfPem(splitChain(got.chainPem)[0]!) !== key.spkiSha256) {
          throw new DkError(
            'protocol',
            'E_DAEMON_WRONG_KEY',
            `The CA issued ${a.certId} for another key than ${a.keyId}`,
          );
        }
        store.certificates.add({
          id: a.certId,
          domain: d.name,
          keyId: a.keyId,
          chainPem: got.chainPem,
          notBefore: got.notBefore,
          notAfter: got.notAfter,
          serial: got.serial,
          ariCertId: got.certId,
          issuedAt: this.#o.now().toISOString(),
        });
        // RFC 8555 §7.4.2: every chain the CA offers names its current issuers for this key
        // type (after the certificate is stored: a failed write costs no new order)
        this.#issuers = mergeIssuers(
          this.#book(),
          key.type,
          issuersOfChains([got.chainPem, ...got.alternateChains]),
          this.#o.now(),
        );
        writeIssuerBook(this.#issuersFile(), this.#issuers);
        return;
      }
      case 'install': {
        const c = store.certificates.get(a.certId);
        if (!c) throw new DkError('internal', 'E_DAEMON_NO_CERT', `No certificate ${a.certId}`);
        if (this.#deployed(d) === a.certId) return;
        const outcome = await deployPair(
          d.certDir,
          { keyPem: store.keys.privateKeyPem(c.keyId), chainPem: c.chainPem },
          {
            reloads: this.#reloads(d),
            endpoints: this.#endpoints(d),
            records: this.#confirmed(state, policy),
            now: this.#o.now,
            verify: this.#verifyDeps(),
            ...(this.#o.settleMs !== undefined ? { settleMs: this.#o.settleMs } : {}),
          },
        );
        if (outcome.outcome === 'installed') {
          store.certificates.markInstalled(a.certId, this.#o.now());
          return;
        }
        // deploy rolled back (or could not): a failed install, recorded and retried after
        // the backoff (docs/rollover.md); the planner's live check is the second line. The
        // code tells scripts why: a reload command failed, or the service did not serve the
        // new chain after a reload that succeeded (both E_DEPLOY_ROLLED_BACK_*: put back).
        throw new DkError(
          'tempfail',
          outcome.outcome === 'failed'
            ? 'E_DEPLOY_FAILED'
            : outcome.reason === 'reload-failed'
              ? 'E_DEPLOY_ROLLED_BACK_RELOAD'
              : 'E_DEPLOY_ROLLED_BACK_NOT_SERVED',
          `Installing ${a.certId}: ${outcome.error}${outcome.outcome === 'failed' ? ` (and it could not be rolled back: ${outcome.rollbackError})` : '; the previous pair is back in place'}`,
        );
      }
      case 'rollback': {
        if (this.#deployed(d) === a.certId && a.certId !== null) return;
        const prev = existsSync(d.certDir) ? readDeployed(d.certDir).previous : null;
        const target = a.certId ? store.certificates.get(a.certId) : undefined;
        if (
          a.certId === null ||
          (prev && target && chainFacts(target.id, target.chainPem).leafSha256 === prev.certSha256)
        ) {
          rollback(d.certDir);
        } else if (target) {
          installPair(d.certDir, {
            keyPem: store.keys.privateKeyPem(target.keyId),
            chainPem: target.chainPem,
          });
        } else {
          throw new DkError('internal', 'E_DAEMON_NO_CERT', `No certificate ${a.certId}`);
        }
        await runReloads(this.#reloads(d));
        return;
      }
    }
  }

  #endpoints(d: Domain): DeployEndpoint[] {
    return d.endpoints.map((e) => ({ host: e.host, port: e.port }));
  }

  #verifyDeps(): VerifyDeps {
    return {
      resolver: this.#o.resolver,
      probe: this.#o.probe,
      timeoutMs: this.#o.probeTimeoutMs ?? 5000,
    };
  }

  /** Only records confirmed at every owner go to deploy (DESIGN.md, the confirmation rule). */
  #confirmed(state: RolloverState, policy: RolloverPolicy): TlsaRecord[] {
    const now = this.#o.now().getTime();
    const out = new Set<string>();
    for (const owner of policy.owners) {
      for (const r of Object.keys(state.tracks[owner] ?? {})) {
        const at = confirmedAt(state.tracks, owner, r, policy);
        if (at !== null && at <= now) out.add(r);
      }
    }
    return tlsa([...out]);
  }

  /**
   * Records the ownership store says danekeeper published at the domain's owners, for the first
   * plan of a domain (Observations.inherited). An owner another managed domain also uses is left
   * out: those records may be that domain's.
   */
  #inherited(d: Domain): Record<string, string[]> {
    const mine = new Set(ownersOf(d).map((o) => o.toLowerCase()));
    // read once per world (a pass over many new domains would read the tables per domain)
    this.#owned ??= (() => {
      const m = new Map<string, string[]>();
      for (const r of this.#o.store.ownership.list()) {
        const owner = r.owner.toLowerCase();
        m.set(owner, [...(m.get(owner) ?? []), formatRdata(r.record)]);
      }
      return m;
    })();
    const out: Record<string, string[]> = {};
    for (const owner of mine) {
      const rs = this.#owned.get(owner);
      if (rs?.length) out[owner] = rs;
    }
    if (Object.keys(out).length === 0) return out;
    this.#ownerUse ??= (() => {
      const m = new Map<string, Set<string>>();
      for (const x of this.#o.store.domains.list()) {
        for (const o of ownersOf(x)) {
          const k = o.toLowerCase();
          m.set(k, (m.get(k) ?? new Set()).add(x.name));
        }
      }
      return m;
    })();
    for (const owner of Object.keys(out)) {
      if ([...(this.#ownerUse.get(owner) ?? [])].some((n) => n !== d.name)) delete out[owner];
    }
    return out;
  }

  /** The domain's own reload commands, else `[run] reload` (read at each pass: SIGHUP applies). */
  #reloads(d: Domain): string[][] {
    return d.reload.length > 0 ? d.reload : (this.#o.defaultReload ?? []);
  }

  async close(): Promise<void> {
    for (const p of this.#publishers.values()) await p?.close?.();
  }
}

/** Writes a file only its owner can read, whole or not at all. */
function writePrivate(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600, flag: 'w' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
