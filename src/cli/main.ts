#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isDkError } from '../core/errors.js';
import { EXIT, exitFor } from './exit.js';
import { processIo } from './io.js';
import { registerTlsa } from './tlsa.js';
import { registerVerify } from './verify.js';
import { registerCheck } from './check.js';
import { registerDns } from './dns.js';
import { registerZoneStatus } from './zone.js';

const io = processIo();

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
      writeErr: (s) => process.stderr.write(s),
      writeOut: (s) => process.stdout.write(s),
    });
  registerTlsa(program, io, (p) => (pending = p));
  registerVerify(program, io, (p) => (pending = p));
  registerCheck(program, io, (p) => (pending = p));
  const dns = registerDns(program, io, (p) => (pending = p));
  registerZoneStatus(dns, program, io, (p) => (pending = p));
  for (const c of program.commands) c.exitOverride();
  for (const c of program.commands.flatMap((c) => c.commands)) c.exitOverride();
  try {
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
