import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DkError } from '../core/errors.js';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { fileErrorReason } from '../io/file-errors.js';

/** Reads a whole input file; failures are "unreadable input" (exit 66), never a stack trace. */
export function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DkError('noinput', 'E_READ', `Reading ${path} failed: ${fileErrorReason(e)}`, {
      cause: e,
    });
  }
}

/** A path that names a directory expands to its regular files, sorted, hidden files skipped. */
export function expandPath(path: string): { files: string[]; fromDir: boolean } {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new DkError('noinput', 'E_READ', `Reading ${path} failed: ${fileErrorReason(e)}`, {
      cause: e,
    });
  }
  if (!isDir) return { files: [path], fromDir: false };
  const files = readdirSync(path, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.'))
    .filter((d) => d.isFile() || (d.isSymbolicLink() && statSync(join(path, d.name)).isFile()))
    .map((d) => join(path, d.name))
    .sort();
  if (files.length === 0) {
    throw new DkError(
      'noinput',
      'E_EMPTY_DIR',
      `Reading ${path} failed: the directory has no files`,
    );
  }
  return { files, fromDir: true };
}

const SYSTEM_STORE = '/etc/ssl/certs/ca-certificates.crt';

/** `--trust-store FILE`, else the system's CA bundle when there is one (for PKIX usages). */
export function loadTrustStore(path: string | undefined): Cert[] | undefined {
  const file = path ?? (existsSync(SYSTEM_STORE) ? SYSTEM_STORE : undefined);
  return file ? parseCertificates(readInput(file), file) : undefined;
}
