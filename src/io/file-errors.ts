/**
 * One wording for a failed file operation, whichever command meets it: "no such file", never a
 * bare ENOENT or Node's "ENOENT: no such file or directory, open '/x'" (the path is already in
 * the sentence that names the action).
 */
const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'too many symbolic links',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  EBUSY: 'busy',
};

export function fileErrorReason(e: unknown): string {
  const code = e && typeof e === 'object' && 'code' in e ? String(e.code) : '';
  const known = REASONS[code];
  if (known) return known;
  if (!(e instanceof Error)) return code || String(e);
  // "EXDEV: cross-device link not permitted, rename 'a' -> 'b'" -> "cross-device link not permitted"
  const first = e.message.split('\n')[0]!;
  const m = /^[A-Z][A-Z0-9_]+: ([^,]+)/.exec(first);
  return m ? m[1]! : first || code || 'failed';
}
