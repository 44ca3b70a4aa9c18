/**
 * An HTTPS proxy in front of Pebble for rollover-failures.test.ts, run inside the lab namespace
 * (`node --import tsx rollover-acme-proxy.ts LISTEN_ADDR PORT UPSTREAM_ADDR CERT KEY FAULT_FILE`).
 * Pebble 2.4 has no rate limits: while FAULT_FILE holds `rate-limit SECONDS`, a newOrder
 * (Pebble's `/order-plz`) is answered as Let's Encrypt does when a limit is hit (RFC 8555 §6.7
 * `urn:ietf:params:acme:error:rateLimited`, HTTP 429 with Retry-After, RFC 8555 §6.6);
 * everything else is passed through unchanged, Host header included, so the URLs Pebble builds
 * from it still name the proxy.
 */
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:https';

const [address, port, upstream, certFile, keyFile, faultFile] = process.argv.slice(2);
if (!faultFile) {
  process.stderr.write('usage: rollover-acme-proxy ADDR PORT UPSTREAM CERT KEY FAULT_FILE\n');
  process.exit(64);
}

const fault = (): string => {
  try {
    return readFileSync(faultFile, 'utf8').trim();
  } catch {
    return '';
  }
};

const server = createServer(
  { cert: readFileSync(certFile!), key: readFileSync(keyFile!) },
  (req, res) => {
    const f = /^rate-limit (\d+)$/.exec(fault());
    if (f && req.method === 'POST' && req.url === '/order-plz') {
      req.resume();
      res.writeHead(429, {
        'content-type': 'application/problem+json',
        'retry-after': f[1],
      });
      res.end(
        JSON.stringify({
          type: 'urn:ietf:params:acme:error:rateLimited',
          detail: 'too many new orders recently (lab proxy)',
          status: 429,
        }),
      );
      process.stdout.write(`rate-limited ${req.url}\n`);
      return;
    }
    const up = request(
      {
        host: upstream,
        port: Number(port),
        method: req.method,
        path: req.url,
        headers: req.headers,
        servername: req.headers.host?.replace(/:\d+$/, ''),
        // the lab's own Pebble behind the lab's own CA; the client checks the proxy's certificate
        rejectUnauthorized: false,
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`lab proxy: ${e.message}`);
    });
    req.pipe(up);
  },
);
server.listen(Number(port), address, () => process.stdout.write(`listening ${address}:${port}\n`));
