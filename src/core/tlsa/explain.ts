import { formatRdata } from './format.js';
import { describeField, PRIVATE_USE } from './names.js';
import type { TlsaRecord } from './record.js';
import { sameRecord } from './record.js';
import { usability } from './usable.js';

export type Severity = 'warning' | 'note';

export interface Finding {
  severity: Severity;
  /** stable identifier for scripts */
  code: string;
  message: string;
}

export interface RecordExplanation {
  rdata: string;
  /** plain-language lines: what is matched and how */
  meaning: string[];
  usableSmtp: boolean;
  usableGeneric: boolean;
  /** why the record is unusable, per mode */
  unusableReasons: string[];
  findings: Finding[];
}

const USAGE_MEANING: Record<number, string> = {
  0: 'a CA certificate in the chain must match, and the chain must also pass ordinary public-CA (WebPKI) validation',
  1: 'the server certificate must match, and must also pass ordinary public-CA (WebPKI) validation',
  2: 'a trust anchor (usually the issuing intermediate or root) must match; the server certificate must chain to it and carry the right name',
  3: 'the server certificate itself must match; names and dates are not checked (RFC 7671 §5.1)',
};

const SELECTOR_MEANING: Record<number, string> = {
  0: 'matched against the whole certificate (DER)',
  1: 'matched against the public key only (SubjectPublicKeyInfo DER), so it survives a renewal that keeps the key',
};

const MTYPE_MEANING: Record<number, string> = {
  0: 'the data is the selected content itself, not a digest',
  1: 'the data is the SHA-256 digest of the selected content (32 bytes)',
  2: 'the data is the SHA-512 digest of the selected content (64 bytes)',
};

/**
 * A value outside the assigned ones. RFC 6698 §7.2–7.4 reserve 255 in each field for private use
 * (RFC 7218: PrivCert, PrivSel, PrivMatch): only parties that agreed on a meaning can use it, so a
 * record published for the world — a public MTA's — cannot. The rest is unassigned.
 */
function otherValue(value: number): string {
  return value === PRIVATE_USE
    ? 'reserved for private use (RFC 7218): it means only what the parties using it agreed on, so a public MTA cannot use it'
    : 'unassigned: no client knows what to do with it';
}

/** What one record means, whether it is usable, and what bites in practice. */
export function explainRecord(r: TlsaRecord): RecordExplanation {
  const smtp = usability(r, 'smtp');
  const generic = usability(r, 'generic');
  const findings: Finding[] = [];
  const warn = (code: string, message: string) =>
    findings.push({ severity: 'warning', code, message });
  const note = (code: string, message: string) =>
    findings.push({ severity: 'note', code, message });

  for (const reason of generic.reasons) warn('unusable', `Unusable: ${reason}`);
  if (r.usage === 0 || r.usage === 1) {
    warn(
      'pkix-in-smtp',
      'SMTP ignores PKIX-TA/PKIX-EE (RFC 7672 §3.1.3): a DANE-enabled MTA treats this record as unusable. For mail use 3 1 1.',
    );
  }
  if (r.selector === 0 && (r.usage === 3 || r.usage === 1)) {
    warn(
      'full-cert-ee',
      `${r.usage} 0 x pins the whole certificate, which changes at every renewal even when the key is kept: ` +
        'with short-lived certificates it breaks delivery at each renewal. Publish 3 1 1 (the key) instead.',
    );
  }
  if (r.selector === 0 && (r.usage === 2 || r.usage === 0)) {
    warn(
      'full-cert-ta',
      `${r.usage} 0 x pins one exact CA certificate; CAs reissue intermediates with the same key and rotate between several. ` +
        'Prefer 2 1 1, published for every current intermediate of your CA.',
    );
  }
  if (r.mtype === 0 && r.selector <= 1 && generic.usable) {
    note(
      'full-data',
      'Full data makes the RRset large (UDP truncation, TCP retries); SHA2-256 is what RFC 7671 §9 expects everyone to support.',
    );
  }

  const meaning: string[] = [
    `Usage ${describeField('usage', r.usage)}: ${USAGE_MEANING[r.usage] ?? otherValue(r.usage)}`,
    `Selector ${describeField('selector', r.selector)}: ${SELECTOR_MEANING[r.selector] ?? otherValue(r.selector)}`,
    `Matching ${describeField('mtype', r.mtype)}: ${MTYPE_MEANING[r.mtype] ?? otherValue(r.mtype)}`,
  ];
  return {
    rdata: formatRdata(r),
    meaning,
    usableSmtp: smtp.usable,
    usableGeneric: generic.usable,
    unusableReasons: generic.usable ? smtp.reasons.map((x) => `for SMTP: ${x}`) : generic.reasons,
    findings,
  };
}

/** RFC 7672 §9 / operational experience: several large receivers give up past about a dozen. */
export const MAX_SENSIBLE_RECORDS = 12;

/** Findings about a whole RRset: what breaks on the next renewal or CA change. */
export function explainSet(records: TlsaRecord[]): Finding[] {
  const findings: Finding[] = [];
  const usable = records.filter((r) => usability(r, 'smtp').usable);
  const ee = usable.filter((r) => r.usage === 3);
  const ta = usable.filter((r) => r.usage === 2);
  if (records.length > 0 && usable.length === 0) {
    findings.push({
      severity: 'warning',
      code: 'no-usable',
      message:
        'No record is usable for SMTP: senders will encrypt but cannot authenticate (RFC 7672 §2.2).',
    });
  }
  if (ta.length === 1 && ee.length === 0) {
    findings.push({
      severity: 'warning',
      code: 'lone-ta',
      message:
        "A lone 2 x x record pins one intermediate: when the CA issues from another one (Let's Encrypt rotates among several), delivery breaks. Add 2 1 1 for every current intermediate, or use 3 1 1 + next key.",
    });
  }
  if (ee.length === 1 && ta.length === 0) {
    findings.push({
      severity: 'warning',
      code: 'no-rollover',
      message:
        "Only one 3 x x record: no second record to roll over to. Publish the next key's 3 1 1 (danekeeper tlsa --key NEXT.key) before changing keys.",
    });
  }
  if (records.length > MAX_SENSIBLE_RECORDS) {
    findings.push({
      severity: 'warning',
      code: 'too-many',
      message: `${records.length} records: some large receivers handle only about ${MAX_SENSIBLE_RECORDS}; remove stale ones.`,
    });
  }
  for (let i = 0; i < records.length; i++) {
    for (let j = i + 1; j < records.length; j++) {
      if (sameRecord(records[i]!, records[j]!)) {
        findings.push({
          severity: 'note',
          code: 'duplicate',
          message: `"${formatRdata(records[i]!)}" appears twice; DNS keeps only one copy.`,
        });
      }
    }
  }
  return findings;
}
