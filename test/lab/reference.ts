/**
 * The reference clients of the DANE lab: Postfix itself, never danekeeper's code.
 *
 * - `posttlsFinger()` runs `posttls-finger -l dane` in the lab namespace (it resolves through
 *   the lab's validating Unbound: resolv.conf with `options trust-ad`) and maps what it prints
 *   to danekeeper's verdict words (`classifyPosttlsFinger`).
 * - `startSender()` starts a sending Postfix (`smtp_tls_security_level = dane`,
 *   `smtp_dns_support_level = dnssec`) in the same namespace; `send()` hands it one message
 *   per recipient with `sendmail`, `waitForOutcomes()` reads its maillog until each one was
 *   delivered or deferred, and `classifyDelivery()` maps that to a verdict class.
 *
 * Why the mapping looks at more than the last line: posttls-finger falls back to the `secure`
 * level when there are no TLSA records or only unusable ones (man posttls-finger, `-l`), so
 * "Untrusted TLS connection established" alone does not tell a DANE failure from no DANE.
 * With `-L verbose` it first prints every "DNSSEC-signed TLSA record" it will use, which does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/pki.js';
import { sleep, type Netns } from './netns.js';
import { postfixClientEnv, startPostfix, type PostfixInstance } from './postfix.js';
import type { Verdict } from './scenarios.js';

// --- posttls-finger ------------------------------------------------------------------------

export interface FingerResult {
  /** the destination as given: `domain` or `[host]` */
  destination: string;
  family: 'any' | 'ipv4' | 'ipv6';
  verdict: Verdict;
  /** why this verdict: the line(s) that decided it */
  why: string;
  /** `host[address]:port` it ended up talking to, if any */
  peer: string | null;
  /** the DANE match it reported ("3 1 1 HEX" / "2 1 1 HEX", upper-case hex as printed) */
  matched: { record: string; depth: number } | null;
  output: string;
  ms: number;
}

/**
 * Maps posttls-finger's output (run with `-l dane -L routine,certmatch,verbose`) to a verdict:
 *
 * - a DNS failure (MX, address or TLSA lookup "try again", "TLSA lookup error") → dnssec-failure;
 *   in this lab every such failure is a bogus answer (nothing times out);
 * - no TLS session at all (connection refused, timed out) → unreachable;
 * - "Verified TLS connection", or "Trusted" after a DANE match (an insecure MX RRset makes
 *   Postfix log a DANE-verified peer as "Trusted") → verified;
 * - all records unusable ("unsupported TLSA certificate usage" is printed for PKIX usages that
 *   Postfix drops at lookup; "all TLSA records unusable" for malformed ones) → unusable;
 * - some usable TLSA record was in force ("DNSSEC-signed TLSA record") but the session is not
 *   verified → failed;
 * - otherwise (no TLSA, or an insecure host: posttls-finger fell back to `secure`) → no-dane.
 */
export function classifyPosttlsFinger(
  output: string,
): Pick<FingerResult, 'verdict' | 'why' | 'peer' | 'matched'> {
  const lines = output.split('\n');
  const find = (re: RegExp) => lines.find((l) => re.test(l));
  const established =
    /(Verified|Trusted|Untrusted|Anonymous) TLS connection established to (\S+?):? /.exec(
      find(/TLS connection established to/) ?? '',
    );
  const peer = established?.[2] ?? null;
  const m = /Matched DANE .*? at depth (\d+): (\d \d \d [0-9A-F.]+)/.exec(
    find(/Matched DANE/) ?? '',
  );
  const matched = m ? { record: m[2]!, depth: Number(m[1]) } : null;
  const dnsFail =
    find(/TLSA lookup error|DANE TLSA lookup problem/) ??
    find(/(Destination address lookup failed|Name service error).*try again/);
  if (dnsFail) return { verdict: 'dnssec-failure', why: dnsFail, peer, matched };
  if (!established) {
    const why =
      find(/Failed to establish session|connect to|Connection refused|timed out|lookup failed/) ??
      'no TLS session';
    return { verdict: 'unreachable', why, peer, matched };
  }
  const kind = established[1]!;
  if (kind === 'Verified' || (kind === 'Trusted' && matched))
    return { verdict: 'verified', why: established[0], peer, matched };
  // "all TLSA records unusable": malformed or unknown parameters; "unsupported TLSA certificate
  // usage": PKIX-TA/PKIX-EE, which Postfix drops at lookup, so none is "in force" afterwards
  const inForce = find(/DNSSEC-signed TLSA record/);
  const unusable =
    find(/all TLSA records unusable/) ??
    (inForce ? undefined : find(/unsupported TLSA certificate usage/));
  if (unusable) return { verdict: 'unusable', why: unusable, peer, matched };
  if (inForce) {
    const why = find(/verification failed/) ?? established[0];
    return { verdict: 'failed', why, peer, matched };
  }
  return { verdict: 'no-dane', why: find(/verification failed/) ?? established[0], peer, matched };
}

/**
 * `posttls-finger -c -l dane` to `destination` (`domain`: MX lookup, first reachable MX host,
 * first address; `[host]`: that host, no MX lookup: the host itself is then the next hop and
 * the only name a DANE-TA certificate is checked against besides the TLSA base domain).
 */
export async function posttlsFinger(
  ns: Netns,
  destination: string,
  opts: { family?: 'any' | 'ipv4' | 'ipv6'; timeoutS?: number } = {},
): Promise<FingerResult> {
  const t0 = Date.now();
  const family = opts.family ?? 'any';
  const timeout = String(opts.timeoutS ?? 10);
  const r = await ns.exec(
    'posttls-finger',
    [
      '-c',
      '-l',
      'dane',
      '-L',
      'routine,certmatch,verbose',
      '-a',
      family,
      '-t',
      timeout,
      '-T',
      timeout,
      destination,
    ],
    { allowFail: true, timeoutMs: (opts.timeoutS ?? 10) * 3_000, env: postfixClientEnv() },
  );
  const output = (r.stdout + r.stderr)
    .split('\n')
    // the handshake trace is long and says nothing the mapping needs
    .filter((l) => !/SSL_connect:|TLS cipher list|depth=\d+ verify=/.test(l))
    .join('\n');
  return { destination, family, ...classifyPosttlsFinger(output), output, ms: Date.now() - t0 };
}

// --- the sending Postfix -------------------------------------------------------------------

export interface Sender {
  readonly postfix: PostfixInstance;
  /** Hands one message to `recipient` to the sender (sendmail, pickup). */
  send(recipient: string): Promise<void>;
  /** Waits until every recipient has a final-for-now status (sent, deferred, bounced). */
  waitForOutcomes(recipients: string[], timeoutMs?: number): Promise<Map<string, Delivery>>;
  stop(): Promise<void>;
}

export interface Delivery {
  recipient: string;
  status: 'sent' | 'deferred' | 'bounced' | 'timeout';
  /** `host[address]:port` or `none` */
  relay: string;
  /** the TLS line of the same smtp process for that relay: Verified/Trusted/Untrusted/Anonymous */
  tls: string | null;
  /** the status line's text in parentheses */
  reason: string;
  /** the smtp client's warnings for this delivery (TLSA problems, verification failures) */
  warnings: string[];
}

/**
 * What the sending Postfix did, as a verdict class. Postfix does not deliver over a DANE
 * failure or a DNSSEC failure; it delivers after a verified session (`verified`), and after an
 * unauthenticated one when all TLSA records are unusable (mandatory TLS, logged with "all TLSA
 * records unusable" or "unsupported TLSA certificate usage") or DANE does not apply at all.
 */
export function classifyDelivery(d: Delivery): Verdict {
  const warn = d.warnings.join('\n');
  if (d.status === 'sent') {
    // no CAfile is configured: only a DANE match makes a session Verified, or Trusted when the
    // MX RRset was insecure (smtp_tls_dane_insecure_mx_policy = dane)
    if (d.tls === 'Verified' || d.tls === 'Trusted') return 'verified';
    if (/all TLSA records unusable|unsupported TLSA certificate usage/.test(warn))
      return 'unusable';
    return 'no-dane';
  }
  if (d.status === 'timeout') return 'indeterminate';
  if (
    /TLSA lookup error|Name service error|Host not found, try again|lookup problem/i.test(
      d.reason + warn,
    )
  )
    return 'dnssec-failure';
  if (
    /Connection refused|connect to .* (timed out|No route)|Network is unreachable/i.test(d.reason)
  )
    return 'unreachable';
  return 'failed';
}

/** True for the verdicts with which a DANE-enabled MTA hands the message over. */
export function delivers(v: Verdict): boolean {
  return v === 'verified' || v === 'unusable' || v === 'no-dane';
}

/**
 * A sending Postfix in `ns` (which must already have the DNS lab's resolv.conf). `pins` maps a
 * recipient domain to a next hop `[host]` (transport_maps), to send to one particular MX host.
 */
export async function startSender(ns: Netns, pins: Record<string, string> = {}): Promise<Sender> {
  const dir = tempDir('dk-sender-');
  const transport = join(dir, 'transport');
  writeFileSync(
    transport,
    Object.entries(pins)
      .map(([domain, host]) => `${domain}\tsmtp:[${host}]:25\n`)
      .join(''),
  );
  const postfix = await startPostfix(ns, [], {
    dir,
    keepDir: process.env.DK_LAB_KEEP === '1',
    hostname: 'sender.lab.test',
    main: {
      // the MX addresses are on this namespace's lo: with inet_interfaces = all Postfix would
      // take them for its own and bounce with "mail for ... loops back to myself"
      inet_interfaces: 'loopback-only',
      smtp_tls_security_level: 'dane',
      smtp_dns_support_level: 'dnssec',
      smtp_tls_loglevel: '1',
      smtp_host_lookup: 'dns',
      default_transport: 'smtp',
      relay_transport: 'smtp',
      transport_maps: `texthash:${transport}`,
      smtp_connect_timeout: '5s',
      smtp_helo_timeout: '10s',
      smtp_starttls_timeout: '10s',
      // one attempt per message is all the test reads: no retries while it waits
      queue_run_delay: '3600s',
      minimal_backoff_time: '3600s',
      maximal_backoff_time: '3600s',
      delay_warning_time: '0h',
    },
  });
  let stopped = false;
  return {
    postfix,
    async send(recipient) {
      const msg =
        `From: dk-lab <sender@sender.lab.test>\nTo: <${recipient}>\n` +
        `Subject: danekeeper lab ${recipient}\n\nDANE lab message for ${recipient}.\n`;
      await postfix.exec('sendmail', ['-f', 'sender@sender.lab.test', '-i', '--', recipient], {
        input: msg,
        timeoutMs: 10_000,
      });
    },
    async waitForOutcomes(recipients, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let out = new Map<string, Delivery>();
      for (;;) {
        out = parseMaillog(postfix.log(), recipients);
        if (recipients.every((r) => out.get(r)!.status !== 'timeout') || Date.now() > deadline)
          return out;
        await sleep(100);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await postfix.stop();
    },
  };
}

/**
 * Reads the sender's maillog: per recipient the first `to=<...>, relay=..., status=...` line of
 * an smtp (or error) process, with the TLS summary and the warnings that the same process
 * logged for that relay before it.
 */
export function parseMaillog(log: string, recipients: string[]): Map<string, Delivery> {
  const lines = log.split('\n');
  const procOf = (l: string) => /postfix\/(\w+)\[(\d+)\]/.exec(l)?.slice(1, 3).join('/') ?? '';
  const out = new Map<string, Delivery>();
  for (const rcpt of recipients) {
    const idx = lines.findIndex(
      (l) => l.includes(`to=<${rcpt}>`) && / status=(sent|deferred|bounced) /.test(l),
    );
    if (idx < 0) {
      out.set(rcpt, {
        recipient: rcpt,
        status: 'timeout',
        relay: 'none',
        tls: null,
        reason: '',
        warnings: [],
      });
      continue;
    }
    const line = lines[idx]!;
    const m = / relay=(\S+?), .* status=(sent|deferred|bounced) \((.*)\)$/.exec(line);
    const relay = m?.[1] ?? 'none';
    const proc = procOf(line);
    // the same process's lines since its previous delivery
    const own: string[] = [];
    for (let i = idx - 1; i >= 0; i--) {
      const l = lines[i]!;
      if (procOf(l) !== proc) continue;
      if (/ status=(sent|deferred|bounced) /.test(l)) break;
      own.unshift(l);
    }
    const tls = /(Verified|Trusted|Untrusted|Anonymous) TLS connection established/.exec(
      own.filter((l) => relay === 'none' || l.includes(relay)).join('\n'),
    );
    out.set(rcpt, {
      recipient: rcpt,
      status: (m?.[2] ?? 'deferred') as Delivery['status'],
      relay,
      tls: tls?.[1] ?? null,
      reason: m?.[3] ?? line,
      warnings: own.filter((l) =>
        /warning:|verification failed|Matched DANE|MX RRset insecure/.test(l),
      ),
    });
  }
  return out;
}
