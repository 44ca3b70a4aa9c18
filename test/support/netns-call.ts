/**
 * Calls an exported async function of a project module inside a lab network namespace and
 * returns its result. The test process lives outside the namespace and cannot reach the lab's
 * addresses; a child `ip netns exec NS node --import tsx netns-runner.ts` can. Arguments and
 * results cross as JSON, with Buffers and DkErrors carried over (see netns-runner.ts), so a
 * lab test reads like a direct call:
 *
 *   const rrset = await callInNetns(ns, 'src/publish/tlsa-set.ts', 'someFn', [arg1, arg2]);
 *
 * A DkError thrown inside comes back as a DkError (same kind, code, message).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DkError, type ErrorKind } from '../../src/core/errors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runner = join(root, 'test', 'support', 'netns-runner.ts');

/** JSON replacer/reviver that keep Buffers (and Uint8Arrays) as Buffers. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return { $buf: Buffer.from(raw).toString('base64') };
    return v;
  });
}

export function decodeJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) =>
    v && typeof v === 'object' && '$buf' in v && typeof (v as { $buf: unknown }).$buf === 'string'
      ? Buffer.from((v as { $buf: string }).$buf, 'base64')
      : v,
  );
}

export interface NetnsLike {
  readonly name: string;
}

/**
 * `module`: a path relative to the repository root (or absolute). `ns` null runs the call in
 * a plain child process (outside any namespace).
 */
export function callInNetns<T = unknown>(
  ns: NetnsLike | null,
  module: string,
  fn: string,
  args: unknown[] = [],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<T> {
  const node = [process.execPath, '--import', 'tsx', runner];
  const [cmd, ...rest] = ns ? ['ip', 'netns', 'exec', ns.name, ...node] : node;
  const input = encodeJson({
    module: module.startsWith('/') ? module : join(root, module),
    fn,
    args,
  });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, rest, {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let out: { ok?: unknown; error?: { kind: ErrorKind; code: string; message: string } };
      try {
        out = decodeJson(stdout) as typeof out;
      } catch {
        reject(new Error(`${fn} in ${module} exited ${code}: ${stderr.trim() || stdout.trim()}`));
        return;
      }
      if (out.error) reject(new DkError(out.error.kind, out.error.code, out.error.message));
      else resolve(out.ok as T);
    });
    child.stdin.end(input);
  });
}
