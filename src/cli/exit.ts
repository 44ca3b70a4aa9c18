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
  protocol: 76,
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
    case 'internal':
      return EXIT.software;
  }
}
