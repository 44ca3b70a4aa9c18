/**
 * The domain store's paging (count, page, names, getMany) answers what `list()` filtered and
 * sliced answers, for any set of names, search text and page: the lists (panel /domains, GET
 * /v1/domains) may use either and show the same rows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { DomainSettings } from './domains.js';
import { memoryState } from './state.js';

const T0 = new Date('2026-01-01T00:00:00Z');

function settings(name: string): DomainSettings {
  return {
    name,
    includeDomainName: true,
    subdomains: ['mail'],
    mailHosts: [`mail.${name}`],
    endpoints: [{ host: `mail.${name}`, port: 25, proto: 'tcp' }],
    dane: true,
    certDir: `/etc/danekeeper/live/${name}`,
    reload: [['systemctl', 'reload', 'postfix']],
    keyType: 'ec-p256',
    newKeyEachRenewal: false,
    issuerRecords: false,
    challenge: null,
  };
}

// few letters, so searches often match several names and names share prefixes
const label = fc
  .array(fc.constantFrom('a', 'b', 'c', '-', '0'), { minLength: 1, maxLength: 4 })
  .map((cs) => cs.join(''));
const domainName = fc
  .tuple(label, label, fc.constantFrom('org', 'test', 'xn--p1ai'))
  .map(([a, b, t]) => `${a}.${b}.${t}`);

function storeWith(names: readonly string[]) {
  const s = memoryState();
  for (const n of new Set(names)) s.domains.add(settings(n), T0);
  return s;
}

describe('DomainStore paging', () => {
  it('page/count equal list() filtered by the search and sliced, for any page', () => {
    fc.assert(
      fc.property(
        fc.array(domainName, { maxLength: 40 }),
        fc.option(fc.oneof(label, fc.constantFrom('.', 'A', 'B.', '', 'zz')), { nil: undefined }),
        fc.nat(50),
        fc.integer({ min: 0, max: 30 }),
        (names, q, offset, limit) => {
          const s = storeWith(names);
          try {
            const needle = q?.toLowerCase();
            const all = s.domains
              .list()
              .filter((d) => needle === undefined || d.name.includes(needle));
            assert.equal(s.domains.count(q), all.length);
            assert.deepEqual(
              s.domains.page({ offset, limit, ...(q !== undefined ? { q } : {}) }),
              all.slice(offset, offset + limit),
            );
          } finally {
            s.close();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('names() is list() by name without the rows; getMany(names) reads them in that order', () => {
    fc.assert(
      fc.property(
        fc.array(domainName, { maxLength: 30 }),
        fc.array(domainName, { maxLength: 10 }),
        (names, extra) => {
          const s = storeWith(names);
          try {
            const list = s.domains.list();
            assert.deepEqual(
              s.domains.names(),
              list.map((d) => d.name),
            );
            // any selection, in any order, unmanaged names among it: the managed ones, as given
            const pick = [
              ...s.domains
                .names()
                .filter((_, i) => i % 2 === 1)
                .reverse(),
              ...extra,
            ];
            const byName = new Map(list.map((d) => [d.name, d]));
            assert.deepEqual(
              s.domains.getMany(pick),
              pick.filter((n) => byName.has(n)).map((n) => byName.get(n)),
            );
          } finally {
            s.close();
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('count() without a search, getMany with upper case and a trailing dot, empty getMany', () => {
    const s = storeWith(['b.example.org', 'a.example.org', 'c.example.net']);
    try {
      assert.equal(s.domains.count(), 3);
      assert.equal(s.domains.count('EXAMPLE.ORG'), 2);
      assert.deepEqual(
        s.domains.getMany(['C.Example.NET.', 'nope.test', 'a.example.org']).map((d) => d.name),
        ['c.example.net', 'a.example.org'],
      );
      assert.deepEqual(s.domains.getMany([]), []);
      assert.deepEqual(
        s.domains.page({ offset: 1, limit: 5 }).map((d) => d.name),
        ['b.example.org', 'c.example.net'],
      );
      assert.deepEqual(s.domains.page({ offset: 0, limit: 0 }), []);
    } finally {
      s.close();
    }
  });
});
