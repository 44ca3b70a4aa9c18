/**
 * Long hex (a TLSA record's data, a DS digest) in a table cell: `<wbr>` every 16 characters of
 * a long run, so the table wraps inside main's width instead of pushing columns out of view.
 * `<wbr>` adds no character, so what a user selects and copies is the record as it was. Each
 * piece is escaped by hono/html as any interpolated text.
 */
import { html } from 'hono/html';
import type { Html } from './layout.js';

const LONG = 24;
const STEP = 16;

export function breakable(text: string): Html {
  const parts = text.split(/(\s+)/).flatMap((t) => {
    if (t.length <= LONG) return [html`${t}`];
    const out: Html[] = [];
    for (let i = 0; i < t.length; i += STEP) {
      out.push(i === 0 ? html`${t.slice(i, i + STEP)}` : html`<wbr />${t.slice(i, i + STEP)}`);
    }
    return out;
  });
  return html`${parts}`;
}
