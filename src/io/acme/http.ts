/**
 * The one HTTP(S) request the ACME client makes, on node:http/https so that extra trust for the
 * directory's HTTPS (`ca-file`, a private CA such as the lab's Pebble) applies to this client
 * only, next to the system's roots, never process-wide.
 */
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { DkError } from '../../core/errors.js';
import { netErrorReason } from '../net-errors.js';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpOptions {
  /** extra PEM CA certificates trusted for HTTPS, in addition to the system's roots */
  ca?: string;
  /** per request; default 30 s */
  timeoutMs?: number;
}

export function makeRequester(
  opts: HttpOptions,
): (method: string, url: string, body?: string, contentType?: string) => Promise<HttpResponse> {
  const agent = new https.Agent({
    keepAlive: true,
    ...(opts.ca !== undefined ? { ca: [...rootCertificates, opts.ca] } : {}),
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return (method, url, body, contentType) =>
    new Promise<HttpResponse>((resolve, reject) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        reject(
          new DkError(
            'config',
            'E_ACME_URL',
            `Cannot use ACME URL ${JSON.stringify(url)}: not a URL`,
          ),
        );
        return;
      }
      const mod = u.protocol === 'https:' ? https : http;
      const headers: Record<string, string> = { 'user-agent': 'danekeeper' };
      if (body !== undefined) {
        headers['content-type'] = contentType ?? 'application/jose+json';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const req = mod.request(
        u,
        { method, headers, ...(u.protocol === 'https:' ? { agent } : {}), timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', (e) => reject(unreachable(u, e)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
      req.on('error', (e) => reject(unreachable(u, e)));
      req.end(body);
    });
}

function unreachable(u: URL, e: Error): DkError {
  const code = (e as NodeJS.ErrnoException).code;
  // OpenSSL's verify errors (UNABLE_TO_GET_ISSUER_CERT_LOCALLY, CERT_HAS_EXPIRED, ...) and
  // Node's own TLS errors: the server answered but could not be trusted.
  const tls =
    code !== undefined &&
    /^(UNABLE_TO_|CERT_|ERR_TLS_|ERR_SSL_)|SELF_SIGNED|HOSTNAME_MISMATCH/.test(code);
  if (tls) {
    return new DkError(
      'protocol',
      'E_ACME_TLS',
      `Cannot trust the ACME server ${u.origin}: ${e.message} (a private CA needs ca-file in [acme])`,
      { cause: e },
    );
  }
  return new DkError(
    'unavailable',
    'E_ACME_UNREACHABLE',
    `Cannot reach the ACME server ${u.origin}: ${netErrorReason(e)}`,
    {
      cause: e,
    },
  );
}
