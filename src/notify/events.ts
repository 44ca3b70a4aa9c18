/**
 * Notifications from the keep-secured pass's event log (src/store/events.ts): one-off notices
 * (certificate issued, renewed, key rotated) for events after the last notified id, and two
 * lasting problems read from a domain's recent history and rollover state: a failed step
 * (open until a later step succeeds) and a rollover waiting longer than expected. Pure.
 */
import { failureHint } from '../core/rollover/summary.js';
import type { DkEvent } from '../store/events.js';
import type { Notice, Problem } from './policy.js';

/** Events that say a step ran (or a wait ended) after a failure: the failure is over. */
const PROGRESS = /^(action-|certificate-|records-|key-generated$|key-rotated$|republished$)/;

/**
 * DESIGN.md (the seed's "send an e-mail notification" on renewal): issued when the CA hands a
 * certificate over, renewed when it is live and verified at every endpoint, key rotated when
 * the planner says so (its `key-rotated` event: the next key became the current one once a
 * certificate for it was verified live). Not guessed from a next key's `key-generated`: with a
 * new key at every renewal, the next key is generated when a renewal falls due, before (and
 * whether or not) that rotation is carried out; and a rotation is done before its successor
 * key is generated, maybe in a later pass.
 */
export function eventNotices(fresh: readonly DkEvent[], now: Date): Notice[] {
  const at = now.toISOString();
  const out: Notice[] = [];
  for (const e of fresh) {
    const base = {
      type: 'event' as const,
      key: `event:${e.id}`,
      domain: e.domain,
      text: e.message,
      at,
    };
    if (e.kind === 'certificate-obtained') {
      out.push({ ...base, kind: 'certificate-issued', title: 'Certificate issued' });
    } else if (e.kind === 'certificate-verified') {
      out.push({ ...base, kind: 'certificate-renewed', title: 'Certificate live and verified' });
    } else if (e.kind === 'key-rotated') {
      out.push({
        ...base,
        kind: 'key-rotated',
        title: 'Key rotated',
        // RFC 7671 §8.1: a new next key's record is published ahead of the next rotation
        text: `${e.message}. danekeeper generates a new next key and publishes its record ahead of the next rotation.`,
      });
    }
  }
  return out;
}

/**
 * A failed step stays a problem until a later event shows progress. What failed, what happens
 * next and what to do, in the notice itself.
 */
export function stepFailedProblem(domain: string, recent: readonly DkEvent[]): Problem | null {
  let fail: DkEvent | null = null;
  for (const e of recent) {
    if (e.kind === 'failed' || e.kind === 'rolled-back') fail = e;
    else if (fail && PROGRESS.test(e.kind)) fail = null;
  }
  if (!fail) return null;
  const code = typeof fail.details.code === 'string' ? fail.details.code : undefined;
  return {
    key: `${domain}|step-failed`,
    domain,
    kind: 'step-failed',
    title: fail.kind === 'rolled-back' ? 'Certificate rolled back' : 'A keep-secured step failed',
    text:
      `What failed: ${fail.message}${code ? ` (${code})` : ''}. What happens next: the endpoints keep ` +
      'the certificate that matches a confirmed record; danekeeper tries again at a later pass, ' +
      'backing off after each failure.',
    // the same advice `status` gives (core/rollover/summary.ts); the event carries no retry time
    fix: code
      ? failureHint(
          { code, message: fail.message, retryAt: `the time "danekeeper status ${domain}" shows` },
          domain,
        )
      : `run "danekeeper status ${domain}" for the next attempt and the full error; fix the cause, then "danekeeper renew ${domain}" to try at once`,
    since: fail.at,
  };
}

interface StateView {
  pending?: unknown;
  renewal?: { rotating?: boolean };
  intent?: { kind?: string } | null;
}

/**
 * DESIGN.md, the confirmation rule: a rollover waits the confirmation interval (and 2 x TTL)
 * after every server serves the new record. Waiting a day longer than the interval since the
 * records were published (or the certificate obtained) means something is stuck: a secondary
 * that does not transfer, a backend that does not publish.
 */
export function stalledRolloverProblem(
  domain: string,
  state: unknown,
  recent: readonly DkEvent[],
  now: Date,
  confirmationHours: number,
): Problem | null {
  const s = (state ?? {}) as StateView;
  const inProgress =
    (s.pending !== null && s.pending !== undefined) ||
    s.renewal?.rotating === true ||
    s.intent?.kind === 'publishRecords';
  if (!inProgress) return null;
  const start = [...recent]
    .reverse()
    .find((e) => e.kind === 'records-published' || e.kind === 'certificate-obtained');
  if (!start) return null;
  const limitMs = (confirmationHours + 24) * 3_600_000;
  const waited = now.getTime() - Date.parse(start.at);
  if (waited <= limitMs) return null;
  return {
    key: `${domain}|rollover-stalled`,
    domain,
    kind: 'rollover-stalled',
    title: 'Rollover waiting longer than expected',
    text: `The rollover has waited ${Math.round(waited / 3_600_000)} h since "${start.message}" (${start.at}); the confirmation interval is ${confirmationHours} h.`,
    fix: `run "danekeeper status ${domain}" to see what it waits for; "danekeeper dns propagation" shows which server does not serve the new records`,
    since: start.at,
  };
}
