/**
 * The `dns` and `dnssec` commands as an operator runs them, inside a lab namespace: BIND signs
 * a zone itself and takes TSIG-signed updates, a secondary lags behind it, and Unbound
 * validates. Every change is checked through the validating resolver (AD set), the lagging
 * secondary is named by `dns propagation`, and no secret ever reaches the output.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliAsync, type CliResult } from '../support/cli.js';
import { makePki } from '../support/pki.js';
import { startDnsLab, tlsaIn, type DnsLab } from './dns/dnslab.js';
import { labTsigKey } from './dns/tsig.js';
import { createNetns, labAvailable, sleep, type Netns } from './netns.js';

const avail = labAvailable();
const PRIMARY = '127.0.54.140';
const SECONDARY = '127.0.54.141';
const FILE_ZONE = '127.0.54.142';
const KEY = labTsigKey('dk-cli-update', 'hmac-sha512');
const OTHER_KEY = labTsigKey('dk-cli-other');
const HAND = `3 1 1 ${'0f'.repeat(32)}`;
const A = `3 1 1 ${'aa'.repeat(32)}`;
const OWNER = '_25._tcp.mail.pub.test.';

describe('danekeeper dns / dnssec (lab, real BIND)', { skip: !avail.ok && avail.reason }, () => {
  let ns: Netns;
  let lab: DnsLab;
  let dir: string;
  let keyFile: string;
  let rfc2136: string[];
  const outputs: CliResult[] = [];

  const dk = async (args: string[]) => {
    const r = await runCliAsync(args, { netns: ns.name });
    outputs.push(r);
    return r;
  };
  /** the TLSA RRset at OWNER through the validating resolver: records and the AD flag */
  const viaResolver = async (zone: string, owner = OWNER) => {
    await lab.flushResolver(zone);
    const d = await lab.dig(['+dnssec', owner, 'TLSA']);
    const records = tlsaIn(d.answer);
    return { ad: d.flags.includes('ad'), status: d.status, records };
  };

  /**
   * Waits (up to 5 s) until the resolver answers `want` at the owner: BIND signs an update in
   * its inline-signed copy a moment after it acknowledged it. Then asserts the set and AD.
   */
  const expectVia = async (zone: string, want: string[], owner = OWNER) => {
    let seen = await viaResolver(zone, owner);
    for (let i = 0; i < 50 && seen.records.join() !== [...want].sort().join(); i++) {
      await sleep(100);
      seen = await viaResolver(zone, owner);
    }
    assert.deepEqual(seen.records, [...want].sort());
    assert.equal(seen.ad, true, `no AD for ${owner}`);
  };

  before(async () => {
    ns = await createNetns();
    dir = mkdtempSync(join(tmpdir(), 'dk-dns-cli-'));
    lab = await startDnsLab(ns, {
      zones: [
        {
          name: 'pub.test',
          signing: 'inline',
          servers: [PRIMARY],
          secondaries: [SECONDARY],
          updateKeys: [KEY],
          records: [
            { name: 'mail', type: 'A', data: '127.0.10.25' },
            { name: '_25._tcp.mail', type: 'TLSA', data: HAND },
          ],
        },
        {
          name: 'file.test',
          signing: 'inline',
          servers: [FILE_ZONE],
          records: [{ name: 'mail', type: 'A', data: '127.0.10.26' }],
        },
        { name: 'island.test', security: 'island' },
      ],
      tsigKeys: [OTHER_KEY],
    });
    keyFile = lab.tsigKeyFile(KEY);
    rfc2136 = [
      '--zone',
      'pub.test',
      '--backend',
      'rfc2136',
      '--server',
      PRIMARY,
      '--tsig-key',
      keyFile,
      '--state',
      join(dir, 'state.db'),
    ];
  });

  after(async () => {
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await lab?.stop();
      await ns?.destroy();
    } finally {
      clearInterval(keepAlive);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dnssec status: the inline-signed zone is ready (exit 0)', async () => {
    const r = await dk(['dnssec', 'status', 'pub.test', '--resolver', lab.resolver, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const rep = JSON.parse(r.stdout) as {
      ready: boolean;
      signing: string;
      chain: { status: string };
    };
    assert.equal(rep.ready, true);
    assert.equal(rep.signing, 'signed');
    assert.equal(rep.chain.status, 'secure');
  });

  it('dnssec status: a zone with no DS prints the DS to give the registrar, as dnssec-dsfromkey computes it', async () => {
    const r = await dk(['dnssec', 'status', 'island.test', '--resolver', lab.resolver]);
    // CRITICAL: without a DS the zone is insecure to every resolver, so DANE cannot work.
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stdout, /Give the registrar of island\.test this DS record/);
    const dnskeys = await lab.dig([
      '+norec',
      '@' + lab.zone('island.test').servers[0]!,
      'island.test',
      'DNSKEY',
    ]);
    const ksk = dnskeys.answer.filter((l) => / DNSKEY 257 /.test(l));
    assert.ok(ksk.length > 0);
    const f = join(dir, 'island.dnskey');
    writeFileSync(f, ksk.join('\n') + '\n');
    const ds = execFileSync('dnssec-dsfromkey', ['-2', '-f', f, 'island.test'], {
      encoding: 'utf8',
    })
      .trim()
      .replace(/\s+/g, ' ')
      .replace(/^island\.test\. IN DS /, '');
    assert.ok(
      r.stdout.replace(/\s+/g, ' ').includes(`island.test. IN DS ${ds}`),
      `${ds} not in\n${r.stdout}`,
    );
  });

  it('add-tlsa (the seed form), repeat, list; the hand-made record stays; AD through the resolver', async () => {
    const add = [
      'dns',
      'add-tlsa',
      ...rfc2136,
      '--name',
      'mail',
      '--port',
      '25',
      '--proto',
      'tcp',
      '--usage',
      '3',
      '--selector',
      '1',
      '--mtype',
      '1',
      '--data',
      'aa'.repeat(32),
      '--ttl',
      '600',
    ];
    const first = await dk(add);
    // The hand-made record has the zone's TTL: a different --ttl would change it too.
    assert.equal(first.code, 64, first.stdout);
    assert.match(
      first.stderr,
      /^danekeeper: The TLSA RRset at _25\._tcp\.mail\.pub\.test\. holds records danekeeper did not create, with TTL 300; TTL 600 would change theirs too/,
    );
    await expectVia('pub.test', [HAND]);

    const ok = await dk(add.slice(0, -2));
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /changed, TTL 300/);
    await expectVia('pub.test', [HAND, A]);

    const again = await dk(add.slice(0, -2));
    assert.equal(again.code, 0);
    assert.match(again.stdout, /no change/);

    const list = await dk(['dns', 'list', ...rfc2136, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const l = JSON.parse(list.stdout) as {
      owners: { owner: string; records: { record: string; danekeeper: boolean }[] }[];
    };
    assert.deepEqual(
      l.owners[0]!.records.map((x) => [x.record, x.danekeeper]).sort(),
      [
        [A, true],
        [HAND, false],
      ].sort(),
    );
    await expectVia('pub.test', [HAND, A]);
  });

  it('propagation names the lagging secondary, then reports all in step once it catches up', async () => {
    const args = [
      'dns',
      'propagation',
      ...rfc2136,
      '--name',
      'mail',
      '--resolver',
      lab.resolver,
      '--json',
    ];
    const lagging = await dk(args);
    assert.equal(lagging.code, 1, lagging.stderr + lagging.stdout);
    const r = JSON.parse(lagging.stdout) as {
      allInStep: boolean;
      servers: { address: string; state: string }[];
    };
    assert.equal(r.allInStep, false);
    assert.equal(r.servers.find((s) => s.address === PRIMARY)?.state, 'in-step');
    assert.equal(r.servers.find((s) => s.address === SECONDARY)?.state, 'old');
    const text = await dk(args.slice(0, -1));
    assert.match(
      text.stdout,
      new RegExp(
        `ns2\\.pub\\.test\\.? ${SECONDARY.replace(/\./g, '\\.')}\\s+still the old set \\(missing 1\\)`,
      ),
    );

    await lab.refreshSecondary('pub.test');
    const caught = await dk(args);
    assert.equal(caught.code, 0, caught.stdout);
    assert.equal((JSON.parse(caught.stdout) as { allInStep: boolean }).allInStep, true);
  });

  it("publish --cert --replace swaps danekeeper's record for the certificate's (forced: nothing listens at mail.pub.test to prove it safe), remove takes it away; the hand-made one survives", async () => {
    const pki = makePki(dir, { names: ['mail.pub.test'] });
    const publishArgs = ['dns', 'publish', ...rfc2136, '--name', 'mail', '--cert', pki.chainFile];
    // Removing a record needs proof that the live server does not rely on it; no server, no proof.
    const unproven = await dk([...publishArgs, '--replace']);
    assert.equal(unproven.code, 69, unproven.stderr);
    assert.match(unproven.stderr, /--force/);
    await expectVia('pub.test', [HAND, A]);
    const pub = await dk([...publishArgs, '--replace', '--force', '--json']);
    assert.equal(pub.code, 0, pub.stderr);
    const res = JSON.parse(pub.stdout) as { added: string[]; removed: string[] };
    assert.deepEqual(res.removed, [A]);
    assert.equal(res.added.length, 1);
    await expectVia('pub.test', [HAND, res.added[0]!]);

    const refused = await dk(['dns', 'remove', ...rfc2136, '--name', 'mail', '--tlsa', HAND]);
    assert.equal(refused.code, 64);
    assert.match(refused.stderr, /a record was not created by danekeeper; add --force/);

    // --all --force would take the hand-made record too: name danekeeper's.
    const rm = await dk([
      'dns',
      'remove',
      ...rfc2136,
      '--name',
      'mail',
      '--tlsa',
      res.added[0]!,
      '--force',
    ]);
    assert.equal(rm.code, 0, rm.stderr);
    await expectVia('pub.test', [HAND]);
  });

  it('a wrong key, a key not allowed, a zone not served there, a server down: one line, a defined status, nothing applied', async () => {
    const wrongSecret = join(dir, 'wrong.key');
    writeFileSync(
      wrongSecret,
      `key "${KEY.name}" {\n\talgorithm ${KEY.algorithm};\n\tsecret "${Buffer.alloc(64, 7).toString('base64')}";\n};\n`,
      { mode: 0o600 },
    );
    const cases: [string[], number, RegExp][] = [
      [['--tsig-key', wrongSecret], 77, /BADSIG|signature/i],
      [['--tsig-key', lab.tsigKeyFile(OTHER_KEY)], 77, /refused/i],
      [['--server', '127.0.53.2'], 78, /not authoritative|NOTAUTH/i],
      [['--server', '127.0.54.199'], 69, /from 127\.0\.54\.199:53 failed: connection refused/],
    ];
    for (const [override, code, re] of cases) {
      const args = [...rfc2136];
      for (let i = 0; i < override.length; i += 2)
        args[args.indexOf(override[i]!) + 1] = override[i + 1]!;
      const r = await dk([
        'dns',
        'add-tlsa',
        ...args,
        '--name',
        'mail',
        '--data',
        'bb'.repeat(32),
        '--timeout',
        '2',
      ]);
      assert.equal(r.code, code, `${override.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    await expectVia('pub.test', [HAND]);
  });

  it('zonefile backend: edits the zone BIND signs, reloads it, AD through the resolver', async () => {
    const z = lab.zone('file.test');
    const before = statSync(z.file).mode & 0o777;
    const args = [
      'dns',
      'add-tlsa',
      '--zone',
      'file.test',
      '--zone-file',
      z.file,
      '--reload-cmd',
      lab.reloadCommand('file.test').join(' '),
      '--state',
      join(dir, 'state.db'),
      '--name',
      'mail',
      '--data',
      'cc'.repeat(32),
    ];
    const r = await dk(args);
    assert.equal(r.code, 0, r.stderr);
    await expectVia('file.test', [`3 1 1 ${'cc'.repeat(32)}`], '_25._tcp.mail.file.test.');
    assert.equal(statSync(z.file).mode & 0o777, before, 'the zone file keeps its mode');
    assert.match(readFileSync(z.file, 'utf8'), /_25\._tcp\.mail/);
  });

  it('no secret ever reaches the output', () => {
    const secrets = [KEY.secret, OTHER_KEY.secret];
    for (const o of outputs)
      for (const s of secrets) {
        assert.ok(
          !o.stdout.includes(s) && !o.stderr.includes(s),
          `a TSIG secret was printed: ${o.stdout}${o.stderr}`,
        );
      }
    assert.ok(outputs.length > 10);
  });
});
