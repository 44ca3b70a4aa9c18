/**
 * One judgement per distinct (presented chain, TLSA RRset, reference names) in a bulk run.
 * Hosting providers put thousands of domains on a few MX hosts: the probe pool hands the same
 * chain and the DNS cache the same RRset to every domain of a host, and judging them again
 * for each domain (verifyDane, the in-use records, the chain's report entries) was about 8 %
 * of a bulk check's CPU (bench/check-bulk.ts, profiled).
 *
 * The key holds everything the verdict depends on, so a domain gets exactly what judging on its
 * own would give:
 *   - the certificates, by identity (sharedCertReader gives equal bytes one Cert object), in
 *     presented order (RFC 7671 §5.2.2: DANE-TA looks at the chain as sent);
 *   - the TLSA records, by content, in the order they came (the verifier reports in that order);
 *   - the reference identifiers, in order, whenever the RRset holds a record other than
 *     DANE-EE(3): RFC 7672 §3.2.2/§3.2.3 make a DANE-TA match depend on the leaf naming the MX
 *     host, the TLSA base domain or the next-hop domain, and the next-hop domain is each
 *     domain's own (one MX host's chain can pass for one domain and fail for another). An RRset
 *     of DANE-EE(3) records alone is judged without names (RFC 7672 §3.1.1: no name checks
 *     with DANE-EE), so the thousands of domains of one host share one judgement;
 *   - the mode, and the PKIX trust store by identity (usages 0/1 outside SMTP);
 *   - the time, through the only thing it decides: on which side of each certificate's
 *     notBefore and notAfter it falls (RFC 5280 §4.1.2.5; DANE-EE ignores the dates but its
 *     reasons mention them). A judgement made at t0 is reused at t1 only when no certificate's
 *     validity starts or ends between them.
 */
import type { Cert } from '../core/x509/index.js';
import type { DaneInput } from '../core/dane/index.js';
import { formatRdata } from '../core/tlsa/index.js';
import type { ChainJudgement } from './check.js';

export interface JudgeMemoStats {
  /** judgements asked for */
  asked: number;
  /** made afresh */
  made: number;
}

/** Per certificate: is `t` before its notBefore, after its notAfter (RFC 5280 §4.1.2.5). */
function sidesAt(certs: readonly Cert[], t: number): boolean[][] {
  return certs.map((c) => [t < c.notBefore.getTime(), t > c.notAfter.getTime()]);
}

/**
 * Wraps `judge` (check.ts's judgeChain). The judgement handed out is shared by every domain
 * with the same input: callers read it, never change it. At most `maxKept` are kept; then the
 * memo starts afresh (a run sees few distinct chains; this only bounds a pathological list).
 */
export function judgeMemo(
  judge: (input: DaneInput) => ChainJudgement,
  maxKept = 10_000,
): { judge: (input: DaneInput) => ChainJudgement; readonly stats: JudgeMemoStats } {
  const ids = new WeakMap<object, number>();
  let nextId = 1;
  const id = (o: object) => {
    let n = ids.get(o);
    if (n === undefined) {
      n = nextId++;
      ids.set(o, n);
    }
    return n;
  };
  /** the records' text, by the RRset array the DNS cache hands every asker */
  const recordText = new WeakMap<object, { eeOnly: boolean; text: string[] }>();
  const kept = new Map<string, ChainJudgement>();
  const stats: JudgeMemoStats = { asked: 0, made: 0 };
  return {
    stats,
    judge(input) {
      stats.asked++;
      let recs = recordText.get(input.records);
      if (recs === undefined) {
        // whether names are part of the key (see the module comment)
        recs = {
          eeOnly: input.records.every((r) => r.usage === 3),
          text: input.records.map(formatRdata),
        };
        recordText.set(input.records, recs);
      }
      const store = input.trustStore ?? [];
      // one JSON text: no field can run into the next, whatever the names or records hold
      const key = JSON.stringify([
        input.chain.map(id),
        recs.text,
        recs.eeOnly ? null : input.names,
        input.mode,
        input.trustStore ? id(input.trustStore) : 0,
        sidesAt([...input.chain, ...store], input.time.getTime()),
      ]);
      const k = kept.get(key);
      if (k) return k;
      stats.made++;
      const judgement = judge(input);
      if (kept.size >= maxKept) kept.clear();
      kept.set(key, judgement);
      return judgement;
    },
  };
}
