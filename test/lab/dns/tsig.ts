/**
 * TSIG keys (RFC 8945) for the lab: made at random per run, handed to named.conf (and to Knot or
 * PowerDNS by other lab pieces), and written as BIND key files, the format `nsupdate -k` and
 * `danekeeper --tsig-key FILE` read. Secrets only ever go to files written 0600.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

export type TsigAlgorithm =
  'hmac-sha1' | 'hmac-sha224' | 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';

export interface TsigKeySpec {
  /** the key name as a DNS name, e.g. `dk-update.` or `dk-update` */
  name: string;
  algorithm: TsigAlgorithm;
  /** base64 */
  secret: string;
}

const DIGEST_BYTES: Record<TsigAlgorithm, number> = {
  'hmac-sha1': 20,
  'hmac-sha224': 28,
  'hmac-sha256': 32,
  'hmac-sha384': 48,
  'hmac-sha512': 64,
};

/** A fresh random key; the secret is as long as the HMAC's output (RFC 8945 §6.1 minimum). */
export function labTsigKey(name: string, algorithm: TsigAlgorithm = 'hmac-sha256'): TsigKeySpec {
  if (!(algorithm in DIGEST_BYTES)) throw new Error(`DNS lab: unknown TSIG algorithm ${algorithm}`);
  return { name, algorithm, secret: randomBytes(DIGEST_BYTES[algorithm]).toString('base64') };
}

/** `key "name" { algorithm ...; secret "..."; };` — named.conf statement and BIND key file. */
export function tsigKeyText(k: TsigKeySpec): string {
  return `key ${JSON.stringify(k.name)} { algorithm ${k.algorithm}; secret ${JSON.stringify(k.secret)}; };\n`;
}

/** Writes a BIND key file (what `nsupdate -k` and `--tsig-key` read), mode 0600. */
export function writeTsigKeyFile(path: string, k: TsigKeySpec): string {
  writeFileSync(path, tsigKeyText(k), { mode: 0o600 });
  return path;
}

/** Lowercase, no trailing dot: how named.conf names a key (and how two specs are compared). */
export function tsigKeyId(k: TsigKeySpec): string {
  return k.name.toLowerCase().replace(/\.$/, '');
}

/**
 * The keys of several specs, once each. The same name twice with different secrets or
 * algorithms is a mistake in the test, not something to pick a winner for.
 */
export function uniqueTsigKeys(keys: TsigKeySpec[]): TsigKeySpec[] {
  const byId = new Map<string, TsigKeySpec>();
  for (const k of keys) {
    const prev = byId.get(tsigKeyId(k));
    if (prev && (prev.secret !== k.secret || prev.algorithm !== k.algorithm))
      throw new Error(`DNS lab: TSIG key ${k.name} is given twice with different contents`);
    byId.set(tsigKeyId(k), k);
  }
  return [...byId.values()];
}
