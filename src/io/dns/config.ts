/**
 * Which servers to ask: `--resolver IP[:PORT]` values, else the `nameserver` lines of
 * /etc/resolv.conf (resolv.conf(5)). The parsers are pure; only loadResolverConfig reads a file.
 * Names are not accepted as servers: resolving the resolver would need a resolver.
 */
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { DkError } from '../../core/errors.js';
import { fileErrorReason } from '../file-errors.js';
import { printable } from './name.js';

export interface ServerAddress {
  address: string;
  port: number;
  family: 4 | 6;
  /** `192.0.2.1:53` or `[2001:db8::1]:53`: how messages and results name the server. */
  label: string;
}

export function serverAddress(address: string, port = 53): ServerAddress {
  const family = isIPv4(address) ? 4 : 6;
  return {
    address,
    port,
    family,
    label: family === 4 ? `${address}:${port}` : `[${address}]:${port}`,
  };
}

function badResolver(s: string, why: string): DkError {
  return new DkError(
    'usage',
    'E_DNS_RESOLVER',
    `Resolver "${printable(s)}" ${why}; give IP, IP:PORT or [IPv6]:PORT`,
  );
}

function parsePort(s: string, full: string): number {
  if (!/^[0-9]{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) {
    throw badResolver(full, `has port "${printable(s)}", not a number from 1 to 65535`);
  }
  return Number(s);
}

/** One `--resolver` value: `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]:5353`. */
export function parseServer(input: string): ServerAddress {
  const s = input.trim();
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(s);
  if (bracketed) {
    const addr = bracketed[1]!;
    if (!isIPv6(addr)) throw badResolver(input, 'has no IPv6 address inside the brackets');
    return serverAddress(addr, bracketed[2] === undefined ? 53 : parsePort(bracketed[2], input));
  }
  if (isIPv6(s)) return serverAddress(s);
  const colon = s.lastIndexOf(':');
  const host = colon < 0 ? s : s.slice(0, colon);
  if (!isIPv4(host)) {
    throw badResolver(
      input,
      host.includes(':')
        ? 'is not an IPv6 address (put a port after [brackets])'
        : 'is not an IP address',
    );
  }
  return serverAddress(host, colon < 0 ? 53 : parsePort(s.slice(colon + 1), input));
}

/** Every `--resolver` value; each may also hold a comma- or space-separated list. */
export function parseResolverOption(values: readonly string[]): ServerAddress[] {
  const out: ServerAddress[] = [];
  for (const v of values) {
    for (const part of v.split(/[\s,]+/)) if (part !== '') out.push(parseServer(part));
  }
  if (out.length === 0) {
    throw new DkError('usage', 'E_DNS_RESOLVER', '--resolver was given without an address');
  }
  return out;
}

export interface ResolvConf {
  servers: ServerAddress[];
  /** `options timeout:N`, in ms (glibc caps it at 30 s). */
  timeoutMs?: number;
  /** `options attempts:N` (glibc caps it at 5). */
  attempts?: number;
  /** Lines that were skipped, for the caller to log. */
  warnings: string[];
}

/** glibc's MAXNS: further nameserver lines are ignored by every other program on the machine. */
const MAXNS = 3;

/**
 * resolv.conf(5): `nameserver ADDRESS` (IPv4 or IPv6, port 53, no brackets), comments start with
 * `#` or `;`. Unparseable lines are skipped with a warning, as the C library does, not fatal.
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { servers: [], warnings: [] };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...args] = line.split(/\s+/);
    if (key === 'nameserver') {
      // glibc accepts a scoped address (fe80::1%eth0) here; so does node:dgram.
      const addr = args[0] ?? '';
      if (!isIPv4(addr) && !isIPv6(addr)) {
        conf.warnings.push(`line ${i + 1}: "${printable(raw.trim())}" is not an IP address`);
      } else if (conf.servers.length >= MAXNS) {
        conf.warnings.push(`line ${i + 1}: more than ${MAXNS} nameservers, ${addr} ignored`);
      } else {
        conf.servers.push(serverAddress(addr));
      }
    } else if (key === 'options') {
      for (const opt of args) {
        const m = /^(timeout|attempts):([0-9]+)$/.exec(opt);
        if (m?.[1] === 'timeout') conf.timeoutMs = Math.min(Math.max(Number(m[2]), 1), 30) * 1000;
        if (m?.[1] === 'attempts') conf.attempts = Math.min(Math.max(Number(m[2]), 1), 5);
      }
    }
  });
  return conf;
}

export interface ResolverConfig extends ResolvConf {
  /** Where the servers came from, for messages: `--resolver` or the resolv.conf path. */
  source: string;
}

/** `--resolver` values when given, else the resolv.conf file (read here, at the edge). */
export async function loadResolverConfig(
  opts: { resolver?: readonly string[]; resolvConf?: string } = {},
): Promise<ResolverConfig> {
  if (opts.resolver && opts.resolver.length > 0) {
    return { servers: parseResolverOption(opts.resolver), warnings: [], source: '--resolver' };
  }
  const path = opts.resolvConf ?? '/etc/resolv.conf';
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const why = fileErrorReason(e);
    throw new DkError(
      'usage',
      'E_DNS_NO_RESOLVER',
      `No resolver to ask: cannot read ${path} (${why}); give --resolver IP[:PORT]`,
      { cause: e },
    );
  }
  const conf = parseResolvConf(text);
  if (conf.servers.length === 0) {
    throw new DkError(
      'usage',
      'E_DNS_NO_RESOLVER',
      `No resolver to ask: ${path} has no nameserver line; give --resolver IP[:PORT]`,
    );
  }
  return { ...conf, source: path };
}
