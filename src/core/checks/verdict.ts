/**
 * Verdict words of `check` and how they combine. A host is as good as its worst address and a
 * domain as its worst host: a DANE sender that meets a failing MX host defers the mail for it
 * (RFC 7672 §2.2.3), so an operator must hear about it even when another host verifies.
 */
export type CheckVerdict =
  | 'verified'
  | 'failed'
  | 'unusable'
  | 'no-dane'
  | 'dnssec-failure'
  | 'unreachable'
  | 'indeterminate';

/** Worst first. */
const SEVERITY: readonly CheckVerdict[] = [
  'dnssec-failure',
  'failed',
  'unreachable',
  'indeterminate',
  'unusable',
  'no-dane',
  'verified',
];

export function worst(verdicts: readonly CheckVerdict[], empty: CheckVerdict): CheckVerdict {
  if (verdicts.length === 0) return empty;
  return verdicts.reduce((a, b) => (SEVERITY.indexOf(a) <= SEVERITY.indexOf(b) ? a : b));
}

/**
 * Monitoring-plugin status (DESIGN.md): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (DNS or the
 * network could not decide).
 */
export function monitoringStatus(v: CheckVerdict, warnings: number): 0 | 1 | 2 | 3 {
  switch (v) {
    case 'dnssec-failure':
    case 'failed':
      return 2;
    case 'unreachable':
    case 'indeterminate':
      return 3;
    case 'unusable':
    case 'no-dane':
      return 1;
    case 'verified':
      return warnings > 0 ? 1 : 0;
  }
}
