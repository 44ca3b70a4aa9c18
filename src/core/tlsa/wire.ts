import { DkError } from '../errors.js';
import type { TlsaRecord } from './record.js';

/** RFC 6698 §2.1: one octet each for usage, selector, matching type, then the data. */
export function encodeTlsaRdata(r: TlsaRecord): Buffer {
  return Buffer.concat([Buffer.from([r.usage, r.selector, r.mtype]), r.data]);
}

export function decodeTlsaRdata(wire: Uint8Array): TlsaRecord {
  if (wire.length < 3) {
    throw new DkError(
      'data',
      'E_TLSA_WIRE',
      `TLSA record: RDATA of ${wire.length} octets is shorter than the 3 fixed fields`,
      { offset: wire.length },
    );
  }
  return {
    usage: wire[0]!,
    selector: wire[1]!,
    mtype: wire[2]!,
    data: Buffer.from(wire.subarray(3)),
  };
}
