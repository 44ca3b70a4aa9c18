/**
 * A small RFC 8555 client on node:crypto, with ARI (RFC 9773).
 *
 * Why not acme-client 5.4's low-level client (DESIGN.md's first choice): it sends every request
 * through one process-wide axios instance, so `ca-file` trust would apply to every client in the
 * process, and its interceptor sleeps through any Retry-After on 429/5xx (Let's Encrypt's rate
 * limits answer with hours) instead of returning it; its errors are plain Errors with the
 * problem document flattened into the message, so `rateLimited` and `alreadyReplaced` cannot be
 * told apart without parsing English. The protocol part we need is small: JWS (jws.ts), nonces,
 * the resources of §7 and polling.
 *
 * Every step does one request and reports what the CA said; the caller (the keep-secured pass)
 * decides. A Retry-After longer than `maxWaitSeconds` is returned as E_ACME_RETRY_LATER with
 * the seconds, never slept through.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { DkError, type ErrorKind } from '../../core/errors.js';
import { makeRequester, type HttpResponse } from './http.js';
import { accountKey, eabJws, signJws, thumbprint } from './jws.js';

export const DIRECTORY_PRESETS: Readonly<Record<string, string>> = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
};

/** `[acme] directory`: a preset name or an http(s) URL. */
export function directoryUrl(setting: string): string {
  const preset = DIRECTORY_PRESETS[setting];
  if (preset !== undefined) return preset;
  let u: URL | undefined;
  try {
    u = new URL(setting);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) {
    throw new DkError(
      'config',
      'E_ACME_DIRECTORY',
      `Cannot use ACME directory ${JSON.stringify(setting)}: give letsencrypt, letsencrypt-staging or an https:// URL`,
    );
  }
  return u.href;
}

const PROBLEM = 'urn:ietf:params:acme:error:';

/** An ACME failure: a DkError with the CA's problem type and Retry-After when it gave them. */
export class AcmeError extends DkError {
  /** RFC 8555 §6.7 problem type, e.g. urn:ietf:params:acme:error:rateLimited */
  readonly problemType: string | undefined;
  /** seconds the CA asked us to wait (Retry-After), when it said */
  readonly retryAfter: number | undefined;
  constructor(
    kind: ErrorKind,
    code: string,
    message: string,
    extra: { problemType?: string; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(kind, code, message, extra.cause === undefined ? {} : { cause: extra.cause });
    this.problemType = extra.problemType;
    this.retryAfter = extra.retryAfter;
  }
}

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert?: string;
  keyChange?: string;
  /** RFC 9773 §3 */
  renewalInfo?: string;
  meta?: {
    termsOfService?: string;
    externalAccountRequired?: boolean;
    /** draft-ietf-acme-profiles: name -> description */
    profiles?: Record<string, string>;
  };
}

export interface Identifier {
  type: 'dns';
  value: string;
}

export interface Challenge {
  type: string;
  url: string;
  status: 'pending' | 'processing' | 'valid' | 'invalid';
  token?: string;
  error?: Problem;
}

export interface Authorization {
  url: string;
  identifier: Identifier;
  status: 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
  wildcard?: boolean;
  challenges: Challenge[];
}

export interface Order {
  url: string;
  status: 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
  identifiers: Identifier[];
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: Problem;
  /** RFC 9773 §5 as the CA echoed it */
  replaces?: string;
  profile?: string;
}

export interface Problem {
  type?: string;
  detail?: string;
  subproblems?: { type?: string; detail?: string; identifier?: Identifier }[];
}

/** RFC 9773 §4.2 */
export interface RenewalInfo {
  /** ISO 8601 */
  windowStart: string;
  windowEnd: string;
  explanationUrl?: string;
  /** seconds until the client should ask again (RFC 9773 §4.3), when the CA said */
  retryAfter?: number;
}

export interface AcmeClientOptions {
  /** the directory URL (see directoryUrl for presets) */
  directory: string;
  /** account key PEM (generateAccountKey makes one) */
  accountKeyPem: string;
  /** known account URL (from an earlier register); without it, register/findAccount first */
  accountUrl?: string;
  /** extra PEM trust for the directory's HTTPS */
  ca?: string;
  /** RFC 8555 §7.3.4 external account binding, when the CA requires it */
  eab?: { kid: string; hmacKey: string };
  /** a Retry-After longer than this is returned to the caller as E_ACME_RETRY_LATER; default 60 */
  maxWaitSeconds?: number;
  /** how long to poll an authorization or order in all before giving up; default 300 s */
  pollLimitSeconds?: number;
  /** badNonce retries per request (RFC 8555 §6.5); default 5 */
  badNonceRetries?: number;
  timeoutMs?: number;
  /** injectable for tests */
  sleep?: (ms: number) => Promise<void>;
}

/** A new EC P-256 account key, PKCS #8 PEM: the caller persists it 0600. */
export function generateAccountKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; seconds from now. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs = Date.now(),
): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.ceil((t - nowMs) / 1000));
}

function problemCode(type: string | undefined): { code: string; kind: ErrorKind } {
  switch (type?.startsWith(PROBLEM) ? type.slice(PROBLEM.length) : undefined) {
    case 'rateLimited':
      return { code: 'E_ACME_RATE_LIMITED', kind: 'tempfail' };
    case 'badNonce':
      return { code: 'E_ACME_BAD_NONCE', kind: 'tempfail' };
    case 'alreadyReplaced':
      return { code: 'E_ACME_ALREADY_REPLACED', kind: 'protocol' };
    case 'unauthorized':
    case 'rejectedIdentifier':
    case 'caa':
      return { code: 'E_ACME_UNAUTHORIZED', kind: 'noperm' };
    case 'externalAccountRequired':
      return { code: 'E_ACME_EAB_REQUIRED', kind: 'config' };
    case 'accountDoesNotExist':
      return { code: 'E_ACME_NO_ACCOUNT', kind: 'config' };
    case 'userActionRequired':
      return { code: 'E_ACME_USER_ACTION', kind: 'config' };
    case 'badCSR':
    case 'badPublicKey':
      return { code: 'E_ACME_BAD_KEY', kind: 'data' };
    case 'serverInternal':
      return { code: 'E_ACME_SERVER', kind: 'unavailable' };
    case 'connection':
    case 'dns':
    case 'incorrectResponse':
    case 'tls':
      return { code: 'E_ACME_CHALLENGE_FAILED', kind: 'protocol' };
    default:
      return { code: 'E_ACME_PROBLEM', kind: 'protocol' };
  }
}

/** One line from a problem document: its type's last part and detail, then subproblems. */
export function describeProblem(p: Problem | undefined): string {
  if (!p) return 'no reason given';
  const short = (t: string | undefined): string =>
    t === undefined ? 'error' : t.startsWith(PROBLEM) ? t.slice(PROBLEM.length) : t;
  let s = `${short(p.type)}: ${(p.detail ?? 'no detail').replace(/\s+/g, ' ')}`;
  for (const sp of p.subproblems ?? []) {
    s += `; ${sp.identifier?.value ?? '?'}: ${short(sp.type)}: ${(sp.detail ?? '').replace(/\s+/g, ' ')}`;
  }
  return s;
}

export class AcmeClient {
  readonly directoryUrl: string;
  private readonly key: KeyObject;
  private kid: string | undefined;
  private readonly req: ReturnType<typeof makeRequester>;
  private readonly opts: AcmeClientOptions;
  private dir: Directory | undefined;
  private nonces: string[] = [];
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: AcmeClientOptions) {
    this.opts = opts;
    this.directoryUrl = directoryUrl(opts.directory);
    this.key = accountKey(opts.accountKeyPem);
    this.kid = opts.accountUrl;
    this.req = makeRequester({
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** the account URL, once registered or found */
  get accountUrl(): string | undefined {
    return this.kid;
  }

  /** RFC 8555 §8.1: token "." base64url(JWK thumbprint) */
  keyAuthorization(token: string): string {
    return `${token}.${thumbprint(this.key)}`;
  }

  async directory(): Promise<Directory> {
    if (this.dir) return this.dir;
    const res = await this.req('GET', this.directoryUrl);
    let d: Directory | undefined;
    try {
      d = res.status === 200 ? (JSON.parse(res.body.toString()) as Directory) : undefined;
    } catch {
      d = undefined;
    }
    if (
      !d ||
      typeof d.newNonce !== 'string' ||
      typeof d.newAccount !== 'string' ||
      typeof d.newOrder !== 'string'
    ) {
      throw new AcmeError(
        'protocol',
        'E_ACME_DIRECTORY',
        `Cannot read the ACME directory ${this.directoryUrl}: ${res.status === 200 ? 'not an RFC 8555 directory' : `HTTP ${res.status}`}`,
      );
    }
    this.dir = d;
    return d;
  }

  /** the profiles the directory lists (empty when it lists none) */
  async profiles(): Promise<string[]> {
    return Object.keys((await this.directory()).meta?.profiles ?? {});
  }

  private async nonce(): Promise<string> {
    const cached = this.nonces.pop();
    if (cached !== undefined) return cached;
    const dir = await this.directory();
    const res = await this.req('HEAD', dir.newNonce);
    const n = res.headers['replay-nonce'];
    if (typeof n !== 'string' || n === '') {
      throw new AcmeError(
        'protocol',
        'E_ACME_NONCE',
        `Cannot get a nonce from ${dir.newNonce}: no Replay-Nonce (HTTP ${res.status})`,
      );
    }
    return n;
  }

  /**
   * A signed POST (payload undefined: POST-as-GET, RFC 8555 §6.3). badNonce is retried with
   * the fresh nonce the error carries (§6.5); any other problem becomes an AcmeError.
   */
  async post(
    url: string,
    payload: unknown,
    opts: { useJwk?: boolean; accept?: number[] } = {},
  ): Promise<HttpResponse & { json: unknown }> {
    const tries = (this.opts.badNonceRetries ?? 5) + 1;
    for (let attempt = 1; ; attempt++) {
      const nonce = await this.nonce();
      if (!opts.useJwk && this.kid === undefined) {
        throw new AcmeError(
          'internal',
          'E_ACME_NO_ACCOUNT',
          'Cannot send an ACME request before the account is registered',
        );
      }
      const jws = signJws(
        this.key,
        { nonce, url, ...(opts.useJwk ? {} : { kid: this.kid! }) },
        payload,
      );
      const res = await this.req('POST', url, JSON.stringify(jws));
      const fresh = res.headers['replay-nonce'];
      if (typeof fresh === 'string' && fresh !== '') this.nonces.push(fresh);
      const json = parseJson(res.body);
      const ok = opts.accept ? opts.accept.includes(res.status) : res.status < 300;
      if (ok) return { ...res, json };
      const problem = (json ?? {}) as Problem;
      if (problem.type === `${PROBLEM}badNonce` && attempt < tries) continue;
      throw this.problem(url, res, problem);
    }
  }

  private problem(url: string, res: HttpResponse, p: Problem): AcmeError {
    const { code, kind } = p.type
      ? problemCode(p.type)
      : { code: 'E_ACME_HTTP', kind: 'protocol' as ErrorKind };
    const retryAfter = parseRetryAfter(res.headers['retry-after']);
    const wait = retryAfter !== undefined ? ` (retry after ${retryAfter} s)` : '';
    const what = p.type ? describeProblem(p) : `HTTP ${res.status}`;
    return new AcmeError(kind, code, `ACME request to ${url} failed: ${what}${wait}`, {
      ...(p.type !== undefined ? { problemType: p.type } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }

  /**
   * newAccount (RFC 8555 §7.3) with the ToS agreed and `email` as contact; with EAB when
   * configured (§7.3.4). An existing account for this key is returned, not duplicated (the CA
   * answers 200 with its URL). Returns the account URL for the caller to store.
   */
  async register(opts: { email?: string; agreeToTerms: true }): Promise<string> {
    const dir = await this.directory();
    if (dir.meta?.externalAccountRequired && !this.opts.eab) {
      throw new AcmeError(
        'config',
        'E_ACME_EAB_REQUIRED',
        `Cannot register with ${this.directoryUrl}: the CA requires external account binding (eab-kid and eab-hmac-key)`,
      );
    }
    const payload: Record<string, unknown> = { termsOfServiceAgreed: opts.agreeToTerms };
    if (opts.email !== undefined) payload.contact = [`mailto:${opts.email}`];
    if (this.opts.eab)
      payload.externalAccountBinding = eabJws(this.key, this.opts.eab, dir.newAccount);
    const res = await this.post(dir.newAccount, payload, { useJwk: true, accept: [200, 201] });
    return this.takeAccount(res);
  }

  /** RFC 8555 §7.3.1: the account of this key, without creating one (E_ACME_NO_ACCOUNT). */
  async findAccount(): Promise<string> {
    const dir = await this.directory();
    const res = await this.post(
      dir.newAccount,
      { onlyReturnExisting: true },
      { useJwk: true, accept: [200] },
    );
    return this.takeAccount(res);
  }

  private takeAccount(res: HttpResponse): string {
    const loc = res.headers.location;
    if (typeof loc !== 'string' || loc === '') {
      throw new AcmeError(
        'protocol',
        'E_ACME_ACCOUNT',
        `Cannot register with ${this.directoryUrl}: no account URL in the answer`,
      );
    }
    this.kid = loc;
    return loc;
  }

  /**
   * newOrder (RFC 8555 §7.4) for `names`; `replaces` (RFC 9773 §5) only when the directory has
   * renewalInfo, `profile` only when the directory lists it. On alreadyReplaced (another order
   * already replaced that certificate) the order is placed again without `replaces`, as RFC 9773
   * §5 allows; `replacesSent` says what was finally sent.
   */
  async newOrder(opts: {
    names: string[];
    replaces?: string;
    profile?: string;
  }): Promise<Order & { replacesSent: boolean; profileSent: boolean }> {
    const dir = await this.directory();
    const payload: Record<string, unknown> = {
      identifiers: opts.names.map((value) => ({ type: 'dns', value })),
    };
    const profileSent =
      opts.profile !== undefined && (await this.profiles()).includes(opts.profile);
    if (profileSent) payload.profile = opts.profile;
    let replacesSent = opts.replaces !== undefined && dir.renewalInfo !== undefined;
    if (replacesSent) payload.replaces = opts.replaces;
    let res;
    try {
      res = await this.post(dir.newOrder, payload, { accept: [201] });
    } catch (e) {
      if (!(e instanceof AcmeError) || e.code !== 'E_ACME_ALREADY_REPLACED' || !replacesSent)
        throw e;
      delete payload.replaces;
      replacesSent = false;
      res = await this.post(dir.newOrder, payload, { accept: [201] });
    }
    const loc = res.headers.location;
    if (typeof loc !== 'string') {
      throw new AcmeError(
        'protocol',
        'E_ACME_ORDER',
        `Cannot place an order with ${this.directoryUrl}: no order URL in the answer`,
      );
    }
    return { ...(res.json as Omit<Order, 'url'>), url: loc, replacesSent, profileSent };
  }

  async order(url: string): Promise<Order> {
    const res = await this.post(url, undefined);
    return { ...(res.json as Omit<Order, 'url'>), url };
  }

  async authorization(url: string): Promise<Authorization> {
    const res = await this.post(url, undefined);
    return { ...(res.json as Omit<Authorization, 'url'>), url };
  }

  /** RFC 8555 §7.5.1: tell the CA the challenge is ready (an empty JSON object). */
  async respond(challengeUrl: string): Promise<Challenge> {
    const res = await this.post(challengeUrl, {});
    return res.json as Challenge;
  }

  /**
   * Polls an authorization until it is no longer pending (RFC 8555 §7.5.1), honouring
   * Retry-After. Returns it valid, or throws E_ACME_CHALLENGE_FAILED with the CA's reason.
   */
  async waitAuthorization(url: string): Promise<Authorization> {
    const a = await this.poll(
      url,
      (j) => (j as Authorization).status === 'pending',
      'authorization',
    );
    const authz = { ...(a.json as Omit<Authorization, 'url'>), url };
    if (authz.status !== 'valid') {
      const failed = authz.challenges.find((c) => c.error !== undefined);
      throw new AcmeError(
        'protocol',
        'E_ACME_CHALLENGE_FAILED',
        `The CA did not validate ${authz.identifier.value}: ${failed ? `${failed.type} ${describeProblem(failed.error)}` : `authorization ${authz.status}`}`,
        ...(failed?.error?.type !== undefined ? [{ problemType: failed.error.type }] : []),
      );
    }
    return authz;
  }

  /** RFC 8555 §7.4: finalize with the CSR's DER, then poll until the order is valid. */
  async finalize(order: Order, csrDer: Buffer): Promise<Order> {
    await this.post(order.finalize, { csr: csrDer.toString('base64url') });
    const res = await this.poll(
      order.url,
      (j) => ['pending', 'ready', 'processing'].includes((j as Order).status),
      'order',
    );
    const o = { ...(res.json as Omit<Order, 'url'>), url: order.url };
    if (o.status !== 'valid' || o.certificate === undefined) {
      throw new AcmeError(
        'protocol',
        'E_ACME_ORDER_INVALID',
        `The CA did not issue the certificate for ${order.identifiers.map((i) => i.value).join(', ')}: ${o.error ? describeProblem(o.error) : `order ${o.status}`}`,
        ...(o.error?.type !== undefined ? [{ problemType: o.error.type }] : []),
      );
    }
    return o;
  }

  /** RFC 8555 §7.4.2: the chain as the CA returns it (leaf first), never rebuilt here. */
  async certificate(url: string): Promise<string> {
    return (await this.certificateChains(url)).chainPem;
  }

  /**
   * RFC 8555 §7.4.2: the default chain, and the URLs of the alternate chains the CA offers for
   * the same certificate (`Link: <url>;rel="alternate"`, each fetched the same way).
   */
  async certificateChains(url: string): Promise<{ chainPem: string; alternates: string[] }> {
    const res = await this.post(url, undefined);
    const pem = res.body.toString();
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new AcmeError(
        'protocol',
        'E_ACME_CERT',
        `Cannot download the certificate from ${url}: not a PEM chain`,
      );
    }
    const alternates = parseLinks(res.headers.link, url)
      .filter((l) => l.rels.includes('alternate'))
      .map((l) => l.url)
      .filter((u, i, a) => u !== url && a.indexOf(u) === i);
    return { chainPem: pem, alternates };
  }

  /**
   * RFC 9773 §4: GET renewalInfo/CertID (unauthenticated). Returns undefined when the
   * directory offers no renewalInfo, so the caller falls back to a third of the lifetime.
   */
  async renewalInfo(certId: string): Promise<RenewalInfo | undefined> {
    const dir = await this.directory();
    if (dir.renewalInfo === undefined) return undefined;
    const url = `${dir.renewalInfo.replace(/\/$/, '')}/${certId}`;
    const res = await this.req('GET', url);
    const json = parseJson(res.body) as
      { suggestedWindow?: { start?: string; end?: string }; explanationURL?: string } | undefined;
    if (res.status !== 200) {
      throw this.problem(url, res, (json ?? {}) as Problem);
    }
    const start = Date.parse(json?.suggestedWindow?.start ?? '');
    const end = Date.parse(json?.suggestedWindow?.end ?? '');
    // RFC 9773 §4.2: a window whose end is not after its start is invalid and must be ignored.
    if (Number.isNaN(start) || Number.isNaN(end) || end <= start) {
      throw new AcmeError(
        'protocol',
        'E_ACME_ARI',
        `Cannot use the renewal window from ${url}: missing or end not after start`,
      );
    }
    const retryAfter = parseRetryAfter(res.headers['retry-after']);
    return {
      windowStart: new Date(start).toISOString(),
      windowEnd: new Date(end).toISOString(),
      ...(json?.explanationURL !== undefined ? { explanationUrl: json.explanationURL } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    };
  }

  private async poll(
    url: string,
    busy: (json: unknown) => boolean,
    what: string,
  ): Promise<HttpResponse & { json: unknown }> {
    const limitMs = (this.opts.pollLimitSeconds ?? 300) * 1000;
    const maxWait = this.opts.maxWaitSeconds ?? 60;
    let waited = 0;
    for (let i = 0; ; i++) {
      const res = await this.post(url, undefined);
      if (!busy(res.json)) return res;
      const ra = parseRetryAfter(res.headers['retry-after']);
      if (ra !== undefined && ra > maxWait) {
        throw new AcmeError(
          'tempfail',
          'E_ACME_RETRY_LATER',
          `The CA asks to check the ${what} ${url} again in ${ra} s`,
          { retryAfter: ra },
        );
      }
      const ms = ra !== undefined ? ra * 1000 : Math.min(250 * 2 ** i, 5000);
      if (waited + ms > limitMs) {
        throw new AcmeError(
          'tempfail',
          'E_ACME_TIMEOUT',
          `The CA did not finish the ${what} ${url} within ${Math.round(limitMs / 1000)} s`,
        );
      }
      waited += ms;
      await this.sleep(ms);
    }
  }
}

/**
 * RFC 8288 §3 Link header fields (several fields arrive joined by ", "): each target URL,
 * resolved against `base`, with its `rel` values (lower case). Enough for ACME's `up`, `index`
 * and `alternate` links; a malformed link is skipped.
 */
export function parseLinks(
  header: string | string[] | undefined,
  base: string,
): { url: string; rels: string[] }[] {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const out: { url: string; rels: string[] }[] = [];
  const link = /<([^>]*)>((?:\s*;\s*[^;,=\s]+\s*(?:=\s*(?:"[^"]*"|[^;,\s]*))?)*)/g;
  for (const m of text.matchAll(link)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))/i.exec(m[2] ?? '');
    let url: string;
    try {
      url = new URL(m[1]!, base).toString();
    } catch {
      continue;
    }
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    out.push({ url, rels });
  }
  return out;
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString()) as unknown;
  } catch {
    return undefined;
  }
}
