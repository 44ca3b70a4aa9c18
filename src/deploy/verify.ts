/**
 * After an install and reload: what each address of each endpoint presents now. Per address it
 * says whether the presented leaf is the installed one and which of the given (confirmed)
 * records authenticate the presented chain, judged as a DANE sender would (the endpoint
 * guard's judge). It reports; the caller decides (DESIGN.md: the planner owns the invariant).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { formatRdata, type TlsaRecord } from '../core/tlsa/index.js';
import type { Resolver } from '../io/dns/index.js';
import {
  defaultStarttls,
  probe as realProbe,
  type ProbeOptions,
  type ProbeResult,
  type StarttlsProto,
} from '../io/probe/index.js';
import { judgeChange, observeEndpoint, type EndpointSeen } from '../publish/endpoint-guard.js';

export interface DeployEndpoint {
  /** a host name (resolved with `resolver`) or an address literal */
  host: string;
  port: number;
  /** default chosen from the port, as `tlsa --fetch` does */
  starttls?: StarttlsProto;
}

export interface VerifyDeps {
  /** the validating resolver; needed only for endpoints given by name */
  resolver?: Resolver;
  /** default the real probe (src/io/probe) */
  probe?: (o: ProbeOptions) => Promise<ProbeResult>;
  /** per network step of each probe; default 5000 */
  timeoutMs?: number;
}

export interface VerifyInput {
  endpoints: DeployEndpoint[];
  /** SHA-256 (hex) of the installed leaf's DER: InstallResult.certSha256 */
  certSha256: string;
  /** the confirmed records a presented chain must match; empty: only the leaf is compared */
  records: TlsaRecord[];
  /** validity dates are judged at this moment */
  now: Date;
}

export type PresentedState =
  /** the address presents the installed leaf */
  | 'installed'
  /** it presents another certificate (the old one, or something else) */
  | 'other'
  /** it could not be probed */
  | 'unreachable';

export interface AddressReport {
  address: string;
  state: PresentedState;
  /** SHA-256 of the presented leaf's DER; null when unreachable */
  certSha256: string | null;
  subject: string | null;
  /** the given records that authenticate the presented chain, as "U S M HEX" */
  matched: string[];
  /** the installed leaf is presented and (with records given) a record matches */
  ok: boolean;
  error?: string;
}

export interface EndpointReport {
  host: string;
  port: number;
  addresses: AddressReport[];
  /** the address lookup failed: why */
  unresolved?: string;
  /** every address is ok (and there is at least one) */
  ok: boolean;
}

export interface VerifyReport {
  ok: boolean;
  endpoints: EndpointReport[];
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Judges what was seen at one endpoint. Pure. */
export function judgeDeployed(seen: EndpointSeen, input: VerifyInput): EndpointReport {
  const j = judgeChange({
    owner: `_${seen.port}._tcp.${seen.host}.`,
    seen,
    before: [],
    after: input.records,
    time: input.now,
  });
  const addresses = seen.addresses.map((a, i): AddressReport => {
    if ('error' in a) {
      return {
        address: a.address,
        state: 'unreachable',
        certSha256: null,
        subject: null,
        matched: [],
        ok: false,
        error: a.error,
      };
    }
    const leaf = a.chain[0];
    const hash = leaf ? sha256(leaf.der) : null;
    const state: PresentedState = hash === input.certSha256.toLowerCase() ? 'installed' : 'other';
    const matched = j.addresses[i]!.matchedAfter.map(formatRdata);
    return {
      address: a.address,
      state,
      certSha256: hash,
      subject: leaf?.subject ?? null,
      matched,
      // RFC 7672 §2.2 / DESIGN.md "The one invariant": the chain must match a confirmed record.
      ok: state === 'installed' && (input.records.length === 0 || matched.length > 0),
    };
  });
  const out: EndpointReport = {
    host: seen.host,
    port: seen.port,
    addresses,
    ok: seen.unresolved === undefined && addresses.length > 0 && addresses.every((a) => a.ok),
  };
  if (seen.unresolved !== undefined) out.unresolved = seen.unresolved;
  return out;
}

/** Probes every address of every endpoint once and judges it. Probe failures are reported. */
export async function verifyDeployed(
  input: VerifyInput,
  deps: VerifyDeps = {},
): Promise<VerifyReport> {
  const endpoints = await Promise.all(
    input.endpoints.map(async (ep) => {
      const host = ep.host.replace(/^\[(.*)\]$/, '$1');
      let seen: EndpointSeen;
      if (isIP(host) === 0 && !deps.resolver) {
        seen = { host, port: ep.port, addresses: [], unresolved: 'no resolver given' };
      } else {
        seen = await observeEndpoint(host, ep.port, ep.starttls ?? defaultStarttls(ep.port), {
          resolver: deps.resolver ?? noResolver,
          probe: deps.probe ?? realProbe,
          timeoutMs: deps.timeoutMs ?? 5_000,
        });
      }
      return judgeDeployed(seen, input);
    }),
  );
  return { ok: endpoints.length > 0 && endpoints.every((e) => e.ok), endpoints };
}

/** Never asked: only address literals reach observeEndpoint without a resolver. */
const noResolver: Resolver = {
  servers: [],
  lookup: () => Promise.reject(new Error('no resolver')),
};

/** One line per address that is not ok, for an error or event text. */
export function describeProblems(r: VerifyReport): string {
  const out: string[] = [];
  for (const e of r.endpoints) {
    const where = `${e.host}:${e.port}`;
    if (e.unresolved !== undefined) out.push(`${where}: cannot look up the host (${e.unresolved})`);
    else if (e.addresses.length === 0) out.push(`${where}: the host has no address`);
    for (const a of e.addresses) {
      if (a.ok) continue;
      const at = `${where} at ${a.address}`;
      if (a.state === 'unreachable') out.push(`${at} could not be reached (${a.error})`);
      else if (a.state === 'other')
        out.push(`${at} presents ${a.subject || 'a certificate'} that is not the installed one`);
      else out.push(`${at} presents the installed certificate but no confirmed record matches it`);
    }
  }
  return out.join('; ');
}
