/**
 * What the panel's domain pages share (issue 11 item 2): the status badge, reading a domain's
 * status without letting a DNS failure break the page, and turning a refusal from the API's
 * route logic into a form message with a 4xx (a 5xx is a bug, DESIGN.md).
 */
import { callFailure, type PageStatus } from './call-error.js';
import { html } from 'hono/html';
import { isDkError } from '../../core/errors.js';
import type { RolloverSummary } from '../../core/rollover/index.js';
import type { Domain } from '../../store/domains.js';

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

export type RefusalStatus = PageStatus;

/**
 * A refusal from `call()` as the form's message and status: call-error.ts's one mapping for
 * every page. Anything else (an internal DkError, a TypeError) is a bug and is thrown on, to
 * the 500 path.
 */
export function refusal(e: unknown): { status: RefusalStatus; message: string } {
  const f = callFailure(e);
  return { status: f.status, message: f.message };
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
