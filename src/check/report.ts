import type { CheckVerdict, CheckWarning, Delivery } from '../core/checks/index.js';

/** One DNS answer as the report shows it: the data with its DNSSEC status, never a bare list. */
export interface DnsEntry {
  name: string;
  type: string;
  status: string;
  rcode: string | null;
  ttl: number | null;
  records: string[];
  cnameChain: string[];
  why?: string;
}

export interface ChainEntry {
  depth: number;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
  spkiSha256: string;
  /** the TLSA record this certificate matched, if any */
  match: string | null;
}

export interface AddressReport {
  address: string;
  family: 4 | 6;
  /** the DNSSEC status of the A or AAAA RRset this address came from */
  status: string;
  verdict: CheckVerdict;
  tls: { protocol: string; cipher: string; servername: string | null } | null;
  chain: ChainEntry[];
  matched: { record: string; depth: number } | null;
  /**
   * every TLSA record the presented chain puts to use (core/checks/in-use.ts), the matched one
   * included: `3 1 1` + `2 1 1` both appear, at depths 0 and 1
   */
  inUse: { record: string; depth: number }[];
  reasons: string[];
}

export interface HostReport {
  name: string;
  preference: number | null;
  verdict: CheckVerdict;
  /** RFC 7672 §2.2.3: the name TLSA records were found at (after CNAME expansion) */
  tlsaBase: string;
  tlsa: { owner: string; status: string; ttl: number | null; records: string[] } | null;
  addresses: AddressReport[];
  reasons: string[];
}

export interface CheckReport {
  domain: string | null;
  service: { port: number; starttls: string; mode: 'smtp' | 'generic' };
  verdict: CheckVerdict;
  resolver: { servers: string[]; validating: boolean; summary: string };
  mx: {
    status: string;
    implicit: boolean;
    records: { preference: number; exchange: string }[];
  } | null;
  hosts: HostReport[];
  /**
   * whether a DANE sender can deliver mail to the domain at all (it falls back from a failing
   * MX host to the next, RFC 5321 §5.1): `verdict` is the worst host's, this is the best way in.
   * null for `check --host`.
   */
  delivery: Delivery | null;
  warnings: CheckWarning[];
  dns: DnsEntry[];
  reasons: string[];
  checkedAt: string;
}
