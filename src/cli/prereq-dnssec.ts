/**
 * The `dnssec status` report (publish/dnssec-status.ts) as the prerequisite rules' DNSSEC
 * observation (core/prereq): shared by `prereq` and `domain add --dane`, so both judge a zone
 * with the same rule and the same wording. Kept apart from cli/prereq.ts so that `domain` does
 * not load the probe and the backends to use it.
 */
import type { DnssecObservation } from '../core/prereq/types.js';
import type { dnssecStatus } from '../publish/dnssec-status.js';

export function dnssecObservation(r: Awaited<ReturnType<typeof dnssecStatus>>): DnssecObservation {
  return {
    chain: r.chain.status,
    signing: r.signing,
    ready: r.ready,
    parent: r.parent,
    parentDs: r.parentDs,
    findings: r.findings,
    registrar: r.registrar,
    servers: r.servers.map((s) => ({
      name: s.name,
      address: s.address,
      source: s.source,
      outcome: s.state === 'signed' || s.state === 'unsigned' ? 'answer' : s.state,
      serial: s.serial,
      ...(s.why ? { why: s.why } : {}),
    })),
  };
}
