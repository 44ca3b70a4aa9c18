import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fakeServerPool, type FakeQuery } from '../../io/dns/fake-server.js';
import type { TsigKey } from './keyfile.js';
import { encodeMessage, OPCODE_QUERY, TYPE_SOA, CLASS_IN } from './message.js';
import { TSIG_BADKEY, tsigSign, tsigVerify, type TsigVerdict } from './tsig.js';

const key256: TsigKey = {
  name: 'dk-vector.example',
  algorithm: 'hmac-sha256',
  secret: Buffer.from('c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=', 'base64'),
};
const key512: TsigKey = {
  name: 'dk-vector.example',
  algorithm: 'hmac-sha512',
  secret: Buffer.from(
    'IihhCdCXnVcvnEcrZAzh7+PwJKBnF6Q3knxt3PIqG5ha6sbp+fxMTTcuEQK3N44QxbVNSryn0abxM5y+/N9Wxg==',
    'base64',
  ),
};

/**
 * Independent vectors: UPDATE messages signed by BIND 9.18's `nsupdate -v -y ALG:dk-vector.example:
 * SECRET` (zone example.test, prereq nxrrset, add _25._tcp.mail.example.test. 3600 TLSA 3 1 1
 * 0123...ef), captured as sent over TCP by a fake server. Their names are compressed, so the
 * verifier must also find the TSIG RR past compression pointers.
 */
const NSUPDATE_SHA256 = Buffer.from(
  'eda728000001000100010001076578616d706c6504746573740000060001035f3235045f746370046d61696c07' +
    '6578616d706c65047465737400003400fe000000000000c01e0034000100000e1000230301010123456789abcd' +
    'ef0123456789abcdef0123456789abcdef0123456789abcdef09646b2d766563746f72076578616d706c650000' +
    'fa00ff00000000003d0b686d61632d7368613235360000006b03425a012c002050c1126a9186c80fab3fd15159' +
    '5168e601aee7ea3cb13e6eb29cc82430f78c82eda700000000',
  'hex',
);
const NSUPDATE_SHA512 = Buffer.from(
  'b54728000001000100010001076578616d706c6504746573740000060001035f3235045f746370046d61696c07' +
    '6578616d706c65047465737400003400fe000000000000c01e0034000100000e1000230301010123456789abcd' +
    'ef0123456789abcdef0123456789abcdef0123456789abcdef09646b2d766563746f72076578616d706c650000' +
    'fa00ff00000000005d0b686d61632d7368613531320000006b03425b012c00404cac4b0bf5b58b310d390b2215' +
    '24506c4a09cf41bd44d9fcb9ebe762332c1e57eb88fe2ab28bd83e0c7e0f7c8b6f287b15fee3fcbf573248d87e' +
    'cbaab428b05bb54700000000',
  'hex',
);
const T256 = 0x6b03425a;
const T512 = 0x6b03425b;

function query(id = 0x1234): Buffer {
  return encodeMessage({
    id,
    opcode: OPCODE_QUERY,
    question: { name: 'example.test.', type: TYPE_SOA, class: CLASS_IN },
  });
}

const kind = (v: TsigVerdict) => v.kind;

describe('TSIG against messages signed by nsupdate', () => {
  it('verifies the hmac-sha256 and hmac-sha512 MACs nsupdate computed', () => {
    assert.equal(kind(tsigVerify(NSUPDATE_SHA256, key256, { now: T256 })), 'verified');
    assert.equal(kind(tsigVerify(NSUPDATE_SHA512, key512, { now: T512 })), 'verified');
  });

  it('refuses them with another secret, another algorithm, a flipped bit or a stale time', () => {
    const other = { ...key256, secret: Buffer.alloc(32, 1) };
    assert.match(
      (tsigVerify(NSUPDATE_SHA256, other, { now: T256 }) as { why: string }).why,
      /does not verify/,
    );
    assert.match(
      (tsigVerify(NSUPDATE_SHA256, key512, { now: T256 }) as { why: string }).why,
      /another TSIG algorithm/,
    );
    // from byte 2: the ID is not covered (RFC 8945 §4.3.1, the original ID is); the caller
    // matches it against its request
    for (let i = 2; i < NSUPDATE_SHA256.length; i += 7) {
      const b = Buffer.from(NSUPDATE_SHA256);
      b[i] = b[i]! ^ 0x01;
      assert.notEqual(kind(tsigVerify(b, key256, { now: T256 })), 'verified', `byte ${i}`);
    }
    assert.match(
      (tsigVerify(NSUPDATE_SHA256, key256, { now: T256 + 301 }) as { why: string }).why,
      /beyond the fudge/,
    );
    assert.equal(kind(tsigVerify(NSUPDATE_SHA256, key256, { now: T256 - 300 })), 'verified');
  });

  it("reproduces nsupdate's MAC when signing the same message at the same time", () => {
    // strip the TSIG RR: ARCOUNT 1 -> 0, cut at the key name
    const cut = NSUPDATE_SHA256.indexOf(Buffer.from('09646b2d766563746f72', 'hex'));
    const plain = Buffer.from(NSUPDATE_SHA256.subarray(0, cut));
    plain.writeUInt16BE(0, 10);
    const { wire } = tsigSign(plain, key256, { now: T256 });
    assert.deepEqual(wire, NSUPDATE_SHA256);
  });
});

describe('TSIG sign and verify', () => {
  it('a response verifies only with the request MAC it answers', () => {
    const req = tsigSign(query(), key256, { now: 1_700_000_000 });
    const resp = tsigSign(query(), key256, { now: 1_700_000_010, requestMac: req.mac });
    assert.equal(
      kind(tsigVerify(resp.wire, key256, { now: 1_700_000_000, requestMac: req.mac })),
      'verified',
    );
    const other = tsigSign(query(), key256, { now: 1_700_000_001 });
    assert.equal(
      kind(tsigVerify(resp.wire, key256, { now: 1_700_000_000, requestMac: other.mac })),
      'bad',
    );
    assert.equal(kind(tsigVerify(resp.wire, key256, { now: 1_700_000_000 })), 'bad');
  });

  it('reads BADKEY without a MAC as an unsigned error, and no TSIG as none', () => {
    const r = tsigSign(query(), key256, { now: 5, error: TSIG_BADKEY });
    // drop the MAC: rebuild with an empty one (RFC 8945 §5.3.2)
    const start = r.wire.length - (2 + 32 + 2 + 2 + 2);
    const noMac = Buffer.concat([
      r.wire.subarray(0, start),
      Buffer.from([0, 0]),
      r.wire.subarray(start + 2 + 32),
    ]);
    // fix RDLENGTH
    const rdlenAt = r.wire.indexOf(Buffer.from('0b686d61632d736861323536', 'hex')) - 2;
    noMac.writeUInt16BE(noMac.readUInt16BE(rdlenAt) - 32, rdlenAt);
    const v = tsigVerify(noMac, key256, { now: 5 });
    assert.equal(v.kind, 'unsigned-error');
    assert.equal((v as { fields: { error: number } }).fields.error, TSIG_BADKEY);
    assert.equal(kind(tsigVerify(query(), key256, { now: 5 })), 'none');
  });

  it('never throws on truncated or garbled input', () => {
    const w = tsigSign(query(), key512, { now: 9 }).wire;
    for (let n = 0; n < w.length; n++) {
      const v = tsigVerify(w.subarray(0, n), key512, { now: 9 });
      assert.notEqual(v.kind, 'verified');
    }
  });
});

const hasBind = spawnSync('nsupdate', ['-V']).status === 0 && spawnSync('dig', ['-v']).status === 0;
const pool = fakeServerPool();

function run(cmd: string, args: string[], input = ''): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code: code ?? -1, out }));
    c.stdin.end(input);
  });
}

describe(
  "TSIG with BIND's own tools (a fake server signs with this code)",
  { skip: !hasBind && 'nsupdate/dig not installed' },
  () => {
    const more = (['hmac-sha1', 'hmac-sha224', 'hmac-sha384'] as const).map(
      (algorithm, i): TsigKey => ({
        name: `dk-${algorithm}`,
        algorithm,
        secret: Buffer.alloc(32, i + 1),
      }),
    );
    for (const key of [key256, key512, ...more]) {
      it(`dig -y and nsupdate -y accept our ${key.algorithm} answers, and ours theirs`, async () => {
        const seen: string[] = [];
        const srv = await pool((q: FakeQuery) => {
          const now = Date.now() / 1000;
          const v = tsigVerify(q.raw, key, { now });
          seen.push(v.kind);
          if (v.kind !== 'verified') return null;
          // echo header and question, QR=1 (AA for the query), no records, then sign
          const opcode = (q.raw.readUInt16BE(2) >> 11) & 0xf;
          const r = encodeMessage({
            id: q.id,
            opcode,
            question: {
              name: `${q.name}.`,
              type: q.type === 'SOA' ? TYPE_SOA : 6,
              class: CLASS_IN,
            },
          });
          r.writeUInt16BE(0x8000 | (opcode << 11) | (opcode === 0 ? 0x0400 : 0), 2);
          return tsigSign(r, key, { now, requestMac: v.fields.mac }).wire;
        });
        const secret = `${key.algorithm}:${key.name}:${key.secret.toString('base64')}`;
        const d = await run('dig', [
          `@127.0.0.1`,
          '-p',
          String(srv.port),
          '+tcp',
          '+norec',
          '+tries=1',
          '+time=2',
          '-y',
          secret,
          'example.test',
          'SOA',
        ]);
        assert.match(d.out, /status: NOERROR/);
        assert.match(d.out, /TSIG PSEUDOSECTION/);
        assert.doesNotMatch(d.out, /verify|failure|Couldn't/i);
        const u = await run(
          'nsupdate',
          ['-v', '-t', '3', '-y', secret],
          `server 127.0.0.1 ${srv.port}\nzone example.test\nupdate add a.example.test. 60 TXT x\nsend\n`,
        );
        assert.equal(u.code, 0, u.out);
        assert.deepEqual(seen, ['verified', 'verified']);
      });
    }

    it('nsupdate rejects an answer whose MAC is wrong (the check is real)', async () => {
      const srv = await pool((q: FakeQuery) => {
        const v = tsigVerify(q.raw, key256, { now: Date.now() / 1000 });
        if (v.kind !== 'verified') return null;
        const r = encodeMessage({
          id: q.id,
          opcode: 5,
          question: { name: `${q.name}.`, type: TYPE_SOA, class: CLASS_IN },
        });
        r.writeUInt16BE(0x8000 | (5 << 11), 2);
        // signed without the request MAC: a valid-looking TSIG that must not verify
        return tsigSign(r, key256, { now: Date.now() / 1000 }).wire;
      });
      const u = await run(
        'nsupdate',
        ['-v', '-t', '3', '-y', `hmac-sha256:${key256.name}:${key256.secret.toString('base64')}`],
        `server 127.0.0.1 ${srv.port}\nzone example.test\nupdate add a.example.test. 60 TXT x\nsend\n`,
      );
      assert.notEqual(u.code, 0);
      assert.match(u.out, /tsig|signature/i);
    });
  },
);
