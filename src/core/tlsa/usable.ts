import type { TlsaRecord } from './record.js';
import { describeField, fieldName, PRIVATE_USE, type Field } from './names.js';

/** SMTP applies RFC 7672; every other service the generic RFC 7671 rules. */
export type DaneMode = 'smtp' | 'generic';

export interface Usability {
  usable: boolean;
  /** why not, one line each; empty when usable */
  reasons: string[];
}

/** RFC 6698 §7.2–7.4: the registries that reserve 255 for private use, per field. */
const PRIVATE_SECTION: Record<Field, string> = { usage: '7.2', selector: '7.3', mtype: '7.4' };

/** "4 (unassigned) is not supported"; 255 is private use, which no public client supports. */
function unsupported(field: Field, value: number): string {
  return value === PRIVATE_USE
    ? `${describeField(field, value)} is reserved for private use (RFC 6698 §${PRIVATE_SECTION[field]}): no public client supports it`
    : `${describeField(field, value)} is not supported`;
}

/** RFC 6698 §2.1.3 / RFC 7671 §9: the digest sizes a client can check. */
export const DIGEST_LENGTH: Readonly<Record<number, number>> = { 1: 32, 2: 64 };

/**
 * Whether a client can use a record at all. An unusable record is skipped, never fatal:
 * RFC 6698 §4.1 and RFC 7672 §2.2 — records with unsupported parameters or malformed data are
 * "unusable", and a set with only unusable records still obliges an SMTP client to encrypt.
 */
export function usability(r: TlsaRecord, mode: DaneMode): Usability {
  const reasons: string[] = [];
  if (r.usage > 3) reasons.push(`certificate usage ${unsupported('usage', r.usage)}`);
  else if (mode === 'smtp' && r.usage < 2) {
    // RFC 7672 §3.1.3: SMTP clients have no trusted CA list to apply PKIX usages with.
    reasons.push(
      `certificate usage ${describeField('usage', r.usage)} is unusable for SMTP (RFC 7672 §3.1.3)`,
    );
  }
  if (r.selector > 1) reasons.push(`selector ${unsupported('selector', r.selector)}`);
  if (r.mtype > 2) {
    reasons.push(`matching type ${unsupported('mtype', r.mtype)}`);
  } else {
    const want = DIGEST_LENGTH[r.mtype];
    if (want !== undefined && r.data.length !== want) {
      reasons.push(
        `${fieldName('mtype', r.mtype)} data must be ${want} bytes, this has ${r.data.length}`,
      );
    }
    // Full data is a DER SEQUENCE (a certificate or an SPKI); anything else can never match.
    if (r.mtype === 0 && (r.data.length < 2 || r.data[0] !== 0x30)) {
      reasons.push('full (matching type 0) data is not DER: it can match no certificate or key');
    }
  }
  return { usable: reasons.length === 0, reasons };
}
