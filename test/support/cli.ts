/**
 * Runs the danekeeper CLI as a user would, in a child process (optionally inside a lab network
 * namespace), and returns exit code and output. Runs the TypeScript source through tsx so tests
 * need no build step.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliEntry = join(root, 'src', 'cli', 'main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { netns?: string; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const node = [process.execPath, '--import', 'tsx', cliEntry, ...args];
  const [cmd, ...rest] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...node] : node;
  const r = spawnSync(cmd!, rest, {
    cwd: root,
    input: opts.input ?? '',
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    env: { ...process.env, ...opts.env },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** As runCli, without blocking the event loop: for tests whose peers live in this process. */
export function runCliAsync(
  args: string[],
  opts: { netns?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const node = [process.execPath, '--import', 'tsx', cliEntry, ...args];
  const [cmd, ...rest] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...node] : node;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, rest, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
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
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
