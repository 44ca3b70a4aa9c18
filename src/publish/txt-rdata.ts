/**
 * TXT RDATA (RFC 1035 §3.3.14): one or more <character-string>s of at most 255 octets. A value
 * here is one RR's text, its strings joined; writing splits it again. Wire form for rfc2136,
 * presentation form (quoted, RFC 1035 §5.1 escapes) for the PowerDNS API and zone files.
 */

function chunks(value: string): Buffer[] {
  const bytes = Buffer.from(value, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}

export function encodeTxtRdata(value: string): Buffer {
  return Buffer.concat(chunks(value).flatMap((c) => [Buffer.from([c.length]), c]));
}

export function decodeTxtRdata(rdata: Buffer): string {
  return txtStringsValue(txtRdataStrings(rdata));
}

/** A value's character-strings: its UTF-8 bytes in pieces of at most 255 (RFC 1035 §3.3.14). */
export function txtValueStrings(value: string): Buffer[] {
  return chunks(value);
}

/** The value of an RR's character-strings: joined, read as UTF-8. */
export function txtStringsValue(strings: Buffer[]): string {
  return Buffer.concat(strings).toString('utf8');
}

/**
 * Character-strings in presentation form (RFC 1035 §5.1): each quoted, `"` and `\` escaped,
 * bytes outside printable ASCII as \DDD, so the text is plain ASCII whatever the bytes.
 */
export function txtStringsPresentation(strings: Buffer[]): string {
  return strings
    .map((c) => {
      let s = '"';
      for (const b of c) {
        if (b === 0x22 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
        else if (b < 0x20 || b > 0x7e) s += `\\${String(b).padStart(3, '0')}`;
        else s += String.fromCharCode(b);
      }
      return s + '"';
    })
    .join(' ');
}

/** `"part1" "part2"`: quotes and backslashes escaped, other bytes outside printable ASCII as \DDD. */
export function txtPresentation(value: string): string {
  return txtStringsPresentation(chunks(value));
}

/**
 * One <character-string> token of a master file (RFC 1035 §5.1), quoted or not, as the file's
 * bytes (a latin1 string: one char per byte): its escapes `\X` and `\DDD` decoded. Throws an
 * Error saying why for a \DDD above 255 or a string longer than 255 octets (RFC 1035 §3.3).
 */
export function txtTokenBytes(token: string): Buffer {
  const quoted = token.length >= 2 && token.startsWith('"') && token.endsWith('"');
  const t = quoted ? token.slice(1, -1) : token;
  const out: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i) & 0xff;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const d = /^[0-9]{3}/.exec(t.slice(i + 1));
    if (d) {
      const v = Number(d[0]);
      if (v > 255) throw new Error(`"\\${d[0]}" is not a byte`);
      out.push(v);
      i += 3;
    } else if (i + 1 < t.length) {
      out.push(t.charCodeAt(i + 1) & 0xff);
      i++;
    } else throw new Error('a string ends in a backslash');
  }
  if (out.length > 255) {
    throw new Error(`a character-string of ${out.length} octets (at most 255)`);
  }
  return Buffer.from(out);
}

/** The character-strings of wire-form TXT RDATA (for RFC 3597 `\# n hex` in a file). */
export function txtRdataStrings(rdata: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < rdata.length;) {
    const n = rdata[i]!;
    if (i + 1 + n > rdata.length) throw new Error('a TXT character-string runs past its RDATA');
    parts.push(Buffer.from(rdata.subarray(i + 1, i + 1 + n)));
    i += 1 + n;
  }
  return parts;
}

/**
 * The value of TXT RDATA in presentation form: quoted or bare <character-string>s, joined.
 * Returns undefined when a quote is left open.
 */
export function parseTxtPresentation(text: string): string | undefined {
  const out: number[] = [];
  let i = 0;
  const t = text.trim();
  while (i < t.length) {
    if (t[i] === ' ' || t[i] === '\t') {
      i++;
      continue;
    }
    const quoted = t[i] === '"';
    if (quoted) i++;
    for (;;) {
      if (i >= t.length) {
        if (quoted) return undefined;
        break;
      }
      const ch = t[i]!;
      if (quoted ? ch === '"' : ch === ' ' || ch === '\t') {
        i++;
        break;
      }
      if (ch === '\\') {
        const d = /^\d{3}/.exec(t.slice(i + 1));
        if (d) {
          out.push(Number(d[0]));
          i += 4;
        } else {
          out.push(...Buffer.from(t[i + 1] ?? '', 'utf8'));
          i += 2;
        }
        continue;
      }
      out.push(...Buffer.from(ch, 'utf8'));
      i++;
    }
  }
  return Buffer.from(out).toString('utf8');
}
