import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { checkDkimKey, parseTagList } from './dkim.js';

const spki = (k: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
  k.export({ type: 'spki', format: 'der' });
const rsa2048 = spki(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey).toString(
  'base64',
);
const rsa1024Key = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
const rsa1024 = spki(rsa1024Key).toString('base64');
const rsa1024Pkcs1 = rsa1024Key.export({ type: 'pkcs1', format: 'der' }).toString('base64');
const rsa512 = spki(generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey).toString(
  'base64',
);
const edSpki = spki(generateKeyPairSync('ed25519').publicKey);
const ed25519 = edSpki.subarray(edSpki.length - 32).toString('base64');
const ecP256 = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey).toString(
  'base64',
);

describe('parseTagList (RFC 6376 §3.2)', () => {
  test('tags, white space and a trailing ;', () => {
    assert.deepEqual(
      [...parseTagList(' v = DKIM1 ;k=rsa;\t p=AB CD ; ')!],
      [
        ['v', 'DKIM1'],
        ['k', 'rsa'],
        ['p', 'AB CD'],
      ],
    );
  });
  for (const bad of ['v=DKIM1; p=a; p=b', 'no equals sign', '1x=2', '=value']) {
    test(`malformed: ${bad}`, () => assert.equal(parseTagList(bad), null));
  }
});

describe('checkDkimKey (RFC 6376 §3.6.1, RFC 8463, RFC 8301)', () => {
  const table: {
    name: string;
    text: string;
    state: 'valid' | 'revoked' | 'invalid';
    keyType?: string | null;
    bits?: number | null;
    problem?: RegExp;
    warning?: RegExp;
  }[] = [
    {
      name: 'rsa 2048 with v and k',
      text: `v=DKIM1; k=rsa; p=${rsa2048}`,
      state: 'valid',
      keyType: 'rsa',
      bits: 2048,
    },
    {
      name: 'rsa without v and k (both optional)',
      text: `p=${rsa2048}`,
      state: 'valid',
      keyType: 'rsa',
      bits: 2048,
    },
    {
      name: 'base64 split by white space (TXT strings joined with FWS)',
      text: `v=DKIM1; k=rsa; p=${rsa2048.slice(0, 100)} ${rsa2048.slice(100)}`,
      state: 'valid',
      bits: 2048,
    },
    {
      name: 'ed25519 (RFC 8463: 32 raw bytes)',
      text: `v=DKIM1; k=ed25519; p=${ed25519}`,
      state: 'valid',
      keyType: 'ed25519',
      bits: null,
    },
    {
      name: 'rsa 1024: valid with a warning',
      text: `v=DKIM1; p=${rsa1024}`,
      state: 'valid',
      bits: 1024,
      warning: /1024 bits; RFC 8301/,
    },
    {
      name: 'PKCS#1 RSAPublicKey: valid with a warning',
      text: `p=${rsa1024Pkcs1}`,
      state: 'valid',
      warning: /PKCS#1/,
    },
    { name: 't=y testing', text: `v=DKIM1; t=y; p=${rsa2048}`, state: 'valid', warning: /t=y/ },
    {
      name: 'h=sha256 and s=email',
      text: `v=DKIM1; h=sha1:sha256; s=email; p=${rsa2048}`,
      state: 'valid',
    },
    {
      name: 'empty p= is revoked',
      text: 'v=DKIM1; k=rsa; p=',
      state: 'revoked',
      problem: /revoked/,
    },
    { name: 'p= of white space only is revoked', text: 'v=DKIM1; p= ', state: 'revoked' },
    { name: 'no p=', text: 'v=DKIM1; k=rsa', state: 'invalid', problem: /no p= tag/ },
    {
      name: 'garbage base64',
      text: 'v=DKIM1; k=rsa; p=not*base64!',
      state: 'invalid',
      problem: /not valid base64/,
    },
    {
      name: 'base64 that is no key',
      text: `v=DKIM1; k=rsa; p=${Buffer.from('hello world, not a key').toString('base64')}`,
      state: 'invalid',
      problem: /not an RSA public key/,
    },
    {
      name: 'rsa 512 under RFC 8301',
      text: `p=${rsa512}`,
      state: 'invalid',
      bits: 512,
      problem: /512 bits, under the 1024/,
    },
    {
      name: 'an EC key where k=rsa',
      text: `p=${ecP256}`,
      state: 'invalid',
      problem: /ec key, but k= says rsa/,
    },
    {
      name: 'ed25519 of the wrong length',
      text: `k=ed25519; p=${rsa2048}`,
      state: 'invalid',
      problem: /32 bytes/,
    },
    {
      name: 'unknown k=',
      text: `k=dsa; p=${rsa2048}`,
      state: 'invalid',
      problem: /k=dsa is not a DKIM key type/,
    },
    { name: 'v= not DKIM1', text: `v=spf1; p=${rsa2048}`, state: 'invalid', problem: /not DKIM1/ },
    {
      name: 'v= not first',
      text: `k=rsa; v=DKIM1; p=${rsa2048}`,
      state: 'invalid',
      problem: /first tag/,
    },
    {
      name: 'an SPF record',
      text: 'v=spf1 mx -all',
      state: 'invalid',
      problem: /v=spf1 mx -all is not DKIM1/,
    },
    {
      name: 's= without email',
      text: `s=other; p=${rsa2048}`,
      state: 'invalid',
      problem: /excludes e-mail/,
    },
    { name: 'h=sha1 only', text: `h=sha1; p=${rsa2048}`, state: 'invalid', problem: /no sha256/ },
    {
      name: 'duplicate tags',
      text: `p=${rsa2048}; p=${rsa2048}`,
      state: 'invalid',
      problem: /not a DKIM tag list/,
    },
  ];
  for (const t of table) {
    test(t.name, () => {
      const c = checkDkimKey(t.text);
      assert.equal(c.state, t.state, c.problem);
      if (t.keyType !== undefined) assert.equal(c.keyType, t.keyType);
      if (t.bits !== undefined) assert.equal(c.bits, t.bits);
      if (t.problem) assert.match(c.problem ?? '', t.problem);
      if (t.state === 'valid') assert.equal(c.problem, undefined);
      if (t.warning)
        assert.ok(
          c.warnings.some((w) => t.warning!.test(w)),
          c.warnings.join('; '),
        );
      else if (t.state === 'valid') assert.deepEqual(c.warnings, []);
    });
  }
});
