/**
 * A stub resolver behind a validating recursive resolver (RFC 4035 §4.9, RFC 6840 §5.7–5.9): it
 * does not validate signatures itself but reads the resolver's verdict from AD, and tells "bogus"
 * from "server failure" by repeating a SERVFAIL question with CD=1. Every lookup returns the data
 * together with its DNSSEC status; network trouble becomes an `indeterminate` result, not an
 * exception, because for DANE "could not tell" is a verdict of its own (RFC 7672 §2.1.1).
 */
import { DkError } from '../../core/errors.js';
import { DnsClient, type ClientOptions, type DnsAnswer } from './client.js';
import { canonicalKey, queryName, sameName } from './name.js';
import { decodeRdata } from './rdata.js';
import {
  CLASS_IN,
  TYPE_CNAME,
  TYPE_CODES,
  rcodeName,
  type LookupOptions,
  type LookupResult,
  type RecordType,
  type RecordTypes,
  type Resolver,
} from './types.js';
import type { WireMessage } from './wire.js';

/** Resolvers stop far earlier (Unbound at 11, BIND at 16); a longer chain in one answer is junk. */
const MAX_CNAMES = 16;

interface Extracted<T> {
  records: T[];
  cnameChain: string[];
  canonicalName: string;
  ttl: number | null;
  skipped: number;
  why?: string;
}

/**
 * Follows the CNAME chain that a recursive resolver puts in the answer section (RFC 1034 §4.3.2
 * step 3.a, RFC 2181 §10.1.1) from the name asked to the RRset of the type asked. Records owned
 * by names off the chain are ignored: a stub has no use for them. For a CNAME question the
 * CNAME itself is the answer.
 */
export function extractAnswer<K extends RecordType>(
  m: WireMessage,
  name: string,
  type: K,
): Extracted<RecordTypes[K]> {
  const code = TYPE_CODES[type];
  const answers = m.answers.filter((r) => r.class === CLASS_IN);
  const chain: string[] = [];
  const seen = new Set([canonicalKey(name)]);
  let current = name;
  let why: string | undefined;
  while (type !== 'CNAME' && !answers.some((r) => r.type === code && sameName(r.name, current))) {
    const cname = answers.find((r) => r.type === TYPE_CNAME && sameName(r.name, current));
    if (!cname) break;
    let target: string;
    try {
      target = decodeRdata('CNAME', m.buf, cname);
    } catch (e) {
      why = `the CNAME of ${current} is malformed: ${(e as Error).message}`;
      break;
    }
    if (seen.has(canonicalKey(target))) {
      why = `the CNAME chain loops back to ${target}`;
      break;
    }
    if (chain.length >= MAX_CNAMES) {
      why = `the CNAME chain is longer than ${MAX_CNAMES}`;
      break;
    }
    seen.add(canonicalKey(target));
    chain.push(target);
    current = target;
  }
  const rrset = answers.filter((r) => r.type === code && sameName(r.name, current));
  const records: RecordTypes[K][] = [];
  let skipped = 0;
  for (const rr of rrset) {
    try {
      records.push(decodeRdata(type, m.buf, rr));
    } catch (e) {
      skipped++;
      why ??= `a ${type} record was skipped: ${(e as Error).message}`;
    }
  }
  let ttl: number | null = rrset.length > 0 ? Math.min(...rrset.map((r) => r.ttl)) : null;
  if (rrset.length === 0) {
    // RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA MINIMUM).
    const soa = m.authorities.find((r) => r.type === TYPE_CODES.SOA && r.class === CLASS_IN);
    if (soa) {
      try {
        ttl = Math.min(soa.ttl, decodeRdata('SOA', m.buf, soa).minimum);
      } catch {
        // No negative TTL then; the answer itself stands.
      }
    }
  }
  return {
    records,
    cnameChain: chain,
    canonicalName: current,
    ttl,
    skipped,
    ...(why ? { why } : {}),
  };
}

export class StubResolver implements Resolver {
  readonly client: DnsClient;

  constructor(client: DnsClient | ClientOptions) {
    this.client = client instanceof DnsClient ? client : new DnsClient(client);
  }

  get servers(): readonly string[] {
    return this.client.servers.map((s) => s.label);
  }

  perServer(): Resolver[] {
    return this.client.servers.map((s) => new StubResolver(this.client.withServers([s])));
  }

  /**
   * Status rules (RFC 4035 §3.2.2–3.2.3, RFC 6840 §5.7–5.9):
   * - NOERROR or NXDOMAIN with AD=1: secure;
   * - NOERROR or NXDOMAIN with AD=0: insecure (with CD=1 asked: indeterminate, as the resolver
   *   was told not to validate and AD=0 then says nothing);
   * - SERVFAIL, then NOERROR or NXDOMAIN from the same server with CD=1: bogus;
   * - SERVFAIL also with CD=1, any other RCODE, no answer, a malformed answer: indeterminate.
   * Usage errors (a bad name) and cancellation are thrown; nothing else is.
   */
  async lookup<K extends RecordType>(
    name: string,
    type: K,
    opts: LookupOptions = {},
  ): Promise<LookupResult<RecordTypes[K]>> {
    const qname = queryName(name);
    const q = { rd: opts.rd ?? true, cd: opts.cd ?? false, tcp: opts.tcp ?? false };
    const signal = opts.signal ? { signal: opts.signal } : {};
    let first: DnsAnswer;
    try {
      first = await this.client.query(qname, type, { ...q, ...signal });
    } catch (e) {
      return this.failed(qname, type, e, this.servers.join(', '));
    }
    const rcode = rcodeName(first.message.rcode);
    const ok = rcode === 'NOERROR' || rcode === 'NXDOMAIN';
    if (ok && first.message.header.ad) return this.result(qname, type, first, 'secure');
    if (ok && !q.cd) return this.result(qname, type, first, 'insecure');
    if (ok) {
      return this.result(qname, type, first, 'indeterminate', {
        why: `${first.server.label} did not set AD on a CD=1 query: it vouched for nothing`,
      });
    }
    if (rcode !== 'SERVFAIL' || q.cd) {
      return this.result(qname, type, first, 'indeterminate', {
        why: `${first.server.label} answered ${rcode}`,
      });
    }
    // RFC 4035 §3.2.2: CD=1 asks the resolver for the data without validating it. If it has
    // the data then, the SERVFAIL was a validation failure: bogus.
    let second: DnsAnswer;
    try {
      second = await this.client.query(qname, type, {
        ...q,
        cd: true,
        servers: [first.server],
        ...signal,
      });
    } catch (e) {
      const err = asDkError(e);
      if (err.code === 'E_DNS_ABORTED' || err.kind === 'usage') throw err;
      return this.result(qname, type, first, 'indeterminate', {
        why: `${first.server.label} answered SERVFAIL, and the CD=1 retry failed: ${err.message}`,
        error: err,
      });
    }
    const rcode2 = rcodeName(second.message.rcode);
    if (rcode2 === 'NOERROR' || rcode2 === 'NXDOMAIN') {
      return this.result(qname, type, second, 'bogus', {
        why:
          `${first.server.label} answered SERVFAIL, but ${rcode2} with checking disabled (CD=1): ` +
          'DNSSEC validation failed',
      });
    }
    return this.result(qname, type, first, 'indeterminate', {
      why: `${first.server.label} answered SERVFAIL, also with checking disabled (CD=1): a server failure, not DNSSEC`,
    });
  }

  private result<K extends RecordType>(
    name: string,
    type: K,
    a: DnsAnswer,
    status: LookupResult<unknown>['status'],
    extra: { why?: string; error?: DkError } = {},
  ): LookupResult<RecordTypes[K]> {
    const x = extractAnswer(a.message, name, type);
    const why = [extra.why, x.why].filter((w) => w !== undefined).join('; ');
    return {
      name,
      type,
      status,
      rcode: rcodeName(a.message.rcode),
      records: x.records,
      cnameChain: x.cnameChain,
      canonicalName: x.canonicalName,
      ttl: x.ttl,
      server: a.server.label,
      authoritative: a.message.header.aa,
      skipped: x.skipped,
      ...(why !== '' ? { why } : {}),
      ...(extra.error ? { error: extra.error } : {}),
    };
  }

  private failed<K extends RecordType>(
    name: string,
    type: K,
    e: unknown,
    servers: string,
  ): LookupResult<RecordTypes[K]> {
    const err = asDkError(e);
    if (err.code === 'E_DNS_ABORTED' || err.kind === 'usage') throw err;
    return {
      name,
      type,
      status: 'indeterminate',
      rcode: null,
      records: [],
      cnameChain: [],
      canonicalName: name,
      ttl: null,
      server: servers,
      authoritative: false,
      skipped: 0,
      why: err.message,
      error: err,
    };
  }
}

function asDkError(e: unknown): DkError {
  if (e instanceof DkError) return e;
  return new DkError('internal', 'E_DNS_INTERNAL', `DNS lookup failed: ${String(e)}`, { cause: e });
}
