/**
 * The child of src/deploy/install-crash.test.ts: installs pairs into a --cert-dir until it is
 * killed. `loop`: installs pair 0, 1, 0, 1, ... for ever after printing "ready" (the parent
 * kills it at a random moment). `step:NAME`: one install of pair 1 that SIGKILLs itself when
 * installPair reaches the named step (a deterministic crash point).
 */
import { readFileSync } from 'node:fs';
import { installPair } from '../../src/deploy/install.js';

const [dir, pairsFile, mode] = process.argv.slice(2) as [string, string, string];
const pairs = JSON.parse(readFileSync(pairsFile, 'utf8')) as { keyPem: string; chainPem: string }[];

if (mode === 'loop') {
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) installPair(dir, pairs[i % pairs.length]!);
} else {
  const step = mode.replace(/^step:/, '');
  installPair(dir, pairs[1]!, {
    onStep: (s) => {
      if (s === step) process.kill(process.pid, 'SIGKILL');
    },
  });
  process.stdout.write('finished without reaching the step\n');
}
