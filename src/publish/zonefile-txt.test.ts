/**
 * TXT through the zonefile backend (ACME DNS-01, RFC 8555 §8.4): the same promises as for TLSA
 * (every other byte kept, serial bump, guard, dry run, include mode, named-checkzone-valid
 * output) and RFC 1035 §5.1 character-strings: quoting, `\"` `\\` `\DDD`, several strings per
 * RR, at most 255 octets each.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DkError } from '../core/errors.js';
import { addTxt, removeTxt } from './txt-set.js';
import { createZonefilePublisher, type ZonefileOptions } from './zonefile.js';

const ZONE = 'example.org.';
const ACME = '_acme-challenge.mail.example.org.';

const ZONE_TEXT = `; example.org, kept by hand
$TTL 3600
@   IN SOA ns1 hostmaster ( 2024010100 ; serial
        7200 3600 1209600 300 )
    IN NS ns1
ns1 IN A 192.0.2.1
mail 300 IN A 192.0.2.2
_acme-challenge.mail IN TXT "hand made ; not a comment" two\\032words "\\"q\\" \\\\ \\195\\169"
txt IN TXT ( "a"
             "b" )
`;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(text = ZONE_TEXT): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dk-zonefile-txt-'));
  dirs.push(dir);
  const file = join(dir, 'db.example.org');
  writeFileSync(file, text, 'latin1');
  return { dir, file };
}

const fixedNow = () => new Date('2025-11-22T12:00:00Z');
const pub = (file: string, extra: Partial<ZonefileOptions> = {}) =>
  createZonefilePublisher({ zone: 'example.org', file, now: fixedNow, ...extra });
const noSleep = { sleep: async () => {} };

/** What named loads from the file (named-checkzone -D), as `owner ttl type rdata` lines. */
function loaded(file: string, type: string): string[] {
  const r = spawnSync(
    'named-checkzone',
    ['-k', 'fail', '-i', 'none', '-D', '-o', '-', 'example.org', file],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, `named-checkzone ${file}: ${r.stdout}${r.stderr}`);
  return r.stdout
    .split('\n')
    .map((l) => l.split(/\s+/))
    .filter((f) => f[3] === type)
    .map((f) => `${f[0]} ${f[1]} ${f[3]} ${f.slice(4).join(' ')}`);
}

async function dkError(p: Promise<unknown>): Promise<DkError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, `not a DkError: ${String(e)}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return e;
  }
  assert.fail('no error');
}

const HAND = ['hand made ; not a comment', 'two words', '"q" \\ é'].join('');

test('readTxt: quoted and bare strings, escapes, several strings per RR, parentheses', async () => {
  const { file } = setup();
  const p = pub(file);
  assert.deepEqual(await p.readTxt!(ACME), { owner: ACME, ttl: 3600, values: [HAND] });
  assert.deepEqual(await p.readTxt!('txt.example.org'), {
    owner: 'txt.example.org.',
    ttl: 3600,
    values: ['ab'],
  });
  assert.deepEqual(await p.readTxt!('nothing.example.org.'), {
    owner: 'nothing.example.org.',
    ttl: null,
    values: [],
  });
});

test('RFC 3597 TYPE16 \\# data reads as TXT; malformed strings name the line', async () => {
  const { file } = setup(`${ZONE_TEXT}g IN TYPE16 \\# 6 0268690161 00\n`);
  assert.deepEqual((await pub(file).readTxt!('g.example.org.')).values, ['hia']);
  const long = setup(`${ZONE_TEXT}l IN TXT "${'x'.repeat(256)}"\n`);
  const e = await dkError(pub(long.file).readTxt!('l.example.org.'));
  assert.equal(e.code, 'E_ZONEFILE_SYNTAX');
  assert.match(e.message, /line 11: TXT record at l\.example\.org\.: .*256 octets/);
  const ddd = setup(`${ZONE_TEXT}d IN TXT "\\256"\n`);
  assert.equal((await dkError(pub(ddd.file).readTxt!('d.example.org.'))).code, 'E_ZONEFILE_SYNTAX');
});

test('add and remove a DNS-01 value next to a hand-made TXT: every other byte kept, serial up', async () => {
  const { file } = setup();
  const p = pub(file);
  const v = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
  const a = await addTxt(p, ACME, [v], noSleep);
  assert.deepEqual(a.added, [v]);
  assert.deepEqual(a.before, [HAND], 'the hand-made value is seen, not claimed');
  const text = readFileSync(file, 'latin1');
  assert.equal(
    text,
    ZONE_TEXT.replace('2024010100', '2025112200').replace(
      '\\195\\169"\n',
      `\\195\\169"\n${ACME} 3600 IN TXT "${v}"\n`,
    ),
    "the new RR right after the owner's TXT, every other byte as it was",
  );
  assert.deepEqual(
    loaded(file, 'TXT').sort(),
    [
      `${ACME} 3600 TXT "hand made ; not a comment" "two words" "\\"q\\" \\\\ \\195\\169"`,
      `${ACME} 3600 TXT "${v}"`,
      'txt.example.org. 3600 TXT "a" "b"',
    ].sort(),
  );
  assert.deepEqual((await p.readTxt!(ACME)).values, [HAND, v]);
  const r = await removeTxt(p, ACME, [v], noSleep);
  assert.deepEqual(r.removed, [v]);
  assert.equal(readFileSync(file, 'latin1'), ZONE_TEXT.replace('2024010100', '2025112201'));
  const again = await removeTxt(p, ACME, [v], noSleep);
  assert.equal(again.applied, false, 'gone already: nothing written');
  assert.match(readFileSync(file, 'latin1'), /2025112201 ; serial/);
});

test('values with quotes, backslashes, control bytes, UTF-8 and more than 255 octets round-trip', async () => {
  const { file } = setup();
  const p = pub(file);
  const odd = 'say "hi" \\ back\tslash; (paren) é ✓';
  const long = `${'a'.repeat(253)}✓${'b'.repeat(300)}`; // the split falls inside ✓'s bytes
  await addTxt(p, '_acme-challenge.www.example.org', [odd, long], { ...noSleep, ttl: 60 });
  assert.deepEqual((await p.readTxt!('_acme-challenge.www.example.org.')).values, [odd, long]);
  const named = loaded(file, 'TXT').filter((l) => l.startsWith('_acme-challenge.www.'));
  assert.deepEqual(
    named[0],
    [
      `_acme-challenge.www.example.org. 60 TXT "say \\"hi\\" \\\\ back\\009slash; (paren) \\195\\169 \\226\\156\\147"`,
    ][0],
  );
  const strings = named[1]!.split(' ').slice(3).join(' ');
  assert.match(strings, /^"a{253}\\226\\156" "\\147b{254}" "b{46}"$/, 'split at 255 octets');
});

test('a new TTL rewrites the kept hand-made RR with the same strings, split and bytes', async () => {
  const { file } = setup();
  const p = pub(file);
  const [hand, other] = loaded(file, 'TXT');
  // the backend's contract (txt-set keeps an existing RRset's TTL; a TLSA-style caller may not)
  await p.applyTxt!({ owner: ACME, expected: [HAND], add: ['v'], remove: [], ttl: 60 });
  const after = loaded(file, 'TXT');
  // named's order inside an RRset is its own
  assert.deepEqual(
    after.sort(),
    [hand!.replace(' 3600 ', ' 60 '), `${ACME} 60 TXT "v"`, other].sort(),
  );
  assert.match(
    readFileSync(file, 'latin1'),
    /^_acme-challenge\.mail\.example\.org\. 60 IN TXT "hand made ; not a comment" "two words" "\\"q\\" \\\\ \\195\\169"$/m,
  );
});

test('the guard: a changed RRset is a conflict and the file stays byte-identical', async () => {
  const { file } = setup();
  const p = pub(file);
  const e = await dkError(
    p.applyTxt!({ owner: ACME, expected: [], add: ['x'], remove: [], ttl: 300 }),
  );
  assert.equal(e.code, 'E_PUBLISH_CONFLICT');
  assert.match(e.message, /TXT RRset at _acme-challenge\.mail\.example\.org\./);
  assert.equal(readFileSync(file, 'latin1'), ZONE_TEXT);
});

test('dry run: the diff and the serial, nothing written', async () => {
  const { file } = setup();
  const p = pub(file, { reloadCommand: ['true'] });
  const r = await addTxt(p, ACME, ['v1'], { ...noSleep, dryRun: true });
  assert.equal(r.applied, false);
  assert.deepEqual(
    r.plan!.filter((l) => /^[-+;]/.test(l) && !/^(---|\+\+\+)/.test(l)),
    [
      '-@   IN SOA ns1 hostmaster ( 2024010100 ; serial',
      '+@   IN SOA ns1 hostmaster ( 2025112200 ; serial',
      `+${ACME} 3600 IN TXT "v1"`,
      '; SOA serial of example.org. becomes 2025112200',
      '; then runs: true',
    ],
  );
  assert.equal(readFileSync(file, 'latin1'), ZONE_TEXT);
});

test('include mode: TXT in the file danekeeper owns, the zone serial goes up', async () => {
  const { dir, file: zoneFile } = setup();
  const inc = join(dir, 'danekeeper.inc');
  writeFileSync(zoneFile, `${ZONE_TEXT}$INCLUDE "${inc}"\n`);
  const p = createZonefilePublisher({
    zone: ZONE,
    file: inc,
    mode: 'include',
    zoneFile,
    now: fixedNow,
  });
  assert.deepEqual((await p.readTxt!(ACME)).values, [], 'only the include file is read');
  await addTxt(p, ACME, ['v'], noSleep);
  assert.match(
    readFileSync(inc, 'utf8'),
    /^_acme-challenge\.mail\.example\.org\. 3600 IN TXT "v"$/m,
  );
  assert.match(readFileSync(zoneFile, 'utf8'), /2025112200 ; serial/);
  assert.ok(loaded(zoneFile, 'TXT').includes(`${ACME} 3600 TXT "v"`));
  await removeTxt(p, ACME, ['v'], noSleep);
  assert.deepEqual((await p.readTxt!(ACME)).values, []);
  assert.equal(loaded(zoneFile, 'TXT').filter((l) => l.endsWith('"v"')).length, 0);
});
