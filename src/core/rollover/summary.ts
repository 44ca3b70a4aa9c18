/**
 * What `status` shows for a domain, from a decision and the observations it was made from
 * (DESIGN.md: `status --json` per domain: phase, waitingFor, until, the certificate, the TLSA
 * records and which server serves them). Public facts only: key ids and SPKI digests, never a
 * private key.
 */
import { confirmedAt } from './confirm.js';
import { chainMatches, desiredRecords, eeRecord, issuerSet, taRecord } from './records.js';
import type { Decision, Observations, Phase, Rdata, RolloverPolicy, WaitReason } from './types.js';

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
    const published = obs.dns[owner]?.published ?? [];
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
  return {
    phase: d.phase,
    waitingFor: d.kind === 'wait' ? d.waitingFor : null,
    until: d.kind === 'act' ? null : d.until,
    next: nextStep(d),
    failure: s.failure
      ? {
          code: s.failure.code,
          message: s.failure.message,
          attempts: s.failure.attempts,
          retryAt: s.failure.retryAt,
        }
      : null,
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
    pending: s.pending
      ? { id: s.pending.id, keyId: s.pending.keyId, notAfter: s.pending.notAfter }
      : null,
    keys: { current: key(s.keys.current), next: key(s.keys.next) },
    tlsa,
    live,
  };
}
