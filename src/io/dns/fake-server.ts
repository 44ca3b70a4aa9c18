/**
 * A scriptable DNS server on 127.0.0.1 (UDP and TCP on the same port) for tests: a handler sees
 * each query and returns the bytes to send back, well-formed (built with `response()`) or
 * hostile (any Buffer, or raw TCP stream bytes). Not part of the public API; test files of other
 * modules may import it to exercise code that takes a Resolver end to end.
 */
import dgram from 'node:dgram';
import { after } from 'node:test';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { serverAddress, type ServerAddress } from './config.js';
import { TYPE_CODES } from './types.js';
import { decodeMessage } from './wire.js';

export interface FakeQuery {
  id: number;
  name: string;
  /** `A`, `TLSA`, `TXT`, … or `TYPE99` for others. */
  type: string;
  rd: boolean;
  cd: boolean;
  ad: boolean;
  dnssecOk: boolean;
  /** EDNS0 UDP size advertised, null without OPT. */
  udpSize: number | null;
  transport: 'udp' | 'tcp';
  /** Client source port, to check that it changes between queries. */
  port: number;
  raw: Buffer;
}

export type FakeReply =
  /** One DNS message; over TCP it gets its length prefix. */
  | Buffer
  /** TCP only: these exact bytes, no framing added; then close the connection if asked. */
  | { stream: Buffer; close?: boolean }
  /** Send `reply` after a delay. */
  | { delayMs: number; reply: FakeReply }
  /** TCP only: close without a word. */
  | 'close'
  /** Say nothing. */
  | null;

export type FakeHandler = (q: FakeQuery) => FakeReply | FakeReply[];

/**
 * The resolver's own types, and TXT (16): not a RecordType of io/dns, but prereq's DKIM lookups
 * ask for it and `response()` echoes the name into dns-packet, which cannot encode `TYPE16`.
 */
const TYPE_NAMES = new Map<number, string>([
  ...Object.entries(TYPE_CODES).map(([k, v]) => [v, k] as [number, string]),
  [16, 'TXT'],
]);

function parseQuery(raw: Buffer, transport: 'udp' | 'tcp', port: number): FakeQuery | null {
  try {
    const m = decodeMessage(raw);
    const q = m.questions[0];
    if (!q) return null;
    return {
      id: m.header.id,
      name: q.name,
      type: TYPE_NAMES.get(q.type) ?? `TYPE${q.type}`,
      rd: m.header.rd,
      cd: m.header.cd,
      ad: m.header.ad,
      dnssecOk: m.opt?.dnssecOk ?? false,
      udpSize: m.opt?.udpSize ?? null,
      transport,
      port,
      raw,
    };
  } catch {
    return null;
  }
}

export interface ResponseOptions {
  rcode?: number;
  ad?: boolean;
  aa?: boolean;
  tc?: boolean;
  /** Another ID than the query's (spoofing tests). */
  id?: number;
  /** Another question than the query's; null for none. */
  question?: { name: string; type: string } | null;
  answers?: dnsPacket.Answer[];
  authorities?: dnsPacket.Answer[];
  additionals?: dnsPacket.Answer[];
}

/** A well-formed response to `q`, built with dns-packet: QR=1, RA=1, RD and CD echoed, EDNS0. */
export function response(q: FakeQuery, o: ResponseOptions = {}): Buffer {
  const flags =
    (o.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    (o.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) |
    (q.rd ? dnsPacket.RECURSION_DESIRED : 0) |
    dnsPacket.RECURSION_AVAILABLE |
    (o.ad ? dnsPacket.AUTHENTIC_DATA : 0) |
    (q.cd ? dnsPacket.CHECKING_DISABLED : 0) |
    ((o.rcode ?? 0) & 0xf);
  const question = o.question === null ? [] : [o.question ?? { name: q.name, type: q.type }];
  return dnsPacket.encode({
    type: 'response',
    id: o.id ?? q.id,
    flags,
    questions: question.map((x) => ({
      name: x.name,
      type: x.type as dnsPacket.RecordType,
      class: 'IN' as const,
    })),
    answers: o.answers ?? [],
    authorities: o.authorities ?? [],
    additionals: [
      ...(o.additionals ?? []),
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: q.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
        flag_do: q.dnssecOk,
        options: [],
      },
    ],
  });
}

export class FakeDnsServer {
  readonly queries: FakeQuery[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    readonly port: number,
    private readonly handler: FakeHandler,
  ) {
    udp.on('message', (msg, rinfo) => {
      const q = parseQuery(msg, 'udp', rinfo.port);
      if (!q) return;
      this.queries.push(q);
      for (const r of [handler(q)].flat()) this.sendUdp(r, rinfo);
    });
    tcp.on('connection', (sock) => this.onConnection(sock));
  }

  /** UDP and TCP on one port: UDP picks a free port, TCP takes the same or we try again. */
  static async start(handler: FakeHandler): Promise<FakeDnsServer> {
    for (let i = 0; ; i++) {
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((ok) => udp.bind(0, '127.0.0.1', ok));
      const port = udp.address().port;
      const tcp = net.createServer();
      try {
        await new Promise<void>((ok, fail) => {
          tcp.once('error', fail);
          tcp.listen(port, '127.0.0.1', ok);
        });
        return new FakeDnsServer(udp, tcp, port, handler);
      } catch (e) {
        udp.close();
        if (i >= 20) throw e;
      }
    }
  }

  get server(): ServerAddress {
    return serverAddress('127.0.0.1', this.port);
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
  }

  private sendUdp(r: FakeReply, to: dgram.RemoteInfo): void {
    if (r === null || r === 'close') return;
    if (Buffer.isBuffer(r)) this.udp.send(r, to.port, to.address);
    else if ('delayMs' in r) this.later(r.delayMs, () => this.sendUdp(r.reply, to));
    else this.udp.send(r.stream, to.port, to.address);
  }

  private sendTcp(r: FakeReply, sock: net.Socket): void {
    if (r === null || sock.destroyed) return;
    if (r === 'close') sock.destroy();
    else if (Buffer.isBuffer(r)) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(r.length);
      sock.write(Buffer.concat([len, r]));
    } else if ('delayMs' in r) this.later(r.delayMs, () => this.sendTcp(r.reply, sock));
    else {
      sock.write(r.stream);
      if (r.close) sock.end();
    }
  }

  private onConnection(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const raw = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + raw.length);
        const q = parseQuery(Buffer.from(raw), 'tcp', sock.remotePort ?? 0);
        if (!q) continue;
        this.queries.push(q);
        for (const r of [this.handler(q)].flat()) this.sendTcp(r, sock);
      }
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await Promise.all([
      new Promise<void>((ok) => this.udp.close(() => ok())),
      new Promise<void>((ok) => this.tcp.close(() => ok())),
    ]);
  }
}

/**
 * For a test file: a starter for fake servers that are all closed when the file's tests end.
 * Call at module level (it registers an `after` hook).
 */
export function fakeServerPool(): (handler: FakeHandler) => Promise<FakeDnsServer> {
  const servers: FakeDnsServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  return async (handler) => {
    const s = await FakeDnsServer.start(handler);
    servers.push(s);
    return s;
  };
}
