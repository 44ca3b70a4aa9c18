/**
 * `check --file` in the lab (issue 10 item 5): a generated signed zone tree of a few hundred
 * mail domains (test/lab/dns/bulk-tree.ts) — most hosted on a dozen shared MX hosts over six
 * TLS listeners of one Postfix, some matching, some with a mismatching TLSA, some insecure,
 * some bogus, some without MX — checked in one process. Every JSON line must equal what the
 * single-domain `check DOMAIN --json` reports for that domain (run in the same namespace,
 * nothing shared), the exit status must be the worst domain's, each MX address:SNI must be
 * probed once, and Ctrl-C must leave whole lines and a summary.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { callInNetns } from '../support/netns-call.js';
import { cliEntry, runCliAsync, type CliResult } from '../support/cli.js';
import { startBulkLab, type BulkLab } from './dns/bulk-tree.js';
import type { SingleCheck } from './check-bulk-driver.js';
import { labAvailable } from './netns.js';

const avail = labAvailable();
const DOMAINS = 240;

interface Line {
  domain: string;
  verdict?: string;
  checkedAt?: string;
  line?: number;
  error?: { code: string; message: string };
  hosts?: { addresses: { address: string; tls: { servername: string | null } | null }[] }[];
}

/**
 * A report without what differs between any two runs of the same check against a live
 * resolver: the moment it was made and the TTLs (a cache counts them down). Nothing is
 * re-sorted: check lists RRsets, hosts and DNS answers in a fixed order however the resolver
 * rotates them (RFC 2181 §5), so the rest must be equal as printed.
 */
function timeless(r: unknown): unknown {
  const x = structuredClone(r) as Record<string, unknown> & {
    dns: { ttl?: unknown }[];
    hosts: { tlsa: { ttl?: unknown } | null }[];
  };
  delete x.checkedAt;
  for (const d of x.dns) delete d.ttl;
  for (const h of x.hosts) if (h.tlsa) delete h.tlsa.ttl;
  return x;
}

const STATUS: Record<string, number> = {
  verified: 0,
  unusable: 1,
  'no-dane': 1,
  failed: 2,
  'dnssec-failure': 2,
  unreachable: 3,
  indeterminate: 3,
};

describe('check --file over a generated lab zone tree', { skip: !avail.ok && avail.reason }, () => {
  let lab: BulkLab;
  let list: string;
  let run: CliResult;
  let lines: Line[];
  let singles: Map<string, SingleCheck>;

  before(async () => {
    lab = await startBulkLab({ domains: DOMAINS });
    // the generated list, with what people put in such files: comments, blank lines, a
    // repeated name, and a line that is not a domain
    list = join(lab.dir, 'list.txt');
    const names = lab.domains.map((d) => d.domain);
    writeFileSync(
      list,
      [
        '# hosted customers',
        '',
        ...names.slice(0, 100),
        'not a domain',
        `${names[0]!.toUpperCase()}.  # again, written differently`,
        ...names.slice(100),
        '',
      ].join('\n'),
    );
    run = await runCliAsync(['check', '--file', list, '--resolver', lab.resolver], {
      netns: lab.ns.name,
      timeoutMs: 120_000,
    });
    lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    const checks = await callInNetns<SingleCheck[]>(
      lab.ns,
      'test/lab/check-bulk-driver.ts',
      'singleChecks',
      [names, lab.resolver, 8],
      { timeoutMs: 240_000 },
    );
    singles = new Map(checks.map((c) => [c.domain, c]));
  });

  after(async () => {
    await lab?.stop();
  });

  test('one JSON line per domain (and one for the bad line), exit status the worst, summary on stderr', () => {
    assert.equal(lines.length, DOMAINS + 1, run.stderr);
    const bad = lines.filter((l) => l.error);
    assert.equal(bad.length, 1);
    assert.equal(bad[0]!.domain, 'not a domain');
    assert.equal(bad[0]!.line, 103);
    assert.equal(bad[0]!.error!.code, 'E_BULK_LINE');
    const reported = new Set(lines.filter((l) => !l.error).map((l) => l.domain));
    assert.deepEqual(
      [...reported].sort(),
      lab.domains.map((d) => d.domain).sort(),
      'every domain once, the repeat skipped',
    );
    // every kind of domain is in the mix, and the lab's design holds
    for (const d of lab.domains) {
      const l = lines.find((x) => x.domain === d.domain)!;
      assert.equal(l.verdict, d.expect, `${d.domain} (${d.kind})`);
    }
    const kinds = new Set(lines.map((l) => l.verdict));
    for (const v of ['verified', 'failed', 'no-dane', 'dnssec-failure', 'unreachable'])
      assert.ok(kinds.has(v), `a ${v} domain`);
    // unreachable (no address) and the bad line are UNKNOWN: the worst
    assert.equal(run.code, 3);
    assert.ok(
      !run.stderr.includes('\r') && !run.stderr.includes('\u001b['),
      'no progress line when stderr is no terminal',
    );
    assert.match(
      run.stderr,
      new RegExp(
        `${DOMAINS + 1} of ${DOMAINS + 1} domains checked in [0-9.]+ s \\([0-9.]+/s\\), 1 repeated line skipped: `,
      ),
    );
    const count = (v: string) => lab.domains.filter((d) => d.expect === v).length;
    assert.match(run.stderr, new RegExp(`${count('verified')} verified`));
    assert.match(run.stderr, new RegExp(`${count('failed')} failed`));
    assert.match(run.stderr, /1 error\b/);
  });

  test('every JSON line equals the single-domain check --json report of that domain', () => {
    assert.equal(singles.size, DOMAINS);
    for (const l of lines.filter((x) => !x.error)) {
      const one = singles.get(l.domain)!;
      assert.ok(one, l.domain);
      assert.deepEqual(timeless(l), timeless(one.report), l.domain);
      // verified is 0, or 1 with warnings (a single 3 1 1: no rollover partner)
      const want = STATUS[l.verdict!]!;
      assert.ok(one.code === want || (want === 0 && one.code === 1), l.domain);
    }
  });

  test('the CLI itself, one domain at a time, agrees on one domain of each kind', async () => {
    const kinds = [...new Set(lab.domains.map((d) => d.kind))];
    for (const k of kinds) {
      const d = lab.domains.find((x) => x.kind === k)!;
      const r = await runCliAsync(['check', d.domain, '--resolver', lab.resolver, '--json'], {
        netns: lab.ns.name,
      });
      const mine = lines.find((l) => l.domain === d.domain)!;
      assert.deepEqual(timeless(mine), timeless(JSON.parse(r.stdout)), `${d.domain} (${k})`);
      assert.equal(r.code, singles.get(d.domain)!.code);
    }
  });

  test('each MX address is probed once per SNI, however many domains name it', () => {
    const probes = new Set<string>();
    for (const l of lines)
      for (const h of l.hosts ?? [])
        for (const a of h.addresses) probes.add(`${a.address} ${a.tls?.servername ?? ''}`);
    const m = /(\d+) TLS connections for (\d+) address checks/.exec(run.stderr);
    assert.ok(m, run.stderr);
    assert.equal(Number(m[1]), probes.size);
    assert.ok(Number(m[2]) > 3 * probes.size, `${m[2]} address checks share ${m[1]} probes`);
  });

  test('stdin (-) works; Ctrl-C stops with whole lines written, a summary and status 130', async () => {
    const names = lab.domains.map((d) => d.domain).join('\n');
    const child = spawn(
      'ip',
      [
        ...['netns', 'exec', lab.ns.name, process.execPath, '--import', 'tsx', cliEntry],
        ...['check', '--file', '-', '--resolver', lab.resolver, '--concurrency', '1'],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.split('\n').length > 6) child.kill('SIGINT');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdin.end(names);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, err);
    const got = out.trim().split('\n');
    assert.ok(got.length >= 6 && got.length < DOMAINS, `${got.length} lines`);
    for (const l of got) assert.ok((JSON.parse(l) as Line).verdict, l);
    assert.match(err, new RegExp(`interrupted: ${got.length} of ${DOMAINS} domains checked`));
  });
});
