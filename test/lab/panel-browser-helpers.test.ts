/**
 * The browser test's own checks can fail (test/support/browser.ts): axe-core finds a serious
 * violation and names it, an invisible focus ring stops a keyboard walk, a screenshot is a
 * PNG. Chromium on static pages (no lab, no server): a few seconds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  assertAccessible,
  launchBrowser,
  named,
  shot,
  tabThrough,
  tabTo,
  type LabBrowser,
} from '../support/browser.js';
import { labAvailable } from './netns.js';

const avail = labAvailable();
// this file's screenshot is a test's, never one for docs/screenshots
delete process.env.DK_SCREENSHOTS;

const PAGE = (body: string, style = '') =>
  `<!doctype html><html lang="en"><head><title>t</title><style>
  :focus-visible { outline: 3px solid #f0a500; } ${style}</style></head>
  <body><main><h1>Test</h1>${body}</main></body></html>`;

describe('the browser helpers', { skip: !avail.ok && avail.reason }, () => {
  let b: LabBrowser;
  before(async () => {
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
  });

  it('axe-core: a clean page passes; a field without a label and an image without alt fail, named', async () => {
    await b.page.setContent(PAGE('<label for="a">A</label><input id="a">'));
    assert.deepEqual(await assertAccessible(b.page, 'a clean page'), []);
    await b.page.setContent(PAGE('<input id="a"><img src="data:,">'));
    await assert.rejects(assertAccessible(b.page, 'a bad page'), (e: Error) => {
      assert.match(e.message, /serious\/critical violation\(s\) on a bad page/);
      assert.match(e.message, /critical label: .* at #a/);
      assert.match(e.message, /critical image-alt/);
      return true;
    });
  });

  it('tabTo reaches a named control; an outline taken away stops it', async () => {
    await b.page.setContent(PAGE('<button>One</button> <button>Two</button>'));
    const path = await tabTo(b.page, named(/^Two$/, 'button'), 'Two');
    assert.deepEqual(path, ['<button> "One"', '<button> "Two"']);
    await b.page.setContent(
      PAGE('<button>One</button> <button id="t">Two</button>', '#t:focus { outline: none; }'),
    );
    await assert.rejects(
      tabTo(b.page, named(/^Two$/, 'button'), 'Two'),
      /Focus is not visible on <button> "Two"/,
    );
    await b.page.setContent(PAGE('<button>One</button> <button>Two</button>'));
    await assert.rejects(tabTo(b.page, named(/^Three$/), 'Three', 4), /never reached Three/);
  });

  it('tabThrough comes round a page and fails on an invisible focus', async () => {
    await b.page.setContent(PAGE('<a href="#x">x</a> <input aria-label="y">'));
    assert.deepEqual(await tabThrough(b.page, 'two controls'), ['<a> "x"', '<input> "y"']);
    await b.page.setContent(PAGE('<a href="#x">x</a> <a href="#z" style="outline: 0">z</a>'));
    await assert.rejects(tabThrough(b.page, 'a hidden ring'), /not visible on <a> "z"/);
  });

  it('shot writes a PNG', async () => {
    await b.page.setContent(PAGE('<p>hello</p>'));
    const file = await shot(b.page, 'helpers-test');
    const png = readFileSync(file);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.ok(png.length < 60_000, `${png.length} bytes`);
  });
});
