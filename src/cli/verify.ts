/**
 * `danekeeper verify`: the offline DANE verifier (core/dane) on a chain file and TLSA records
 * given on the command line. No network.
 *
 * - `--chain FILE` is the chain exactly as the server presents it: its first certificate is the
 *   leaf (RFC 8446 §4.4.2: the sender's certificate MUST come first) and it is never reordered,
 *   so a file that starts with a CA certificate fails as that server would. The certificates
 *   after the leaf may come in any order and may include extras: clients build the issuer path
 *   from whatever was sent (RFC 8446 §4.4.2 "SHOULD be prepared to handle ... arbitrary
 *   orderings"), and so does the verifier.
 * - Exit statuses (monitoring-plugin convention, DESIGN.md): 0 verified; 1 WARNING for
 *   `unusable` — every record is unusable, so a DANE client still insists on TLS but cannot
 *   authenticate the server (RFC 7672 §2.2): mail flows encrypted, unauthenticated; 2 CRITICAL
 *   for `failed` — a DANE client refuses to deliver. 3 UNKNOWN is never returned: offline,
 *   nothing is left undecided. `no-dane` cannot happen (at least one --tlsa is required) and
 *   would be 1. Errors: 64 usage, 65 malformed input (chain, trust store, TLSA text), 66
 *   unreadable file.
 */
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { DkError } from '../core/errors.js';
import {
  isReferenceName,
  normalizeName,
  shortRdata,
  verifyDane,
  type DaneResult,
  type DaneVerdict,
} from '../core/dane/index.js';
import { formatRdata, parseTlsaRr, type TlsaRecord } from '../core/tlsa/index.js';
import { parseCertificates, type Cert } from '../core/x509/index.js';
import { EXIT } from './exit.js';
import { readInput } from './files.js';
import type { Io } from './io.js';
import { collect } from './options.js';

interface VerifyOpts {
  chain?: string;
  tlsa: string[];
  name: string[];
  trustStore?: string;
  time?: string;
  smtp?: boolean;
  json?: boolean;
}

export const VERDICT_EXIT: Record<DaneVerdict, number> = {
  verified: EXIT.ok,
  unusable: EXIT.warning,
  'no-dane': EXIT.warning,
  failed: EXIT.critical,
};

const usage = (message: string) => new DkError('usage', 'E_OPTION', message);

/**
 * `--time`: UNIX seconds, or ISO 8601 `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]`. A date-time
 * without an offset is taken as UTC, so the same command gives the same answer on every machine.
 */
export function parseTime(text: string): Date {
  if (/^[0-9]{1,12}$/.test(text)) return new Date(Number(text) * 1000);
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(
      text,
    );
  const bad = () =>
    usage(
      `--time "${text}" is neither UNIX seconds nor an ISO 8601 date like 2026-05-01T12:00:00Z`,
    );
  if (!m) throw bad();
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const tz = m[8];
  let t = Date.UTC(y, mo - 1, d, h, mi, s, Number(`0.${m[7] ?? 0}`) * 1000);
  // Date.UTC rolls 2026-02-30 over into March: refuse what does not come back unchanged.
  const check = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (
    check.getUTCFullYear() !== y ||
    check.getUTCMonth() !== mo - 1 ||
    check.getUTCDate() !== d ||
    check.getUTCHours() !== h ||
    check.getUTCMinutes() !== mi ||
    check.getUTCSeconds() !== s
  ) {
    throw bad();
  }
  if (tz && tz.toUpperCase() !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const offH = Number(digits.slice(0, 2));
    const offM = Number(digits.slice(2));
    if (offH > 23 || offM > 59) throw bad();
    t -= sign * (offH * 60 + offM) * 60_000;
  }
  return new Date(t);
}

function parseRecord(text: string): TlsaRecord {
  try {
    return parseTlsaRr(text).record;
  } catch (e) {
    if (e instanceof DkError) {
      throw new DkError(e.kind, e.code, `--tlsa "${text}": ${e.message}`, {
        offset: e.offset,
        cause: e,
      });
    }
    throw e;
  }
}

function loadCerts(path: string): Cert[] {
  return parseCertificates(readInput(path), path);
}

const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');

export function resultToJson(
  r: DaneResult,
  ctx: { mode: string; time: Date; names: string[]; chain: Cert[] },
) {
  return {
    verdict: r.verdict,
    matched: r.matched ? { record: formatRdata(r.matched.record), depth: r.matched.depth } : null,
    reasons: r.reasons,
    records: r.records.map((x) => ({
      record: formatRdata(x.record),
      usable: x.usable,
      matched: x.matched,
      depth: x.depth,
      reason: x.reason,
    })),
    mode: ctx.mode,
    time: iso(ctx.time),
    names: ctx.names,
    chain: ctx.chain.map((c, position) => ({
      position,
      subject: c.subject,
      issuer: c.issuer,
      notBefore: iso(c.notBefore),
      notAfter: iso(c.notAfter),
      spkiSha256: createHash('sha256').update(c.spki).digest('hex'),
    })),
  };
}

function humanLines(r: DaneResult): string[] {
  const lines: string[] = [];
  if (r.verdict === 'verified' && r.matched) {
    lines.push(`verified: ${shortRdata(r.matched.record)} matched at depth ${r.matched.depth}`);
  } else if (r.verdict === 'failed') {
    const usable = r.records.filter((x) => x.usable).length;
    lines.push(
      `failed: none of the ${usable} usable TLSA record${usable === 1 ? '' : 's'} authenticates this chain`,
    );
  } else {
    lines.push(`${r.verdict}: ${r.reasons[0] ?? ''}`);
  }
  for (const x of r.records) {
    const status = !x.usable ? 'unusable' : x.matched ? 'matched' : 'failed';
    lines.push(`  ${status.padEnd(8)} ${shortRdata(x.record)}: ${x.reason}`);
  }
  // Reasons that belong to no single record (e.g. the chain starts with a CA certificate).
  const prefixes = r.records.map((x) => shortRdata(x.record));
  for (const reason of r.reasons) {
    if (r.verdict === 'failed' && !prefixes.some((p) => reason.startsWith(p))) {
      lines.push(`  note: ${reason}`);
    }
  }
  return lines;
}

export async function runVerify(o: VerifyOpts, io: Io, now: () => Date): Promise<number> {
  if (!o.chain) throw usage('verify needs --chain FILE: the certificates the server presents');
  if (o.tlsa.length === 0) throw usage('verify needs at least one --tlsa "U S M HEX"');
  if (o.name.length === 0) {
    throw usage('verify needs at least one --name: the host name(s) the certificate must match');
  }
  for (const n of o.name) {
    if (!isReferenceName(n)) {
      throw usage(
        `--name "${n}" is not a host name (or .domain for any subdomain, as in Postfix's match=)`,
      );
    }
  }
  if (o.smtp && o.trustStore !== undefined) {
    throw usage(
      '--trust-store has no effect with --smtp: PKIX-TA/PKIX-EE are unusable for SMTP (RFC 7672 §3.1.3)',
    );
  }
  const time = o.time === undefined ? now() : parseTime(o.time);
  const records = o.tlsa.map(parseRecord);
  const chain = loadCerts(o.chain);
  const trustStore = o.trustStore === undefined ? undefined : loadCerts(o.trustStore);
  const names = [...new Set(o.name.map(normalizeName))];
  const mode = o.smtp ? 'smtp' : 'generic';

  const result = verifyDane({ records, chain, names, time, mode, trustStore });
  if (o.json) {
    io.out(JSON.stringify(resultToJson(result, { mode, time, names, chain }), null, 2));
  } else {
    for (const l of humanLines(result)) io.out(l);
  }
  return VERDICT_EXIT[result.verdict];
}

export function registerVerify(
  program: Command,
  io: Io,
  setExit: (p: Promise<number>) => void,
): void {
  program
    .command('verify')
    .description(
      'Check offline whether a presented chain matches TLSA records, as a DANE client would',
    )
    .option('--chain <file>', 'the chain as the server presents it, leaf first (PEM or DER)')
    .option(
      '--tlsa <record>',
      '"U S M HEX" (numbers or RFC 7218 names) or a whole TLSA RR line; repeatable',
      collect,
      [],
    )
    .option(
      '--name <name>',
      'reference identifier: MX host, TLSA base domain, ...; .example.com = any subdomain of example.com (Postfix match=); repeatable',
      collect,
      [],
    )
    .option('--trust-store <file>', 'PKIX roots for usages 0 and 1 (not with --smtp)')
    .option(
      '--time <t>',
      'check validity dates at this time: ISO 8601 or UNIX seconds (default now)',
    )
    .option('--smtp', 'RFC 7672 rules: only DANE-TA(2) and DANE-EE(3) are usable')
    .option('--json', 'machine-readable output')
    .action((opts: VerifyOpts) => setExit(runVerify(opts, io, () => new Date())));
}
