import type { CheckVerdict, CheckWarning } from '../core/checks/index.js';

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
  warnings: CheckWarning[];
  dns: DnsEntry[];
  reasons: string[];
  checkedAt: string;
}
