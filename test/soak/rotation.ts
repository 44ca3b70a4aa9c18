/**
 * The soak's judgement of one `renew DOMAIN --rotate-key` (the product rule: a request that
 * exited 0 is carried out exactly once): the request is in the event log, then a `key-rotated`
 * event names the key it moved to, and afterwards that key is the current one, its certificate
 * is installed in --cert-dir and verified live, and the primary serves its `3 1 1` record
 * (RFC 7671 §8.1: the record was published ahead and stays while the key is in use), and no
 * DANE probe of the domain failed meanwhile. Pure, so
 * that the judgement itself is tested without the lab (rotation.test.ts).
 */

export interface KeyView {
  id: string;
  spki: string;
}

/** The part of `status --json` for one domain that the judgement reads. */
export interface DomainView {
  name: string;
  certificate: { id: string; keyId: string; verified: boolean } | null;
  keys: { current: KeyView | null; next: KeyView | null };
}

export interface EventView {
  kind: string;
  message: string;
}

export interface RotationAsked {
  /** `status --json` of the domain just before the request */
  before: DomainView;
  /** the leaf in --cert-dir just before the request */
  leafBefore: { spki: string } | null;
  /** exit statuses of `renew --rotate-key` (asked again once after a non-zero exit) */
  exits: number[];
}

export interface RotationSeen {
  /** the domain's events from just before the request on */
  events: EventView[];
  /** `status --json` of the domain once both domains are idle again */
  after: DomainView;
  /** the leaf in --cert-dir then */
  leafAfter: { spki: string } | null;
  /** the TLSA RRset the primary serves at the domain's owner then (`3 1 1 hex`, lower case) */
  served: string[];
  /**
   * posttls-finger probes of the domain (every half second) that failed between the request and
   * the judgement: the served records must match what is presented throughout (DESIGN.md "The
   * one invariant")
   */
  probeFailures: number;
}

export interface RotationVerdict {
  /** the request was taken (exit 0) and is in the event log */
  recorded: boolean;
  /** the rotation was carried out (every check below passed) */
  done: boolean;
  /** the key rotated to, when one was */
  to: string | null;
  /** what failed, one phrase each */
  why: string[];
}

export function judgeRotation(a: RotationAsked, s: RotationSeen): RotationVerdict {
  const why: string[] = [];
  const from = a.before.keys.current?.id ?? null;
  const accepted = a.exits.includes(0);
  if (!accepted) why.push(`renew --rotate-key exited ${a.exits.join(', then ')}: not accepted`);
  const asked = s.events.some(
    (e) => e.kind === 'renewal-requested' && /^Key rotation asked for/.test(e.message),
  );
  if (!asked) why.push('no renewal-requested event for the rotation');
  const cur = s.after.keys.current;
  const rotated = s.events
    .filter((e) => e.kind === 'key-rotated')
    .map((e) => /^Key rotation done: (\S+) is now the current key/.exec(e.message)?.[1] ?? null);
  const to = cur && rotated.includes(cur.id) ? cur.id : (rotated.at(-1) ?? null);
  if (rotated.length === 0) why.push('no key-rotated event');
  else if (!cur || !rotated.includes(cur.id)) {
    why.push(`key-rotated named ${rotated.join(', ')}, the current key is ${cur?.id ?? 'none'}`);
  }
  if (!cur || cur.id === from) why.push(`the current key is still ${from ?? 'none'}`);
  // the default policy rotates to the next key that was published ahead (RFC 7671 §8.1)
  const next = a.before.keys.next;
  if (next && cur && rotated[0] !== undefined && rotated[0] !== next.id) {
    why.push(`the first rotation went to ${rotated[0] ?? 'nothing'}, not the next key ${next.id}`);
  }
  const c = s.after.certificate;
  if (!c || !cur || c.keyId !== cur.id) {
    why.push(`the installed certificate is of key ${c?.keyId ?? 'none'}, not ${cur?.id ?? 'none'}`);
  } else if (!c.verified) why.push(`certificate ${c.id} is not verified live`);
  if (!s.leafAfter || !cur || s.leafAfter.spki !== cur.spki) {
    why.push('--cert-dir does not hold a certificate of the current key');
  } else if (a.leafBefore && a.leafBefore.spki === s.leafAfter.spki) {
    why.push('--cert-dir holds a certificate of the same key as before');
  }
  if (cur && !s.served.includes(`3 1 1 ${cur.spki}`)) {
    why.push(`the primary does not serve 3 1 1 of the current key ${cur.id}`);
  }
  if (s.probeFailures > 0) why.push(`${s.probeFailures} DANE probes failed meanwhile`);
  return { recorded: accepted && asked, done: why.length === 0, to, why };
}
