/**
 * The DANE verifier: TLSA records + the chain a server presented + reference names + a time ->
 * a verdict with a reason per record, the way a DANE client decides (RFC 6698 §2.1.1 as updated
 * by RFC 7671 §5, and RFC 7672 §3 for SMTP). Pure: no clock, no I/O; `time` is an argument.
 *
 * Where the RFCs leave a choice, this follows OpenSSL's DANE code, which Postfix uses, so that a
 * verdict here agrees with `posttls-finger` and a sending Postfix (DESIGN.md: disagreement with
 * them is a bug). Depths are reported as OpenSSL reports them:
 *
 * - the depth of a certificate is its position in the validated path from the leaf (0) up;
 *   for a chain sent in order that is its position in what the server presented;
 * - a `2 0 0` trust anchor the server did not send sits one above the last certificate sent
 *   ("matched TA certificate at depth k+1");
 * - a `2 1 0` bare key that no presented certificate carries is reported at the depth of the
 *   certificate it signed ("signed the certificate at depth k").
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { matchData, selectData, usability, type DaneMode, type TlsaRecord } from '../tlsa/index.js';
import { certLabel, type Cert } from '../x509/index.js';
import { presentedIds } from './identity.js';
import { effectiveIds, isReferenceName, matchIds, normalizeName } from './names.js';

export type DaneVerdict = 'verified' | 'failed' | 'unusable' | 'no-dane';

export interface DaneInput {
  records: TlsaRecord[];
  /** the certificates exactly as the server presented them, leaf first */
  chain: Cert[];
  /** reference identifiers (RFC 6125 §1.8, RFC 7672 §3.2.3): MX host, TLSA base domain, ... */
  names: string[];
  /** the moment validity dates are checked against */
  time: Date;
  mode: DaneMode;
  /** PKIX trust anchors for PKIX-TA(0)/PKIX-EE(1) in generic mode */
  trustStore?: Cert[];
}

export interface RecordResult {
  record: TlsaRecord;
  usable: boolean;
  /** this record authenticated the server */
  matched: boolean;
  /** where the record matched (see the module comment), or null when it matched nothing */
  depth: number | null;
  reason: string;
}

export interface DaneResult {
  verdict: DaneVerdict;
  /** the record that authenticated the server: DANE-EE before DANE-TA before PKIX, then input order */
  matched: { record: TlsaRecord; depth: number } | null;
  /** one result per input record, in input order */
  records: RecordResult[];
  /** why the verdict is what it is, one line each */
  reasons: string[];
}

/** Longest issuer path followed; real chains have 2 to 4 certificates. */
const MAX_PATH = 10;

interface Outcome {
  matched: boolean;
  depth: number | null;
  reason: string;
}

/** A path check that found its anchor: either it holds, or `reason` says what is wrong. */
interface Anchored {
  ok: boolean;
  depth: number;
  reason: string;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

/** `3 1 1 abcd…` short enough for a reason line; full data stays in `record`. */
export function shortRdata(r: TlsaRecord): string {
  const hex = r.data.toString('hex');
  const data = hex.length <= 64 ? hex : `${hex.slice(0, 16)}…(${r.data.length} bytes)`;
  return `${r.usage} ${r.selector} ${r.mtype} ${data}`;
}

const USAGE_RANK: Record<number, number> = { 3: 0, 2: 1, 1: 2, 0: 3 };

/** Per-call memo: signature checks and digests are the cost, and records share them. */
class Context {
  readonly refs: string[];
  private readonly links = new Map<Cert, Map<Cert, boolean>>();
  private readonly digests = new Map<Cert, Map<number, Buffer>>();
  private readonly ids = new Map<Cert, ReturnType<typeof presentedIds>>();
  readonly trusted: Set<string>;

  constructor(readonly input: DaneInput) {
    this.refs = [...new Set(input.names.map(normalizeName).filter(isReferenceName))];
    this.trusted = new Set((input.trustStore ?? []).map((c) => c.der.toString('base64')));
  }

  /** RFC 5280 §6.1.3 (a)(1) and (4): names/key identifiers chain and the signature verifies. */
  issued(issuer: Cert, cert: Cert): boolean {
    let row = this.links.get(cert);
    if (!row) this.links.set(cert, (row = new Map()));
    let v = row.get(issuer);
    if (v === undefined) {
      v =
        !issuer.der.equals(cert.der) &&
        this.nameLinked(issuer, cert) &&
        verifies(cert, issuer.x509.publicKey);
      row.set(issuer, v);
    }
    return v;
  }

  /** X509_check_issued: subject/issuer names, AKID/SKID and keyCertSign agree; no signature. */
  nameLinked(issuer: Cert, cert: Cert): boolean {
    try {
      return cert.x509.checkIssued(issuer.x509);
    } catch {
      return false;
    }
  }

  matches(r: TlsaRecord, cert: Cert): boolean {
    const key = r.selector * 256 + r.mtype;
    let row = this.digests.get(cert);
    if (!row) this.digests.set(cert, (row = new Map()));
    let d = row.get(key);
    if (d === undefined) {
      try {
        d = matchData(selectData(cert, r.selector), r.mtype);
      } catch {
        d = Buffer.alloc(0);
      }
      row.set(key, d);
    }
    return d.length > 0 && d.equals(r.data);
  }

  presented(cert: Cert) {
    let v = this.ids.get(cert);
    if (!v) this.ids.set(cert, (v = presentedIds(cert)));
    return v;
  }

  isTrusted(cert: Cert): boolean {
    return this.trusted.has(cert.der.toString('base64'));
  }

  /**
   * The issuer OpenSSL 3.0 takes for the top of `path` from the certificates the server sent
   * (crypto/x509/x509_vfy.c build_chain/find_issuer): none above a self-signed certificate;
   * else, of those not yet on the path whose names and key identifiers say they issued it
   * (check_issued), the first valid at `time`, or if none is, the one with the latest notAfter.
   * The signature is not looked at here: a wrong one fails the chain later, it does not make
   * OpenSSL try the next candidate.
   */
  issuerOf(pool: Cert[], path: Cert[]): Cert | undefined {
    const last = path[path.length - 1]!;
    if (this.nameLinked(last, last)) return undefined;
    const t = this.input.time.getTime();
    let best: Cert | undefined;
    for (const c of pool) {
      if (path.some((p) => p.der.equals(c.der)) || !this.nameLinked(c, last)) continue;
      if (t >= c.notBefore.getTime() && t <= c.notAfter.getTime()) return c;
      if (!best || c.notAfter.getTime() > best.notAfter.getTime()) best = c;
    }
    return best;
  }

  /**
   * Depth-first over issuer links from the leaf through `pool`; with `firstIssuerOnly`, one
   * issuer per step as `issuerOf` picks it, no backtracking. `goal` looks at each path:
   * undefined = not anchored here, keep climbing; otherwise the path ends there. The first path
   * that holds wins; else the first anchored failure is kept to explain why.
   */
  search(
    pool: Cert[],
    goal: (path: Cert[]) => Anchored | undefined,
    firstIssuerOnly = false,
  ): { ok?: Anchored; failed?: Anchored } {
    const leaf = this.input.chain[0]!;
    let failed: Anchored | undefined;
    const walk = (path: Cert[]): Anchored | undefined => {
      const g = goal(path);
      if (g) {
        if (g.ok) return g;
        failed ??= g;
        return undefined;
      }
      if (path.length >= MAX_PATH) return undefined;
      const last = path[path.length - 1]!;
      if (firstIssuerOnly) {
        const next = this.issuerOf(pool, path);
        return next && this.issued(next, last) ? walk([...path, next]) : undefined;
      }
      for (const c of pool) {
        if (path.some((p) => p.der.equals(c.der))) continue;
        if (!this.issued(c, last)) continue;
        const found = walk([...path, c]);
        if (found) return found;
      }
      return undefined;
    };
    const ok = walk([leaf]);
    return ok ? { ok } : { failed };
  }

  /** `search` choosing issuers as OpenSSL does (`issuerOf`), for DANE-TA(2). */
  searchFirst(
    pool: Cert[],
    goal: (path: Cert[]) => Anchored | undefined,
  ): { ok?: Anchored; failed?: Anchored } {
    return this.search(pool, goal, true);
  }

  /**
   * What is wrong with a path below its anchor: dates of every certificate in `dated`
   * (RFC 5280 §6.1.3 (a)(2)), intermediates that are not CAs (RFC 5280 §6.1.4 (k)), and the
   * leaf's name (RFC 6125 §6.4, RFC 7672 §3.2.3). Empty when it holds.
   */
  problems(path: Cert[], dated: Cert[], intermediates: Cert[]): string[] {
    const out: string[] = [];
    const leaf = path[0]!;
    const name = this.nameProblem(leaf);
    if (name) out.push(name);
    const t = this.input.time.getTime();
    dated.forEach((c, depth) => {
      if (c.notAfter.getTime() < c.notBefore.getTime()) {
        // RFC 5280 §4.1.2.5: the validity period is the interval between the two; reversed, it
        // is empty and no time is inside it.
        out.push(
          `certificate at depth ${depth} (${certLabel(c)}) is never valid: notAfter ${iso(c.notAfter)} is before notBefore ${iso(c.notBefore)}`,
        );
      } else if (t < c.notBefore.getTime()) {
        out.push(
          `certificate at depth ${depth} (${certLabel(c)}) is not valid before ${iso(c.notBefore)}`,
        );
      } else if (t > c.notAfter.getTime()) {
        out.push(`certificate at depth ${depth} (${certLabel(c)}) expired on ${iso(c.notAfter)}`);
      }
    });
    for (const c of intermediates) {
      if (!c.isCA) {
        out.push(
          `certificate at depth ${path.indexOf(c)} (${certLabel(c)}) is not a CA certificate, yet issued the one below it`,
        );
      }
    }
    return out;
  }

  nameProblem(leaf: Cert): string | undefined {
    if (this.refs.length === 0) return 'no reference name was given to check the leaf against';
    const ids = this.presented(leaf);
    if (matchIds(ids, this.refs)) return undefined;
    const eff = effectiveIds(ids);
    const refs = this.refs.join(', ');
    if (eff.names.length === 0) return `the leaf has no DNS name or CN to match any of ${refs}`;
    const s = eff.names.length > 1 ? 's' : '';
    const list = eff.names.map((n) => `${eff.kind}:${n}`).join(', ');
    return `the leaf's name${s} ${list} ${s ? 'do' : 'does'} not match any of ${refs}`;
  }

  matchedName(leaf: Cert): string {
    const m = matchIds(this.presented(leaf), this.refs);
    return m
      ? `the name ${m.reference}${m.presented === m.reference ? '' : ` (as ${m.presented})`}`
      : 'the name';
  }

  /**
   * Why no issuer path reaches a certificate: follow the issuers `issuerOf` picks up from the
   * leaf and name the first place it breaks — a signature that does not verify where the names
   * chain, or a missing issuer.
   */
  whyNoPath(pool: Cert[]): string {
    let cur = this.input.chain[0]!;
    const seen: Cert[] = [cur];
    for (let depth = 0; depth < MAX_PATH; depth++) {
      // the issuer DANE-TA(2) takes (`issuerOf`), so the reason names where that path breaks
      const named = this.issuerOf(pool, seen);
      if (named && this.issued(named, cur)) {
        seen.push((cur = named));
        continue;
      }
      if (named) {
        return `chain signature invalid at depth ${depth}: the signature on ${certLabel(cur)} does not verify with the key of ${certLabel(named)}`;
      }
      return cur.selfIssued
        ? `the path from the leaf ends at the self-signed ${certLabel(cur)} (depth ${depth})`
        : `the server sent no issuer of ${certLabel(cur)} (depth ${depth})`;
    }
    return 'the issuer path is too long';
  }
}

function verifies(cert: Cert, key: KeyObject): boolean {
  try {
    return cert.x509.verify(key);
  } catch {
    // An algorithm OpenSSL cannot verify proves nothing: no link.
    return false;
  }
}

function noMatch(r: TlsaRecord, ctx: Context, what: string): Outcome {
  const chain = ctx.input.chain;
  const noun = r.mtype === 0 ? 'data' : 'digest';
  const at = chain.findIndex((c) => ctx.matches(r, c));
  if (at >= 0) {
    return {
      matched: false,
      depth: null,
      reason: `${noun} matches the certificate at position ${at} of the chain (${certLabel(chain[at]!)}), but ${what}`,
    };
  }
  return { matched: false, depth: null, reason: `${noun} matches no certificate in the chain` };
}

/** RFC 7671 §5.1: DANE-EE(3) matches the leaf only; no name, date or chain checks. */
function daneEe(r: TlsaRecord, ctx: Context): Outcome {
  const leaf = ctx.input.chain[0]!;
  if (!ctx.matches(r, leaf)) {
    return noMatch(
      r,
      ctx,
      "DANE-EE(3) matches only the server's own certificate, which comes first (RFC 7671 §5.1)",
    );
  }
  const what = r.selector === 1 ? 'public key (SPKI)' : 'certificate';
  const t = ctx.input.time.getTime();
  let note = '';
  if (leaf.notAfter.getTime() < leaf.notBefore.getTime())
    note = `; its notAfter ${iso(leaf.notAfter)} is before its notBefore ${iso(leaf.notBefore)}, which DANE-EE ignores`;
  else if (t > leaf.notAfter.getTime())
    note = `; it expired on ${iso(leaf.notAfter)}, which DANE-EE ignores`;
  else if (t < leaf.notBefore.getTime())
    note = `; it is not valid before ${iso(leaf.notBefore)}, which DANE-EE ignores`;
  return {
    matched: true,
    depth: 0,
    reason: `matches the leaf's ${what} at depth 0 (${certLabel(leaf)}); DANE-EE(3) checks no names or dates (RFC 7671 §5.1)${note}`,
  };
}

/** The key a `2 x 0` record carries, for checking a signature when its certificate was not sent. */
function recordAnchor(r: TlsaRecord): { key: KeyObject; cert?: X509Certificate } | undefined {
  if (r.mtype !== 0) return undefined;
  try {
    if (r.selector === 1)
      return { key: createPublicKey({ key: r.data, format: 'der', type: 'spki' }) };
    const cert = new X509Certificate(r.data);
    return { key: cert.publicKey, cert };
  } catch {
    return undefined;
  }
}

/**
 * DANE-TA(2), RFC 7671 §5.2: a trust anchor the record names, a valid issuer path from the leaf
 * up to it, the leaf's name, and the dates of every certificate below the anchor (not the
 * anchor's own: RFC 7671 §5.2 makes it a bare key in certificate clothes, and OpenSSL and
 * Postfix do not check them either).
 */
function daneTa(r: TlsaRecord, ctx: Context): Outcome {
  const chain = ctx.input.chain;
  const pool = chain.slice(1);
  const anchor = recordAnchor(r);
  // RFC 7671 §5.2.2: a full certificate in DNS lets the server leave it out. When it did send
  // it, it is matched in the chain like any other (OpenSSL adds DNS certificates to the chain).
  const certSent = anchor?.cert !== undefined && chain.some((c) => c.der.equals(r.data));
  const keyAnchor = certSent ? undefined : anchor;

  // Certificates the server sent first: OpenSSL checks each one it adds to the chain, and tries
  // out-of-DNS anchors only on the top of the chain it could build (check_dane_pkeys).
  // RFC 7671 §5.2 leaves open how the client builds the path to the anchor; OpenSSL (so Postfix)
  // takes one issuer per step and never backtracks to another candidate (`issuerOf`): verifying
  // where they fail would tell an operator that a chain Postfix rejects is fine.
  const inChain = ctx.searchFirst(pool, (path) => {
    const last = path[path.length - 1]!;
    const d = path.length - 1;
    // The anchor is above the leaf: a DANE-TA digest of the leaf itself does not make it its own
    // trust anchor (OpenSSL only tries trust-anchor usages at depth >= 1).
    if (d >= 1 && ctx.matches(r, last)) {
      const p = ctx.problems(path, path.slice(0, -1), path.slice(1, -1));
      return p.length === 0
        ? {
            ok: true,
            depth: d,
            reason: `matches the trust anchor at depth ${d} (${certLabel(last)}); the chain, the dates below it and ${ctx.matchedName(path[0]!)} check out (RFC 7671 §5.2)`,
          }
        : {
            ok: false,
            depth: d,
            reason: `matches the trust anchor at depth ${d} (${certLabel(last)}), but ${p.join('; ')}`,
          };
    }
    return undefined;
  });
  const byKey =
    inChain.ok || !keyAnchor
      ? {}
      : ctx.searchFirst(pool, (path) => {
          const last = path[path.length - 1]!;
          const d = path.length - 1;
          if (
            (!keyAnchor.cert || last.x509.checkIssued(keyAnchor.cert)) &&
            verifies(last, keyAnchor.key)
          ) {
            const p = ctx.problems(path, path, path.slice(1));
            // RFC 7671 §5.2.2 (full certificate) and §5.2.3 (bare public key) out of DNS.
            const [depth, what] = keyAnchor.cert
              ? [
                  d + 1,
                  `the trust anchor certificate in the record (not sent by the server) issued the certificate at depth ${d}; it counts at depth ${d + 1} (RFC 7671 §5.2.2)`,
                ]
              : [
                  d,
                  `the trust anchor key in the record signed the certificate at depth ${d} (${certLabel(last)}) (RFC 7671 §5.2.3)`,
                ];
            return p.length === 0
              ? {
                  ok: true,
                  depth,
                  reason: `${what}; the chain, the dates and ${ctx.matchedName(path[0]!)} check out`,
                }
              : { ok: false, depth, reason: `${what}, but ${p.join('; ')}` };
          }
          return undefined;
        });
  const found = { ok: inChain.ok ?? byKey.ok, failed: inChain.failed ?? byKey.failed };
  if (found.ok) return { matched: true, depth: found.ok.depth, reason: found.ok.reason };
  if (found.failed)
    return { matched: false, depth: found.failed.depth, reason: found.failed.reason };

  const noun = r.mtype === 0 ? 'data' : 'digest';
  const at = chain.findIndex((c, i) => i > 0 && ctx.matches(r, c));
  if (at > 0) {
    return {
      matched: false,
      depth: null,
      reason: `${noun} matches the certificate at position ${at} of the chain (${certLabel(chain[at]!)}), but no valid issuer path leads from the leaf to it: ${ctx.whyNoPath(pool)}`,
    };
  }
  if (ctx.matches(r, chain[0]!)) {
    return {
      matched: false,
      depth: null,
      reason: `${noun} matches the leaf itself; a DANE-TA(2) record names an issuer above the leaf (RFC 6698 §2.1.1), so publish a DANE-EE(3) record for the leaf instead`,
    };
  }
  if (keyAnchor) {
    return {
      matched: false,
      depth: null,
      reason: `the trust anchor ${keyAnchor.cert ? 'certificate' : 'key'} in the record signed no certificate on the path from the leaf: ${ctx.whyNoPath(pool)}`,
    };
  }
  const why = ctx.whyNoPath(pool);
  // RFC 7671 §5.2.2: with a digest, the client can only find the anchor if the server sends it.
  const hint = /sent no issuer/.test(why)
    ? `; ${why} — if that issuer is the trust anchor, the server must send it (RFC 7671 §5.2.2)`
    : '';
  return {
    matched: false,
    depth: null,
    reason: `${noun} matches no certificate in the chain${hint}`,
  };
}

/**
 * PKIX-TA(0) and PKIX-EE(1), RFC 6698 §2.1.1 / RFC 7671 §5.3, §5.4: ordinary PKIX validation to
 * a root in the trust store (every certificate's dates, the anchor's included, as OpenSSL does),
 * plus the TLSA match: the leaf for PKIX-EE, a CA certificate on the validated path for PKIX-TA.
 */
function pkix(r: TlsaRecord, ctx: Context): Outcome {
  const chain = ctx.input.chain;
  const store = ctx.input.trustStore ?? [];
  const pool = [...chain.slice(1), ...store];
  const ee = r.usage === 1;
  if (ee && !ctx.matches(r, chain[0]!)) {
    return noMatch(
      r,
      ctx,
      "PKIX-EE(1) matches only the server's own certificate (RFC 6698 §2.1.1)",
    );
  }
  if (!ee && !pool.some((c) => ctx.matches(r, c))) {
    const noun = r.mtype === 0 ? 'data' : 'digest';
    return {
      matched: false,
      depth: null,
      reason: `${noun} matches no CA certificate in the chain or the trust store`,
    };
  }
  const found = ctx.search(pool, (path) => {
    const last = path[path.length - 1]!;
    if (!ctx.isTrusted(last)) return undefined;
    const d = ee ? 0 : path.findIndex((c, i) => i > 0 && ctx.matches(r, c));
    if (d < 0) {
      return {
        ok: false,
        depth: path.length - 1,
        reason: `the path from the leaf to the trusted ${certLabel(last)} does not contain the certificate the record names`,
      };
    }
    // The trust store's own root is trusted by configuration: its CA flag is not re-judged.
    const p = ctx.problems(path, path, path.slice(1, -1));
    const what = ee
      ? `matches the leaf at depth 0 (${certLabel(path[0]!)}), which validates to the trusted ${certLabel(last)}`
      : `matches the CA certificate at depth ${d} (${certLabel(path[d]!)}) on the path to the trusted ${certLabel(last)}`;
    return p.length === 0
      ? {
          ok: true,
          depth: d,
          reason: `${what}; dates and ${ctx.matchedName(path[0]!)} check out (RFC 6698 §2.1.1)`,
        }
      : { ok: false, depth: d, reason: `${what}, but ${p.join('; ')}` };
  });
  if (found.ok) return { matched: true, depth: found.ok.depth, reason: found.ok.reason };
  if (found.failed)
    return { matched: false, depth: found.failed.depth, reason: found.failed.reason };
  return {
    matched: false,
    depth: null,
    reason: `no valid path leads from the leaf to a certificate in the trust store: ${ctx.whyNoPath(pool)}`,
  };
}

function evaluate(r: TlsaRecord, ctx: Context): Outcome {
  if (ctx.input.chain.length === 0) {
    return { matched: false, depth: null, reason: 'the server presented no certificate' };
  }
  switch (r.usage) {
    case 3:
      return daneEe(r, ctx);
    case 2:
      return daneTa(r, ctx);
    default:
      return pkix(r, ctx);
  }
}

/** RFC 6698 §4.1, RFC 7671 §4, RFC 7672 §3.1.3: which records this client can use at all. */
function unusableReasons(r: TlsaRecord, input: DaneInput): string[] {
  const reasons = usability(r, input.mode).reasons;
  if (reasons.length === 0 && r.usage < 2 && (input.trustStore ?? []).length === 0) {
    reasons.push(
      `${r.usage === 0 ? 'PKIX-TA(0)' : 'PKIX-EE(1)'} needs PKIX validation and no trust store was given`,
    );
  }
  return reasons;
}

export function verifyDane(input: DaneInput): DaneResult {
  const ctx = new Context(input);
  const records: RecordResult[] = input.records.map((record) => {
    const why = unusableReasons(record, input);
    if (why.length > 0) {
      return { record, usable: false, matched: false, depth: null, reason: why.join('; ') };
    }
    return { record, usable: true, ...evaluate(record, ctx) };
  });

  if (records.length === 0) {
    return {
      verdict: 'no-dane',
      matched: null,
      records,
      reasons: ['no TLSA records: DANE does not apply'],
    };
  }
  if (!records.some((x) => x.usable)) {
    return {
      verdict: 'unusable',
      matched: null,
      records,
      reasons: [
        input.mode === 'smtp'
          ? 'every TLSA record is unusable: TLS is still mandatory, but the server cannot be authenticated (RFC 7672 §2.2)'
          : 'every TLSA record is unusable: a client falls back to its ordinary certificate checks (RFC 6698 §4.1)',
      ],
    };
  }
  const hits = records
    .map((x, i) => ({ x, i }))
    .filter(({ x }) => x.matched)
    .sort((a, b) => USAGE_RANK[a.x.record.usage]! - USAGE_RANK[b.x.record.usage]! || a.i - b.i);
  const best = hits[0]?.x;
  if (best) {
    return {
      verdict: 'verified',
      matched: { record: best.record, depth: best.depth! },
      records,
      reasons: [`${shortRdata(best.record)} ${best.reason}`],
    };
  }
  const reasons = records
    .filter((x) => x.usable)
    .map((x) => `${shortRdata(x.record)}: ${x.reason}`);
  const first = input.chain[0];
  if (first?.isCA) {
    // RFC 8446 §4.4.2: the server's own certificate must come first; the rest may be in any order.
    reasons.push(
      `the first certificate presented (${certLabel(first)}) is a CA certificate: a server must present its own certificate first`,
    );
  }
  return { verdict: 'failed', matched: null, records, reasons };
}
