/**
 * Who hears what, and when (issue 10): one message per problem, a reminder at most every
 * reminder interval (daily by default) while it lasts, one recovery notice when it is gone,
 * and never a storm. Pure: the clock, the open problems and what was sent before come in; the
 * notices to send and the new sent-state go out. The caller saves the state only once a
 * notice was delivered, so a relay that is down means "send again next pass", not "lost".
 */
import type { SentRow } from '../store/monitor.js';

export const NOTIFY_KINDS = [
  'live-mismatch',
  'dnssec-problem',
  'servers-out-of-step',
  'rrsig-expiry',
  'certificate-expiry',
  'unreachable',
  'dane-warning',
  'step-failed',
  'rollover-stalled',
  'certificate-issued',
  'certificate-renewed',
  'key-rotated',
] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

/** A condition that lasts: it opens, may be reminded of, and recovers. */
export interface Problem {
  /** stable across passes: the finding key, or `DOMAIN|step-failed` */
  key: string;
  domain: string;
  kind: NotifyKind;
  /** one line: the subject of a mail */
  title: string;
  /** what is wrong (and, for a failed step, what happens next) */
  text: string;
  /** what to do */
  fix?: string;
  /** first seen (ISO 8601) */
  since: string;
}

export interface Notice {
  /** problem: first message; reminder: still there; recovery: gone; event: a one-off */
  type: 'problem' | 'reminder' | 'recovery' | 'event';
  kind: NotifyKind;
  key: string;
  domain: string;
  title: string;
  text: string;
  fix?: string;
  /** when the problem was first seen (not for events) */
  since?: string;
  /** ISO 8601: when the notice was decided */
  at: string;
}

export const DEFAULT_REMINDER_HOURS = 24;

export interface DecideInput {
  now: Date;
  /** every problem open now, from every source that was looked at */
  problems: readonly Problem[];
  /** what was sent before (the store's notify_sent) */
  sent: readonly SentRow[];
  reminderMs: number;
  /**
   * Whether this pass looked at a domain. Problems of a domain it did not (could not) look at
   * are neither reminded of nor recovered: not seeing a problem because nobody looked is no
   * recovery. Default: every domain.
   */
  inSight?: (domain: string) => boolean;
}

export interface Decision {
  notices: Notice[];
  upserts: SentRow[];
  deletes: string[];
}

export function decideNotifications(i: DecideInput): Decision {
  const at = i.now.toISOString();
  const nowMs = i.now.getTime();
  const sent = new Map(i.sent.map((s) => [s.key, s]));
  const notices: Notice[] = [];
  const upserts: SentRow[] = [];
  const deletes: string[] = [];
  const open = new Set<string>();
  for (const p of i.problems) {
    if (open.has(p.key)) continue;
    open.add(p.key);
    const s = sent.get(p.key);
    const base = {
      kind: p.kind,
      key: p.key,
      domain: p.domain,
      title: p.title,
      text: p.text,
      ...(p.fix ? { fix: p.fix } : {}),
      since: p.since,
      at,
    };
    if (!s) {
      notices.push({ type: 'problem', ...base });
      upserts.push({
        key: p.key,
        domain: p.domain,
        kind: p.kind,
        title: p.title,
        openedAt: at,
        lastSent: at,
        reminders: 0,
      });
      continue;
    }
    if (i.inSight && !i.inSight(p.domain)) continue;
    // At most one reminder per interval, counted from the last message about this problem: a
    // daemon restarted every minute still sends nothing new.
    if (nowMs - Date.parse(s.lastSent) >= i.reminderMs) {
      notices.push({ type: 'reminder', ...base });
      upserts.push({
        ...s,
        kind: p.kind,
        title: p.title,
        lastSent: at,
        reminders: s.reminders + 1,
      });
    }
  }
  for (const s of i.sent) {
    if (open.has(s.key) || (i.inSight && !i.inSight(s.domain))) continue;
    notices.push({
      type: 'recovery',
      kind: s.kind as NotifyKind,
      key: s.key,
      domain: s.domain,
      title: `Recovered: ${s.title}`,
      text: `No longer seen (first reported ${s.openedAt}).`,
      since: s.openedAt,
      at,
    });
    deletes.push(s.key);
  }
  return { notices, upserts, deletes };
}

/**
 * Never a storm: up to `max` notices go out one message each; more than that in one pass (a
 * resolver outage makes every domain fail at once) go out as one digest.
 */
export function batchNotices(notices: readonly Notice[], max: number): Notice[][] {
  if (notices.length <= max) return notices.map((n) => [n]);
  return [[...notices]];
}
