/**
 * The child side of callInNetns (netns-call.ts): reads {module, fn, args} as JSON on stdin,
 * awaits the call and prints {ok: result} or {error: {kind, code, message}} on stdout. Any
 * other exception is printed to stderr and exits 1, so the caller sees it as a failure.
 */
import { isDkError } from '../../src/core/errors.js';
import { decodeJson, encodeJson } from './netns-call.js';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const { module, fn, args } = decodeJson(Buffer.concat(chunks).toString('utf8')) as {
  module: string;
  fn: string;
  args: unknown[];
};
try {
  const mod = (await import(module)) as Record<string, unknown>;
  const f = mod[fn];
  if (typeof f !== 'function') throw new Error(`${module} exports no function ${fn}`);
  const ok = (await (f as (...a: unknown[]) => unknown)(...args)) ?? null;
  process.stdout.write(encodeJson({ ok }));
} catch (e) {
  if (isDkError(e)) {
    process.stdout.write(encodeJson({ error: { kind: e.kind, code: e.code, message: e.message } }));
  } else {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
}
