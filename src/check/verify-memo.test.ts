/**
 * judgeMemo: one judgement per (chain, TLSA RRset, reference names, validity side of the time),
 * and every judgement it hands out equal to judging afresh.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { parseTlsa, type TlsaRecord } from '../core/tlsa/index.js';
import type { DaneInput } from '../core/dane/index.js';
import { makePki, tempDir } from '../../test/support/pki.js';
import { judgeChain, type ChainJudgement } from './check.js';
import { judgeMemo } from './verify-memo.js';

let chain: Cert[];
let ta: TlsaRecord[];
let ee: TlsaRecord[];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const DAY = 86_400_000;

before(() => {
  const pki = makePki(tempDir(), { names: ['mx1.hoster.test'] });
  chain = parseCertificates(Buffer.from(pki.leaf.certPem + pki.intermediate.certPem), 'c');
  ta = [parseTlsa(`2 1 1 ${sha(chain[1]!.spki)}`)];
  ee = [parseTlsa(`3 1 1 ${sha(chain[0]!.spki)}`), parseTlsa(`3 1 1 ${'ab'.repeat(32)}`)];
});

/** a moment inside the leaf's validity, `ms` after its notBefore */
const inside = (ms = DAY) => new Date(chain[0]!.notBefore.getTime() + ms);

function input(o: Partial<DaneInput> = {}): DaneInput {
  return {
    records: ta,
    chain,
    // the MX host, the TLSA base domain, the next-hop domain (RFC 7672 §3.2.3)
    names: ['mx1.hoster.test', 'mx1.hoster.test', 'example.org'],
    time: inside(),
    mode: 'smtp',
    ...o,
  };
}

/** the memo, counting the judgements it really makes */
function counted() {
  let calls = 0;
  const m = judgeMemo((i) => {
    calls++;
    return judgeChain(i);
  });
  return { ...m, calls: () => calls };
}

test('one judgement per chain, RRset and reference names, equal to judging afresh', () => {
  const m = counted();
  const a = m.judge(input());
  const b = m.judge(input({ chain: [...chain] }));
  assert.equal(b, a, 'the same certificates in a new array: the kept judgement');
  assert.equal(m.calls(), 1);
  assert.deepEqual(a, judgeChain(input()));
  assert.deepEqual(m.stats, { asked: 2, made: 1 });
});

test('DANE-TA: the next-hop domain is part of the key, so one MX host passes for one domain and fails for another (RFC 7672 §3.2.2)', () => {
  const m = counted();
  // the leaf names mx1.hoster.test only; as the next-hop domain of one domain it is a
  // reference identifier, for the other domain it is not
  const named = input({ names: ['mx9.other.test', 'mx9.other.test', 'mx1.hoster.test'] });
  const unnamed = input({ names: ['mx9.other.test', 'mx9.other.test', 'ta0.example'] });
  const first = m.judge(named);
  const second = m.judge(unnamed);
  assert.equal(first.verdict, 'verified', first.reasons.join('; '));
  assert.equal(second.verdict, 'failed', second.reasons.join('; '));
  assert.deepEqual(second, judgeChain(unnamed));
  assert.equal(m.judge(named), first);
  assert.equal(m.calls(), 2);
});

test('the time: reused while no certificate starts or stops being valid, judged again when one does (RFC 5280 §4.1.2.5)', () => {
  const m = counted();
  const leaf = chain[0]!;
  const valid = m.judge(input({ time: inside() }));
  assert.equal(m.judge(input({ time: inside(2 * DAY) })), valid);
  assert.equal(m.calls(), 1);
  // DANE-TA checks dates: after the leaf's notAfter the same chain fails
  const expiredAt = new Date(leaf.notAfter.getTime() + 1000);
  const expired = m.judge(input({ time: expiredAt }));
  assert.equal(m.calls(), 2);
  assert.equal(valid.verdict, 'verified');
  assert.equal(expired.verdict, 'failed');
  assert.deepEqual(expired, judgeChain(input({ time: expiredAt })));
  // exactly at notAfter the leaf is still valid (both ends inclusive): the first judgement
  assert.equal(m.judge(input({ time: new Date(leaf.notAfter.getTime()) })), valid);
  // before notBefore: judged again
  const early = new Date(leaf.notBefore.getTime() - 1);
  assert.deepEqual(m.judge(input({ time: early })), judgeChain(input({ time: early })));
  assert.equal(m.calls(), 3);
  // DANE-EE ignores dates but says so: the reasons differ, so the memo may not mix them up
  const eeValid = m.judge(input({ records: ee, time: inside() }));
  const eeExpired = m.judge(input({ records: ee, time: expiredAt }));
  assert.equal(eeValid.verdict, 'verified');
  assert.equal(eeExpired.verdict, 'verified');
  assert.notDeepEqual(eeExpired.reasons, eeValid.reasons);
  assert.deepEqual(eeExpired, judgeChain(input({ records: ee, time: expiredAt })));
});

test('other records, records in another order, another chain order or mode: judged again, each equal to judging afresh', () => {
  const m = counted();
  const cases: DaneInput[] = [
    input({ records: ee }),
    input({ records: [...ee].reverse() }),
    input({ records: [parseTlsa(ee[0]!.usage + ' 1 1 ' + sha(chain[0]!.spki))] }),
    input({ chain: [...chain].reverse() }),
    input({ chain: [chain[0]!] }),
    input({ mode: 'generic' }),
    input({ names: [] }),
  ];
  const got: ChainJudgement[] = cases.map((c) => m.judge(c));
  cases.forEach((c, i) => assert.deepEqual(got[i], judgeChain(c), `case ${i}`));
  // the third case is the first case's matching record alone: another RRset, another key
  assert.equal(m.calls(), cases.length);
  // asked again, every one is the kept judgement
  cases.forEach((c, i) => assert.equal(m.judge(c), got[i], `case ${i} again`));
  assert.equal(m.calls(), cases.length);
});

test('a full memo starts afresh rather than growing without bound', () => {
  let calls = 0;
  const m = judgeMemo((i) => {
    calls++;
    return judgeChain(i);
  }, 2);
  const n = (d: string) => input({ names: [d] });
  m.judge(n('a.test'));
  m.judge(n('b.test'));
  m.judge(n('c.test'));
  assert.equal(calls, 3);
  m.judge(n('c.test'));
  assert.equal(calls, 3, 'kept after the reset');
  m.judge(n('a.test'));
  assert.equal(calls, 4, 'dropped by the reset');
});

test('an RRset of DANE-EE(3) records alone is judged once whatever the names (RFC 7672 §3.1.1), and equals judging with those names', () => {
  const m = counted();
  const nameSets = [
    ['mx1.hoster.test', 'mx1.hoster.test', 'a.example'],
    ['mx1.hoster.test', 'mx1.hoster.test', 'b.example'],
    [],
    ['*.bad..name', 'MX1.HOSTER.TEST.'],
  ];
  const first = m.judge(input({ records: ee, names: nameSets[0]! }));
  for (const names of nameSets) {
    const j = m.judge(input({ records: ee, names }));
    assert.equal(j, first);
    assert.deepEqual(j, judgeChain(input({ records: ee, names })), names.join(' '));
  }
  assert.equal(m.calls(), 1);
  // one DANE-TA record beside them: the names count again
  const mixed = [...ee, ...ta];
  const a = m.judge(input({ records: mixed, names: nameSets[0]! }));
  const b = m.judge(input({ records: mixed, names: nameSets[1]! }));
  assert.notEqual(a, b);
  assert.equal(m.calls(), 3);
  // with names that fail DANE-TA, the matching DANE-EE still decides, but the TA record's
  // reason (in the per-record results) would differ: each is judged with its own names
  const c = input({ records: [ta[0]!, ee[0]!], names: ['nowhere.example'] });
  assert.deepEqual(m.judge(c), judgeChain(c));
});
