/**
 * What the panel's domain pages share (issue 11 item 2): the status badge, reading a domain's
 * status without letting a DNS failure break the page, and turning a refusal from the API's
 * route logic into a form message with a 4xx (a 5xx is a bug, DESIGN.md).
 */
import { html } from 'hono/html';
import { isDkError, type ErrorKind } from '../../core/errors.js';
import type { RolloverSummary } from '../../core/rollover/index.js';
import type { Domain } from '../../store/domains.js';
import { ApiError } from '../api/api.js';

export type Badge = 'verified' | 'waiting' | 'failing' | 'off';
export type StatusView = Partial<RolloverSummary> & { error?: { code: string; message: string } };

/** The list's badge from `status --json` data. */
/**
 * `serverDane`: the server's daneEnabled. Off, no domain has TLSA records (the pass plans no
 * DANE owner for any domain, src/daemon/world.ts), whatever the domain's own flag says.
 */
export function badge(d: Domain, s: StatusView | null, serverDane = true): Badge {
  if (!d.dane || !serverDane) return 'off';
  if (!s || s.error || s.failure) return 'failing';
  if (s.certificate?.verified && s.waitingFor == null) return 'verified';
  return 'waiting';
}

export const BADGE_TEXT: Record<Badge, string> = {
  verified: 'DANE verified',
  waiting: 'waiting',
  failing: 'failing',
  off: 'DANE off',
};

export const badgeHtml = (b: Badge) => html`<span class="badge badge-${b}">${BADGE_TEXT[b]}</span>`;

/** The domain's status; a DkError (DNS unreachable, ...) becomes the view's error. */
export async function statusOf(
  status: (d: Domain) => Promise<unknown>,
  d: Domain,
): Promise<StatusView | null> {
  try {
    return ((await status(d)) ?? null) as StatusView | null;
  } catch (e) {
    if (!isDkError(e)) throw e;
    return { error: { code: e.code, message: e.message } };
  }
}

export type RefusalStatus = 400 | 403 | 404 | 409;

/**
 * The JSON API's mapping (api.ts), except that a backend out of reach (unavailable, protocol:
 * 503 there) is a 409 here, as P2's pages answer it (call-error.ts): a refused operation is
 * never a 5xx on a page, and 409 says the server's state, not the input, stopped it.
 */
const KIND_STATUS: Record<ErrorKind, RefusalStatus> = {
  usage: 400,
  data: 400,
  noinput: 404,
  unavailable: 409,
  protocol: 409,
  tempfail: 409,
  noperm: 403,
  config: 409,
  internal: 400,
};

/**
 * A refusal from `call()` as the form's message and status. Anything else (an internal
 * DkError, a TypeError) is a bug and is thrown on, to the 500 path.
 */
export function refusal(e: unknown): { status: RefusalStatus; message: string } {
  if (e instanceof ApiError) {
    const status: RefusalStatus = e.status === 403 ? 403 : e.status === 404 ? 404 : 400;
    return { status, message: e.message };
  }
  if (isDkError(e) && e.kind !== 'internal') {
    return { status: KIND_STATUS[e.kind], message: e.message.replace(/\s*\n\s*/g, ' ') };
  }
  throw e;
}

/** A domain name from a URL path: lower case, no final dot (RFC 4343 §3). */
export const pathName = (raw: string) => raw.toLowerCase().replace(/\.$/, '');

/**
 * A prerequisite's fix as the panel shows it. core/prereq writes fixes for the CLI, where a
 * flag is the answer; a panel user runs no command line, and `serve` reads the same answers
 * from the config file ([prereq] address / dkim-selector, [dns] resolver), so the flag is
 * replaced by the key. --mail-host has no key (the MX decides which host is probed for
 * `serve`), so its alternative is dropped rather than shown as something one cannot do.
 */
const PANEL_FIXES: [RegExp, string][] = [
  [
    /; give --address when it is another/g,
    '; set [prereq] address = IP in danekeeper.ini when it is another',
  ],
  [/ with --address IP\./g, ' as [prereq] address = IP in danekeeper.ini.'],
  [/ with --dkim-selector\./g, ' as [prereq] dkim-selector = SELECTOR in danekeeper.ini.'],
  [/ \(or give --config with the settings for [^)]*\)/g, ' of danekeeper.ini'],
  [/Give --resolver \(or resolver = in \[dns\]\)/g, 'Set resolver = in [dns] of danekeeper.ini to'],
  [/, or give --mail-host HOST\./g, '.'],
];

export function panelFix(fix: string): string {
  return PANEL_FIXES.reduce((t, [re, by]) => t.replace(re, by), fix);
}
