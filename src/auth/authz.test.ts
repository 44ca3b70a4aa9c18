import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ADMIN_ACTIONS,
  ALL_ACTIONS,
  ANY_USER_ACTIONS,
  DOMAIN_ACTIONS,
  SELF_ACTIONS,
  authorize,
  ownsDomain,
  visibleDomains,
  type Principal,
} from './authz.js';

const admin: Principal = { name: 'root', role: 'admin', domains: [] };
const alice: Principal = { name: 'alice', role: 'customer', domains: ['example.org'] };
const bob: Principal = { name: 'bob', role: 'customer', domains: ['example.net'] };

// Where the action points: alice's own domain, a name under it, another customer's, a name that
// merely ends in hers, none at all.
const TARGETS = {
  own: 'example.org',
  ownUpper: 'Example.ORG.',
  sub: 'mail.example.org',
  other: 'example.net',
  lookalike: 'notexample.org',
  none: undefined,
} as const;
type Target = keyof typeof TARGETS;

/** The whole table, written out: role x action group x target -> allowed. */
function expected(role: 'admin' | 'customer', action: string, t: Target): boolean {
  if (role === 'admin') return true;
  if ((ANY_USER_ACTIONS as readonly string[]).includes(action)) return true;
  if ((SELF_ACTIONS as readonly string[]).includes(action)) return true;
  if ((ADMIN_ACTIONS as readonly string[]).includes(action)) return false;
  if ((DOMAIN_ACTIONS as readonly string[]).includes(action))
    return t === 'own' || t === 'ownUpper' || t === 'sub';
  return false;
}

describe('authorize (role x action x own/other domain)', () => {
  it('follows the table for every action and target', () => {
    let rows = 0;
    for (const [who, role] of [
      [admin, 'admin'],
      [alice, 'customer'],
    ] as const) {
      for (const action of ALL_ACTIONS) {
        for (const t of Object.keys(TARGETS) as Target[]) {
          assert.equal(
            authorize(who, action, TARGETS[t]),
            expected(role, action, t),
            `${role} ${action} ${t}`,
          );
          rows++;
        }
      }
    }
    assert.equal(rows, 2 * ALL_ACTIONS.length * 6);
  });

  it('spot checks that do not depend on the table helper', () => {
    assert.equal(authorize(alice, 'domain.change', 'example.org'), true);
    assert.equal(authorize(alice, 'domain.change', 'example.net'), false);
    assert.equal(authorize(bob, 'domain.read', 'example.org'), false);
    assert.equal(authorize(bob, 'dns.change', 'www.example.net'), true);
    assert.equal(authorize(alice, 'domain.read'), false);
    assert.equal(authorize(alice, 'settings.change'), false);
    assert.equal(authorize(alice, 'users.change'), false);
    assert.equal(authorize(alice, 'audit.read'), false);
    assert.equal(authorize(alice, 'check', 'example.net'), true);
    assert.equal(authorize(admin, 'settings.change'), true);
    assert.equal(authorize(admin, 'dns.change', 'anything.test'), true);
  });

  it('fails closed: unknown actions and roles are refused, admins included', () => {
    assert.equal(authorize(admin, 'domain.delete', 'example.org'), false);
    assert.equal(authorize(alice, 'domain.change ', 'example.org'), false);
    assert.equal(authorize(alice, 'toString', 'example.org'), false);
    const odd = { name: 'x', role: 'superuser', domains: ['example.org'] } as unknown as Principal;
    assert.equal(authorize(odd, 'domain.read', 'example.org'), false);
    const empty: Principal = { name: 'e', role: 'customer', domains: [''] };
    assert.equal(authorize(empty, 'domain.read', ''), false);
    assert.equal(authorize(empty, 'domain.read', 'example.org'), false);
  });

  it('ownsDomain needs a label boundary and ignores case and the trailing dot (RFC 4343)', () => {
    assert.equal(ownsDomain(['example.org'], 'EXAMPLE.org.'), true);
    assert.equal(ownsDomain(['example.org.'], 'a.b.example.org'), true);
    assert.equal(ownsDomain(['example.org'], 'badexample.org'), false);
    assert.equal(ownsDomain(['example.org'], 'example.org.evil.test'), false);
    assert.equal(ownsDomain(['mail.example.org'], 'example.org'), false);
    assert.equal(ownsDomain([], 'example.org'), false);
  });

  it('visibleDomains: all for an admin, own (and under) for a customer', () => {
    const all = ['example.org', 'mail.example.org', 'example.net', 'notexample.org'];
    assert.deepEqual(visibleDomains(admin, all), all);
    assert.deepEqual(visibleDomains(alice, all), ['example.org', 'mail.example.org']);
    assert.deepEqual(
      visibleDomains(
        bob,
        all.map((name) => ({ name })),
      ).map((d) => d.name),
      ['example.net'],
    );
  });
});

// The implementation before the owned names became a Set (a scan of every owned name per
// row), kept as the model: the Set must give the same answers for any names.
const modelNorm = (name: string) => {
  const l = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return l.endsWith('.') ? l.slice(0, -1) : l;
};
function modelOwns(owned: readonly string[], domain: string): boolean {
  const d = modelNorm(domain);
  if (d === '') return false;
  return owned.some((o) => {
    const n = modelNorm(o);
    return n !== '' && (d === n || d.endsWith(`.${n}`));
  });
}

describe('ownsDomain / visibleDomains against the scan they replace', () => {
  // few letters, dots and case, so owned names and domains often share labels and suffixes
  const name = fc
    .array(fc.constantFrom('a', 'B', 'b', 'c', '.', '-', 'A'), { maxLength: 10 })
    .map((cs) => cs.join(''));
  const label = fc.constantFrom('a', 'b', 'ab', 'B', 'x-y');
  const dotted = fc
    .tuple(fc.array(label, { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([ls, dot]) => ls.join('.') + (dot ? '.' : ''));
  const anyName = fc.oneof(name, dotted);

  it('ownsDomain answers as the scan did, for any owned list and name', () => {
    fc.assert(
      fc.property(fc.array(anyName, { maxLength: 6 }), anyName, (owned, d) => {
        assert.equal(ownsDomain(owned, d), modelOwns(owned, d));
      }),
      { numRuns: 3000 },
    );
  });

  it('visibleDomains keeps the same rows in the same order (strings and objects)', () => {
    fc.assert(
      fc.property(
        fc.array(anyName, { maxLength: 6 }),
        fc.array(anyName, { maxLength: 20 }),
        (owned, all) => {
          const user = { name: 'c', role: 'customer' as const, domains: owned };
          assert.deepEqual(
            visibleDomains(user, all),
            all.filter((d) => modelOwns(owned, d)),
          );
          const objs = all.map((n, i) => ({ name: n, i }));
          assert.deepEqual(
            visibleDomains(user, objs),
            objs.filter((d) => modelOwns(owned, d.name)),
          );
          const admin = { name: 'a', role: 'admin' as const, domains: owned };
          assert.deepEqual(visibleDomains(admin, all), all);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('visibleDomains reads the owned names once, not once per row', () => {
    const owned = Array.from({ length: 300 }, (_, i) => `c${i}.example`);
    let reads = 0;
    const counted = new Proxy(owned, {
      get(t, k, r) {
        if (typeof k === 'string' && /^\d+$/.test(k)) reads++;
        return Reflect.get(t, k, r) as unknown;
      },
    });
    const all = Array.from({ length: 1000 }, (_, i) => `d${i}.c${i % 600}.example`);
    const user = { name: 'c', role: 'customer' as const, domains: counted };
    const seen = visibleDomains(user, all);
    assert.equal(seen.length, 600);
    // the scan read all 300 names for each of the 400 rows it did not own (and part of the
    // list for the others): 120,000+ reads; normalised once, 300
    assert.equal(reads, owned.length);
  });
});
