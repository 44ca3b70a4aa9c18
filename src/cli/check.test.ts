/**
 * The text form of a `check` report: the delivery line under the verdict, and records in use
 * besides the matched one. Reports come from the real check logic on plain-data DNS.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseTlsa } from '../core/tlsa/index.js';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { StaticResolver, type StaticEntry } from '../io/dns/index.js';
import type { ProbeOptions, ProbeResult } from '../io/probe/index.js';
import { makePki, tempDir, type Pki } from '../../test/support/pki.js';
import { checkDomain } from '../check/check.js';
import { printReport } from './check.js';
import type { Io } from './io.js';

let pki: Pki;
let chain: Cert[];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(() => {
  pki = makePki(tempDir(), { names: ['mx1.example.test', 'mx2.example.test'] });
  chain = parseCertificates(Buffer.from(pki.leaf.certPem + pki.intermediate.certPem), 'c');
});

function capture(): { io: Io; lines: string[] } {
  const lines: string[] = [];
  const io: Io = {
    out: (l) => lines.push(l),
    err: (l) => lines.push(`ERR ${l}`),
    verbose: () => {},
    withVerbose: () => io,
  };
  return { io, lines };
}

const tlsa = (...r: string[]) => ({ records: r.map((x) => parseTlsa(x)) });

async function report(data: Record<string, StaticEntry>) {
  const probe = (o: ProbeOptions): Promise<ProbeResult> =>
    Promise.resolve({
      chain: chain.map((c) => c.der),
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      address: o.address!,
      port: o.port,
      servername: o.servername,
      transcript: [],
      chainSource: 'presented',
    });
  return checkDomain(
    'example.test',
    {
      resolver: new StaticResolver(data),
      probe,
      now: () => new Date(),
      validating: { validating: true, summary: 'validates' },
    },
    { port: 25, starttls: 'smtp', days: 14, timeoutMs: 1000 },
  );
}

test('text report: the delivery line follows the verdict; a failing preferred MX host is a detour', async () => {
  const ee = `3 1 1 ${sha(chain[0]!.spki)}`;
  const ta = `2 1 1 ${sha(chain[1]!.spki)}`;
  const r = await report({
    // in the answer's order, not the preference order
    'example.test/MX': {
      records: [
        { preference: 20, exchange: 'mx2.example.test' },
        { preference: 10, exchange: 'mx1.example.test' },
      ],
    },
    'mx1.example.test/A': { records: ['192.0.2.1'] },
    'mx1.example.test/AAAA': {},
    'mx2.example.test/A': { records: ['192.0.2.2'] },
    'mx2.example.test/AAAA': {},
    '_25._tcp.mx1.example.test/TLSA': tlsa(`3 1 1 ${'cd'.repeat(32)}`),
    '_25._tcp.mx2.example.test/TLSA': tlsa(ee, ta),
  });
  const { io, lines } = capture();
  printReport(r, io);
  assert.equal(lines[0], 'example.test: FAILED');
  assert.equal(
    lines[1],
    '  delivery: mail still flows, after a detour; senders try mx1.example.test (MX 10, failed) first and, when it fails, fall back to mx2.example.test (MX 20, verified) (RFC 5321 §5.1, RFC 7672 §2.2)',
  );
  assert.ok(
    lines.includes('  MX (secure): 10 mx1.example.test, 20 mx2.example.test'),
    lines.join('\n'),
  );
  // mx2's 2 1 1 is shown as in use, beside the 3 1 1 that decided
  const at = lines.findIndex((l) => l.startsWith('    192.0.2.2 (secure): verified'));
  assert.equal(lines[at + 1], `      also in use: ${ta.slice(0, 22)}… at depth 1`);
  // and draws no warning; mx1's wrong record does
  assert.ok(!lines.some((l) => l.startsWith('    - _25._tcp.mx2')), lines.join('\n'));
  assert.ok(
    lines.some((l) => l.startsWith('    - _25._tcp.mx1')),
    lines.join('\n'),
  );
});
