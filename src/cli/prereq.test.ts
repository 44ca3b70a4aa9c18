import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { PrereqReport } from '../core/prereq/index.js';
import { runCli } from '../../test/support/cli.js';
import type { Io } from './io.js';
import { prereqTargets, printPrereq } from './prereq.js';

function capture(): Io & { lines: string[] } {
  const lines: string[] = [];
  const io: Io & { lines: string[] } = {
    lines,
    out: (l) => lines.push(l),
    err: (l) => lines.push(`ERR ${l}`),
    verbose: () => {},
    withVerbose: () => io,
  };
  return io;
}

describe('prereq text report', () => {
  test('one line per requirement, the fix (every line of it) under what is not ok', () => {
    const r: PrereqReport = {
      domain: 'example.org',
      zone: 'example.org',
      status: 'fail',
      checkedAt: '2026-01-01T00:00:00.000Z',
      findings: [
        {
          requirement: 'starttls',
          title: 'STARTTLS',
          status: 'ok',
          message: 'fine.',
          details: [],
          ref: '',
        },
        {
          requirement: 'dnssec',
          title: 'DNSSEC',
          status: 'fail',
          message: 'no DS.',
          fix: 'Give the registrar:\nexample.org. IN DS 1 13 2 AB',
          details: [],
          ref: '',
        },
        {
          requirement: 'mx',
          title: 'MX',
          status: 'unknown',
          message: 'lookup failed.',
          details: [],
          ref: '',
        },
      ],
    };
    const io = capture();
    printPrereq(r, io);
    assert.deepEqual(io.lines, [
      'example.org: prerequisites for DANE',
      'ok      STARTTLS: fine.',
      'FAIL    DNSSEC: no DS.',
      '        fix: Give the registrar:',
      '             example.org. IN DS 1 13 2 AB',
      'UNKNOWN MX: lookup failed.',
      '1 of 3 prerequisites not met, 1 not decided.',
    ]);
  });
});

describe('prereq usage errors: one line, exit 64, nothing looked up', () => {
  const cases: [string[], RegExp][] = [
    [['prereq', 'not a domain!'], /"not a domain!" is not a domain name/],
    [['prereq', '192.0.2.1'], /is not a domain name/],
    [
      ['prereq', 'example.org', '--address', 'mail.example.org'],
      /--address "mail\.example\.org" is not an IP address/,
    ],
    [
      ['prereq', 'example.org', '--dkim-selector', 'a b'],
      /--dkim-selector "a b" is not a selector/,
    ],
    [['prereq', 'example.org', '--timeout', '0'], /--timeout "0" must be a number from 1 to 600/],
    [['prereq'], /missing required argument 'domain'/],
  ];
  for (const [args, msg] of cases) {
    test(args.join(' '), () => {
      const r = runCli(args, { env: { DANEKEEPER_CONFIG: '/dev/null' } });
      assert.equal(r.code, 64, r.stderr);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    });
  }
});

describe('prereq: the DNS backend read through a zone file (no network but a dead loopback resolver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-prereq-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (zoneFile: string) => {
    const cfg = join(dir, 'dk.ini');
    writeFileSync(cfg, `[dns]\nzone = example.test\nbackend = zonefile\nzone-file = ${zoneFile}\n`);
    const r = runCli(
      ['prereq', 'example.test', '--resolver', '127.0.0.1:1', '--timeout', '1', '--json'],
      { env: { DANEKEEPER_CONFIG: cfg } },
    );
    const rep = JSON.parse(r.stdout) as PrereqReport;
    return { r, backend: rep.findings.find((f) => f.requirement === 'dns-backend')! };
  };

  test('a readable zone file: the backend is ok; the rest undecided, exit 3', () => {
    const zf = join(dir, 'example.test.zone');
    writeFileSync(
      zf,
      '$TTL 300\n@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60\n@ IN NS ns1.example.test.\n',
    );
    const { r, backend } = run(zf);
    assert.equal(backend.status, 'ok', backend.message);
    assert.match(backend.message, /example\.test\.? is reachable through zonefile/);
    assert.equal(r.code, 3, r.stderr);
  });

  test('a zone file that is not there: the backend fails with why, exit 2', () => {
    const { r, backend } = run(join(dir, 'missing.zone'));
    assert.equal(backend.status, 'fail');
    assert.match(backend.message, /missing\.zone/);
    assert.ok(backend.fix);
    assert.equal(r.code, 2);
  });
});

describe('prereq targets: the flags, else [prereq] of the config', () => {
  test('the config gives what no flag gives; a flag replaces its key; neither: nothing (detected)', () => {
    const file = { address: ['192.0.2.25', '2001:db8::25'], 'dkim-selector': ['mail2024'] };
    assert.deepEqual(prereqTargets({}, file), {
      addresses: ['192.0.2.25', '2001:db8::25'],
      dkimSelectors: ['mail2024'],
    });
    assert.deepEqual(prereqTargets({ address: ['198.51.100.1'], dkimSelector: [] }, file), {
      addresses: ['198.51.100.1'],
      dkimSelectors: ['mail2024'],
    });
    assert.deepEqual(prereqTargets({ dkimSelector: ['s1'] }, {}), { dkimSelectors: ['s1'] });
    assert.deepEqual(prereqTargets({}, {}), {});
  });

  const dir = mkdtempSync(join(tmpdir(), 'dk-prereq-targets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('[prereq] address of the config is the server address prereq compares the MX with (no flag)', () => {
    const cfg = join(dir, 'dk.ini');
    writeFileSync(cfg, '[prereq]\naddress = 192.0.2.25 2001:db8::25\n');
    const run = (extra: string[]) => {
      const r = runCli(
        [
          'prereq',
          'example.test',
          '--resolver',
          '127.0.0.1:1',
          '--timeout',
          '1',
          '--json',
          ...extra,
        ],
        { env: { DANEKEEPER_CONFIG: cfg } },
      );
      return (JSON.parse(r.stdout) as { observations: { server: { addresses: string[] } } })
        .observations.server.addresses;
    };
    assert.deepEqual(run([]), ['192.0.2.25', '2001:db8::25']);
    assert.deepEqual(run(['--address', '198.51.100.7']), ['198.51.100.7']);
  });

  test('a bad [prereq] address in the config is a config error (exit 78) before anything is looked up', () => {
    const f = join(dir, 'bad-prereq.ini');
    writeFileSync(f, '[prereq]\naddress = mx.example.org\n');
    const r = runCli(['prereq', 'example.org'], { env: { DANEKEEPER_CONFIG: f } });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /prereq\.address: "mx\.example\.org" is not an IP address/);
    assert.equal(r.stdout, '');
  });
});
