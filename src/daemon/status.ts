/**
 * What `status` shows per domain (DESIGN.md "Command-line contract, automatic path":
 * `{"domains": [{"name", "phase", "waitingFor", "until", "certificate", "tlsa", ...}]}`): the
 * planner's decision on a fresh observation, summarized, never persisted and never acted on.
 * Public facts only (key ids, SPKI digests, serials): no private key reaches this.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isDkError } from '../core/errors.js';
import { plan, summarize, type RolloverState } from '../core/rollover/index.js';
import type { RolloverSummary } from '../core/rollover/index.js';
import { CERT_NAMES, readDeployed, STATE_DIR } from '../deploy/index.js';
import { splitChain } from '../io/acme/certid.js';
import type { Domain } from '../store/domains.js';
import type { StateStore } from '../store/state.js';
import type { DomainWorld } from './pass.js';

export interface DomainStatus extends Partial<RolloverSummary> {
  name: string;
  dane: boolean;
  certDir: string;
  /** a pass holding the domain now */
  lease: { holder: string; expiresAt: string } | null;
  /** why the domain could not be looked at */
  error?: { code: string; message: string };
}

export async function domainStatus(
  store: StateStore,
  world: DomainWorld,
  d: Domain,
  now: Date,
): Promise<DomainStatus> {
  const l = store.rollover.lease(d.name, now);
  const base: DomainStatus = {
    name: d.name,
    dane: d.dane,
    certDir: d.certDir,
    lease: l ? { holder: l.holder, expiresAt: l.expiresAt } : null,
  };
  try {
    const raw = store.rollover.read(d.name)?.state;
    const state = (raw ?? null) as RolloverState | null;
    const policy = world.policy(d);
    const obs = await world.observe(d, state, policy, { ari: false });
    const dec = plan(state, obs, now.toISOString(), policy);
    return { ...base, ...summarize(dec, obs, policy) };
  } catch (e) {
    if (!isDkError(e)) throw e;
    return { ...base, error: { code: e.code, message: e.message.replace(/\s*\n\s*/g, ' ') } };
  }
}

// ---- what an observation re-derives from files and stored chains, kept per process
//
// A status (and each pass) asked `readDeployed` for the installed pair, which reads both
// versions' key and chain and checks that each key matches its certificate (preparePair), and
// parsed every stored certificate's chain twice (its leaf's hash, its issuers' SPKIs): per
// domain page, several milliseconds of CPU for facts that change only when a file or a
// certificate does (bench/api.ts). Both are kept here, keyed by what would change them.

/** lstat facts that change when a file is replaced, rewritten, renamed over or chmod'ed */
function statKey(p: string): string {
  let s: Stats;
  try {
    s = lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '-';
    throw e;
  }
  const link = s.isSymbolicLink() ? `>${readlinkSync(p)}` : '';
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.mode}:${s.uid}${link}`;
}

/**
 * Everything `readDeployed(certDir)` reads or checks: the directories above (checkSafePath
 * refuses a path another user could change), the directory, its four names (ours, plain or
 * foreign), danekeeper's state directory, the current/previous links and the key and chain of
 * the versions they point at. Versions are written once and switched by renaming a link, so a
 * change anywhere shows in one of these (inode, size, mtime, ctime, mode, owner, link target).
 */
function deployedKey(certDir: string): string {
  const dir = resolve(certDir);
  const parts: string[] = [];
  for (let p = dirname(dir); ; p = dirname(p)) {
    parts.push(statKey(p));
    if (dirname(p) === p) break;
  }
  parts.push(statKey(dir));
  for (const n of CERT_NAMES) parts.push(statKey(join(dir, n)));
  const state = join(dir, STATE_DIR);
  parts.push(statKey(state));
  for (const which of ['current', 'previous']) {
    const link = statKey(join(state, which));
    parts.push(link);
    const target = link.split('>')[1];
    if (target === undefined || target.includes('/')) continue;
    const v = join(state, target);
    parts.push(statKey(v), statKey(join(v, 'privkey.pem')), statKey(join(v, 'fullchain.pem')));
  }
  return parts.join('|');
}

const MAX_ENTRIES = 50_000;
const deployedMemo = new Map<string, { key: string; value: ReturnType<typeof readDeployed> }>();

function remember<K, V>(m: Map<K, V>, k: K, v: V): void {
  m.delete(k);
  m.set(k, v);
  // the oldest first: a process watching more than MAX_ENTRIES forgets the least recent
  if (m.size > MAX_ENTRIES) m.delete(m.keys().next().value as K);
}

/**
 * `readDeployed(certDir)`, read again only when one of the files it depends on changed (see
 * deployedKey). Failures are not kept: an unsafe or foreign file is re-checked and refused
 * each time, as before. `read` is for tests.
 */
export function readDeployedCached(
  certDir: string,
  read: typeof readDeployed = readDeployed,
): ReturnType<typeof readDeployed> {
  let key: string;
  try {
    key = deployedKey(certDir);
  } catch {
    // an lstat that fails for another reason than ENOENT: readDeployed says what it is
    return read(certDir);
  }
  const dir = resolve(certDir);
  const hit = deployedMemo.get(dir);
  if (hit && hit.key === key) return hit.value;
  const value = read(certDir);
  // the key is taken again after the read: a file replaced during it is read again next time
  if (deployedKey(certDir) === key) remember(deployedMemo, dir, { key, value });
  return value;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What an observation needs of a stored certificate's chain (world.ts certFacts, deployed). */
export interface ChainFacts {
  /** SHA-256 of the leaf's DER, as readDeployed's certSha256 */
  leafSha256: string;
  /** SHA-256 SPKI of each issuer in the chain, the leaf's issuer first */
  issuerSpkis: string[];
}

const chainMemo = new Map<string, ChainFacts>();

/**
 * The chain's facts, parsed once per certificate id: the store never changes a stored
 * certificate's chain (certificates.ts: INSERT, then only installed_at/replaced_at change), so
 * the id decides; the chain's length is part of the key so that another store in the same
 * process reusing an id with other bytes is parsed anew.
 */
export function chainFacts(id: string, chainPem: string): ChainFacts {
  const k = `${id}\0${chainPem.length}`;
  const hit = chainMemo.get(k);
  if (hit) return hit;
  const certs = splitChain(chainPem);
  const facts: ChainFacts = {
    leafSha256: certs[0] ? sha256(new X509Certificate(certs[0]).raw) : '',
    issuerSpkis: certs
      .slice(1)
      .map((pem) =>
        sha256(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })),
      ),
  };
  remember(chainMemo, k, facts);
  return facts;
}
