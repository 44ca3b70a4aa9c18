import type { ErrorKind } from '../core/errors.js';

/**
 * Exit statuses, in one place (DESIGN.md "Command-line contract"). verify/check use the
 * monitoring-plugin convention 0–3; errors use sysexits(3).
 */
export const EXIT = {
  ok: 0,
  warning: 1,
  critical: 2,
  unknown: 3,
  usage: 64,
  data: 65,
  noinput: 66,
  software: 70,
  unavailable: 69,
  tempfail: 75,
  protocol: 76,
  noperm: 77,
  config: 78,
  /** stopped by SIGINT (Ctrl-C): 128 + 2, as a shell reports it */
  interrupted: 130,
} as const;

export function exitFor(kind: ErrorKind): number {
  switch (kind) {
    case 'usage':
      return EXIT.usage;
    case 'data':
      return EXIT.data;
    case 'noinput':
      return EXIT.noinput;
    case 'unavailable':
      return EXIT.unavailable;
    case 'protocol':
      return EXIT.protocol;
    case 'tempfail':
      return EXIT.tempfail;
    case 'noperm':
      return EXIT.noperm;
    case 'config':
      return EXIT.config;
    case 'internal':
      return EXIT.software;
  }
}
