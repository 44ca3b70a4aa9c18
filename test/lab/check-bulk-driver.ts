/**
 * Runs inside a lab namespace through callInNetns: the single-domain `check DOMAIN --json` of
 * the CLI (runCheck, its own resolver and probes, nothing shared) for each domain given, a few
 * at a time, returning each report as the CLI printed it and the exit status.
 */
import { runCheck } from '../../src/cli/check.js';
import type { Io } from '../../src/cli/io.js';

export interface SingleCheck {
  domain: string;
  code: number;
  /** the JSON the CLI printed, parsed */
  report: unknown;
}

export async function singleChecks(
  domains: string[],
  resolver: string,
  concurrency: number,
): Promise<SingleCheck[]> {
  const out: SingleCheck[] = [];
  let next = 0;
  const worker = async () => {
    while (next < domains.length) {
      const domain = domains[next++]!;
      const lines: string[] = [];
      const io: Io = {
        out: (l) => lines.push(l),
        err: () => {},
        verbose: () => {},
        withVerbose: () => io,
      };
      const code = await runCheck(
        domain,
        { resolver: [resolver], days: '14', json: true },
        io,
        () => new Date(),
      );
      out.push({ domain, code, report: JSON.parse(lines.join('\n')) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}
