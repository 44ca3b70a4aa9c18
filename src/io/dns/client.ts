/**
 * The DNS client: one question, several servers in turn, a few tries each, UDP first with TCP
 * when the answer is truncated. Returns the raw decoded answer with who gave it; judging it
 * (DNSSEC status, records) is resolver.ts's job. Only DkError ever comes out.
 */
import { DkError } from '../../core/errors.js';
import type { ServerAddress } from './config.js';
import { queryName } from './name.js';
import { encodeQuery, randomId } from './query.js';
import { E_DNS_PIPELINE, type TcpPipeline } from './pipeline.js';
import { tcpExchange, udpExchange, type ExchangeOptions, type Expectation } from './transport.js';
import { TYPE_CODES, rcodeName, type RecordType } from './types.js';
import type { WireMessage } from './wire.js';

export interface ClientOptions {
  servers: readonly ServerAddress[];
  /** Per try, covering the send and the wait (and the TCP connect). Default 3000 ms. */
  timeoutMs?: number;
  /** Tries per server before moving on to the next. Default 2. */
  tries?: number;
  /** EDNS0 UDP payload size we advertise (RFC 6891 §6.2.5). Default 1232. */
  udpSize?: number;
  /** Largest answer accepted, UDP or TCP. Default 65535 (the TCP length field's maximum). */
  maxResponseBytes?: number;
  /** Always use TCP (RFC 7766 §5 allows a client to start with TCP). */
  tcpOnly?: boolean;
  /**
   * Send queries over these shared, pipelined TCP connections first (pipeline.ts, for bulk
   * runs); a query whose connection fails is asked again the normal way.
   */
  pipeline?: TcpPipeline;
}

export interface QueryOptions {
  rd?: boolean;
  cd?: boolean;
  tcp?: boolean;
  /** Ask only these servers (e.g. repeat a question with CD=1 to the server that failed it). */
  servers?: readonly ServerAddress[];
  signal?: AbortSignal;
}

export interface DnsAnswer {
  message: WireMessage;
  server: ServerAddress;
  transport: 'udp' | 'tcp';
  /** The name as asked, normalised: presentation form without the final dot. */
  name: string;
  type: RecordType;
}

export const CLIENT_DEFAULTS = {
  timeoutMs: 3000,
  tries: 2,
  udpSize: 1232,
  maxResponseBytes: 65535,
} as const;

/** RCODEs that say "not this server" rather than anything about the name (RFC 1035 §4.1.1):
 * the next server may do better. SERVFAIL is not among them: see query(). */
const TRY_NEXT = new Set(['FORMERR', 'NOTIMP', 'REFUSED']);

export class DnsClient {
  readonly servers: readonly ServerAddress[];
  private readonly o: Required<Omit<ClientOptions, 'servers' | 'pipeline'>>;
  private readonly pipeline: TcpPipeline | undefined;

  constructor(opts: ClientOptions) {
    if (opts.servers.length === 0) {
      throw new DkError(
        'usage',
        'E_DNS_NO_RESOLVER',
        'No resolver to ask: the server list is empty',
      );
    }
    this.servers = [...opts.servers];
    this.o = {
      timeoutMs: opts.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs,
      tries: Math.max(1, opts.tries ?? CLIENT_DEFAULTS.tries),
      udpSize: opts.udpSize ?? CLIENT_DEFAULTS.udpSize,
      maxResponseBytes: opts.maxResponseBytes ?? CLIENT_DEFAULTS.maxResponseBytes,
      tcpOnly: opts.tcpOnly ?? false,
    };
    this.pipeline = opts.pipeline;
  }

  /** The same settings with other servers. */
  withServers(servers: readonly ServerAddress[]): DnsClient {
    return new DnsClient({
      ...this.o,
      servers,
      ...(this.pipeline ? { pipeline: this.pipeline } : {}),
    });
  }

  /** The same settings and servers, queries sent over `pipeline` first. */
  withPipeline(pipeline: TcpPipeline): DnsClient {
    return new DnsClient({ ...this.o, servers: this.servers, pipeline });
  }

  /**
   * Asks each server in turn until one answers. A server that times out, is unreachable or sends
   * only malformed or mismatched answers is given up for the next one. An answer with any RCODE
   * is returned as it is, except FORMERR, NOTIMP and REFUSED, which make us try the next server
   * first. SERVFAIL is final on purpose: from a validating resolver it usually means "bogus", and
   * asking another server that might not validate would turn a refusal into an insecure answer.
   */
  async query(name: string, type: RecordType, opts: QueryOptions = {}): Promise<DnsAnswer> {
    const qname = queryName(name);
    const servers = opts.servers ?? this.servers;
    if (servers.length === 0) {
      throw new DkError(
        'usage',
        'E_DNS_NO_RESOLVER',
        'No resolver to ask: the server list is empty',
      );
    }
    const failures: DkError[] = [];
    let fallback: DnsAnswer | undefined;
    for (const server of servers) {
      let last: DkError | undefined;
      for (let attempt = 0; attempt < this.o.tries; attempt++) {
        try {
          const answer = await this.once(server, qname, type, opts);
          if (TRY_NEXT.has(rcodeName(answer.message.rcode))) {
            fallback ??= answer;
            break;
          }
          return answer;
        } catch (e) {
          const err = asDkError(e);
          if (err.code === 'E_DNS_ABORTED') throw err;
          last = err;
          // Only a timeout is worth repeating: a refused connection or a broken answer will be
          // refused or broken again.
          if (err.code !== 'E_DNS_TIMEOUT') break;
        }
      }
      if (last) failures.push(last);
    }
    if (fallback) return fallback;
    throw combine(qname, type, failures);
  }

  private async once(
    server: ServerAddress,
    name: string,
    type: RecordType,
    opts: QueryOptions,
  ): Promise<DnsAnswer> {
    const ex: ExchangeOptions = {
      timeoutMs: this.o.timeoutMs,
      maxResponseBytes: this.o.maxResponseBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    const ask = (): { query: Buffer; expect: Expectation } => {
      const id = randomId();
      const query = encodeQuery({
        id,
        name,
        type,
        rd: opts.rd ?? true,
        cd: opts.cd ?? false,
        udpSize: this.o.udpSize,
      });
      return { query, expect: { id, name, type: TYPE_CODES[type], what: `${name}/${type}` } };
    };
    const result = (message: WireMessage, transport: 'udp' | 'tcp'): DnsAnswer => ({
      message,
      server,
      transport,
      name,
      type,
    });
    if (this.pipeline) {
      const a = ask();
      try {
        return result(await this.pipeline.exchange(server, a.query, a.expect, ex), 'tcp');
      } catch (e) {
        // the connection failed, not the query: ask again the normal way, with a new ID
        if (!(e instanceof DkError && e.code === E_DNS_PIPELINE)) throw e;
      }
    }
    if (!(opts.tcp || this.o.tcpOnly)) {
      const a = ask();
      const r = await udpExchange(server, a.query, a.expect, ex);
      if (!r.truncated) return result(r.message, 'udp');
    }
    // RFC 7766 §5: TC=1 means ask again over TCP; a new query, so a new ID (RFC 5452 §4).
    const a = ask();
    return result(await tcpExchange(server, a.query, a.expect, ex), 'tcp');
  }
}

function asDkError(e: unknown): DkError {
  if (e instanceof DkError) return e;
  return new DkError('internal', 'E_DNS_INTERNAL', `DNS query failed: ${String(e)}`, { cause: e });
}

/** One server: its own error. Several: one line naming each, protocol errors ranking first. */
function combine(name: string, type: string, failures: DkError[]): DkError {
  if (failures.length === 1) return failures[0]!;
  const worst = failures.find((f) => f.kind === 'protocol') ?? failures[0]!;
  return new DkError(
    worst.kind,
    worst.code,
    `No usable answer for ${name}/${type} from ${failures.length} servers: ` +
      failures.map((f) => f.message).join('; '),
    { cause: failures },
  );
}
