import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { makeBareCert, tempDir } from '../../../test/support/pki.js';
import { parseTlsaRr } from '../tlsa/parse.js';
import {
  MAX_TTL,
  TLSA_FORM_FIELDS,
  tlsaFormErrorSchema,
  tlsaFormInputSchema,
  tlsaFormRecordSchema,
  tlsaFormSchema,
  validateTlsaForm,
  type TlsaFormInput,
  type TlsaFormResult,
} from './tlsa-form.js';

const ZONES = ['example.org', 'sub.example.org.', 'Other.NET'];
const SHA256 = 'ab'.repeat(32);
const SHA512 = 'cd'.repeat(64);
const SPKI = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
const dir = tempDir('dk-tlsa-form-');
after(() => rmSync(dir, { recursive: true, force: true }));
const CERT = makeBareCert(dir).der;

const good: TlsaFormInput = {
  port: '25',
  protocol: 'tcp',
  name: 'mail.example.org',
  usage: '3',
  selector: '1',
  mtype: '1',
  data: SHA256,
  ttl: '',
};

function ok(r: TlsaFormResult) {
  assert.ok(r.ok, JSON.stringify(r));
  return r;
}
function errorsOf(r: TlsaFormResult) {
  assert.ok(!r.ok, 'expected errors');
  return r.errors;
}
/** the one error of `field`, from the good form with `patch` applied */
function fieldError(patch: Record<string, unknown>, field: string): string {
  const errs = errorsOf(validateTlsaForm({ ...good, ...patch }, ZONES));
  assert.deepEqual(
    errs.map((e) => e.field),
    [field],
    JSON.stringify(errs),
  );
  return errs[0]!.message;
}

describe('TLSA form: a valid form', () => {
  it('gives the owner, the zone, the record, the rdata and the zone-file line; blank TTL is null', () => {
    const r = ok(validateTlsaForm(good, ZONES));
    assert.equal(r.owner, '_25._tcp.mail.example.org.');
    assert.equal(r.zone, 'example.org.');
    assert.deepEqual(r.record, {
      usage: 3,
      selector: 1,
      mtype: 1,
      data: Buffer.from(SHA256, 'hex'),
    });
    assert.equal(r.rdata, `3 1 1 ${SHA256}`);
    assert.equal(r.ttl, null);
    assert.equal(r.line, `_25._tcp.mail.example.org. IN TLSA 3 1 1 ${SHA256}`);
    assert.deepEqual(r.warnings, []);
  });
  it('numbers from a JSON client, RFC 7218 names in any case, a final dot, mixed case', () => {
    const r = ok(
      validateTlsaForm(
        {
          port: 443,
          protocol: ' TCP ',
          name: 'WWW.Sub.Example.ORG.',
          usage: 'dane-ta',
          selector: 'Cert',
          mtype: 'SHA2-512',
          data: SHA512.slice(0, 64) + '\n ' + SHA512.slice(64).toUpperCase(),
          ttl: 3600,
        },
        ZONES,
      ),
    );
    assert.equal(r.owner, '_443._tcp.www.sub.example.org.');
    assert.equal(r.zone, 'sub.example.org.', 'the closest enclosing zone');
    assert.deepEqual([r.record.usage, r.record.selector, r.record.mtype], [2, 0, 2]);
    assert.equal(r.record.data.toString('hex'), SHA512);
    assert.equal(r.ttl, 3600);
  });
  it('the zone apex itself, a wildcard, udp and sctp', () => {
    assert.equal(
      ok(validateTlsaForm({ ...good, name: 'other.net' }, ZONES)).owner,
      '_25._tcp.other.net.',
    );
    assert.equal(
      ok(validateTlsaForm({ ...good, name: '*.example.org', protocol: 'udp', port: '853' }, ZONES))
        .owner,
      '_853._udp.*.example.org.',
    );
    assert.equal(
      ok(validateTlsaForm({ ...good, protocol: 'sctp' }, ZONES)).owner,
      '_25._sctp.mail.example.org.',
    );
  });
  it('matching type 0: a whole certificate with selector 0, an SPKI with selector 1', () => {
    ok(validateTlsaForm({ ...good, selector: 0, mtype: 0, data: CERT.toString('hex') }, ZONES));
    ok(validateTlsaForm({ ...good, selector: 1, mtype: 0, data: SPKI.toString('hex') }, ZONES));
  });
  it('PKIX usages on port 25: accepted with the RFC 7672 §3.1.3 warning; not on 443 or the submission ports (as check decides)', () => {
    const r = ok(validateTlsaForm({ ...good, usage: 'PKIX-EE' }, ZONES));
    assert.match(r.warnings.join('\n'), /unusable for SMTP \(RFC 7672 §3\.1\.3\)/);
    for (const port of [443, 587, 465])
      assert.deepEqual(ok(validateTlsaForm({ ...good, usage: 1, port }, ZONES)).warnings, []);
  });
});

describe('TLSA form: each field', () => {
  const table: { field: string; bad: unknown[]; message: RegExp }[] = [
    { field: 'port', bad: ['', undefined, null, '   '], message: /^The port is required\.$/ },
    {
      field: 'port',
      bad: ['0', 0, '65536', 70000, '-1', '25a', 'x', 2.5, '2.5', true, {}, [], NaN, 1e21],
      message: /^The port must be a number from 1 to 65535\.$/,
    },
    { field: 'protocol', bad: ['', undefined], message: /^The protocol is required\.$/ },
    {
      field: 'protocol',
      bad: ['http', 6, 'tcp6', {}],
      message: /^The protocol must be tcp, udp or sctp\.$/,
    },
    { field: 'name', bad: ['', undefined, ' '], message: /^The domain name is required\.$/ },
    {
      field: 'name',
      bad: [
        'a..example.org',
        'mail example.org',
        'é.example.org',
        `${'a'.repeat(64)}.example.org`,
        'a.*.example.org',
        '.',
      ],
      message: /is not a valid domain name\.$/,
    },
    {
      field: 'name',
      bad: ['mail.example.com', 'example.org.evil', 'notexample.org', 'org'],
      message: /is in none of your zones \(example\.org, sub\.example\.org, other\.net\)\.$/,
    },
    {
      field: 'name',
      bad: [`${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(50)}.example.org`],
      message: /not a valid domain name/,
    },
    { field: 'usage', bad: ['', null], message: /^The certificate usage is required\.$/ },
    {
      field: 'usage',
      bad: ['DANE', '256', -1, 3.5, 'x'],
      message: /must be a number from 0 to 3 or an RFC 7218 name/,
    },
    { field: 'usage', bad: ['4', 7], message: /4 \(unassigned\)|7 \(unassigned\)/ },
    {
      field: 'usage',
      bad: ['PrivCert', 255],
      message: /255 \(PrivCert\) is reserved for private use/,
    },
    {
      field: 'selector',
      bad: ['2', 'PrivSel'],
      message: /^The selector (2 \(unassigned\)|255 \(PrivSel\))/,
    },
    { field: 'selector', bad: ['SHA2-256'], message: /from 0 to 1 or an RFC 7218 name/ },
    {
      field: 'mtype',
      bad: ['3', 'PrivMatch'],
      message: /^The matching type (3 \(unassigned\)|255 \(PrivMatch\))/,
    },
    { field: 'mtype', bad: [undefined], message: /^The matching type is required\.$/ },
    {
      field: 'data',
      bad: ['', undefined],
      message: /^The certificate association data is required\.$/,
    },
    {
      field: 'data',
      bad: ['0x' + SHA256.slice(2), 'zz'.repeat(32)],
      message: /is not a hex digit/,
    },
    { field: 'data', bad: ['abc'], message: /odd number of hex digits/ },
    { field: 'data', bad: [123], message: /must be text/ },
    {
      field: 'data',
      bad: [SHA256.slice(2), SHA512],
      message: /SHA2-256\) digest is 32 bytes \(64 hex digits\); this has (31|64)\./,
    },
    {
      field: 'ttl',
      bad: ['-1', String(MAX_TTL + 1), 2 ** 31, '1h', 1.5, {}],
      message: /^The TTL must be a number of seconds from 0 to 2147483647, or blank/,
    },
  ];
  for (const row of table) {
    it(`${row.field}: ${row.bad.map((b) => JSON.stringify(b) ?? 'undefined').join(', ')}`, () => {
      for (const b of row.bad)
        assert.match(fieldError({ [row.field]: b }, row.field), row.message, JSON.stringify(b));
    });
  }
  it('data: SHA-512 wants 64 bytes; Full data must be a certificate (selector 0) or an SPKI (selector 1)', () => {
    assert.match(
      fieldError({ mtype: 2, data: SHA256 }, 'data'),
      /SHA2-512\) digest is 64 bytes \(128 hex digits\); this has 32/,
    );
    assert.match(
      fieldError({ selector: 0, mtype: 0, data: SPKI.toString('hex') }, 'data'),
      /must be a whole DER certificate/,
    );
    assert.match(
      fieldError({ selector: 1, mtype: 0, data: CERT.toString('hex') }, 'data'),
      /must be a DER SubjectPublicKeyInfo/,
    );
    assert.match(
      fieldError({ selector: 1, mtype: 0, data: SHA256 }, 'data'),
      /SubjectPublicKeyInfo/,
    );
    assert.match(
      fieldError({ selector: 0, mtype: 0, data: CERT.toString('hex') + '00' }, 'data'),
      /certificate/,
    );
  });
  it('ttl: 0 and 2^31-1 are the bounds; blank, null and absent are the default', () => {
    assert.equal(ok(validateTlsaForm({ ...good, ttl: '0' }, ZONES)).ttl, 0);
    assert.equal(ok(validateTlsaForm({ ...good, ttl: MAX_TTL }, ZONES)).ttl, MAX_TTL);
    for (const t of ['', '  ', null, undefined])
      assert.equal(ok(validateTlsaForm({ ...good, ttl: t }, ZONES)).ttl, null);
  });
  it('port: 1 and 65535 are the bounds', () => {
    assert.equal(
      ok(validateTlsaForm({ ...good, port: '1' }, ZONES)).owner,
      '_1._tcp.mail.example.org.',
    );
    assert.equal(
      ok(validateTlsaForm({ ...good, port: 65535 }, ZONES)).owner,
      '_65535._tcp.mail.example.org.',
    );
  });
  it('zones that are not names (from a careless caller) are skipped, never a throw', () => {
    const zones = [null, 42, '', 'example.org'] as unknown as string[];
    assert.equal(ok(validateTlsaForm(good, zones)).zone, 'example.org.');
    assert.match(
      fieldError({ name: 'a.b.test' }, 'name'),
      /none of your zones \(example\.org, sub\.example\.org, other\.net\)/,
    );
    assert.deepEqual(errorsOf(validateTlsaForm(good, null as unknown as string[])), [
      { field: 'name', message: 'mail.example.org is in none of your zones: you have none.' },
    ]);
  });
  it('a name that is not text is refused without calling its toString', () => {
    assert.equal(
      fieldError({ name: { toString: false } }, 'name'),
      'The domain name must be text (a host name).',
    );
    assert.equal(fieldError({ name: 42 }, 'name'), 'The domain name must be text (a host name).');
  });
  it('no zones: the name is refused saying so', () => {
    const errs = errorsOf(validateTlsaForm(good, []));
    assert.deepEqual(errs, [
      { field: 'name', message: 'mail.example.org is in none of your zones: you have none.' },
    ]);
  });
});

describe('TLSA form: every error at once', () => {
  it('each bad field has its error, in the form order; the data length is judged once the type is known', () => {
    const errs = errorsOf(
      validateTlsaForm(
        {
          port: '0',
          protocol: 'x',
          name: 'mail.example.com',
          usage: 9,
          selector: 'x',
          mtype: 'SHA2-256',
          data: 'abcd',
          ttl: '-5',
        },
        ZONES,
      ),
    );
    assert.deepEqual(
      errs.map((e) => e.field),
      ['port', 'protocol', 'name', 'usage', 'selector', 'data', 'ttl'],
    );
  });
  it('an empty form, or not an object at all: every required field', () => {
    for (const input of [{}, null, undefined, 'x', 42, [good]]) {
      assert.deepEqual(
        errorsOf(validateTlsaForm(input, ZONES)).map((e) => e.field),
        ['port', 'protocol', 'name', 'usage', 'selector', 'mtype', 'data'],
        JSON.stringify(input),
      );
    }
  });
});

const recordOf = (input: TlsaFormInput) => tlsaFormSchema(ZONES).parse(input);

describe('TLSA form: the zod schemas', () => {
  it('the checked schema gives the API record, or one issue per field error with the field as its path', () => {
    const s = tlsaFormSchema(ZONES);
    const r = s.safeParse(good);
    assert.ok(r.success);
    assert.deepEqual(tlsaFormRecordSchema.parse(r.data), r.data);
    assert.equal(r.data.owner, '_25._tcp.mail.example.org.');
    assert.equal(r.data.data, SHA256);
    const bad = s.safeParse({ ...good, port: '0', ttl: 'x' });
    assert.ok(!bad.success);
    assert.deepEqual(
      bad.error.issues.map((i) => [i.path.join('.'), i.message]),
      [
        ['port', 'The port must be a number from 1 to 65535.'],
        [
          'ttl',
          "The TTL must be a number of seconds from 0 to 2147483647, or blank for the zone's default.",
        ],
      ],
    );
  });
  it('each schema becomes a JSON Schema (what an OpenAPI document is generated from), no hono needed', () => {
    const input = z.toJSONSchema(tlsaFormInputSchema) as unknown as {
      properties: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(input.properties), [...TLSA_FORM_FIELDS]);
    const rec = z.toJSONSchema(tlsaFormRecordSchema) as unknown as {
      properties: { usage: { maximum: number }; ttl: unknown };
    };
    assert.equal(rec.properties.usage.maximum, 3);
    assert.ok(z.toJSONSchema(tlsaFormErrorSchema));
    assert.ok(!tlsaFormRecordSchema.safeParse({ ...recordOf(good), usage: 255 }).success);
  });
  it('the input schema takes what a form or a client sends, and the error schema the errors', () => {
    assert.ok(tlsaFormInputSchema.safeParse(good).success);
    assert.ok(tlsaFormInputSchema.safeParse({ port: 25, ttl: null }).success);
    assert.ok(!tlsaFormInputSchema.safeParse({ port: true }).success);
    const errs = errorsOf(validateTlsaForm({}, ZONES));
    for (const e of errs) assert.ok(tlsaFormErrorSchema.safeParse(e).success);
    assert.deepEqual(tlsaFormErrorSchema.shape.field.options, [...TLSA_FORM_FIELDS]);
  });
});

// ------------------------------------------------------------------------------ properties

const anyField = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.constantFrom('', ' ', null, undefined, '25', 'tcp', 'DANE-EE', 'SPKI', 'SHA2-256', SHA256),
  fc.anything(),
);
const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);

describe('TLSA form: properties', () => {
  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(Object.fromEntries(TLSA_FORM_FIELDS.map((f) => [f, anyField])), {
            requiredKeys: [],
          }),
        ),
        fc.oneof(
          fc.array(fc.oneof(fc.string(), fc.constantFrom('example.org', '.', '')), {
            maxLength: 4,
          }),
          fc.anything(),
        ),
        (input, anyZones) => {
          const zones = anyZones as string[];
          const r = validateTlsaForm(input, zones);
          if (!r.ok) {
            assert.ok(r.errors.length > 0);
            for (const e of r.errors)
              assert.ok((TLSA_FORM_FIELDS as readonly string[]).includes(e.field));
          }
          tlsaFormSchema(zones).safeParse(input);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a valid record round-trips to `tlsa explain`'s parser: the same owner, TTL and record", () => {
    const spkiHex = SPKI.toString('hex');
    const certHex = CERT.toString('hex');
    const asText = <T>(a: fc.Arbitrary<T>) =>
      a.chain((v) => fc.constantFrom<string | number>(v as number, String(v)));
    fc.assert(
      fc.property(
        fc.record({
          port: asText(fc.integer({ min: 1, max: 65535 })),
          protocol: fc.constantFrom('tcp', 'udp', 'sctp', 'TCP', 'Udp'),
          hostLabels: fc.array(label, { maxLength: 3 }),
          zone: fc.constantFrom(...ZONES),
          usage: fc.oneof(
            asText(fc.integer({ min: 0, max: 3 })),
            fc.constantFrom('PKIX-TA', 'pkix-ee', 'DANE-TA', 'DANE-EE'),
          ),
          kind: fc.constantFrom('sha256', 'sha512', 'full-spki', 'full-cert'),
          digest: fc.uint8Array({ minLength: 64, maxLength: 64 }),
          ttl: fc.oneof(
            fc.constant(''),
            fc.constant(null),
            asText(fc.integer({ min: 0, max: MAX_TTL })),
          ),
        }),
        (g) => {
          const zone = g.zone.replace(/\.$/, '');
          const name = [...g.hostLabels, zone].join('.');
          const [selector, mtype, data] =
            g.kind === 'sha256'
              ? [1, 'SHA2-256', Buffer.from(g.digest).subarray(0, 32).toString('hex')]
              : g.kind === 'sha512'
                ? ['Cert', 2, Buffer.from(g.digest).toString('hex')]
                : g.kind === 'full-spki'
                  ? ['SPKI', 0, spkiHex]
                  : [0, 'Full', certHex];
          const r = validateTlsaForm(
            {
              port: g.port,
              protocol: g.protocol,
              name,
              usage: g.usage,
              selector,
              mtype,
              data,
              ttl: g.ttl,
            },
            ZONES,
          );
          assert.ok(r.ok, JSON.stringify(r));
          const back = parseTlsaRr(r.line);
          assert.equal(back.owner, r.owner);
          assert.equal(back.ttl ?? null, r.ttl);
          assert.deepEqual(back.record, r.record);
          assert.equal(
            r.owner,
            `_${Number(g.port)}._${g.protocol.toLowerCase()}.${name.toLowerCase()}.`,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a digest of the wrong length is always refused on the data field', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.constantFrom(1, 2), (bytes, mtype) => {
        fc.pre(bytes.length !== (mtype === 1 ? 32 : 64) && bytes.length > 0);
        const r = validateTlsaForm(
          { ...good, mtype, data: Buffer.from(bytes).toString('hex') },
          ZONES,
        );
        assert.deepEqual(
          errorsOf(r).map((e) => e.field),
          ['data'],
        );
      }),
    );
  });
});
