/**
 * The plaintext dialogues that end in "start TLS now", one per protocol. Each reads through a
 * Wire (line length, byte and time limits) and throws a DkError when the server refuses or
 * breaks the protocol. None of them trusts anything the server says beyond "go ahead": RFC
 * 3207 §4.2 and its siblings tell the client to forget what it learnt before TLS anyway.
 */
import { isIP } from 'node:net';
import { DkError } from '../../core/errors.js';
import type { StarttlsProto } from './types.js';
import { Wire } from './wire.js';

export interface DialogueContext {
  /** EHLO/LHLO argument. */
  ehloName: string;
  /** XMPP stream `to` (the service domain). */
  xmppDomain: string;
}

/** Runs the STARTTLS dialogue for `proto`; on return the next byte is the TLS handshake. */
export async function negotiateStarttls(
  proto: StarttlsProto,
  w: Wire,
  ctx: DialogueContext,
): Promise<void> {
  switch (proto) {
    case 'none':
      return;
    case 'smtp':
      return smtp(w, 'EHLO', ctx.ehloName);
    case 'lmtp':
      return smtp(w, 'LHLO', ctx.ehloName);
    case 'imap':
      return imap(w);
    case 'pop3':
      return pop3(w);
    case 'ftp':
      return ftp(w);
    case 'xmpp':
      return xmpp(w, 'jabber:client', ctx.xmppDomain);
    case 'xmpp-server':
      return xmpp(w, 'jabber:server', ctx.xmppDomain);
    case 'ldap':
      return ldap(w);
    case 'sieve':
      return sieve(w);
    case 'nntp':
      return nntp(w);
    case 'postgres':
      return postgres(w);
  }
}

/** What to send over TLS to end the session politely, if the protocol has such a command. */
export function quitCommand(proto: StarttlsProto): { data: Buffer; shown: string } | undefined {
  switch (proto) {
    case 'smtp': // RFC 5321 §4.1.1.10
    case 'lmtp':
    case 'pop3': // RFC 1939 §6
    case 'ftp': // RFC 959 §4.1.1
    case 'nntp': // RFC 3977 §5.4
      return { data: Buffer.from('QUIT\r\n'), shown: 'QUIT' };
    case 'imap': // RFC 3501 §6.1.3
      return { data: Buffer.from('a002 LOGOUT\r\n'), shown: 'a002 LOGOUT' };
    case 'sieve': // RFC 5804 §2.3
      return { data: Buffer.from('LOGOUT\r\n'), shown: 'LOGOUT' };
    case 'ldap': // RFC 4511 §4.3: UnbindRequest, messageID 2
      return { data: LDAP_UNBIND, shown: '<LDAP UnbindRequest>' };
    default:
      // XMPP: after TLS the old stream is gone (RFC 6120 §5.4.3.3) and a bare
      // </stream:stream> would not be well-formed. Postgres: there is no startup yet.
      return undefined;
  }
}

function protocolError(code: string, message: string): DkError {
  return new DkError('protocol', code, message);
}

// ---------------------------------------------------------------- SMTP / LMTP / FTP replies

interface Reply {
  code: number;
  lines: string[];
}

/** `454 4.7.0 TLS not available` (continuation lines joined with a space). */
function replyText(r: Reply): string {
  return Wire.show(r.lines.map((l, i) => (i === 0 ? l : l.slice(4))).join(' '));
}

/**
 * RFC 5321 §4.2 / §4.2.1: `ddd-text` continues, `ddd text` (or a bare `ddd`) ends; every line
 * of one reply carries the same code.
 */
async function readSmtpReply(w: Wire): Promise<Reply> {
  const lines: string[] = [];
  let code: number | undefined;
  for (;;) {
    const line = await w.readLine();
    const m = /^([2-5]\d\d)([ -]|$)/.exec(line);
    if (!m || (code !== undefined && Number(m[1]) !== code))
      throw protocolError('probe-reply', `${w.label} sent a malformed reply: "${Wire.show(line)}"`);
    code = Number(m[1]);
    lines.push(line);
    if (m[2] !== '-') return { code, lines };
  }
}

/**
 * RFC 959 §4.2: a multi-line FTP reply starts `ddd-` and ends at the first line that starts
 * `ddd ` with the same code; lines in between may say anything.
 */
async function readFtpReply(w: Wire): Promise<Reply> {
  const first = await w.readLine();
  const m = /^([1-5]\d\d)([ -]|$)/.exec(first);
  if (!m)
    throw protocolError('probe-reply', `${w.label} sent a malformed reply: "${Wire.show(first)}"`);
  const code = Number(m[1]);
  const lines = [first];
  if (m[2] === '-') {
    for (;;) {
      const line = await w.readLine();
      lines.push(line);
      if (line === m[1] || line.startsWith(`${m[1]} `)) break;
    }
  }
  return { code, lines: [first, ...(lines.length > 1 ? [lines[lines.length - 1]!] : [])] };
}

async function smtp(w: Wire, hello: 'EHLO' | 'LHLO', name: string): Promise<void> {
  // RFC 5321 §3.1 / §4.3.1: the greeting is 220; 554 means "no service here".
  const greeting = await w.step('greeting', () => readSmtpReply(w));
  if (greeting.code !== 220)
    throw protocolError('probe-greeting', `${w.label} greeted with ${replyText(greeting)}`);
  // RFC 5321 §4.1.1.1 (EHLO); RFC 2033 §4.1 (LMTP says LHLO instead).
  w.write(`${hello} ${name}\r\n`);
  const ehlo = await w.step(`reply to ${hello}`, () => readSmtpReply(w));
  if (ehlo.code !== 250)
    throw protocolError('probe-reply', `${w.label} rejected ${hello}: ${replyText(ehlo)}`);
  // RFC 3207 §4: the STARTTLS keyword in the EHLO reply; the first line is the greeting
  // name, extension keywords follow (RFC 5321 §4.1.1.1).
  if (!ehlo.lines.slice(1).some((l) => /^starttls$/i.test(l.slice(4).trim())))
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} does not offer STARTTLS (not in its ${hello} reply)`,
    );
  w.write('STARTTLS\r\n');
  // RFC 3207 §4: 220 Ready to start TLS; 454 TLS not available due to temporary reason;
  // 501 syntax error.
  const go = await w.step('reply to STARTTLS', () => readSmtpReply(w));
  if (go.code !== 220)
    throw protocolError('probe-starttls-refused', `${w.label} refused STARTTLS: ${replyText(go)}`);
}

async function ftp(w: Wire): Promise<void> {
  // RFC 959 §5.4: the connection greeting is 220, possibly preceded by 120 ("ready in nnn
  // minutes"); 421 means service not available.
  let greeting = await w.step('greeting', () => readFtpReply(w));
  if (greeting.code === 120) greeting = await w.step('greeting', () => readFtpReply(w));
  if (greeting.code !== 220)
    throw protocolError('probe-greeting', `${w.label} greeted with ${replyText(greeting)}`);
  // RFC 4217 §4 (and RFC 2228 §3, AUTH): 234 accepts; 431, 500, 502, 504, 534 refuse.
  w.write('AUTH TLS\r\n');
  const go = await w.step('reply to AUTH TLS', () => readFtpReply(w));
  if (go.code !== 234)
    throw protocolError('probe-starttls-refused', `${w.label} refused AUTH TLS: ${replyText(go)}`);
}

// ---------------------------------------------------------------- IMAP / POP3 / Sieve / NNTP

async function imap(w: Wire): Promise<void> {
  // RFC 3501 §7.1: the greeting is an untagged OK, PREAUTH or BYE (RFC 9051 §7.1 alike).
  const greeting = await w.step('greeting', () => w.readLine());
  if (/^\* PREAUTH\b/i.test(greeting))
    // RFC 3501 §6.2.1: STARTTLS is valid only in the not-authenticated state.
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} greeted with PREAUTH, where STARTTLS is not allowed: "${Wire.show(greeting)}"`,
    );
  if (!/^\* OK\b/i.test(greeting))
    throw protocolError('probe-greeting', `${w.label} greeted with "${Wire.show(greeting)}"`);
  // RFC 3501 §7.1 allows a [CAPABILITY ...] response code in the greeting; else ask
  // (§6.1.1). §6.2.1: a server offering STARTTLS lists it among its capabilities.
  let caps = /\[CAPABILITY ([^\]]*)\]/i.exec(greeting)?.[1];
  if (caps === undefined) {
    w.write('a000 CAPABILITY\r\n');
    const r = await w.step('reply to CAPABILITY', () => readTagged(w, 'a000'));
    if (r.status !== 'OK')
      throw protocolError('probe-reply', `${w.label} rejected CAPABILITY: "${Wire.show(r.last)}"`);
    caps = r.untagged
      .map((l) => /^\* CAPABILITY (.*)$/i.exec(l)?.[1] ?? '')
      .join(' ')
      .trim();
  }
  if (!caps.split(/\s+/).some((c) => c.toUpperCase() === 'STARTTLS'))
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} does not offer STARTTLS (not in its capabilities)`,
    );
  // RFC 3501 §6.2.1 / RFC 2595 §3.1: TLS starts right after the CRLF of the tagged OK.
  w.write('a001 STARTTLS\r\n');
  const r = await w.step('reply to STARTTLS', () => readTagged(w, 'a001'));
  if (r.status !== 'OK')
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} refused STARTTLS: "${Wire.show(r.last)}"`,
    );
}

/** Reads untagged lines until the tagged status response for `tag` (RFC 3501 §2.2.2). */
async function readTagged(
  w: Wire,
  tag: string,
): Promise<{ status: string; last: string; untagged: string[] }> {
  const untagged: string[] = [];
  for (;;) {
    const line = await w.readLine();
    if (line.startsWith(`${tag} `)) {
      const status = line
        .slice(tag.length + 1)
        .split(' ', 1)[0]!
        .toUpperCase();
      return { status, last: line, untagged };
    }
    if (!line.startsWith('* ') && !line.startsWith('+'))
      throw protocolError(
        'probe-reply',
        `${w.label} sent a malformed response: "${Wire.show(line)}"`,
      );
    untagged.push(line);
  }
}

async function pop3(w: Wire): Promise<void> {
  // RFC 1939 §4: the greeting is +OK.
  const greeting = await w.step('greeting', () => w.readLine());
  if (!/^\+OK\b/i.test(greeting))
    throw protocolError('probe-greeting', `${w.label} greeted with "${Wire.show(greeting)}"`);
  // RFC 2595 §4: STLS answered +OK, then TLS; -ERR refuses.
  w.write('STLS\r\n');
  const r = await w.step('reply to STLS', () => w.readLine());
  if (!/^\+OK\b/i.test(r))
    throw protocolError('probe-starttls-refused', `${w.label} refused STLS: "${Wire.show(r)}"`);
}

/** RFC 5804 §1.3 / §4: a response is OK, NO or BYE, optionally with a code and a string. */
async function readSieveResponse(
  w: Wire,
): Promise<{ status: 'OK' | 'NO' | 'BYE'; last: string; before: string[] }> {
  const before: string[] = [];
  for (;;) {
    const line = await w.readLine();
    const m = /^(OK|NO|BYE)\b/i.exec(line);
    if (m) return { status: m[1]!.toUpperCase() as 'OK' | 'NO' | 'BYE', last: line, before };
    before.push(line);
  }
}

async function sieve(w: Wire): Promise<void> {
  // RFC 5804 §1.7: the server greets with its capabilities, ended by OK.
  const greeting = await w.step('greeting', () => readSieveResponse(w));
  if (greeting.status !== 'OK')
    throw protocolError('probe-greeting', `${w.label} greeted with "${Wire.show(greeting.last)}"`);
  if (!greeting.before.some((l) => /^"STARTTLS"/i.test(l.trim())))
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} does not offer STARTTLS (not in its capabilities)`,
    );
  // RFC 5804 §2.2: STARTTLS answered OK, then TLS.
  w.write('STARTTLS\r\n');
  const r = await w.step('reply to STARTTLS', () => readSieveResponse(w));
  if (r.status !== 'OK')
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} refused STARTTLS: "${Wire.show(r.last)}"`,
    );
}

async function nntp(w: Wire): Promise<void> {
  // RFC 3977 §5.1: 200 or 201 greet; 400 and 502 turn the client away.
  const greeting = await w.step('greeting', () => w.readLine());
  if (!/^20[01]\b/.test(greeting))
    throw protocolError('probe-greeting', `${w.label} greeted with "${Wire.show(greeting)}"`);
  // RFC 4642 §2.2.2: 382 continue with TLS; 580 can not initiate; 502 unavailable.
  w.write('STARTTLS\r\n');
  const r = await w.step('reply to STARTTLS', () => w.readLine());
  if (!/^382\b/.test(r))
    throw protocolError('probe-starttls-refused', `${w.label} refused STARTTLS: "${Wire.show(r)}"`);
}

// ---------------------------------------------------------------- XMPP

const XMPP_TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';

async function xmpp(w: Wire, ns: 'jabber:client' | 'jabber:server', domain: string): Promise<void> {
  // RFC 6120 §4.2 / §4.7: the initiating entity opens the stream; `to` is the service domain.
  // §4.8.2: jabber:client for clients, jabber:server between servers.
  w.write(
    `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='${ns}' ` +
      `xmlns:stream='http://etherx.jabber.org/streams'>`,
  );
  // §4.3.2 / §5.4.2.1: the response stream header, then <stream:features>, which lists
  // <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/> when offered. §4.9: a stream error
  // instead ends the stream.
  const features = await w.step('stream features', () =>
    w.readUntil(
      /<\/(?:[\w.-]+:)?features\s*>|<(?:[\w.-]+:)?features\b[^>]*\/>|<\/(?:[\w.-]+:)?error\s*>|<\/(?:[\w.-]+:)?stream\s*>/,
    ),
  );
  const streamError = /<(?:[\w.-]+:)?error\b[^>]*>\s*<([\w-]+)/.exec(features);
  if (streamError && !/<(?:[\w.-]+:)?features\b/.test(features))
    throw protocolError(
      'probe-greeting',
      `${w.label} ended the XMPP stream with the error ${Wire.show(streamError[1]!)}` +
        (streamError[1] === 'host-unknown' ? hostUnknownHint(domain) : ''),
    );
  if (!/<(?:[\w.-]+:)?features\b/.test(features))
    throw protocolError('probe-greeting', `${w.label} closed the XMPP stream without features`);
  const offer = /<starttls\b[^>]*>/.exec(features);
  if (!offer || !offer[0].includes(XMPP_TLS_NS))
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} does not offer STARTTLS (not in its stream features)`,
    );
  // §5.4.2.2: <starttls/>; §5.4.2.3 <proceed/> or §5.4.2.2 <failure/> and the stream closes.
  w.write(`<starttls xmlns='${XMPP_TLS_NS}'/>`);
  const r = await w.step('reply to STARTTLS', () =>
    w.readUntil(/<(?:proceed|failure)\b[^>]*>|<\/(?:[\w.-]+:)?stream\s*>/),
  );
  if (!/<proceed\b[^>]*>$/.test(r) || !r.includes(XMPP_TLS_NS))
    throw protocolError('probe-starttls-refused', `${w.label} refused STARTTLS`);
  // A non-empty <proceed> would be odd but harmless; TLS starts after its start tag's '>'
  // only when it is self-closing, so insist on that.
  if (!/\/>$/.test(r))
    throw protocolError('probe-reply', `${w.label} sent a <proceed> element that is not empty`);
}

/**
 * RFC 6120 §4.9.3.6: host-unknown means the server serves no domain by the stream's `to`.
 * Fetched by address, `to` is that address (there is no other name to use), which a real
 * server (Prosody) refuses so: say so, rather than leave a bare error name.
 */
function hostUnknownHint(domain: string): string {
  return isIP(domain) === 0
    ? `: it serves no XMPP domain "${Wire.show(domain)}"`
    : `: the stream named the address ${domain}, and XMPP servers serve domains: fetch by the service's domain name`;
}

// ---------------------------------------------------------------- LDAP

/** RFC 4511 §4.14.1: the StartTLS ExtendedRequest, messageID 1, in BER (§5.1). */
export const LDAP_STARTTLS_REQUEST = (() => {
  const oid = Buffer.from('1.3.6.1.4.1.1466.20037', 'latin1');
  const requestName = Buffer.concat([Buffer.from([0x80, oid.length]), oid]); // [0] LDAPOID
  const op = Buffer.concat([Buffer.from([0x77, requestName.length]), requestName]); // [APPLICATION 23]
  const id = Buffer.from([0x02, 0x01, 0x01]); // messageID INTEGER 1
  return Buffer.concat([Buffer.from([0x30, id.length + op.length]), id, op]); // LDAPMessage SEQUENCE
})();

/** RFC 4511 §4.3: UnbindRequest ::= [APPLICATION 2] NULL, messageID 2. */
const LDAP_UNBIND = Buffer.from([0x30, 0x05, 0x02, 0x01, 0x02, 0x42, 0x00]);

const LDAP_RESULT_NAMES: Record<number, string> = {
  1: 'operationsError',
  2: 'protocolError',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  80: 'other',
};

export interface LdapExtendedResponse {
  messageId: number;
  resultCode: number;
  diagnosticMessage: string;
}

/** One BER TLV at `off`: definite lengths only (RFC 4511 §5.1). */
function berTlv(buf: Buffer, off: number): { tag: number; start: number; end: number } | undefined {
  if (off + 2 > buf.length) return undefined;
  const tag = buf[off]!;
  let len = buf[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) return undefined;
    len = buf.readUIntBE(start, n);
    start += n;
  }
  if (start + len > buf.length) return undefined;
  return { tag, start, end: start + len };
}

/**
 * Reads the contents of an LDAPMessage (the bytes inside its outer SEQUENCE) holding an
 * ExtendedResponse (RFC 4511 §4.12: [APPLICATION 24], COMPONENTS OF LDAPResult §4.1.9).
 */
export function parseLdapExtendedResponse(body: Buffer): LdapExtendedResponse | undefined {
  const id = berTlv(body, 0);
  if (!id || id.tag !== 0x02 || id.end - id.start < 1 || id.end - id.start > 4) return undefined;
  const messageId = body.readUIntBE(id.start, id.end - id.start);
  const op = berTlv(body, id.end);
  if (!op || op.tag !== 0x78) return undefined;
  const rc = berTlv(body, op.start);
  if (!rc || rc.tag !== 0x0a || rc.end - rc.start < 1 || rc.end - rc.start > 4) return undefined;
  const resultCode = body.readUIntBE(rc.start, rc.end - rc.start);
  const dn = berTlv(body, rc.end);
  if (!dn || dn.tag !== 0x04 || dn.end > op.end) return undefined;
  const diag = berTlv(body, dn.end);
  if (!diag || diag.tag !== 0x04 || diag.end > op.end) return undefined;
  return {
    messageId,
    resultCode,
    diagnosticMessage: body.subarray(diag.start, diag.end).toString('utf8'),
  };
}

async function ldap(w: Wire): Promise<void> {
  // RFC 4513 §3.1.1 / RFC 4511 §4.14.1: the client speaks first, there is no greeting.
  w.write(LDAP_STARTTLS_REQUEST, '<LDAP ExtendedRequest StartTLS 1.3.6.1.4.1.1466.20037>');
  const body = await w.step('reply to StartTLS', async () => {
    const head = await w.readBytes(2);
    if (head[0] !== 0x30)
      throw protocolError('probe-reply', `${w.label} sent a malformed LDAP response`);
    let len = head[1]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4)
        throw protocolError('probe-reply', `${w.label} sent a malformed LDAP response`);
      len = (await w.readBytes(n)).readUIntBE(0, n);
    }
    // Wire's byte limit applies as the bytes arrive; refuse absurd lengths up front.
    if (len > 65536)
      throw protocolError(
        'probe-too-much-data',
        `${w.label} announced a ${len}-byte LDAP response`,
      );
    return w.readBytes(len);
  });
  const r = parseLdapExtendedResponse(body);
  if (!r) throw protocolError('probe-reply', `${w.label} sent a malformed LDAP response`);
  const name = LDAP_RESULT_NAMES[r.resultCode];
  const diag = r.diagnosticMessage ? ` "${Wire.show(r.diagnosticMessage)}"` : '';
  w.note(`<LDAP ExtendedResponse resultCode ${r.resultCode}${diag}>`, 'S');
  // §4.4.1: messageID 0 is an unsolicited notification (notice of disconnection).
  if (r.messageId === 0)
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} sent a notice of disconnection: resultCode ${r.resultCode}${diag}`,
    );
  if (r.messageId !== 1)
    throw protocolError('probe-reply', `${w.label} answered LDAP messageID ${r.messageId}, not 1`);
  // §4.14.2: success (0) means go ahead with TLS; anything else refuses.
  if (r.resultCode !== 0)
    throw protocolError(
      'probe-starttls-refused',
      `${w.label} refused StartTLS: resultCode ${r.resultCode}${name ? ` (${name})` : ''}${diag}`,
    );
}

// ---------------------------------------------------------------- PostgreSQL

/** PostgreSQL protocol, "SSLRequest": Int32 length 8, Int32 code 80877103. */
const PG_SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

async function postgres(w: Wire): Promise<void> {
  // PostgreSQL protocol flow, "SSL Session Encryption": one byte, 'S' to go ahead, 'N' to
  // refuse; very old servers answer with an ErrorResponse ('E'). The caller refuses any
  // byte after 'S' before the handshake (CVE-2021-23222).
  w.write(PG_SSL_REQUEST, '<PostgreSQL SSLRequest>');
  const b = await w.step('reply to SSLRequest', () => w.readBytes(1));
  const c = String.fromCharCode(b[0]!);
  w.note(c, 'S');
  if (c === 'S') return;
  if (c === 'N' || c === 'E')
    throw protocolError('probe-starttls-refused', `${w.label} refused SSL (answered '${c}')`);
  throw protocolError(
    'probe-reply',
    `${w.label} answered the SSLRequest with byte 0x${b.toString('hex')}`,
  );
}
