/**
 * serve's prereq takes this server's addresses and DKIM selectors from the config's [prereq]
 * section, as `danekeeper prereq` does without flags (cli/prereq.ts prereqTargets).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../config/config.js';
import { prereqTargets } from '../../cli/prereq.js';
import type { gatherPrereq } from '../../io/prereq/gather.js';
import type { Resolver } from '../../io/dns/types.js';
import { networkServices } from './network.js';

test('prereq through the API: [prereq] address and dkim-selector reach the gathering', async () => {
  const config = parseConfig(
    '[prereq]\naddress = 192.0.2.25 2001:db8::25\ndkim-selector = s1\ndkim-selector = s2\n',
    'test.ini',
  );
  const seen: Parameters<typeof gatherPrereq>[0][] = [];
  const resolver: Resolver = {
    servers: ['127.0.0.1:53'],
    // nothing anywhere (no network in this test): the validation proof fails, not the call
    lookup: (name, type) =>
      Promise.resolve({
        name,
        type,
        status: 'indeterminate',
        rcode: null,
        records: [],
        cnameChain: [],
        canonicalName: name,
      } as never),
  };
  const svc = networkServices(resolver, {
    backend: () => Promise.resolve(null as never),
    targets: prereqTargets({}, config.prereq),
    gather: (input) => {
      seen.push(input);
      return Promise.reject(new Error('stop here'));
    },
  });
  await assert.rejects(svc.prereq('example.org'), /stop here|no network/);
  if (seen.length === 0) return assert.fail('the gathering was not reached');
  assert.deepEqual(seen[0]!.addresses, ['192.0.2.25', '2001:db8::25']);
  assert.deepEqual(seen[0]!.dkimSelectors, ['s1', 's2']);
  assert.equal(seen[0]!.domain, 'example.org');
});
