/**
 * A throw-away OpenLDAP slapd (Debian's package, installed with no system database) inside a
 * lab namespace: `slapd -d` in the foreground with its own slapd.conf in a temp dir, serving
 * ldap:// on one address with the StartTLS extended operation (RFC 4511 §4.14). It holds one
 * empty in-memory database, enough for a directory that answers; nothing binds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from '../netns.js';
import { hostPort } from '../postfix.js';
import { daemonDir, installTls, startDaemon, type Daemon, type TlsFiles } from './common.js';

export async function startSlapd(
  ns: Netns,
  o: TlsFiles & { address: string; port?: number },
): Promise<Daemon & { port: number }> {
  const port = o.port ?? 389;
  const dir = daemonDir('slapd');
  const tls = installTls(dir, o);
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      // OpenLDAP (OpenSSL build) reads TLSCertificateFile as a chain file: leaf, then issuers.
      `TLSCertificateFile ${tls.chainFile}`,
      `TLSCertificateKeyFile ${tls.keyFile}`,
      'database mdb',
      'suffix "dc=lab,dc=test"',
      `directory ${dir}`,
      'maxsize 1048576',
      '',
    ].join('\n'),
  );
  const d = await startDaemon(ns, {
    name: 'slapd',
    dir,
    cmd: '/usr/sbin/slapd',
    // -d: stay in the foreground (debug level 0 logs nothing but fatal errors to stderr)
    args: ['-d', '0', '-f', conf, '-h', `ldap://${hostPort(o.address, port)}/`],
    listeners: [{ address: o.address, port }],
  });
  return Object.assign(d, { port });
}
