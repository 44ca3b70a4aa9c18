/**
 * A line diff for showing what a zone-file edit would change (dry runs): unified-diff hunks
 * without context lines. Myers' O(ND) algorithm ("An O(ND) Difference Algorithm and Its
 * Variations", 1986): a TLSA edit changes a handful of lines, so D is tiny and even a large
 * zone file diffs in linear time. Pure: text in, lines out.
 */

type Op = { kind: ' ' | '-' | '+'; line: string };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The shortest edit script from `a` to `b`, as a sequence of kept/removed/added lines. */
function myers(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let done = false;
  for (let d = 0; d <= max && !done; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!)
          ? v[off + k + 1]!
          : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        done = true;
        break;
      }
    }
  }
  // Walk the trace back from (n, m) to (0, 0).
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[off + k - 1]! < vd[off + k + 1]!) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : vd[off + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ kind: ' ', line: a[x - 1]! });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) ops.push({ kind: '+', line: b[y - 1]! });
      else ops.push({ kind: '-', line: a[x - 1]! });
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

/**
 * `--- name` / `+++ name` and one `@@ -l,s +l,s @@` hunk per run of changed lines, with no
 * context lines; [] when the texts hold the same lines.
 */
export function lineDiff(
  before: string,
  after: string,
  fromName: string,
  toName: string,
): string[] {
  const ops = myers(splitLines(before), splitLines(after));
  const out: string[] = [];
  let aLine = 1;
  let bLine = 1;
  for (let i = 0; i < ops.length;) {
    if (ops[i]!.kind === ' ') {
      aLine++;
      bLine++;
      i++;
      continue;
    }
    const start = i;
    while (i < ops.length && ops[i]!.kind !== ' ') i++;
    const run = ops.slice(start, i);
    const removed = run.filter((o) => o.kind === '-');
    const added = run.filter((o) => o.kind === '+');
    // Unified diff: a side with no lines names the line before the hunk.
    const aStart = removed.length === 0 ? aLine - 1 : aLine;
    const bStart = added.length === 0 ? bLine - 1 : bLine;
    if (out.length === 0) out.push(`--- ${fromName}`, `+++ ${toName}`);
    out.push(`@@ -${aStart},${removed.length} +${bStart},${added.length} @@`);
    for (const o of removed) out.push(`-${o.line}`);
    for (const o of added) out.push(`+${o.line}`);
    aLine += removed.length;
    bLine += added.length;
  }
  return out;
}
