import { createHash } from 'node:crypto';
import { DkError } from '../errors.js';
import type { TlsaRecord } from './record.js';

/** What a TLSA record can be made from: a certificate (DER + its SPKI), or a bare key (SPKI
 * only — how the next key is published before any certificate for it exists). */
export interface TlsaSource {
  der?: Buffer;
  spki: Buffer;
}

/** RFC 6698 §2.1.2 (selector) and §2.1.3 (matching type). */
export function selectData(src: TlsaSource, selector: number): Buffer {
  if (selector === 1) return src.spki;
  if (selector === 0) {
    if (!src.der) {
      throw new DkError(
        'usage',
        'E_SELECTOR_NEEDS_CERT',
        'Selector 0 (Cert) needs a certificate; a key alone only gives selector 1 (SPKI)',
      );
    }
    return src.der;
  }
  throw new DkError('usage', 'E_SELECTOR', `Selector ${selector} cannot be generated (0 or 1)`);
}

export function matchData(content: Buffer, mtype: number): Buffer {
  switch (mtype) {
    case 0:
      return content;
    case 1:
      return createHash('sha256').update(content).digest();
    case 2:
      return createHash('sha512').update(content).digest();
    default:
      throw new DkError(
        'usage',
        'E_MTYPE',
        `Matching type ${mtype} cannot be generated (0, 1 or 2)`,
      );
  }
}

export function generateTlsa(
  src: TlsaSource,
  usage: number,
  selector: number,
  mtype: number,
): TlsaRecord {
  // Only the four assigned usages (RFC 6698 §2.1.1, RFC 7218): making a record nobody can use
  // is never what the user wants.
  if (![0, 1, 2, 3].includes(usage)) {
    throw new DkError(
      'usage',
      'E_USAGE',
      `Certificate usage ${usage} cannot be generated (0 to 3)`,
    );
  }
  return { usage, selector, mtype, data: matchData(selectData(src, selector), mtype) };
}
