/**
 * Gathers what the prerequisite rules (core/prereq) judge: MX and the mail hosts' addresses,
 * a STARTTLS probe of each address on port 25, the DKIM key records, this machine's addresses,
 * and — handed in as functions, since they live above io/ — what the DNS backend and the
 * `dnssec status` logic see. Lookups that fail become observations (status indeterminate), not
 * exceptions: deciding is the rules' job.
 */
import { networkInterfaces } from 'node:os';
import { isDkError } from '../../core/errors.js';
import type {
  AddressLookup,
  BackendObservation,
  DkimLookup,
  DkimObservation,
  DnssecObservation,
  MailHostObservation,
  PrereqObservations,
  StarttlsObservation,
} from '../../core/prereq/types.js';
import { mapLimit } from '../dns/authoritative.js';
import { queryName } from '../dns/name.js';
import type { LookupResult, Resolver } from '../dns/types.js';
import type { ProbeOptions, ProbeResult } from '../probe/types.js';
import { lookupTxt, type TxtLookup } from './txt.js';

/**
 * Selectors tried when none is given: what the common signers and hosts use by default
 * (OpenDKIM's and Plesk's `default`, rspamd's `dkim`, Microsoft 365's `selector1`/`selector2`,
 * Google's `google`, Mailchimp's `k1`, Amazon SES-style `s1`/`s2`, ...).
 */
export const DEFAULT_DKIM_SELECTORS = [
  'default',
  'mail',
  'dkim',
  'selector1',
  'selector2',
  'google',
  'k1',
  'k2',
  's1',
  's2',
  'smtp',
  'key1',
  'dkim1',
  'mx',
];

export interface GatherDeps {
  resolver: Resolver;
  probe: (o: ProbeOptions) => Promise<ProbeResult>;
  /** the `dnssec status` report of the zone, as observations (publish/dnssec-status.ts) */
  dnssec: (zone: string) => Promise<DnssecObservation>;
  /** reads the zone through the configured backend, read-only */
  backend: (zone: string | null) => Promise<BackendObservation>;
  /** this machine's addresses; default node:os networkInterfaces */
  interfaces?: () => string[];
  /** the resolver's proof of validation (io/dns proveValidating), to pass on to the rules */
  validating?: { validating: boolean; summary: string };
  /** TXT lookups; default lookupTxt through the resolver's servers */
  txt?: (name: string, timeoutMs: number) => Promise<TxtLookup>;
}

export interface GatherOptions {
  domain: string;
  /** probe this host instead of the MX targets */
  mailHost?: string;
  /** this server's addresses; default detected */
  addresses?: string[];
  dkimSelectors?: string[];
  /** per network step; default 10 s */
  timeoutMs?: number;
}

/** Addresses of this machine's interfaces that others could reach: no loopback, no link-local. */
export function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.internal) continue;
      if (i.family === 'IPv6' && /^fe80:/i.test(i.address)) continue;
      out.push(i.address);
    }
  }
  return out;
}

/**
 * An address as the resolver prints AAAA records (RFC 5952: lower case, longest zero run
 * compressed), so `--address 2001:DB8:0:0::25` is the same as a record of 2001:db8::25.
 */
export function canonicalAddress(a: string): string {
  if (!a.includes(':')) return a;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a.toLowerCase();
  }
}

const bare = (n: string) => n.toLowerCase().replace(/\.$/, '');

function addressLookup(r: LookupResult<string>): AddressLookup {
  return {
    status: r.status,
    rcode: r.rcode,
    addresses: r.records,
    ...(r.why ? { why: r.why } : {}),
  };
}

/** The zone holding `name`: the closest enclosing name with an SOA RRset of its own. */
async function zoneOf(
  resolver: Resolver,
  name: string,
): Promise<{ zone: string | null; why?: string }> {
  const labels = name.split('.');
  let why: string | undefined;
  for (let i = 0; i < labels.length; i++) {
    const candidate = labels.slice(i).join('.');
    const r = await resolver.lookup(candidate, 'SOA');
    if (r.records.length > 0 && bare(r.canonicalName) === candidate) return { zone: candidate };
    if (r.status === 'indeterminate') why ??= r.why ?? `the SOA lookup of ${candidate} failed`;
  }
  return { zone: null, why: why ?? `no zone above ${name} has an SOA record` };
}

/** The probe's error, by its stable code, as one of the outcomes the rules know. */
function probeOutcome(e: unknown): StarttlsObservation['outcome'] {
  const code = isDkError(e) ? e.code : '';
  if (code === 'probe-starttls-refused') return 'no-starttls';
  if (code === 'probe-connect') return 'connect-failed';
  if (code === 'probe-connect-timeout' || code === 'probe-timeout') return 'timeout';
  if (code === 'probe-tls' || code === 'probe-no-certificate') return 'tls-failed';
  return 'error';
}

/**
 * The DKIM key records of `domain` (RFC 6376 §3.6.2.1: SELECTOR._domainkey.DOMAIN) for the
 * given selectors, else the common defaults. Never throws: a failed lookup is an observation.
 * Also used by `domain add --dane`, which tells what the DKIM rule makes of it as a warning.
 */
export async function gatherDkim(
  domain: string,
  selectors: readonly string[],
  timeoutMs: number,
  txt: (name: string, timeoutMs: number) => Promise<TxtLookup>,
): Promise<DkimObservation> {
  const names = selectors.length ? selectors : DEFAULT_DKIM_SELECTORS;
  const lookups = await mapLimit([...names], 6, async (selector): Promise<DkimLookup> => {
    const name = `${selector}._domainkey.${domain}`;
    const t = await txt(name, timeoutMs);
    const outcome =
      t.status === 'indeterminate' ? 'failed' : t.values.length > 0 ? 'found' : 'none';
    return {
      selector,
      name: t.name,
      outcome,
      status: t.status,
      values: t.values,
      ...(t.why ? { why: t.why } : {}),
    };
  });
  return { selectorsFrom: selectors.length ? 'flag' : 'defaults', lookups };
}

export async function gatherPrereq(o: GatherOptions, d: GatherDeps): Promise<PrereqObservations> {
  const domain = queryName(o.domain).toLowerCase();
  const timeoutMs = o.timeoutMs ?? 10_000;
  const r = d.resolver;

  const [zoneR, mxR] = await Promise.all([zoneOf(r, domain), r.lookup(domain, 'MX')]);
  const zone = zoneR.zone;
  const mx = {
    status: mxR.status,
    rcode: mxR.rcode,
    records: mxR.records.map((m) => ({
      preference: m.preference,
      exchange: bare(m.exchange) || '.',
    })),
    ...(mxR.why ? { why: mxR.why } : {}),
  };

  // The hosts: --mail-host, else every MX target (RFC 7505's null MX names none).
  const names = o.mailHost
    ? [{ name: queryName(o.mailHost).toLowerCase(), preference: null as number | null }]
    : mx.records
        .filter((m) => m.exchange !== '.')
        .map((m) => ({ name: m.exchange, preference: m.preference as number | null }));
  const wanted = new Map<string, number | null>();
  for (const n of names) if (!wanted.has(n.name)) wanted.set(n.name, n.preference);
  // MX hosts are looked up even with --mail-host: the MX rule judges them all.
  for (const m of mx.records)
    if (m.exchange !== '.' && !wanted.has(m.exchange)) wanted.set(m.exchange, m.preference);
  const hosts: MailHostObservation[] = await mapLimit(
    [...wanted],
    8,
    async ([name, preference]) => {
      const [a, aaaa] = await Promise.all([r.lookup(name, 'A'), r.lookup(name, 'AAAA')]);
      return { name, preference, a: addressLookup(a), aaaa: addressLookup(aaaa) };
    },
  );
  const probed = o.mailHost ? hosts.filter((h) => h.name === names[0]!.name) : hosts;

  const targets = probed.flatMap((h) =>
    [...h.a.addresses, ...h.aaaa.addresses].map((address) => ({ host: h.name, address })),
  );
  const starttlsP = mapLimit(targets, 4, async (t): Promise<StarttlsObservation> => {
    try {
      const p = await d.probe({
        host: t.host,
        address: t.address,
        port: 25,
        starttls: 'smtp',
        connectTimeoutMs: timeoutMs,
        readTimeoutMs: timeoutMs,
        totalTimeoutMs: timeoutMs * 3,
      });
      return { ...t, port: 25, outcome: 'tls', detail: `${p.protocol} ${p.cipher}` };
    } catch (e) {
      return {
        ...t,
        port: 25,
        outcome: probeOutcome(e),
        detail: e instanceof Error ? e.message.replace(/\.$/, '') : String(e),
      };
    }
  });

  const dkimP = gatherDkim(domain, o.dkimSelectors ?? [], timeoutMs, (name, ms) =>
    d.txt ? d.txt(name, ms) : lookupTxt(r.servers, name, ms),
  );

  const dnssecP: Promise<{ dnssec: DnssecObservation | null; why?: string }> =
    zone === null
      ? Promise.resolve({ dnssec: null, why: zoneR.why ?? 'the zone was not found' })
      : d.dnssec(zone).then(
          (dnssec) => ({ dnssec }),
          (e: unknown) => ({ dnssec: null, why: e instanceof Error ? e.message : String(e) }),
        );
  const [starttls, dkim, dn, backend] = await Promise.all([
    starttlsP,
    dkimP,
    dnssecP,
    d.backend(zone),
  ]);

  const flagged = (o.addresses ?? []).filter((a) => a !== '').map(canonicalAddress);
  return {
    domain,
    zone,
    ...(zoneR.why && zone === null ? { zoneWhy: zoneR.why } : {}),
    mx,
    mailHostFrom: o.mailHost ? 'flag' : 'mx',
    mailHosts: hosts.filter(
      (h) => probed.includes(h) || mx.records.some((m) => m.exchange === h.name),
    ),
    server: flagged.length
      ? { addresses: flagged, from: 'flag' }
      : {
          addresses: (d.interfaces ?? interfaceAddresses)().map(canonicalAddress),
          from: 'interfaces',
        },
    starttls,
    dkim,
    backend,
    ...(d.validating
      ? { resolver: { validating: d.validating.validating, summary: d.validating.summary } }
      : {}),
    dnssec: dn.dnssec,
    ...(dn.why ? { dnssecWhy: dn.why } : {}),
  };
}
