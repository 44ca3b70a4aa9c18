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
  const parts: Buffer[] = [];
  for (let i = 0; i < rdata.length;) {
    const n = rdata[i]!;
    if (i + 1 + n > rdata.length) throw new Error('a TXT character-string runs past its RDATA');
    parts.push(rdata.subarray(i + 1, i + 1 + n));
    i += 1 + n;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** `"part1" "part2"`: quotes and backslashes escaped, other bytes outside printable ASCII as \DDD. */
export function txtPresentation(value: string): string {
  return chunks(value)
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
