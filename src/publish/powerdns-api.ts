/**
 * A small client for the PowerDNS Authoritative HTTP API (v1, as in 4.7), shared by the
 * publisher (powerdns.ts) and the DNSSEC helpers (powerdns-dnssec.ts). It owns the one mapping
 * from HTTP outcomes to DkError codes:
 *
 *   no connection, timeout          E_PUBLISH_UNREACHABLE (unavailable)
 *   401, 403                        E_PUBLISH_AUTH        (noperm)   the API key was refused
 *   404                             E_PUBLISH_NOTAUTH     (config)   no such zone or server id
 *   422, 400, other 4xx, 5xx        E_PUBLISH_REJECTED    (protocol) with PowerDNS's `error`
 *   a redirect, non-JSON, odd shape E_PUBLISH_PROTOCOL    (protocol)
 *
 * The API key travels only in the X-API-Key header. It is never part of a URL, a message or an
 * error, and redirects are not followed (fetch would send the header to the new location).
 */
import { DkError } from '../core/errors.js';
import { netErrorReason } from '../io/net-errors.js';

export interface PowerdnsApiOptions {
  /** the zone, e.g. `example.org.` (trailing dot optional, any case) */
  zone: string;
  /** the PowerDNS webserver, `http://127.0.0.1:8081` (a trailing `/api/v1` is accepted too) */
  apiUrl: string;
  apiKey: string;
  /** default `localhost`, the only server id PowerDNS Authoritative has */
  serverId?: string;
  /** per HTTP request; default 10 s */
  timeoutMs?: number;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Lower case with the trailing dot. */
export function absName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

/**
 * PowerDNS's zone id: the name with every character outside [A-Za-z0-9._-] written `=XX`
 * (ws-api's apiZoneNameToId), so `a/b.example.` is `a=2Fb.example.`.
 */
export function powerdnsZoneId(zone: string): string {
  return [...Buffer.from(zone, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9._-]/.test(c) ? c : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** The first line of a server's error text, at most 200 characters. */
function oneLine(s: string): string {
  const line =
    s
      .replace(/\r/g, '')
      .split('\n')
      .find((l) => l.trim() !== '') ?? '';
  const t = line.trim().replace(/\s+/g, ' ');
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

export class PowerdnsApi {
  readonly zone: string;
  readonly serverId: string;
  /** `http://host:port` without credentials, path or query: safe for messages */
  readonly base: string;
  private readonly root: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;

  constructor(opts: PowerdnsApiOptions) {
    let url: URL;
    try {
      url = new URL(opts.apiUrl);
    } catch {
      throw new DkError(
        'config',
        'E_PUBLISH_CONFIG',
        `The PowerDNS API URL "${opts.apiUrl}" is not a URL`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new DkError(
        'config',
        'E_PUBLISH_CONFIG',
        `The PowerDNS API URL ${url.origin} is not an http:// or https:// URL`,
      );
    }
    if (url.username || url.password || url.search || url.hash) {
      // a key put in the URL would end up in messages and logs
      throw new DkError(
        'config',
        'E_PUBLISH_CONFIG',
        `The PowerDNS API URL for ${url.host} must hold no user, password, query or fragment ` +
          `(the API key is read from a file)`,
      );
    }
    if (typeof opts.apiKey !== 'string' || opts.apiKey.trim() === '') {
      throw new DkError('config', 'E_PUBLISH_CONFIG', 'The PowerDNS API key is empty');
    }
    if (/[\r\n]/.test(opts.apiKey.trim())) {
      throw new DkError('config', 'E_PUBLISH_CONFIG', 'The PowerDNS API key spans several lines');
    }
    const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
    this.base = `${url.protocol}//${url.host}${path}`;
    this.root = `${this.base}/api/v1`;
    this.apiKey = opts.apiKey.trim();
    this.zone = absName(opts.zone);
    this.serverId = opts.serverId ?? 'localhost';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** `/servers/{id}/zones/{zone}` plus `sub` */
  zonePath(sub = ''): string {
    return `/servers/${encodeURIComponent(this.serverId)}/zones/${encodeURIComponent(
      powerdnsZoneId(this.zone),
    )}${sub}`;
  }

  /**
   * One request. `action` names what was being done, as a noun phrase for messages ("the update
   * of the TLSA RRset at _25._tcp.mail.example.org."). Returns the parsed JSON body, or null for
   * 204.
   */
  async request(method: string, path: string, action: string, body?: Json): Promise<Json> {
    const headers: Record<string, string> = {
      'X-API-Key': this.apiKey,
      Accept: 'application/json',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.root + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      throw new DkError(
        'unavailable',
        'E_PUBLISH_UNREACHABLE',
        `PowerDNS API at ${this.base} did not answer ${action}: ${unreachableReason(e, this.timeoutMs)}`,
      );
    }
    if (res.status >= 200 && res.status < 300) {
      if (res.status === 204 || text.trim() === '') return null;
      try {
        return JSON.parse(text) as Json;
      } catch {
        throw this.protocol(action, `HTTP ${res.status} with a body that is not JSON`);
      }
    }
    throw await this.httpError(res.status, text, action);
  }

  protocol(action: string, what: string): DkError {
    return new DkError(
      'protocol',
      'E_PUBLISH_PROTOCOL',
      `PowerDNS API at ${this.base} sent an unexpected answer to ${action}: ${what}`,
    );
  }

  private async httpError(status: number, text: string, action: string): Promise<DkError> {
    const at = `PowerDNS API at ${this.base}`;
    if (status >= 300 && status < 400) {
      return this.protocol(action, `HTTP ${status} redirect (not followed; check the API URL)`);
    }
    if (status === 401 || status === 403) {
      return new DkError(
        'noperm',
        'E_PUBLISH_AUTH',
        `${at} refused the API key (HTTP ${status}) for ${action}`,
      );
    }
    if (status === 404) return this.notFound(action);
    const why = errorText(text);
    return new DkError(
      'protocol',
      'E_PUBLISH_REJECTED',
      `${at} rejected ${action} (HTTP ${status})${why ? `: ${why}` : ''}`,
    );
  }

  /**
   * PowerDNS answers 404 both for an unknown server id and for a zone it does not have; one
   * more request tells which, so the message points at the setting to fix.
   */
  private async notFound(action: string): Promise<DkError> {
    const at = `PowerDNS API at ${this.base}`;
    let serverKnown: boolean | undefined;
    try {
      const res = await fetch(`${this.root}/servers/${encodeURIComponent(this.serverId)}`, {
        headers: { 'X-API-Key': this.apiKey, Accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.body?.cancel();
      if (res.status === 200) serverKnown = true;
      else if (res.status === 404) serverKnown = false;
    } catch {
      // the first answer stands
    }
    const msg =
      serverKnown === false
        ? `${at} has no server id "${this.serverId}" (HTTP 404) for ${action}`
        : serverKnown === true
          ? `${at} does not serve the zone ${this.zone} (HTTP 404) for ${action}`
          : `${at} has no zone ${this.zone} on server id "${this.serverId}" (HTTP 404) for ${action}`;
    return new DkError('config', 'E_PUBLISH_NOTAUTH', msg);
  }
}

/** PowerDNS's `{"error": "..."}`, or the plain text some paths answer with, as one line. */
function errorText(text: string): string {
  try {
    const j = JSON.parse(text) as unknown;
    if (j && typeof j === 'object' && typeof (j as { error?: unknown }).error === 'string') {
      return oneLine((j as { error: string }).error);
    }
  } catch {
    // not JSON: plain text such as "Bad Request"
  }
  return oneLine(text);
}

function unreachableReason(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  return netErrorReason(e);
}
