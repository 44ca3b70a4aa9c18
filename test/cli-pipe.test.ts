/**
 * The CLI as the far end of a pipe and as commander sees it: a reader that goes away never
 * produces a stack trace, and commander's own usage errors keep the one-line `danekeeper:`
 * contract.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cliEntry, runCli } from './support/cli.js';

const RECORD = `3 1 1 ${'ab'.repeat(32)}`;

/**
 * `danekeeper ARGS | true` in bash (`true` exits before the CLI writes its first byte), or with
 * `reader` another one, e.g. `>/dev/null`.
 */
function intoClosedPipe(args: string[], reader = '| true'): { status: number; stderr: string } {
  const quoted = args.map((a) => `'${a}'`).join(' ');
  const script = `'${process.execPath}' --import tsx '${cliEntry}' ${quoted} ${reader}; echo "status=\${PIPESTATUS[0]}" >&2`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  const m = /status=(\d+)\s*$/.exec(r.stderr);
  assert.ok(m, `no status line in:\n${r.stderr}`);
  return { status: Number(m[1]), stderr: r.stderr.slice(0, m.index) };
}

test('output into a closed pipe: no EPIPE stack trace, the command keeps its own exit status', () => {
  // Many records: the output goes on being written after the reader is gone.
  const explain = intoClosedPipe(['tlsa', 'explain', ...Array<string>(200).fill(RECORD)]);
  assert.doesNotMatch(explain.stderr, /EPIPE|Error:|\s+at .+:\d+:\d+/, explain.stderr);
  assert.equal(explain.stderr, '');
  const alone = intoClosedPipe(
    ['tlsa', 'explain', ...Array<string>(200).fill(RECORD)],
    '>/dev/null',
  );
  assert.equal(explain.status, alone.status, 'same status as with a reader');

  const help = intoClosedPipe(['--help']);
  assert.equal(help.stderr, '');
  assert.equal(help.status, 0);
});

test("commander's own usage errors are one `danekeeper:` line, exit 64", () => {
  for (const args of [['chek'], ['tlsa', '--bogus'], ['dns', 'add-tlsa', '--port']]) {
    const r = runCli(args);
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^danekeeper: /);
  }
  assert.match(runCli(['chek']).stderr, /unknown command 'chek' \(Did you mean check\?\)/);
});

test('--version and --help load no command module and still work', () => {
  const v = runCli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const h = runCli(['--help']);
  assert.equal(h.code, 0);
  for (const c of ['tlsa', 'verify', 'check', 'dns', 'dnssec', 'domain']) {
    assert.match(h.stdout, new RegExp(`^  ${c} `, 'm'), `help lists ${c}`);
  }
  const d = runCli(['dnssec', 'status', '--help']);
  assert.equal(d.code, 0);
  assert.match(d.stdout, /Usage: danekeeper dnssec status/);
});
