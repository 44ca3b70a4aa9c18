/**
 * TXT lookups through the validating resolver, for DKIM key records (RFC 6376 §3.6.2.1: the
 * key is a TXT RR at `SELECTOR._domainkey.DOMAIN`). The Resolver interface decodes only the
 * types DANE needs; TXT is asked here, over TCP (RFC 7766: a 2048-bit key with its RRSIG
 * outgrows a 1232-byte UDP answer), with DO=1 and AD=1 so the AD bit says whether it validated.
 */
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { DkError } from '../../core/errors.js';
import type { LookupStatus } from '../../core/prereq/types.js';
import { parseServer, type ServerAddress } from '../dns/config.js';
import { queryName } from '../dns/name.js';
import { tcpExchange } from '../dns/transport.js';
import { rcodeName } from '../dns/types.js';

export const TYPE_TXT = 16;

export interface TxtLookup {
  name: string;
  status: LookupStatus;
  rcode: string | null;
  /** each TXT RR's character-strings joined (RFC 6376 §3.6.2.2), as UTF-8 */
  values: string[];
  why?: string;
}

/** RFC 1035 §3.3.14: one or more length-prefixed character-strings. */
export function decodeTxt(rdata: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < rdata.length) {
    const n = rdata[i]!;
    if (i + 1 + n > rdata.length) throw new Error('a character-string runs past the RDATA');
    parts.push(rdata.subarray(i + 1, i + 1 + n));
    i += 1 + n;
  }
  return Buffer.concat(parts).toString('utf8');
}

function encode(id: number, name: string, cd: boolean): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags:
      dnsPacket.AUTHENTIC_DATA |
      dnsPacket.RECURSION_DESIRED |
      (cd ? dnsPacket.CHECKING_DISABLED : 0),
    questions: [{ name, type: 'TXT', class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: dnsPacket.DNSSEC_OK,
        flag_do: true,
        options: [],
      },
    ],
  });
}

/**
 * Asks each of `servers` (`IP:port` labels, as Resolver.servers gives them) in turn until one
 * answers. Status as the StubResolver judges it (RFC 4035 §3.2.2): AD=1 secure, AD=0 insecure,
 * SERVFAIL that CD=1 clears bogus, anything else indeterminate. Never throws but for a bad name.
 */
export async function lookupTxt(
  servers: readonly string[],
  name: string,
  timeoutMs = 3000,
): Promise<TxtLookup> {
  const qname = queryName(name);
  const failures: string[] = [];
  for (const label of servers) {
    let server: ServerAddress;
    try {
      server = parseServer(label);
    } catch (e) {
      failures.push((e as Error).message);
      continue;
    }
    const ask = async (cd: boolean) => {
      const id = randomInt(0x10000);
      return tcpExchange(
        server,
        encode(id, qname, cd),
        { id, name: qname, type: TYPE_TXT, what: `${qname}/TXT` },
        { timeoutMs, maxResponseBytes: 65535 },
      );
    };
    try {
      let m = await ask(false);
      let rcode = rcodeName(m.rcode);
      let status: LookupStatus;
      let why: string | undefined;
      if (rcode === 'NOERROR' || rcode === 'NXDOMAIN') status = m.header.ad ? 'secure' : 'insecure';
      else if (rcode === 'SERVFAIL') {
        const again = await ask(true);
        const rcode2 = rcodeName(again.rcode);
        if (rcode2 === 'NOERROR' || rcode2 === 'NXDOMAIN') {
          status = 'bogus';
          why = `${server.label} answered SERVFAIL, but ${rcode2} with checking disabled (CD=1): DNSSEC validation failed`;
          m = again;
          rcode = rcode2;
        } else {
          status = 'indeterminate';
          why = `${server.label} answered SERVFAIL`;
        }
      } else {
        failures.push(`${server.label} answered ${rcode}`);
        continue;
      }
      const values: string[] = [];
      for (const rr of m.answers) {
        if (rr.type !== TYPE_TXT || rr.class !== 1) continue;
        try {
          values.push(decodeTxt(rr.rdata));
        } catch (e) {
          why ??= `a TXT record was skipped: ${(e as Error).message}`;
        }
      }
      return { name: qname, status, rcode, values, ...(why ? { why } : {}) };
    } catch (e) {
      if (e instanceof DkError && e.code === 'E_DNS_ABORTED') throw e;
      failures.push((e as Error).message);
    }
  }
  return {
    name: qname,
    status: 'indeterminate',
    rcode: null,
    values: [],
    why: failures.join('; ') || 'no resolver to ask',
  };
}
