/**
 * Entry points for callInNetns (test/support/netns-call.ts): the propagation and DNSSEC checks
 * take a Resolver object, which cannot cross JSON, so these build a StubResolver on the lab's
 * resolver address inside the namespace and pass everything else through.
 */
import { serverAddress } from '../../src/io/dns/config.js';
import { StubResolver } from '../../src/io/dns/resolver.js';
import { dnssecStatus, type DnssecStatusOptions } from '../../src/publish/dnssec-status.js';
import { checkPropagation, type PropagationOptions } from '../../src/publish/propagation.js';

function stub(address: string): StubResolver {
  return new StubResolver({ servers: [serverAddress(address)], timeoutMs: 2000, tries: 2 });
}

export function propagation(o: Omit<PropagationOptions, 'resolver'> & { resolver: string }) {
  return checkPropagation({ ...o, resolver: stub(o.resolver) });
}

export function dnssec(o: Omit<DnssecStatusOptions, 'resolver' | 'now'> & { resolver: string }) {
  return dnssecStatus({ ...o, resolver: stub(o.resolver) });
}
