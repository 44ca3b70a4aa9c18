/**
 * The ACME client against Pebble (Debian's 2.4) in a lab namespace: Pebble's HTTPS under a CA
 * this test makes (trusted through ca-file only), names resolved through the lab's BIND +
 * Unbound, HTTP-01 answered by the client's own listener on a lab address or by files in a
 * webroot. Pebble refuses 5 % of good nonces by default, and a second Pebble refuses half of
 * them and requires external account binding. ARI, profiles and `replaces` (which Pebble 2.4
 * lacks) are tested in src/io/acme/client.test.ts against a fake directory.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DkError } from '../../src/core/errors.js';
import type { Obtained } from '../../src/io/acme/obtain.js';
import { callInNetns } from '../support/netns-call.js';
import { tempDir } from '../support/pki.js';
import { startDnsLab, RESOLVER, type DnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable, type Netns } from './netns.js';
import { startPebble, type Pebble } from './pebble.js';

const avail = labAvailable();
const PEBBLE = '127.0.57.1';
const PEBBLE_EAB = '127.0.57.2';
/** where the client's HTTP-01 listener (or the webroot's server) runs */
const WEB = '127.0.58.1';
/** a lab name whose address nothing listens on */
const DEAD = '127.0.58.9';
const DRIVER = 'test/lab/acme-driver.ts';
const DNS01_PRIMARY = '127.0.54.61';
/** lags (no NOTIFY) until lab.refreshSecondary */
const DNS01_SECONDARY = '127.0.54.62';
const TSIG = labTsigKey('dk-acme-dns01');
const EAB = {
  kid: 'kid-lab',
  hmacKey: Buffer.from('danekeeper lab eab hmac key 32by').toString('base64url'),
};

function ecKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

function spki(pem: string): Buffer {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

function call<T>(ns: Netns, fn: string, args: unknown[]): Promise<T> {
  return callInNetns<T>(ns, DRIVER, fn, args, { timeoutMs: 90_000 });
}

async function rejects(p: Promise<unknown>, code: string): Promise<DkError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('ACME client against Pebble (lab)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;
  let pebble: Pebble;
  let pebbleEab: Pebble;
  let dir: string;

  before(async () => {
    dir = tempDir('dk-acme-lab-');
    ns = await createNetns({ addresses: [PEBBLE, PEBBLE_EAB, WEB] });
    lab = await startDnsLab(ns, {
      zones: [
        {
          name: 'acme.test',
          servers: ['127.0.54.60'],
          records: [
            { name: 'ca', type: 'A', data: PEBBLE },
            { name: 'ca-eab', type: 'A', data: PEBBLE_EAB },
            { name: 'mx1', type: 'A', data: WEB },
            { name: 'www', type: 'A', data: WEB },
            { name: 'web', type: 'A', data: WEB },
            { name: 'dead', type: 'A', data: DEAD },
          ],
        },
        {
          name: 'dns01.test',
          signing: 'inline',
          servers: [DNS01_PRIMARY],
          secondaries: [DNS01_SECONDARY],
          updateKeys: [TSIG],
          records: [{ name: 'mail', type: 'A', data: WEB }],
        },
      ],
    });
    mkdirSync(join(dir, 'p1'));
    mkdirSync(join(dir, 'p2'));
    [pebble, pebbleEab] = await Promise.all([
      startPebble(ns, {
        hostname: 'ca.acme.test',
        address: PEBBLE,
        dnsServer: `${RESOLVER}:53`,
        dir: join(dir, 'p1'),
      }),
      startPebble(ns, {
        hostname: 'ca-eab.acme.test',
        address: PEBBLE_EAB,
        dnsServer: `${RESOLVER}:53`,
        nonceReject: 50,
        eab: { [EAB.kid]: EAB.hmacKey },
        dir: join(dir, 'p2'),
      }),
    ]);
  });

  after(async () => {
    // The namespace's teardown stops both Pebbles; LabProcess.stop() waits on an unref'd child
    // and an unref'd grace timer, so without a handle of our own the event loop empties while
    // Pebble shuts down and node:test cancels the suite.
    const keep = setInterval(() => {}, 1000);
    try {
      await lab?.stop();
      await ns?.destroy();
    } finally {
      clearInterval(keep);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const common = () => ({
    directory: pebble.directory,
    caFile: pebble.caFile,
    email: 'hostmaster@acme.test',
  });

  it('obtains a certificate over HTTP-01 with its own listener, from the domain key, chain leaf first; the listener is closed afterwards', async () => {
    const key = ecKey();
    const acct = await call<{ url: string; keyPem: string; created: boolean }>(ns, 'register', [
      common(),
    ]);
    assert.equal(acct.created, true);
    assert.match(acct.url, /^https:\/\/ca\.acme\.test:14000\//);
    const r = await call<{
      account: string;
      obtained: Obtained;
      served: string[];
      listenerOpenAfter: boolean;
    }>(ns, 'obtainHttp01', [
      { ...common(), account: { keyPem: acct.keyPem, url: acct.url } },
      { names: ['mx1.acme.test', 'www.acme.test'], keyPem: key, listen: `${WEB}:80` },
    ]);
    assert.equal(r.account, acct.url, 'the stored account is used, not a new one');
    assert.equal(r.served.length >= 2, true, `served ${JSON.stringify(r.served)}`);
    assert.equal(r.listenerOpenAfter, false);
    const o = r.obtained;
    assert.deepEqual([...o.names].sort(), ['mx1.acme.test', 'www.acme.test']);
    assert.ok(o.chainLength >= 2, 'leaf and at least one issuer, as Pebble returned them');
    const certs = o.chainPem.match(
      /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
    )!;
    const leaf = new X509Certificate(certs[0]!);
    assert.deepEqual(
      spki(leaf.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
      spki(key),
      'the CSR came from the given key',
    );
    assert.ok(leaf.checkIssued(new X509Certificate(certs[1]!)), 'leaf first, its issuer next');
    assert.equal(o.serial, leaf.serialNumber);
    assert.equal(o.notAfter, new Date(leaf.validTo).toISOString());
    assert.match(o.certId ?? '', /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal(o.replacesSent, false, 'Pebble 2.4 has no renewalInfo: no replaces');

    // a renewal with the same key: a new certificate, the same SPKI (so `3 1 1` stays valid)
    const again = await call<{ obtained: Obtained }>(ns, 'obtainHttp01', [
      { ...common(), account: { keyPem: acct.keyPem, url: acct.url } },
      { names: ['mx1.acme.test'], keyPem: key, listen: `${WEB}:80` },
    ]);
    const leaf2 = new X509Certificate(again.obtained.chainPem);
    assert.notEqual(leaf2.serialNumber, leaf.serialNumber);
    assert.deepEqual(
      leaf2.publicKey.export({ type: 'spki', format: 'der' }),
      leaf.publicKey.export({ type: 'spki', format: 'der' }),
    );
  });

  it('answers HTTP-01 from a webroot and removes the files afterwards', async () => {
    const webroot = join(dir, 'webroot');
    mkdirSync(webroot, { recursive: true });
    const r = await call<{ obtained: Obtained; servedFiles: string[]; leftInWebroot: string[] }>(
      ns,
      'obtainWebroot',
      [common(), { names: ['web.acme.test'], keyPem: ecKey(), listen: `${WEB}:80`, webroot }],
    );
    assert.ok(
      r.servedFiles.some((f) => f.startsWith('/.well-known/acme-challenge/')),
      JSON.stringify(r.servedFiles),
    );
    assert.deepEqual(r.leftInWebroot, []);
    assert.deepEqual(r.obtained.names, ['web.acme.test']);
  });

  it('a failed challenge is E_ACME_CHALLENGE_FAILED naming the name, and the listener is closed', async () => {
    const e = await rejects(
      call(ns, 'obtainHttp01', [
        common(),
        { names: ['dead.acme.test'], keyPem: ecKey(), listen: `${WEB}:80` },
      ]),
      'E_ACME_CHALLENGE_FAILED',
    );
    assert.match(e.message, /dead\.acme\.test/);
    assert.doesNotMatch(e.message, /PRIVATE KEY/);
  });

  it('without ca-file the private CA of the directory is not trusted (E_ACME_TLS)', async () => {
    await rejects(call(ns, 'register', [{ directory: pebble.directory }]), 'E_ACME_TLS');
  });

  it('EAB: refused without it (E_ACME_EAB_REQUIRED), registered with it, while half the nonces are refused (badNonce retried)', async () => {
    const base = { directory: pebbleEab.directory, caFile: pebbleEab.caFile, badNonceRetries: 12 };
    await rejects(call(ns, 'register', [base]), 'E_ACME_EAB_REQUIRED');
    const acct = await call<{ url: string; keyPem: string }>(ns, 'register', [
      { ...base, eab: EAB },
    ]);
    const r = await call<{ obtained: Obtained }>(ns, 'obtainHttp01', [
      { ...base, account: acct },
      { names: ['mx1.acme.test'], keyPem: ecKey(), listen: `${WEB}:80` },
    ]);
    assert.deepEqual(r.obtained.names, ['mx1.acme.test']);
  });

  it('badNonce with no retries left is its own error (E_ACME_BAD_NONCE)', async () => {
    // half the nonces refused, no retries: one of ~10 signed requests fails for certain enough
    // (0.5^10), and it must fail as badNonce, not as something else
    const base = {
      directory: pebbleEab.directory,
      caFile: pebbleEab.caFile,
      badNonceRetries: 0,
      eab: EAB,
    };
    let seen: DkError | undefined;
    for (let i = 0; i < 10 && !seen; i++) {
      try {
        await call(ns, 'register', [base]);
      } catch (e) {
        seen = e as DkError;
      }
    }
    assert.ok(seen);
    assert.equal(seen.code, 'E_ACME_BAD_NONCE', seen.message);
  });

  it('DNS-01 through rfc2136: TXT published with TSIG, the CA told only once the lagging secondary serves it too, our values removed and a hand-made one kept', async () => {
    const keyFile = lab.tsigKeyFile(TSIG);
    const dns = { zone: 'dns01.test', server: DNS01_PRIMARY, keyFile };
    const hand = await call<{ added: string[] }>(ns, 'addHandTxt', [
      { ...dns, owner: '_acme-challenge.mail.dns01.test.', value: 'made by hand' },
    ]);
    assert.deepEqual(hand.added, ['made by hand']);
    let done = false;
    const run = call<{ obtained: Obtained; looks: string[][]; txtAfter: Record<string, string[]> }>(
      ns,
      'obtainDns01',
      [common(), { ...dns, names: ['mail.dns01.test'], keyPem: ecKey(), resolver: RESOLVER }],
    ).finally(() => (done = true));
    // the secondary only catches up when told to: do so every 1.5 s until the order is done
    while (!done) {
      await Promise.race([run.catch(() => undefined), new Promise((r) => setTimeout(r, 1500))]);
      if (!done) await lab.refreshSecondary('dns01.test');
    }
    const r = await run;
    assert.deepEqual(r.obtained.names, ['mail.dns01.test']);
    const first = r.looks[0]!;
    assert.ok(first.includes(`${DNS01_PRIMARY} serves`), JSON.stringify(r.looks));
    assert.ok(
      first.includes(`${DNS01_SECONDARY} missing`),
      `the secondary lagged at first: ${JSON.stringify(r.looks)}`,
    );
    assert.deepEqual(r.looks.at(-1)!.sort(), [
      `${DNS01_PRIMARY} serves`,
      `${DNS01_SECONDARY} serves`,
    ]);
    assert.deepEqual(
      r.txtAfter['mail.dns01.test'],
      ['made by hand'],
      'our value removed, the hand-made one kept',
    );
  });
});
