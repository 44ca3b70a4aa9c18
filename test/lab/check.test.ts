/**
 * `danekeeper check` against Postfix, the reference DANE client, on every lab scenario
 * (test/lab/scenarios.ts): one namespace with the signed DNS tree, a validating Unbound and a
 * receiving Postfix presenting a chain per MX address. For every scenario:
 *
 * - danekeeper's per-host verdict equals `posttls-finger -l dane`'s (test/lab/reference.ts maps
 *   its output to the verdict words) and what a sending Postfix with
 *   `smtp_tls_security_level = dane` did with a real message: delivered after a verified,
 *   or an unauthenticated-but-allowed session, or deferred;
 * - the domain verdict, the exit status and some of the report's details (chain SPKI digests
 *   against openssl's pipeline, the matched record and depth against Postfix's, the TLSA base
 *   domain and SNI, warnings).
 *
 * Where Postfix's tools and RFC 7672 look at different things, the test follows the RFC and
 * says so:
 * - posttls-finger with a domain talks to the first MX host that answers, first address only.
 *   Every other host is probed as `[host]` (and a dual-stack host once per family with `-a`).
 *   `[host]` makes the host its own next hop, so the next-hop domain is then no reference
 *   identifier (RFC 7672 §3.2.2): the first MX host is always judged through the domain.
 * - The sending Postfix delivers through any MX host that works (mixed, down): the domain
 *   verdict is the worst host's (an operator must hear of a broken MX host), so a domain is
 *   compared as "delivered iff some host is deliverable", and each host of a multi-MX domain
 *   gets a message of its own, pinned to it with a transport map (`smtp:[host]:25`).
 * - posttls-finger and Postfix fall back to `secure`/`encrypt` when there are no usable TLSA
 *   records: "Untrusted TLS connection" then means unusable or no-dane, told apart by their
 *   warnings ("unsupported TLSA certificate usage", "all TLSA records unusable").
 * - With an insecure MX RRset Postfix logs a DANE-verified session as "Trusted", not
 *   "Verified" (smtp_tls_dane_insecure_mx_policy = dane): RFC 7672 §2.2.1 still counts it.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { runCliAsync, type CliResult } from '../support/cli.js';
import { labAvailable } from './netns.js';
import {
  classifyDelivery,
  delivers,
  posttlsFinger,
  startSender,
  type Delivery,
  type FingerResult,
  type Sender,
} from './reference.js';
import {
  SCENARIOS,
  spkiSha256,
  startScenarioLab,
  worst,
  type LabHost,
  type Scenario,
  type ScenarioLab,
  type Verdict,
} from './scenarios.js';

const avail = labAvailable();

// --- the report as the JSON contract gives it (DESIGN.md, issue 3) ---------------------------

interface ChainJson {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  spkiSha256: string;
  match: string | null;
}
interface AddressJson {
  address: string;
  verdict: Verdict;
  status: string;
  tls?: { servername: string | null } | null;
  chain: ChainJson[];
  matched: { record: string; depth: number } | null;
  inUse: { record: string; depth: number }[];
  reasons: string[];
}
interface HostJson {
  name: string;
  verdict: Verdict;
  tlsaBase: string;
  tlsa: { owner: string; status: string; records: string[] } | null;
  addresses: AddressJson[];
}
interface ReportJson {
  domain: string;
  verdict: Verdict;
  hosts: HostJson[];
  delivery: {
    ok: boolean;
    via: string[];
    failingHosts: string[];
    preferredFails: boolean;
    summary: string;
  } | null;
  warnings: { severity: 'warning' | 'note'; code: string; subject?: string; message: string }[];
  dns: unknown[];
}

interface Observed {
  cli: CliResult;
  report: ReportJson;
}

/** DESIGN.md: 0 all verified without warnings, 1 warnings/unusable/no-dane, 2 failed, 3 unknown. */
function expectedExit(v: Verdict, warnings: number): number {
  if (v === 'failed' || v === 'dnssec-failure') return 2;
  if (v === 'unreachable' || v === 'indeterminate') return 3;
  if (v === 'unusable' || v === 'no-dane' || warnings > 0) return 1;
  return 0;
}

const family = (a: string) => (a.includes(':') ? 'ipv6' : 'ipv4');
const byPref = (s: Scenario) => [...s.hosts].sort((a, b) => a.pref - b.pref);

/** posttls-finger's TLSA record as printed (upper-case hex, long data cut to `head...tail`). */
function sameRecord(printed: string, rdata: string): boolean {
  const [p, full] = [printed.toLowerCase(), rdata.toLowerCase()];
  if (!p.includes('...')) return p === full;
  const [head, tail] = p.split('...') as [string, string];
  return full.startsWith(head) && full.endsWith(tail);
}

describe(
  'danekeeper check agrees with Postfix (posttls-finger, a DANE sending MTA) on every lab scenario',
  { skip: !avail.ok && avail.reason },
  () => {
    let lab: ScenarioLab;
    let sender: Sender;
    const observed = new Map<string, Observed>();
    /** `${id} ${host} ${ipv4|ipv6}` (or `${id} domain` for a bogus MX) */
    const fingers = new Map<string, FingerResult>();
    const deliveries = new Map<string, Delivery>();
    /** recipient per host (`${id} ${host}`) and per domain (`${id}`) */
    const recipients = new Map<string, string>();
    const timings: Record<string, number> = {};

    before(async () => {
      const t0 = Date.now();
      lab = await startScenarioLab();
      Object.assign(timings, lab.timings);

      // A single-host domain's own message is its host's; every host of a multi-MX domain
      // also gets a message pinned to it.
      const pins: Record<string, string> = {};
      for (const s of lab.scenarios) {
        recipients.set(s.id, `dk@${s.domain}`);
        if (s.hosts.length === 1) recipients.set(`${s.id} ${s.hosts[0]!.name}`, `dk@${s.domain}`);
        else
          s.hosts.forEach((h, i) => {
            const d = `pin-${s.id}-${i + 1}.lab.invalid`;
            pins[d] = h.name;
            recipients.set(`${s.id} ${h.name}`, `dk@${d}`);
          });
      }
      let t = Date.now();
      sender = await startSender(lab.ns, pins);
      const all = [...new Set(recipients.values())];
      await Promise.all(all.map((r) => sender.send(r)));
      timings.sender = Date.now() - t;

      t = Date.now();
      const fingerJobs: Promise<void>[] = [];
      const finger = (key: string, dest: string, fam?: 'ipv4' | 'ipv6') =>
        fingerJobs.push(
          posttlsFinger(lab.ns, dest, fam ? { family: fam } : {}).then((r) => {
            fingers.set(key, r);
          }),
        );
      for (const s of lab.scenarios) {
        if (s.mxBogus) {
          finger(`${s.id} domain`, s.domain);
          continue;
        }
        byPref(s).forEach((h, i) => {
          const fams = [...new Set(h.addresses.map(family))];
          for (const f of fams)
            finger(`${s.id} ${h.name} ${f}`, i === 0 ? s.domain : `[${h.name}]`, f);
        });
      }
      // a check is a Node process loading TypeScript: a few at a time keep a small CI machine
      // from starving them into their own network timeouts
      const checkOne = async (s: Scenario) => {
        const cli = await runCliAsync(['check', s.domain, '--resolver', lab.resolver, '--json'], {
          netns: lab.ns.name,
          timeoutMs: 60_000,
        });
        let report: ReportJson;
        try {
          report = JSON.parse(cli.stdout) as ReportJson;
        } catch {
          throw new Error(
            `check ${s.domain} printed no JSON (exit ${cli.code}): ${cli.stderr.trim()}`,
          );
        }
        observed.set(s.id, { cli, report });
      };
      const queue = [...lab.scenarios];
      const workers = Array.from({ length: Math.max(4, 2 * availableParallelism()) }, async () => {
        for (let s = queue.shift(); s; s = queue.shift()) await checkOne(s);
      });
      const [outcomes] = await Promise.all([
        sender.waitForOutcomes(all, 45_000).then((o) => ((timings.delivery = Date.now() - t), o)),
        Promise.all(fingerJobs).then(() => (timings.posttlsFinger = Date.now() - t)),
        Promise.all(workers).then(() => (timings.check = Date.now() - t)),
      ]);
      for (const [r, d] of outcomes) deliveries.set(r, d);
      timings.total = Date.now() - t0;
    });

    after(async () => {
      await sender?.stop();
      await lab?.stop();
    });

    const hostJson = (id: string, h: LabHost): HostJson => {
      const r = observed.get(id)!.report;
      const j = r.hosts.find((x) => x.name.replace(/\.$/, '') === h.name);
      assert.ok(
        j,
        `check ${r.domain} reports no host ${h.name}: ${r.hosts.map((x) => x.name).join(', ')}`,
      );
      return j;
    };

    for (const spec of SCENARIOS) {
      describe(`${spec.id}: ${spec.rule}`, () => {
        test('danekeeper meets the RFC 7672 expectation', () => {
          const s = lab.scenario(spec.id);
          const { report } = observed.get(s.id)!;
          assert.equal(report.verdict, s.expect, `domain verdict of ${s.domain}`);
          if (s.mxBogus) {
            // RFC 7672 §2.1.1: the MX RRset itself cannot be trusted: no host is probed
            assert.ok(report.hosts.every((h) => h.verdict === 'dnssec-failure'));
            return;
          }
          assert.deepEqual(
            report.hosts.map((h) => h.name.replace(/\.$/, '')),
            byPref(s).map((h) => h.name),
            'MX hosts in preference order',
          );
          for (const h of s.hosts)
            assert.equal(hostJson(s.id, h).verdict, h.expect, `host ${h.name}`);
        });

        test('per-host verdict equals posttls-finger', () => {
          const s = lab.scenario(spec.id);
          const { report } = observed.get(s.id)!;
          if (s.mxBogus) {
            const f = fingers.get(`${s.id} domain`)!;
            assert.equal(
              report.verdict,
              f.verdict,
              `posttls-finger ${s.domain}: ${f.why}\n${f.output}`,
            );
            return;
          }
          for (const h of byPref(s)) {
            const j = hostJson(s.id, h);
            const fs = [...new Set(h.addresses.map(family))].map((f) =>
              fingers.get(`${s.id} ${h.name} ${f}`)!,
            );
            for (const f of fs) {
              const show = `posttls-finger ${f.destination} -a ${f.family}: ${f.why}\n${f.output}`;
              // posttls-finger stops at the first MX host that answers: make sure it was this one
              if (f.peer)
                assert.ok(
                  f.peer.startsWith(`${h.name}[`),
                  `${show}\npeer ${f.peer}, not ${h.name}`,
                );
              // RFC 7672 §2.2: each address on its own; posttls-finger sees one per family
              const a = j.addresses.find((x) => family(x.address) === f.family);
              if (a) assert.equal(a.verdict, f.verdict, `${h.name} ${a.address}: ${show}`);
              if (f.matched) {
                assert.ok(
                  a?.matched,
                  `${h.name}: Postfix matched ${f.matched.record}, danekeeper nothing`,
                );
                assert.ok(
                  sameRecord(f.matched.record, a.matched.record),
                  `${a.matched.record} vs ${f.matched.record}`,
                );
                assert.equal(
                  a.matched.depth,
                  f.matched.depth,
                  `depth of the match at ${a.address}`,
                );
              }
            }
            assert.equal(
              j.verdict,
              worst(fs.map((f) => f.verdict)),
              `host ${h.name} (posttls-finger)`,
            );
          }
        });

        test('per-host verdict agrees with what a sending Postfix did', () => {
          const s = lab.scenario(spec.id);
          const { report } = observed.get(s.id)!;
          const dom = deliveries.get(recipients.get(s.id)!)!;
          const show = (d: Delivery) =>
            `${d.recipient}: ${d.status} via ${d.relay} (${d.reason}) TLS ${d.tls}; ${d.warnings.join(' | ')}`;
          // a DANE MTA delivers iff some MX host can take the mail (RFC 7672 §2.2)
          const deliverable = s.mxBogus ? false : report.hosts.some((h) => delivers(h.verdict));
          assert.equal(dom.status === 'sent', deliverable, show(dom));
          // the report's own delivery summary says what the sending Postfix did
          assert.equal(
            report.delivery?.ok,
            dom.status === 'sent',
            `${report.delivery?.summary}; ${show(dom)}`,
          );
          if (dom.status === 'sent')
            assert.ok(dom.relay.startsWith(`${report.delivery!.via[0]}[`), show(dom));
          if (s.mxBogus) {
            assert.equal(classifyDelivery(dom), report.verdict, show(dom));
            return;
          }
          for (const h of s.hosts) {
            const d = deliveries.get(recipients.get(`${s.id} ${h.name}`)!)!;
            assert.equal(hostJson(s.id, h).verdict, classifyDelivery(d), `${h.name}: ${show(d)}`);
          }
          // the domain's own message went to the first MX host that works
          if (dom.status === 'sent') {
            const first = byPref(s).find((h) => delivers(hostJson(s.id, h).verdict))!;
            assert.ok(dom.relay.startsWith(`${first.name}[`), show(dom));
          }
        });

        test('exit status, chain digests, TLSA base, SNI and matched records', () => {
          const s = lab.scenario(spec.id);
          const { cli, report } = observed.get(s.id)!;
          assert.equal(
            cli.code,
            expectedExit(
              report.verdict,
              report.warnings.filter((w) => w.severity === 'warning').length,
            ),
            cli.stderr,
          );
          assert.equal(cli.stderr.trim(), '', 'nothing on stderr with --json');
          if (s.mxBogus) return;
          for (const h of s.hosts) {
            const j = hostJson(s.id, h);
            const dane = ['verified', 'failed', 'unusable'].includes(h.expect);
            if (dane) {
              // RFC 7672 §2.2.3: TLSA base after CNAME expansion (or the original name)
              assert.equal(j.tlsaBase.replace(/\.$/, ''), h.tlsaBase);
              assert.ok(j.tlsa, `${h.name}: no TLSA in the report`);
              assert.equal(j.tlsa.owner.replace(/\.$/, ''), `_25._tcp.${h.tlsaBase}`);
              assert.equal(j.tlsa.status, 'secure');
              assert.deepEqual(
                [...j.tlsa.records].map((r) => r.toLowerCase()).sort(),
                h.tlsaRecords.map((r) => r.rdata.toLowerCase()).sort(),
              );
            }
            for (const a of j.addresses) {
              if (!['verified', 'failed', 'unusable', 'no-dane'].includes(a.verdict)) continue;
              // every certificate the server sent, in order, digested the seeds' way
              assert.deepEqual(
                a.chain.map((c) => c.spkiSha256.toLowerCase()),
                h.chainPems.map(spkiSha256),
                `${h.name} ${a.address}: chain SPKI SHA-256`,
              );
              if (h.cert?.issuer === 'bare') assert.equal(a.chain[0]!.subject, '');
              else
                assert.match(
                  a.chain[0]!.subject,
                  new RegExp(`CN=${(h.cert?.names?.[0] ?? h.name).replace(/\./g, '\\.')}`),
                );
              // RFC 7672 §8.1: SNI = the TLSA base domain
              if (dane && a.tls) assert.equal(a.tls.servername?.replace(/\.$/, ''), h.tlsaBase);
              if (a.verdict === 'verified') {
                assert.ok(a.matched, `${a.address}: verified without a matched record`);
                assert.ok(
                  h.tlsaRecords.some(
                    (r) => r.rdata.toLowerCase() === a.matched!.record.toLowerCase(),
                  ),
                  `${a.matched.record} is not one of the published records`,
                );
                assert.equal(a.chain[a.matched.depth]?.match ?? a.matched.record, a.matched.record);
              } else {
                assert.equal(a.matched, null, `${a.address}: ${a.verdict} with a matched record`);
              }
            }
          }
        });
      });
    }

    test('warnings name the rollover and hygiene problems', () => {
      const codes = (id: string) => observed.get(id)!.report.warnings.map((w) => w.code);
      // a single 3 1 1: nothing to roll over to
      assert.ok(codes('selfsigned').includes('no-rollover'), codes('selfsigned').join(','));
      // current + next key, the recommended set: a rollover partner, and the next key (matching
      // nothing yet) is a note, not a warning, so the domain is plain OK
      assert.ok(!codes('ok').includes('no-rollover'), codes('ok').join(','));
      assert.ok(!codes('ok').includes('unmatched-record'), codes('ok').join(','));
      assert.ok(codes('ok').includes('next-key'), codes('ok').join(','));
      assert.equal(observed.get('ok')!.cli.code, 0, 'the recommended set exits 0');
      // DANE-EE ignores dates, but other clients do not
      assert.ok(codes('expired').includes('expired'), codes('expired').join(','));
      // a lone DANE-TA record pins one intermediate
      assert.ok(codes('ta').includes('lone-ta'), codes('ta').join(','));
      // none usable in SMTP
      assert.ok(codes('pkix').includes('no-usable'), codes('pkix').join(','));
      // no TLSA, no DANE: nothing to say about records
      assert.deepEqual(codes('notlsa'), []);
      // the recommended 3 1 1 + 2 1 1 pair: the 2 1 1 of the intermediate sent is in use, not
      // stale, though the 3 1 1 decided the verdict (issue 8)
      assert.deepEqual(codes('pair'), []);
      assert.equal(observed.get('pair')!.cli.code, 0, 'the recommended pair exits 0');
      // a host that is down presents nothing: its records are not called stale on that account
      assert.ok(!codes('down').includes('unmatched-record'), codes('down').join(','));
      assert.ok(codes('down').includes('in-use-unknown'), codes('down').join(','));
      const pairAddr = observed.get('pair')!.report.hosts[0]!.addresses[0]!;
      assert.deepEqual(
        pairAddr.inUse
          .map((u) => [u.record.slice(0, 5), u.depth])
          .sort((a, b) => Number(a[1]) - Number(b[1])),
        [
          ['3 1 1', 0],
          ['2 1 1', 1],
        ],
      );
    });

    test('delivery: said plainly when mail still flows through another MX host (RFC 5321 §5.1)', () => {
      const d = (id: string) => observed.get(id)!.report.delivery!;
      const h = (id: string, n: string) => `mx${n}.${id}.secure.test`;
      // the backup fails DANE: senders deliver to the preferred host, the verdict stays FAILED
      assert.equal(observed.get('mixed')!.report.verdict, 'failed');
      assert.equal(observed.get('mixed')!.cli.code, 2);
      assert.deepEqual(
        [d('mixed').ok, d('mixed').via, d('mixed').failingHosts, d('mixed').preferredFails],
        [true, [h('mixed', '1')], [h('mixed', '2')], false],
      );
      assert.match(d('mixed').summary, /^mail still flows: senders deliver to mx1\.mixed/);
      // the preferred host fails DANE: a detour through the next one
      assert.deepEqual(
        [d('failfirst').ok, d('failfirst').via, d('failfirst').preferredFails],
        [true, [h('failfirst', '2')], true],
      );
      assert.match(
        d('failfirst').summary,
        /senders try mx1\.failfirst\.secure\.test \(MX 10, failed\) first and, when it fails, fall back to mx2\.failfirst\.secure\.test \(MX 20, verified\)/,
      );
      // ...which is what the sending Postfix did with the domain's own message: it met mx1's
      // failure and delivered through mx2 in the same attempt, not after a deferral
      const ff = deliveries.get(recipients.get('failfirst')!)!;
      const ffShow = `${ff.status} via ${ff.relay}: ${ff.warnings.join(' | ')}`;
      assert.equal(ff.status, 'sent', ffShow);
      assert.ok(ff.relay.startsWith(`${h('failfirst', '2')}[`), ffShow);
      assert.ok(
        ff.warnings.some((w) => w.includes(h('failfirst', '1'))),
        `no failure at mx1 logged: ${ffShow}`,
      );
      // a host that is down
      assert.deepEqual([d('down').ok, d('down').failingHosts], [true, [h('down', '2')]]);
      assert.match(d('down').summary, /mx2\.down\.secure\.test \(MX 20, unreachable\) is failing/);
      // nothing to fall back to
      assert.equal(d('mismatch').ok, false);
      assert.equal(d('bogus').ok, false);
      assert.deepEqual([d('ok').ok, d('ok').failingHosts], [true, []]);
    });

    test('summary', (t) => {
      const rows = lab.scenarios.map((s) => {
        const r = observed.get(s.id)!.report;
        const hosts = s.mxBogus
          ? `(MX bogus) posttls-finger ${fingers.get(`${s.id} domain`)!.verdict}`
          : byPref(s)
              .map((h) => {
                const f = [...new Set(h.addresses.map(family))].map(
                  (x) => fingers.get(`${s.id} ${h.name} ${x}`)!.verdict,
                );
                const d = deliveries.get(recipients.get(`${s.id} ${h.name}`)!)!;
                return `${h.name}: dk ${hostJson(s.id, h).verdict} / ptf ${f.join('+')} / smtp ${d.status}`;
              })
              .join('; ');
        return `${s.id.padEnd(12)} ${r.verdict.padEnd(14)} exit ${observed.get(s.id)!.cli.code}  ${hosts}`;
      });
      t.diagnostic(`timings (ms): ${JSON.stringify(timings)}`);
      for (const row of rows) t.diagnostic(row);
    });
  },
);
