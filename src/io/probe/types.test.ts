import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DkError } from '../../core/errors.js';
import { LDAP_STARTTLS_REQUEST, parseLdapExtendedResponse } from './starttls.js';
import { defaultPort, defaultStarttls, parseStarttlsProto, STARTTLS_PROTOS } from './types.js';

test('defaultStarttls picks the dialogue from the port', () => {
  const cases: [number, string][] = [
    [25, 'smtp'],
    [587, 'smtp'],
    [24, 'lmtp'],
    [143, 'imap'],
    [110, 'pop3'],
    [21, 'ftp'],
    [5222, 'xmpp'],
    [5269, 'xmpp-server'],
    [389, 'ldap'],
    [4190, 'sieve'],
    [119, 'nntp'],
    [5432, 'postgres'],
    [465, 'none'],
    [993, 'none'],
    [995, 'none'],
    [443, 'none'],
    [636, 'none'],
    [563, 'none'],
    [853, 'none'],
    [5061, 'none'],
    [12345, 'none'],
  ];
  for (const [port, proto] of cases) assert.equal(defaultStarttls(port), proto, `port ${port}`);
});

test('parseStarttlsProto accepts every name and refuses others as a usage error', () => {
  for (const p of STARTTLS_PROTOS) assert.equal(parseStarttlsProto(p.toUpperCase()), p);
  assert.throws(
    () => parseStarttlsProto('smtps\n'),
    (e: unknown) =>
      e instanceof DkError &&
      e.kind === 'usage' &&
      e.code === 'probe-bad-protocol' &&
      !e.message.includes('\n') &&
      /^Unknown STARTTLS protocol "smtps\?"/.test(e.message),
  );
});

test('the LDAP StartTLS request is the BER of RFC 4511 §4.14.1', () => {
  // LDAPMessage { messageID 1, [APPLICATION 23] { [0] "1.3.6.1.4.1.1466.20037" } }
  assert.equal(
    LDAP_STARTTLS_REQUEST.toString('hex'),
    '301d02010177188016' + Buffer.from('1.3.6.1.4.1.1466.20037').toString('hex'),
  );
});

test('parseLdapExtendedResponse reads resultCode and diagnosticMessage', () => {
  const ok = Buffer.from('020101780a0a0100040004034e6f21', 'hex');
  assert.deepEqual(parseLdapExtendedResponse(ok), {
    messageId: 1,
    resultCode: 0,
    diagnosticMessage: 'No!',
  });
  // Long-form lengths are fine; truncation is not.
  const long = Buffer.from('02010178810a0a0134040004034e6f21', 'hex');
  assert.equal(parseLdapExtendedResponse(long)?.resultCode, 52);
  assert.equal(parseLdapExtendedResponse(ok.subarray(0, 8)), undefined);
  assert.equal(parseLdapExtendedResponse(Buffer.from('0201017300', 'hex')), undefined);
});

test('defaultPort is the port defaultStarttls reads back as the same dialogue', () => {
  for (const p of STARTTLS_PROTOS) assert.equal(defaultStarttls(defaultPort(p)), p, p);
  assert.equal(defaultPort('smtp'), 25);
  assert.equal(defaultPort('none'), 443);
});
