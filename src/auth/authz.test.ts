import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
