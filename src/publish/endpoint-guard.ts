/**
 * The endpoint guard: before a TLSA change removes records, look at what the live endpoint
 * presents and refuse a change after which an address that was authenticated would present a
 * chain no remaining record matches. That is the one invariant of DESIGN.md applied to a
 * single hand-made change: a DANE sender that sees the new RRset must still find a match, or
 * it defers the mail (RFC 7672 §2.2: with usable TLSA records, authentication is mandatory).
 *
 * Three parts: `observeEndpoint` resolves the host (the validating resolver) and probes every
 * address (I/O); `judgeChange` decides, from what was seen and the RRset before and after,
 * which addresses lose every match (pure); `endpointGuard` joins them into the `beforeApply`
 * hook of tlsa-set and turns a bad verdict into a DkError.
 */
import { isIP } from 'node:net';
import { verifyDane } from '../core/dane/index.js';
import { DkError, isDkError } from '../core/errors.js';
import type { TlsaRecord, TransportProto } from '../core/tlsa/index.js';
import { certFromDer, type Cert } from '../core/x509/index.js';
import type { Resolver } from '../io/dns/index.js';
import {
  defaultStarttls,
  type ProbeOptions,
  type ProbeResult,
  type StarttlsProto,
} from '../io/probe/index.js';

export interface Endpoint {
  /** presentation form without the final dot */
  host: string;
  port: number;
  proto: TransportProto;
}

/** `_25._tcp.mx1.example.org.` -> mx1.example.org, 25, tcp (RFC 6698 §3); null if not that form. */
export function endpointOf(owner: string): Endpoint | null {
  const m = /^_([0-9]{1,5})\._(tcp|udp|sctp)\.(.+?)\.?$/i.exec(owner);
  if (!m || Number(m[1]) > 65535) return null;
  return {
    host: m[3]!.toLowerCase(),
    port: Number(m[1]),
    proto: m[2]!.toLowerCase() as TransportProto,
  };
}

/** What one address presented, or why it could not be asked. */
export type AddressSeen = { address: string; chain: Cert[] } | { address: string; error: string };

export interface EndpointSeen {
  host: string;
  port: number;
  /** every A and AAAA address of the host (or the literal itself), each probed */
  addresses: AddressSeen[];
  /** the address lookup gave no answer that can be relied on: why */
  unresolved?: string;
}

export type AddressState =
  /** a record of the new RRset authenticates the presented chain */
  | 'matched'
  /** a record of the old RRset did, none of the new one does: the change breaks delivery */
  | 'lost'
  /** no record matched before either: the change makes nothing worse */
  | 'unmatched'
  /** the address could not be probed */
  | 'unreachable';

export interface AddressJudgement {
  address: string;
  state: AddressState;
  /** subject of the presented leaf; null when unreachable */
  subject: string | null;
  /** records of the RRset before the change that authenticate the chain */
  matchedBefore: TlsaRecord[];
  /** records of the RRset after the change that authenticate the chain */
  matchedAfter: TlsaRecord[];
  /** why the address could not be probed */
  error?: string;
}

export interface GuardJudgement {
  owner: string;
  host: string;
  port: number;
  addresses: AddressJudgement[];
  /** the address lookup failed: nothing could be judged */
  unresolved?: string;
  /** the change leaves no TLSA record at the owner at all */
  emptyAfter: boolean;
}

export interface JudgeInput {
  owner: string;
  seen: EndpointSeen;
  before: TlsaRecord[];
  after: TlsaRecord[];
  time: Date;
  /** PKIX trust anchors for usages 0/1 outside SMTP */
  trustStore?: Cert[];
}

/**
 * Which addresses keep a match, lose every match, or never had one. Pure. The chain is judged
 * the way the sender judges it: SMTP rules at port 25 (RFC 7672 §3.1: only DANE-TA and DANE-EE
 * count), RFC 7671 elsewhere; the TLSA base domain (the host) is the reference identifier
 * (RFC 7672 §3.2.2).
 */
export function judgeChange(input: JudgeInput): GuardJudgement {
  const { seen } = input;
  const mode = seen.port === 25 ? 'smtp' : 'generic';
  const matching = (records: TlsaRecord[], chain: Cert[]): TlsaRecord[] => {
    if (records.length === 0) return [];
    const r = verifyDane({
      records,
      chain,
      names: [seen.host],
      time: input.time,
      mode,
      trustStore: input.trustStore,
    });
    return r.records.filter((x) => x.matched).map((x) => x.record);
  };
  const addresses = seen.addresses.map((a): AddressJudgement => {
    if ('error' in a) {
      return {
        address: a.address,
        state: 'unreachable',
        subject: null,
        matchedBefore: [],
        matchedAfter: [],
        error: a.error,
      };
    }
    const matchedBefore = matching(input.before, a.chain);
    const matchedAfter = matching(input.after, a.chain);
    const state: AddressState =
      matchedAfter.length > 0 ? 'matched' : matchedBefore.length > 0 ? 'lost' : 'unmatched';
    return {
      address: a.address,
      state,
      subject: a.chain[0]?.subject ?? null,
      matchedBefore,
      matchedAfter,
    };
  });
  const out: GuardJudgement = {
    owner: input.owner,
    host: seen.host,
    port: seen.port,
    addresses,
    emptyAfter: input.after.length === 0,
  };
  if (seen.unresolved !== undefined) out.unresolved = seen.unresolved;
  return out;
}

/** `3 1 1 ab12cd34…`: enough to tell records apart in one line. */
export function shortRecord(r: TlsaRecord): string {
  const hex = r.data.toString('hex');
  return `${r.usage} ${r.selector} ${r.mtype} ${hex.length > 12 ? `${hex.slice(0, 12)}…` : hex}`;
}

/** The subject's CN when it has one (`CN=mx1.example.org`), else the whole subject. */
function shortSubject(subject: string | null): string {
  const cn = /(?:^|,\s*)(CN=[^,]+)/.exec(subject ?? '');
  if (subject === null) return 'a certificate';
  return cn?.[1] ?? (subject || 'a certificate with an empty subject');
}

/** "whose key" for 3 1 x, "whose certificate" for 3 0 x, "whose chain" for trust anchors. */
function whose(records: TlsaRecord[]): string {
  if (records.every((r) => r.usage === 3 && r.selector === 1)) return 'whose key';
  if (records.every((r) => r.usage === 3)) return 'whose certificate';
  return 'whose chain';
}

function lostLine(a: AddressJudgement): string {
  const rs = a.matchedBefore.map(shortRecord);
  const only =
    rs.length === 1
      ? `only ${rs[0]} matches: keep it`
      : `only ${rs.slice(0, -1).join(', ')} and ${rs[rs.length - 1]} match: keep one`;
  return `${a.address} presents ${shortSubject(a.subject)} ${whose(a.matchedBefore)} ${only}, or install the new certificate first`;
}

/**
 * The refusal for a judgement, or null when the change is safe. A lost match is a usage error
 * (64: the command as given would break delivery); an endpoint that could not be seen is
 * EX_UNAVAILABLE (69: safety cannot be proven). Both end in how to override.
 */
export function refusal(j: GuardJudgement): DkError | null {
  const where = `${j.host}:${j.port}`;
  if (j.unresolved !== undefined) {
    return new DkError(
      'unavailable',
      'E_ENDPOINT_UNREACHABLE',
      `Nothing changed at ${j.owner}: cannot look up ${j.host} (${j.unresolved}), so we cannot prove the change leaves ${where} a matching record; add --force to change it anyway`,
    );
  }
  const lost = j.addresses.filter((a) => a.state === 'lost');
  const down = j.addresses.filter((a) => a.state === 'unreachable');
  const downText = down.map((a) => `${a.address} could not be reached (${a.error})`);
  if (lost.length > 0 && j.emptyAfter) {
    // RFC 7672 §2.2: with no TLSA records senders fall back to unauthenticated TLS. Mail still
    // flows, but the authentication DANE senders rely on today is gone: say that, not "broken".
    return new DkError(
      'usage',
      'E_ENDPOINT_UNMATCHED',
      `Nothing changed at ${j.owner}: removing its last TLSA record turns DANE off for ${where}, which DANE senders authenticate today: ` +
        [...lost.map(lostLine), ...downText].join('; ') +
        ' (--force to turn DANE off anyway)',
    );
  }
  if (lost.length > 0) {
    return new DkError(
      'usage',
      'E_ENDPOINT_UNMATCHED',
      `Nothing changed at ${j.owner}: DANE senders could no longer deliver to ${where}: ` +
        [...lost.map(lostLine), ...downText].join('; ') +
        ' (--force to change it anyway)',
    );
  }
  if (down.length > 0) {
    return new DkError(
      'unavailable',
      'E_ENDPOINT_UNREACHABLE',
      `Nothing changed at ${j.owner}: ${downText.join('; ')}, so we cannot prove the change leaves it a matching record; add --force to change it anyway`,
    );
  }
  return null;
}

export interface ObserveDeps {
  /** the validating resolver (`resolver =` in [dns], else resolv.conf) */
  resolver: Resolver;
  probe: (o: ProbeOptions) => Promise<ProbeResult>;
  /** per network step of each probe */
  timeoutMs: number;
}

/**
 * Resolves `host` and probes every address. A host that is an address literal is probed as
 * it is. Probe failures are recorded per address, never thrown.
 */
export async function observeEndpoint(
  host: string,
  port: number,
  starttls: StarttlsProto,
  deps: ObserveDeps,
): Promise<EndpointSeen> {
  const name = host.replace(/\.$/, '');
  const seen: EndpointSeen = { host: name, port, addresses: [] };
  let addresses: string[];
  if (isIP(name) !== 0) {
    addresses = [name];
  } else {
    const [a, aaaa] = await Promise.all([
      deps.resolver.lookup(name, 'A'),
      deps.resolver.lookup(name, 'AAAA'),
    ]);
    // Bogus or unanswered: the addresses a sender would use are unknown (RFC 7672 §2.1.1).
    const bad = [a, aaaa].find((r) => r.status === 'bogus' || r.status === 'indeterminate');
    if (bad) {
      seen.unresolved = `${bad.type} lookup ${bad.status}: ${bad.why ?? bad.rcode ?? 'no answer'}`;
      return seen;
    }
    addresses = [...a.records, ...aaaa.records];
  }
  seen.addresses = await Promise.all(
    addresses.map(async (address): Promise<AddressSeen> => {
      try {
        const res = await deps.probe({
          host: name,
          address,
          port,
          starttls,
          // RFC 7672 §8.1: SNI carries the TLSA base domain.
          servername: isIP(name) === 0 ? name : undefined,
          connectTimeoutMs: deps.timeoutMs,
          readTimeoutMs: deps.timeoutMs,
          totalTimeoutMs: deps.timeoutMs * 4,
        });
        return {
          address,
          chain: res.chain.map((der, i) => certFromDer(der, `${address} certificate ${i + 1}`)),
        };
      } catch (e) {
        if (!isDkError(e)) throw e;
        return { address, error: e.message.replace(/\.$/, '') };
      }
    }),
  );
  return seen;
}

/** The planned change, as tlsa-set's beforeApply hook hands it over. */
export interface PlannedChange {
  owner: string;
  before: TlsaRecord[];
  after: TlsaRecord[];
  remove: TlsaRecord[];
}

export interface GuardOptions extends ObserveDeps {
  now: () => Date;
  /** STARTTLS dialogue; default chosen from the port */
  starttls?: StarttlsProto;
  trustStore?: Cert[];
  /** what was already seen of an endpoint (publish --fetch): used instead of probing again */
  seen?: EndpointSeen[];
  /** every judgement made, for the caller to show */
  onJudgement?: (j: GuardJudgement) => void;
}

/**
 * The beforeApply hook: a change that removes nothing cannot take a match away and passes
 * without a probe; otherwise the endpoint the owner names is seen once (retries reuse it) and
 * judged against each plan.
 */
export function endpointGuard(o: GuardOptions): (p: PlannedChange) => Promise<void> {
  const cache = new Map<string, Promise<EndpointSeen>>();
  for (const s of o.seen ?? []) cache.set(`${s.host.toLowerCase()}:${s.port}`, Promise.resolve(s));
  return async (p) => {
    if (p.remove.length === 0) return;
    const ep = endpointOf(p.owner);
    if (!ep) {
      throw new DkError(
        'unavailable',
        'E_ENDPOINT_UNKNOWN',
        `Nothing changed at ${p.owner}: it is not a _PORT._PROTO.HOST name, so there is no endpoint to check; add --force to change it anyway`,
      );
    }
    if (ep.proto !== 'tcp') {
      throw new DkError(
        'unavailable',
        'E_ENDPOINT_UNKNOWN',
        `Nothing changed at ${p.owner}: danekeeper cannot probe ${ep.proto} endpoints, so it cannot prove the change is safe; add --force to change it anyway`,
      );
    }
    const key = `${ep.host}:${ep.port}`;
    let seen = cache.get(key);
    if (!seen) {
      seen = observeEndpoint(ep.host, ep.port, o.starttls ?? defaultStarttls(ep.port), o);
      cache.set(key, seen);
    }
    const j = judgeChange({
      owner: p.owner,
      seen: await seen,
      before: p.before,
      after: p.after,
      time: o.now(),
      trustStore: o.trustStore,
    });
    o.onJudgement?.(j);
    const no = refusal(j);
    if (no) throw no;
  };
}
