import {
  explainRecord,
  explainSet,
  formatRdata,
  sameRecord,
  type TlsaRecord,
} from '../tlsa/index.js';

export interface CheckWarning {
  /** only warnings change the exit status; notes are for the reader */
  severity: 'warning' | 'note';
  code: string;
  /** the host or owner the warning is about */
  subject: string;
  message: string;
}

/** A day: TLSA TTLs beyond it stretch every rollover's wait (the wait is at least 2 x TTL). */
export const MAX_SENSIBLE_TTL = 86400;

/**
 * What an operator should fix in one TLSA RRset, given which records matched a chain actually
 * presented. Pure: the caller supplies what it saw.
 */
export function rrsetWarnings(input: {
  owner: string;
  records: TlsaRecord[];
  ttl: number | null;
  matched: TlsaRecord[];
  /** expiry of each matched certificate, to warn `days` ahead */
  expiries: { subject: string; notAfter: Date }[];
  now: Date;
  days: number;
}): CheckWarning[] {
  const out: CheckWarning[] = [];
  const add = (code: string, message: string, severity: CheckWarning['severity'] = 'warning') =>
    out.push({ severity, code, subject: input.owner, message });
  for (const f of explainSet(input.records)) {
    if (f.severity === 'warning') add(f.code, f.message);
  }
  for (const r of input.records) {
    for (const f of explainRecord(r).findings) {
      if (f.code === 'full-cert-ee' || f.code === 'full-cert-ta') {
        add(f.code, `${formatRdata(r).slice(0, 20)}…: ${f.message}`);
      }
    }
  }
  if (input.ttl !== null && input.ttl > MAX_SENSIBLE_TTL) {
    add(
      'long-ttl',
      `TTL ${input.ttl} s is over a day: every rollover must wait at least twice the TTL before removing old records.`,
    );
  }
  const unmatched = input.records.filter((r) => !input.matched.some((m) => sameRecord(m, r)));
  // The recommended set is current + next key (RFC 7671 §8.1): one extra DANE-EE record beside
  // a matching DANE-EE record is that next key, not a fault. Anything more may be stale.
  const nextKey =
    unmatched.length === 1 && unmatched[0]!.usage === 3 && input.matched.some((m) => m.usage === 3);
  for (const r of unmatched) {
    if (nextKey) {
      add(
        'next-key',
        `${formatRdata(r).slice(0, 20)}… matches no chain in use: taken to be the published next key.`,
        'note',
      );
    } else {
      add(
        'unmatched-record',
        `${formatRdata(r).slice(0, 20)}… matches no chain in use: fine for a published next key, otherwise a stale record to remove.`,
      );
    }
  }
  const horizon = input.now.getTime() + input.days * 86400_000;
  for (const e of input.expiries) {
    if (e.notAfter.getTime() <= input.now.getTime()) {
      add(
        'expired',
        `${e.subject} expired on ${e.notAfter.toISOString()} (DANE-EE ignores dates; other clients will not).`,
      );
    } else if (e.notAfter.getTime() <= horizon) {
      const d = Math.ceil((e.notAfter.getTime() - input.now.getTime()) / 86400_000);
      add('expires-soon', `${e.subject} expires in ${d} day(s), on ${e.notAfter.toISOString()}.`);
    }
  }
  return out;
}
