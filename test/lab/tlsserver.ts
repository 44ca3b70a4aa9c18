/**
 * An implicit-TLS listener ("993 style") inside a lab namespace: `openssl s_server` presenting
 * exactly the chain it is given (no CA store is loaded, so OpenSSL cannot complete the chain
 * on its own). It answers a TLS handshake and nothing else of IMAP: enough to fetch a chain.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/pki.js';
import type { LabProcess, Netns } from './netns.js';
import { hostPort } from './postfix.js';

export interface TlsServerOptions {
  address: string;
  port: number;
  keyFile: string;
  /** PEM, leaf first, then the issuers to send */
  chainFile: string;
  /** how long to wait for the handshake to work; default 10 s */
  startTimeoutMs?: number;
}

export interface TlsServer {
  readonly address: string;
  readonly port: number;
  readonly process: LabProcess;
  /** temp dir with the split chain; removed by stop() */
  readonly dir: string;
  /** s_server's output so far */
  output(): string;
  stop(): Promise<void>;
}

/** Splits a PEM bundle into its certificates, in order. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

export async function startTlsServer(ns: Netns, o: TlsServerOptions): Promise<TlsServer> {
  const certs = splitPem(readFileSync(o.chainFile, 'utf8'));
  if (certs.length === 0)
    throw new Error(`Starting s_server failed: no certificate in ${o.chainFile}`);
  // -cert reads only the first certificate; the rest must come through -cert_chain, or the
  // leaf would be sent twice.
  const dir = tempDir('dk-tlsserver-');
  const leaf = join(dir, 'leaf.pem');
  writeFileSync(leaf, certs[0]!);
  const args = [
    's_server',
    '-accept',
    hostPort(o.address, o.port),
    '-cert',
    leaf,
    '-key',
    o.keyFile,
  ];
  if (certs.length > 1) {
    const rest = join(dir, 'issuers.pem');
    writeFileSync(rest, certs.slice(1).join(''));
    args.push('-cert_chain', rest);
  }
  // -www: serve connections one after another, forever, without reading stdin
  args.push('-www', '-no-CAfile', '-no-CApath', '-no-CAstore');
  const proc = ns.spawn('openssl', args, { label: `s_server ${hostPort(o.address, o.port)}` });
  try {
    await Promise.race([
      ns.probe([{ host: o.address, port: o.port, kind: 'tls' }], o.startTimeoutMs ?? 10_000),
      proc.exited.then((code) => {
        throw new Error(`s_server exited ${code}`);
      }),
    ]);
  } catch (e) {
    await proc.stop(500);
    rmSync(dir, { recursive: true, force: true });
    const out = proc.output().trim().split('\n').slice(-4).join(' | ');
    throw new Error(
      `Starting s_server on ${hostPort(o.address, o.port)} failed: ${(e as Error).message}` +
        (out ? ` (${out})` : ''),
    );
  }
  return {
    address: o.address,
    port: o.port,
    process: proc,
    dir,
    output: () => proc.output(),
    async stop() {
      await proc.stop(1_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
