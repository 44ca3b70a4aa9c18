/**
 * The endpoint guard without a network: plain-data DNS, a stand-in probe and chains made with
 * openssl. The real path (BIND, Unbound, Postfix) is test/lab/dns-safety.test.ts.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DkError } from '../core/errors.js';
import { generateTlsa, type TlsaRecord } from '../core/tlsa/index.js';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { StaticResolver, type StaticEntry } from '../io/dns/index.js';
import type { ProbeOptions, ProbeResult } from '../io/probe/index.js';
import { makePki, tempDir, type Pki } from '../../test/support/pki.js';
import {
  endpointGuard,
  endpointOf,
  judgeChange,
  refusal,
  shortRecord,
  type EndpointSeen,
} from './endpoint-guard.js';

const OWNER = '_25._tcp.mx1.example.test.';
const NOW = new Date();
let oldPki: Pki;
let newPki: Pki;
let oldChain: Cert[];
let newChain: Cert[];
let oldEe: TlsaRecord;
let newEe: TlsaRecord;
let oldTa: TlsaRecord;
const junk: TlsaRecord = { usage: 3, selector: 1, mtype: 1, data: Buffer.alloc(32, 7) };

const chainOf = (p: Pki) =>
  parseCertificates(Buffer.from(p.leaf.certPem + p.intermediate.certPem), 'chain');

before(() => {
  const dir = tempDir('dk-guard-');
  oldPki = makePki(dir, { names: ['mx1.example.test'], prefix: 'old-' });
  newPki = makePki(dir, { names: ['mx1.example.test'], prefix: 'new-' });
  oldChain = chainOf(oldPki);
  newChain = chainOf(newPki);
  oldEe = generateTlsa(oldChain[0]!, 3, 1, 1);
  newEe = generateTlsa(newChain[0]!, 3, 1, 1);
  oldTa = generateTlsa(oldChain[1]!, 2, 1, 1);
});

const seenOf = (...a: EndpointSeen['addresses']): EndpointSeen => ({
  host: 'mx1.example.test',
  port: 25,
  addresses: a,
});
const judge = (seen: EndpointSeen, before: TlsaRecord[], after: TlsaRecord[]) =>
  judgeChange({ owner: OWNER, seen, before, after, time: NOW });

describe('endpointOf', () => {
  it('reads _PORT._PROTO.HOST, absolute or not, in any case', () => {
    assert.deepEqual(endpointOf('_25._tcp.MX1.Example.test.'), {
      host: 'mx1.example.test',
      port: 25,
      proto: 'tcp',
    });
    assert.deepEqual(endpointOf('_443._udp.www.example.test'), {
      host: 'www.example.test',
      port: 443,
      proto: 'udp',
    });
    assert.equal(endpointOf('mx1.example.test.'), null);
    assert.equal(endpointOf('_70000._tcp.mx1.example.test.'), null);
  });
});

describe('judgeChange and refusal (pure)', () => {
  it('replacing the only matching record with a new key the server does not present yet is refused, naming the record it needs', () => {
    const j = judge(seenOf({ address: '127.0.10.1', chain: oldChain }), [oldEe], [newEe]);
    assert.equal(j.addresses[0]!.state, 'lost');
    const e = refusal(j);
    assert.ok(e instanceof DkError);
    assert.equal(e.kind, 'usage');
    assert.equal(e.code, 'E_ENDPOINT_UNMATCHED');
    assert.ok(
      e.message.includes(
        `127.0.10.1 presents CN=mx1.example.test whose key only ${shortRecord(oldEe)} matches: keep it, or install the new certificate first`,
      ),
      e.message,
    );
    assert.match(e.message, /^Nothing changed at _25\._tcp\.mx1\.example\.test\.: /);
    assert.match(e.message, /--force to change it anyway\)$/);
    assert.match(shortRecord(oldEe), /^3 1 1 [0-9a-f]{12}…$/);
  });

  it('a bare certificate (empty subject, as DANE-EE deployments use) is named as such', () => {
    const j = judge(seenOf({ address: '127.0.10.1', chain: oldChain }), [oldEe], [newEe]);
    const bare = { ...j, addresses: j.addresses.map((a) => ({ ...a, subject: '' })) };
    assert.match(
      refusal(bare)?.message ?? '',
      /127\.0\.10\.1 presents a certificate with an empty subject whose key only /,
    );
  });

  it('the same change is safe once the server presents the new certificate', () => {
    const j = judge(seenOf({ address: '127.0.10.1', chain: newChain }), [oldEe], [newEe]);
    assert.equal(j.addresses[0]!.state, 'matched');
    assert.equal(refusal(j), null);
  });

  it('removing a record nothing matches is safe; removing the last match is refused, also when the RRset becomes empty', () => {
    const seen = seenOf({ address: '127.0.10.1', chain: oldChain });
    assert.equal(refusal(judge(seen, [oldEe, junk], [oldEe])), null);
    assert.equal(judge(seen, [oldEe, junk], [junk]).addresses[0]!.state, 'lost');
    const last = judge(seen, [oldEe], []);
    assert.equal(last.addresses[0]!.state, 'lost');
    // RFC 7672 §2.2: no records means no DANE, not undeliverable: the refusal says which.
    const e = refusal(last);
    assert.equal(e?.code, 'E_ENDPOINT_UNMATCHED');
    assert.match(
      e?.message ?? '',
      /removing its last TLSA record turns DANE off for mx1\.example\.test:25/,
    );
    assert.match(e?.message ?? '', /\(--force to turn DANE off anyway\)$/);
    assert.doesNotMatch(refusal(judge(seen, [oldEe, junk], [junk]))?.message ?? '', /DANE off/);
  });

  it('a DANE-TA record keeps the address matched; two lost matches say "keep one"', () => {
    const seen = seenOf({ address: '127.0.10.1', chain: oldChain });
    assert.equal(refusal(judge(seen, [oldEe, oldTa], [oldTa])), null);
    const e = refusal(judge(seen, [oldEe, oldTa], [newEe]));
    assert.ok(e);
    assert.ok(
      e.message.includes(
        `whose chain only ${shortRecord(oldEe)} and ${shortRecord(oldTa)} match: keep one`,
      ),
      e.message,
    );
  });

  it('SMTP rules at port 25: a PKIX-EE record never authenticated anything there, so dropping it loses nothing', () => {
    const pkixEe = { ...oldEe, usage: 1 };
    const seen = seenOf({ address: '127.0.10.1', chain: oldChain });
    const j = judge(seen, [pkixEe], []);
    assert.equal(j.addresses[0]!.state, 'unmatched');
    assert.equal(refusal(j), null);
  });

  it('DANE-TA needs the name: a chain for another host matches only by its leaf key', () => {
    const other = makePki(tempDir('dk-guard-'), { names: ['other.example.test'] });
    const chain = chainOf(other);
    const ta = generateTlsa(chain[1]!, 2, 1, 1);
    const j = judge(seenOf({ address: '127.0.10.1', chain }), [ta], []);
    assert.equal(j.addresses[0]!.state, 'unmatched');
  });

  it('one address of two loses its match: the refusal names only that one', () => {
    const seen = seenOf(
      { address: '127.0.10.1', chain: newChain },
      { address: 'fd00:53::1', chain: oldChain },
    );
    const e = refusal(judge(seen, [oldEe, newEe], [newEe]));
    assert.ok(e);
    assert.match(e.message, /fd00:53::1 presents CN=mx1\.example\.test whose key only/);
    assert.doesNotMatch(e.message, /127\.0\.10\.1 presents/);
  });

  it('an address that cannot be reached: refused as unavailable (69), the reason given', () => {
    const j = judge(
      seenOf(
        { address: '127.0.10.1', chain: newChain },
        { address: '127.0.10.2', error: '127.0.10.2:25 failed: connection refused' },
      ),
      [oldEe, newEe],
      [newEe],
    );
    const e = refusal(j);
    assert.ok(e);
    assert.equal(e.kind, 'unavailable');
    assert.equal(e.code, 'E_ENDPOINT_UNREACHABLE');
    assert.match(
      e.message,
      /127\.0\.10\.2 could not be reached \(127\.0\.10\.2:25 failed: connection refused\), so we cannot prove/,
    );
  });

  it('a host whose addresses cannot be looked up: refused as unavailable', () => {
    const e = refusal(judge({ ...seenOf(), unresolved: 'A lookup bogus: x' }, [oldEe], [newEe]));
    assert.equal(e?.kind, 'unavailable');
    assert.match(e?.message ?? '', /cannot look up mx1\.example\.test \(A lookup bogus: x\)/);
  });

  it('a host with no addresses presents nothing: nothing to lose', () => {
    assert.equal(refusal(judge(seenOf(), [oldEe], [])), null);
  });
});

describe('endpointGuard (the beforeApply hook)', () => {
  const dns = (extra: Record<string, StaticEntry> = {}) =>
    new StaticResolver({
      'mx1.example.test/A': { records: ['127.0.10.1'] },
      'mx1.example.test/AAAA': { records: ['fd00:53::1'] },
      ...extra,
    });
  const fakeProbe = (chains: Record<string, Cert[]>, seen: ProbeOptions[]) => {
    return (o: ProbeOptions): Promise<ProbeResult> => {
      seen.push(o);
      const chain = chains[o.address!];
      if (!chain) {
        return Promise.reject(
          new DkError('unavailable', 'probe-refused', `${o.address}:25 failed: connection refused`),
        );
      }
      return Promise.resolve({
        chain: chain.map((c) => c.der),
        protocol: 'TLSv1.3',
        cipher: 'TLS_AES_128_GCM_SHA256',
        address: o.address!,
        port: o.port,
        servername: o.servername,
        transcript: [],
        chainSource: 'presented',
      });
    };
  };

  it('probes every address once (SNI = host, STARTTLS from the port), even over retries, and refuses', async () => {
    const probes: ProbeOptions[] = [];
    const judged: string[] = [];
    const guard = endpointGuard({
      resolver: dns(),
      probe: fakeProbe({ '127.0.10.1': oldChain, 'fd00:53::1': oldChain }, probes),
      timeoutMs: 1000,
      now: () => NOW,
      onJudgement: (j) => judged.push(j.addresses.map((a) => a.state).join()),
    });
    const change = { owner: OWNER, before: [oldEe], after: [newEe], remove: [oldEe] };
    for (let i = 0; i < 2; i++) {
      await assert.rejects(guard(change), (e: DkError) => e.code === 'E_ENDPOINT_UNMATCHED');
    }
    assert.deepEqual(probes.map((p) => p.address).sort(), ['127.0.10.1', 'fd00:53::1']);
    assert.ok(probes.every((p) => p.servername === 'mx1.example.test' && p.starttls === 'smtp'));
    assert.deepEqual(judged, ['lost,lost', 'lost,lost']);
  });

  it('a change that removes nothing is not probed at all', async () => {
    const probes: ProbeOptions[] = [];
    const guard = endpointGuard({
      resolver: dns(),
      probe: fakeProbe({}, probes),
      timeoutMs: 1000,
      now: () => NOW,
    });
    await guard({ owner: OWNER, before: [oldEe], after: [oldEe, newEe], remove: [] });
    assert.equal(probes.length, 0);
  });

  it('bogus addresses, an unreachable address, a udp owner: refused as unavailable', async () => {
    const guardWith = (resolver: StaticResolver, chains: Record<string, Cert[]>) =>
      endpointGuard({
        resolver,
        probe: fakeProbe(chains, []),
        timeoutMs: 1000,
        now: () => NOW,
      });
    const change = { owner: OWNER, before: [oldEe, newEe], after: [newEe], remove: [oldEe] };
    await assert.rejects(
      guardWith(
        dns({ 'mx1.example.test/A': { status: 'bogus', why: 'RRSIG expired' } }),
        {},
      )(change),
      (e: DkError) => e.kind === 'unavailable' && /A lookup bogus: RRSIG expired/.test(e.message),
    );
    await assert.rejects(
      guardWith(dns(), { '127.0.10.1': newChain })(change),
      (e: DkError) => e.kind === 'unavailable' && /fd00:53::1 could not be reached/.test(e.message),
    );
    await guardWith(dns(), { '127.0.10.1': newChain, 'fd00:53::1': newChain })(change);
    await assert.rejects(
      guardWith(dns(), {})({ ...change, owner: '_443._udp.mx1.example.test.' }),
      (e: DkError) => e.code === 'E_ENDPOINT_UNKNOWN' && /cannot probe udp/.test(e.message),
    );
  });

  it('what was already seen (publish --fetch) is used instead of a new probe', async () => {
    const probes: ProbeOptions[] = [];
    const guard = endpointGuard({
      resolver: dns(),
      probe: fakeProbe({}, probes),
      timeoutMs: 1000,
      now: () => NOW,
      seen: [seenOf({ address: '127.0.10.1', chain: newChain })],
    });
    await guard({ owner: OWNER, before: [oldEe], after: [newEe], remove: [oldEe] });
    assert.equal(probes.length, 0);
  });
});
