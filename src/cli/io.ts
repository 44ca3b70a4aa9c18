/** The CLI's only outlet: library code never prints (DESIGN.md). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  verbose(line: string): void;
  withVerbose(on: boolean): Io;
}

/**
 * A reader that goes away (`danekeeper check d | head -1`, a monitoring wrapper that stops
 * reading) closes the pipe: the next write fails with EPIPE, which Node raises as an unhandled
 * 'error' event with a stack trace. Output to a closed pipe is dropped instead, the command
 * finishes and exits with its own status (what `set -o pipefail` shows), as a C tool that
 * ignores SIGPIPE would. Any other write error is left to crash loudly: it is a bug or a full
 * disk, not a reader that had enough.
 */
const closed = { out: false, err: false };

function guard(stream: NodeJS.WriteStream, which: 'out' | 'err'): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      closed[which] = true;
      return;
    }
    throw e;
  });
}
guard(process.stdout, 'out');
guard(process.stderr, 'err');

export function writeOut(s: string): void {
  if (!closed.out) process.stdout.write(s);
}

export function writeErr(s: string): void {
  if (!closed.err) process.stderr.write(s);
}

export function processIo(verboseOn = false): Io {
  return {
    out: (l) => writeOut(l + '\n'),
    err: (l) => writeErr(l + '\n'),
    verbose: (l) => {
      if (verboseOn) writeErr(l + '\n');
    },
    withVerbose: (on) => processIo(on),
  };
}
