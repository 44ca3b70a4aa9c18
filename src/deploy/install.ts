/**
 * Installs a key + certificate pair in a --cert-dir so that every reader, at every moment and
 * across a `kill -9` at any point, finds either the old pair or the new pair under all four
 * certbot names (DESIGN.md, "Command-line contract, automatic path").
 *
 * Layout:
 *
 *   DIR/privkey.pem   -> .danekeeper/current/privkey.pem     (never changes once made)
 *   DIR/fullchain.pem -> .danekeeper/current/fullchain.pem   (same for cert.pem, chain.pem)
 *   DIR/.danekeeper/current  -> v7                           (switched by one rename(2))
 *   DIR/.danekeeper/previous -> v6                           (what rollback puts back)
 *   DIR/.danekeeper/v7/{privkey,fullchain,cert,chain}.pem    (written whole before the switch)
 *
 * Why this is safe for the services that read these paths:
 * - A version directory is complete and fsynced before `current` points at it, and
 *   rename(2) replaces `current` atomically: a path lookup resolves either the old or the new
 *   target, never a half-written file or a missing name. The four names are switched by that
 *   one rename, so they always agree with each other.
 * - Every link is relative and stays inside DIR, so DIR still works when it is bind-mounted
 *   into a chroot or copied with `cp -a`, and `cp`/`cp -L` of a name copies the current
 *   version's bytes (certbot's live/ directory is the same kind of link farm, so Postfix,
 *   Dovecot, nginx and Exim setups already read through links). Postfix, Dovecot and nginx open
 *   their key and certificate files as root, before chroot and privilege drop, at start and
 *   on reload; reloads run after the switch, so they read one version.
 * - Key material is written only into a fresh directory we made (O_EXCL | O_NOFOLLOW) under a
 *   path only root or we can change (safe-path.ts), so no planted link can redirect it.
 *
 * A certbot-style DIR with plain files is taken over without a gap: the plain files are first
 * copied into a version of their own and `current` points there; only then is each name
 * replaced (rename over it) by its link, which resolves to the same bytes as before.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { DkError, isDkError } from '../core/errors.js';
import { parseCertificates } from '../core/x509/index.js';
import { fileErrorReason } from '../io/file-errors.js';
import { preparePair, type PairInput, type PreparedPair } from './pair.js';
import { checkSafePath } from './safe-path.js';

/** The names services read, as certbot names them. */
export const CERT_NAMES = ['privkey.pem', 'fullchain.pem', 'cert.pem', 'chain.pem'] as const;
export type CertName = (typeof CERT_NAMES)[number];

/** danekeeper's own directory inside --cert-dir. */
export const STATE_DIR = '.danekeeper';

const VERSION_RE = /^v([1-9][0-9]{0,8})$/;
const KEY_MODE = 0o600;
const KEY_MODE_GROUP = 0o640;
const CERT_MODE = 0o644;
const DIR_MODE = 0o755;

export interface InstallOptions {
  /**
   * How many versions to keep besides the current one (default 1: the previous, for
   * rollback; at most 2). Older ones are removed after a successful switch.
   */
  keep?: number;
  /** test hook: called between the steps, named; a crash test kills the process there */
  onStep?: (step: string) => void;
}

export interface InstallResult {
  certDir: string;
  /** the version now current, e.g. "v7" */
  version: string;
  /** the version rollback would put back; null when there is none */
  previous: string | null;
  /** plain certbot-style files were found and kept as a version of their own first */
  tookOver: boolean;
  /** versions removed */
  pruned: string[];
  /** public facts of the installed pair (never the key) */
  spkiSha256: string;
  certSha256: string;
  keyType: string;
  notBefore: string;
  notAfter: string;
}

export interface RollbackResult {
  certDir: string;
  /** the version now current (the one that was previous) */
  version: string;
  /** the version that was current and is now kept as previous */
  previous: string;
}

/** What one name in DIR is. */
type NameState = 'missing' | 'ours' | 'plain';

interface DirState {
  dir: string;
  dirStat: Stats;
  stateDir: string;
  /** .danekeeper exists */
  hasState: boolean;
  current: string | null;
  previous: string | null;
  versions: number[];
  names: Record<CertName, NameState>;
}

const fail = (kind: 'config' | 'internal' | 'unavailable', code: string, message: string) =>
  new DkError(kind, code, message);

function fsError(action: string, path: string, e: unknown): DkError {
  if (isDkError(e)) return e;
  return new DkError(
    'unavailable',
    'E_DEPLOY_IO',
    `${action} ${path} failed: ${fileErrorReason(e)}`,
    { cause: e },
  );
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsError('Reading', p, e);
  }
}

function linkTarget(name: CertName): string {
  return `${STATE_DIR}/current/${name}`;
}

/** `current`/`previous`: a link to `vN` inside the state directory, or absent. */
function readVersionLink(stateDir: string, which: 'current' | 'previous'): string | null {
  const p = join(stateDir, which);
  const st = lstatOrNull(p);
  if (!st) return null;
  const target = st.isSymbolicLink() ? readlinkSync(p) : '';
  if (!VERSION_RE.test(target)) {
    throw fail(
      'config',
      'E_DEPLOY_FOREIGN_FILE',
      `Nothing installed: ${p} is not a link to a version that danekeeper made; remove ${stateDir} by hand if it is not danekeeper's`,
    );
  }
  const v = lstatOrNull(join(stateDir, target));
  if (!v || !v.isDirectory()) {
    throw fail(
      'config',
      'E_DEPLOY_FOREIGN_FILE',
      `Nothing installed: ${p} points to ${target}, which is not a directory`,
    );
  }
  return target;
}

/** Reads and checks DIR without changing anything. */
function inspect(certDir: string, create: boolean): DirState {
  const dir = checkSafePath(certDir);
  let dirStat = lstatOrNull(dir);
  if (!dirStat) {
    if (!create) {
      throw fail('config', 'E_DEPLOY_NO_DIR', `Nothing done: ${dir} does not exist`);
    }
    try {
      mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    } catch (e) {
      throw fsError('Creating', dir, e);
    }
    dirStat = lstatSync(dir);
  }
  if (!dirStat.isDirectory()) {
    throw fail('config', 'E_DEPLOY_NOT_DIR', `Nothing installed: ${dir} is not a directory`);
  }
  // Unlike the directories above it, DIR may not even be sticky: whoever could create
  // .danekeeper or a name in it before us would decide where the key goes.
  if ((dirStat.mode & 0o022) !== 0) {
    throw fail(
      'config',
      'E_DEPLOY_UNSAFE_PATH',
      `Nothing installed: ${dir} is writable by group or others, so another user could plant links in it; chmod go-w ${dir}`,
    );
  }
  const stateDir = join(dir, STATE_DIR);
  const st = lstatOrNull(stateDir);
  if (
    st &&
    (!st.isDirectory() ||
      (st.mode & 0o022) !== 0 ||
      (st.uid !== 0 && st.uid !== process.geteuid?.()))
  ) {
    throw fail(
      'config',
      'E_DEPLOY_UNSAFE_PATH',
      `Nothing installed: ${stateDir} is not a directory only danekeeper writes (a link, a file, or writable by others)`,
    );
  }
  const versions: number[] = [];
  if (st) {
    for (const e of readdirSync(stateDir)) {
      const m = VERSION_RE.exec(e);
      if (m) versions.push(Number(m[1]));
    }
  }
  const names = {} as Record<CertName, NameState>;
  for (const n of CERT_NAMES) {
    const p = join(dir, n);
    const s = lstatOrNull(p);
    if (!s) names[n] = 'missing';
    else if (s.isSymbolicLink() && readlinkSync(p) === linkTarget(n)) names[n] = 'ours';
    else if (s.isFile()) names[n] = 'plain';
    else {
      // A link to anywhere else may be someone's attempt to have the key written there (or
      // certbot's archive/ link): never followed, never replaced.
      throw fail(
        'config',
        'E_DEPLOY_FOREIGN_FILE',
        `Nothing installed: ${p} is ${s.isSymbolicLink() ? `a link to ${readlinkSync(p)}` : 'not a regular file'} that danekeeper did not make; point --cert-dir at a directory of its own or remove it`,
      );
    }
  }
  return {
    dir,
    dirStat,
    stateDir,
    hasState: st !== null,
    current: st ? readVersionLink(stateDir, 'current') : null,
    previous: st ? readVersionLink(stateDir, 'previous') : null,
    versions,
    names,
  };
}

function fsyncPath(p: string): void {
  const fd = openSync(p, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a new file (never an existing one, never through a link), owner and mode set on the fd. */
function writeNew(
  path: string,
  data: string | Buffer,
  mode: number,
  uid: number,
  gid: number,
): void {
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (uid !== process.geteuid?.() || gid !== process.getegid?.()) fchownSync(fd, uid, gid);
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Points `path` at `target` by making a link next to it and renaming it over: one atomic step. */
function switchLink(path: string, target: string): void {
  const tmp = `${path}.dk-new`;
  try {
    unlinkSync(tmp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  symlinkSync(target, tmp);
  renameSync(tmp, path);
}

interface Owner {
  uid: number;
  gid: number;
  mode: number;
}

/** The owner and group of what a name shows today (followed: ours resolve inside DIR). */
function ownerOf(dir: string, name: CertName, fallback: Owner): Owner {
  try {
    const st = statSync(join(dir, name));
    return { uid: st.uid, gid: st.gid, mode: st.mode & 0o777 };
  } catch {
    return fallback;
  }
}

/** Reads a plain file without following a link planted in its place since inspect(). */
function readPlain(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function nextVersion(s: DirState): number {
  return Math.max(0, ...s.versions) + 1;
}

/** Makes vN (0700 while it is written, 0755 once complete) and returns its name. */
function writeVersion(
  s: DirState,
  files: Record<CertName, { data: Buffer | string; owner: Owner }>,
): string {
  const n = nextVersion(s);
  const name = `v${n}`;
  const vdir = join(s.stateDir, name);
  mkdirSync(vdir, { mode: 0o700 });
  s.versions.push(n);
  for (const f of CERT_NAMES) {
    const { data, owner } = files[f];
    writeNew(join(vdir, f), data, owner.mode, owner.uid, owner.gid);
  }
  // The certificates must be readable by service users; the key file's own mode protects it.
  const fd = openSync(vdir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fchmodSync(fd, DIR_MODE);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return name;
}

/** Derives cert.pem and chain.pem of a plain fullchain.pem that lacks them (best effort). */
function splitFullchain(fullchain: Buffer): { cert: string; chain: string } {
  try {
    const certs = parseCertificates(fullchain, 'fullchain.pem');
    const pems = certs.map((c) => c.x509.toString());
    return { cert: pems[0] ?? '', chain: pems.slice(1).join('') };
  } catch {
    return { cert: '', chain: '' };
  }
}

/**
 * Certbot-style takeover: keeps the plain files as a version of their own and points
 * `current` at it, so that replacing each name by its link changes no byte a reader sees.
 * Only when privkey.pem and fullchain.pem are both plain files: with one of them missing there
 * is no old pair to protect. Done again after a crash before both names became links (the
 * copy is identical; prune removes the extra version).
 */
function takeOver(s: DirState, onStep: (step: string) => void): boolean {
  if (s.names['privkey.pem'] !== 'plain' || s.names['fullchain.pem'] !== 'plain') return false;
  const read = (n: CertName) => {
    const p = join(s.dir, n);
    const st = lstatSync(p);
    return { data: readPlain(p), owner: { uid: st.uid, gid: st.gid, mode: st.mode & 0o777 } };
  };
  const key = read('privkey.pem');
  const full = read('fullchain.pem');
  const derived = splitFullchain(full.data);
  const other = (n: 'cert.pem' | 'chain.pem') =>
    s.names[n] === 'plain'
      ? read(n)
      : { data: derived[n === 'cert.pem' ? 'cert' : 'chain'], owner: full.owner };
  const v = writeVersion(s, {
    'privkey.pem': key,
    'fullchain.pem': full,
    'cert.pem': other('cert.pem'),
    'chain.pem': other('chain.pem'),
  });
  onStep('takeover-version-written');
  switchLink(join(s.stateDir, 'current'), v);
  fsyncPath(s.stateDir);
  s.current = v;
  onStep('takeover-current-set');
  return true;
}

/** Replaces every name that is not yet our link by it (each one rename over the old name). */
function linkNames(s: DirState, onStep: (step: string) => void, label: string): void {
  for (const n of CERT_NAMES) {
    if (s.names[n] === 'ours') continue;
    switchLink(join(s.dir, n), linkTarget(n));
    s.names[n] = 'ours';
    onStep(`${label}-${n}`);
  }
  fsyncPath(s.dir);
}

/** Removes partial versions and old ones beyond `keep`, and leftovers of interrupted switches. */
function prune(s: DirState, keep: number): string[] {
  const cur = s.current === null ? 0 : Number(VERSION_RE.exec(s.current)![1]);
  const prev = s.previous === null ? 0 : Number(VERSION_RE.exec(s.previous)![1]);
  const older = s.versions.filter((n) => n !== cur && n !== prev && n < cur).sort((a, b) => b - a);
  const keepSet = new Set([cur, prev, ...older.slice(0, Math.max(0, keep - 1))]);
  const removed: string[] = [];
  for (const n of s.versions) {
    if (keepSet.has(n)) continue;
    rmSync(join(s.stateDir, `v${n}`), { recursive: true, force: true });
    removed.push(`v${n}`);
  }
  s.versions = s.versions.filter((n) => keepSet.has(n));
  for (const tmp of ['current.dk-new', 'previous.dk-new'])
    rmSync(join(s.stateDir, tmp), { force: true });
  for (const n of CERT_NAMES) rmSync(join(s.dir, `${n}.dk-new`), { force: true });
  return removed.sort();
}

/**
 * Installs `pair` in `certDir` (DESIGN.md: "a crash leaves the old pair or the new pair, never
 * a mix"). Everything is checked before anything is written: the pair (preparePair), the path
 * (no component another user could redirect), DIR itself (a directory; its names plain files,
 * our links or absent). The key keeps the owner and group of an existing privkey.pem and its
 * group-read bit (a service user may read it through the group), else 0600; certificates keep
 * the owner and group of an existing fullchain.pem, 0644.
 */
export function installPair(
  certDir: string,
  pair: PairInput,
  opts: InstallOptions = {},
): InstallResult {
  const prepared = preparePair(pair);
  const keep = Math.min(2, Math.max(1, opts.keep ?? 1));
  const onStep = opts.onStep ?? (() => {});
  const first = inspect(certDir, true);
  if (!first.hasState) {
    try {
      mkdirSync(first.stateDir, { mode: DIR_MODE });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw fsError('Creating', first.stateDir, e);
    }
  }
  return withLock(first.stateDir, () => {
    // read again under the lock: another install may have finished meanwhile
    const s = inspect(certDir, false);
    try {
      return doInstall(s, prepared, keep, onStep);
    } catch (e) {
      throw fsError('Installing the certificate in', s.dir, e);
    }
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // a zombie holds no lock
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true;
  }
}

/**
 * One install or rollback at a time per DIR, also across processes (two domains given the
 * same --cert-dir, or a manual run next to the daemon). The lock file names its holder's pid;
 * one left by a killed process (kill -9) is taken over once that pid is gone.
 */
function withLock<T>(stateDir: string, fn: () => T): T {
  const lock = join(stateDir, 'lock');
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(
        lock,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError('Locking', stateDir, e);
      let holder = NaN;
      try {
        holder = Number(readPlain(lock).toString('utf8').trim());
      } catch {
        // vanished or unreadable: try again
      }
      if (attempt < 3 && (!Number.isInteger(holder) || holder <= 0 || !pidAlive(holder))) {
        rmSync(lock, { force: true });
        continue;
      }
      throw new DkError(
        'tempfail',
        'E_DEPLOY_BUSY',
        `Nothing changed: ${stateDir} is locked by process ${holder}, which is installing into it; try again later`,
      );
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    try {
      return fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }
}

function doInstall(
  s: DirState,
  p: PreparedPair,
  keep: number,
  onStep: (step: string) => void,
): InstallResult {
  const me: Owner = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0, mode: 0 };
  const keyOwner = ownerOf(s.dir, 'privkey.pem', { ...me, mode: KEY_MODE });
  const certOwner = ownerOf(s.dir, 'fullchain.pem', { ...me, mode: CERT_MODE });
  // Never more than owner rw + group r for the key, whatever the old file allowed.
  const keyMode = (keyOwner.mode & 0o040) !== 0 ? KEY_MODE_GROUP : KEY_MODE;
  const tookOver = takeOver(s, onStep);
  // Names still plain next to a `current` (a takeover interrupted after its first link):
  // linked to `current`, which holds the same bytes, before the switch; renaming them after
  // it would show a new key next to an old chain until the last one is renamed.
  if (s.current !== null) linkNames(s, onStep, 'takeover-link');
  const key = { ...keyOwner, mode: keyMode };
  const crt = { ...certOwner, mode: CERT_MODE };
  const v = writeVersion(s, {
    'privkey.pem': { data: p.privkey, owner: key },
    'fullchain.pem': { data: p.fullchain, owner: crt },
    'cert.pem': { data: p.cert, owner: crt },
    'chain.pem': { data: p.chain, owner: crt },
  });
  fsyncPath(s.stateDir);
  onStep('version-written');
  if (s.current !== null) {
    switchLink(join(s.stateDir, 'previous'), s.current);
    s.previous = s.current;
    onStep('previous-set');
  }
  // The commit point: one rename switches all four names from the old pair to the new.
  switchLink(join(s.stateDir, 'current'), v);
  fsyncPath(s.stateDir);
  s.current = v;
  onStep('current-set');
  // Only names that had no old pair behind them are still missing or plain here.
  linkNames(s, onStep, 'link');
  const pruned = prune(s, keep);
  onStep('pruned');
  return {
    certDir: s.dir,
    version: v,
    previous: s.previous,
    tookOver,
    pruned,
    spkiSha256: p.spkiSha256,
    certSha256: p.certSha256,
    keyType: p.keyType,
    notBefore: p.leaf.notBefore.toISOString(),
    notAfter: p.leaf.notAfter.toISOString(),
  };
}

/**
 * Puts the previous pair back with the same single rename, and keeps the one it replaces as
 * `previous` (so a second rollback undoes the first). E_DEPLOY_NO_PREVIOUS when there is none.
 */
export function rollback(certDir: string): RollbackResult {
  const first = inspect(certDir, false);
  if (!first.hasState) {
    throw fail(
      'config',
      'E_DEPLOY_NO_PREVIOUS',
      `Nothing rolled back: ${first.dir} has no previous certificate to put back`,
    );
  }
  return withLock(first.stateDir, () => doRollback(certDir));
}

function doRollback(certDir: string): RollbackResult {
  const s = inspect(certDir, false);
  if (s.current === null || s.previous === null || s.current === s.previous) {
    throw fail(
      'config',
      'E_DEPLOY_NO_PREVIOUS',
      `Nothing rolled back: ${s.dir} has no previous certificate to put back`,
    );
  }
  const was = s.current;
  const back = s.previous;
  try {
    switchLink(join(s.stateDir, 'current'), back);
    fsyncPath(s.stateDir);
    switchLink(join(s.stateDir, 'previous'), was);
    for (const n of CERT_NAMES)
      if (s.names[n] !== 'ours') switchLink(join(s.dir, n), linkTarget(n));
    fsyncPath(s.stateDir);
    fsyncPath(s.dir);
  } catch (e) {
    throw fsError('Rolling back the certificate in', s.dir, e);
  }
  return { certDir: s.dir, version: back, previous: was };
}

/** What DIR holds now: the current and previous versions' leaf facts. Reads only. */
export interface DeployedVersion {
  version: string;
  spkiSha256: string;
  certSha256: string;
  keyType: string;
  notBefore: string;
  notAfter: string;
  /** the chain's PEM (no key) */
  fullchainPem: string;
}

export function readDeployed(certDir: string): {
  current: DeployedVersion | null;
  previous: DeployedVersion | null;
} {
  const s = inspect(certDir, false);
  const read = (v: string | null): DeployedVersion | null => {
    if (v === null) return null;
    const vdir = join(s.stateDir, v);
    const p = preparePair({
      keyPem: readPlain(join(vdir, 'privkey.pem')).toString('utf8'),
      chainPem: readPlain(join(vdir, 'fullchain.pem')).toString('utf8'),
    });
    return {
      version: v,
      spkiSha256: p.spkiSha256,
      certSha256: p.certSha256,
      keyType: p.keyType,
      notBefore: p.leaf.notBefore.toISOString(),
      notAfter: p.leaf.notAfter.toISOString(),
      fullchainPem: p.fullchain,
    };
  };
  return { current: read(s.current), previous: read(s.previous) };
}
