/**
 * Brings the lab up by hand, to try danekeeper without owning a domain:
 *
 *   sudo node --import tsx test/lab/up.ts
 *
 * Starts a namespace with Postfix and openssl s_server presenting freshly made chains, prints
 * what listens where and the commands to run inside the namespace, and tears everything down
 * on Ctrl-C.
 */
import { rmSync } from 'node:fs';
import { makePki, tempDir } from '../support/pki.js';
import { labResolvConf, startDnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable } from './netns.js';
import { startPostfix } from './postfix.js';
import { startTlsServer } from './tlsserver.js';

const avail = labAvailable();
if (!avail.ok) {
  console.error(
    `The lab cannot start: ${avail.reason} (try: sudo node --import tsx test/lab/up.ts)`,
  );
  process.exit(1);
}

const started = Date.now();
const dir = tempDir('dk-lab-up-');
const ns = await createNetns({
  addresses: ['127.0.10.1', '127.0.10.2', '127.0.10.3', 'fd00:53::1'],
  resolvConf: labResolvConf(),
});
// A signed private tree with a zone that BIND signs itself and updates with TSIG (primary
// 127.0.54.1, a lagging secondary 127.0.54.2), for the dns and dnssec commands.
const tsig = labTsigKey('danekeeper-lab', 'hmac-sha256');
const dnsLab = await startDnsLab(ns, {
  zones: [
    {
      name: 'lab.test',
      signing: 'inline',
      servers: ['127.0.54.1'],
      secondaries: ['127.0.54.2'],
      updateKeys: [tsig],
      records: [
        { name: '@', type: 'MX', data: '10 mx1' },
        { name: 'mx1', type: 'A', data: '127.0.10.1' },
        { name: 'mx2', type: 'A', data: '127.0.10.2' },
      ],
    },
    { name: 'island.test', security: 'island', servers: ['127.0.54.3'] },
  ],
});
const tsigFile = dnsLab.tsigKeyFile(tsig);
const rsa = makePki(dir, { leafAlg: 'rsa2048', names: ['mx1.lab.test'], prefix: 'rsa-' });
const ec = makePki(dir, { leafAlg: 'p256', names: ['mx2.lab.test'], prefix: 'ec-' });
const imap = makePki(dir, { leafAlg: 'p256', names: ['imap.lab.test'], prefix: 'imap-' });

const rsaChain = { keyFile: rsa.leaf.keyFile, chainFile: rsa.chainFile };
const postfix = await startPostfix(
  ns,
  [
    { address: '127.0.10.1', port: 25, ...rsaChain },
    { address: '127.0.10.1', port: 465, ...rsaChain, wrapper: true },
    { address: '127.0.10.2', port: 25, keyFile: ec.leaf.keyFile, chainFile: ec.leaf.certFile },
    { address: 'fd00:53::1', port: 25, ...rsaChain },
  ],
  { keepDir: process.env.DK_LAB_KEEP === '1' },
);
const sServer = await startTlsServer(ns, {
  address: '127.0.10.3',
  port: 993,
  keyFile: imap.leaf.keyFile,
  chainFile: imap.chainFile,
});

const inNs = `ip netns exec ${ns.name}`;
const dk = `${inNs} node --import tsx src/cli/main.ts`;
console.log(`The danekeeper lab is up in namespace ${ns.name} (${Date.now() - started} ms).

  127.0.10.1:25      Postfix, STARTTLS        RSA-2048 leaf + intermediate (${rsa.chainFile})
  127.0.10.1:465     Postfix, implicit TLS    same chain
  127.0.10.2:25      Postfix, STARTTLS        ECDSA P-256 leaf only (${ec.leaf.certFile})
  [fd00:53::1]:25    Postfix, STARTTLS        the RSA chain, over IPv6
  127.0.10.3:993     openssl s_server         ECDSA P-256 leaf + intermediate (${imap.chainFile})

  127.0.54.1:53      BIND, primary of lab.test (signs it, takes updates with ${tsigFile})
  127.0.54.2:53      BIND, secondary of lab.test (lags until: ${inNs} ${dnsLab.rndcCommand('retransfer', 'lab.test', '127.0.54.2').join(' ')})
  127.0.53.53:53     Unbound, validating (the namespace's resolv.conf)

  Roots (never sent by the servers): ${rsa.root.certFile}, ${ec.root.certFile}, ${imap.root.certFile}
  Postfix config and maillog: ${postfix.configDir}, ${postfix.logFile}

Try, from ${process.cwd()} (as root):
  ${dk} tlsa --fetch 127.0.10.1:25 --chain
  ${dk} tlsa --fetch [fd00:53::1]:25 --format json
  ${dk} tlsa --fetch 127.0.10.3:993 --selector 0 --mtype 2
  ${inNs} openssl s_client -connect 127.0.10.1:25 -starttls smtp -showcerts </dev/null
  ${inNs} env MAIL_CONFIG=${postfix.configDir} posttls-finger -c -l secure -F ${rsa.root.certFile} '[127.0.10.1]:25' mx1.lab.test
  ${inNs} env MAIL_CONFIG=${postfix.configDir} posttls-finger -c -w -l secure -F ${rsa.root.certFile} '[127.0.10.1]:465' mx1.lab.test
  ${dk} dns add-tlsa --zone lab.test --name mx1 --port 25 --backend rfc2136 --server 127.0.54.1 --tsig-key ${tsigFile} --state ${dir}/state.db --data $(${dk} tlsa --fetch 127.0.10.1:25 | cut -d' ' -f4)
  ${dk} dns propagation --zone lab.test --name mx1 --backend rfc2136 --server 127.0.54.1 --tsig-key ${tsigFile}
  ${dk} dnssec status island.test
  ${inNs} bash        # a shell inside the lab

Ctrl-C tears it all down.`);

// On Ctrl-C the netns module kills everything in the namespace and deletes it (an exit hook
// registered by createNetns, which runs before this one).
process.on('exit', () => {
  if (process.env.DK_LAB_KEEP !== '1')
    for (const d of [dir, postfix.dir, sServer.dir]) rmSync(d, { recursive: true, force: true });
  console.log(`\nLab ${ns.name} torn down.`);
});
setInterval(() => {}, 1 << 30);
