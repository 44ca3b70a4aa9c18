/**
 * io/dns — a DNSSEC-aware stub resolver for danekeeper (no node:dns: it shows no AD bit and no
 * TLSA on Node 20).
 *
 * Typical use (the `check` command):
 *
 *   const dns = await openResolver(opts.resolver, config.dns.resolver);   // --resolver, [dns], resolv.conf
 *   const proof = await proveValidating(dns, { bogusName });               // print proof.summary if !proof.validating
 *   const mx = await dns.lookup('example.test', 'MX');                     // LookupResult<MxRecord>
 *   const a = await dns.lookup(host, 'A'), aaaa = await dns.lookup(host, 'AAAA');
 *   const gate = daneGate({ mx, addresses: [a, aaaa] });                   // 'dane' → look up TLSA
 *   const tlsa = await dns.lookup(tlsaOwner(a.canonicalName, 25), 'TLSA'); // LookupResult<TlsaRecord>
 *   daneGate({ mx, addresses: [a, aaaa], tlsa }).decision                  // dane | no-dane | dnssec-failure
 *
 * Resolver.lookup<K>(name, type: K, opts?) → Promise<LookupResult<RecordTypes[K]>>
 *   type:  'A' | 'AAAA' | 'CNAME' | 'NS' → string;  'MX' → {preference, exchange};
 *          'SOA' → SoaRecord;  'DS' → DsRecord;  'DNSKEY' → DnskeyRecord (with keyTag);
 *          'TLSA' → TlsaRecord from core/tlsa (usage, selector, mtype, data).
 *   opts:  { rd?: boolean = true, cd?: boolean = false, tcp?: boolean, signal?: AbortSignal }.
 *          rd: false queries an authoritative server directly (look at `authoritative`, AA).
 *   Never throws for network or server trouble: that is status 'indeterminate' with `why` (one
 *   line) and `error` (DkError with a stable code). Throws only DkError 'usage' (E_DNS_NAME: not
 *   a domain name) and E_DNS_ABORTED (the signal fired).
 *
 * LookupResult: { name, type, status, rcode, records, cnameChain, canonicalName, ttl, server,
 *   authoritative, skipped, why?, error? } — see types.ts. Names are presentation form without
 *   the final dot (root is '.'), compared case-insensitively (sameName).
 *
 * Status rules (RFC 4035 §3.2.3, RFC 6840 §5.7; the resolver must be trusted, RFC 7672 §2.1.3):
 *   NOERROR/NXDOMAIN with AD=1            → secure   (also secure NODATA / NXDOMAIN denials)
 *   NOERROR/NXDOMAIN with AD=0            → insecure
 *   SERVFAIL, same server with CD=1 answers → bogus  (records from the CD=1 answer: diagnosis only)
 *   SERVFAIL also with CD=1; REFUSED etc. → indeterminate (server failure)
 *   no answer / malformed / mismatched    → indeterminate (rcode null)
 *   caller asked cd: true and AD=0        → indeterminate (the resolver vouched for nothing)
 *   CNAMEs: the resolver puts the chain in the answer; we follow it from `name` (cnameChain,
 *   canonicalName) and the status is the AD bit of the whole answer. A chain whose first link
 *   is signed but a later one is not comes back insecure as a whole; to know the first link's
 *   own status (RFC 7672 §2.2.3 TLSA base domain rules), look up type CNAME at the name.
 *
 * Errors (DkError code → kind): E_DNS_NAME, E_DNS_RESOLVER, E_DNS_NO_RESOLVER → usage;
 *   E_DNS_TIMEOUT, E_DNS_UNREACHABLE, E_DNS_ABORTED → unavailable; E_DNS_MALFORMED,
 *   E_DNS_MISMATCH, E_DNS_TOO_LARGE, E_DNS_TRUNCATED, E_DNS_RDATA → protocol. Messages name the
 *   server and question: "Answer from 127.0.0.1:53 for mx.example.test/TLSA is malformed: ...".
 *
 * Transport (DnsClient, if you need raw answers): UDP with EDNS0 (DO=1, 1232 bytes, AD=1 in the
 *   query), TCP on TC=1 or when asked; a random ID and a fresh OS-chosen source port per try;
 *   answers must match ID, QR, opcode, question and come from the server asked. On UDP anything
 *   else is ignored and waited past (spoof resistance), on TCP it is an error. Servers are tried
 *   in order; a timeout is retried, a refused port or a broken answer moves on at once; FORMERR,
 *   NOTIMP and REFUSED move on too; SERVFAIL does not (a non-validating fallback must never turn
 *   "bogus" into "insecure"). Defaults: CLIENT_DEFAULTS (3 s per try, 2 tries per server).
 *
 * proveValidating(resolver, { anchor?, bogusName?, bogusType? }) → ValidationProof { validating,
 *   servers, summary, warnings }: each server must answer the DNSKEY of `anchor` (default the
 *   root) with AD=1, and refuse bogusName as bogus if given. Not validating (or not provably so)
 *   is a result whose summary starts with "WARNING:", never an exception. `warnings` notes
 *   resolvers off this machine (their AD bit is only as good as the path to them).
 *
 * Authoritative servers (propagation and DNSSEC checks; RD=0, each server asked itself):
 *   queryDirect(address, name, type, { timeoutMs, tries, port, serverFor, signal }) → DirectResult
 *     { outcome: answer | lame | unreachable, rcode, authoritative, transport, message, why? }:
 *     UDP, TCP on TC=1 and once more over TCP when UDP only timed out. rrsetIn / recordsIn /
 *     rrsigsIn read any section of `message` (referrals, glue, RRSIGs via decodeRrsig).
 *   findAuthoritativeServers(zone, resolver, opts) → { nsRrset (with status), delegation (asked of
 *     the parent's servers: NS + glue), hosts [{ name, source: ns-rrset|parent|both, addresses
 *     [{ address, from: glue|resolver }] }], onlyInZone, onlyInParent }.
 *
 * For tests: StaticResolver (plain data with DNSSEC switches, no sockets) and, for end-to-end
 * tests over real sockets, FakeDnsServer in ./fake-server.ts (not exported here).
 */
export {
  DnsClient,
  CLIENT_DEFAULTS,
  type ClientOptions,
  type DnsAnswer,
  type QueryOptions,
} from './client.js';
export {
  loadResolverConfig,
  parseResolvConf,
  parseResolverOption,
  parseServer,
  serverAddress,
  type ResolvConf,
  type ResolverConfig,
  type ServerAddress,
} from './config.js';
export {
  findAuthoritativeServers,
  findDelegation,
  findParentZone,
  mapLimit,
  resolveAddresses,
  type AuthoritativeServers,
  type Delegation,
  type DiscoverOptions,
  type NsAddress,
  type NsHost,
  type NsSource,
  type ParentServer,
} from './authoritative.js';
export {
  DIRECT_DEFAULTS,
  queryDirect,
  recordsIn,
  rrsetIn,
  rrsigsIn,
  type DirectOptions,
  type DirectOutcome,
  type DirectResult,
  type Section,
} from './direct.js';
export { decodeRrsig, type RrsigRecord } from './rdata.js';
export { daneGate, type DaneGate, type DaneGateDecision } from './dane-gate.js';
export { queryName, sameName } from './name.js';
export {
  proveValidating,
  type ProofCheck,
  type ProveOptions,
  type ServerProof,
  type ValidationProof,
} from './prove.js';
export { StubResolver } from './resolver.js';
export { openResolver } from './open.js';
export { StaticResolver, type StaticEntry, type StaticResolverOptions } from './static-resolver.js';
export type {
  DnskeyRecord,
  DnssecStatus,
  DsRecord,
  LookupOptions,
  LookupResult,
  MxRecord,
  Rcode,
  RecordType,
  RecordTypes,
  Resolver,
  SoaRecord,
} from './types.js';
export { isRecordType } from './types.js';
