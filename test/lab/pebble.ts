/**
 * Pebble (Let's Encrypt's test ACME server, Debian's package, 2.4) inside a lab namespace.
 * Its HTTPS certificate comes from a CA the test makes (the client trusts it through
 * `ca-file`, as a user of a private CA would); `-dnsserver` points at the lab's Unbound so it
 * resolves lab names for HTTP-01 and DNS-01. Pebble 2.4 has no ARI, profiles or `replaces`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, tempDir } from '../support/pki.js';
import type { LabProcess, Netns } from './netns.js';

export interface PebbleSpec {
  /** the name Pebble's HTTPS certificate carries; the lab's DNS must resolve it to `address` */
  hostname: string;
  address: string;
  /** the lab resolver Pebble asks (host:port) */
  dnsServer: string;
  /** the port HTTP-01 validation connects to (RFC 8555 §8.3 says 80) */
  httpPort?: number;
  /** PEBBLE_WFE_NONCEREJECT: percentage of good nonces refused as badNonce (Pebble's default 5) */
  nonceReject?: number;
  /** external account binding keys (kid -> base64url HMAC key); when given, EAB is required */
  eab?: Record<string, string>;
  dir?: string;
}

export interface Pebble {
  directory: string;
  /** the management interface (roots, intermediates), HTTPS under the same CA */
  management: string;
  /** PEM of the CA that issued Pebble's HTTPS certificate: the client's `ca-file` */
  caFile: string;
  caPem: string;
  process: LabProcess;
  stop(): Promise<void>;
}

export const PEBBLE_PORT = 14000;
export const PEBBLE_MANAGEMENT_PORT = 15000;

export async function startPebble(ns: Netns, spec: PebbleSpec): Promise<Pebble> {
  const dir = spec.dir ?? tempDir('dk-pebble-');
  const ca = issue(dir, 'pebble-https-ca', {
    cn: 'danekeeper lab ACME HTTPS CA',
    ca: true,
    notAfterDays: 30,
  });
  const leaf = issue(dir, 'pebble-https', { cn: spec.hostname, dnsNames: [spec.hostname] }, ca);
  const config = join(dir, 'pebble-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `${spec.address}:${PEBBLE_PORT}`,
        managementListenAddress: `${spec.address}:${PEBBLE_MANAGEMENT_PORT}`,
        certificate: leaf.certFile,
        privateKey: leaf.keyFile,
        httpPort: spec.httpPort ?? 80,
        tlsPort: 443,
        ocspResponderURL: '',
        externalAccountBindingRequired: spec.eab !== undefined,
        ...(spec.eab ? { externalAccountMACKeys: spec.eab } : {}),
      },
    }),
  );
  const proc = ns.spawn('pebble', ['-config', config, '-dnsserver', spec.dnsServer], {
    label: 'pebble',
    cwd: dir,
    env: {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: String(spec.nonceReject ?? 5),
      // every order gets fresh authorizations, so each test sees a challenge answered
      PEBBLE_AUTHZREUSE: '0',
    },
  });
  try {
    await ns.probe([{ host: spec.address, port: PEBBLE_PORT, kind: 'tls' }], 15_000);
  } catch (e) {
    await proc.stop();
    throw new Error(`Pebble did not start: ${(e as Error).message}\n${proc.output()}`);
  }
  return {
    directory: `https://${spec.hostname}:${PEBBLE_PORT}/dir`,
    management: `https://${spec.hostname}:${PEBBLE_MANAGEMENT_PORT}`,
    caFile: ca.certFile,
    caPem: ca.certPem,
    process: proc,
    stop: () => proc.stop(),
  };
}
