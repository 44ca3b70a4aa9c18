/**
 * The certificate list exactly as the server sent it, read from the server's side of the
 * handshake bytes. Node offers no API for this: `getPeerCertificate(true)` rebuilds a chain by
 * issuer links (reordering it, dropping strays and duplicates, and adding issuers from the
 * local trust store that the server never sent). DANE-TA (RFC 7671 §5.2.2) needs to know
 * what was presented, so read the Certificate message itself:
 *
 * - TLS 1.2 and older: the Certificate message travels in clear (RFC 5246 §7.4.2).
 * - TLS 1.3: it is encrypted under the server handshake traffic secret (RFC 8446 §7.1), which
 *   Node hands out through the `keylog` event (the NSS key log format).
 *
 * Returns undefined whenever anything is unexpected; the caller then falls back to issuer
 * links and says so.
 */
import { createDecipheriv, createHmac, type CipherGCMTypes } from 'node:crypto';

interface Suite {
  cipher: CipherGCMTypes | 'chacha20-poly1305';
  hash: 'sha256' | 'sha384';
  keyLen: number;
}

// RFC 8446 §B.4. The CCM suites are not offered by Node's default client.
const TLS13_SUITES: ReadonlyMap<number, Suite> = new Map<number, Suite>([
  [0x1301, { cipher: 'aes-128-gcm', hash: 'sha256', keyLen: 16 }],
  [0x1302, { cipher: 'aes-256-gcm', hash: 'sha384', keyLen: 32 }],
  [0x1303, { cipher: 'chacha20-poly1305', hash: 'sha256', keyLen: 32 }],
]);

// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c',
  'hex',
);

// RFC 8446 §5.1 ContentType, §4 HandshakeType.
const ContentType = { ChangeCipherSpec: 20, Handshake: 22, ApplicationData: 23 } as const;
const HandshakeType = { ServerHello: 2, Certificate: 11 } as const;

/** RFC 5869 §2.3 HKDF-Expand. */
function hkdfExpand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1, total = 0; total < length; i++) {
    t = createHmac(hash, prk)
      .update(t)
      .update(info)
      .update(Buffer.from([i]))
      .digest();
    out.push(t);
    total += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RFC 8446 §7.1 HKDF-Expand-Label with an empty context. */
function expandLabel(hash: string, secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([
    Buffer.from([length >> 8, length & 0xff, full.length]),
    full,
    Buffer.from([0]),
  ]);
  return hkdfExpand(hash, secret, info, length);
}

/** The server handshake traffic secret from NSS key log lines. */
function serverHandshakeSecret(keylog: readonly Buffer[]): Buffer | undefined {
  let secret: Buffer | undefined;
  for (const line of keylog) {
    const parts = line.toString('latin1').trim().split(' ');
    if (parts[0] === 'SERVER_HANDSHAKE_TRAFFIC_SECRET' && parts[2] !== undefined)
      secret = Buffer.from(parts[2], 'hex');
  }
  return secret;
}

/** RFC 8446 §5.2 / §5.3: AEAD open with the per-record nonce. */
function open(
  suite: Suite,
  key: Buffer,
  iv: Buffer,
  seq: number,
  header: Buffer,
  body: Buffer,
): Buffer | undefined {
  if (body.length < 16) return undefined;
  const nonce = Buffer.from(iv);
  for (let i = 0, s = seq; i < 6 && s > 0; i++, s = Math.floor(s / 256)) nonce[11 - i]! ^= s & 0xff;
  try {
    const d = createDecipheriv(suite.cipher as CipherGCMTypes, key, nonce, { authTagLength: 16 });
    d.setAAD(header);
    d.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
  } catch {
    return undefined;
  }
}

function u24(b: Buffer, off: number): number {
  return b.readUIntBE(off, 3);
}

/**
 * RFC 5246 §7.4.2: `ASN.1Cert certificate_list<0..2^24-1>`; RFC 8446 §4.4.2 adds a
 * certificate_request_context before the list and extensions after each entry.
 */
function parseCertificateMessage(msg: Buffer, tls13: boolean): Buffer[] | undefined {
  let off = 0;
  if (tls13) {
    if (msg.length < 1) return undefined;
    off = 1 + msg[0]!;
  }
  if (off + 3 > msg.length) return undefined;
  const end = off + 3 + u24(msg, off);
  if (end !== msg.length) return undefined;
  off += 3;
  const certs: Buffer[] = [];
  while (off < end) {
    if (off + 3 > end) return undefined;
    const len = u24(msg, off);
    off += 3;
    if (len === 0 || off + len > end) return undefined;
    certs.push(Buffer.from(msg.subarray(off, off + len)));
    off += len;
    if (tls13) {
      if (off + 2 > end) return undefined;
      off += 2 + msg.readUInt16BE(off);
      if (off > end) return undefined;
    }
  }
  return certs;
}

interface Hello {
  retry: boolean;
  tls13: boolean;
  suite: number;
}

/** RFC 8446 §4.1.3 / RFC 5246 §7.4.1.3 ServerHello; supported_versions (43) says 1.3. */
function parseServerHello(msg: Buffer): Hello | undefined {
  if (msg.length < 38) return undefined;
  const retry = msg.subarray(2, 34).equals(HRR_RANDOM);
  let off = 34;
  off += 1 + msg[off]!; // legacy_session_id
  if (off + 3 > msg.length) return undefined;
  const suite = msg.readUInt16BE(off);
  off += 3; // cipher_suite, legacy_compression_method
  let tls13 = false;
  if (off + 2 <= msg.length) {
    const end = off + 2 + msg.readUInt16BE(off);
    if (end > msg.length) return undefined;
    off += 2;
    while (off + 4 <= end) {
      const type = msg.readUInt16BE(off);
      const len = msg.readUInt16BE(off + 2);
      if (off + 4 + len > end) return undefined;
      if (type === 43 && len === 2 && msg.readUInt16BE(off + 4) === 0x0304) tls13 = true;
      off += 4 + len;
    }
  }
  return { retry, tls13, suite };
}

/**
 * The certificates of the server's Certificate message, in order, from `fromServer` (every
 * byte the server sent from the start of TLS) and the client's key log lines.
 */
export function presentedChain(
  fromServer: Buffer,
  keylog: readonly Buffer[],
): Buffer[] | undefined {
  try {
    return readChain(fromServer, keylog);
  } catch {
    // Bounds are checked as the bytes are read; this only guards against a slip there.
    return undefined;
  }
}

function readChain(fromServer: Buffer, keylog: readonly Buffer[]): Buffer[] | undefined {
  let off = 0;
  let hs: Buffer = Buffer.alloc(0);
  let suite: Suite | undefined; // set once a TLS 1.3 ServerHello was seen
  let keys: { key: Buffer; iv: Buffer } | undefined;
  let seq = 0;
  while (off + 5 <= fromServer.length) {
    const type = fromServer[off]!;
    const len = fromServer.readUInt16BE(off + 3);
    if (off + 5 + len > fromServer.length) return undefined;
    const header = fromServer.subarray(off, off + 5);
    const body = fromServer.subarray(off + 5, off + 5 + len);
    off += 5 + len;
    let ctype = type;
    let content = body;
    if (type === ContentType.ApplicationData && suite) {
      if (!keys) {
        const secret = serverHandshakeSecret(keylog);
        if (!secret) return undefined;
        keys = {
          key: expandLabel(suite.hash, secret, 'key', suite.keyLen),
          iv: expandLabel(suite.hash, secret, 'iv', 12),
        };
      }
      const plain = open(suite, keys.key, keys.iv, seq++, header, body);
      if (!plain) return undefined;
      // RFC 8446 §5.2: zero padding, then the real content type.
      let end = plain.length;
      while (end > 0 && plain[end - 1] === 0) end--;
      if (end === 0) return undefined;
      ctype = plain[end - 1]!;
      content = plain.subarray(0, end - 1);
    }
    // RFC 8446 §5 / Appendix D.4: a change_cipher_spec may appear for compatibility.
    if (ctype === ContentType.ChangeCipherSpec) continue;
    if (ctype !== ContentType.Handshake) return undefined;
    hs = hs.length === 0 ? content : Buffer.concat([hs, content]);
    while (hs.length >= 4) {
      const mlen = u24(hs, 1);
      if (hs.length < 4 + mlen) break;
      const mtype = hs[0]!;
      const msg = hs.subarray(4, 4 + mlen);
      hs = hs.subarray(4 + mlen);
      if (mtype === HandshakeType.ServerHello) {
        const hello = parseServerHello(msg);
        if (!hello) return undefined;
        if (hello.retry) continue; // RFC 8446 §4.1.4: another ServerHello follows
        if (hello.tls13) {
          suite = TLS13_SUITES.get(hello.suite);
          if (!suite) return undefined;
          // RFC 8446 §5.1: handshake messages never span a key change.
          if (hs.length > 0) return undefined;
        }
      } else if (mtype === HandshakeType.Certificate) {
        return parseCertificateMessage(msg, suite !== undefined);
      }
    }
  }
  return undefined;
}
