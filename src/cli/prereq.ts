/** `danekeeper prereq`: being built (issue 11); registered so its module has one owner. */
import type { Command } from 'commander';
import { DkError } from '../core/errors.js';
import type { Io } from './io.js';

export function registerPrereq(
  program: Command,
  _io: Io,
  setExit: (p: Promise<number>) => void,
): Command {
  return program
    .command('prereq')
    .description('(not built yet)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      setExit(Promise.reject(new DkError('usage', 'E_NOT_BUILT', 'prereq is not built yet')));
    });
}
