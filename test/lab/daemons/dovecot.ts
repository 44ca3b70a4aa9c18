/**
 * A throw-away Dovecot (Debian's dovecot-imapd, -pop3d, -managesieved, -lmtpd) inside a lab
 * namespace: one master in the foreground with its own dovecot.conf, base_dir and log in a
 * temp dir, serving IMAP (STARTTLS, RFC 3501 §6.2.1), POP3 (STLS, RFC 2595 §4), ManageSieve
 * (STARTTLS, RFC 5804 §2.2) and LMTP (STARTTLS, RFC 2033 + RFC 3207) on one address. No
 * user ever logs in: a static passdb only satisfies Dovecot's "no passdbs" check.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from '../netns.js';
import { daemonDir, installTls, startDaemon, type Daemon, type TlsFiles } from './common.js';

export interface DovecotPorts {
  imap: number;
  pop3: number;
  sieve: number;
  lmtp: number;
}

export const DOVECOT_PORTS: DovecotPorts = { imap: 143, pop3: 110, sieve: 4190, lmtp: 24 };

export async function startDovecot(
  ns: Netns,
  o: TlsFiles & { address: string; ports?: DovecotPorts },
): Promise<Daemon & { ports: DovecotPorts }> {
  const ports = o.ports ?? DOVECOT_PORTS;
  const dir = daemonDir('dovecot');
  const tls = installTls(dir, o);
  const run = join(dir, 'run');
  mkdirSync(run, { mode: 0o755 });
  const logFile = join(dir, 'dovecot.log');
  // Listener names are Dovecot's built-in ones, so these replace the defaults; the implicit-TLS
  // twins (imaps 993, pop3s 995) get port 0: not listening.
  const listen = (service: string, name: string, port: number, tlsTwin?: string) =>
    `service ${service} {\n  inet_listener ${name} {\n    address = ${o.address}\n    port = ${port}\n  }\n` +
    (tlsTwin ? `  inet_listener ${tlsTwin} {\n    port = 0\n  }\n` : '') +
    '}';
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    [
      `base_dir = ${run}`,
      `state_dir = ${join(dir, 'state')}`,
      `instance_name = dk-lab-${process.pid}`,
      'protocols = imap pop3 sieve lmtp',
      `listen = ${o.address}`,
      `log_path = ${logFile}`,
      // `<file`: Dovecot reads the file; it sends every certificate in ssl_cert, leaf first.
      'ssl = yes',
      `ssl_cert = <${tls.chainFile}`,
      `ssl_key = <${tls.keyFile}`,
      // Plaintext auth is refused anyway without TLS; nothing here authenticates.
      'disable_plaintext_auth = yes',
      'passdb {\n  driver = static\n  args = nopassword=y\n}',
      `userdb {\n  driver = static\n  args = uid=dovecot gid=dovecot home=${join(dir, 'home')}/%u\n}`,
      `mail_location = maildir:${join(dir, 'home')}/%u/Maildir`,
      // lmtp listens on a unix socket by default; here on TCP as a mail host's LMTP would.
      `service lmtp {\n  unix_listener lmtp {\n    mode = 0600\n  }\n  inet_listener lmtp {\n` +
        `    address = ${o.address}\n    port = ${ports.lmtp}\n  }\n}`,
      listen('imap-login', 'imap', ports.imap, 'imaps'),
      listen('pop3-login', 'pop3', ports.pop3, 'pop3s'),
      listen('managesieve-login', 'sieve', ports.sieve),
      // Debian's managesieve protocol plugin lives with the other modules.
      'protocol sieve {\n}',
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'state'), { mode: 0o755 });
  mkdirSync(join(dir, 'home'), { mode: 0o755 });
  const d = await startDaemon(ns, {
    name: 'dovecot',
    dir,
    cmd: '/usr/sbin/dovecot',
    args: ['-F', '-c', conf],
    logFile,
    listeners: Object.values(ports).map((port) => ({ address: o.address, port })),
  });
  return Object.assign(d, { ports });
}
