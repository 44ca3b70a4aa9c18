/**
 * What a notification says, for people (the e-mail) and for programs (the webhook's JSON).
 * The JSON is a contract for receivers: `{"version": 1, "sentAt", "notices": [...]}`, each
 * notice as src/notify/policy.ts defines it. Nothing secret ever goes in: notices are built
 * from findings and the event log, which refuses private keys (src/store/events.ts).
 */
import type { Notice } from './policy.js';

export interface Payload {
  version: 1;
  sentAt: string;
  notices: Notice[];
}

const LABEL: Record<Notice['type'], string> = {
  problem: 'PROBLEM',
  reminder: 'STILL OPEN',
  recovery: 'RECOVERED',
  event: 'EVENT',
};

export function payload(notices: readonly Notice[], now: Date): Payload {
  return { version: 1, sentAt: now.toISOString(), notices: [...notices] };
}

function one(n: Notice): string[] {
  const out = [`${LABEL[n.type]}: ${n.title}`, `  domain: ${n.domain}`, `  ${n.text}`];
  if (n.fix) out.push(`  what to do: ${n.fix}`);
  if (n.since && n.type !== 'event') out.push(`  first seen: ${n.since}`);
  return out;
}

/** Subject and plain-text body of one e-mail. */
export function mailText(notices: readonly Notice[]): { subject: string; text: string } {
  const first = notices[0]!;
  const subject =
    notices.length === 1
      ? `[danekeeper] ${LABEL[first.type]} ${first.domain}: ${first.title}`
      : `[danekeeper] ${notices.length} notices (${[...new Set(notices.map((n) => n.domain))].join(', ')})`;
  const body = notices.flatMap((n, i) => (i === 0 ? one(n) : ['', ...one(n)]));
  body.push('', '-- ', 'danekeeper monitoring; reminders at most daily while a problem lasts.');
  return { subject: subject.replace(/[\r\n]+/g, ' '), text: body.join('\n') + '\n' };
}
