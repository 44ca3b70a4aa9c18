import { DkError } from '../errors.js';

/** One TLSA RDATA (RFC 6698 §2.1). Field values are kept even when unassigned: such a record is
 * unusable, not invalid (RFC 6698 §4.1), and must survive a round trip untouched. */
export interface TlsaRecord {
  usage: number;
  selector: number;
  mtype: number;
  data: Buffer;
}

export function sameRecord(a: TlsaRecord, b: TlsaRecord): boolean {
  return (
    a.usage === b.usage && a.selector === b.selector && a.mtype === b.mtype && a.data.equals(b.data)
  );
}

export type TransportProto = 'tcp' | 'udp' | 'sctp';

/**
 * The TLSA owner name `_PORT._PROTO.HOST.` (RFC 6698 §3). Host names are compared
 * case-insensitively in DNS, so the owner is given in lower case, absolute.
 */
export function tlsaOwner(host: string, port: number, proto: TransportProto = 'tcp'): string {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DkError('usage', 'E_PORT', `Port ${port} is not a number from 0 to 65535`);
  }
  const name = host.replace(/\.$/, '').toLowerCase();
  const labels = name.split('.');
  // RFC 1035 §2.3.4: labels of 1–63 octets, names up to 255 in wire form.
  if (
    name.length === 0 ||
    name.length > 253 - 12 ||
    labels.some((l) => l.length === 0 || l.length > 63 || !/^[a-z0-9_*-]+$/.test(l))
  ) {
    throw new DkError('usage', 'E_HOSTNAME', `"${host}" is not a valid host name`);
  }
  return `_${port}._${proto}.${name}.`;
}
