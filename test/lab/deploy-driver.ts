/**
 * Runs inside a lab namespace through callInNetns (test/support/netns-call.ts): deployPair
 * with the real probe and a real clock, its options given as JSON (records as "U S M HEX").
 */
import { parseTlsa } from '../../src/core/tlsa/index.js';
import { deployPair, type DeployOutcome } from '../../src/deploy/deploy.js';
import type { PairInput } from '../../src/deploy/pair.js';
import type { DeployEndpoint } from '../../src/deploy/verify.js';

export interface LabDeployOptions {
  reloads: string[][];
  endpoints: DeployEndpoint[];
  records: string[];
  settleMs: number;
}

export function deployInLab(
  certDir: string,
  pair: PairInput,
  o: LabDeployOptions,
): Promise<DeployOutcome> {
  return deployPair(certDir, pair, {
    reloads: o.reloads,
    reload: { timeoutMs: 20_000 },
    endpoints: o.endpoints,
    records: o.records.map(parseTlsa),
    now: () => new Date(),
    settleMs: o.settleMs,
    verify: { timeoutMs: 3_000 },
  });
}
