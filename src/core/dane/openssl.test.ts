/**
 * Cross-check with the reference implementation: OpenSSL's DANE code, which Postfix uses for
 * `smtp_tls_security_level = dane`. Each chain is served by a node TLS server on 127.0.0.1 exactly
 * as listed; `openssl s_client -dane_tlsa_rrdata ... -dane_ee_no_namechecks` (Postfix's flags)
 * decides, and verifyDane must reach the same verdict and report the same depth.
 *
 * Not cross-checked here: partial-label wildcards (s_client cannot set Postfix's
 * X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS), unusable-only sets (s_client then falls back to PKIX),
 * and several reference names (s_client takes one).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { issue, makeBareCert, makePki, tempDir, type Issued } from '../../../test/support/pki.js';
import { formatRdata, generateTlsa, type TlsaRecord } from '../tlsa/index.js';
import { certFromDer } from '../x509/index.js';
import { verifyDane } from './verify.js';

const DAY = 86400;

interface Case {
  what: string;
  /** what OpenSSL decides: pinned, so that agreement cannot come from s_client failing */
  ok: boolean;
  /** leaf first, as served; the leaf's key is the server's */
  chain: () => Issued[];
  records: () => TlsaRecord[];
  name?: string;
  /** seconds from now at which dates are checked */
  later?: number;
}

let a: ReturnType<typeof makePki>;
let wild: Issued, cnOnly: Issued, sanOverCn: Issued, expired: Issued, selfSigned: Issued;
let eInt: Issued, leafEInt: Issued, bare: Issued;
const servers: Server[] = [];

before(() => {
  const dir = tempDir();
  a = makePki(dir, { names: ['mail.example.test'] });
  const under = (n: string, o: Parameters<typeof issue>[2], i = a.intermediate) =>
    issue(dir, n, o, i);
  wild = under('wild', { cn: '*.example.test', dnsNames: ['*.example.test'] });
  cnOnly = under('cnonly', { cn: 'mail.example.test', dnsNames: [] });
  sanOverCn = under('sanovercn', { cn: 'mail.example.test', dnsNames: ['other.example.test'] });
  expired = under('expired', { cn: 'mail.example.test', notBeforeDays: -100, notAfterDays: -10 });
  selfSigned = issue(dir, 'self', { cn: 'mail.example.test' });
  eInt = issue(
    dir,
    'eint',
    { cn: 'Expired Int', ca: true, notBeforeDays: -400, notAfterDays: -5 },
    a.root,
  );
  leafEInt = under('leaf-eint', { cn: 'mail.example.test' }, eInt);
  // Issue 8: empty subject and issuer, notAfter before notBefore, no extensions.
  bare = makeBareCert(dir);
});

after(() => {
  for (const s of servers) s.close();
});

const c = (i: Issued) => certFromDer(i.der);
const r = (i: Issued, u: number, s: number, m: number) => generateTlsa(c(i), u, s, m);

const cases: Case[] = [
  {
    what: '3 1 1 leaf',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.leaf, 3, 1, 1)],
  },
  {
    what: '3 0 2 leaf, wrong name',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.leaf, 3, 0, 2)],
    name: 'other.test',
  },
  {
    what: '2 1 1 intermediate',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
  },
  {
    what: '2 0 1 root sent',
    ok: true,
    chain: () => [a.leaf, a.intermediate, a.root],
    records: () => [r(a.root, 2, 0, 1)],
  },
  {
    what: '2 1 1 root sent out of order',
    ok: true,
    chain: () => [a.leaf, a.root, a.intermediate],
    records: () => [r(a.root, 2, 1, 1)],
  },
  {
    what: '2 0 0 root not sent',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.root, 2, 0, 0)],
  },
  {
    what: '2 1 0 root not sent',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.root, 2, 1, 0)],
  },
  {
    what: '2 1 0 intermediate sent',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 0)],
  },
  {
    what: '2 1 1 root not sent',
    ok: false,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.root, 2, 1, 1)],
  },
  {
    what: '2 1 1 intermediate, wrong name',
    ok: false,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    name: 'mx.example.test',
  },
  {
    what: 'wildcard vs one label',
    ok: true,
    chain: () => [wild, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    name: 'mx.example.test',
  },
  {
    what: 'wildcard vs two labels',
    ok: false,
    chain: () => [wild, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    name: 'a.b.example.test',
  },
  {
    what: 'wildcard vs base domain',
    ok: false,
    chain: () => [wild, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    name: 'example.test',
  },
  // A leading dot: any subdomain (Postfix match=.example.test); OpenSSL's DANE code reads it so.
  {
    what: '2 1 1 intermediate, name .example.test',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    name: '.example.test',
  },
  {
    what: '2 1 1 intermediate, name .mail.example.test (not the name itself)',
    ok: false,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    name: '.mail.example.test',
  },
  {
    what: 'wildcard vs .example.test',
    ok: true,
    chain: () => [wild, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    name: '.example.test',
  },
  {
    what: 'CN without DNS SAN vs .test',
    ok: true,
    chain: () => [cnOnly, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    name: '.test',
  },
  {
    what: 'CN without DNS SAN',
    ok: true,
    chain: () => [cnOnly, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
  },
  {
    what: 'CN ignored beside a DNS SAN',
    ok: false,
    chain: () => [sanOverCn, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
  },
  {
    what: 'expired leaf, DANE-EE',
    ok: true,
    chain: () => [expired, a.intermediate],
    records: () => [r(expired, 3, 1, 1)],
  },
  {
    what: 'expired leaf, DANE-TA',
    ok: false,
    chain: () => [expired, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
  },
  {
    what: 'expired intermediate as TA',
    ok: true,
    chain: () => [leafEInt, eInt],
    records: () => [r(eInt, 2, 1, 1)],
  },
  {
    what: 'expired intermediate below the TA',
    ok: false,
    chain: () => [leafEInt, eInt, a.root],
    records: () => [r(a.root, 2, 1, 1)],
  },
  {
    what: 'self-signed leaf, 3 1 1',
    ok: true,
    chain: () => [selfSigned],
    records: () => [r(selfSigned, 3, 1, 1)],
  },
  {
    what: 'self-signed leaf, 2 1 1',
    ok: false,
    chain: () => [selfSigned],
    records: () => [r(selfSigned, 2, 1, 1)],
  },
  {
    what: 'self-signed leaf, 2 1 0',
    ok: true,
    chain: () => [selfSigned],
    records: () => [r(selfSigned, 2, 1, 0)],
  },
  {
    what: 'bare certificate (empty names, notAfter < notBefore), 3 1 1',
    ok: true,
    chain: () => [bare],
    records: () => [r(bare, 3, 1, 1)],
  },
  {
    what: 'bare certificate, 3 0 1',
    ok: true,
    chain: () => [bare],
    records: () => [r(bare, 3, 0, 1)],
  },
  {
    what: 'leaf, 2 1 1 of itself',
    ok: false,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.leaf, 2, 1, 1)],
  },
  {
    what: 'bad EE digest + good TA',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(wild, 3, 1, 1), r(a.intermediate, 2, 1, 1)],
  },
  {
    what: '200 days later, 2 1 1',
    ok: false,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.intermediate, 2, 1, 1)],
    later: 200 * DAY,
  },
  {
    what: '200 days later, 3 1 1',
    ok: true,
    chain: () => [a.leaf, a.intermediate],
    records: () => [r(a.leaf, 3, 1, 1)],
    later: 200 * DAY,
  },
];

function serve(chain: Issued[]): Promise<number> {
  const server = createServer({
    key: chain[0]!.keyPem,
    cert: chain.map((x) => x.certPem).join(''),
  });
  server.on('tlsClientError', () => {});
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function sClient(port: number, records: TlsaRecord[], name: string, at: number): Promise<string> {
  const args = ['s_client', '-brief', '-connect', `127.0.0.1:${port}`];
  // SNI is a host name; a ".domain" reference has none to send.
  if (!name.startsWith('.')) args.push('-servername', name);
  args.push('-dane_tlsa_domain', name, '-dane_ee_no_namechecks', '-attime', String(at));
  for (const rec of records) args.push('-dane_tlsa_rrdata', formatRdata(rec));
  return new Promise((resolve) => {
    const child = execFile('openssl', args, { timeout: 20_000 }, (_e, stdout, stderr) =>
      resolve(stdout + stderr),
    );
    child.stdin?.end();
  });
}

for (const k of cases) {
  test(`agrees with OpenSSL's DANE: ${k.what}`, async () => {
    const chain = k.chain();
    const records = k.records();
    const name = k.name ?? 'mail.example.test';
    const at = Math.floor(Date.now() / 1000) + (k.later ?? 0);
    const out = await sClient(await serve(chain), records, name, at);
    const ok = /^Verification: OK$/m.test(out);
    assert.equal(ok, k.ok, `openssl s_client:\n${out}`);
    const m =
      /DANE TLSA \d \d \d \S+ (?:matched (?:TA|EE) certificate|signed the certificate) at depth (\d+)/.exec(
        out,
      );
    const mine = verifyDane({
      records,
      chain: chain.map(c),
      names: [name],
      time: new Date(at * 1000),
      mode: 'smtp',
    });
    assert.equal(
      mine.verdict,
      ok ? 'verified' : 'failed',
      `openssl said:\n${out}\nwe said: ${mine.reasons.join('\n')}`,
    );
    if (ok) assert.equal(mine.matched?.depth, Number(m?.[1]), out);
  });
}
