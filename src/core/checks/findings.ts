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
 * What an operator should fix in one TLSA RRset, given which records are in use: matched a
 * certificate some address presents at a depth the record's usage allows (see in-use.ts), not
 * only the record that decided a verdict. Pure: the caller supplies what it saw.
 */
export function rrsetWarnings(input: {
  owner: string;
  records: TlsaRecord[];
  ttl: number | null;
  /** records that are in use at some address serving this RRset (in-use.ts) */
  inUse: TlsaRecord[];
  /**
   * addresses serving this RRset that presented no chain (unreachable, no TLS): what they would
   * present is unknown, so no record can be called stale
   */
  unseen?: string[];
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
  // Only a record that matches nothing anywhere may be called stale: a `2 1 1` of the
  // intermediate beside the `3 1 1` that decided the verdict is the recommended pair
  // (RFC 7671 §8.1, §5.2), and a monitor that warned about it would warn forever.
  const unmatched = input.records.filter((r) => !input.inUse.some((m) => sameRecord(m, r)));
  // The recommended set is current + next key (RFC 7671 §8.1): one extra DANE-EE record beside
  // a DANE-EE record in use is that next key, not a fault. Anything more may be stale.
  const nextKey =
    unmatched.length === 1 && unmatched[0]!.usage === 3 && input.inUse.some((m) => m.usage === 3);
  const unseen = input.unseen ?? [];
  if (unmatched.length > 0 && unseen.length > 0) {
    // "Matches nothing anywhere" cannot be known while an address is not heard from: the record
    // may be the one it presents. Saying "stale" here is how good records get deleted.
    add(
      'in-use-unknown',
      `${unmatched.length} record(s) match no certificate seen, but ${unseen.join(', ')} presented none: which records are stale is not judged until every address answers.`,
      'note',
    );
  } else {
    for (const r of unmatched) {
      if (nextKey) {
        add(
          'next-key',
          `${formatRdata(r).slice(0, 20)}… matches no certificate any address presents: taken to be the published next key.`,
          'note',
        );
      } else {
        add(
          'unmatched-record',
          `${formatRdata(r).slice(0, 20)}… matches no certificate any address presents (the leaf for usage 3, a CA above it for usage 2): fine for a published next key, otherwise a stale record to remove.`,
        );
      }
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
