/**
 * Before trusting any AD bit, prove that the resolver validates: a stub that reads AD from a
 * resolver that does not validate would see every answer as "insecure" and conclude "no DANE"
 * everywhere, silently. Not validating is a result to print loudly, not an exception.
 */
import { isIP } from 'node:net';
import type { RecordType, Resolver } from './types.js';
import type { DnssecStatus } from './types.js';

export interface ProofCheck {
  /** `root DNSKEY` or `bogus.example.test/A (expected bogus)`. */
  what: string;
  ok: boolean;
  status: DnssecStatus;
  /** One sentence: what came back and what it means. */
  detail: string;
}

export interface ServerProof {
  server: string;
  validating: boolean;
  checks: ProofCheck[];
}

export interface ValidationProof {
  /** True only if every server passed every check. */
  validating: boolean;
  servers: ServerProof[];
  /** One line for the CLI: starts with "WARNING:" when the resolver cannot be trusted. */
  summary: string;
  /** Things worth saying even when validating (e.g. a resolver reached over the network). */
  warnings: string[];
}

export interface ProveOptions {
  /**
   * The zone whose DNSKEY RRset must validate: the root (default) for a resolver with the usual
   * root trust anchor; another zone where the resolver's only trust anchor is for that zone.
   */
  anchor?: string;
  /** A name the caller knows to be bogus (a broken signature in the lab): it must fail. */
  bogusName?: string;
  bogusType?: RecordType;
  signal?: AbortSignal;
}

function isLoopback(server: string): boolean {
  const addr = server.replace(/^\[(.*)\]:\d+$/, '$1').replace(/:\d+$/, '');
  if (isIP(addr) === 4) return addr.startsWith('127.');
  return addr === '::1';
}

async function proveOne(r: Resolver, server: string, o: ProveOptions): Promise<ServerProof> {
  const signal = o.signal ? { signal: o.signal } : {};
  const checks: ProofCheck[] = [];
  // The root zone is signed and its DNSKEY RRset validates against the trust anchor itself:
  // a validating resolver answers it with AD=1 (RFC 4035 §3.2.3), whatever zone we check later.
  const anchor = o.anchor ?? '.';
  const zone = anchor === '.' ? 'the root' : anchor.replace(/\.$/, '');
  const root = await r.lookup(anchor, 'DNSKEY', signal);
  const rootDetail: Record<DnssecStatus, string> = {
    secure:
      root.records.length > 0
        ? `the DNSKEY RRset of ${zone} came back validated (AD=1, ${root.records.length} keys)`
        : `the DNSKEY query for ${zone} came back with AD=1 but no keys`,
    insecure:
      `the DNSKEY RRset of ${zone} came back without AD: this resolver does not validate ` +
      'DNSSEC (or something between us strips the AD bit)',
    bogus:
      `the DNSKEY RRset of ${zone} is bogus for this resolver: its trust anchor is wrong or ` +
      'its clock is off',
    indeterminate: `no usable answer for the DNSKEY of ${zone}: ${root.why ?? 'unknown reason'}`,
  };
  checks.push({
    what: anchor === '.' ? 'root DNSKEY' : `${zone}/DNSKEY`,
    ok: root.status === 'secure' && root.records.length > 0,
    status: root.status,
    detail: rootDetail[root.status],
  });
  if (o.bogusName !== undefined) {
    const type = o.bogusType ?? 'A';
    const b = await r.lookup(o.bogusName, type, signal);
    checks.push({
      what: `${b.name}/${type} (expected bogus)`,
      ok: b.status === 'bogus',
      status: b.status,
      detail:
        b.status === 'bogus'
          ? 'a deliberately broken name was refused (SERVFAIL, answered with CD=1)'
          : b.status === 'indeterminate'
            ? `could not tell whether a deliberately broken name is refused: ${b.why ?? ''}`
            : `a deliberately broken name came back ${b.status}: this resolver does not reject bogus data`,
    });
  }
  return { server, validating: checks.every((c) => c.ok), checks };
}

/**
 * Proves each server on its own (a non-validating fallback server would quietly downgrade every
 * answer the day the first one is down). Never throws for "not validating"; only a bad name in
 * `bogusName` (usage) or cancellation throw.
 */
export async function proveValidating(
  resolver: Resolver,
  opts: ProveOptions = {},
): Promise<ValidationProof> {
  const each = resolver.perServer?.() ?? [resolver];
  const servers = await Promise.all(each.map((r) => proveOne(r, r.servers.join(', '), opts)));
  const failed = servers.filter((s) => !s.validating);
  const warnings = servers
    .filter((s) => !isLoopback(s.server))
    .map(
      (s) =>
        `Resolver ${s.server} is not on this machine: its AD bit is only as trustworthy as the ` +
        'network path to it (RFC 6840 §5.7); a validating resolver on 127.0.0.1 is safer',
    );
  const names = servers.map((s) => s.server).join(', ');
  const firstFailure = failed[0]?.checks.find((c) => !c.ok);
  const passed = servers[0]!.checks.map((c) => c.what.replace(/ \(expected bogus\)$/, ' refused'));
  const summary = !firstFailure
    ? `Resolver ${names} validates DNSSEC (${passed.join(', ')})`
    : `WARNING: ${
        firstFailure.status === 'indeterminate' ? 'could not prove that resolver' : 'resolver'
      } ${failed.map((s) => s.server).join(', ')} ${
        firstFailure.status === 'indeterminate' ? 'validates' : 'does not validate'
      } DNSSEC: ${firstFailure.detail}. DNSSEC statuses from it cannot be trusted and DANE ` +
      'cannot be checked; use --resolver with a validating resolver (e.g. a local Unbound)';
  return { validating: failed.length === 0, servers, summary, warnings };
}
