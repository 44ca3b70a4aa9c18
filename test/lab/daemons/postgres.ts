/**
 * A throw-away PostgreSQL (Debian's postgresql, the cluster binaries under
 * /usr/lib/postgresql/N/bin, not pg_ctlcluster) inside a lab namespace: `initdb` into a temp
 * dir as the postgres user, then `postgres` in the foreground with ssl=on, answering the
 * SSLRequest (PostgreSQL protocol, "SSL Session Encryption") on one address.
 */
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Netns } from '../netns.js';
import {
  asUser,
  daemonDir,
  installTls,
  startDaemon,
  type Daemon,
  type TlsFiles,
} from './common.js';
import { userIds } from './users.js';

/** The newest installed server's bin directory (Debian 12: 15). */
export function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`Starting postgres failed: no server under ${base}`);
  return join(base, versions[0]!, 'bin');
}

export async function startPostgres(
  ns: Netns,
  o: TlsFiles & { address: string; port?: number },
): Promise<Daemon & { port: number }> {
  const port = o.port ?? 5432;
  const bin = postgresBin();
  const { uid, gid } = userIds('postgres');
  const dir = daemonDir('postgres');
  // The server refuses a key file others can read and runs as postgres: both files are its.
  const tls = installTls(dir, o, [uid, gid]);
  const data = join(dir, 'data');
  const sockets = join(dir, 'run');
  for (const d of [data, sockets]) {
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, uid, gid);
  }
  const init = spawnSync(
    'runuser',
    ['-u', 'postgres', '--', join(bin, 'initdb'), '-D', data, '--auth=trust', '-U', 'postgres'],
    { encoding: 'utf8', cwd: dir },
  );
  if (init.status !== 0)
    throw new Error(`initdb for the lab's postgres failed: ${(init.stderr || init.stdout).trim()}`);
  return Object.assign(
    await startDaemon(ns, {
      name: 'postgres',
      dir,
      ...asUser('postgres', join(bin, 'postgres'), [
        '-D',
        data,
        '-c',
        `listen_addresses=${o.address}`,
        '-c',
        `port=${port}`,
        '-c',
        `unix_socket_directories=${sockets}`,
        '-c',
        'ssl=on',
        // ssl_cert_file may hold the chain: the server sends every certificate in it.
        '-c',
        `ssl_cert_file=${tls.chainFile}`,
        '-c',
        `ssl_key_file=${tls.keyFile}`,
        '-c',
        'logging_collector=off',
      ]),
      // SIGINT is "fast shutdown"; SIGTERM to every process at once would orphan backends.
      stopSignal: 'SIGINT',
      listeners: [{ address: o.address, port }],
    }),
    { port },
  );
}
