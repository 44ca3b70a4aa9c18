/** `danekeeper serve`: being built (issue 10); registered so its module has one owner. */
import type { Command } from 'commander';
import { DkError } from '../core/errors.js';
import type { Io } from './io.js';

export function registerServe(
  program: Command,
  _io: Io,
  setExit: (p: Promise<number>) => void,
): Command {
  return program
    .command('serve')
    .description('(not built yet)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      setExit(Promise.reject(new DkError('usage', 'E_NOT_BUILT', 'serve is not built yet')));
    });
}
