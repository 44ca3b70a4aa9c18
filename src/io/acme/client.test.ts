/**
 * The RFC 8555 client against a small fake directory (node:http on 127.0.0.1:0): what Debian's
 * Pebble 2.4 cannot show — ARI (RFC 9773), `replaces` and alreadyReplaced, profiles — and the
 * error paths that need a scripted CA: rateLimited with Retry-After, badNonce with no retries
 * left, a long Retry-After while polling. Everything else runs against Pebble in
 * test/lab/acme.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DkError } from '../../core/errors.js';
import {
  AcmeClient,
  AcmeError,
  directoryUrl,
  generateAccountKey,
  parseLinks,
  parseRetryAfter,
} from './client.js';

type Handler = (
  req: IncomingMessage,
  body: { protected: Record<string, unknown>; payload: unknown } | undefined,
  res: ServerResponse,
) => void;

let server: Server;
let base = '';
let routes: Record<string, Handler> = {};
let directoryExtra: Record<string, unknown> = {};
let nonceCounter = 0;
const seen: { path: string; payload: unknown }[] = [];

function decode(raw: string): { protected: Record<string, unknown>; payload: unknown } | undefined {
  if (raw === '') return undefined;
  const jws = JSON.parse(raw) as { protected: string; payload: string };
  const dec = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString()) as unknown;
  return {
    protected: dec(jws.protected) as Record<string, unknown>,
    payload: jws.payload === '' ? undefined : dec(jws.payload),
  };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'replay-nonce': `n${++nonceCounter}`,
    ...headers,
  });
  res.end(JSON.stringify(body));
}

const problem = (type: string, detail: string) => ({
  type: `urn:ietf:params:acme:error:${type}`,
  detail,
});

before(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      if (path === '/dir')
        return json(res, 200, {
          newNonce: `${base}/nonce`,
          newAccount: `${base}/acct`,
          newOrder: `${base}/order`,
          ...directoryExtra,
        });
      if (path === '/nonce') {
        res.writeHead(200, { 'replay-nonce': `n${++nonceCounter}` }).end();
        return;
      }
      const body = decode(raw);
      seen.push({ path, payload: body?.payload });
      const route = Object.keys(routes).find((r) => path.startsWith(r));
      if (route) return routes[route]!(req, body, res);
      json(res, 404, problem('malformed', 'no such resource'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

beforeEach(() => {
  seen.length = 0;
  directoryExtra = {};
  routes = {
    '/acct': (_q, _b, res) => json(res, 201, { status: 'valid' }, { location: `${base}/acct/1` }),
    '/order': (_q, _b, res) =>
      json(
        res,
        201,
        { status: 'pending', identifiers: [], authorizations: [], finalize: `${base}/fin/1` },
        { location: `${base}/o/1` },
      ),
  };
});

function client(extra: Partial<ConstructorParameters<typeof AcmeClient>[0]> = {}): AcmeClient {
  return new AcmeClient({
    directory: `${base}/dir`,
    accountKeyPem: generateAccountKey(),
    accountUrl: `${base}/acct/1`,
    sleep: async () => {},
    ...extra,
  });
}

async function rejects(p: Promise<unknown>, code: string): Promise<AcmeError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DkError, String(e));
    assert.equal(e.code, code, e.message);
    return e as AcmeError;
  }
  assert.fail(`expected ${code}`);
}

describe('directory presets', () => {
  it('names Let’s Encrypt production and staging, takes a URL, refuses anything else', () => {
    assert.equal(directoryUrl('letsencrypt'), 'https://acme-v02.api.letsencrypt.org/directory');
    assert.equal(
      directoryUrl('letsencrypt-staging'),
      'https://acme-staging-v02.api.letsencrypt.org/directory',
    );
    assert.equal(directoryUrl('https://ca.example/dir'), 'https://ca.example/dir');
    assert.throws(() => directoryUrl('lets-encrypt'), { code: 'E_ACME_DIRECTORY' });
    assert.throws(() => directoryUrl('ftp://ca.example/dir'), { code: 'E_ACME_DIRECTORY' });
  });

  it('parses Retry-After as seconds or an HTTP-date', () => {
    assert.equal(parseRetryAfter('120'), 120);
    assert.equal(
      parseRetryAfter('Fri, 04 Dec 2026 22:00:00 GMT', Date.parse('2026-12-04T21:59:00Z')),
      60,
    );
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
  });
});

describe('ARI (RFC 9773)', () => {
  it('without renewalInfo in the directory: undefined, and no replaces on the order', async () => {
    const c = client();
    assert.equal(await c.renewalInfo('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE'), undefined);
    const o = await c.newOrder({
      names: ['mail.example.org'],
      replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
    });
    assert.equal(o.replacesSent, false);
    assert.equal(
      (seen.find((s) => s.path === '/order')!.payload as Record<string, unknown>).replaces,
      undefined,
    );
  });

  it('GETs renewalInfo/CertID and returns the window and Retry-After', async () => {
    directoryExtra = { renewalInfo: `${base}/ri` };
    let asked = '';
    routes['/ri/'] = (q, _b, res) => {
      asked = q.url!;
      assert.equal(q.method, 'GET');
      json(
        res,
        200,
        {
          suggestedWindow: { start: '2027-01-01T00:00:00Z', end: '2027-01-03T00:00:00Z' },
          explanationURL: 'https://ca.example/why',
        },
        { 'retry-after': '21600' },
      );
    };
    const r = await client().renewalInfo('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    assert.equal(asked, '/ri/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    assert.deepEqual(r, {
      windowStart: '2027-01-01T00:00:00.000Z',
      windowEnd: '2027-01-03T00:00:00.000Z',
      explanationUrl: 'https://ca.example/why',
      retryAfter: 21600,
    });
  });

  it('a window whose end is not after its start is refused (RFC 9773 §4.2)', async () => {
    directoryExtra = { renewalInfo: `${base}/ri` };
    routes['/ri/'] = (_q, _b, res) =>
      json(res, 200, {
        suggestedWindow: { start: '2027-01-03T00:00:00Z', end: '2027-01-01T00:00:00Z' },
      });
    await rejects(client().renewalInfo('a.b'), 'E_ACME_ARI');
  });

  it('sends replaces when the directory has renewalInfo; on alreadyReplaced orders again without it', async () => {
    directoryExtra = { renewalInfo: `${base}/ri` };
    const c = client();
    const ok = await c.newOrder({ names: ['mail.example.org'], replaces: 'X.Y' });
    assert.equal(ok.replacesSent, true);
    assert.equal((seen.at(-1)!.payload as Record<string, unknown>).replaces, 'X.Y');

    seen.length = 0;
    routes['/order'] = (_q, b, res) => {
      if ((b!.payload as Record<string, unknown>).replaces !== undefined)
        return json(res, 409, problem('alreadyReplaced', 'X.Y was already replaced'));
      json(
        res,
        201,
        { status: 'pending', identifiers: [], authorizations: [], finalize: `${base}/fin/2` },
        { location: `${base}/o/2` },
      );
    };
    const again = await c.newOrder({ names: ['mail.example.org'], replaces: 'X.Y' });
    assert.equal(again.replacesSent, false);
    assert.equal(again.url, `${base}/o/2`);
    assert.deepEqual(
      seen
        .filter((s) => s.path === '/order')
        .map((s) => (s.payload as Record<string, unknown>).replaces),
      ['X.Y', undefined],
    );
  });
});

describe('profiles', () => {
  it('sends the profile only when the directory lists it', async () => {
    const c1 = client();
    assert.equal(
      (await c1.newOrder({ names: ['a.example'], profile: 'classic' })).profileSent,
      false,
    );
    assert.equal((seen.at(-1)!.payload as Record<string, unknown>).profile, undefined);

    directoryExtra = { meta: { profiles: { classic: 'the usual', shortlived: '6 days' } } };
    const c2 = client();
    assert.deepEqual(await c2.profiles(), ['classic', 'shortlived']);
    assert.equal(
      (await c2.newOrder({ names: ['a.example'], profile: 'shortlived' })).profileSent,
      true,
    );
    assert.equal((seen.at(-1)!.payload as Record<string, unknown>).profile, 'shortlived');
  });
});

describe('errors and waiting', () => {
  it('rateLimited is E_ACME_RATE_LIMITED with the Retry-After, not slept through', async () => {
    routes['/order'] = (_q, _b, res) =>
      json(
        res,
        429,
        problem(
          'rateLimited',
          'too many certificates (5) already issued for this exact set of identifiers',
        ),
        { 'retry-after': '86400' },
      );
    const e = await rejects(client().newOrder({ names: ['a.example'] }), 'E_ACME_RATE_LIMITED');
    assert.equal(e.kind, 'tempfail');
    assert.equal(e.retryAfter, 86400);
    assert.equal(e.problemType, 'urn:ietf:params:acme:error:rateLimited');
    assert.match(e.message, /rateLimited: too many certificates .* \(retry after 86400 s\)$/);
  });

  it('badNonce is retried with the nonce the error carries; with no retries left it is E_ACME_BAD_NONCE', async () => {
    let refusals = 2;
    routes['/order'] = (_q, _b, res) => {
      if (refusals-- > 0)
        return json(res, 400, problem('badNonce', 'JWS has an invalid anti-replay nonce'));
      json(
        res,
        201,
        { status: 'pending', identifiers: [], authorizations: [], finalize: `${base}/fin/1` },
        { location: `${base}/o/1` },
      );
    };
    assert.equal((await client().newOrder({ names: ['a.example'] })).url, `${base}/o/1`);
    assert.equal(seen.filter((s) => s.path === '/order').length, 3);

    refusals = 5;
    await rejects(
      client({ badNonceRetries: 1 }).newOrder({ names: ['a.example'] }),
      'E_ACME_BAD_NONCE',
    );
  });

  it('a long Retry-After while polling is returned as E_ACME_RETRY_LATER; a short one is waited', async () => {
    const slept: number[] = [];
    let polls = 0;
    routes['/o/1'] = (_q, _b, res) =>
      ++polls < 3
        ? json(res, 200, { status: 'processing' }, { 'retry-after': '2' })
        : json(res, 200, { status: 'valid', certificate: `${base}/cert/1` });
    routes['/fin/1'] = (_q, _b, res) => json(res, 200, { status: 'processing' });
    const c = client({ sleep: async (ms) => void slept.push(ms) });
    const order = {
      url: `${base}/o/1`,
      status: 'ready' as const,
      identifiers: [],
      authorizations: [],
      finalize: `${base}/fin/1`,
    };
    const done = await c.finalize(order, Buffer.from([0x30, 0x00]));
    assert.equal(done.certificate, `${base}/cert/1`);
    assert.deepEqual(slept, [2000, 2000]);

    routes['/o/1'] = (_q, _b, res) =>
      json(res, 200, { status: 'processing' }, { 'retry-after': '3600' });
    const e = await rejects(c.finalize(order, Buffer.from([0x30, 0x00])), 'E_ACME_RETRY_LATER');
    assert.equal(e.retryAfter, 3600);
  });

  it('an error never carries the account key', async () => {
    const key = generateAccountKey();
    routes['/order'] = (_q, _b, res) =>
      json(res, 403, problem('unauthorized', 'account deactivated'));
    const e = await rejects(
      client({ accountKeyPem: key }).newOrder({ names: ['a.example'] }),
      'E_ACME_UNAUTHORIZED',
    );
    assert.doesNotMatch(e.message + String(e.stack), /PRIVATE KEY/);
  });

  it('EAB required by the directory and not configured: refused before any request', async () => {
    directoryExtra = { meta: { externalAccountRequired: true } };
    await rejects(
      client({ accountUrl: undefined }).register({ agreeToTerms: true }),
      'E_ACME_EAB_REQUIRED',
    );
    assert.equal(seen.length, 0);
  });
});

describe('alternate chains (RFC 8555 §7.4.2)', () => {
  it('parseLinks: several fields joined, quoted and bare rel, relative URLs, malformed skipped', () => {
    assert.deepEqual(
      parseLinks(
        [
          '<https://ca.example/dir>;rel="index", </cert/1/1>; rel="alternate"',
          '<https://ca.example/cert/1/2>;rel=alternate, <https://ca.example/x>; title="a, b"; rel="up alternate"',
          '<http://[bad>;rel="alternate"',
        ],
        'https://ca.example/cert/1',
      ),
      [
        { url: 'https://ca.example/dir', rels: ['index'] },
        { url: 'https://ca.example/cert/1/1', rels: ['alternate'] },
        { url: 'https://ca.example/cert/1/2', rels: ['alternate'] },
        { url: 'https://ca.example/x', rels: ['up', 'alternate'] },
      ],
    );
    assert.deepEqual(parseLinks(undefined, 'https://ca.example/'), []);
  });

  it('certificateChains: the default chain and the alternates the CA links, each once', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    routes['/cert/'] = (q, _b, res) => {
      res.setHeader('link', [
        `<${base}/dir>;rel="index"`,
        `<${base}/cert/1/alt1>;rel="alternate"`,
        `<${base}/cert/1/alt2>;rel="alternate"`,
        `<${base}/cert/1/alt1>;rel="alternate"`,
        `<${base}${q.url}>;rel="alternate"`,
      ]);
      res.writeHead(200, {
        'content-type': 'application/pem-certificate-chain',
        'replay-nonce': `n${++nonceCounter}`,
      });
      res.end(pem);
    };
    const r = await client().certificateChains(`${base}/cert/1`);
    assert.equal(r.chainPem, pem);
    assert.deepEqual(r.alternates, [`${base}/cert/1/alt1`, `${base}/cert/1/alt2`]);
    assert.equal(await client().certificate(`${base}/cert/1`), pem);
  });
});
