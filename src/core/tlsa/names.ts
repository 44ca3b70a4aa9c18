/**
 * TLSA field values and their RFC 7218 mnemonics (IANA "DANE" registries, RFC 6698 §7.2–7.4).
 * Lookups are case-insensitive because zone tools and people write them every which way.
 */
export const USAGE_NAMES: Readonly<Record<number, string>> = {
  0: 'PKIX-TA',
  1: 'PKIX-EE',
  2: 'DANE-TA',
  3: 'DANE-EE',
  255: 'PrivCert',
};

export const SELECTOR_NAMES: Readonly<Record<number, string>> = {
  0: 'Cert',
  1: 'SPKI',
  255: 'PrivSel',
};

export const MTYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'Full',
  1: 'SHA2-256',
  2: 'SHA2-512',
  255: 'PrivMatch',
};

export type Field = 'usage' | 'selector' | 'mtype';

const TABLES: Record<Field, Readonly<Record<number, string>>> = {
  usage: USAGE_NAMES,
  selector: SELECTOR_NAMES,
  mtype: MTYPE_NAMES,
};

/** Mnemonic of a value, or undefined for an unassigned one. */
export function fieldName(field: Field, value: number): string | undefined {
  return TABLES[field][value];
}

/**
 * Reads a field given as a decimal octet or an RFC 7218 mnemonic. Returns undefined when the
 * text is neither, so callers can name the field in their own error.
 */
export function fieldValue(field: Field, text: string): number | undefined {
  if (/^[0-9]{1,3}$/.test(text)) {
    const n = Number(text);
    return n <= 255 ? n : undefined;
  }
  const lower = text.toLowerCase();
  for (const [value, name] of Object.entries(TABLES[field])) {
    if (name.toLowerCase() === lower) return Number(value);
  }
  return undefined;
}

/**
 * RFC 6698 §7.2–7.4: 255 in each field (RFC 7218: PrivCert, PrivSel, PrivMatch) is reserved for
 * private use, meaningful only between parties that agreed on it. Every other value above the
 * assigned ones is unassigned.
 */
export const PRIVATE_USE = 255;

/** "3 (DANE-EE)", "255 (PrivCert)" or "7 (unassigned)" for reports. */
export function describeField(field: Field, value: number): string {
  return `${value} (${fieldName(field, value) ?? 'unassigned'})`;
}
