import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StaticResolver } from '../io/dns/static-resolver.js';
import { findZone } from './zone-cut.js';

const SOA = {
  mname: 'ns1.example.org',
  rname: 'hostmaster.example.org',
  serial: 1,
  refresh: 3600,
  retry: 600,
  expire: 86400,
  minimum: 300,
};

test('the closest enclosing SOA: the domain’s zone, a delegated subzone, a domain below its zone', async () => {
  const r = new StaticResolver({
    'example.org/SOA': { records: [SOA] },
    'mail.example.org/A': { records: ['192.0.2.1'] },
    'sub.example.org/SOA': { records: [SOA] },
    'org/SOA': { records: [SOA] },
  });
  assert.equal(await findZone('_25._tcp.mail.example.org.', r), 'example.org.');
  assert.deepEqual(r.calls, [
    '_25._tcp.mail.example.org/SOA',
    '_tcp.mail.example.org/SOA',
    'mail.example.org/SOA',
    'example.org/SOA',
  ]);
  assert.equal(await findZone('_25._TCP.MX.Sub.Example.Org', r), 'sub.example.org.');
  assert.equal(await findZone('_25._tcp.example.org.', r), 'example.org.');
});

test('only authenticated answers: an insecure or bogus step is refused, naming the owner', async () => {
  const insecure = new StaticResolver(
    { 'example.org/SOA': { records: [SOA], status: 'insecure' } },
    { missing: 'insecure' },
  );
  await assert.rejects(findZone('_25._tcp.mail.example.org.', insecure), (e: Error) => {
    assert.match(e.message, /_25\._tcp\.mail\.example\.org\..*insecure/);
    return (e as { code?: string }).code === 'E_ZONE_CUT';
  });
  const bogus = new StaticResolver({
    'mail.example.org/SOA': { records: [SOA], status: 'bogus' },
    'example.org/SOA': { records: [SOA] },
  });
  await assert.rejects(findZone('_25._tcp.mail.example.org.', bogus), { code: 'E_ZONE_CUT' });
  const failing = new StaticResolver({
    '_tcp.mail.example.org/SOA': { rcode: 'SERVFAIL', status: 'indeterminate' },
  });
  await assert.rejects(findZone('_25._tcp.mail.example.org.', failing), { code: 'E_ZONE_CUT' });
});

test('an alias owner cannot hold a TLSA record; an SOA reached through a CNAME is not a zone cut', async () => {
  const alias = new StaticResolver({
    '_25._tcp.mail.example.org/CNAME': { cname: '_25._tcp.mx.example.net' },
    '_25._tcp.mx.example.net/SOA': { records: [SOA] },
    'example.org/SOA': { records: [SOA] },
  });
  await assert.rejects(findZone('_25._tcp.mail.example.org.', alias), /is an alias/);
  const above = new StaticResolver({
    'mail.example.org/CNAME': { cname: 'example.net' },
    'example.net/SOA': { records: [SOA] },
    'example.org/SOA': { records: [SOA] },
  });
  assert.equal(await findZone('_25._tcp.mail.example.org.', above), 'example.org.');
});

test('a DNS-01 owner: a provably unsigned zone is taken, bogus never; an alias is refused for TXT', async () => {
  const insecure = new StaticResolver(
    { 'example.org/SOA': { records: [SOA], status: 'insecure' } },
    { missing: 'insecure' },
  );
  const dns01 = { rrtype: 'TXT', insecureOk: true } as const;
  assert.equal(
    await findZone('_acme-challenge.mail.example.org.', insecure, dns01),
    'example.org.',
  );
  const bogus = new StaticResolver({
    'mail.example.org/SOA': { records: [SOA], status: 'bogus' },
    'example.org/SOA': { records: [SOA] },
  });
  await assert.rejects(findZone('_acme-challenge.mail.example.org.', bogus, dns01), {
    code: 'E_ZONE_CUT',
  });
  const alias = new StaticResolver({
    '_acme-challenge.example.org/CNAME': { cname: 'x.acme.example.net' },
    'x.acme.example.net/SOA': { records: [SOA] },
  });
  await assert.rejects(
    findZone('_acme-challenge.example.org.', alias, dns01),
    /is an alias .*a TXT record cannot be published/,
  );
});
