/**
 * Prerequisite checks (issue 11 item 1): observations in, one finding per requirement out.
 * Pure: the observations are gathered by src/io/prereq.
 */
import { RULES, worstStatus } from './rules.js';
import type { PrereqObservations, PrereqReport, PrereqStatus } from './types.js';

export { checkDkimKey, parseTagList, type DkimKeyCheck } from './dkim.js';
export {
  RULES,
  delegationRule,
  dkimRule,
  dnsBackendRule,
  dnssecRule,
  mxRule,
  starttlsRule,
  worstStatus,
  type PrereqRule,
} from './rules.js';
export type * from './types.js';

export function assessPrereq(o: PrereqObservations, now: Date): PrereqReport {
  const findings = RULES.map((r) => r(o));
  return {
    domain: o.domain,
    zone: o.zone,
    status: worstStatus(findings.map((f) => f.status)),
    findings,
    checkedAt: now.toISOString(),
  };
}

/** The monitoring convention `check` uses: 0 ok, 1 warning, 2 failure, 3 could not decide. */
export function prereqExitStatus(status: PrereqStatus): 0 | 1 | 2 | 3 {
  return ({ ok: 0, warn: 1, fail: 2, unknown: 3 } as const)[status];
}
