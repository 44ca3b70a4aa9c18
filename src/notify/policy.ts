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

/**
 * Messages about one problem (first message and recovery, not reminders) per reminder interval:
 * one that comes and goes every pass is told this often, then held back until the interval ends,
 * when whatever it then is (still there, or gone) is told once.
 */
export const MAX_CHANGES_PER_WINDOW = 4;

export function decideNotifications(i: DecideInput): Decision {
  const at = i.now.toISOString();
  const nowMs = i.now.getTime();
  const since = (iso: string) => nowMs - Date.parse(iso);
  const inSight = i.inSight ?? (() => true);
  const sent = new Map(i.sent.map((s) => [s.key, s]));
  const open = new Map<string, Problem>();
  for (const p of i.problems) if (!open.has(p.key)) open.set(p.key, p);
  const notices: Notice[] = [];
  const upserts: SentRow[] = [];
  const deletes: string[] = [];
  const held = (s: SentRow) =>
    `; it keeps coming and going, so further changes are held back until ${new Date(
      Date.parse(s.windowStart) + i.reminderMs,
    ).toISOString()}`;

  for (const p of open.values()) {
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
        told: 'open',
        windowStart: at,
        windowCount: 1,
      });
      continue;
    }
    if (!inSight(p.domain)) continue;
    if (s.told === 'open') {
      // At most one reminder per interval, counted from the last message about this problem: a
      // daemon restarted every minute still sends nothing new.
      if (since(s.lastSent) >= i.reminderMs) {
        notices.push({ type: 'reminder', ...base });
        upserts.push({
          ...s,
          kind: p.kind,
          title: p.title,
          lastSent: at,
          reminders: s.reminders + 1,
        });
      }
      continue;
    }
    // back after a recovery notice
    const fresh = since(s.windowStart) >= i.reminderMs;
    const count = fresh ? 0 : s.windowCount;
    if (count >= MAX_CHANGES_PER_WINDOW) continue;
    const row: SentRow = {
      ...s,
      kind: p.kind,
      title: p.title,
      openedAt: at,
      lastSent: at,
      reminders: 0,
      told: 'open',
      windowStart: fresh ? at : s.windowStart,
      windowCount: count + 1,
    };
    const last = row.windowCount === MAX_CHANGES_PER_WINDOW;
    notices.push({ type: 'problem', ...base, ...(last ? { text: `${p.text}${held(row)}` } : {}) });
    upserts.push(row);
  }

  for (const s of i.sent) {
    if (open.has(s.key) || !inSight(s.domain)) continue;
    if (s.told === 'recovered') {
      // quiet for a whole interval: forget it (a later occurrence is news again anyway)
      if (since(s.lastSent) >= i.reminderMs) deletes.push(s.key);
      continue;
    }
    const fresh = since(s.windowStart) >= i.reminderMs;
    const count = fresh ? 0 : s.windowCount;
    if (count >= MAX_CHANGES_PER_WINDOW) continue;
    const row: SentRow = {
      ...s,
      lastSent: at,
      told: 'recovered',
      windowStart: fresh ? at : s.windowStart,
      windowCount: count + 1,
    };
    const last = row.windowCount === MAX_CHANGES_PER_WINDOW;
    notices.push({
      type: 'recovery',
      kind: s.kind as NotifyKind,
      key: s.key,
      domain: s.domain,
      title: `Recovered: ${s.title}`,
      text: `No longer seen (first reported ${s.openedAt})${last ? held(row) : ''}.`,
      since: s.openedAt,
      at,
    });
    upserts.push(row);
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
