/**
 * The whole deploy step of DESIGN.md's automatic path: install the pair, run the reload
 * commands, probe every endpoint until it presents the installed chain matched by a confirmed
 * record; else put the previous pair back, reload again and check that the old chain is served
 * again. It returns what happened, step by step; it does not decide what comes next.
 */
import { isDkError } from '../core/errors.js';
import type { TlsaRecord } from '../core/tlsa/index.js';
import {
  installPair,
  readDeployed,
  rollback,
  type InstallOptions,
  type InstallResult,
  type RollbackResult,
} from './install.js';
import type { PairInput } from './pair.js';
import { runReloads, type ReloadOptions, type ReloadRun } from './reload.js';
import {
  describeProblems,
  verifyDeployed,
  type DeployEndpoint,
  type VerifyDeps,
  type VerifyReport,
} from './verify.js';

export interface DeployOptions {
  /** argv of each reload command, run in order */
  reloads: string[][];
  reload?: ReloadOptions;
  endpoints: DeployEndpoint[];
  /** the confirmed records (DESIGN.md's confirmation rule) the presented chain must match */
  records: TlsaRecord[];
  now: () => Date;
  verify?: VerifyDeps;
  /**
   * How long to keep probing after the reloads until every address presents the installed
   * chain: services hand over to new processes gradually (Postfix's smtpd processes finish
   * their session first). Default 10 s, probing every `intervalMs` (default 250).
   */
  settleMs?: number;
  intervalMs?: number;
  install?: InstallOptions;
  /** how to wait between probes; default a timer */
  sleep?: (ms: number) => Promise<void>;
}

export interface RestoreReport {
  rollback: RollbackResult;
  /** the reload after the rollback; error set when it failed */
  reloads: ReloadRun[];
  reloadError?: string;
  /** whether the previous chain is presented again (and matched) everywhere */
  verify: VerifyReport;
}

export type DeployOutcome =
  | {
      outcome: 'installed';
      install: InstallResult;
      reloads: ReloadRun[];
      verify: VerifyReport;
    }
  | {
      /** the new pair was taken back; `restored` says whether the old one is served again */
      outcome: 'rolled-back';
      reason: 'reload-failed' | 'not-verified';
      /** one line: why the new pair was not kept */
      error: string;
      install: InstallResult;
      reloads: ReloadRun[];
      verify?: VerifyReport;
      restored: RestoreReport;
    }
  | {
      /** the new pair stays installed: there was nothing to go back to, or going back failed */
      outcome: 'failed';
      reason: 'reload-failed' | 'not-verified';
      error: string;
      /** why it could not roll back */
      rollbackError: string;
      install: InstallResult;
      reloads: ReloadRun[];
      verify?: VerifyReport;
    };

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Probes until every endpoint is ok or `settleMs` has passed; returns the last report. */
async function verifyUntil(certSha256: string, o: DeployOptions): Promise<VerifyReport> {
  const settle = o.settleMs ?? 10_000;
  const interval = o.intervalMs ?? 250;
  const sleep = o.sleep ?? realSleep;
  const start = Date.now();
  for (;;) {
    const r = await verifyDeployed(
      { endpoints: o.endpoints, certSha256, records: o.records, now: o.now() },
      o.verify,
    );
    if (r.ok || Date.now() - start >= settle) return r;
    await sleep(interval);
  }
}

async function reloadAll(o: DeployOptions): Promise<{ runs: ReloadRun[]; error?: string }> {
  try {
    return { runs: await runReloads(o.reloads, o.reload) };
  } catch (e) {
    if (!isDkError(e)) throw e;
    return { runs: [], error: e.message };
  }
}

/**
 * Install, reload, verify; else rollback, reload, verify the old chain. A pair or path refused
 * by installPair throws (nothing was touched). Reload failures and probe results are returned,
 * never thrown, so the caller can record precisely what happened.
 */
export async function deployPair(
  certDir: string,
  pair: PairInput,
  o: DeployOptions,
): Promise<DeployOutcome> {
  const install = installPair(certDir, pair, o.install);
  const reloaded = await reloadAll(o);
  let reason: 'reload-failed' | 'not-verified';
  let error: string;
  let verify: VerifyReport | undefined;
  if (reloaded.error !== undefined) {
    reason = 'reload-failed';
    error = reloaded.error;
  } else {
    verify = await verifyUntil(install.certSha256, o);
    if (verify.ok) return { outcome: 'installed', install, reloads: reloaded.runs, verify };
    reason = 'not-verified';
    error = `The new certificate is not served as installed: ${describeProblems(verify)}`;
  }
  let rb: RollbackResult;
  try {
    rb = rollback(certDir);
  } catch (e) {
    if (!isDkError(e)) throw e;
    const failed: DeployOutcome = {
      outcome: 'failed',
      reason,
      error,
      rollbackError: e.message,
      install,
      reloads: reloaded.runs,
    };
    if (verify) failed.verify = verify;
    return failed;
  }
  const again = await reloadAll(o);
  let oldSha = '';
  try {
    oldSha = readDeployed(certDir).current?.certSha256 ?? '';
  } catch (e) {
    // A taken-over old pair that is no pair at all: nothing can be confirmed as restored,
    // and the report below says so (every address "other").
    if (!isDkError(e)) throw e;
  }
  const restored: RestoreReport = {
    rollback: rb,
    reloads: again.runs,
    verify: await verifyUntil(oldSha, o),
  };
  if (again.error !== undefined) restored.reloadError = again.error;
  const out: DeployOutcome = {
    outcome: 'rolled-back',
    reason,
    error,
    install,
    reloads: reloaded.runs,
    restored,
  };
  if (verify) out.verify = verify;
  return out;
}
