/**
 * A throw-away Prosody (Debian's package) inside a lab namespace: `prosody -F --config` with
 * its own prosody.cfg.lua, data dir and log in a temp dir, serving one VirtualHost over XMPP
 * client streams (c2s, RFC 6120 §5.4 STARTTLS) and server streams (s2s) on one address. It
 * runs as the prosody user, as it insists.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chownSync } from 'node:fs';
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

export interface ProsodyPorts {
  c2s: number;
  s2s: number;
}

export async function startProsody(
  ns: Netns,
  o: TlsFiles & { address: string; domain?: string; ports?: ProsodyPorts },
): Promise<Daemon & { ports: ProsodyPorts; domain: string }> {
  const ports = o.ports ?? { c2s: 5222, s2s: 5269 };
  const domain = o.domain ?? 'xmpp.lab.test';
  const user = userIds('prosody');
  const dir = daemonDir('prosody');
  const tls = installTls(dir, o, [user.uid, user.gid]);
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o750 });
  chownSync(data, user.uid, user.gid);
  chownSync(dir, user.uid, user.gid);
  const logFile = join(dir, 'prosody.log');
  const lua = (s: string) => JSON.stringify(s);
  const conf = join(dir, 'prosody.cfg.lua');
  writeFileSync(
    conf,
    [
      `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
      `data_path = ${lua(data)}`,
      `log = { { levels = { min = "info" }, to = "file", filename = ${lua(logFile)} } }`,
      `interfaces = { ${lua(o.address)} }`,
      'local_interfaces = {}',
      `c2s_ports = { ${ports.c2s} }`,
      `s2s_ports = { ${ports.s2s} }`,
      'c2s_direct_tls_ports = {}',
      'https_ports = {}',
      'http_ports = {}',
      'component_ports = {}',
      'modules_enabled = { "tls", "saslauth", "dialback", "disco" }',
      'modules_disabled = { "posix" }',
      'daemonize = false',
      'c2s_require_encryption = true',
      's2s_require_encryption = true',
      // Certificates with names but no trust here: peers are not authenticated in the lab.
      's2s_secure_auth = false',
      'authentication = "internal_hashed"',
      `VirtualHost ${lua(domain)}`,
      // LuaSec loads `certificate` as a chain file: leaf, then issuers.
      `  ssl = { certificate = ${lua(tls.chainFile)}, key = ${lua(tls.keyFile)} }`,
      '',
    ].join('\n'),
  );
  chownSync(conf, user.uid, user.gid);
  const d = await startDaemon(ns, {
    name: 'prosody',
    dir,
    ...asUser('prosody', '/usr/bin/prosody', ['-F', '--config', conf]),
    logFile,
    listeners: [
      { address: o.address, port: ports.c2s },
      { address: o.address, port: ports.s2s },
    ],
  });
  return Object.assign(d, { ports, domain });
}
