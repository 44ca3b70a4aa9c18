/**
 * Issue 12: rules of the DANE verifier that the other tests could lose without failing.
 *
 * - RFC 5280 §6.1.4 (k), as OpenSSL's DANE code applies it below a DANE-TA(2) anchor: every
 *   certificate between the leaf and the anchor must be a CA. The test PKI only makes CA:TRUE
 *   intermediates, so here a CA:FALSE one issues the leaf; OpenSSL (what Postfix uses) decides
 *   first and verifyDane must agree.
 * - Digests (RFC 6698 §2.1.2-2.1.3): the expected association data comes from the openssl CLI,
 *   never from generateTlsa, so a wrong selector or hash in the code under test cannot also
 *   produce the expected value.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer, type Server } from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeKey, makePki, openssl, tempDir, type Issued } from '../../../test/support/pki.js';
import { formatRdata, parseTlsa, type TlsaRecord } from '../tlsa/index.js';
import { certFromDer } from '../x509/index.js';
import { verifyDane } from './verify.js';

const NAME = 'mail.example.test';
let a: ReturnType<typeof makePki>;
let notCa: Issued, underNotCa: Issued;
const servers: Server[] = [];

before(() => {
  const dir = tempDir();
  a = makePki(dir, { names: [NAME] });
  // CA:FALSE but keyUsage keyCertSign, so that OpenSSL's issuer check (which also looks at
  // keyUsage) finds it as the leaf's issuer and only basicConstraints is left to refuse it.
  notCa = byHand(
    dir,
    'notca',
    'Not A CA',
    ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,keyCertSign,digitalSignature'],
    a.root,
  );
  underNotCa = byHand(
    dir,
    'under-notca',
    NAME,
    ['basicConstraints=critical,CA:FALSE', `subjectAltName=DNS:${NAME}`],
    notCa,
  );
});

/** A certificate with exactly these extensions, signed by `issuer` with `openssl x509 -req`. */
function byHand(dir: string, name: string, cn: string, ext: string[], issuer: Issued): Issued {
  const keyFile = join(dir, `${name}.key`);
  const keyPem = makeKey(keyFile, 'p256');
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext.join('\n') + '\n');
  const csr = openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${cn}`]);
  const certPem = openssl(
    [
      'x509',
      '-req',
      '-CA',
      issuer.certFile,
      '-CAkey',
      issuer.keyFile,
      '-days',
      '30',
      '-set_serial',
      String(Date.now()),
      '-extfile',
      extFile,
    ],
    csr,
  ).toString('utf8');
  const certFile = join(dir, `${name}.crt`);
  writeFileSync(certFile, certPem);
  const der = Buffer.from(certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return { certPem, certFile, keyPem, keyFile, der };
}

after(() => {
  for (const s of servers) s.close();
});

const c = (i: Issued) => certFromDer(i.der);

/** `U S M HEX` with HEX computed by openssl, as the how-to guides do it. */
function opensslRecord(i: Issued, u: number, s: 0 | 1, m: 0 | 1 | 2): TlsaRecord {
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
      : openssl(['dgst', m === 1 ? '-sha256' : '-sha512', '-r'], der)
          .toString('utf8')
          .split(' ')[0]!;
  return parseTlsa(`${u} ${s} ${m} ${hex}`);
}

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

/** Postfix's flags: -dane_ee_no_namechecks; OpenSSL says "Verification: OK" or not. */
function opensslSays(
  chain: Issued[],
  records: TlsaRecord[],
): Promise<{ ok: boolean; out: string }> {
  return serve(chain).then(
    (port) =>
      new Promise((resolve) => {
        const args = ['s_client', '-brief', '-connect', `127.0.0.1:${port}`, '-servername', NAME];
        args.push('-dane_tlsa_domain', NAME, '-dane_ee_no_namechecks');
        for (const r of records) args.push('-dane_tlsa_rrdata', formatRdata(r));
        const child = execFile('openssl', args, { timeout: 20_000 }, (_e, stdout, stderr) => {
          const out = stdout + stderr;
          resolve({ ok: /^Verification: OK$/m.test(out), out });
        });
        child.stdin?.end();
      }),
  );
}

const mine = (chain: Issued[], records: TlsaRecord[]) =>
  verifyDane({ records, chain: chain.map(c), names: [NAME], time: new Date(), mode: 'smtp' });

describe('a certificate that is not a CA between the leaf and a DANE-TA anchor', () => {
  test('2 1 1 root above a CA:FALSE issuer: OpenSSL fails it, and so do we, saying why', async () => {
    const chain = [underNotCa, notCa, a.root];
    const records = [opensslRecord(a.root, 2, 1, 1)];
    const o = await opensslSays(chain, records);
    assert.equal(o.ok, false, o.out);
    const r = mine(chain, records);
    assert.equal(r.verdict, 'failed', r.reasons.join('\n'));
    assert.match(r.reasons.join('\n'), /depth 1 \(.*Not A CA.*\) is not a CA certificate/);
  });

  test('2 0 0 root not sent, same chain: still failed', async () => {
    const chain = [underNotCa, notCa];
    const records = [opensslRecord(a.root, 2, 0, 0)];
    const o = await opensslSays(chain, records);
    assert.equal(o.ok, false, o.out);
    assert.equal(mine(chain, records).verdict, 'failed');
  });

  test('the same shape with the CA:TRUE intermediate verifies (the control)', async () => {
    const chain = [a.leaf, a.intermediate, a.root];
    const records = [opensslRecord(a.root, 2, 1, 1)];
    const o = await opensslSays(chain, records);
    assert.equal(o.ok, true, o.out);
    assert.equal(mine(chain, records).verdict, 'verified');
  });

  test('DANE-EE does not care: 3 1 1 of the leaf under a CA:FALSE issuer verifies', async () => {
    const chain = [underNotCa, notCa];
    const records = [opensslRecord(underNotCa, 3, 1, 1)];
    assert.equal((await opensslSays(chain, records)).ok, true);
    assert.equal(mine(chain, records).verdict, 'verified');
  });
});

describe('digests from openssl (RFC 6698 §2.1.2, §2.1.3), not from generateTlsa', () => {
  for (const s of [0, 1] as const) {
    for (const m of [0, 1, 2] as const) {
      test(`3 ${s} ${m} of the leaf and 2 ${s} ${m} of the intermediate match; one flipped bit does not`, () => {
        const chain = [a.leaf, a.intermediate];
        for (const [cert, u, depth] of [
          [a.leaf, 3, 0],
          [a.intermediate, 2, 1],
        ] as const) {
          const good = opensslRecord(cert, u, s, m);
          const r = mine(chain, [good]);
          assert.equal(r.verdict, 'verified', `${formatRdata(good)}: ${r.reasons.join('; ')}`);
          assert.equal(r.matched?.depth, depth);
          // flip a bit inside the key (for full certificates too: a 2 0 0 anchor the server
          // did not send is used by its key, RFC 7671 §5.2.2, as OpenSSL does)
          const data = Buffer.from(good.data);
          const at = m === 0 && s === 0 ? data.indexOf(c(cert).spki) + 40 : data.length - 1;
          data[at]! ^= 1;
          assert.equal(mine(chain, [{ ...good, data }]).verdict, 'failed');
        }
      });
    }
  }

  test('fixed vector: SHA2-256 and SHA2-512 of a known SPKI (RFC 6234 via openssl)', () => {
    // The digests of a fixed byte string, computed once with `openssl dgst`: selectData must feed
    // the hash exactly the DER SPKI (RFC 6698 §2.1.2), so these are checked against the leaf's.
    const spki = openssl(
      ['pkey', '-pubin', '-outform', 'DER'],
      openssl(['x509', '-pubkey', '-noout'], a.leaf.certPem),
    );
    assert.deepEqual(c(a.leaf).spki, spki);
    const abc = Buffer.from('abc');
    assert.equal(
      openssl(['dgst', '-sha256', '-r'], abc).toString().split(' ')[0],
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
