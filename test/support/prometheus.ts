/**
 * A small, strict reader of the Prometheus text exposition format 0.0.4, for tests: every
 * line must be a HELP, a TYPE, or a sample of a metric whose HELP and TYPE came first; label
 * values must be properly escaped; no series may appear twice. Throws on the first violation.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseLabels(s: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`label without '=': ${line}`);
    const name = s.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name ${name}: ${line}`);
    if (s[eq + 1] !== '"') throw new Error(`label value not quoted: ${line}`);
    let j = eq + 2;
    let v = '';
    for (;;) {
      const c = s[j];
      if (c === undefined) throw new Error(`unterminated label value: ${line}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = s[j + 1];
        if (n === '\\') v += '\\';
        else if (n === '"') v += '"';
        else if (n === 'n') v += '\n';
        else throw new Error(`bad escape \\${n}: ${line}`);
        j += 2;
        continue;
      }
      if (c === '\n') throw new Error(`raw newline in label value: ${line}`);
      v += c;
      j++;
    }
    if (Object.hasOwn(out, name)) throw new Error(`label ${name} twice: ${line}`);
    out[name] = v;
    i = j + 1;
    if (i < s.length) {
      if (s[i] !== ',') throw new Error(`expected ',' between labels: ${line}`);
      i++;
    }
  }
  return out;
}

export function parsePrometheus(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const help = new Set<string>();
  const type = new Map<string, string>();
  const series = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') throw new Error('empty line');
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      if (!NAME.test(m[1]!) || help.has(m[1]!)) throw new Error(`bad or repeated HELP: ${line}`);
      help.add(m[1]!);
      continue;
    }
    m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      if (!NAME.test(m[1]!) || type.has(m[1]!) || !TYPES.has(m[2]!))
        throw new Error(`bad or repeated TYPE: ${line}`);
      type.set(m[1]!, m[2]!);
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unknown comment: ${line}`);
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?[0-9]+))?$/.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const name = m[1]!;
    if (!type.has(name) || !help.has(name)) throw new Error(`sample before HELP/TYPE: ${line}`);
    const labels = m[2] ? parseLabels(m[2], line) : {};
    const raw = m[3]!;
    const value =
      raw === 'NaN' ? NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (!/^(NaN|[+-]Inf|-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?)$/.test(raw))
      throw new Error(`bad value: ${line}`);
    if (type.get(name) === 'counter' && !(value >= 0)) throw new Error(`negative counter: ${line}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`duplicate series: ${line}`);
    series.add(key);
    samples.push({ name, labels, value });
  }
  return samples;
}

export function sample(
  ss: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return ss.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}
