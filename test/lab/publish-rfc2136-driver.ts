/**
 * Runs inside the lab namespace (callInNetns): the rfc2136 publisher, and the tlsa-set policy
 * above it, as the CLI uses them — the TSIG key read from a BIND key file as `--tsig-key FILE`
 * does, the ownership store in a SQLite file that outlives each call. Records cross as
 * `U S M HEX` strings.
 */
import { readFileSync } from 'node:fs';
import { parseTlsa } from '../../src/core/tlsa/parse.js';
import { decodeMessage } from '../../src/io/dns/wire.js';
import { tcpMessage } from '../../src/publish/rfc2136/exchange.js';
import { createRfc2136Publisher, parseTsigKeyFile } from '../../src/publish/rfc2136/index.js';
import { encodeMessage, rcodeName } from '../../src/publish/rfc2136/message.js';
import { buildUpdate } from '../../src/publish/rfc2136/publisher.js';
import { tsigSign, tsigVerify } from '../../src/publish/rfc2136/tsig.js';
import type { Publisher } from '../../src/publish/types.js';
import { applyVia, readVia, recs, setOpVia, type ChangeText } from './publish-driver.js';

export interface DriverOpts {
  zone: string;
  host: string;
  port?: number;
  /** a BIND key file; omitted: unsigned */
  keyFile?: string;
  timeoutMs?: number;
}

export function publisher(o: DriverOpts): Publisher {
  return createRfc2136Publisher({
    zone: o.zone,
    server: { host: o.host, port: o.port ?? 53 },
    key: o.keyFile ? parseTsigKeyFile(readFileSync(o.keyFile, 'utf8'), o.keyFile) : null,
    timeoutMs: o.timeoutMs ?? 3_000,
  });
}

export function read(o: DriverOpts, owner: string) {
  return readVia(publisher(o), owner);
}

export function defaultTtl(o: DriverOpts): Promise<number> {
  return publisher(o).defaultTtl();
}

export function apply(o: DriverOpts, c: ChangeText): Promise<null> {
  return applyVia(publisher(o), c);
}

export function setOp(
  o: DriverOpts,
  storeFile: string,
  op: 'add' | 'remove' | 'replace',
  owner: string,
  records: string[],
  ttl?: number,
) {
  return setOpVia(publisher(o), storeFile, op, owner, records, ttl);
}

/**
 * The benchmark's inner loop: `n` owners, one guarded UPDATE each (as `dns add-tlsa` does: the
 * change is known, so no read first), one after the other; then the same owners removed.
 * Returns wall times in ms.
 */
export async function bench(
  o: DriverOpts,
  owners: string[],
  record: string,
  ttl: number,
): Promise<{ addMs: number; removeMs: number }> {
  const p = publisher(o);
  const r = parseTlsa(record);
  const t0 = performance.now();
  for (const owner of owners) await p.apply({ owner, expected: [], add: [r], remove: [], ttl });
  const t1 = performance.now();
  for (const owner of owners) await p.apply({ owner, expected: [r], add: [], remove: [r], ttl });
  const t2 = performance.now();
  return { addMs: t1 - t0, removeMs: t2 - t1 };
}

/**
 * One UPDATE sent by hand, for the record of how a server answers: its RCODE and what the TSIG
 * RR of the answer is (verified, an unsigned error, none, bad) with its error field.
 */
export async function rawUpdate(
  o: DriverOpts,
  c: { owner: string; expected: string[]; add: string[]; remove: string[]; ttl: number },
): Promise<{ rcode: string; tsig: string; tsigError: string }> {
  const key = o.keyFile ? parseTsigKeyFile(readFileSync(o.keyFile, 'utf8'), o.keyFile) : null;
  const spec = buildUpdate(
    o.zone,
    { ...c, expected: recs(c.expected), add: recs(c.add), remove: recs(c.remove) },
    4242,
  );
  const plain = encodeMessage(spec);
  const now = Date.now() / 1000;
  const signed = key ? tsigSign(plain, key, { now }) : null;
  const raw = await tcpMessage(o.host, o.port ?? 53, signed?.wire ?? plain, 3_000);
  const m = decodeMessage(raw);
  const v = key && signed ? tsigVerify(raw, key, { now, requestMac: signed.mac }) : null;
  const fields = v && v.kind !== 'none' ? v.fields : undefined;
  return {
    rcode: rcodeName(m.rcode),
    tsig: v?.kind ?? 'no key',
    tsigError: fields ? rcodeName(fields.error) : '-',
  };
}
