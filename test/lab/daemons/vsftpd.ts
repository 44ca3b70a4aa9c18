/**
 * A throw-away vsftpd (Debian's package) inside a lab namespace: standalone in the foreground
 * (`listen=YES`, `background=NO`) with its own vsftpd.conf in a temp dir, answering AUTH TLS
 * (RFC 4217 §4) on one address. Nobody logs in.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from '../netns.js';
import { daemonDir, installTls, startDaemon, type Daemon, type TlsFiles } from './common.js';

export async function startVsftpd(
  ns: Netns,
  o: TlsFiles & { address: string; port?: number },
): Promise<Daemon & { port: number }> {
  const port = o.port ?? 21;
  const dir = daemonDir('vsftpd');
  const tls = installTls(dir, o);
  // secure_chroot_dir must exist, belong to root and not be writable by others.
  const empty = join(dir, 'empty');
  mkdirSync(empty, { mode: 0o755 });
  const logFile = join(dir, 'vsftpd.log');
  const conf = join(dir, 'vsftpd.conf');
  writeFileSync(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'background=NO',
      `listen_address=${o.address}`,
      `listen_port=${port}`,
      // vsftpd refuses to serve with both logins off ("500 OOPS"); local logins stay on (PAM),
      // and nobody in the lab has a password.
      'anonymous_enable=NO',
      'local_enable=YES',
      'seccomp_sandbox=NO',
      `secure_chroot_dir=${empty}`,
      'ftpd_banner=lab vsftpd',
      'ssl_enable=YES',
      // vsftpd loads rsa_cert_file with SSL_CTX_use_certificate_chain_file: leaf, then issuers.
      `rsa_cert_file=${tls.chainFile}`,
      `rsa_private_key_file=${tls.keyFile}`,
      'ssl_tlsv1=NO',
      'ssl_sslv2=NO',
      'ssl_sslv3=NO',
      'xferlog_enable=YES',
      `vsftpd_log_file=${logFile}`,
      '',
    ].join('\n'),
  );
  const d = await startDaemon(ns, {
    name: 'vsftpd',
    dir,
    cmd: '/usr/sbin/vsftpd',
    args: [conf],
    logFile,
    listeners: [{ address: o.address, port }],
  });
  return Object.assign(d, { port });
}
