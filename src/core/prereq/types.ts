/**
 * Prerequisites for DANE on a mail domain (the seed plesk-dane-guide, "(Automatically) Hardening
 * Mail Connections Using DANE": STARTTLS, DKIM, the panel as primary DNS, MX to this server,
 * DNSSEC with the DS at the registrar), as data: what was observed (gathered at the edge,
 * src/io/prereq) and what the rules (rules.ts) make of it. Both shapes are plain JSON: the CLI
 * prints them and the panel will show the same findings next to its "DANE support" checkbox.
 */
import type { RegistrarDs } from '../dnssec/present.js';
import type { DnssecFinding } from '../dnssec/readiness.js';

/** ok: met; warn: met with a caveat; fail: not met; unknown: a lookup or probe could not decide. */
export type PrereqStatus = 'ok' | 'warn' | 'fail' | 'unknown';

export type RequirementId = 'starttls' | 'dkim' | 'dns-backend' | 'delegation' | 'mx' | 'dnssec';

export interface PrereqFinding {
  requirement: RequirementId;
  /** the requirement in a few words, as a list of them shows it */
  title: string;
  status: PrereqStatus;
  /** what was found: for anything but ok, what is wrong */
  message: string;
  /** what to do about it (may hold several lines: records to publish); absent when ok */
  fix?: string;
  /** one line per item looked at (each MX host, each address probed, each selector, ...) */
  details: string[];
  /** where the requirement comes from: the seed or the RFC section */
  ref: string;
}

export interface PrereqReport {
  domain: string;
  /** the zone that holds the domain, when found */
  zone: string | null;
  /** the worst status over every finding */
  status: PrereqStatus;
  findings: PrereqFinding[];
  checkedAt: string;
}

/** What a stub sees behind a validating resolver (io/dns DnssecStatus, repeated: core is pure). */
export type LookupStatus = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export interface AddressLookup {
  status: LookupStatus;
  /** `NOERROR`, `NXDOMAIN`, ...; null when no server answered */
  rcode: string | null;
  addresses: string[];
  why?: string;
}

export interface MxObservation {
  status: LookupStatus;
  rcode: string | null;
  /** exchange without the final dot; `.` is the null MX (RFC 7505) */
  records: { preference: number; exchange: string }[];
  why?: string;
}

export interface MailHostObservation {
  name: string;
  /** its MX preference; null when named by --mail-host and not an MX */
  preference: number | null;
  a: AddressLookup;
  aaaa: AddressLookup;
}

export interface StarttlsObservation {
  host: string;
  address: string;
  port: number;
  /**
   * tls: STARTTLS and the handshake worked; no-starttls: not offered or refused (RFC 3207);
   * connect-failed: nothing accepted the connection; timeout: no answer in time; tls-failed:
   * the handshake after STARTTLS failed; error: any other protocol failure (a 554 greeting)
   */
  outcome: 'tls' | 'no-starttls' | 'connect-failed' | 'timeout' | 'tls-failed' | 'error';
  /** `TLSv1.3 TLS_AES_256_GCM_SHA384`, or the probe's one-line error */
  detail: string;
}

export interface DkimLookup {
  selector: string;
  /** `SELECTOR._domainkey.DOMAIN` */
  name: string;
  /** found: a TXT RRset; none: NXDOMAIN or no TXT; failed: no usable answer */
  outcome: 'found' | 'none' | 'failed';
  status: LookupStatus;
  /** each TXT record's strings joined (RFC 6376 §3.6.2.2) */
  values: string[];
  why?: string;
}

export interface DkimObservation {
  /** flag: --dkim-selector; defaults: the common names tried when none was given */
  selectorsFrom: 'flag' | 'defaults';
  lookups: DkimLookup[];
}

export interface BackendObservation {
  /** not-configured: no usable [dns] settings; failed: configured but reading the zone failed */
  state: 'not-configured' | 'reachable' | 'failed';
  /** `rfc2136 at 127.0.0.1:53`; never a secret */
  describe?: string;
  /** the zone the backend is configured for (absolute, trailing dot) */
  zone?: string;
  /** the DkError code of the failure */
  code?: string;
  why?: string;
  /** SOA serial the backend's own server serves (rfc2136 only); null when not asked */
  serial?: number | null;
}

export interface NameServerObservation {
  name: string;
  /** null when the name has no address */
  address: string | null;
  /** named by the parent's delegation, by the zone's own NS RRset, or both */
  source: 'parent' | 'ns-rrset' | 'both';
  /** answer: authoritative answer (AA) for the zone; lame: answers, not for the zone */
  outcome: 'answer' | 'lame' | 'unreachable';
  serial: number | null;
  why?: string;
}

export interface DnssecObservation {
  chain: LookupStatus;
  signing: 'signed' | 'unsigned' | 'partly' | 'unknown';
  ready: boolean;
  /** the parent zone; null when not found */
  parent: string | null;
  /** the DS RRset at the parent's servers; null when none of them answered */
  parentDs: string[] | null;
  findings: DnssecFinding[];
  registrar: RegistrarDs[];
  servers: NameServerObservation[];
}

export interface PrereqObservations {
  /** presentation form without the final dot */
  domain: string;
  /** the zone holding the domain (without the final dot); null when no SOA was found */
  zone: string | null;
  zoneWhy?: string;
  mx: MxObservation;
  /** the hosts probed: MX targets, or the one --mail-host names */
  mailHostFrom: 'mx' | 'flag';
  mailHosts: MailHostObservation[];
  /** this server's addresses: --address, else the machine's interfaces */
  server: { addresses: string[]; from: 'flag' | 'interfaces' };
  starttls: StarttlsObservation[];
  dkim: DkimObservation;
  backend: BackendObservation;
  /**
   * Whether the resolver was proven to validate (io/dns prove.ts); absent when not asked. A
   * resolver that does not validate makes every answer look insecure.
   */
  resolver?: { validating: boolean; summary: string };
  /** null when the zone's DNSSEC state could not be gathered at all */
  dnssec: DnssecObservation | null;
  dnssecWhy?: string;
}

/**
 * The part of the observations the zone's own rules (DNSSEC, delegation) read: what
 * `domain add --dane` gathers anyway, so it can judge the zone with the same wording.
 */
export type ZoneObservations = Pick<
  PrereqObservations,
  'domain' | 'zone' | 'dnssec' | 'dnssecWhy' | 'resolver'
>;
