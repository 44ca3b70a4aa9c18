/**
 * Runs inside the lab namespace (callInNetns): the ACME client against Pebble, HTTP-01 through
 * its own listener or a webroot served by a small static server here. Everything crosses as
 * JSON; private keys go in as PEM and never come back.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ensureAccount } from '../../src/io/acme/account.js';
import { AcmeClient } from '../../src/io/acme/client.js';
import { HttpListenerSolver, WebrootSolver } from '../../src/io/acme/http01.js';
import { obtainCertificate, type Obtained } from '../../src/io/acme/obtain.js';
import { makeRequester } from '../../src/io/acme/http.js';

export interface Common {
  directory: string;
  caFile?: string;
  email?: string;
  eab?: { kid: string; hmacKey: string };
  badNonceRetries?: number;
  account?: { keyPem: string; url?: string };
}

function settings(c: Common) {
  return {
    directory: c.directory,
    ...(c.caFile !== undefined ? { ca: readFileSync(c.caFile, 'utf8') } : {}),
    ...(c.email !== undefined ? { email: c.email } : {}),
    ...(c.eab !== undefined ? { eab: c.eab } : {}),
    ...(c.badNonceRetries !== undefined ? { badNonceRetries: c.badNonceRetries } : {}),
    pollLimitSeconds: 60,
  };
}

export async function register(
  c: Common,
): Promise<{ url: string; keyPem: string; created: boolean }> {
  const a = await ensureAccount(settings(c), c.account);
  return { url: a.url, keyPem: a.keyPem, created: a.created };
}

export async function directory(c: Common) {
  return new AcmeClient({ ...settings(c), accountKeyPem: (await register(c)).keyPem }).directory();
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function obtainHttp01(
  c: Common,
  o: { names: string[]; keyPem: string; listen: string },
): Promise<{ account: string; obtained: Obtained; served: string[]; listenerOpenAfter: boolean }> {
  const a = await ensureAccount(settings(c), c.account);
  const solver = new HttpListenerSolver(o.listen);
  const obtained = await obtainCertificate(a.client, { names: o.names, keyPem: o.keyPem, solver });
  const [host, port] = [
    o.listen.slice(0, o.listen.lastIndexOf(':')),
    Number(o.listen.slice(o.listen.lastIndexOf(':') + 1)),
  ];
  return {
    account: a.url,
    obtained,
    served: solver.served,
    listenerOpenAfter: await portOpen(host, port),
  };
}

/** Serves `webroot` on `listen` as a web server would, while the client writes into it. */
export async function obtainWebroot(
  c: Common,
  o: { names: string[]; keyPem: string; listen: string; webroot: string },
): Promise<{ obtained: Obtained; servedFiles: string[]; leftInWebroot: string[] }> {
  const servedFiles: string[] = [];
  const server = createServer((req, res) => {
    const file = join(o.webroot, (req.url ?? '/').split('?')[0]!);
    if (!file.startsWith(o.webroot) || !existsSync(file)) return void res.writeHead(404).end();
    servedFiles.push(req.url ?? '');
    res.writeHead(200).end(readFileSync(file));
  });
  const i = o.listen.lastIndexOf(':');
  await new Promise<void>((r) =>
    server.listen(Number(o.listen.slice(i + 1)), o.listen.slice(0, i), r),
  );
  try {
    const a = await ensureAccount(settings(c), c.account);
    const obtained = await obtainCertificate(a.client, {
      names: o.names,
      keyPem: o.keyPem,
      solver: new WebrootSolver(o.webroot),
    });
    const dir = join(o.webroot, '.well-known', 'acme-challenge');
    return { obtained, servedFiles, leftInWebroot: existsSync(dir) ? readdirSync(dir) : [] };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** Pebble's root (management interface), to check the chain it returned. */
export async function pebbleRoot(management: string, caFile: string): Promise<string> {
  const req = makeRequester({ ca: readFileSync(caFile, 'utf8') });
  return (await req('GET', `${management}/roots/0`)).body.toString();
}

/** DNS-01 through the rfc2136 backend (TSIG key file), waiting for every authoritative server. */
export async function obtainDns01(
  c: Common,
  o: {
    names: string[];
    keyPem: string;
    zone: string;
    server: string;
    keyFile: string;
    resolver: string;
  },
) {
  const { createRfc2136Publisher, parseTsigKeyFile } =
    await import('../../src/publish/rfc2136/index.js');
  const { Dns01Solver } = await import('../../src/publish/acme-dns01.js');
  const { StubResolver } = await import('../../src/io/dns/resolver.js');
  const { serverAddress } = await import('../../src/io/dns/config.js');
  const publisher = createRfc2136Publisher({
    zone: o.zone,
    server: { host: o.server, port: 53 },
    key: parseTsigKeyFile(readFileSync(o.keyFile, 'utf8'), o.keyFile),
    timeoutMs: 3000,
  });
  const resolver = new StubResolver({
    servers: [serverAddress(o.resolver)],
    timeoutMs: 2000,
    tries: 2,
  });
  const looks: string[][] = [];
  const solver = new Dns01Solver({
    publisher,
    resolver,
    ttl: 5,
    intervalMs: 250,
    propagationTimeoutMs: 30_000,
    onLook: (s) => looks.push(s.map((x) => `${x.address} ${x.state}`)),
  });
  const a = await ensureAccount(settings(c), c.account);
  const obtained = await obtainCertificate(a.client, { names: o.names, keyPem: o.keyPem, solver });
  const after: Record<string, string[]> = {};
  for (const n of o.names) after[n] = (await publisher.readTxt!(`_acme-challenge.${n}.`)).values;
  return { obtained, looks, txtAfter: after };
}

/** A hand-made TXT value stays: add it with the TXT policy, as a person or another client would. */
export async function addHandTxt(o: {
  zone: string;
  server: string;
  keyFile: string;
  owner: string;
  value: string;
}) {
  const { createRfc2136Publisher, parseTsigKeyFile } =
    await import('../../src/publish/rfc2136/index.js');
  const { addTxt } = await import('../../src/publish/txt-set.js');
  const p = createRfc2136Publisher({
    zone: o.zone,
    server: { host: o.server, port: 53 },
    key: parseTsigKeyFile(readFileSync(o.keyFile, 'utf8'), o.keyFile),
  });
  return addTxt(p, o.owner, [o.value], { ttl: 60 });
}
