/**
 * Configuration text for the lab's BIND (authoritative) and Unbound (validating resolver).
 * Pure string builders, so a later lab piece (TSIG-updatable zones, a secondary that lags, a
 * second named) adds views, zones or keys here without touching the process code.
 */
import { isIP } from 'node:net';

export interface NamedZone {
  name: string;
  type: 'primary' | 'secondary';
  /** zone file (read for primaries, written for secondaries) */
  file: string;
  /** secondaries: where to transfer from */
  primaries?: string[];
  /** further statements inside `zone { }`, e.g. `allow-update { key "k"; };` */
  extra?: string[];
}

/**
 * One view per nameserver address: a query to that address sees only the zones that server
 * serves, so one named process plays root, TLD and zone servers with real delegations.
 */
export interface NamedView {
  name: string;
  /** the addresses this "server" answers on (`match-destinations`) */
  addresses: string[];
  zones: NamedZone[];
}

export interface NamedConfOptions {
  dir: string;
  views: NamedView[];
  /** rndc control channel inside the namespace */
  control: { address: string; port: number; keyName: string; secret: string };
  /** further top-level statements (TSIG `key` blocks, ...) */
  extra?: string[];
}

const q = (s: string) => JSON.stringify(s);

function addrList(as: string[]): string {
  return as.length === 0 ? '{ none; }' : `{ ${as.map((a) => `${a};`).join(' ')} }`;
}

export function namedConf(o: NamedConfOptions): string {
  const all = [...new Set(o.views.flatMap((v) => v.addresses))];
  const v4 = all.filter((a) => isIP(a) === 4);
  const v6 = all.filter((a) => isIP(a) === 6);
  const { control: c } = o;
  const lines = [
    '// danekeeper DNS lab: written by test/lab/dns/conf.ts',
    `key ${q(c.keyName)} { algorithm hmac-sha256; secret ${q(c.secret)}; };`,
    `controls { inet ${c.address} port ${c.port} allow { ${c.address}; } keys { ${q(c.keyName)}; }; };`,
    ...(o.extra ?? []),
    'options {',
    `  directory ${q(o.dir)};`,
    `  pid-file ${q(`${o.dir}/named.pid`)};`,
    `  session-keyfile ${q(`${o.dir}/session.key`)};`,
    `  managed-keys-directory ${q(o.dir)};`,
    `  listen-on port 53 ${addrList(v4)};`,
    `  listen-on-v6 port 53 ${addrList(v6)};`,
    '  recursion no;',
    '  dnssec-validation no;',
    '  notify no;',
    '  allow-query { any; };',
    '  allow-transfer { any; };',
    // the lab's zones are tiny; answers must not be shaped by the host's cache sizing
    '  max-cache-size 8M;',
    '};',
  ];
  for (const v of o.views) {
    lines.push(
      `view ${q(v.name)} {`,
      '  match-clients { any; };',
      `  match-destinations ${addrList(v.addresses)};`,
    );
    for (const z of v.zones) {
      lines.push(`  zone ${q(z.name)} {`, `    type ${z.type};`, `    file ${q(z.file)};`);
      if (z.primaries) lines.push(`    primaries ${addrList(z.primaries)};`);
      for (const e of z.extra ?? []) lines.push(`    ${e}`);
      lines.push('  };');
    }
    lines.push('};');
  }
  return lines.join('\n') + '\n';
}

/** The dnssec-policy an inline zone runs with (see `labDnssecPolicies`). */
export function labPolicyName(o: { csk: boolean; nsec3: boolean }): string {
  return `dk-lab${o.csk ? '-csk' : ''}${o.nsec3 ? '-nsec3' : ''}`;
}

/**
 * The dnssec-policy statements of the lab's inline zones, for named.conf and for
 * `dnssec-keygen -k NAME -l FILE`, which makes the keys beforehand. Keys never roll (lifetime
 * unlimited): a test that wants a rollover does it by hand. ECDSAP256SHA256 like the offline
 * zones; NSEC3 per RFC 9276 (no salt, no extra iterations).
 */
export function labDnssecPolicies(): string {
  const out: string[] = [];
  for (const csk of [false, true])
    for (const nsec3 of [false, true]) {
      const keys = csk
        ? ['csk lifetime unlimited algorithm ecdsap256sha256;']
        : [
            'ksk lifetime unlimited algorithm ecdsap256sha256;',
            'zsk lifetime unlimited algorithm ecdsap256sha256;',
          ];
      out.push(
        `dnssec-policy ${q(labPolicyName({ csk, nsec3 }))} {`,
        `  keys { ${keys.join(' ')} };`,
        '  dnskey-ttl 300;',
        ...(nsec3 ? ['  nsec3param iterations 0 optout no salt-length 0;'] : []),
        '};',
      );
    }
  return out.join('\n') + '\n';
}

export function rndcConf(control: NamedConfOptions['control']): string {
  return [
    `key ${q(control.keyName)} { algorithm hmac-sha256; secret ${q(control.secret)}; };`,
    'options {',
    `  default-key ${q(control.keyName)};`,
    `  default-server ${control.address};`,
    `  default-port ${control.port};`,
    '};',
  ].join('\n');
}

export interface UnboundConfOptions {
  dir: string;
  /** addresses Unbound listens on */
  interfaces: string[];
  rootHintsFile: string;
  trustAnchorFile: string;
  /** TLDs of the private tree that Unbound has default local zones for (`test.`, ...) */
  nodefaultZones: string[];
  logFile: string;
  controlSocket: string;
  /** further `server:` lines */
  extra?: string[];
}

export function unboundConf(o: UnboundConfOptions): string {
  const s = (l: string) => `  ${l}`;
  return (
    [
      '# danekeeper DNS lab: written by test/lab/dns/conf.ts',
      'server:',
      ...o.interfaces.map((a) => s(`interface: ${a}@53`)),
      s('do-daemonize: no'),
      s('use-systemd: no'),
      s('username: ""'),
      s('chroot: ""'),
      s(`directory: ${q(o.dir)}`),
      s(`pidfile: ${q(`${o.dir}/unbound.pid`)}`),
      s('use-syslog: no'),
      s(`logfile: ${q(o.logFile)}`),
      s('log-time-ascii: yes'),
      s('verbosity: 1'),
      s('val-log-level: 2'),
      s('log-servfail: yes'),
      s('num-threads: 1'),
      s('do-ip4: yes'),
      s('do-ip6: yes'),
      // The namespace holds only lab addresses and nothing outside can reach it: every client
      // inside (dig, glibc, a sending Postfix, danekeeper) may recurse.
      s('access-control: 0.0.0.0/0 allow'),
      s('access-control: ::/0 allow'),
      // the lab's servers all live on loopback addresses
      s('do-not-query-localhost: no'),
      s(`root-hints: ${q(o.rootHintsFile)}`),
      // a static anchor (the lab root's DS): no RFC 5011 probing, no writes to it
      s(`trust-anchor-file: ${q(o.trustAnchorFile)}`),
      s('module-config: "validator iterator"'),
      // tests flip zones between states: do not keep a bogus verdict or a dead server for long
      s('val-bogus-ttl: 5'),
      s('infra-host-ttl: 30'),
      s('prefetch: no'),
      // RFC 8145 key-tag queries to the lab root only add noise to the log
      s('trust-anchor-signaling: no'),
      s('serve-expired: no'),
      // RFC 6761 names such as test. are served from Unbound's own empty local zones by default
      ...o.nodefaultZones.map((z) => s(`local-zone: ${q(z)} nodefault`)),
      ...(o.extra ?? []).map(s),
      'remote-control:',
      s('control-enable: yes'),
      s(`control-interface: ${q(o.controlSocket)}`),
      s('control-use-cert: no'),
    ].join('\n') + '\n'
  );
}

/** Unbound's built-in local zones (RFC 6761/6762/8375 and friends) a private TLD may hit. */
export const UNBOUND_DEFAULT_TLDS = new Set(['test.', 'invalid.', 'localhost.', 'onion.']);
