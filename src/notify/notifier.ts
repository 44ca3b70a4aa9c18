/**
 * One notification pass: gathers the open problems (the monitor's findings, handed in, and the
 * failed steps and stalled rollovers of the event log), the one-off events since the last
 * notified id, decides with policy.ts what to send, sends it by e-mail and webhook, and saves
 * what was sent only once it was delivered by at least one channel (the next pass sends again
 * otherwise). Never prints: the result says what happened.
 */
import { isDkError } from '../core/errors.js';
import type { DkEvent } from '../store/events.js';
import type { MonitorStore } from '../store/monitor.js';
import type { StateStore } from '../store/state.js';
import { sendMail, type EmailOptions } from './email.js';
import { eventNotices, stalledRolloverProblem, stepFailedProblem } from './events.js';
import { mailText, payload } from './message.js';
import {
  batchNotices,
  decideNotifications,
  DEFAULT_REMINDER_HOURS,
  type Notice,
  type Problem,
} from './policy.js';
import { postWebhook, type WebhookOptions } from './webhook.js';

export interface NotifySettings {
  email?: EmailOptions;
  webhook?: Omit<WebhookOptions, 'now' | 'sleep' | 'fetch'>;
  /** default 24 */
  reminderHours?: number;
  /** more notices than this in one pass go out as one digest; default 5 */
  maxPerPass?: number;
  /** `dane-confirmation-interval-in-hours`, for the stalled-rollover rule; default 24 */
  confirmationHours?: number;
}

export interface Channels {
  mail: (m: { subject: string; text: string }, o: EmailOptions) => Promise<void>;
  webhook: (body: string, o: WebhookOptions) => Promise<unknown>;
}

export interface NotifyDeps {
  state: Pick<StateStore, 'events' | 'domains' | 'rollover'>;
  monitor: MonitorStore;
  settings: NotifySettings;
  now: () => Date;
  /** swapped in tests */
  channels?: Channels;
}

export interface NotifyResult {
  notices: Notice[];
  /** channels that took every message */
  delivered: ('email' | 'webhook')[];
  /** one line per channel that failed */
  errors: string[];
  /** false when no channel is configured: nothing was decided or saved */
  configured: boolean;
}

const CURSOR = 'events';
const RECENT = 50;

export function notifyConfigured(s: NotifySettings): boolean {
  return s.email !== undefined || s.webhook !== undefined;
}

export async function runNotifyPass(
  d: NotifyDeps,
  monitorProblems: readonly Problem[],
  inSight: (domain: string) => boolean = () => true,
): Promise<NotifyResult> {
  const s = d.settings;
  if (!notifyConfigured(s)) return { notices: [], delivered: [], errors: [], configured: false };
  const now = d.now();
  const channels: Channels = d.channels ?? { mail: sendMail, webhook: postWebhook };

  const all = d.state.events.list();
  const lastId = all.reduce((m, e) => Math.max(m, e.id), 0);
  const cursor = d.monitor.cursor(CURSOR);
  // The first pass with notifications on starts from now: history is not news.
  const fresh = cursor === null ? [] : all.filter((e) => e.id > cursor);
  const byDomain = new Map<string, DkEvent[]>();
  for (const e of all) {
    const l = byDomain.get(e.domain) ?? [];
    l.push(e);
    byDomain.set(e.domain, l);
  }
  const recent = (domain: string) => (byDomain.get(domain) ?? []).slice(-RECENT);

  const problems: Problem[] = [...monitorProblems];
  for (const dom of d.state.domains.list()) {
    if (!inSight(dom.name)) continue;
    const r = recent(dom.name);
    const failed = stepFailedProblem(dom.name, r);
    if (failed) problems.push(failed);
    const stalled = stalledRolloverProblem(
      dom.name,
      d.state.rollover.read(dom.name)?.state,
      r,
      now,
      s.confirmationHours ?? 24,
    );
    if (stalled) problems.push(stalled);
  }

  const dec = decideNotifications({
    now,
    problems,
    sent: d.monitor.sent(),
    reminderMs: (s.reminderHours ?? DEFAULT_REMINDER_HOURS) * 3_600_000,
    inSight,
  });
  const notices = [...dec.notices, ...eventNotices(fresh, now)];
  const result: NotifyResult = { notices, delivered: [], errors: [], configured: true };
  if (notices.length > 0) {
    const batches = batchNotices(notices, s.maxPerPass ?? 5);
    const tryChannel = async (
      name: 'email' | 'webhook',
      send: (b: Notice[]) => Promise<unknown>,
    ) => {
      try {
        for (const b of batches) await send(b);
        result.delivered.push(name);
      } catch (e) {
        result.errors.push(isDkError(e) ? e.message : `${name}: ${String(e)}`);
      }
    };
    const jobs: Promise<void>[] = [];
    if (s.email) {
      const o = s.email;
      jobs.push(tryChannel('email', (b) => channels.mail(mailText(b), o)));
    }
    if (s.webhook) {
      const o = s.webhook;
      jobs.push(
        tryChannel('webhook', (b) =>
          channels.webhook(JSON.stringify(payload(b, d.now())), { ...o, now: d.now }),
        ),
      );
    }
    await Promise.all(jobs);
    if (result.delivered.length === 0) return result;
  }
  d.monitor.saveSent(dec.upserts, dec.deletes);
  if (lastId > (cursor ?? 0) || cursor === null) d.monitor.setCursor(CURSOR, lastId);
  return result;
}
