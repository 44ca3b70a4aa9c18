/**
 * The probe against fake servers on loopback that speak each dialogue and then TLS with a
 * chain made at test time, and against hostile ones. Every timeout here is small: the whole
 * file runs in a few seconds.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, mock, test } from 'node:test';
import { issue, makePki, tempDir, type Pki } from '../../../test/support/pki.js';
import { DkError } from '../../core/errors.js';
import { chainFromIssuerLinks } from './issuer-links.js';
import { probe } from './probe.js';
import type { ProbeOptions, StarttlsProto } from './types.js';

let pki: Pki;
const servers: Served[] = [];

before(() => {
  pki = makePki(tempDir(), { names: ['mail.example.test'] });
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

// ------------------------------------------------------------------------- fake servers

/** The server side of one connection: reads lines or bytes, then upgrades to TLS. */
class Peer {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(readonly sock: net.Socket) {
    sock.on('data', this.onData);
    sock.on('end', this.onEnd);
    sock.on('close', this.onEnd);
    sock.on('error', () => {});
  }

  private readonly onData = (c: Buffer): void => {
    this.buf = Buffer.concat([this.buf, c]);
    this.wake?.();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake?.();
  };

  private async more(): Promise<void> {
    if (this.ended) throw new Error('client went away');
    await new Promise<void>((r) => (this.wake = r));
  }

  async line(): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl).toString().replace(/\r$/, '');
        this.buf = this.buf.subarray(nl + 1);
        return line;
      }
      await this.more();
    }
  }

  async bytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.more();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async until(re: RegExp): Promise<string> {
    for (;;) {
      const m = re.exec(this.buf.toString());
      if (m) {
        const taken = this.buf.toString().slice(0, m.index + m[0].length);
        this.buf = this.buf.subarray(Buffer.byteLength(taken));
        return taken;
      }
      await this.more();
    }
  }

  /** Waits until the client sends anything (its ClientHello, after STARTTLS). */
  async anything(): Promise<void> {
    while (this.buf.length === 0) await this.more();
  }

  write(s: string | Buffer): void {
    this.sock.write(s);
  }

  /** Server-side TLS on this connection; resolves with the SNI the client sent. */
  upgrade(opts: tls.SecureContextOptions = {}): Promise<TlsPeer> {
    this.sock.pause();
    this.sock.off('data', this.onData);
    const t = new tls.TLSSocket(this.sock, {
      isServer: true,
      secureContext: tls.createSecureContext({
        cert: pki.leaf.certPem + pki.intermediate.certPem,
        key: pki.leaf.keyPem,
        ...opts,
      }),
    });
    t.on('error', () => {});
    return new Promise((resolve) =>
      t.once('secure', () => resolve({ tls: t, servername: t.servername || undefined })),
    );
  }

  close(): void {
    this.sock.destroy();
  }
}

interface TlsPeer {
  tls: tls.TLSSocket;
  servername: string | undefined;
}

/** Reads one line over TLS, for checking the polite QUIT. */
function tlsLine(t: tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (c: Buffer): void => {
      got += c.toString();
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        t.off('data', onData);
        resolve(got.slice(0, nl).replace(/\r$/, ''));
      }
    };
    t.on('data', onData);
    t.once('close', () => resolve(got));
  });
}

interface Served {
  port: number;
  /** What each connection's handler reported (SNI, commands seen, errors). */
  seen: unknown[];
  close(): Promise<void>;
}

async function serve(
  handler: (p: Peer, seen: unknown[]) => Promise<void>,
  host = '127.0.0.1',
): Promise<Served> {
  const sockets = new Set<net.Socket>();
  const seen: unknown[] = [];
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    handler(new Peer(sock), seen).catch((e: unknown) => seen.push(e));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const s: Served = {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const c of sockets) c.destroy();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

/** Options every probe here uses: loopback, small timeouts. */
function opts(
  port: number,
  starttls: StarttlsProto,
  more: Partial<ProbeOptions> = {},
): ProbeOptions {
  return {
    host: 'mail.example.test',
    address: '127.0.0.1',
    port,
    starttls,
    connectTimeoutMs: 2000,
    readTimeoutMs: 2000,
    totalTimeoutMs: 5000,
    ...more,
  };
}

async function rejectsWith(
  p: Promise<unknown>,
  kind: DkError['kind'],
  code: string,
  message: RegExp | string,
): Promise<DkError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof DkError, `expected a DkError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.kind, kind, err.message);
  if (typeof message === 'string') assert.equal(err.message, message);
  else assert.match(err.message, message);
  assert.ok(!err.message.includes('\n'), 'one line');
  assert.ok(!/\bat .*\(/.test(err.message), 'no stack trace');
  return err;
}

// ------------------------------------------------------------------------- dialogues

const TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';

/** Each plays the server side up to "go ahead"; what the client said goes into `seen`. */
const dialogues: Record<
  Exclude<StarttlsProto, 'none'>,
  (p: Peer, seen: unknown[]) => Promise<void>
> = {
  async smtp(p, seen) {
    p.write('220 mail.example.test ESMTP fake\r\n');
    seen.push(await p.line());
    p.write('250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n');
    seen.push(await p.line());
    p.write('220 2.0.0 Ready to start TLS\r\n');
  },
  async lmtp(p, seen) {
    p.write('220 mail.example.test LMTP fake\r\n');
    seen.push(await p.line());
    p.write('250-mail.example.test\r\n250 STARTTLS\r\n');
    seen.push(await p.line());
    p.write('220 2.0.0 Ready\r\n');
  },
  async imap(p, seen) {
    p.write('* OK IMAP4rev1 fake ready\r\n');
    seen.push(await p.line());
    p.write('* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na000 OK done\r\n');
    seen.push(await p.line());
    p.write('a001 OK Begin TLS negotiation now\r\n');
  },
  async pop3(p, seen) {
    p.write('+OK fake POP3 ready\r\n');
    seen.push(await p.line());
    p.write('+OK Begin TLS negotiation\r\n');
  },
  async ftp(p, seen) {
    p.write('220-Welcome to the fake FTP server\r\n   more words\r\n220 ready\r\n');
    seen.push(await p.line());
    p.write('234 AUTH TLS OK.\r\n');
  },
  async xmpp(p, seen) {
    seen.push(await p.until(/<stream:stream[^>]*>/));
    p.write(
      `<?xml version='1.0'?><stream:stream from='mail.example.test' id='x1' version='1.0' ` +
        `xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
    );
    p.write(`<stream:features><starttls xmlns='${TLS_NS}'><required/></starttls>`);
    p.write(`<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>`);
    seen.push(await p.until(/<starttls[^>]*\/>/));
    p.write(`<proceed xmlns='${TLS_NS}'/>`);
  },
  async 'xmpp-server'(p, seen) {
    seen.push(await p.until(/<stream:stream[^>]*>/));
    p.write(
      `<?xml version='1.0'?><stream:stream from='mail.example.test' id='x2' version='1.0' ` +
        `xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>` +
        `<stream:features><starttls xmlns='${TLS_NS}'/></stream:features>`,
    );
    seen.push(await p.until(/<starttls[^>]*\/>/));
    p.write(`<proceed xmlns='${TLS_NS}'/>`);
  },
  async ldap(p, seen) {
    seen.push((await p.bytes(31)).toString('hex'));
    const oid = Buffer.from('1.3.6.1.4.1.1466.20037');
    // ExtendedResponse { resultCode 0, matchedDN "", diagnosticMessage "", [10] oid }
    const op = Buffer.concat([Buffer.from('0a0100040004008a16', 'hex'), oid]);
    const msg = Buffer.concat([Buffer.from([0x02, 0x01, 0x01, 0x78, op.length]), op]);
    p.write(Buffer.concat([Buffer.from([0x30, msg.length]), msg]));
  },
  async sieve(p, seen) {
    p.write('"IMPLEMENTATION" "Fake Sieve"\r\n"SIEVE" "fileinto vacation"\r\n');
    p.write('"SASL" ""\r\n"STARTTLS"\r\n"VERSION" "1.0"\r\nOK "Ready."\r\n');
    seen.push(await p.line());
    p.write('OK "Begin TLS negotiation now."\r\n');
  },
  async nntp(p, seen) {
    p.write('200 fake news server ready\r\n');
    seen.push(await p.line());
    p.write('382 Continue with TLS negotiation\r\n');
  },
  async postgres(p, seen) {
    seen.push((await p.bytes(8)).toString('hex'));
    p.write('S');
  },
};

const expectedClient: Record<Exclude<StarttlsProto, 'none'>, (string | RegExp)[]> = {
  smtp: ['EHLO danekeeper.invalid', 'STARTTLS'],
  lmtp: ['LHLO danekeeper.invalid', 'STARTTLS'],
  imap: ['a000 CAPABILITY', 'a001 STARTTLS'],
  pop3: ['STLS'],
  ftp: ['AUTH TLS'],
  xmpp: [/to='mail\.example\.test'.*xmlns='jabber:client'/, `<starttls xmlns='${TLS_NS}'/>`],
  'xmpp-server': [
    /to='mail\.example\.test'.*xmlns='jabber:server'/,
    `<starttls xmlns='${TLS_NS}'/>`,
  ],
  ldap: ['301d02010177188016' + Buffer.from('1.3.6.1.4.1.1466.20037').toString('hex')],
  sieve: ['STARTTLS'],
  nntp: ['STARTTLS'],
  postgres: ['0000000804d2162f'],
};

describe('each STARTTLS dialogue ends in TLS with exactly the chain sent', () => {
  for (const proto of Object.keys(dialogues) as Exclude<StarttlsProto, 'none'>[]) {
    test(proto, async () => {
      const srv = await serve(async (p, seen) => {
        await dialogues[proto](p, seen);
        const t = await p.upgrade();
        seen.push({ sni: t.servername });
        if (proto === 'smtp' || proto === 'pop3') seen.push({ afterTls: await tlsLine(t.tls) });
      });
      const lines: string[] = [];
      const r = await probe(
        opts(srv.port, proto, { transcript: (d, l) => lines.push(`${d} ${l}`) }),
      );
      assert.deepEqual(r.chain, [pki.leaf.der, pki.intermediate.der]);
      assert.equal(r.chainSource, 'presented');
      assert.equal(r.address, '127.0.0.1');
      assert.equal(r.port, srv.port);
      assert.equal(r.servername, 'mail.example.test');
      assert.match(r.protocol, /^TLSv1\.[23]$/);
      assert.ok(r.cipher.length > 0);
      assert.equal(lines.length, r.transcript.length);
      assert.match(r.transcript.at(-1)!, /^(\* TLS established|C: )/);
      assert.ok(r.transcript.some((l) => l.startsWith('* TLS established: TLSv1.')));
      // The server sees the handshake complete a moment after the client does.
      await waitFor(() => srv.seen.length > expectedClient[proto].length);
      const seen = srv.seen.slice();
      for (const want of expectedClient[proto]) {
        const got = seen.shift();
        if (typeof want === 'string') assert.equal(got, want);
        else assert.match(String(got), want);
      }
      assert.deepEqual(seen.shift(), { sni: 'mail.example.test' });
      if (proto === 'smtp' || proto === 'pop3') {
        // RFC 5321 §4.1.1.10 / RFC 1939 §6: a polite QUIT over TLS.
        const n = expectedClient[proto].length + 1;
        await waitFor(() => srv.seen.length > n);
        assert.deepEqual(srv.seen[n], { afterTls: 'QUIT' });
      }
    });
  }
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ------------------------------------------------------------------------- chains and TLS

async function tlsServer(ctx: tls.SecureContextOptions, host = '127.0.0.1'): Promise<Served> {
  return serve(async (p, seen) => {
    const t = await p.upgrade(ctx);
    seen.push({ sni: t.servername });
  }, host);
}

describe('the chain is what the server presented', () => {
  test('implicit TLS, leaf only: exactly one certificate', async () => {
    const srv = await tlsServer({ cert: pki.leaf.certPem });
    const r = await probe(opts(srv.port, 'none'));
    assert.deepEqual(r.chain, [pki.leaf.der]);
    await waitFor(() => srv.seen.length === 1);
    assert.deepEqual(srv.seen, [{ sni: 'mail.example.test' }]);
  });

  test('leaf and intermediate: two, never the root from a trust store', async () => {
    const srv = await tlsServer({});
    const r = await probe(opts(srv.port, 'none'));
    assert.deepEqual(r.chain, [pki.leaf.der, pki.intermediate.der]);
  });

  test('the hazard is real: Node appends a trusted root the server never sent', async () => {
    const srv = await tlsServer({});
    const s = tls.connect({
      host: '127.0.0.1',
      port: srv.port,
      servername: 'mail.example.test',
      ca: [pki.root.certPem],
    });
    await new Promise((r) => s.once('secureConnect', r));
    const walked = chainFromIssuerLinks(s);
    s.destroy();
    assert.deepEqual(walked, [pki.leaf.der, pki.intermediate.der, pki.root.der]);
  });

  test('a trust store of unrelated anchors is what keeps the root out', async () => {
    const srv = await tlsServer({});
    const other = issue(pki.dir, 'unrelated', { cn: 'Unrelated Root', ca: true });
    const s = tls.connect({
      host: '127.0.0.1',
      port: srv.port,
      servername: 'mail.example.test',
      ca: [other.certPem],
      rejectUnauthorized: false,
    });
    await new Promise((r) => s.once('secureConnect', r));
    const walked = chainFromIssuerLinks(s);
    s.destroy();
    assert.deepEqual(walked, [pki.leaf.der, pki.intermediate.der]);
  });

  test('with the root in NODE_EXTRA_CA_CERTS the probe still reports two', async () => {
    const srv = await tlsServer({});
    const rootFile = join(pki.dir, 'extra-root.pem');
    writeFileSync(rootFile, pki.root.certPem);
    const probeUrl = new URL('./probe.ts', import.meta.url).href;
    const code =
      `const { probe } = await import(${JSON.stringify(probeUrl)});` +
      `const r = await probe({ host: '127.0.0.1', port: ${srv.port}, starttls: 'none', readTimeoutMs: 3000 });` +
      `console.log(JSON.stringify(r.chain.map((c) => c.toString('base64'))));`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', code],
        {
          cwd: fileURLToPath(new URL('../../..', import.meta.url)),
          env: { ...process.env, NODE_EXTRA_CA_CERTS: rootFile },
          timeout: 15000,
        },
        (err, stdout, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve(stdout)),
      ),
    );
    assert.deepEqual(
      JSON.parse(out),
      [pki.leaf.der, pki.intermediate.der].map((d) => d.toString('base64')),
    );
  });

  test('one TLS context for every probe: the placeholder is still the only trust anchor', async () => {
    const srv = await tlsServer({});
    // Server-side contexts (the fake server's) carry no `ca`; a client context built per
    // connection would show up here with the placeholder as its `ca`.
    const made = mock.method(tls, 'createSecureContext');
    try {
      for (let i = 0; i < 3; i++) {
        const r = await probe(opts(srv.port, 'none'));
        assert.deepEqual(r.chain, [pki.leaf.der, pki.intermediate.der]);
      }
      const clientContexts = made.mock.calls.filter((c) => c.arguments[0]?.ca !== undefined);
      assert.ok(
        clientContexts.length <= 1,
        `${clientContexts.length} client contexts for 3 probes`,
      );
    } finally {
      made.mock.restore();
    }
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`a shared context resumes no session: each probe is sent the Certificate (${version})`, async () => {
      // RFC 8446 §2.2 / RFC 5246 §7.3: a resumed handshake carries no Certificate message, so
      // a probe that resumed would see no chain. One server context, so tickets and its
      // session cache stay valid from one connection to the next.
      const reused: boolean[] = [];
      const server = tls.createServer({
        cert: pki.leaf.certPem + pki.intermediate.certPem,
        key: pki.leaf.keyPem,
        maxVersion: version,
      });
      server.on('secureConnection', (t) => {
        reused.push(t.isSessionReused());
        t.on('error', () => {});
        t.end('bye\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        // This server does resume a client that offers a session: the hazard is real.
        const once = (session?: Buffer): Promise<Buffer | undefined> =>
          new Promise((resolve) => {
            let got: Buffer | undefined;
            const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, session });
            c.on('session', (s: Buffer) => (got = s));
            c.on('error', () => {});
            c.on('data', () => {});
            c.on('close', () => resolve(got));
          });
        const session = await once();
        assert.ok(session, 'the server hands out a session');
        await once(session);
        assert.deepEqual(reused, [false, true]);

        for (let i = 0; i < 3; i++) {
          const r = await probe(opts(port, 'none'));
          assert.equal(r.protocol, version);
          assert.equal(r.chainSource, 'presented');
          assert.deepEqual(r.chain, [pki.leaf.der, pki.intermediate.der]);
        }
        await waitFor(() => reused.length === 5);
        assert.deepEqual(reused.slice(2), [false, false, false]);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  }

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`order, strays and duplicates are kept as sent (${version}, many records)`, async () => {
      // leaf, root, intermediate, then the intermediate 30 more times: > 16 KiB, so the
      // Certificate message spans several records.
      const pems = [
        pki.leaf.certPem,
        pki.root.certPem,
        ...Array<string>(31).fill(pki.intermediate.certPem),
      ];
      const srv = await tlsServer({ cert: pems.join(''), maxVersion: version });
      const r = await probe(opts(srv.port, 'none'));
      assert.equal(r.protocol, version);
      assert.equal(r.chainSource, 'presented');
      assert.deepEqual(r.chain, [
        pki.leaf.der,
        pki.root.der,
        ...Array<Buffer>(31).fill(pki.intermediate.der),
      ]);
    });
  }

  for (const [name, ctx] of [
    ['TLS 1.2 (Certificate in clear)', { maxVersion: 'TLSv1.2' }],
    ['TLS_AES_128_GCM_SHA256', { ciphers: 'TLS_AES_128_GCM_SHA256' }],
    ['TLS_CHACHA20_POLY1305_SHA256', { ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }],
    ['an RSA leaf', {}],
  ] as const) {
    test(`read from the handshake with ${name}`, async () => {
      const rsa = name === 'an RSA leaf' ? makePki(tempDir(), { leafAlg: 'rsa2048' }) : pki;
      const srv = await tlsServer({
        ...ctx,
        cert: rsa.leaf.certPem + pki.root.certPem + rsa.intermediate.certPem,
        key: rsa.leaf.keyPem,
      });
      const r = await probe(opts(srv.port, 'none'));
      assert.equal(r.chainSource, 'presented');
      assert.deepEqual(r.chain, [rsa.leaf.der, pki.root.der, rsa.intermediate.der]);
      if (name.startsWith('TLS_')) assert.equal(r.cipher, name);
      if (name.startsWith('TLS 1.2')) assert.equal(r.protocol, 'TLSv1.2');
    });
  }

  test('no SNI for an IP literal host; SNI for a name', async () => {
    const srv = await tlsServer({});
    const r = await probe({
      host: '127.0.0.1',
      port: srv.port,
      starttls: 'none',
      readTimeoutMs: 2000,
    });
    assert.equal(r.servername, undefined);
    const r2 = await probe(opts(srv.port, 'none', { host: 'localhost.', servername: undefined }));
    assert.equal(r2.servername, 'localhost');
    const r3 = await probe(opts(srv.port, 'none', { servername: 'other.example.test' }));
    assert.equal(r3.servername, 'other.example.test');
    await waitFor(() => srv.seen.length === 3);
    assert.deepEqual(srv.seen.map((x) => JSON.stringify(x)).sort(), [
      '{"sni":"localhost"}',
      '{"sni":"other.example.test"}',
      '{}',
    ]);
  });

  test('IPv6: STARTTLS over ::1', async () => {
    const srv = await serve(async (p, seen) => {
      await dialogues.smtp(p, seen);
      await p.upgrade();
    }, '::1');
    const r = await probe({ host: '::1', port: srv.port, starttls: 'smtp', readTimeoutMs: 2000 });
    assert.equal(r.address, '::1');
    assert.deepEqual(r.chain, [pki.leaf.der, pki.intermediate.der]);
    assert.equal(r.transcript[0], `* Connected to [::1]:${srv.port}`);
    const r2 = await probe(opts(srv.port, 'smtp', { address: '[::1]' }));
    assert.equal(r2.servername, 'mail.example.test');
  });
});

// ------------------------------------------------------------------------- hostile servers

describe('hostile and broken servers fail fast with one-line errors', () => {
  test('connection refused', async () => {
    const srv = await serve(async () => {});
    await srv.close();
    await rejectsWith(
      probe({ host: '127.0.0.1', port: srv.port, starttls: 'smtp' }),
      'unavailable',
      'probe-connect',
      `Connecting to 127.0.0.1:${srv.port} failed: connection refused`,
    );
  });

  test('no greeting: a timeout, unavailable', async () => {
    const srv = await serve(async () => {});
    const t0 = Date.now();
    await rejectsWith(
      probe({ host: '127.0.0.1', port: srv.port, starttls: 'smtp', readTimeoutMs: 150 }),
      'unavailable',
      'probe-timeout',
      `127.0.0.1:${srv.port} sent no greeting within 150 ms`,
    );
    assert.ok(Date.now() - t0 < 1500);
  });

  test('STARTTLS refused with 454', async () => {
    const srv = await serve(async (p) => {
      p.write('220 mail.example.test ESMTP\r\n');
      await p.line();
      p.write('250-mail.example.test\r\n250 STARTTLS\r\n');
      await p.line();
      p.write('454 4.7.0 TLS not available due to temporary reason\r\n');
    });
    await rejectsWith(
      probe(opts(srv.port, 'smtp')),
      'protocol',
      'probe-starttls-refused',
      `mail.example.test:${srv.port} (127.0.0.1) refused STARTTLS: 454 4.7.0 TLS not available due to temporary reason`,
    );
  });

  test('STARTTLS not offered in EHLO', async () => {
    const srv = await serve(async (p) => {
      p.write('220 mail.example.test ESMTP\r\n');
      await p.line();
      p.write('250-mail.example.test\r\n250 8BITMIME\r\n');
    });
    await rejectsWith(
      probe(opts(srv.port, 'smtp')),
      'protocol',
      'probe-starttls-refused',
      /does not offer STARTTLS \(not in its EHLO reply\)$/,
    );
  });

  test('a 554 greeting', async () => {
    const srv = await serve(async (p) => p.write('554 5.7.1 go away\r\n'));
    await rejectsWith(
      probe(opts(srv.port, 'smtp')),
      'protocol',
      'probe-greeting',
      /\(127\.0\.0\.1\) greeted with 554 5\.7\.1 go away$/,
    );
  });

  test('an endless line without a newline trips the line limit', async () => {
    const srv = await serve(async (p) => spam(p, Buffer.alloc(16384, 'A')));
    const t0 = Date.now();
    await rejectsWith(
      probe(opts(srv.port, 'smtp', { readTimeoutMs: 5000 })),
      'protocol',
      'probe-line-too-long',
      /sent a line longer than 4096 bytes in the greeting$/,
    );
    assert.ok(Date.now() - t0 < 1500);
  });

  test('endless lines with newlines trip the byte limit', async () => {
    const srv = await serve(async (p) =>
      spam(p, Buffer.from('220-spam spam spam\r\n'.repeat(500))),
    );
    const t0 = Date.now();
    await rejectsWith(
      probe(opts(srv.port, 'smtp', { readTimeoutMs: 5000 })),
      'protocol',
      'probe-too-much-data',
      /sent more than 65536 bytes before TLS$/,
    );
    assert.ok(Date.now() - t0 < 1500);
  });

  test("XMPP without any '>' is stopped by the byte limit", async () => {
    const srv = await serve(async (p) => spam(p, Buffer.alloc(4096, '<')));
    await rejectsWith(
      probe(opts(srv.port, 'xmpp', { maxBytes: 10000 })),
      'protocol',
      'probe-too-much-data',
      /sent more than 10000 bytes before TLS$/,
    );
  });

  test('a server that closes mid-dialogue', async () => {
    const srv = await serve(async (p) => {
      p.write('220 mail.example.test ESMTP\r\n');
      await p.line();
      p.write('250-mail.example.test\r\n');
      p.close();
    });
    await rejectsWith(
      probe(opts(srv.port, 'smtp')),
      'protocol',
      'probe-closed',
      `mail.example.test:${srv.port} (127.0.0.1) closed the connection instead of sending the reply to EHLO`,
    );
  });

  test('a server that closes at once', async () => {
    const srv = await serve(async (p) => p.close());
    await rejectsWith(
      probe(opts(srv.port, 'imap')),
      'protocol',
      'probe-closed',
      /closed the connection without sending a greeting$/,
    );
  });

  test('garbage instead of a TLS handshake', async () => {
    const srv = await serve(async (p, seen) => {
      await dialogues.smtp(p, seen);
      await p.anything(); // the ClientHello
      p.write('HTTP/1.0 400 Bad Request\r\n\r\nthis is not TLS at all\r\n');
    });
    await rejectsWith(
      probe(opts(srv.port, 'smtp')),
      'protocol',
      'probe-tls',
      /^TLS handshake with mail\.example\.test:\d+ \(127\.0\.0\.1\) failed: wrong version number$/,
    );
  });

  test('bytes pipelined after 220 Ready are refused', async () => {
    const srv = await serve(async (p) => {
      p.write('220 mail.example.test ESMTP\r\n');
      await p.line();
      p.write('250-mail.example.test\r\n250 STARTTLS\r\n');
      await p.line();
      p.write('220 Ready\r\n250 injected\r\n');
    });
    await rejectsWith(
      probe(opts(srv.port, 'smtp')),
      'protocol',
      'probe-pipelined',
      /sent 14 bytes after agreeing to STARTTLS, before the TLS handshake$/,
    );
  });

  test('a server silent in the TLS handshake', async () => {
    const srv = await serve(async () => {});
    await rejectsWith(
      probe(opts(srv.port, 'none', { readTimeoutMs: 150 })),
      'unavailable',
      'probe-timeout',
      /^TLS handshake with .* did not complete within 150 ms$/,
    );
  });

  test('the total timeout bounds a slow drip', async () => {
    const srv = await serve(async (p) => {
      const t = setInterval(() => p.write('220-still here\r\n'), 20);
      p.sock.on('close', () => clearInterval(t));
    });
    await rejectsWith(
      probe(opts(srv.port, 'smtp', { readTimeoutMs: 5000, totalTimeoutMs: 200 })),
      'unavailable',
      'probe-timeout',
      /^Probing mail\.example\.test:\d+ \(127\.0\.0\.1\) did not finish within 200 ms$/,
    );
  });

  test('an abort signal stops the probe', async () => {
    const srv = await serve(async () => {});
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejectsWith(
      probe(opts(srv.port, 'smtp', { signal: ac.signal })),
      'unavailable',
      'probe-aborted',
      /^Probing .* was aborted$/,
    );
  });

  test('IMAP: capabilities in the greeting, STARTTLS missing', async () => {
    const srv = await serve(async (p) => {
      p.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n');
      await p.line();
    });
    await rejectsWith(
      probe(opts(srv.port, 'imap')),
      'protocol',
      'probe-starttls-refused',
      /does not offer STARTTLS \(not in its capabilities\)$/,
    );
  });

  test('IMAP: capabilities in the greeting, STARTTLS answered NO', async () => {
    const srv = await serve(async (p) => {
      p.write('* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n');
      await p.line();
      p.write('a001 NO [UNAVAILABLE] not now\r\n');
    });
    await rejectsWith(
      probe(opts(srv.port, 'imap')),
      'protocol',
      'probe-starttls-refused',
      /refused STARTTLS: "a001 NO \[UNAVAILABLE\] not now"$/,
    );
  });

  test('LDAP refusal names the result code', async () => {
    const srv = await serve(async (p) => {
      await p.bytes(31);
      p.write(Buffer.from('300c02010178070a0102040004 00'.replace(/ /g, ''), 'hex'));
    });
    await rejectsWith(
      probe(opts(srv.port, 'ldap')),
      'protocol',
      'probe-starttls-refused',
      /refused StartTLS: resultCode 2 \(protocolError\)$/,
    );
  });

  test('PostgreSQL without SSL', async () => {
    const srv = await serve(async (p) => {
      await p.bytes(8);
      p.write('N');
    });
    await rejectsWith(
      probe(opts(srv.port, 'postgres')),
      'protocol',
      'probe-starttls-refused',
      /refused SSL \(answered 'N'\)$/,
    );
  });

  test('XMPP host-unknown: the domain it was asked for is named; an address gets the reason', async () => {
    // Prosody's answer (lab: starttls-daemons.test.ts) to a stream whose `to` it does not serve
    const hostUnknown = async (p: Peer) => {
      await p.until(/<stream:stream[^>]*>/);
      p.write(
        `<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' ` +
          `xmlns='jabber:client' version='1.0'><stream:error><host-unknown ` +
          `xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`,
      );
    };
    const byAddress = await serve(hostUnknown);
    await rejectsWith(
      probe(opts(byAddress.port, 'xmpp', { host: '127.0.0.1' })),
      'protocol',
      'probe-greeting',
      /error host-unknown: the stream named the address 127\.0\.0\.1, .*fetch by the service's domain name$/,
    );
    const byName = await serve(hostUnknown);
    await rejectsWith(
      probe(opts(byName.port, 'xmpp')),
      'protocol',
      'probe-greeting',
      /error host-unknown: it serves no XMPP domain "mail\.example\.test"$/,
    );
  });

  test('XMPP failure element', async () => {
    const srv = await serve(async (p) => {
      await p.until(/<stream:stream[^>]*>/);
      p.write(
        `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>` +
          `<stream:features><starttls xmlns='${TLS_NS}'/></stream:features>`,
      );
      await p.until(/<starttls[^>]*\/>/);
      p.write(`<failure xmlns='${TLS_NS}'/></stream:stream>`);
    });
    await rejectsWith(
      probe(opts(srv.port, 'xmpp')),
      'protocol',
      'probe-starttls-refused',
      /refused STARTTLS$/,
    );
  });

  test('bad options are usage errors', async () => {
    await rejectsWith(
      probe({ host: 'x.test', port: 25, starttls: 'smtps' as StarttlsProto }),
      'usage',
      'probe-bad-protocol',
      /^Unknown STARTTLS protocol "smtps"/,
    );
    await rejectsWith(
      probe({ host: 'x.test', port: 0, starttls: 'smtp' }),
      'usage',
      'probe-bad-option',
      /^Port 0/,
    );
    await rejectsWith(
      probe({ host: 'x.test', port: 25, starttls: 'smtp', ehloName: 'a\r\nRSET' }),
      'usage',
      'probe-bad-option',
      /^EHLO name/,
    );
    await rejectsWith(
      probe({ host: 'x.test', port: 25, starttls: 'smtp', address: 'not-an-ip' }),
      'usage',
      'probe-bad-option',
      /is not an IPv4 or IPv6 address$/,
    );
  });
});

/** Writes `chunk` as fast as the client takes it, until the client goes away. */
function spam(p: Peer, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const go = (): void => {
      while (!p.sock.destroyed && p.sock.write(chunk));
      if (p.sock.destroyed) resolve();
      else p.sock.once('drain', go);
    };
    p.sock.once('close', () => resolve());
    go();
  });
}
