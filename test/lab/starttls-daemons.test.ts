/**
 * `danekeeper tlsa --fetch` against the real daemon of every STARTTLS dialogue the probe speaks
 * beyond SMTP (fetch.test.ts has Postfix and implicit TLS): Dovecot (IMAP, POP3, ManageSieve,
 * LMTP), slapd (LDAP StartTLS), Prosody (XMPP client and server streams), vsftpd (FTP AUTH
 * TLS), INN's nnrpd (NNTP) and PostgreSQL (SSLRequest), each started here in a lab namespace
 * with its own config. For each, the chain danekeeper reads is exactly the key's chain files
 * the daemon was given, and the same as `openssl s_client -starttls P -showcerts` saw.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runCliAsync, type CliResult } from '../support/cli.js';
import { makePki, openssl, tempDir, type KeyAlg, type Pki } from '../support/pki.js';
import type { Daemon } from './daemons/common.js';
import { startDovecot } from './daemons/dovecot.js';
import { startInn } from './daemons/inn.js';
import { startPostgres } from './daemons/postgres.js';
import { startProsody } from './daemons/prosody.js';
import { startSlapd } from './daemons/slapd.js';
import { startVsftpd } from './daemons/vsftpd.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { hostPort } from './postfix.js';
import { splitPem } from './tlsserver.js';

type Server = 'dovecot' | 'slapd' | 'prosody' | 'vsftpd' | 'inn' | 'postgres';

/** Which daemon serves which chain where. */
const SERVERS: Record<Server, { address: string; alg: KeyAlg }> = {
  dovecot: { address: '127.0.20.1', alg: 'rsa2048' },
  slapd: { address: '127.0.20.2', alg: 'p256' },
  prosody: { address: '127.0.20.3', alg: 'p384' },
  vsftpd: { address: '127.0.20.4', alg: 'p256' },
  inn: { address: '127.0.20.5', alg: 'rsa2048' },
  postgres: { address: '127.0.20.6', alg: 'p256' },
};
const XMPP_DOMAIN = 'xmpp.lab.test';

interface Endpoint {
  server: Server;
  /** danekeeper's --starttls name, which is also s_client's -starttls name */
  proto: string;
  /** the dialogue's standard port: danekeeper must pick `proto` from it */
  port: number;
  /** what to --fetch; default the address */
  host?: string;
}

const ENDPOINTS: Endpoint[] = [
  { server: 'dovecot', proto: 'imap', port: 143 },
  { server: 'dovecot', proto: 'pop3', port: 110 },
  { server: 'dovecot', proto: 'sieve', port: 4190 },
  { server: 'dovecot', proto: 'lmtp', port: 24 },
  { server: 'slapd', proto: 'ldap', port: 389 },
  // RFC 6120 §4.7.2: the stream's `to` is the service domain, so XMPP is fetched by name.
  { server: 'prosody', proto: 'xmpp', port: 5222, host: XMPP_DOMAIN },
  { server: 'prosody', proto: 'xmpp-server', port: 5269, host: XMPP_DOMAIN },
  { server: 'vsftpd', proto: 'ftp', port: 21 },
  { server: 'inn', proto: 'nntp', port: 119 },
  { server: 'postgres', proto: 'postgres', port: 5432 },
];

const label = (ep: Endpoint) => `${ep.server} ${ep.proto} (${ep.port})`;

// --- the reference: openssl and coreutils, nothing of danekeeper -------------------------

function sClientChain(ns: Netns, ep: Endpoint): Promise<string[]> {
  const { address } = SERVERS[ep.server];
  const args = ['s_client', '-connect', hostPort(address, ep.port), '-starttls', ep.proto];
  if (ep.host) args.push('-xmpphost', ep.host);
  args.push('-showcerts');
  return ns.exec('openssl', args, { allowFail: true, timeoutMs: 10_000 }).then((r) => {
    const certs = splitPem(r.stdout);
    assert.ok(certs.length > 0, `s_client saw no certificate from ${label(ep)}: ${r.stderr}`);
    return certs;
  });
}

/** The seeds' pipeline for 3 1 1: x509 -pubkey | pkey -pubin -outform der | sha256sum. */
function reference311(certPem: string): string {
  const spki = openssl(
    ['pkey', '-pubin', '-outform', 'der'],
    openssl(['x509', '-pubkey', '-noout'], certPem),
  );
  return `3 1 1 ${execFileSync('sha256sum', { input: spki }).toString('utf8').split(/\s+/)[0]}`;
}

const der = (pem: string) => openssl(['x509', '-outform', 'der'], pem);

function lines(s: string): string[] {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

const lab = labAvailable();

describe(
  'tlsa --fetch against the real daemon of every STARTTLS dialogue',
  { skip: !lab.ok && lab.reason },
  () => {
    let ns: Netns | undefined;
    let dir = '';
    const daemons: Daemon[] = [];
    const pkis = new Map<Server, Pki>();
    const seen = new Map<Endpoint, string[]>();
    /** `--chain --selector 0 --mtype 0` with the protocol taken from the port */
    const fullChain = new Map<Endpoint, CliResult>();
    /** the default 3 1 1 with an explicit --starttls */
    const explicit = new Map<Endpoint, CliResult>();
    let xmppByAddress: CliResult | undefined;

    before(async () => {
      dir = tempDir('dk-lab-starttls-');
      ns = await createNetns({
        addresses: Object.values(SERVERS).map((s) => s.address),
        hosts: `127.0.0.1 localhost\n${SERVERS.prosody.address} ${XMPP_DOMAIN}\n`,
      });
      for (const [server, { alg }] of Object.entries(SERVERS) as [Server, { alg: KeyAlg }][]) {
        const rsa = alg.startsWith('rsa');
        pkis.set(
          server,
          makePki(dir, {
            leafAlg: alg,
            caAlg: rsa ? 'rsa2048' : 'p256',
            names: [server === 'prosody' ? XMPP_DOMAIN : `${server}.lab.test`],
            prefix: `${server}-`,
          }),
        );
      }
      const tls = (s: Server) => ({
        address: SERVERS[s].address,
        keyFile: pkis.get(s)!.leaf.keyFile,
        chainFile: pkis.get(s)!.chainFile,
      });
      const started = await Promise.allSettled([
        startDovecot(ns, tls('dovecot')),
        startSlapd(ns, tls('slapd')),
        startProsody(ns, { ...tls('prosody'), domain: XMPP_DOMAIN }),
        startVsftpd(ns, tls('vsftpd')),
        startInn(ns, tls('inn')),
        startPostgres(ns, tls('postgres')),
      ]);
      for (const s of started) if (s.status === 'fulfilled') daemons.push(s.value);
      const failed = started.filter((s) => s.status === 'rejected');
      if (failed.length > 0) throw (failed[0] as PromiseRejectedResult).reason;

      for (const ep of ENDPOINTS) seen.set(ep, await sClientChain(ns, ep));
      // The CLI runs two at a time: each is a Node start-up, and the machine has two cores.
      const jobs: (() => Promise<void>)[] = [];
      for (const ep of ENDPOINTS) {
        const target = hostPort(ep.host ?? SERVERS[ep.server].address, ep.port);
        const run = (args: string[]) =>
          runCliAsync(['tlsa', '--fetch', target, ...args, '--format', 'rdata'], {
            netns: ns!.name,
            timeoutMs: 30_000,
          });
        jobs.push(async () => {
          fullChain.set(ep, await run(['--chain', '--selector', '0', '--mtype', '0']));
        });
        jobs.push(async () => {
          explicit.set(ep, await run(['--starttls', ep.proto]));
        });
      }
      // XMPP by address: the stream's `to` is then that address, which Prosody does not serve.
      jobs.push(async () => {
        xmppByAddress = await runCliAsync(
          ['tlsa', '--fetch', hostPort(SERVERS.prosody.address, 5222), '--format', 'rdata'],
          { netns: ns!.name, timeoutMs: 30_000 },
        );
      });
      const worker = async () => {
        for (let j = jobs.shift(); j; j = jobs.shift()) await j();
      };
      await Promise.all([worker(), worker()]);
    });

    after(async () => {
      await Promise.all(daemons.map((d) => d.stop()));
      await ns?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('XMPP fetched by address: exit 76, one line saying the stream needs the domain name', () => {
      const r = xmppByAddress!;
      assert.equal(r.code, 76, `stdout: ${r.stdout} stderr: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const l = lines(r.stderr);
      assert.equal(l.length, 1, r.stderr);
      assert.match(
        l[0]!,
        /host-unknown: the stream named the address 127\.0\.20\.3, .*fetch by the service's domain name$/,
      );
    });

    for (const ep of ENDPOINTS) {
      describe(label(ep), () => {
        test(`openssl s_client -starttls ${ep.proto} sees the configured leaf + intermediate`, () => {
          const pki = pkis.get(ep.server)!;
          assert.deepEqual(seen.get(ep)!.map(der), [pki.leaf.der, pki.intermediate.der]);
        });

        test('--chain -s 0 -m 0 (dialogue from the port): exactly the configured chain', () => {
          const r = fullChain.get(ep)!;
          assert.equal(r.code, 0, r.stderr);
          const pki = pkis.get(ep.server)!;
          assert.deepEqual(lines(r.stdout), [
            `3 0 0 ${pki.leaf.der.toString('hex')}`,
            `2 0 0 ${pki.intermediate.der.toString('hex')}`,
          ]);
        });

        test(`--starttls ${ep.proto}: 3 1 1 as openssl's pipeline computes it from s_client's leaf`, () => {
          const r = explicit.get(ep)!;
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(lines(r.stdout), [reference311(seen.get(ep)![0]!)]);
        });
      });
    }
  },
);
