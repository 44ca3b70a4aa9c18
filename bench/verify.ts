/**
 * Benchmark: offline DANE verifications per second (core/dane verifyDane), for a `3 1 1` record
 * (DANE-EE: one SPKI digest) and a `2 1 1` record (DANE-TA: digests, one signature check, the
 * name and the dates), on a P-256 leaf + intermediate made once with openssl. Each figure is the
 * median of several rounds of about a second; "parse + verify" also reads the two PEM
 * certificates every time, as one `danekeeper verify` run does. Nothing is asserted about speed,
 * only that every verification says "verified".
 *
 *   node --import tsx bench/verify.ts        (or npm run bench)
 */
import { makePki, tempDir } from '../test/support/pki.js';
import { verifyDane, type DaneInput } from '../src/core/dane/index.js';
import { formatRdata, generateTlsa } from '../src/core/tlsa/index.js';
import { certFromDer, parseCertificates } from '../src/core/x509/index.js';
import { readFileSync } from 'node:fs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);

const pki = makePki(tempDir('dk-bench-'), { names: ['mail.example.test'] });
const pem = readFileSync(pki.chainFile);
const chain = [certFromDer(pki.leaf.der), certFromDer(pki.intermediate.der)];
const time = new Date();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Verifications per second: median over ROUNDS rounds of ~ROUND_MS each. */
function rate(fn: () => void): { median: number; min: number; max: number } {
  for (let i = 0; i < 200; i++) fn(); // warm up
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(ROUND_MS) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 50; i++) fn();
      n += 50;
      now = process.hrtime.bigint();
    }
    rates.push(n / (Number(now - start) / 1e9));
  }
  return { median: median(rates), min: Math.min(...rates), max: Math.max(...rates) };
}

const cases: { name: string; input: DaneInput }[] = [
  {
    name: '3 1 1 (DANE-EE, leaf SPKI)',
    input: {
      records: [generateTlsa(chain[0]!, 3, 1, 1)],
      chain,
      names: ['mail.example.test'],
      time,
      mode: 'smtp',
    },
  },
  {
    name: '2 1 1 (DANE-TA, intermediate)',
    input: {
      records: [generateTlsa(chain[1]!, 2, 1, 1)],
      chain,
      names: ['mail.example.test'],
      time,
      mode: 'smtp',
    },
  },
];

const fmt = (x: number) => Math.round(x).toLocaleString('en-US').padStart(9);
console.log(
  `offline verify, P-256 leaf + intermediate, ${ROUNDS} rounds of ${ROUND_MS} ms, node ${process.version}`,
);
for (const c of cases) {
  const check = verifyDane(c.input);
  if (check.verdict !== 'verified') {
    throw new Error(
      `${c.name}: expected verified, got ${check.verdict}: ${check.reasons.join('; ')}`,
    );
  }
  const v = rate(() => {
    if (verifyDane(c.input).verdict !== 'verified') throw new Error('verdict changed');
  });
  const pv = rate(() => {
    const presented = parseCertificates(pem, 'chain.pem');
    if (verifyDane({ ...c.input, chain: presented }).verdict !== 'verified') {
      throw new Error('verdict changed');
    }
  });
  console.log(
    `  ${c.name.padEnd(31)} verify only: ${fmt(v.median)}/s (min ${fmt(v.min).trim()}, max ${fmt(v.max).trim()})` +
      `   parse + verify: ${fmt(pv.median)}/s   [${formatRdata(c.input.records[0]!).slice(0, 22)}…]`,
  );
}
