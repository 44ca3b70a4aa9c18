/**
 * TSIG key files as `nsupdate -k` takes them:
 *
 *  - the BIND configuration format that `tsig-keygen` and `ddns-confgen` print:
 *      key "name" { algorithm hmac-sha256; secret "base64"; };
 *    with `#`, `//` and C comments, and possibly several keys (one is chosen by name);
 *  - the older dnssec-keygen pair `K<name>.+165+NNNNN.private` (`Private-key-format: v1.x`,
 *    `Algorithm: 165 (HMAC_SHA512)`, `Key: base64`) and its `.key` file (`name. IN KEY 512 3 165
 *    base64`), the key name taken from the file name or the KEY record.
 *
 * Pure: the caller reads the file. A malformed file is a DkError (config, E_TSIG_KEYFILE) whose
 * one-line message names the file and what is wrong, with a line number, and never quotes the
 * file's text other than key names and known algorithm names: a secret must not end up in a log
 * because it sat one token off.
 */
import { DkError } from '../../core/errors.js';

/**
 * RFC 8945 §6: hmac-sha256 MUST be implemented and is RECOMMENDED; hmac-sha1 MUST be
 * implemented but its use is NOT RECOMMENDED (accepted, see tsigKeyWarnings); hmac-md5 MUST NOT
 * be used, so a key of that algorithm is refused here rather than carried around.
 */
export type TsigAlgorithm =
  'hmac-sha256' | 'hmac-sha512' | 'hmac-sha384' | 'hmac-sha224' | 'hmac-sha1';

export interface TsigKey {
  /** the key name as the server knows it, lower case, without the trailing dot */
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = [
  'hmac-sha256',
  'hmac-sha512',
  'hmac-sha384',
  'hmac-sha224',
  'hmac-sha1',
];

/** dnssec-keygen's algorithm numbers for HMAC keys (BIND's dst_api, `K*.+NNN+*`). */
const KEYFILE_ALGORITHMS: Readonly<Record<number, TsigAlgorithm | 'hmac-md5'>> = {
  157: 'hmac-md5',
  161: 'hmac-sha1',
  162: 'hmac-sha224',
  163: 'hmac-sha256',
  164: 'hmac-sha384',
  165: 'hmac-sha512',
};

/** Names we may quote in messages: they are not secrets and the user needs to see them. */
const KNOWN_UNSUPPORTED = new Set([
  'hmac-md5',
  'hmac-md5.sig-alg.reg.int',
  'hmac-sha1-80',
  'hmac-sha224-112',
  'hmac-sha256-128',
  'hmac-sha384-192',
  'hmac-sha512-256',
  'gss-tsig',
]);

/** Warnings worth showing for a key that works (RFC 8945 §6). */
export function tsigKeyWarnings(key: TsigKey): string[] {
  return key.algorithm === 'hmac-sha1'
    ? [
        `TSIG key "${key.name}" uses hmac-sha1, which RFC 8945 §6 does not recommend; ` +
          'make an hmac-sha256 key with tsig-keygen',
      ]
    : [];
}

export interface ParseKeyOptions {
  /** with several keys in the file, the one to use */
  name?: string;
}

class KeyFileError extends Error {
  constructor(
    readonly what: string,
    readonly line?: number,
  ) {
    super(what);
  }
}

function fail(what: string, line?: number): never {
  throw new KeyFileError(what, line);
}

/**
 * How messages name where the key came from. `source` is a path, `file /path` (as readSecret
 * describes a file) or `$NAME` (an environment variable): never "TSIG key file file /path".
 */
function describeSource(source: string): string {
  return source.startsWith('$')
    ? `TSIG key in ${source}`
    : `TSIG key file ${source.replace(/^file /, '')}`;
}

function wrap(e: unknown, source: string): DkError {
  const what = describeSource(source);
  if (e instanceof KeyFileError) {
    const where = e.line === undefined ? '' : ` line ${e.line}`;
    return new DkError('config', 'E_TSIG_KEYFILE', `${what}${where}: ${e.what}`);
  }
  return new DkError('config', 'E_TSIG_KEYFILE', `${what}: cannot be read as a key file`);
}

/** RFC 4648 §4, strictly: whole quanta, padding only at the end. */
function decodeBase64(text: string, line: number): Buffer {
  const s = text.replace(/\s+/g, '');
  if (s.length === 0) fail('the secret is empty', line);
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s))
    fail('the secret is not valid base64', line);
  return Buffer.from(s, 'base64');
}

/** Key names are domain names (RFC 8945 §4.2: the TSIG RR's owner); keep to host-name letters. */
function keyName(raw: string, line: number): string {
  const name = raw.replace(/\.$/, '').toLowerCase();
  const labels = name.split('.');
  if (
    name.length === 0 ||
    name.length > 253 ||
    labels.some((l) => l.length === 0 || l.length > 63 || !/^[a-z0-9_-]+$/.test(l))
  )
    fail('the key name is not a domain name of letters, digits, "-" and "_"', line);
  return name;
}

function algorithm(raw: string, line: number): TsigAlgorithm {
  const a = raw.toLowerCase().replace(/\.$/, '');
  if ((TSIG_ALGORITHMS as readonly string[]).includes(a)) return a as TsigAlgorithm;
  if (a === 'hmac-md5' || a === 'hmac-md5.sig-alg.reg.int')
    fail(
      'algorithm hmac-md5 must not be used (RFC 8945 §6); make an hmac-sha256 key with tsig-keygen',
      line,
    );
  if (KNOWN_UNSUPPORTED.has(a))
    fail(`algorithm ${a} is not supported; use hmac-sha256 or hmac-sha512`, line);
  return fail('unknown algorithm; use hmac-sha256 or hmac-sha512', line);
}

// ---- BIND configuration format -------------------------------------------------------------

type Token =
  | { t: 'word'; v: string; line: number }
  | { t: 'string'; v: string; line: number }
  | { t: 'punct'; v: '{' | '}' | ';'; line: number };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      // Any other white space, Unicode's included (a NO-BREAK SPACE pasted from a web page):
      // the word branch below stops at \s too, so treating fewer characters as space here
      // would leave it stuck on one, pushing empty words until memory runs out.
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const start = line;
      i += 2;
      while (i < n && !(text[i] === '*' && text[i + 1] === '/')) {
        if (text[i] === '\n') line++;
        i++;
      }
      if (i >= n) fail('a /* comment is never closed', start);
      i += 2;
    } else if (c === '{' || c === '}' || c === ';') {
      out.push({ t: 'punct', v: c, line });
      i++;
    } else if (c === '"') {
      const start = line;
      let v = '';
      i++;
      for (;;) {
        if (i >= n) fail('a quoted string is never closed', start);
        const d = text[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < n) {
          v += text[i + 1];
          if (text[i + 1] === '\n') line++;
          i += 2;
          continue;
        }
        if (d === '\n') line++;
        v += d;
        i++;
      }
      i++;
      out.push({ t: 'string', v, line: start });
    } else {
      let v = '';
      while (
        i < n &&
        !/[\s{};"#]/.test(text[i]!) &&
        !(text[i] === '/' && /[/*]/.test(text[i + 1] ?? ''))
      ) {
        v += text[i];
        i++;
      }
      // Defensive: a character no branch consumes must still move the scan on.
      if (v === '')
        fail(
          `unexpected character U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`,
          line,
        );
      out.push({ t: 'word', v, line });
    }
  }
  return out;
}

function parseConf(text: string): TsigKey[] {
  const toks = tokenize(text);
  let p = 0;
  const lastLine = () => toks[toks.length - 1]?.line ?? 1;
  const peek = () => toks[p];
  const next = (expect: string): Token => {
    const t = toks[p++];
    if (!t) fail(`the file ends where ${expect} was expected`, lastLine());
    return t;
  };
  const punct = (v: '{' | '}' | ';', after: string) => {
    const t = next(`"${v}" ${after}`);
    if (t.t !== 'punct' || t.v !== v) fail(`"${v}" expected ${after}`, t.line);
  };
  /**
   * Skips a statement we do not need (options, zone, update-policy...), braces balanced. The
   * last one may run to the end of the file: ddns-confgen ends its output with a bare
   * `nsupdate -k <keyfile>` hint, and people save that output whole.
   */
  const skipStatement = () => {
    let depth = 0;
    for (;;) {
      if (p >= toks.length && depth === 0) return;
      const t = next('the end of a statement');
      if (t.t !== 'punct') continue;
      if (t.v === '{') depth++;
      else if (t.v === '}') {
        depth--;
        if (depth < 0) fail('unbalanced "}"', t.line);
      } else if (depth === 0) return;
    }
  };

  const keys: TsigKey[] = [];
  while (p < toks.length) {
    const t = next('a statement');
    if (t.t === 'punct' && t.v === ';') continue;
    if (t.t === 'punct') fail(`unexpected "${t.v}"`, t.line);
    if (t.t !== 'word' || t.v.toLowerCase() !== 'key') {
      p--;
      skipStatement();
      continue;
    }
    const nameTok = next('a key name');
    if (nameTok.t === 'punct') fail('a key name is expected after "key"', nameTok.line);
    const name = keyName(nameTok.v, nameTok.line);
    punct('{', `after key "${name}"`);
    let alg: TsigAlgorithm | undefined;
    let secret: Buffer | undefined;
    for (;;) {
      const c = next(`"}" closing key "${name}"`);
      if (c.t === 'punct' && c.v === '}') break;
      if (c.t === 'punct' && c.v === ';') continue;
      const clause = c.t === 'word' ? c.v.toLowerCase() : '';
      if (clause === 'algorithm') {
        if (alg) fail(`key "${name}" has two algorithm clauses`, c.line);
        const v = next('an algorithm name');
        if (v.t === 'punct') fail('an algorithm name is expected after "algorithm"', v.line);
        alg = algorithm(v.v, v.line);
      } else if (clause === 'secret') {
        if (secret) fail(`key "${name}" has two secret clauses`, c.line);
        const v = next('a secret');
        if (v.t === 'punct') fail('a base64 secret is expected after "secret"', v.line);
        secret = decodeBase64(v.v, v.line);
      } else {
        // Not echoed: a garbled file may put anything, the secret included, where a clause
        // name should be.
        fail(`key "${name}" has a clause other than algorithm and secret`, c.line);
      }
      punct(';', `after a clause of key "${name}"`);
    }
    if (peek()?.t === 'punct' && peek()!.v === ';') p++;
    else fail(`";" expected after the closing "}" of key "${name}"`, toks[p]?.line ?? lastLine());
    if (!alg) fail(`key "${name}" has no algorithm clause`, nameTok.line);
    if (!secret) fail(`key "${name}" has no secret clause`, nameTok.line);
    if (keys.some((k) => k.name === name)) fail(`key "${name}" is defined twice`, nameTok.line);
    keys.push({ name, algorithm: alg, secret });
  }
  return keys;
}

// ---- dnssec-keygen K-files -----------------------------------------------------------------

function keyAlgorithm(num: number, line: number): TsigAlgorithm {
  const a = KEYFILE_ALGORITHMS[num];
  if (!a) fail(`algorithm ${num} is not an HMAC algorithm (157, 161-165)`, line);
  return algorithm(a, line);
}

/** `Private-key-format: v1.3` ... `Algorithm: 165 (HMAC_SHA512)` ... `Key: base64`. */
function parsePrivate(text: string, source: string): TsigKey {
  let alg: TsigAlgorithm | undefined;
  let secret: Buffer | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const l = raw.trim();
    if (l === '') return;
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(l);
    if (!m) fail('a line is not "Field: value"', line);
    const field = m[1]!.toLowerCase();
    if (field === 'private-key-format') {
      if (!/^v1\.\d+$/.test(m[2]!)) fail('unknown Private-key-format version', line);
    } else if (field === 'algorithm') {
      const a = /^(\d{1,3})\b/.exec(m[2]!);
      if (!a) fail('the Algorithm field is not a number', line);
      alg = keyAlgorithm(Number(a[1]), line);
    } else if (field === 'key') {
      secret = decodeBase64(m[2]!, line);
    }
  });
  if (!alg) fail('no Algorithm field');
  if (!secret) fail('no Key field');
  return { name: nameFromFile(source), algorithm: alg, secret };
}

/** BIND's dst names the files `K<name>.+<alg>+<id>.private`; the name carries its final dot. */
function nameFromFile(source: string): string {
  const base = source.split(/[\\/]/).pop() ?? '';
  const m = /^K(.+)\.\+(\d{3})\+(\d{5})\.(private|key)$/.exec(base);
  if (!m) fail('the key name comes from the file name, which is not K<name>.+NNN+NNNNN.private');
  return keyName(m[1]!, 1);
}

/** The `.key` half: `name. [TTL] [IN] KEY 512 3 165 base64...`. */
function parseKeyRr(text: string): TsigKey | null {
  const lines = text
    .split('\n')
    .map((l, i) => ({ l: l.replace(/;.*$/, '').trim(), line: i + 1 }))
    .filter((x) => x.l !== '');
  if (lines.length !== 1) return null;
  const { l, line } = lines[0]!;
  const m = /^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?KEY\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+)$/i.exec(l);
  if (!m) return null;
  if (m[3] !== '3') fail('the KEY record does not have protocol 3 (DNSSEC)', line);
  return {
    name: keyName(m[1]!, line),
    algorithm: keyAlgorithm(Number(m[4]), line),
    secret: decodeBase64(m[5]!, line),
  };
}

/**
 * Parses one TSIG key out of a key file. `source` (the path) names the file in messages and,
 * for `K*.private` files, gives the key name.
 */
export function parseTsigKeyFile(
  text: string,
  source: string,
  opts: ParseKeyOptions = {},
): TsigKey {
  try {
    if (text.includes('\0')) fail('the file is binary, not a key file');
    if (/^\s*Private-key-format:/i.test(text)) return parsePrivate(text, source);
    const rr = parseKeyRr(text);
    if (rr) return rr;
    const keys = parseConf(text);
    if (keys.length === 0) fail('no key "name" { algorithm ...; secret "..."; }; statement found');
    if (opts.name !== undefined) {
      const want = opts.name.replace(/\.$/, '').toLowerCase();
      const k = keys.find((x) => x.name === want);
      if (!k) fail(`there is no key "${want}" (only ${keys.map((x) => `"${x.name}"`).join(', ')})`);
      return k;
    }
    if (keys.length > 1)
      fail(
        `it holds ${keys.length} keys (${keys.map((x) => `"${x.name}"`).join(', ')}); choose one by name`,
      );
    return keys[0]!;
  } catch (e) {
    throw wrap(e, source);
  }
}
