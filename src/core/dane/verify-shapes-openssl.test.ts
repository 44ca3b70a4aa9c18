/**
 * Issue 12: the chain shapes that verify-mutants2.test.ts pins, each checked against OpenSSL's
 * DANE code (what Postfix and posttls-finger use; DESIGN.md: a verdict that disagrees with them
 * is a bug until shown otherwise). `openssl s_client -dane_tlsa_rrdata` connects to a TLS server
 * on 127.0.0.1 that presents the chain; its "Verification: OK" and match depth must equal
 * verifyDane's verdict and depth. A reference test like openssl.test.ts: one s_client per case,
 * too slow to repeat for every mutant, so it is not in the Stryker targets.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer, type Server } from 'node:tls';
import {
  issue,
  makePki,
  makeSelfSigned,
  openssl,
  tempDir,
  type Issued,
} from '../../../test/support/pki.js';
import { formatRdata, parseTlsa, type TlsaRecord } from '../tlsa/index.js';
import { certFromDer } from '../x509/index.js';
import { verifyDane } from './verify.js';

const NAME = 'mail.example.test';
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** `U S M HEX` with HEX computed by openssl. */
function rec(i: Issued, u: number, s: 0 | 1, m: 0 | 1): TlsaRecord {
  const der =
    s === 0
      ? i.der
      : openssl(
          ['pkey', '-pubin', '-outform', 'DER'],
          openssl(['x509', '-pubkey', '-noout'], i.certPem),
        );
  const hex =
    m === 0
      ? der.toString('hex')
      : openssl(['dgst', '-sha256', '-r'], der).toString().split(' ')[0]!;
  return parseTlsa(`${u} ${s} ${m} ${hex}`);
}

/** OpenSSL's answer: verified or not, and the depth of its "matched … at depth N" line. */
function opensslSays(
  chain: Issued[],
  records: TlsaRecord[],
): Promise<{ depth: number | null; out: string }> {
  const server = createServer({
    key: chain[0]!.keyPem,
    cert: chain.map((x) => x.certPem).join(''),
  });
  server.on('tlsClientError', () => {});
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      const args = ['s_client', '-brief', '-connect', `127.0.0.1:${port}`, '-servername', NAME];
      args.push('-dane_tlsa_domain', NAME, '-dane_ee_no_namechecks');
      for (const r of records) args.push('-dane_tlsa_rrdata', formatRdata(r));
      const child = execFile('openssl', args, { timeout: 20_000 }, (_e, stdout, stderr) => {
        const out = stdout + stderr;
        const ok = /^Verification: OK$/m.test(out);
        const at = /DANE TLSA .* at depth (\d+)/.exec(out);
        resolve({ depth: ok && at ? Number(at[1]) : null, out });
      });
      child.stdin?.end();
    }),
  );
}

/** verifyDane's answer in the same terms. */
function mine(chain: Issued[], records: TlsaRecord[]): { depth: number | null; why: string } {
  const r = verifyDane({
    records,
    chain: chain.map((i) => certFromDer(i.der)),
    names: [NAME],
    // `openssl ca` dates certificates from its own now: a minute on, everything has started
    time: new Date(Date.now() + 60_000),
    mode: 'smtp',
  });
  return { depth: r.verdict === 'verified' ? r.matched!.depth : null, why: r.reasons.join('\n') };
}

describe('chain shapes: verifyDane agrees with OpenSSL (verdict and depth)', () => {
  const cases: {
    name: string;
    chain: () => Issued[];
    records: () => TlsaRecord[];
    /** both say why in words: OpenSSL's error line, verifyDane's reason */
    why?: [RegExp, RegExp];
  }[] = [];
  let s: Record<string, Issued> = {};
  before(() => {
    const dir = tempDir();
    const a = makePki(dir, { names: [NAME] });
    const oldRoot = issue(dir, 'old-root', { cn: 'Old Root', ca: true, notAfterDays: 3650 });
    const alt = (n: string, o: { notBeforeDays?: number; notAfterDays?: number }) =>
      issue(
        dir,
        n,
        { cn: 'Test Intermediate', ca: true, keyFile: a.intermediate.keyFile, ...o },
        oldRoot,
      );
    const tmp = issue(dir, 'loop-tmp', { cn: 'Loop CA', ca: true });
    const loopLeaf = issue(dir, 'loop-leaf', { cn: NAME, dnsNames: [NAME], ca: true }, tmp);
    const x = issue(dir, 'cyc-xtmp', { cn: 'Cycle X', ca: true });
    const y = issue(dir, 'cyc-ytmp', { cn: 'Cycle Y', ca: true });
    s = {
      root: a.root,
      intermediate: a.intermediate,
      leaf: a.leaf,
      intExpired: alt('int-exp', { notBeforeDays: -400, notAfterDays: -30 }),
      intValid: alt('int-valid', { notAfterDays: 1800 }),
      intExpRoot: issue(
        dir,
        'int-exp-root',
        {
          cn: 'Test Intermediate',
          ca: true,
          keyFile: a.intermediate.keyFile,
          notBeforeDays: -400,
          notAfterDays: -10,
        },
        a.root,
      ),
      oldRoot,
      crossRoot: issue(
        dir,
        'cross-root',
        { cn: 'Test Root CA', ca: true, keyFile: a.root.keyFile, notAfterDays: 1800 },
        oldRoot,
      ),
      loopLeaf,
      loopCa: issue(dir, 'loop-ca', { cn: 'Loop CA', ca: true, keyFile: tmp.keyFile }, loopLeaf),
      cycX: issue(dir, 'cyc-x', { cn: 'Cycle X', ca: true, keyFile: x.keyFile }, y),
      cycY: issue(dir, 'cyc-y', { cn: 'Cycle Y', ca: true, keyFile: y.keyFile }, x),
      cycLeaf: issue(dir, 'cyc-leaf', { cn: NAME }, x),
      impostor: issue(
        dir,
        'impostor',
        { cn: 'Impostor CA', ca: true, keyFile: a.intermediate.keyFile },
        a.root,
      ),
      ss: makeSelfSigned(dir, 'ss', NAME),
    };
  });

  const add = (
    name: string,
    chain: string[],
    records: [string, number, 0 | 1, 0 | 1][],
    why?: [RegExp, RegExp],
  ) =>
    cases.push({
      name,
      chain: () => chain.map((k) => s[k]!),
      records: () => records.map(([k, u, sel, m]) => rec(s[k]!, u, sel, m)),
      why,
    });
  add(
    'two candidate issuers, the first expired: 2 1 1 root',
    ['leaf', 'intExpired', 'intermediate', 'root'],
    [['root', 2, 1, 1]],
  );
  add(
    'two candidate issuers, the good one first',
    ['leaf', 'intermediate', 'intValid', 'root'],
    [['root', 2, 1, 1]],
  );
  add(
    'two candidate issuers, both valid, the first leads nowhere',
    ['leaf', 'intValid', 'intermediate', 'root'],
    [['root', 2, 1, 1]],
    [
      /unable to get local issuer certificate/,
      /sent no issuer of CN=Test Intermediate \(depth 1\)/,
    ],
  );
  add(
    'two candidate issuers, both expired: the later end date, sent second, reaches the root',
    ['leaf', 'intExpired', 'intExpRoot', 'root'],
    [['root', 2, 1, 1]],
    [/certificate has expired/, /trust anchor at depth 2 .*certificate at depth 1 .* expired on/],
  );
  add(
    'nothing above a self-signed root: 2 0 0 of the cross-signer',
    ['leaf', 'intermediate', 'root', 'crossRoot'],
    [['oldRoot', 2, 0, 0]],
  );
  add(
    'the cross-certificate without the root: 2 0 0 of the cross-signer',
    ['leaf', 'intermediate', 'crossRoot'],
    [['oldRoot', 2, 0, 0]],
  );
  add(
    'a loop back to the leaf (sent twice): 2 1 1 of the leaf',
    ['loopLeaf', 'loopCa', 'loopLeaf'],
    [['loopLeaf', 2, 1, 1]],
  );
  add(
    'two CAs that certify each other: anchor at the far one',
    ['cycLeaf', 'cycX', 'cycY'],
    [['cycY', 2, 1, 1]],
  );
  add(
    'two CAs that certify each other: anchor at the near one',
    ['cycLeaf', 'cycX', 'cycY'],
    [['cycX', 2, 1, 1]],
  );
  add(
    'the issuer key under another name, sent: 2 0 1',
    ['leaf', 'impostor'],
    [['impostor', 2, 0, 1]],
  );
  add(
    'the issuer key under another name, in DNS only: 2 0 0',
    ['leaf', 'intermediate'],
    [['impostor', 2, 0, 0]],
  );
  add('a self-signed leaf, 2 0 0 of itself', ['ss'], [['ss', 2, 0, 0]]);
  add('a self-signed leaf, 2 1 0 of its key', ['ss'], [['ss', 2, 1, 0]]);

  // The certificates are made in `before`; each case looks its own up when it runs.
  for (const c of cases) {
    test(c.name, async () => {
      const chain = c.chain();
      const records = c.records();
      const o = await opensslSays(chain, records);
      const m = mine(chain, records);
      assert.equal(m.depth, o.depth, `verifyDane: ${m.why}\nopenssl: ${o.out}`);
      if (c.why) {
        assert.match(o.out, c.why[0], `openssl: ${o.out}`);
        assert.match(m.why, c.why[1], `verifyDane: ${m.why}`);
      }
    });
  }
});
