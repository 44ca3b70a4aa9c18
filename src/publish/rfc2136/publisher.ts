/**
 * The rfc2136 backend: reads the TLSA RRset from the primary with a plain query (RD=0, over TCP,
 * answer must be authoritative) and applies each change as ONE dynamic UPDATE message (RFC 2136)
 * whose prerequisite is the caller's guard, signed with TSIG (RFC 8945) when a key is given.
 */
import { randomInt } from 'node:crypto';
import { DkError, type ErrorKind } from '../../core/errors.js';
import { formatRdata } from '../../core/tlsa/format.js';
import type { TlsaRecord } from '../../core/tlsa/record.js';
import { decodeTlsaRdata, encodeTlsaRdata } from '../../core/tlsa/wire.js';
import { decodeMessage, type WireMessage } from '../../io/dns/wire.js';
import type { Publisher, TlsaChange, TlsaRrset, TxtChange, TxtRrset } from '../types.js';
import { decodeTxtRdata, encodeTxtRdata } from '../txt-rdata.js';
import { transferTlsa } from './axfr.js';
import { ExchangeError, tcpMessage } from './exchange.js';
import type { TsigKey } from './keyfile.js';
import {
  CLASS_ANY,
  CLASS_IN,
  CLASS_NONE,
  encodeMessage,
  OPCODE_QUERY,
  OPCODE_UPDATE,
  rcodeName,
  TYPE_CNAME,
  TYPE_SOA,
  TYPE_TLSA,
  TYPE_TXT,
  type MessageSpec,
  type Rr,
} from './message.js';
import {
  serverTime,
  TSIG_BADKEY,
  TSIG_BADSIG,
  TSIG_BADTIME,
  tsigSign,
  tsigVerify,
  type TsigVerdict,
} from './tsig.js';

export interface Rfc2136Options {
  /** the zone to update (`example.org.`) */
  zone: string;
  /** the primary: it applies updates and answers authoritatively */
  server: { host: string; port: number };
  /** null: unsigned updates (a server that allows updates by address) */
  key: TsigKey | null;
  /** per message, connect to answer; default 10 s */
  timeoutMs?: number;
  /** seconds since the epoch, for TSIG; tests set it */
  now?: () => number;
}

const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;

/** `a.b.` lower case with the trailing dot (types.ts: the form owners and zones come in). */
function absolute(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

function inZone(owner: string, zone: string): boolean {
  return zone === '.' || owner === zone || owner.endsWith(`.${zone}`);
}

function serverLabel(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The UPDATE for one guarded change (RFC 2136 §2-3), exported for the unit tests.
 *
 * Prerequisite (§2.4): the guard. `expected` non-empty: §2.4.2 "RRset exists (value dependent)",
 * every expected RR with TTL 0 — §3.2.3 compares the whole RRset, so the set must be exactly
 * that. Empty: §2.4.3 "RRset does not exist" (class NONE, no RDATA).
 *
 * Update (§2.5, applied in order, §3.4.2): delete each removed RR (§2.5.4, class NONE), add each
 * new RR (§2.5.1) with the change's TTL. Every RR that stays is deleted and re-added with that
 * TTL too: RFC 2181 §5.2 wants one TTL per RRset, and servers differ on re-adding an existing RR
 * with another TTL (BIND changes the RRset's TTL, Knot 3.2 ignores the add). Delete-then-add
 * in one message is a no-op on both when the TTL is unchanged (no new serial), and moves the
 * whole RRset to the new TTL when it is not.
 */
export function buildUpdate(zone: string, change: TlsaChange, id: number): MessageSpec {
  const enc = (rs: TlsaRecord[]) => rs.map(encodeTlsaRdata);
  return buildRrsetUpdate(
    zone,
    change.owner,
    TYPE_TLSA,
    {
      expected: enc(change.expected),
      add: enc(change.add),
      remove: enc(change.remove),
      ttl: change.ttl,
    },
    id,
  );
}

function dedupeWire(rs: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const r of rs) if (!out.some((x) => x.equals(r))) out.push(r);
  return out;
}

/**
 * buildUpdate's guarded UPDATE for an RRset of any type, RDATA in wire form (RFC 2136 §2.4,
 * §2.5 as above; RDATA equality is byte equality, RFC 2136 §3.2.3 compares RRs that way).
 */
export function buildRrsetUpdate(
  zone: string,
  owner: string,
  type: number,
  change: { expected: Buffer[]; add: Buffer[]; remove: Buffer[]; ttl: number },
  id: number,
): MessageSpec {
  const hasW = (rs: Buffer[], r: Buffer) => rs.some((x) => x.equals(r));
  const expected = dedupeWire(change.expected);
  const add = dedupeWire(change.add);
  const remove = dedupeWire(change.remove).filter((r) => !hasW(add, r));
  const rr = (rdata: Buffer, klass: number, ttl: number): Rr => ({
    name: owner,
    type,
    class: klass,
    ttl,
    rdata,
  });
  const prereq: Rr[] =
    expected.length > 0
      ? expected.map((r) => rr(r, CLASS_IN, 0))
      : [{ name: owner, type, class: CLASS_NONE, ttl: 0, rdata: Buffer.alloc(0) }];
  const result = [
    ...expected.filter((r) => !hasW(remove, r)),
    ...add.filter((r) => !hasW(expected, r)),
  ];
  const update: Rr[] = remove.map((r) => rr(r, CLASS_NONE, 0));
  for (const r of result) {
    if (hasW(expected, r)) update.push(rr(r, CLASS_NONE, 0));
    update.push(rr(r, CLASS_IN, change.ttl));
  }
  return {
    id,
    opcode: OPCODE_UPDATE,
    question: { name: zone, type: TYPE_SOA, class: CLASS_IN },
    an: prereq,
    ns: update,
  };
}

const CLASS_TEXT: Readonly<Record<number, string>> = {
  [CLASS_IN]: 'IN',
  [CLASS_NONE]: 'NONE',
  [CLASS_ANY]: 'ANY',
};

/** One RR as nsupdate's `show` prints it: owner, TTL, class, type, RDATA. */
function showRr(r: Rr): string {
  const cls = CLASS_TEXT[r.class] ?? `CLASS${r.class}`;
  const type =
    r.type === TYPE_TLSA
      ? 'TLSA'
      : r.type === TYPE_TXT
        ? 'TXT'
        : r.type === TYPE_SOA
          ? 'SOA'
          : `TYPE${r.type}`;
  const data =
    r.rdata.length === 0
      ? ''
      : r.type === TYPE_TXT
        ? `\t${JSON.stringify(decodeTxtRdata(r.rdata))}`
        : `\t${formatRdata(decodeTlsaRdata(r.rdata))}`;
  return `${r.name}\t${r.ttl}\t${cls}\t${type}${data}`;
}

/**
 * The UPDATE for `change`, as nsupdate's `show` lays it out: header, zone, prerequisite and
 * update sections. Built from the same buildUpdate that apply sends, so it cannot drift; the
 * TSIG key appears by name and algorithm only (RFC 8945 §4: the secret never leaves).
 */
export function showUpdate(
  zone: string,
  change: TlsaChange,
  server: string,
  key: { name: string; algorithm: string } | null,
): string[] {
  return showSpec(buildUpdate(zone, change, 0), server, key);
}

function showSpec(
  spec: MessageSpec,
  server: string,
  key: { name: string; algorithm: string } | null,
): string[] {
  return [
    `; UPDATE to ${server}, ${key ? `signed with TSIG key "${key.name}" (${key.algorithm})` : 'unsigned (no TSIG key)'}`,
    `;; ->>HEADER<<- opcode: UPDATE, ZONE: 1, PREREQ: ${spec.an?.length ?? 0}, UPDATE: ${spec.ns?.length ?? 0}`,
    ';; ZONE SECTION:',
    `;${spec.question.name}\t\tIN\tSOA`,
    ';; PREREQUISITE SECTION:',
    ...(spec.an ?? []).map(showRr),
    ';; UPDATE SECTION:',
    ...(spec.ns ?? []).map(showRr),
  ];
}

class Rfc2136Publisher implements Publisher {
  readonly backend = 'rfc2136' as const;
  readonly zone: string;
  readonly describe: string;
  private readonly label: string;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly o: Rfc2136Options) {
    this.zone = absolute(o.zone);
    this.label = serverLabel(o.server.host, o.server.port);
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.now = o.now ?? (() => Date.now() / 1000);
    this.describe = `rfc2136 at ${this.label}${o.key ? ` (TSIG key "${o.key.name}")` : ''}`;
  }

  private err(kind: ErrorKind, code: string, message: string): DkError {
    return new DkError(kind, code, message);
  }

  private keyText(): string {
    return this.o.key ? `TSIG key "${this.o.key.name}"` : 'no TSIG key (unsigned)';
  }

  /** Sends one message (signed when we have a key) and returns the decoded, checked answer. */
  private async exchange(
    spec: MessageSpec,
    ctx: string,
  ): Promise<{ msg: WireMessage; tsig: TsigVerdict | null }> {
    const plain = encodeMessage(spec);
    const key = this.o.key;
    const signed = key ? tsigSign(plain, key, { now: this.now() }) : null;
    let raw: Buffer;
    try {
      raw = await tcpMessage(
        this.o.server.host,
        this.o.server.port,
        signed ? signed.wire : plain,
        this.timeoutMs,
      );
    } catch (e) {
      if (e instanceof ExchangeError) {
        throw e.kind === 'unreachable'
          ? this.err('unavailable', 'E_PUBLISH_UNREACHABLE', `${ctx} failed: ${e.why}`)
          : this.err('protocol', 'E_PUBLISH_PROTOCOL', `${ctx} failed: ${e.why}`);
      }
      throw e;
    }
    let msg: WireMessage;
    try {
      msg = decodeMessage(raw);
    } catch (e) {
      throw this.err(
        'protocol',
        'E_PUBLISH_PROTOCOL',
        `${ctx} failed: the answer is malformed (${(e as Error).message})`,
      );
    }
    const h = msg.header;
    const why =
      h.id !== spec.id
        ? `has ID ${h.id}, not ${spec.id}`
        : !h.qr
          ? 'is not a response'
          : h.opcode !== spec.opcode
            ? `has opcode ${h.opcode}, not ${spec.opcode}`
            : msg.questions.length > 1
              ? `has ${msg.questions.length} questions`
              : msg.questions.length === 1 &&
                  (absolute(msg.questions[0]!.name) !== absolute(spec.question.name) ||
                    msg.questions[0]!.type !== spec.question.type ||
                    msg.questions[0]!.class !== spec.question.class)
                ? 'is for another question'
                : // RFC 1035 §4.1.1: only FORMERR/NOTIMP/REFUSED-type errors may drop the question
                  msg.questions.length === 0 && msg.rcode === 0
                  ? 'has no question'
                  : null;
    if (why) throw this.err('protocol', 'E_PUBLISH_PROTOCOL', `${ctx} failed: the answer ${why}`);
    const tsig =
      key && signed ? tsigVerify(raw, key, { now: this.now(), requestMac: signed.mac }) : null;
    return { msg, tsig };
  }

  /**
   * RFC 8945 §5.3.2/§5.4: TSIG errors, and a success we may only accept when the answer is
   * signed with our key over our request's MAC. Unsigned error answers are not trusted, but they
   * are failures either way, so they are reported for what they say.
   */
  private checkTsig(msg: WireMessage, tsig: TsigVerdict | null, ctx: string): void {
    if (!tsig || !this.o.key) return;
    const k = `"${this.o.key.name}"`;
    const fields = tsig.kind === 'verified' || tsig.kind === 'unsigned-error' ? tsig.fields : null;
    if (fields && fields.error !== 0) {
      const e = fields.error;
      if (e === TSIG_BADKEY)
        throw this.err(
          'noperm',
          'E_PUBLISH_AUTH',
          `${ctx} refused: TSIG key ${k} is not known to the server, or not allowed there (BADKEY)`,
        );
      if (e === TSIG_BADSIG)
        throw this.err(
          'noperm',
          'E_PUBLISH_AUTH',
          `${ctx} refused: the server does not accept the signature of TSIG key ${k}; its secret or algorithm differs there (BADSIG)`,
        );
      if (e === TSIG_BADTIME) {
        const t = serverTime(fields);
        const skew = t === null ? null : Math.round(t - this.now());
        throw this.err(
          'noperm',
          'E_PUBLISH_AUTH',
          `${ctx} refused: ` +
            (skew === null
              ? "our clock and the server's differ by more than the TSIG fudge (BADTIME)"
              : `the server's clock is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} ours, more than the ${fields.fudge} s TSIG allows (BADTIME)`),
        );
      }
      throw this.err(
        'noperm',
        'E_PUBLISH_AUTH',
        `${ctx} refused: TSIG error ${rcodeName(e)} with key ${k}`,
      );
    }
    if (tsig.kind === 'verified') return;
    if (tsig.kind === 'bad')
      throw this.err(
        'protocol',
        'E_PUBLISH_PROTOCOL',
        `${ctx} failed: the answer is not trusted: ${tsig.why}`,
      );
    // 'none' (or an unsigned TSIG RR without an error): only a failure may be believed
    if (msg.rcode === RCODE.NOERROR)
      throw this.err(
        'protocol',
        'E_PUBLISH_PROTOCOL',
        `${ctx} failed: the answer is not signed with TSIG key ${k}, so it is not trusted`,
      );
  }

  private checkOwner(owner: string): string {
    const o = absolute(owner);
    if (!inZone(o, this.zone))
      throw this.err('usage', 'E_PUBLISH_OWNER', `${o} is not in zone ${this.zone}`);
    return o;
  }

  /** A query to the primary (RD=0) that must be answered authoritatively. */
  private async query(name: string, type: number, ctx: string): Promise<WireMessage> {
    const { msg, tsig } = await this.exchange(
      {
        id: randomInt(0, 65536),
        opcode: OPCODE_QUERY,
        rd: false,
        question: { name, type, class: CLASS_IN },
      },
      ctx,
    );
    this.checkTsig(msg, tsig, ctx);
    const rc = msg.rcode;
    if (rc === RCODE.REFUSED || rc === RCODE.NOTAUTH)
      throw this.err(
        'config',
        'E_PUBLISH_NOTAUTH',
        `${ctx} failed: the server does not answer for zone ${this.zone} (${rcodeName(rc)}); is it the zone's primary?`,
      );
    if (rc !== RCODE.NOERROR && rc !== RCODE.NXDOMAIN)
      throw this.err(
        'protocol',
        'E_PUBLISH_REJECTED',
        `${ctx} failed: the server answered ${rcodeName(rc)}`,
      );
    // RFC 1035 §4.1.1: AA says the server holds the zone; without it this is a referral or cache
    if (!msg.header.aa)
      throw this.err(
        'config',
        'E_PUBLISH_NOTAUTH',
        `${ctx} failed: the server is not authoritative for ${absolute(name)} (no AA bit); is it the primary of zone ${this.zone}?`,
      );
    return msg;
  }

  async read(owner: string): Promise<TlsaRrset> {
    const o = this.checkOwner(owner);
    const ctx = `Reading the TLSA RRset at ${o} from ${this.label}`;
    const msg = await this.query(o, TYPE_TLSA, ctx);
    const at = msg.answers.filter((r) => absolute(r.name) === o && r.class === CLASS_IN);
    if (at.some((r) => r.type === TYPE_CNAME))
      throw this.err(
        'protocol',
        'E_PUBLISH_REJECTED',
        `${ctx} failed: ${o} is an alias (CNAME), where no TLSA record can be added`,
      );
    const rs = at.filter((r) => r.type === TYPE_TLSA);
    const records: TlsaRecord[] = [];
    for (const r of rs) {
      try {
        records.push(decodeTlsaRdata(r.rdata));
      } catch (e) {
        throw this.err('protocol', 'E_PUBLISH_PROTOCOL', `${ctx} failed: ${(e as Error).message}`);
      }
    }
    return { owner: o, ttl: rs.length > 0 ? Math.min(...rs.map((r) => r.ttl)) : null, records };
  }

  async defaultTtl(): Promise<number> {
    const ctx = `Reading the SOA of ${this.zone} from ${this.label}`;
    const msg = await this.query(this.zone, TYPE_SOA, ctx);
    const soa = msg.answers.find((r) => r.type === TYPE_SOA && absolute(r.name) === this.zone);
    if (!soa)
      throw this.err(
        'config',
        'E_PUBLISH_NOTAUTH',
        `${ctx} failed: ${this.zone} has no SOA record there; it is not a zone apex`,
      );
    return soa.ttl;
  }

  /** Every TLSA RRset of the zone by zone transfer (axfr.ts); E_XFR_REFUSED when not allowed. */
  async listAll(): Promise<TlsaRrset[]> {
    return transferTlsa({
      zone: this.zone,
      server: this.o.server,
      key: this.o.key,
      idleTimeoutMs: this.timeoutMs,
      now: this.now,
    });
  }

  async describeChange(change: TlsaChange): Promise<string[]> {
    const owner = this.checkOwner(change.owner);
    const k = this.o.key;
    const key = k ? { name: k.name, algorithm: k.algorithm } : null;
    return showUpdate(this.zone, { ...change, owner }, this.label, key);
  }

  async apply(change: TlsaChange): Promise<void> {
    const owner = this.checkOwner(change.owner);
    if (!Number.isInteger(change.ttl) || change.ttl < 0 || change.ttl > 0x7fffffff)
      throw this.err(
        'usage',
        'E_PUBLISH_TTL',
        `TTL ${change.ttl} is not a number from 0 to 2147483647`,
      );
    await this.sendUpdate(
      buildUpdate(this.zone, { ...change, owner }, randomInt(0, 65536)),
      owner,
      'TLSA',
    );
  }

  async readTxt(owner: string): Promise<TxtRrset> {
    const o = this.checkOwner(owner);
    const ctx = `Reading the TXT RRset at ${o} from ${this.label}`;
    const msg = await this.query(o, TYPE_TXT, ctx);
    const rs = msg.answers.filter(
      (r) => absolute(r.name) === o && r.class === CLASS_IN && r.type === TYPE_TXT,
    );
    const values: string[] = [];
    for (const r of rs) {
      try {
        values.push(decodeTxtRdata(r.rdata));
      } catch (e) {
        throw this.err('protocol', 'E_PUBLISH_PROTOCOL', `${ctx} failed: ${(e as Error).message}`);
      }
    }
    return { owner: o, ttl: rs.length > 0 ? Math.min(...rs.map((r) => r.ttl)) : null, values };
  }

  private txtSpec(change: TxtChange, owner: string, id: number): MessageSpec {
    const enc = (vs: string[]) => vs.map(encodeTxtRdata);
    return buildRrsetUpdate(
      this.zone,
      owner,
      TYPE_TXT,
      {
        expected: enc(change.expected),
        add: enc(change.add),
        remove: enc(change.remove),
        ttl: change.ttl,
      },
      id,
    );
  }

  async describeTxtChange(change: TxtChange): Promise<string[]> {
    const owner = this.checkOwner(change.owner);
    const k = this.o.key;
    return showSpec(
      this.txtSpec(change, owner, 0),
      this.label,
      k ? { name: k.name, algorithm: k.algorithm } : null,
    );
  }

  async applyTxt(change: TxtChange): Promise<void> {
    const owner = this.checkOwner(change.owner);
    if (!Number.isInteger(change.ttl) || change.ttl < 0 || change.ttl > 0x7fffffff)
      throw this.err(
        'usage',
        'E_PUBLISH_TTL',
        `TTL ${change.ttl} is not a number from 0 to 2147483647`,
      );
    await this.sendUpdate(this.txtSpec(change, owner, randomInt(0, 65536)), owner, 'TXT');
  }

  /** Sends one UPDATE and maps its RCODE (RFC 2136 §2.2) to the Publisher's error codes. */
  private async sendUpdate(
    spec: MessageSpec,
    owner: string,
    typeName: 'TLSA' | 'TXT',
  ): Promise<void> {
    const ctx = `Update of ${owner} at ${this.label}`;
    const { msg, tsig } = await this.exchange(spec, ctx);
    this.checkTsig(msg, tsig, ctx);
    const rc = msg.rcode;
    const name = rcodeName(rc);
    switch (rc) {
      case RCODE.NOERROR:
        return;
      case RCODE.NXRRSET:
        throw this.err(
          'tempfail',
          'E_PUBLISH_CONFLICT',
          `${ctx} not applied: the ${typeName} RRset there is no longer the one it was read as (${name}); read it again`,
        );
      case RCODE.YXRRSET:
        throw this.err(
          'tempfail',
          'E_PUBLISH_CONFLICT',
          `${ctx} not applied: a ${typeName} RRset exists there where none was expected (${name}); read it again`,
        );
      case RCODE.NOTAUTH:
        throw this.err(
          'config',
          'E_PUBLISH_NOTAUTH',
          `${ctx} failed: the server is not authoritative for zone ${this.zone} (NOTAUTH)`,
        );
      case RCODE.REFUSED:
        throw this.err(
          'noperm',
          'E_PUBLISH_REFUSED',
          `${ctx} refused: the server does not allow this update with ${this.keyText()} (REFUSED)`,
        );
      case RCODE.FORMERR:
        throw this.err(
          'protocol',
          'E_PUBLISH_REJECTED',
          `${ctx} rejected: the server could not parse it (FORMERR)`,
        );
      case RCODE.NOTIMP:
        throw this.err(
          'protocol',
          'E_PUBLISH_REJECTED',
          `${ctx} rejected: the server does not implement dynamic update (NOTIMP)`,
        );
      case RCODE.NOTZONE:
        throw this.err(
          'protocol',
          'E_PUBLISH_REJECTED',
          `${ctx} rejected: the server says ${owner} is outside zone ${this.zone} (NOTZONE)`,
        );
      default:
        throw this.err(
          'protocol',
          'E_PUBLISH_REJECTED',
          `${ctx} rejected: the server answered ${name}`,
        );
    }
  }
}

export function createRfc2136Publisher(opts: Rfc2136Options): Publisher {
  return new Rfc2136Publisher(opts);
}
