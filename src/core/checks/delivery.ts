/**
 * Whether mail reaches a domain, as opposed to whether every MX host is in order. The domain
 * verdict is the worst host's (verdict.ts: an operator must hear of a broken MX host), but a
 * sending MTA does not stop at a broken host: it tries the next address and the next MX host
 * (RFC 5321 §5.1), and RFC 7672 §2.2 judges each host on its own. This says plainly which of
 * the two situations an operator is in. Pure.
 */
import type { CheckVerdict } from './verdict.js';

export interface DeliveryHost {
  name: string;
  /** MX preference; null for the implicit MX (the domain itself, RFC 5321 §5.1) */
  preference: number | null;
  verdict: CheckVerdict;
  /** the addresses probed (empty when DNS stopped the host before any probe) */
  addresses: { address: string; verdict: CheckVerdict }[];
}

export interface Delivery {
  /** a DANE-enabled sender can hand mail to at least one MX host */
  ok: boolean;
  /** hosts that take mail from a DANE sender (on at least one address), in the order senders try them */
  via: string[];
  /**
   * hosts a DANE sender will not hand mail to on at least one of their addresses (their verdict
   * is not one that delivers); a host with a good address and a bad one is in both lists
   */
  failingHosts: string[];
  /**
   * a host senders try first (the lowest preference) is failing, so messages meet that failure
   * before they reach a host that takes them
   */
  preferredFails: boolean;
  /** the same in one or two sentences, for people */
  summary: string;
}

/** RFC 7672 §2.2: what a DANE sender hands mail over after; everything else it skips or defers. */
export function takesMail(v: CheckVerdict): boolean {
  // verified: authenticated; unusable: mandatory but unauthenticated TLS (RFC 7672 §2.2);
  // no-dane: ordinary opportunistic TLS (RFC 7672 §2.2.2)
  return v === 'verified' || v === 'unusable' || v === 'no-dane';
}

const label = (h: DeliveryHost) =>
  h.preference === null
    ? `${h.name} (${h.verdict})`
    : `${h.name} (MX ${h.preference}, ${h.verdict})`;

/** A host that takes mail on some addresses only is named by what those addresses got. */
const viaLabel = (h: DeliveryHost) => {
  if (takesMail(h.verdict)) return label(h);
  const good = h.addresses.find((a) => takesMail(a.verdict))!;
  const p = h.preference === null ? '' : `MX ${h.preference}, `;
  return `${h.name} (${p}${good.verdict} on ${good.address})`;
};

const list = (xs: string[]) =>
  xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;

const pref = (h: DeliveryHost) => h.preference ?? 0;

export function assessDelivery(hosts: readonly DeliveryHost[]): Delivery {
  // RFC 5321 §5.1: lowest preference first; hosts of equal preference in random order.
  const ordered = [...hosts].sort((a, b) => pref(a) - pref(b));
  const takes = (h: DeliveryHost) => h.addresses.some((a) => takesMail(a.verdict));
  const fails = (h: DeliveryHost) => !takesMail(h.verdict);
  const via = ordered.filter(takes);
  const failing = ordered.filter(fails);
  const first = ordered.filter((h) => ordered[0] && pref(h) === pref(ordered[0]));
  const preferredFails = first.some(fails);
  const out = (ok: boolean, summary: string): Delivery => ({
    ok,
    via: via.map((h) => h.name),
    failingHosts: failing.map((h) => h.name),
    preferredFails,
    summary,
  });

  if (ordered.length === 0) return out(false, 'mail cannot be delivered: there is no MX host');
  if (via.length === 0) {
    return out(
      false,
      `mail cannot be delivered: no MX host takes mail from a DANE sender (${list(failing.map(label))}); senders keep it queued and retry (RFC 7672 §2.2)`,
    );
  }
  if (failing.length === 0) {
    return out(
      true,
      `mail can be delivered: ${list(ordered.map(label))} ${ordered.length > 1 ? 'take' : 'takes'} it`,
    );
  }
  const details: string[] = [];
  for (const h of failing) {
    if (takes(h)) {
      // RFC 5321 §5.1: a sender tries each address of a host before it moves to the next host.
      const bad = h.addresses.filter((a) => !takesMail(a.verdict));
      details.push(
        `${h.name} fails on ${list(bad.map((a) => `${a.address} (${a.verdict})`))}, and senders move on to its other address${h.addresses.length - bad.length > 1 ? 'es' : ''}`,
      );
    } else if (first.includes(h)) {
      const next = via.find((x) => x !== h)!;
      details.push(
        first.length > 1
          ? `senders that pick ${label(h)} first (hosts of equal preference are tried in random order) fall back to ${viaLabel(next)} (RFC 5321 §5.1, RFC 7672 §2.2)`
          : `senders try ${label(h)} first and, when it fails, fall back to ${viaLabel(next)} (RFC 5321 §5.1, RFC 7672 §2.2)`,
      );
    } else {
      details.push(
        `${label(h)} is failing: a DANE sender will not fall back to it when the preferred host is unavailable, and keeps the mail queued instead (RFC 7672 §2.2)`,
      );
    }
  }
  const head = preferredFails
    ? 'mail still flows, after a detour'
    : `mail still flows: senders deliver to ${list(first.map(label))}`;
  return out(true, `${head}; ${details.join('; ')}`);
}
