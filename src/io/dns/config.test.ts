import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DkError } from '../../core/errors.js';
import { loadResolverConfig, parseResolvConf, parseResolverOption, parseServer } from './config.js';

const usage = (f: () => unknown, re: RegExp): void => {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DkError);
    assert.equal(e.kind, 'usage');
    assert.equal(e.code, 'E_DNS_RESOLVER');
    assert.match(e.message, re);
    return true;
  });
};

describe('--resolver', () => {
  test('IPv4, IPv4:port, IPv6 literal, [IPv6], [IPv6]:port', () => {
    assert.deepEqual(parseServer('192.0.2.53'), {
      address: '192.0.2.53',
      port: 53,
      family: 4,
      label: '192.0.2.53:53',
    });
    assert.equal(parseServer('127.0.0.1:5353').label, '127.0.0.1:5353');
    assert.deepEqual(parseServer('2001:db8::53'), {
      address: '2001:db8::53',
      port: 53,
      family: 6,
      label: '[2001:db8::53]:53',
    });
    assert.equal(parseServer('[::1]').label, '[::1]:53');
    assert.equal(parseServer('[::1]:5300').port, 5300);
    assert.equal(parseServer(' 192.0.2.1 ').address, '192.0.2.1');
  });

  test('lists: repeated and comma- or space-separated', () => {
    const s = parseResolverOption(['127.0.0.1:5300,[::1]:5301', '192.0.2.1 192.0.2.2']);
    assert.deepEqual(
      s.map((x) => x.label),
      ['127.0.0.1:5300', '[::1]:5301', '192.0.2.1:53', '192.0.2.2:53'],
    );
  });

  test('refuses names, bad ports, bad brackets, empty lists', () => {
    usage(() => parseServer('dns.example.test'), /is not an IP address/);
    usage(() => parseServer('127.0.0.1:0'), /not a number from 1 to 65535/);
    usage(() => parseServer('127.0.0.1:65536'), /not a number from 1 to 65535/);
    usage(() => parseServer('127.0.0.1:x'), /has port "x"/);
    usage(() => parseServer('[192.0.2.1]:53'), /no IPv6 address inside the brackets/);
    usage(() => parseServer('[::1]:'), /has port ""/);
    usage(() => parseServer('2001:db8::zz:53'), /not an IPv6 address/);
    usage(() => parseServer('256.1.1.1'), /is not an IP address/);
    usage(() => parseResolverOption([' , ']), /without an address/);
  });
});

describe('resolv.conf', () => {
  test('nameserver lines in order, comments and other keywords ignored', () => {
    const conf = parseResolvConf(
      [
        '# generated',
        'search example.test',
        'nameserver 127.0.0.53',
        '  nameserver\t2001:db8::1   # second',
        '; nameserver 192.0.2.99',
        'nameserver fe80::1%eth0',
        'options edns0 trust-ad timeout:1 attempts:3',
      ].join('\n'),
    );
    assert.deepEqual(
      conf.servers.map((s) => s.label),
      ['127.0.0.53:53', '[2001:db8::1]:53', '[fe80::1%eth0]:53'],
    );
    assert.equal(conf.timeoutMs, 1000);
    assert.equal(conf.attempts, 3);
    assert.deepEqual(conf.warnings, []);
  });

  test('bad lines and a fourth server are skipped with warnings, as glibc does', () => {
    const conf = parseResolvConf(
      'nameserver ns.example.test\nnameserver 192.0.2.1\nnameserver 192.0.2.2\r\n' +
        'nameserver 192.0.2.3\nnameserver 192.0.2.4\nnameserver\noptions timeout:99 attempts:0',
    );
    assert.deepEqual(
      conf.servers.map((s) => s.address),
      ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
    );
    assert.equal(conf.warnings.length, 3);
    assert.match(conf.warnings[0]!, /line 1: "nameserver ns.example.test" is not an IP address/);
    assert.match(conf.warnings[1]!, /more than 3 nameservers, 192.0.2.4 ignored/);
    assert.equal(conf.timeoutMs, 30000);
    assert.equal(conf.attempts, 1);
  });

  test('empty file: no servers', () => {
    assert.deepEqual(parseResolvConf(''), { servers: [], warnings: [] });
  });

  test('loadResolverConfig: --resolver wins, else the file, else a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dk-resolv-'));
    try {
      const file = join(dir, 'resolv.conf');
      writeFileSync(file, 'nameserver 192.0.2.7\n');
      const fromFlag = await loadResolverConfig({ resolver: ['127.0.0.1:5300'], resolvConf: file });
      assert.equal(fromFlag.source, '--resolver');
      assert.equal(fromFlag.servers[0]!.label, '127.0.0.1:5300');
      const fromFile = await loadResolverConfig({ resolvConf: file });
      assert.equal(fromFile.source, file);
      assert.equal(fromFile.servers[0]!.label, '192.0.2.7:53');
      writeFileSync(file, '# nothing\n');
      await assert.rejects(loadResolverConfig({ resolvConf: file }), /has no nameserver line/);
      await assert.rejects(
        loadResolverConfig({ resolvConf: join(dir, 'missing') }),
        (e: unknown) =>
          e instanceof DkError &&
          e.code === 'E_DNS_NO_RESOLVER' &&
          /cannot read \S+ \(no such file\); give --resolver/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
