import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DkError } from '../core/errors.js';
import { formatRdata } from '../core/tlsa/format.js';
import type { TlsaRrset } from './types.js';
import { createZonefilePublisher } from './zonefile.js';

const hex = (n: number) => Buffer.alloc(32, n).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'dk-zonefile-list-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ZONE_TEXT = [
  '$ORIGIN example.test.',
  '$TTL 3600',
  '@ IN SOA ns1 hostmaster 5 3600 600 86400 60',
  '  IN NS ns1',
  'ns1 IN A 127.0.0.1',
  `_443._tcp.www 600 IN TLSA 3 1 1 ${hex(3)}`,
  '$ORIGIN mx.example.test.',
  `_25._tcp IN TLSA ( 3 1 1`,
  `   ${hex(1).toUpperCase()} ) ; by hand`,
  `_25._tcp.mx.elsewhere.test. IN TLSA 3 1 1 ${hex(9)}`,
  '$INCLUDE "db.example.test.tlsa"',
  '',
].join('\n');
const INCLUDE_TEXT = [
  `_25._tcp.mx.example.test. 3600 IN TLSA 3 1 1 ${hex(2)}`,
  `_465._tcp.mx.example.test. 300 IN TLSA 3 1 1 ${hex(4)}`,
  '',
].join('\n');

const shown = (sets: TlsaRrset[]) =>
  sets.map((s) => [s.owner, s.ttl, s.records.map(formatRdata).sort()]);

describe('zonefile listAll', () => {
  const zoneFile = join(dir, 'db.example.test');
  const includeFile = join(dir, 'db.example.test.tlsa');
  writeFileSync(zoneFile, ZONE_TEXT);
  writeFileSync(includeFile, INCLUDE_TEXT);

  it('zone mode: every TLSA RRset in the master file, sorted by owner, out-of-zone ones left out', async () => {
    const pub = createZonefilePublisher({ zone: 'example.test', file: zoneFile });
    assert.deepEqual(shown(await pub.listAll!()), [
      ['_25._tcp.mx.example.test.', 3600, [`3 1 1 ${hex(1)}`]],
      ['_443._tcp.www.example.test.', 600, [`3 1 1 ${hex(3)}`]],
    ]);
  });

  it("include mode: the zone's own file and the include file, one RRset per owner", async () => {
    const pub = createZonefilePublisher({
      zone: 'example.test',
      file: includeFile,
      mode: 'include',
      zoneFile,
    });
    assert.deepEqual(shown(await pub.listAll!()), [
      ['_25._tcp.mx.example.test.', 3600, [`3 1 1 ${hex(1)}`, `3 1 1 ${hex(2)}`]],
      ['_465._tcp.mx.example.test.', 300, [`3 1 1 ${hex(4)}`]],
      ['_443._tcp.www.example.test.', 600, [`3 1 1 ${hex(3)}`]],
    ]);
  });

  it('an include file not written yet holds nothing; a missing zone file is E_PUBLISH_IO', async () => {
    const none = createZonefilePublisher({
      zone: 'example.test',
      file: join(dir, 'not-yet.tlsa'),
      mode: 'include',
    });
    assert.deepEqual(await none.listAll!(), []);
    const missing = createZonefilePublisher({ zone: 'example.test', file: join(dir, 'nope') });
    await assert.rejects(
      missing.listAll!(),
      (e: unknown) =>
        e instanceof DkError && e.code === 'E_PUBLISH_IO' && /nope: no such file/.test(e.message),
    );
  });

  it('a malformed TLSA record names the file and line', async () => {
    const bad = join(dir, 'db.bad');
    writeFileSync(bad, ZONE_TEXT.replace(`3 1 1 ${hex(3)}`, '3 1 1 zz'));
    const pub = createZonefilePublisher({ zone: 'example.test', file: bad });
    await assert.rejects(
      pub.listAll!(),
      (e: unknown) => e instanceof DkError && e.message.startsWith(`${bad}: Zone file line 6:`),
    );
  });
});
