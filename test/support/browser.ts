/**
 * The panel's browser tests (issue 11 "Must show"): Debian's chromium driven by playwright-core
 * (never a downloaded browser), optionally inside a lab network namespace, with the helpers the
 * tests share: log in, run axe-core and fail on serious or critical violations, move focus with
 * Tab alone and check it is visible, and take screenshots.
 *
 *   const b = await launchBrowser({ netns: ns.name });
 *   await login(b.page, base, 'admin', password);
 *   await assertAccessible(b.page, 'the domains list');
 *   await shot(b.page, 'domains');
 *   await b.close();
 *
 * Screenshots go to a temp dir unless DK_SCREENSHOTS=1, which writes docs/screenshots/*.png
 * (so CI never dirties the tree); `screenshotDir()` says where they went.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = '/usr/bin/chromium';

export interface LabBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** console errors and uncaught page errors so far (a CSP violation shows up here) */
  problems: string[];
  close(): Promise<void>;
}

/**
 * Chromium, headless, inside `netns` when given: playwright talks to it over a pipe (fds 3
 * and 4), which `ip netns exec` keeps, so a two-line wrapper is all it takes for the browser
 * to see the lab's loopback addresses while the test drives it from outside.
 */
export async function launchBrowser(
  opts: { netns?: string; viewport?: { width: number; height: number } } = {},
): Promise<LabBrowser> {
  let executablePath = CHROMIUM;
  let dir: string | undefined;
  if (opts.netns) {
    if (!/^[A-Za-z0-9_.-]+$/.test(opts.netns)) throw new Error(`Bad netns name ${opts.netns}`);
    dir = mkdtempSync(join(tmpdir(), 'dk-chromium-'));
    executablePath = join(dir, 'chromium-in-netns');
    writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${opts.netns} ${CHROMIUM} "$@"\n`);
    chmodSync(executablePath, 0o755);
  }
  const browser = await chromium.launch({
    executablePath,
    // root on CI: no sandbox; no GPU in a container; nothing but the lab is ever contacted
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30_000,
  });
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1024, height: 720 },
    // the panel's CSP stays on: a page that needs an inline script fails here as in a user's
    bypassCSP: false,
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (m) => {
      if (m.type() !== 'error') return;
      const from = m.location().url;
      // the panel serves no favicon: the browser's own request for it is no page's fault; and
      // a page answered with its 4xx (a refused form, a missing domain) is the page itself
      if (/\/favicon\.ico$/.test(from)) return;
      if (from === p.url() && /^Failed to load resource: .* status of 4\d\d/.test(m.text())) return;
      problems.push(`${p.url()}: console: ${m.text()}`);
    });
    p.on('pageerror', (e) => problems.push(`${p.url()}: ${e.message}`));
  };
  context.on('page', watch);
  watch(page);
  return {
    browser,
    context,
    page,
    problems,
    close: async () => {
      await browser.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Logs in through the login form (mouse-free fill + Enter) and waits for the domains list. */
export async function login(page: Page, base: string, name: string, password: string) {
  // a fresh start: a session left by a failed step before would redirect /login away
  await page.context().clearCookies();
  const r = await page.goto(`${base}/login`);
  if (r?.status() !== 200) throw new Error(`GET ${base}/login answered ${r?.status()}`);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await Promise.all([
    page.waitForURL(`${base}/domains**`),
    page.getByLabel('Password').press('Enter'),
  ]);
}

/** Logs out with the header's button (the session ends on the server). */
export async function logout(page: Page, base: string) {
  await Promise.all([
    page.waitForURL(`${base}/login**`),
    page.getByRole('button', { name: 'Log out' }).click(),
  ]);
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

const require = createRequire(import.meta.url);
const axeSource = (require('axe-core') as { source: string }).source;

/**
 * axe-core in the page, WCAG 2.x A/AA and best-practice rules. `page.evaluate` runs outside the
 * page's CSP (which forbids inline scripts), so the CSP stays on for everything else. Throws
 * listing every serious or critical violation; returns all of them (minor ones too).
 */
export async function assertAccessible(page: Page, what: string): Promise<AxeViolation[]> {
  const loaded = await page.evaluate('typeof window.axe === "object"');
  if (!loaded) await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const w = window as unknown as {
      axe: {
        run(
          ctx: Document,
          o: object,
        ): Promise<{
          violations: {
            id: string;
            impact: string | null;
            help: string;
            nodes: { target: unknown[] }[];
          }[];
        }>;
      };
    };
    const r = await w.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.map(String).join(' ')),
    }));
  });
  const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    throw new Error(
      `axe-core: ${bad.length} serious/critical violation(s) on ${what} (${page.url()}):\n` +
        bad.map((v) => `  ${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`).join('\n'),
    );
  }
  return found;
}

export interface Focused {
  tag: string;
  /** the element's accessible-ish name: aria-label, its label's text, or its own text */
  name: string;
  type: string | null;
  /** `:focus-visible` matches and an outline or box-shadow is drawn */
  visible: boolean;
  /** what draws it: `outline 3px solid ...` or `box-shadow ...` */
  indicator: string;
}

/** What has the keyboard focus now. */
export function focused(page: Page): Promise<Focused | null> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return null;
    const label =
      el.getAttribute('aria-label') ??
      (el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent : null) ??
      (el as HTMLInputElement).labels?.[0]?.textContent ??
      el.textContent ??
      '';
    const s = getComputedStyle(el);
    const outline =
      s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0
        ? `outline ${s.outlineWidth} ${s.outlineStyle} ${s.outlineColor}`
        : '';
    const shadow = s.boxShadow !== 'none' ? `box-shadow ${s.boxShadow}` : '';
    const r = el.getBoundingClientRect();
    return {
      tag: el.tagName.toLowerCase(),
      name: label.replace(/\s+/g, ' ').trim(),
      type: el.getAttribute('type'),
      visible:
        el.matches(':focus-visible') && (outline !== '' || shadow !== '') && r.width * r.height > 0,
      indicator: outline || shadow,
    };
  });
}

const describeFocus = (f: Focused | null) =>
  f ? `<${f.tag}${f.type ? ` type=${f.type}` : ''}> "${f.name}"` : '(nothing)';

/**
 * Presses Tab until the focused element satisfies `want`, at most `max` times; asserts at every
 * stop that focus is visible (WCAG 2.4.7) and fails with the path taken when it never gets
 * there. Returns that path.
 */
export async function tabTo(
  page: Page,
  want: (f: Focused) => boolean,
  what: string,
  max = 25,
): Promise<string[]> {
  const path: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    path.push(describeFocus(f));
    if (f && !f.visible) {
      throw new Error(
        `Focus is not visible on ${describeFocus(f)} (${f.indicator || 'no outline'}) on the way to ${what}; path: ${path.join(' -> ')}`,
      );
    }
    if (f && want(f)) return path;
  }
  throw new Error(`${max} presses of Tab never reached ${what}; path: ${path.join(' -> ')}`);
}

/**
 * Tabs through the whole page from the top (WCAG 2.1.1, 2.4.7): every stop must show its
 * focus, and Tab must come round (to the browser's UI, or back to the first stop) within `max`
 * presses, so no control traps the keyboard. Returns the stops.
 */
export async function tabThrough(page: Page, what: string, max = 80): Promise<string[]> {
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
  });
  const path: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const round = await page.evaluate(() => {
      const w = window as unknown as { dkFirstStop?: Element | null };
      const el = document.activeElement;
      if (el === null || el === document.body) return true;
      if (w.dkFirstStop === undefined) w.dkFirstStop = el;
      else if (w.dkFirstStop === el) return true;
      return false;
    });
    if (round) {
      await page.evaluate(
        () => delete (window as unknown as { dkFirstStop?: unknown }).dkFirstStop,
      );
      if (path.length === 0) throw new Error(`Nothing on ${what} takes the keyboard focus`);
      return path;
    }
    const f = await focused(page);
    path.push(describeFocus(f));
    if (!f?.visible) {
      throw new Error(
        `Focus is not visible on ${describeFocus(f)} (${f?.indicator || 'no outline'}) on ${what}; path: ${path.join(' -> ')}`,
      );
    }
  }
  throw new Error(`Tab did not come round on ${what} after ${max} presses: ${path.join(' -> ')}`);
}

/** Focus is on an element whose name matches `name` (and tag, when given). */
export const named =
  (name: RegExp, tag?: string) =>
  (f: Focused): boolean =>
    name.test(f.name) && (tag === undefined || f.tag === tag);

let shots: string | undefined;

/** docs/screenshots with DK_SCREENSHOTS=1; otherwise one temp dir per test process. */
export function screenshotDir(): string {
  if (!shots) {
    if (process.env.DK_SCREENSHOTS === '1') {
      shots = join(root, 'docs', 'screenshots');
      mkdirSync(shots, { recursive: true });
    } else {
      // CI leaves the tree as it was: the screenshots are taken (each size-checked) and dropped
      const tmp = mkdtempSync(join(tmpdir(), 'dk-screenshots-'));
      shots = tmp;
      if (process.env.DK_LAB_KEEP !== '1')
        process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
    }
  }
  return shots;
}

/** The largest screenshot we keep in the repository (the README shows them all). */
export const MAX_SHOT_BYTES = 250_000;

/**
 * A PNG of the page as a user sees it (viewport width, the whole height up to 1600 px), named
 * `NAME.png`. Returns its path; throws when it is larger than MAX_SHOT_BYTES.
 */
export async function shot(page: Page, name: string): Promise<string> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`Bad screenshot name ${name}`);
  const file = join(screenshotDir(), `${name}.png`);
  // as a user first sees it: no control left focused by a keyboard walk
  const height = await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    return document.documentElement.scrollHeight;
  });
  const vp = page.viewportSize() ?? { width: 1024, height: 720 };
  await page.screenshot({
    path: file,
    type: 'png',
    fullPage: true,
    clip: { x: 0, y: 0, width: vp.width, height: Math.min(Math.max(height, vp.height), 1600) },
    animations: 'disabled',
    caret: 'hide',
  });
  const size = statSync(file).size;
  if (size > MAX_SHOT_BYTES) throw new Error(`Screenshot ${file} is ${size} bytes`);
  return file;
}
