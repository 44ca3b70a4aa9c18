/**
 * DS and DNSKEY records in presentation form (RFC 4034 §2.2, §5.3), as a registrar's form or a
 * parent zone file takes them. Digests are upper-case hex as `dnssec-dsfromkey` prints them
 * (hex is case-insensitive, RFC 4034 §5.3); keys are Base64 without spaces.
 */
import { algorithmName, digestName } from './algorithms.js';
import { keyTagOf, type DnskeyData, type DsData } from './ds.js';

function absolute(owner: string): string {
  return owner === '.' || owner.endsWith('.') ? owner : `${owner}.`;
}

/** `example.org. IN DS 12345 13 2 ABCD...` (with the TTL between owner and class when given). */
export function formatDs(owner: string, ds: DsData, ttl?: number): string {
  const t = ttl === undefined ? '' : ` ${ttl}`;
  return (
    `${absolute(owner)}${t} IN DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ` +
    ds.digest.toString('hex').toUpperCase()
  );
}

/** `example.org. IN DNSKEY 257 3 13 base64...`. */
export function formatDnskey(owner: string, k: DnskeyData, ttl?: number): string {
  const t = ttl === undefined ? '' : ` ${ttl}`;
  return `${absolute(owner)}${t} IN DNSKEY ${k.flags} ${k.protocol} ${k.algorithm} ${k.key.toString('base64')}`;
}

/** The fields a registrar's web form asks for one by one. */
export interface RegistrarDs {
  keyTag: number;
  algorithm: number;
  algorithmName: string;
  digestType: number;
  digestTypeName: string;
  /** upper-case hex */
  digest: string;
  /** the DS in presentation form */
  ds: string;
  /** the DNSKEY it hashes, in presentation form: some registrars want the key instead */
  dnskey: string;
  /** the DNSKEY's public key alone (Base64), for forms with a "public key" field */
  publicKey: string;
  flags: number;
}

export function registrarDs(owner: string, key: DnskeyData, ds: DsData): RegistrarDs {
  return {
    keyTag: keyTagOf(key),
    algorithm: ds.algorithm,
    algorithmName: algorithmName(ds.algorithm),
    digestType: ds.digestType,
    digestTypeName: digestName(ds.digestType),
    digest: ds.digest.toString('hex').toUpperCase(),
    ds: formatDs(owner, ds),
    dnskey: formatDnskey(owner, key),
    publicKey: key.key.toString('base64'),
    flags: key.flags,
  };
}
