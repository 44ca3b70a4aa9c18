/**
 * The `zonefile` backend, the default: it needs no server API, only a master file the name
 * server loads and, optionally, a command that makes it reload.
 *
 * Two modes:
 *  - `zone`: the zone's own master file. Only the lines of the TLSA RRs being changed are
 *    touched; every other line, comment and byte stays, and the SOA serial goes up (RFC 1982).
 *    Not for a zone the server updates itself (BIND `allow-update`, `update-policy`): the
 *    server would overwrite the file from its journal. (`inline-signing` is fine: BIND signs a
 *    copy and leaves the unsigned file alone.)
 *  - `include`: a file danekeeper owns, that the zone's master file pulls in with `$INCLUDE`.
 *    Records have absolute owners and explicit TTLs, so the $ORIGIN and $TTL in effect at the
 *    `$INCLUDE` do not matter. Give `zoneFile` to have the zone's SOA serial incremented (no
 *    other line of it is touched) — secondaries only transfer a zone whose serial went up —
 *    and to take the blank TTL default from it. read() sees only the include file: TLSA
 *    records typed into the zone's own file at the same owner are not seen (use `zone` mode
 *    for owners that have hand-made records).
 *
 * Writes are atomic and guarded: under an exclusive lock file (zonefile-lock.ts) the file is
 * re-read, the TLSA RRset compared with `change.expected` (E_PUBLISH_CONFLICT if it differs),
 * the new text written to a temporary file in the same directory with the original's mode and
 * owner, fsynced, and renamed over the original; then the reload command runs.
 *
 * TXT (readTxt/applyTxt, for ACME DNS-01 `_acme-challenge` records, RFC 8555 §8.4) goes through
 * the same editor, guard, lock, serial bump and reload; a value is one RR's character-strings
 * joined (types.ts), written split at 255 octets in quoted presentation form (RFC 1035 §5.1).
 *
 * TTLs are always written out: the change's TTL is a number (tlsa-set turns a blank TTL into
 * defaultTtl()), and danekeeper's waits (2 x TTL) must rest on the TTL actually served, not one
 * that would follow a later edit of $TTL.
 */
import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DkError } from '../core/errors.js';
import { fileErrorReason } from '../io/file-errors.js';
import { sameRecord, type TlsaRecord } from '../core/tlsa/record.js';
import { lineDiff } from './line-diff.js';
import { txtStringsValue, txtValueStrings } from './txt-rdata.js';
import {
  editZone,
  rrsetAt,
  TLSA_KIND,
  TXT_KIND,
  type RrKind,
  type RrsetAt,
} from './zonefile-edit.js';
import { listZoneFileTlsa } from './zonefile-list.js';
import { acquireLock, ioError, type LockOptions } from './zonefile-lock.js';
import {
  canonicalName,
  findSoa,
  parseTtlText,
  parseZone,
  type ZoneFile,
} from './zonefile-parse.js';
import type { Publisher, TlsaChange, TlsaRrset, TxtChange, TxtRrset } from './types.js';

export interface ZonefileOptions {
  /** the zone's name */
  zone: string;
  /** the file danekeeper edits: the zone's master file (mode zone) or its include file */
  file: string;
  /** `zone` (default): edit the zone's master file; `include`: own an $INCLUDEd file */
  mode?: 'zone' | 'include';
  /** argv run after each change, without a shell: e.g. ['rndc', 'reload', 'example.org'] */
  reloadCommand?: string[];
  /** include mode: the zone's master file, for its SOA serial and its default TTL */
  zoneFile?: string;
  /** include mode without zoneFile: the TTL a record published with a blank TTL gets */
  defaultTtl?: number;
  /** the lock's wait and staleness; see zonefile-lock.ts */
  lock?: LockOptions;
  /** for serials and tests; default the clock */
  now?: () => Date;
  /** the reload command's time limit; default 60 s */
  reloadTimeoutMs?: number;
}

const lockPath = (file: string) => `${file}.danekeeper-lock`;

/** The file a symlink points to; the path itself when it is no link or does not exist yet. */
function realTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function readText(path: string, missingOk: boolean): { text: string; stat: Stats | null } {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch (e) {
    if (missingOk && (e as { code?: string }).code === 'ENOENT') return { text: '', stat: null };
    throw ioError('read the zone file', path, e);
  }
  if (!stat.isFile()) {
    throw new DkError('noinput', 'E_PUBLISH_IO', `Cannot read the zone file ${path}: not a file`);
  }
  try {
    // latin1: one char per byte, so every byte we do not edit is written back unchanged.
    return { text: readFileSync(path, 'latin1'), stat };
  } catch (e) {
    throw ioError('read the zone file', path, e);
  }
}

/**
 * Replaces `path` with `text` atomically: a temporary file in the same directory (so rename
 * is atomic, POSIX rename(2)), the original's mode and owner, fsync, rename, fsync of the
 * directory so the rename itself survives a crash.
 */
function writeAtomic(path: string, text: string, orig: Stats | null): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.danekeeper-${process.pid}-${Date.now()}.tmp`);
  const mode = orig ? orig.mode & 0o7777 : 0o644;
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', mode);
  } catch (e) {
    throw ioError('write a temporary file in', dir, e);
  }
  try {
    try {
      const buf = Buffer.from(text, 'latin1');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode); // the umask narrowed the mode given to open
    if (orig && (typeof process.getuid !== 'function' || process.getuid() === 0)) {
      chownSync(tmp, orig.uid, orig.gid);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created
    }
    throw ioError('replace the zone file', path, e);
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // some file systems cannot fsync a directory; the rename is done either way
  }
}

function runReload(argv: string[], timeoutMs: number, file: string): Promise<void> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.resolve();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) {
        resolve();
        return;
      }
      const e = err as Error & { code?: number | string; killed?: boolean; signal?: string | null };
      const status =
        typeof e.code === 'number'
          ? `exit status ${e.code}`
          : e.code === 'ENOENT'
            ? 'command not found'
            : e.killed
              ? `no answer in ${timeoutMs / 1000} s`
              : e.signal
                ? `killed by ${e.signal}`
                : fileErrorReason(e);
      const first = `${stderr}\n${stdout}`.split('\n').find((l) => l.trim() !== '');
      reject(
        new DkError(
          'unavailable',
          'E_PUBLISH_RELOAD',
          `Reload command "${argv.join(' ')}" failed (${status}${first ? `: ${first.trim()}` : ''}); ` +
            `${file} was changed and the next successful reload will pick it up`,
        ),
      );
    });
  });
}

function sameSet(a: TlsaRecord[], b: TlsaRecord[]): boolean {
  return (
    a.every((r) => b.some((x) => sameRecord(x, r))) &&
    b.every((r) => a.some((x) => sameRecord(x, r)))
  );
}

/** The change would leave the RRset and its TTL as they are. */
function isNoop<R>(
  kind: RrKind<R>,
  current: { ttl: number | null; records: R[] },
  change: { add: R[]; remove: R[]; ttl: number },
): boolean {
  const has = (r: R) => current.records.some((x) => kind.same(x, r));
  const kept = current.records.filter((r) => !change.remove.some((x) => kind.same(x, r)));
  return (
    change.add.every(has) &&
    !change.remove.some(has) &&
    (kept.length === 0 || current.ttl === change.ttl)
  );
}

/** The values of a TXT RRset read from a file: each RR's strings joined, once each. */
const txtValues = (at: RrsetAt<Buffer[]>): string[] => [
  ...new Set(at.records.map(txtStringsValue)),
];

function sameValues(a: string[], b: string[]): boolean {
  return a.every((v) => b.includes(v)) && b.every((v) => a.includes(v));
}

function includeHeader(zone: string, file: string, eol: string): string {
  return [
    `; TLSA records for the zone ${zone}, written by danekeeper.`,
    '; danekeeper rewrites the lines of the records it changes: do not edit them by hand.',
    "; Pull this file into the zone's master file with a line",
    `;   $INCLUDE "${file}"`,
    '; followed by a line with an explicit owner name. Owners here are absolute and TTLs',
    '; explicit, so the $ORIGIN and $TTL in effect at the $INCLUDE do not matter.',
    '',
  ].join(eol);
}

export function createZonefilePublisher(opts: ZonefileOptions): Publisher {
  const mode = opts.mode ?? 'zone';
  const zone = canonicalName(opts.zone.trim(), '.');
  const file = opts.file;
  const now = opts.now ?? (() => new Date());
  const reloadTimeoutMs = opts.reloadTimeoutMs ?? 60_000;

  const parse = (text: string, path: string): ZoneFile => {
    try {
      return parseZone(text, { origin: zone });
    } catch (e) {
      if (e instanceof DkError) {
        throw new DkError(e.kind, e.code, `${path}: ${e.message}`, {
          ...(e.offset === undefined ? {} : { offset: e.offset }),
        });
      }
      throw e;
    }
  };

  const load = (path: string, missingOk: boolean) => {
    const { text, stat } = readText(path, missingOk);
    return { zf: parse(text, path), stat };
  };

  const ownerName = (owner: string): string => {
    const o = canonicalName(owner.trim(), '.');
    if (!(zone === '.' || o === zone || o.endsWith(`.${zone}`))) {
      throw new DkError('usage', 'E_NOT_IN_ZONE', `${o} is not in the zone ${zone}`);
    }
    return o;
  };

  const withErrorsNamed = <T>(f: () => T, path: string): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof DkError && !e.message.includes(path)) {
        throw new DkError(e.kind, e.code, `${path}: ${e.message}`);
      }
      throw e;
    }
  };

  /**
   * What a change does to the file at `target`: read it, check the guard (the RRset must still
   * be what the change expects), and compute the edit in memory. `res` is null when the file
   * already holds the change. Shared by apply (under the lock) and the dry runs.
   */
  const planKind = <R>(
    target: string,
    kind: RrKind<R>,
    ownerIn: string,
    guard: (current: RrsetAt<R>) => boolean,
    edit: (current: RrsetAt<R>) => { add: R[]; remove: R[]; ttl: number },
  ) => {
    const owner = ownerName(ownerIn);
    const { zf: loaded, stat } = load(target, mode === 'include');
    const zf =
      mode === 'include' && loaded.text.trim() === ''
        ? parse(includeHeader(zone, file, '\n'), file)
        : loaded;
    const current = withErrorsNamed(() => rrsetAt(zf, kind, owner), file);
    if (!guard(current)) {
      throw new DkError(
        'tempfail',
        'E_PUBLISH_CONFLICT',
        `The ${kind.type} RRset at ${owner} in ${file} changed since it was read; nothing was written`,
      );
    }
    const e = edit(current);
    if (isNoop(kind, current, e)) return { loaded, stat, res: null };
    const res = withErrorsNamed(
      () =>
        editZone(
          zf,
          { owner, add: e.add, remove: e.remove, ttl: e.ttl, kind },
          { zone, bumpSerial: mode === 'zone', now: now() },
        ),
      file,
    );
    return { loaded, stat, res };
  };

  const planEdit = (target: string, change: TlsaChange) =>
    planKind(
      target,
      TLSA_KIND,
      change.owner,
      (cur) => sameSet(cur.records, change.expected),
      () => ({ add: change.add, remove: change.remove, ttl: change.ttl }),
    );

  // A TXT value is an RR's strings joined (types.ts): removing a value removes every RR that
  // holds it, however its strings are split; a value added is split at 255 octets.
  const planTxtEdit = (target: string, change: TxtChange) =>
    planKind(
      target,
      TXT_KIND,
      change.owner,
      (cur) => sameValues(txtValues(cur), change.expected),
      (cur) => ({
        add: change.add.map(txtValueStrings),
        remove: cur.records.filter((r) => change.remove.includes(txtStringsValue(r))),
        ttl: change.ttl,
      }),
    );

  /** include mode: increment the serial of the zone's master file, under its own lock. */
  const bumpZoneFile = async (link: string): Promise<void> => {
    const path = realTarget(link);
    const lock = await acquireLock(lockPath(path), opts.lock);
    try {
      const { zf, stat } = load(path, false);
      const res = withErrorsNamed(
        () => editZone(zf, null, { zone, bumpSerial: true, now: now() }),
        path,
      );
      writeAtomic(path, res.text, stat);
    } finally {
      lock.release();
    }
  };

  type Planned = ReturnType<typeof planEdit>;

  const describe = (planned: Planned): string[] => {
    const { loaded, res } = planned;
    if (res === null) return [`; nothing to write: ${file} already holds this`];
    const out = lineDiff(loaded.text, res.text, file, file);
    if (out.length === 0) return [`; nothing to write: ${file} already holds this`];
    if (res.serial !== undefined) out.push(`; SOA serial of ${zone} becomes ${res.serial}`);
    if (mode === 'include' && opts.zoneFile !== undefined) {
      const path = realTarget(opts.zoneFile);
      const { zf: z } = load(path, false);
      const bumped = withErrorsNamed(
        () => editZone(z, null, { zone, bumpSerial: true, now: now() }),
        path,
      );
      out.push(`; SOA serial in ${opts.zoneFile} becomes ${bumped.serial}`);
    }
    if (opts.reloadCommand && opts.reloadCommand.length > 0) {
      out.push(`; then runs: ${opts.reloadCommand.join(' ')}`);
    }
    return out;
  };

  const applyPlanned = async (
    change: { owner: string; ttl: number },
    plan: (target: string) => Planned,
  ): Promise<void> => {
    ownerName(change.owner); // an owner outside the zone is a usage error, before the lock
    if (!Number.isInteger(change.ttl) || change.ttl < 0 || change.ttl > 2147483647) {
      throw new DkError('usage', 'E_TTL', `TTL ${change.ttl} is not a number from 0 to 2147483647`);
    }
    // A symlinked zone file (common with configuration management) is edited where it
    // points: renaming over the link would replace it with a plain file.
    const target = realTarget(file);
    const lock = await acquireLock(lockPath(target), opts.lock);
    try {
      const { loaded, stat, res } = plan(target);
      // Nothing to do: no write, no serial bump, no reload.
      if (res === null) return;
      if (res.text !== loaded.text) writeAtomic(target, res.text, stat);
    } finally {
      lock.release();
    }
    if (mode === 'include' && opts.zoneFile !== undefined) await bumpZoneFile(opts.zoneFile);
    if (opts.reloadCommand && opts.reloadCommand.length > 0) {
      await runReload(opts.reloadCommand, reloadTimeoutMs, file);
    }
  };

  return {
    backend: 'zonefile',
    zone,
    describe: `zonefile ${file}${mode === 'include' ? ' (include)' : ''}`,

    async read(ownerIn: string): Promise<TlsaRrset> {
      const owner = ownerName(ownerIn);
      const { zf } = load(file, mode === 'include');
      if (mode === 'zone') withErrorsNamed(() => findSoa(zf, zone), file);
      const at = withErrorsNamed(() => rrsetAt(zf, TLSA_KIND, owner), file);
      return { owner, ttl: at.ttl, records: at.records };
    },

    // Unlike read(), the listing takes the zone's own file too in include mode: a TLSA record
    // typed there by hand is in the zone all the same.
    async listAll(): Promise<TlsaRrset[]> {
      return listZoneFileTlsa(
        zone,
        mode === 'zone'
          ? [{ path: file, missingOk: false }]
          : [
              ...(opts.zoneFile === undefined ? [] : [{ path: opts.zoneFile, missingOk: false }]),
              { path: file, missingOk: true },
            ],
      );
    },

    async defaultTtl(): Promise<number> {
      if (mode === 'include' && opts.defaultTtl !== undefined) return opts.defaultTtl;
      const path = mode === 'zone' ? file : opts.zoneFile;
      if (path === undefined) {
        throw new DkError(
          'config',
          'E_PUBLISH_NO_DEFAULT_TTL',
          `No default TTL for ${zone}: give a TTL, or the zone's master file (zoneFile) next to the include file ${file}`,
        );
      }
      const { zf } = load(path, false);
      // The zone's default TTL is the $TTL in effect at the SOA (RFC 2308 §4); a file without
      // $TTL gives the SOA's own TTL, which the following records inherit (RFC 1035 §5.1).
      const soa = withErrorsNamed(() => findSoa(zf, zone), path);
      let ttl: number | undefined;
      for (const d of zf.directives) {
        if (d.index > soa.rr.index) break;
        if (d.name === '$TTL') ttl = parseTtlText(d.args[0]!.text);
      }
      return ttl ?? soa.rr.ttl;
    },

    /**
     * The edit apply would make, as a unified diff of the file (lines removed and added, the
     * SOA serial among them), computed in memory: no lock, no write, no reload.
     */
    async describeChange(change: TlsaChange): Promise<string[]> {
      return describe(planEdit(realTarget(file), change));
    },

    async apply(change: TlsaChange): Promise<void> {
      await applyPlanned(change, (target) => planEdit(target, change));
    },

    async readTxt(ownerIn: string): Promise<TxtRrset> {
      const owner = ownerName(ownerIn);
      const { zf } = load(file, mode === 'include');
      if (mode === 'zone') withErrorsNamed(() => findSoa(zf, zone), file);
      const at = withErrorsNamed(() => rrsetAt(zf, TXT_KIND, owner), file);
      return { owner, ttl: at.ttl, values: txtValues(at) };
    },

    async describeTxtChange(change: TxtChange): Promise<string[]> {
      return describe(planTxtEdit(realTarget(file), change));
    },

    async applyTxt(change: TxtChange): Promise<void> {
      await applyPlanned(change, (target) => planTxtEdit(target, change));
    },
  };
}
