/**
 * Refuses a certificate directory that someone other than root (or the user danekeeper runs
 * as) could redirect. A symlink attack needs write access to the directory that holds the
 * replaced component; so, as OpenSSH's StrictModes does, every directory on the way to DIR
 * and DIR itself must be owned by root or by us and writable by nobody else, except sticky
 * directories (/tmp) whose entry on the way is ours. When that holds, no other user can swap a
 * component between our checks and our writes, and following root's own symlinks is safe.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { DkError } from '../core/errors.js';

const MAX_LINKS = 40; // as the kernel's MAXSYMLINKS

function trusted(uid: number): boolean {
  const me = process.geteuid?.() ?? 0;
  return uid === 0 || uid === me;
}

function attack(path: string, why: string): DkError {
  return new DkError(
    'config',
    'E_DEPLOY_UNSAFE_PATH',
    `Nothing installed: ${path} ${why}, so another user could redirect where the key is written; fix the ownership or mode, or choose a --cert-dir only root can change`,
  );
}

/** A directory whose entries others may rename: writable by group or others, and not sticky. */
function openToOthers(st: Stats): boolean {
  return (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0;
}

/**
 * Walks `path` component by component (following symlinks the way the kernel does, each one
 * checked before it is followed) and throws E_DEPLOY_UNSAFE_PATH at the first component an
 * untrusted user could replace. Components that do not exist yet end the walk: they will be
 * created by us, inside the last directory checked. Returns the resolved path.
 */
export function checkSafePath(path: string): string {
  let links = 0;
  const todo = resolve(path)
    .split(sep)
    .filter((c) => c !== '');
  let cur = '/';
  let parent = lstatSync('/');
  if (!trusted(parent.uid) || openToOthers(parent)) throw attack('/', 'is not owned by root');
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '.') continue;
    if (c === '..') {
      cur = dirname(cur);
      parent = lstatSync(cur);
      continue;
    }
    const next = join(cur, c);
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return join(next, ...todo);
      throw e;
    }
    // In a sticky directory others may create entries but not replace ours: the entry must
    // be owned by root or us. In any other directory, its owner and mode already decide.
    if (!trusted(st.uid) && (parent.mode & 0o1000) !== 0) {
      throw attack(next, `is owned by uid ${st.uid} in the shared directory ${cur}`);
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw attack(path, 'has too many symbolic links');
      const target = readlinkSync(next);
      todo.unshift(...target.split(sep).filter((x) => x !== ''));
      if (isAbsolute(target)) {
        cur = '/';
        parent = lstatSync('/');
      }
      continue;
    }
    if (!st.isDirectory()) {
      if (todo.length === 0) return next;
      throw new DkError(
        'config',
        'E_DEPLOY_NOT_DIR',
        `Nothing installed: ${next} is not a directory`,
      );
    }
    if (!trusted(st.uid)) throw attack(next, `is owned by uid ${st.uid}`);
    if (openToOthers(st)) throw attack(next, 'is writable by group or others');
    cur = next;
    parent = st;
  }
  return cur;
}
