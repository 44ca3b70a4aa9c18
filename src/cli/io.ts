/** The CLI's only outlet: library code never prints (DESIGN.md). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  verbose(line: string): void;
  withVerbose(on: boolean): Io;
}

export function processIo(verboseOn = false): Io {
  return {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    verbose: (l) => {
      if (verboseOn) process.stderr.write(l + '\n');
    },
    withVerbose: (on) => processIo(on),
  };
}
