/**
 * What `status` shows for a domain, from a decision and the observations it was made from
 * (DESIGN.md: `status --json` per domain: phase, waitingFor, until, the certificate, the TLSA
 * records and which server serves them). Public facts only: key ids and SPKI digests, never a
 * private key.
 */
import { confirmedAt } from './confirm.js';
import { chainMatches, desiredRecords, eeRecord, issuerSet, taRecord } from './records.js';
import type {
  Decision,
  Observations,
  Phase,
  Rdata,
  RolloverPolicy,
  RolloverState,
  WaitReason,
} from './types.js';

export interface TlsaSummary {
  owner: string;
  rdata: Rdata;
  /** why it is there: the key it pins, an issuer, or stale (to be removed) */
  role: 'current-key' | 'next-key' | 'issuer' | 'stale';
  published: boolean;
  servedBy: string[];
  notServedBy: string[];
  /** when it is (or was) confirmed at this owner; null while not every server serves it */
  confirmedAt: string | null;
}

export interface RolloverSummary {
  phase: Phase;
  waitingFor: WaitReason | null;
  until: string | null;
  /** what happens next, in a sentence */
  next: string;
  failure: { code: string; message: string; attempts: number; retryAt: string } | null;
  certificate: {
    id: string;
    serial: string;
    notBefore: string;
    notAfter: string;
    keyId: string;
    verified: boolean;
  } | null;
  /**
   * What a person can do about the failure (or the blocked backend), in a sentence or two; null
   * when nothing is wrong. The next attempt itself is in `next` and `failure.retryAt`.
   */
  hint: string | null;
  pending: { id: string; keyId: string; notAfter: string } | null;
  keys: { current: { id: string; spki: string } | null; next: { id: string; spki: string } | null };
  tlsa: TlsaSummary[];
  /**
   * What every address presents: the installed certificate, another one (a service that did not
   * reload, or came back from old files) with whether a published record still matches it, or
   * the probe's error.
   */
  live: {
    owner: string;
    address: string;
    presents: 'installed' | 'other' | 'error';
    matchesPublished: boolean;
    error?: string;
  }[];
}

/** A failure as `status --json` shows it (the stored one carries more, e.g. its step). */
export function failureView(f: RolloverState['failure']) {
  return f ? { code: f.code, message: f.message, attempts: f.attempts, retryAt: f.retryAt } : null;
}

function nextStep(d: Decision): string {
  if (d.kind === 'idle') return `Nothing to do until ${d.until}`;
  if (d.kind === 'wait') return d.detail;
  const a = d.action;
  switch (a.kind) {
    case 'generateKey':
      return `Generate the ${a.role} key ${a.keyId}`;
    case 'publishRecords':
      return a.add.length > 0
        ? `Publish ${a.add.join(', ')} at ${a.owner}`
        : `Remove the stale ${a.remove.join(', ')} at ${a.owner}`;
    case 'orderCertificate':
      return `Order a certificate for key ${a.keyId}`;
    case 'install':
      return `Install certificate ${a.certId}`;
    case 'rollback':
      return `Put back ${a.certId ?? 'the files from before danekeeper'}: ${a.reason}`;
  }
}

/** A person who removed the cause need not wait out the backoff (the planner's 'retry'). */
const tryNow = (domain: string) => `then \`danekeeper renew ${domain}\` to try now`;

const reloadHint = (domain: string) =>
  `A reload command failed: run it by hand (danekeeper domain show ${domain} lists it) and fix it, ${tryNow(domain)}. The previous certificate files are back in place and the service keeps the certificate it had.`;

/**
 * What to do, per failure code: a list of small rules, the first that matches speaks. Every
 * failure leaves the invariant true (DESIGN.md), so the hints say how to remove the cause, not
 * how to rescue mail.
 */
const HINTS: {
  codes: RegExp;
  /** when the code alone does not tell (a rolled-back install: the reload, or the live check) */
  message?: RegExp;
  hint: (domain: string, retryAt: string) => string;
}[] = [
  {
    // RFC 8555 §6.6: a rateLimited problem comes with the moment to try again
    codes: /^E_ACME_(RATE_LIMITED|RETRY_LATER)$/,
    hint: (_, at) =>
      `The CA's rate limit was hit: nothing to fix here; danekeeper orders again after ${at}, when the CA said it may. A \`danekeeper renew\` before then meets the limit again.`,
  },
  {
    // RFC 8555 §8.3 / §8.4: the CA fetches the HTTP-01 token on port 80, or looks up the TXT
    codes: /^E_ACME_(CHALLENGE_FAILED|HTTP_LISTEN)$/,
    hint: (domain) =>
      `The CA could not validate the challenge. For http-01 it must reach http://NAME/.well-known/acme-challenge/ on port 80 of every name (http-listen or webroot in [acme], and the names' A/AAAA records); for dns-01 the [dns] backend must publish _acme-challenge.NAME in the zone the CA finds. Fix that, ${tryNow(domain)}.`,
  },
  {
    codes: /^E_ACME_/,
    hint: (domain) =>
      `Check the CA's message above and [acme] (directory, email, ca-file, EAB) in the config file, ${tryNow(domain)}.`,
  },
  {
    // RFC 2136 §3.3: REFUSED/NOTAUTH is the server's policy; BADKEY/BADSIG is the key (RFC 8945)
    codes: /^E_(PUBLISH_(REFUSED|NOTAUTH|AUTH)|TSIG_KEYFILE)$/,
    hint: (domain) =>
      `The DNS server refuses the update: check that tsig-key-file in [dns] holds the key the server accepts, that the zone's allow-update / update-policy lets it change TLSA (and TXT for dns-01), and that server = is the zone's primary; ${tryNow(domain)}.`,
  },
  {
    codes: /^E_PUBLISH_(UNREACHABLE|TIMEOUT)$/,
    hint: (domain) =>
      `Check that the DNS server in [dns] server = is running and reachable from here, ${tryNow(domain)}.`,
  },
  {
    codes: /^E_PUBLISH_/,
    hint: (domain) =>
      `Check the DNS backend's message above and the [dns] section of the config file, ${tryNow(domain)}.`,
  },
  {
    codes: /^E_DEPLOY_FAILED$/,
    hint: () =>
      'URGENT: the new certificate was not served as installed AND the previous files could not be put back: check --cert-dir and the service now (status below shows what each endpoint presents).',
  },
  { codes: /^E_DEPLOY_(RELOAD_|ROLLED_BACK_RELOAD$)/, hint: (domain) => reloadHint(domain) },
  {
    // a failure stored by an older danekeeper, before the two rolled-back codes were split
    codes: /^E_DEPLOY_ROLLED_BACK$/,
    message: /[Rr]eload command/,
    hint: (domain) => reloadHint(domain),
  },
  {
    // DESIGN.md: installed, reloaded, probed; the service did not show the new chain
    codes: /^E_(ROLLOVER_VERIFY|DEPLOY_ROLLED_BACK(_NOT_SERVED)?)$/,
    hint: (domain) =>
      `The service still presents another certificate after the reload: make its reload command (--reload) re-read privkey.pem and fullchain.pem in --cert-dir, or point the service at those files, ${tryNow(domain)}. The previous certificate files are back in place.`,
  },
  {
    codes: /^E_DEPLOY_/,
    hint: (domain) =>
      `Check --cert-dir (it must be a directory danekeeper owns, with room to write), ${tryNow(domain)}.`,
  },
];

/** The backend's own reasons for the owners it could not be read for (world.ts's readError). */
function unreadableReasons(obs: Observations, policy: RolloverPolicy): string[] {
  const out = new Set<string>();
  for (const o of policy.owners) {
    const dns = obs.dns[o];
    if (dns && dns.published === null) out.add(dns.readError ?? 'no reason given');
  }
  return [...out];
}

// blocked, `next` quotes the backend's reason already (plan.ts backendWait): said once
const backendHint = (reasons: string[], blocked: boolean) =>
  `danekeeper cannot read the TLSA records from the DNS backend${blocked ? '' : ` (${reasons.join('; ')})`}: check that [dns] server = is running and reachable, and that the TSIG key (tsig-key-file) is right. ${blocked ? 'Nothing is published or removed until it can' : 'The rollover needs it to publish or remove a record'}; what is served now stays, and every run tries again.`;

/**
 * What to do about a failed step: the one table of hints, for `status` and for the
 * notifications (src/notify), so a person reads the same advice in both.
 */
export function failureHint(
  f: { code: string; message: string; retryAt: string },
  domain: string,
): string {
  const rule = HINTS.find(
    (h) => h.codes.test(f.code) && (h.message === undefined || h.message.test(f.message)),
  );
  return rule
    ? rule.hint(domain, f.retryAt)
    : `Remove the cause named above, ${tryNow(domain)}; otherwise the next run after ${f.retryAt} tries again.`;
}

function hintOf(d: Decision, domain: string, unreadable: string[]): string | null {
  const f = d.state.failure;
  if (f) return failureHint(f, domain);
  const blocked = d.kind === 'wait' && d.waitingFor === 'backend';
  if (blocked || unreadable.length > 0) return backendHint(unreadable, blocked);
  return null;
}

export function summarize(d: Decision, obs: Observations, policy: RolloverPolicy): RolloverSummary {
  const s = d.state;
  const want = new Set(desiredRecords(s, policy));
  const issuers = new Set(issuerSet(s, policy).map(taRecord));
  const role = (r: Rdata): TlsaSummary['role'] => {
    if (!want.has(r)) return 'stale';
    if (s.keys.current && r === eeRecord(s.keys.current.spki)) return 'current-key';
    if (s.keys.next && r === eeRecord(s.keys.next.spki)) return 'next-key';
    return issuers.has(r) ? 'issuer' : 'stale';
  };
  const tlsa: TlsaSummary[] = [];
  for (const owner of policy.owners) {
    const dns = obs.dns[owner];
    const published = dns?.published ?? [];
    const ours = new Set([...want, ...(s.managed[owner] ?? [])]);
    for (const r of [...ours].sort()) {
      const servers = dns?.servers ?? [];
      const at = confirmedAt(s.tracks, owner, r, policy);
      tlsa.push({
        owner,
        rdata: r,
        role: role(r),
        published: published.includes(r),
        servedBy: servers.filter((x) => x.served?.includes(r)).map((x) => x.name),
        notServedBy: servers.filter((x) => !x.served?.includes(r)).map((x) => x.name),
        confirmedAt: at === null ? null : new Date(at).toISOString(),
      });
    }
  }
  const installedSpki = s.installed
    ? [s.keys.current, s.keys.next, ...obs.keys].find((k) => k?.id === s.installed?.keyId)?.spki
    : undefined;
  const hex = (x: string) =>
    x
      .replace(/[:\s]/g, '')
      .toLowerCase()
      .replace(/^0+(?=.)/, '');
  const live: RolloverSummary['live'] = [];
  for (const owner of policy.owners) {
    // The backend unreadable: what every authoritative server serves is what is published,
    // as far as anyone sending mail can tell (RFC 7671 §8.4).
    const dns = obs.dns[owner];
    const servers = dns?.servers ?? [];
    const published =
      dns?.published ??
      (servers.length > 0
        ? (servers[0]!.served ?? []).filter((r) => servers.every((x) => x.served?.includes(r)))
        : []);
    for (const a of obs.live[owner] ?? []) {
      if ('error' in a) {
        live.push({
          owner,
          address: a.address,
          presents: 'error',
          matchesPublished: false,
          error: a.error,
        });
        continue;
      }
      const mine =
        installedSpki !== undefined &&
        a.leafSpki.toLowerCase() === installedSpki &&
        hex(a.leafSerial) === hex(s.installed!.serial);
      live.push({
        owner,
        address: a.address,
        presents: mine ? 'installed' : 'other',
        matchesPublished: published.some((r) => chainMatches(a, r)),
      });
    }
  }
  const key = (k: { id: string; spki: string } | null) => (k ? { id: k.id, spki: k.spki } : null);
  // The planner itself waits for the backend when that is what stands in the way (plan.ts
  // backendWait), quoting its reason; the hint says what to check.
  const unreadable = unreadableReasons(obs, policy);
  return {
    phase: d.phase,
    waitingFor: d.kind === 'wait' ? d.waitingFor : null,
    until: d.kind === 'act' ? null : d.until,
    // a rotation asked for while this one was being verified (plan.ts): said, so a person who
    // asked does not ask again
    next: `${nextStep(d)}${(s.renewal.queuedRotations ?? 0) > 0 ? '; then one more key rotation (renew --rotate-key asked for while this one was being verified)' : ''}`,
    failure: failureView(s.failure),
    certificate: s.installed
      ? {
          id: s.installed.id,
          serial: s.installed.serial,
          notBefore: s.installed.notBefore,
          notAfter: s.installed.notAfter,
          keyId: s.installed.keyId,
          verified: s.verified,
        }
      : null,
    hint: hintOf(d, policy.domain, unreadable),
    pending: s.pending
      ? { id: s.pending.id, keyId: s.pending.keyId, notAfter: s.pending.notAfter }
      : null,
    keys: { current: key(s.keys.current), next: key(s.keys.next) },
    tlsa,
    live,
  };
}
