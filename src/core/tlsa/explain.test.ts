import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTlsa } from './parse.js';
import { explainRecord, explainSet } from './explain.js';
import { usability } from './usable.js';
import { generateTlsa } from './generate.js';

const H32 = 'ab'.repeat(32);
const H64 = 'cd'.repeat(64);
const codes = (rdata: string) => explainRecord(parseTlsa(rdata)).findings.map((f) => f.code);

test('usability: digest length per matching type, unknown values, SMTP usages', () => {
  assert.equal(usability(parseTlsa(`3 1 1 ${H32}`), 'smtp').usable, true);
  assert.equal(usability(parseTlsa(`3 1 2 ${H64}`), 'smtp').usable, true);
  assert.match(
    usability(parseTlsa(`3 1 1 ${H64}`), 'smtp').reasons[0]!,
    /must be 32 bytes, this has 64/,
  );
  assert.match(usability(parseTlsa(`3 1 2 ${H32}`), 'smtp').reasons[0]!, /must be 64 bytes/);
  assert.match(
    usability(parseTlsa(`4 1 1 ${H32}`), 'generic').reasons[0]!,
    /usage 4 \(unassigned\)/,
  );
  assert.match(usability(parseTlsa(`3 2 1 ${H32}`), 'generic').reasons[0]!, /selector 2/);
  assert.match(usability(parseTlsa(`3 1 3 ${H32}`), 'generic').reasons[0]!, /matching type 3/);
  assert.equal(usability(parseTlsa(`1 1 1 ${H32}`), 'generic').usable, true);
  assert.match(usability(parseTlsa(`1 1 1 ${H32}`), 'smtp').reasons[0]!, /RFC 7672 §3.1.3/);
  assert.equal(usability(parseTlsa(`3 1 0 3059`), 'smtp').usable, true);
  assert.match(usability(parseTlsa(`3 1 0 ffff`), 'smtp').reasons[0]!, /not DER/);
});

test('explain warns about what bites in practice', () => {
  assert.ok(codes(`3 0 1 ${H32}`).includes('full-cert-ee'));
  assert.ok(codes(`2 0 1 ${H32}`).includes('full-cert-ta'));
  assert.ok(codes(`1 1 1 ${H32}`).includes('pkix-in-smtp'));
  assert.ok(codes(`0 0 1 ${H32}`).includes('pkix-in-smtp'));
  assert.ok(codes(`3 1 1 ${H64}`).includes('unusable'));
  assert.deepEqual(codes(`3 1 1 ${H32}`), []);
  const e = explainRecord(parseTlsa(`4 1 1 ${H32}`));
  assert.equal(e.usableGeneric, false);
  assert.equal(e.usableSmtp, false);
  assert.match(e.meaning[0]!, /unassigned/);
  const pk = explainRecord(parseTlsa(`1 1 1 ${H32}`));
  assert.equal(pk.usableGeneric, true);
  assert.equal(pk.usableSmtp, false);
});

test('set findings: lone TA, no rollover, too many, duplicates, nothing usable', () => {
  const set = (...r: string[]) => explainSet(r.map((x) => parseTlsa(x))).map((f) => f.code);
  assert.deepEqual(set(`2 1 1 ${H32}`), ['lone-ta']);
  assert.deepEqual(set(`3 1 1 ${H32}`), ['no-rollover']);
  assert.deepEqual(set(`3 1 1 ${H32}`, `3 1 1 ${'ef'.repeat(32)}`), []);
  assert.deepEqual(set(`3 1 1 ${H32}`, `2 1 1 ${'ef'.repeat(32)}`), []);
  assert.deepEqual(set(`1 1 1 ${H32}`), ['no-usable']);
  assert.ok(
    set(
      ...Array.from({ length: 13 }, (_, i) => `3 1 1 ${i.toString(16).padStart(64, '0')}`),
    ).includes('too-many'),
  );
  assert.ok(set(`3 1 1 ${H32}`, `3 1 1 ${H32}`).includes('duplicate'));
});

test('generate: selector and matching type; key-only sources give selector 1 only', () => {
  const src = { der: Buffer.from('3003020101', 'hex'), spki: Buffer.from('3003020102', 'hex') };
  assert.deepEqual(generateTlsa(src, 3, 0, 0).data, src.der);
  assert.deepEqual(generateTlsa(src, 3, 1, 0).data, src.spki);
  assert.equal(generateTlsa(src, 3, 1, 1).data.length, 32);
  assert.equal(generateTlsa(src, 3, 1, 2).data.length, 64);
  assert.throws(() => generateTlsa({ spki: src.spki }, 3, 0, 1), { code: 'E_SELECTOR_NEEDS_CERT' });
  assert.throws(() => generateTlsa(src, 4, 1, 1), { code: 'E_USAGE' });
  assert.throws(() => generateTlsa(src, 3, 2, 1), { code: 'E_SELECTOR' });
  assert.throws(() => generateTlsa(src, 3, 1, 3), { code: 'E_MTYPE' });
});

test('255 is private use (RFC 6698 §7.2–7.4, RFC 7218), other values unassigned', () => {
  const e = explainRecord(parseTlsa(`255 255 255 ${H32}`));
  assert.deepEqual(
    e.meaning.map((m) => /^\w+ 255 \((\w+)\): reserved for private use/.exec(m)?.[1]),
    ['PrivCert', 'PrivSel', 'PrivMatch'],
  );
  assert.ok(e.meaning.every((m) => m.includes('a public MTA cannot use it')));
  assert.ok(e.meaning.every((m) => !m.includes('unassigned')));
  assert.deepEqual(usability(parseTlsa(`255 1 1 ${H32}`), 'generic').reasons, [
    'certificate usage 255 (PrivCert) is reserved for private use (RFC 6698 §7.2): no public client supports it',
  ]);
  assert.match(usability(parseTlsa(`3 255 1 ${H32}`), 'smtp').reasons[0]!, /PrivSel.*§7\.3/);
  assert.match(usability(parseTlsa(`3 1 255 ${H32}`), 'smtp').reasons[0]!, /PrivMatch.*§7\.4/);
  assert.match(
    explainRecord(parseTlsa(`254 1 1 ${H32}`)).meaning[0]!,
    /254 \(unassigned\): unassigned/,
  );
});
