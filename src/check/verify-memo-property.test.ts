/**
 * judgeMemo's contract as a property (issue 12: mutation testing of src/check): whatever
 * sequence of inputs a bulk run asks about, each judgement handed out equals judging that input
 * afresh. The pool holds what makes a key wrong when it is too coarse: two different chains of
 * the same length, another customer's next-hop domain under DANE-TA, a leaf not yet and no
 * longer valid, DANE-EE alone and mixed RRsets.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, test } from 'node:test';
import fc from 'fast-check';
import type { DaneInput } from '../core/dane/index.js';
import { parseTlsa, type TlsaRecord } from '../core/tlsa/index.js';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { makePki, tempDir } from '../../test/support/pki.js';
import { judgeChain } from './check.js';
import { judgeMemo } from './verify-memo.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const DAY = 86_400_000;

let chains: Cert[][];
let rrsets: TlsaRecord[][];
let times: Date[];
const NAMES = [
  ['mx1.hoster.test', 'mx1.hoster.test', 'example.org'],
  ['mx1.hoster.test', 'mx1.hoster.test', 'example.net'],
  ['mx2.hoster.test', 'mx2.hoster.test', 'example.org'],
];

before(() => {
  const a = makePki(tempDir(), { names: ['mx1.hoster.test'] });
  const b = makePki(tempDir(), { names: ['mx1.hoster.test'] });
  const ca = parseCertificates(Buffer.from(a.leaf.certPem + a.intermediate.certPem), 'a');
  const cb = parseCertificates(Buffer.from(b.leaf.certPem + b.intermediate.certPem), 'b');
  chains = [ca, cb];
  const ee = (c: Cert) => parseTlsa(`3 1 1 ${sha(c.spki)}`);
  const ta = (c: Cert) => parseTlsa(`2 1 1 ${sha(c.spki)}`);
  rrsets = [[ee(ca[0]!)], [ee(cb[0]!)], [ta(ca[1]!)], [ta(cb[1]!)], [ee(cb[0]!), ta(ca[1]!)]];
  const leaf = ca[0]!;
  times = [
    new Date(leaf.notBefore.getTime() - DAY),
    leaf.notBefore,
    new Date(leaf.notBefore.getTime() + DAY),
    leaf.notAfter,
    new Date(leaf.notAfter.getTime() + DAY),
  ];
});

test('every judgement handed out equals judging the input afresh, for any sequence of inputs', () => {
  const one = fc.record({
    chain: fc.nat(chains.length - 1),
    records: fc.nat(4),
    names: fc.nat(NAMES.length - 1),
    time: fc.nat(4),
    copy: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(one, { minLength: 1, maxLength: 12 }), (seq) => {
      const m = judgeMemo(judgeChain);
      for (const x of seq) {
        const chain = chains[x.chain]!;
        const input: DaneInput = {
          // the pool hands the same Cert objects in a new array, as the probe pool does
          chain: x.copy ? [...chain] : chain,
          records: rrsets[x.records]!,
          names: NAMES[x.names]!,
          time: times[x.time]!,
          mode: 'smtp',
        };
        assert.deepEqual(m.judge(input), judgeChain(input), JSON.stringify(x));
      }
    }),
    { numRuns: 300, seed: 20261205 },
  );
});

test('validity is inclusive at both ends: notBefore, inside and notAfter share one judgement', () => {
  let made = 0;
  const m = judgeMemo((i) => {
    made++;
    return judgeChain(i);
  });
  for (const t of [times[1]!, times[2]!, times[3]!]) {
    m.judge({ chain: chains[0]!, records: rrsets[2]!, names: NAMES[0]!, time: t, mode: 'smtp' });
  }
  // RFC 5280 §4.1.2.5: the certificate is valid from notBefore through notAfter, inclusive
  assert.equal(made, 1, 'one judgement for three moments on the same side of every date');
  m.judge({
    chain: chains[0]!,
    records: rrsets[2]!,
    names: NAMES[0]!,
    time: times[0]!,
    mode: 'smtp',
  });
  m.judge({
    chain: chains[0]!,
    records: rrsets[2]!,
    names: NAMES[0]!,
    time: times[4]!,
    mode: 'smtp',
  });
  assert.equal(made, 3, 'before notBefore and after notAfter are judged again');
});
