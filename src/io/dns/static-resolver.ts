/**
 * A Resolver that is plain data with DNSSEC switches (as mox's mock resolver is): for unit tests
 * of code that takes a Resolver (`check`, rollover), no sockets. Follows CNAMEs in the data; the
 * status of a chain is its weakest link, as a validating resolver's AD bit would be.
 */
import { canonicalKey, queryName } from './name.js';
import type {
  DnssecStatus,
  LookupOptions,
  LookupResult,
  Rcode,
  RecordType,
  RecordTypes,
  Resolver,
} from './types.js';

export interface StaticEntry {
  status?: DnssecStatus;
  /** The RRset; leave out (or empty) for NODATA. */
  records?: unknown[];
  /** This name is an alias: lookups of other types follow it. */
  cname?: string;
  rcode?: Rcode | null;
  ttl?: number | null;
  skipped?: number;
  why?: string;
}

export interface StaticResolverOptions {
  /** Status of names not in the data, answered NXDOMAIN. Default `secure`. */
  missing?: DnssecStatus;
  server?: string;
}

const RANK: Record<DnssecStatus, number> = { secure: 0, insecure: 1, bogus: 2, indeterminate: 3 };

/** Keys: `name/TYPE` (case-insensitive, final dot optional), and `name/CNAME` for aliases. */
export class StaticResolver implements Resolver {
  /** Every lookup made, `name/TYPE`, for assertions. */
  readonly calls: string[] = [];
  readonly servers: readonly string[];
  private readonly data = new Map<string, StaticEntry>();

  constructor(
    data: Record<string, StaticEntry>,
    private readonly o: StaticResolverOptions = {},
  ) {
    this.servers = [o.server ?? 'static'];
    for (const [k, v] of Object.entries(data)) {
      const slash = k.lastIndexOf('/');
      this.data.set(this.key(k.slice(0, slash), k.slice(slash + 1)), v);
    }
  }

  private key(name: string, type: string): string {
    return `${canonicalKey(name.replace(/\.$/, '') || '.')}/${type.toUpperCase()}`;
  }

  lookup<K extends RecordType>(
    name: string,
    type: K,
    _opts: LookupOptions = {},
  ): Promise<LookupResult<RecordTypes[K]>> {
    const qname = queryName(name);
    this.calls.push(`${qname}/${type}`);
    const chain: string[] = [];
    let current = qname;
    let status: DnssecStatus = 'secure';
    let entry = this.data.get(this.key(current, type));
    while (!entry && type !== 'CNAME') {
      const alias = this.data.get(this.key(current, 'CNAME'));
      if (!alias?.cname || chain.length > 16) break;
      if (RANK[alias.status ?? 'secure'] > RANK[status]) status = alias.status ?? 'secure';
      current = alias.cname.replace(/\.$/, '');
      chain.push(current);
      entry = this.data.get(this.key(current, type));
    }
    const own = entry?.status ?? (entry ? 'secure' : (this.o.missing ?? 'secure'));
    if (RANK[own] > RANK[status]) status = own;
    const records = (
      type === 'CNAME' && entry?.cname ? [entry.cname.replace(/\.$/, '')] : (entry?.records ?? [])
    ) as RecordTypes[K][];
    return Promise.resolve({
      name: qname,
      type,
      status,
      rcode: entry ? (entry.rcode === undefined ? 'NOERROR' : entry.rcode) : 'NXDOMAIN',
      records,
      cnameChain: chain,
      canonicalName: current,
      ttl: entry?.ttl ?? (records.length > 0 ? 300 : null),
      server: this.servers[0]!,
      authoritative: false,
      skipped: entry?.skipped ?? 0,
      ...(entry?.why ? { why: entry.why } : {}),
    });
  }
}
