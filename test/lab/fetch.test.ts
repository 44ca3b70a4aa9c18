/**
 * `danekeeper tlsa --fetch` against real servers (Postfix STARTTLS and implicit TLS, openssl
 * s_server) in a lab namespace. The reference is openssl itself: `s_client -showcerts` says
 * which chain the server presented, and the TLSA data is computed from it with the seeds'
 * pipelines (`x509 -pubkey | pkey -pubin -outform der | sha256sum`, ...).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { makePki, openssl, tempDir, type KeyAlg, type Pki } from '../support/pki.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { hostPort, startPostfix, type PostfixInstance } from './postfix.js';
import { splitPem, startTlsServer, type TlsServer } from './tlsserver.js';

interface Endpoint {
  name: string;
  address: string;
  port: number;
  /** what s_client needs; danekeeper must choose the same from the port */
  starttls: 'smtp' | null;
  server: 'postfix' | 'postfix-wrapper' | 's_server';
  leafAlg: KeyAlg;
  /** send only the leaf, no intermediate */
  leafOnly?: boolean;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'Postfix STARTTLS, RSA-2048 leaf + intermediate',
    address: '127.0.10.1',
    port: 25,
    starttls: 'smtp',
    server: 'postfix',
    leafAlg: 'rsa2048',
  },
  {
    name: 'Postfix STARTTLS, ECDSA P-256 leaf only',
    address: '127.0.10.2',
    port: 25,
    starttls: 'smtp',
    server: 'postfix',
    leafAlg: 'p256',
    leafOnly: true,
  },
  {
    name: 'Postfix STARTTLS over IPv6, ECDSA P-384',
    address: 'fd00:53::1',
    port: 25,
    starttls: 'smtp',
    server: 'postfix',
    leafAlg: 'p384',
  },
  {
    name: 'Postfix implicit TLS (465), ECDSA P-256',
    address: '127.0.10.1',
    port: 465,
    starttls: null,
    server: 'postfix-wrapper',
    leafAlg: 'p256',
  },
  {
    name: 'openssl s_server implicit TLS (993), RSA-2048',
    address: '127.0.10.3',
    port: 993,
    starttls: null,
    server: 's_server',
    leafAlg: 'rsa2048',
  },
];

/** A Postfix listener that never offers STARTTLS, and a port nothing listens on. */
const NO_STARTTLS = { address: '127.0.10.4', port: 25 };
const CLOSED = { address: '127.0.10.1', port: 2525 };

// --- the reference: openssl and coreutils, nothing of danekeeper -------------------------

function sClientChain(ns: Netns, ep: Endpoint): string[] {
  const args = ['s_client', '-connect', hostPort(ep.address, ep.port), '-showcerts'];
  if (ep.starttls) args.push('-starttls', ep.starttls);
  const r = ns.execSync('openssl', args, { allowFail: true, timeoutMs: 10_000 });
  const certs = splitPem(r.stdout);
  assert.ok(certs.length > 0, `s_client saw no certificate from ${ep.name}: ${r.stderr}`);
  return certs;
}

function digestHex(data: Buffer, mtype: number): string {
  if (mtype === 0) return data.toString('hex');
  const tool = mtype === 1 ? 'sha256sum' : 'sha512sum';
  return execFileSync(tool, { input: data }).toString('utf8').split(/\s+/)[0]!;
}

function reference(certPem: string, usage: number, selector: number, mtype: number): string {
  const der =
    selector === 0
      ? openssl(['x509', '-outform', 'der'], certPem)
      : openssl(
          ['pkey', '-pubin', '-outform', 'der'],
          openssl(['x509', '-pubkey', '-noout'], certPem),
        );
  return `${usage} ${selector} ${mtype} ${digestHex(der, mtype)}`;
}

function lines(s: string): string[] {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function target(ep: { address: string; port: number }): string {
  return hostPort(ep.address, ep.port);
}

/** One line, naming what failed: no stack trace, no blank lines. */
function assertOneLineError(stderr: string, pattern: RegExp): void {
  const l = lines(stderr);
  assert.equal(l.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(l[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

const lab = labAvailable();

describe(
  'tlsa --fetch against real servers in a lab namespace',
  { skip: !lab.ok && lab.reason },
  () => {
    let ns: Netns | undefined;
    let postfix: PostfixInstance | undefined;
    let sServer: TlsServer | undefined;
    const pkis = new Map<Endpoint, Pki>();
    const seen = new Map<Endpoint, string[]>();

    let dir = '';

    before(async () => {
      dir = tempDir('dk-lab-fetch-');
      ns = await createNetns({
        addresses: ['127.0.10.1', '127.0.10.2', '127.0.10.3', '127.0.10.4', 'fd00:53::1'],
      });
      ENDPOINTS.forEach((ep, i) => {
        pkis.set(
          ep,
          makePki(dir, { leafAlg: ep.leafAlg, names: [`mx${i + 1}.lab.test`], prefix: `ep${i}-` }),
        );
      });
      const chainOf = (ep: Endpoint) => {
        const p = pkis.get(ep)!;
        return { keyFile: p.leaf.keyFile, chainFile: ep.leafOnly ? p.leaf.certFile : p.chainFile };
      };
      const first = pkis.get(ENDPOINTS[0]!)!;
      postfix = await startPostfix(ns, [
        ...ENDPOINTS.filter((ep) => ep.server !== 's_server').map((ep) => ({
          address: ep.address,
          port: ep.port,
          ...chainOf(ep),
          wrapper: ep.server === 'postfix-wrapper',
        })),
        {
          ...NO_STARTTLS,
          keyFile: first.leaf.keyFile,
          chainFile: first.chainFile,
          noStarttls: true,
        },
      ]);
      const s = ENDPOINTS.find((ep) => ep.server === 's_server')!;
      sServer = await startTlsServer(ns, { address: s.address, port: s.port, ...chainOf(s) });
      for (const ep of ENDPOINTS) seen.set(ep, sClientChain(ns, ep));
    });

    after(async () => {
      await sServer?.stop();
      await postfix?.stop();
      await ns?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const ep of ENDPOINTS) {
      describe(ep.name, () => {
        const fetch = (...args: string[]) =>
          runCli(['tlsa', '--fetch', target(ep), ...args], { netns: ns!.name });

        test('the lab serves the chain it was given (openssl s_client)', () => {
          const certs = seen.get(ep)!;
          const pki = pkis.get(ep)!;
          assert.equal(certs.length, ep.leafOnly ? 1 : 2);
          assert.deepEqual(openssl(['x509', '-outform', 'der'], certs[0]), pki.leaf.der);
          if (!ep.leafOnly)
            assert.deepEqual(openssl(['x509', '-outform', 'der'], certs[1]), pki.intermediate.der);
        });

        test('default is 3 1 1 of the leaf', () => {
          const r = fetch('--format', 'rdata');
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(lines(r.stdout), [reference(seen.get(ep)![0]!, 3, 1, 1)]);
        });

        for (const [s, m] of [
          [0, 1],
          [1, 2],
        ] as const) {
          test(`3 ${s} ${m} of the leaf`, () => {
            const r = fetch(
              '--usage',
              '3',
              '--selector',
              `${s}`,
              '--mtype',
              `${m}`,
              '--format',
              'rdata',
            );
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(lines(r.stdout), [reference(seen.get(ep)![0]!, 3, s, m)]);
          });
        }

        test('--format json', () => {
          const r = fetch('--format', 'json');
          assert.equal(r.code, 0, r.stderr);
          const records = JSON.parse(r.stdout) as Record<string, unknown>[];
          assert.ok(Array.isArray(records));
          assert.equal(records.length, 1);
          const [u, s, m, data] = reference(seen.get(ep)![0]!, 3, 1, 1).split(' ');
          assert.deepEqual(
            { usage: records[0]!.usage, selector: records[0]!.selector, mtype: records[0]!.mtype },
            { usage: Number(u), selector: Number(s), mtype: Number(m) },
          );
          assert.equal(records[0]!.data, data);
        });

        if (ep.leafOnly) {
          test('--chain fails with exit 65: the server sent no issuer (no trust-store root added)', () => {
            const r = fetch('--chain', '--format', 'rdata');
            assert.equal(r.code, 65, `stdout: ${r.stdout} stderr: ${r.stderr}`);
            assertOneLineError(r.stderr, /issuer/i);
            assert.equal(r.stdout, '', 'a failed --chain prints no partial record set');
          });
        } else {
          test('--chain: 3 1 1 of the leaf, 2 1 1 of the second certificate presented', () => {
            const certs = seen.get(ep)!;
            const r = fetch('--chain', '--format', 'rdata');
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(lines(r.stdout), [
              reference(certs[0]!, 3, 1, 1),
              reference(certs[1]!, 2, 1, 1),
            ]);
          });
        }
      });
    }

    test('explicit --starttls agrees with the port default', () => {
      const smtps = ENDPOINTS.find((ep) => ep.server === 'postfix-wrapper')!;
      const smtp = ENDPOINTS[0]!;
      for (const [ep, proto] of [
        [smtps, 'none'],
        [smtp, 'smtp'],
      ] as const) {
        const r = runCli(
          ['tlsa', '--fetch', target(ep), '--starttls', proto, '--format', 'rdata'],
          {
            netns: ns!.name,
          },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(lines(r.stdout), [reference(seen.get(ep)![0]!, 3, 1, 1)]);
      }
    });

    test('a server that offers no STARTTLS: exit 76, one line naming STARTTLS', () => {
      const r = runCli(['tlsa', '--fetch', target(NO_STARTTLS), '--format', 'rdata'], {
        netns: ns!.name,
      });
      assert.equal(r.code, 76, `stdout: ${r.stdout} stderr: ${r.stderr}`);
      assertOneLineError(r.stderr, /STARTTLS/);
      assert.equal(r.stdout, '');
    });

    test('a closed port: exit 69, one line', () => {
      const r = runCli(
        ['tlsa', '--fetch', target(CLOSED), '--starttls', 'smtp', '--format', 'rdata'],
        { netns: ns!.name },
      );
      assert.equal(r.code, 69, `stdout: ${r.stdout} stderr: ${r.stderr}`);
      assertOneLineError(r.stderr, /./);
      assert.equal(r.stdout, '');
    });
  },
);
