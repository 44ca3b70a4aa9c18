/**
 * A webhook receiver for the monitor lab test, run inside the lab namespace (the test process
 * cannot reach the namespace's addresses): appends one JSON line per request, `{"headers",
 * "body"}` with the raw body as received, to OUTFILE, and answers 200. The test verifies the
 * HMAC itself from the file, as a real receiver would.
 *
 *   ip netns exec NS node --import tsx test/lab/webhook-listener.ts ADDRESS PORT OUTFILE
 */
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [address, port, out] = process.argv.slice(2);
if (!address || !port || !out) {
  process.stderr.write('usage: webhook-listener.ts ADDRESS PORT OUTFILE\n');
  process.exit(64);
}
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    appendFileSync(out, JSON.stringify({ url: req.url, headers: req.headers, body }) + '\n');
    res.statusCode = 200;
    res.end('ok\n');
  });
}).listen(Number(port), address, () => process.stdout.write(`listening ${address}:${port}\n`));
