#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isDkError } from '../core/errors.js';
import { EXIT, exitFor } from './exit.js';
import { processIo, writeOut, writeErr, type Io } from './io.js';

const io = processIo();

type SetExit = (p: Promise<number>) => void;
type Registrar = (program: Command, io: Io, setExit: SetExit) => unknown;

/**
 * Each command's module is imported only when that command runs: a module graph loaded for
 * nothing costs every call (zod alone ~60 ms, the DNS and probe code ~80 ms) and scripts call
 * `check` from monitoring loops. `bench/startup.ts` measures it next to bare Node.
 */
const COMMANDS: Record<string, () => Promise<Registrar>> = {
  tlsa: async () => (await import('./tlsa.js')).registerTlsa,
  verify: async () => (await import('./verify.js')).registerVerify,
  check: async () => (await import('./check.js')).registerCheck,
  domain: async () => (await import('./domain.js')).registerDomain,
  serve: async () => (await import('./serve.js')).registerServe,
  watch: async () => (await import('./watch.js')).registerWatch,
  prereq: async () => (await import('./prereq.js')).registerPrereq,
  user: async () => (await import('./user.js')).registerUser,
  token: async () => (await import('./token.js')).registerToken,
  ...((f: () => Promise<Registrar>) => ({ run: f, status: f, renew: f }))(
    async () => (await import('./run.js')).registerRun,
  ),
  // `dns` and `dnssec` share their backend options and context (dns.ts).
  dns: async () => {
    const [{ registerDns }, { registerZoneStatus }] = await Promise.all([
      import('./dns.js'),
      import('./zone.js'),
    ]);
    return (program, io, setExit) =>
      registerZoneStatus(registerDns(program, io, setExit), program, io, setExit);
  },
};
COMMANDS.dnssec = COMMANDS.dns!;

/** Every failure ends as one line on stderr and a defined status; never a stack trace. */
function fail(e: unknown): number {
  if (isDkError(e)) {
    io.err(`danekeeper: ${e.message}`);
    return exitFor(e.kind);
  }
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT.usage;
  const msg = e instanceof Error ? e.message : String(e);
  io.err(`danekeeper: internal error: ${msg.split('\n')[0]}`);
  return EXIT.software;
}

async function main(argv: string[]): Promise<number> {
  let pending: Promise<number> | undefined;
  const program = new Command('danekeeper')
    .description('DANE TLSA records made easy and safe for mail and web servers')
    .version('0.1.0')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      writeErr,
      writeOut,
      // commander's own usage errors keep the contract too: one `danekeeper:` line.
      outputError: (s, write) =>
        write(
          `danekeeper: ${s
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' ')
            .trim()}\n`,
        ),
    });
  const setExit: SetExit = (p) => (pending = p);
  try {
    // The command word is the first argument (the program has no options that take a value).
    // Help, --version and unknown words get every command: help lists them, and commander
    // suggests the nearest name for a typo.
    const word = argv[2];
    const load = word !== undefined && Object.hasOwn(COMMANDS, word) ? [COMMANDS[word]!] : [];
    const all = load.length === 0 && word !== '--version' && word !== '-V';
    const fns = all
      ? await Promise.all([...new Set(Object.values(COMMANDS))].map((f) => f()))
      : await Promise.all(load.map((f) => f()));
    for (const register of fns) register(program, io, setExit);
    for (const c of program.commands) c.exitOverride();
    for (const c of program.commands.flatMap((c) => c.commands)) c.exitOverride();
    await program.parseAsync(argv);
    return pending ? await pending : 0;
  } catch (e) {
    return fail(e);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = fail(e);
  },
);
