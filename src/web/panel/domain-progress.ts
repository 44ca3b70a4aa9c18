/**
 * The propagation progress and the rollover timeline of a domain (issue 11 item 2; seed
 * plesk-dane-guide step 9: "Wait a while until the created TLSA records ... are propagated").
 * DESIGN.md's confirmation rule: a record counts only once every authoritative server serves
 * it, and then the confirmation interval (never less than 2 x TTL) has passed. The page shows
 * which server serves which record and when that wait ends; progress.json gives the same data
 * to the page's script, which updates the page without reloading it.
 */
import { html } from 'hono/html';
import type { DkEvent } from '../../store/events.js';
import type { StatusView } from './domain-common.js';

export interface ProgressRecord {
  owner: string;
  rdata: string;
  role: string;
  servedBy: string[];
  notServedBy: string[];
  /** when the record is (or will be) confirmed: every server serves it, then the wait */
  confirmedAt: string | null;
  /** the Confirmed cell: the time once it has passed, "wait ends T" before, "not yet" */
  confirmed: string;
}

export interface Progress {
  phase: string;
  waitingFor: string | null;
  until: string | null;
  next: string | null;
  /** one sentence, announced to screen readers when it changes */
  summary: string;
  records: ProgressRecord[];
}

const ROLE_TEXT: Record<string, string> = {
  'current-key': 'current key',
  'next-key': 'next key (published ahead)',
  issuer: 'issuer',
  stale: 'stale (to be removed)',
};

/**
 * Whether a record's confirmation moment has come. status gives the moment the wait ends
 * (every server serving it since T, plus max(interval, 2 x TTL)): before it, the record is
 * served but not relied on yet (DESIGN.md "Confirmation").
 */
const isPast = (at: string | null, now: Date) => at !== null && Date.parse(at) <= now.getTime();

export function progressOf(dane: boolean, s: StatusView | null, now: Date): Progress {
  const records: ProgressRecord[] = (s?.tlsa ?? []).map((t) => ({
    owner: t.owner,
    rdata: String(t.rdata),
    role: ROLE_TEXT[t.role] ?? t.role,
    servedBy: t.servedBy,
    notServedBy: t.notServedBy,
    confirmedAt: t.confirmedAt,
    confirmed:
      t.confirmedAt === null
        ? 'not yet'
        : isPast(t.confirmedAt, now)
          ? t.confirmedAt
          : `wait ends ${t.confirmedAt}`,
  }));
  const live = records.filter((r) => r.role !== ROLE_TEXT.stale);
  const everywhere = live.filter((r) => r.servedBy.length > 0 && r.notServedBy.length === 0);
  const parts: string[] = [];
  if (s?.error) parts.push(`The status could not be read: ${s.error.message}.`);
  else if (!dane && records.length === 0) parts.push('DANE is off: no TLSA records to publish.');
  else if (live.length === 0) parts.push('No TLSA records published yet.');
  else
    parts.push(
      `${everywhere.length} of ${live.length} TLSA ${live.length === 1 ? 'record is' : 'records are'} served by every authoritative server.`,
    );
  if (s?.waitingFor === 'propagation') {
    const missing = [...new Set(live.flatMap((r) => r.notServedBy))];
    parts.push(
      missing.length
        ? `Waiting for ${missing.join(', ')} to serve the new records.`
        : 'Waiting for every nameserver to serve the new records.',
    );
  } else if (s?.waitingFor === 'confirmation' && s.until) {
    parts.push(`The confirmation wait ends at ${s.until}.`);
  } else if (s?.waitingFor && s.until) {
    parts.push(`Waiting (${s.waitingFor}) until ${s.until}.`);
  }
  return {
    phase: s?.phase ?? 'unknown',
    waitingFor: s?.waitingFor ?? null,
    // the end of a wait; at rest status gives the next deadline (renewal), which the Next
    // sentence says: "Waiting for: nothing, Until: <in four years>" read as a stuck wait
    until: s?.waitingFor ? (s.until ?? null) : null,
    next: s?.next ?? null,
    summary: parts.join(' '),
    records,
  };
}

const list = (xs: string[]) => xs.join(', ') || '—';

/**
 * The progress section. `aria-live="polite"` on the one summary line: a screen reader hears
 * the sentence when the script changes it, not every table cell (WAI-ARIA 1.2 §6.6.4).
 */
export function progressHtml(name: string, p: Progress) {
  const url = `/domains/${encodeURIComponent(name)}`;
  return html`<section
    aria-labelledby="progress-h"
    id="progress"
    data-progress-url="${url}/progress.json"
  >
    <h2 id="progress-h">Propagation</h2>
    <p id="progress-summary" role="status" aria-live="polite">${p.summary}</p>
    <dl>
      <dt>Phase</dt>
      <dd id="progress-phase">${p.phase}</dd>
      <dt>Waiting for</dt>
      <dd id="progress-waiting">${p.waitingFor ?? 'nothing'}</dd>
      <dt>Until</dt>
      <dd id="progress-until">
        ${p.until ? html`<time datetime="${p.until}">${p.until}</time>` : '—'}
      </dd>
      <dt>Next</dt>
      <dd id="progress-next">${p.next ?? '—'}</dd>
    </dl>
    <table>
      <caption>
        TLSA records and the authoritative servers that serve them
      </caption>
      <thead>
        <tr>
          <th scope="col">Owner</th>
          <th scope="col">Record</th>
          <th scope="col">Role</th>
          <th scope="col">Served by</th>
          <th scope="col">Not served by</th>
          <th scope="col">Confirmed</th>
        </tr>
      </thead>
      <tbody id="progress-rows">
        ${
          p.records.length
            ? p.records.map(
                (t) =>
                  html`<tr>
                    <td><code>${t.owner}</code></td>
                    <td><code>${t.rdata}</code></td>
                    <td>${t.role}</td>
                    <td>${list(t.servedBy)}</td>
                    <td>${list(t.notServedBy)}</td>
                    <td>${t.confirmed}</td>
                  </tr>`,
              )
            : html`<tr>
                <td colspan="6">No TLSA records.</td>
              </tr>`
        }
      </tbody>
    </table>
    <p><a href="${url}#progress" id="progress-refresh">Refresh</a></p>
  </section>`;
}

/** The rollover steps in plain words (DESIGN.md: publish, wait, deploy, verify, remove). */
export const STEPS = [
  {
    id: 'published',
    label: 'New TLSA records published',
    kinds: ['records-published', 'republished'],
  },
  { id: 'confirmed', label: 'Records confirmed on every nameserver (wait over)', kinds: [] },
  { id: 'installed', label: 'Certificate installed', kinds: ['certificate-installed'] },
  { id: 'verified', label: 'Certificate verified live', kinds: ['certificate-verified'] },
  { id: 'removed', label: 'Old records removed', kinds: ['records-removed'] },
] as const;

const EVENT_TEXT: Record<string, string> = {
  'domain-added': 'Domain added',
  'domain-removed': 'Domain removed',
  'dane-enabled': 'DANE turned on',
  'dane-disabled': 'DANE turned off',
  'key-generated': 'Key generated',
  'records-published': 'TLSA records published',
  republished: 'TLSA records published again',
  'records-removed': 'Old TLSA records removed',
  'certificate-obtained': 'Certificate obtained',
  'certificate-issued': 'Certificate obtained',
  'certificate-renewed': 'Certificate renewed',
  'certificate-installed': 'Certificate installed',
  'certificate-verified': 'Certificate verified live',
  'rolled-back': 'Previous certificate put back',
  'renewal-due': 'Renewal due',
  'key-rotated': 'Key rotated',
  failed: 'A step failed',
  'action-generate-key': 'Generating a key',
  'action-publish-records': 'Publishing records',
  'action-order-certificate': 'Ordering a certificate',
  'action-install': 'Installing the certificate',
  'action-rollback': 'Putting the previous certificate back',
  'leftover-removed': 'Leftovers of an earlier run removed',
  'leftover-failed': 'Leftovers of an earlier run could not be removed',
};

export const eventText = (kind: string) => {
  const t = EVENT_TEXT[kind];
  if (t) return t;
  const words = kind.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export interface TimelineStep {
  id: string;
  label: string;
  /** the last time it happened; null: not yet */
  at: string | null;
  /** instead of "not yet" when more is known: the wait's end, or that nothing is to confirm */
  note?: string;
}

/**
 * Each step with the last time it happened: from the event log, and "confirmed" from the
 * status (the confirmation is a moment the planner computes, not an action it logs).
 */
export function timeline(
  events: readonly DkEvent[],
  s: StatusView | null,
  now: Date,
): TimelineStep[] {
  const latest = (kinds: readonly string[]) =>
    events
      .filter((e) => kinds.includes(e.kind))
      .map((e) => e.at)
      .sort()
      .at(-1) ?? null;
  // RFC 7671 §8.1 / DESIGN.md "Confirmation": the step is the records served now being relied
  // on. Without a past moment, say what holds instead of a bare "not yet", which read as a step
  // undone once DANE was turned off or a new key's records were waiting.
  const live = (s?.tlsa ?? []).filter((t) => t.role !== 'stale');
  const confirmed =
    live
      // a wait still running is not a step done
      .filter((t) => isPast(t.confirmedAt, now))
      .map((t) => t.confirmedAt!)
      .sort()
      .at(-1) ?? null;
  const waitEnd = live
    .map((t) => t.confirmedAt)
    .filter((t): t is string => t !== null && !isPast(t, now))
    .sort()
    .at(-1);
  const note =
    confirmed !== null || s === null || s.error
      ? undefined
      : waitEnd
        ? `wait ends ${waitEnd}`
        : live.length === 0
          ? 'no TLSA records now'
          : undefined;
  return STEPS.map((x) => ({
    id: x.id,
    label: x.label,
    at: x.id === 'confirmed' ? confirmed : latest(x.kinds),
    ...(x.id === 'confirmed' && note ? { note } : {}),
  }));
}

export interface HistoryRow {
  kind: string;
  message: string;
  /** the oldest and the newest of the run */
  first: string;
  last: string;
  count: number;
}

/**
 * The history newest first, a run of the same event (same words, same detail) one row with
 * its count: a pass that logs the same failure or verification again each time would
 * otherwise fill the page with copies and push the rest out of sight.
 */
export function historyRows(events: readonly DkEvent[]): HistoryRow[] {
  const rows: HistoryRow[] = [];
  for (const e of [...events].reverse()) {
    const prev = rows.at(-1);
    if (prev && eventText(prev.kind) === eventText(e.kind) && prev.message === e.message) {
      prev.first = e.at;
      prev.count++;
    } else {
      rows.push({ kind: e.kind, message: e.message, first: e.at, last: e.at, count: 1 });
    }
  }
  return rows;
}

export function timelineHtml(steps: TimelineStep[], events: readonly DkEvent[]) {
  return html`<section aria-labelledby="timeline-h">
    <h2 id="timeline-h">Rollover timeline</h2>
    <ol class="steps">
      ${steps.map(
        (x) =>
          html`<li>
            <strong>${x.label}</strong>:
            <span id="step-${x.id}"
              >${x.at ? html`<time datetime="${x.at}">${x.at}</time>` : (x.note ?? 'not yet')}</span
            >
          </li>`,
      )}
    </ol>
    <h3>History</h3>
    ${
      events.length
        ? html`<table>
            <caption class="visually-hidden">
              Everything that happened to this domain, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              ${historyRows(events).map(
                (r) =>
                  html`<tr>
                    <td>
                      <time datetime="${r.last}">${r.last}</time>${
                        r.count > 1
                          ? html`<br />${r.count} times since
                              <time datetime="${r.first}">${r.first}</time>`
                          : ''
                      }
                    </td>
                    <td>${eventText(r.kind)}</td>
                    <td>${r.message}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p>No events yet.</p>`
    }
  </section>`;
}
