/**
 * The "add TLSA record" form of the panel and the API (issue 11; the seed's Plesk form: port,
 * protocol, domain name, usage, selector, matching type, data, TTL where blank takes the zone's
 * default), validated with the rules the CLI applies (core/tlsa): every field's error at once,
 * so a form can mark them all, and on success the owner name and the record exactly as
 * `danekeeper tlsa explain` would read them back. Pure; never throws, whatever it is given.
 */
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { certFromDer } from '../x509/cert.js';
import { describeField, fieldValue, PRIVATE_USE, type Field } from '../tlsa/names.js';
import { fromHex } from '../tlsa/hex.js';
import { formatRdata, formatZoneLine } from '../tlsa/format.js';
import type { TlsaRecord, TransportProto } from '../tlsa/record.js';
import { DIGEST_LENGTH, usability } from '../tlsa/usable.js';

export const TLSA_FORM_FIELDS = [
  'port',
  'protocol',
  'name',
  'usage',
  'selector',
  'mtype',
  'data',
  'ttl',
] as const;
export type TlsaFormField = (typeof TLSA_FORM_FIELDS)[number];

/** What a form posts (all text) or an API client sends (numbers where they are numbers). */
export interface TlsaFormInput {
  port?: string | number;
  protocol?: string;
  /** the host the service runs on, e.g. mail.example.org (the form's "domain name") */
  name?: string;
  /** a number or an RFC 7218 name: DANE-EE, SPKI, SHA2-256, ... */
  usage?: string | number;
  selector?: string | number;
  mtype?: string | number;
  /** hex; spaces and line breaks between digits are allowed, as in a zone file */
  data?: string;
  /** blank (or absent) for the zone's default TTL */
  ttl?: string | number | null;
}

export interface TlsaFormError {
  field: TlsaFormField;
  message: string;
}

export type TlsaFormResult =
  | {
      ok: true;
      /** `_PORT._PROTO.HOST.` (RFC 6698 §3), lower case, absolute */
      owner: string;
      /** the user's zone that holds the owner (absolute) */
      zone: string;
      record: TlsaRecord;
      /** `3 1 1 <hex>`, the CLI's rdata form */
      rdata: string;
      /** null: the zone's default */
      ttl: number | null;
      /** the record as a zone-file line */
      line: string;
      /** valid but unusable by some clients (RFC 7672 §3.1.3 for PKIX usages on SMTP ports) */
      warnings: string[];
    }
  | { ok: false; errors: TlsaFormError[] };

/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
export const MAX_TTL = 2 ** 31 - 1;
const PROTOCOLS: readonly TransportProto[] = ['tcp', 'udp', 'sctp'];
/** RFC 6698 §7.2–7.4: the assigned values a record meant for public clients may hold. */
const ASSIGNED_MAX: Record<Field, number> = { usage: 3, selector: 1, mtype: 2 };
const LABEL: Record<Field, string> = {
  usage: 'certificate usage',
  selector: 'selector',
  mtype: 'matching type',
};
/**
 * RFC 7672 (SMTP between MTAs) applies on port 25 only, as the CLI's check decides; submission
 * ports are clients with a CA list, where the generic RFC 7671 rules hold.
 */
const SMTP_PORT = 25;

const blank = (v: unknown) =>
  v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/** A whole number from text or a number; undefined when it is neither. */
function wholeNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*[0-9]{1,16}\s*$/.test(v)) return Number(v.trim());
  return undefined;
}

/** A host name as the owner's tail: lower case, no final dot, labels per RFC 1035 §2.3.4. */
function hostName(v: string): string | undefined {
  const name = v.trim().replace(/\.$/, '').toLowerCase();
  const labels = name.split('.');
  // RFC 1035 §2.3.4: the owner, with `_65535._sctp.` (13 characters) before the host, must
  // still fit in 253 characters of presentation form (255 octets on the wire).
  if (name.length === 0 || name.length > 253 - 13) return undefined;
  if (labels.some((l) => l.length === 0 || l.length > 63 || !/^[a-z0-9_-]+$/.test(l))) {
    // RFC 4592: `*` is a wildcard only as a whole leftmost label.
    if (!(labels[0] === '*' && labels.slice(1).every((l) => /^[a-z0-9_-]{1,63}$/.test(l))))
      return undefined;
  }
  return name;
}

/** A zone of the user's as compared: no final dot, lower case; '' for anything but a name. */
const zoneName = (z: unknown) =>
  typeof z === 'string' ? z.trim().replace(/\.$/, '').toLowerCase() : '';

function numberField(f: Field, v: unknown, errors: TlsaFormError[]): number | undefined {
  if (blank(v)) {
    errors.push({ field: f, message: `The ${LABEL[f]} is required.` });
    return undefined;
  }
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : undefined;
  const n = text === undefined ? undefined : fieldValue(f, text);
  if (n === undefined) {
    errors.push({
      field: f,
      message: `The ${LABEL[f]} must be a number from 0 to ${ASSIGNED_MAX[f]} or an RFC 7218 name.`,
    });
    return undefined;
  }
  if (n > ASSIGNED_MAX[f]) {
    // RFC 6698 §4.1: a client treats such a record as unusable; the CLI reads it, the form
    // publishes records, so it refuses what no public client can use.
    errors.push({
      field: f,
      message:
        n === PRIVATE_USE
          ? `The ${LABEL[f]} ${describeField(f, n)} is reserved for private use (RFC 6698 §7): no public client supports it.`
          : `The ${LABEL[f]} ${describeField(f, n)} is not assigned (RFC 6698 §7): clients cannot use the record.`,
    });
    return undefined;
  }
  return n;
}

/** Hex as the CLI's parser takes it: digits, with spaces and line breaks between them. */
function hexData(v: unknown, errors: TlsaFormError[]): Buffer | undefined {
  if (blank(v)) {
    errors.push({ field: 'data', message: 'The certificate association data is required.' });
    return undefined;
  }
  if (typeof v !== 'string') {
    errors.push({ field: 'data', message: 'The data must be text (hex digits).' });
    return undefined;
  }
  const digits = v.replace(/\s+/g, '');
  try {
    return fromHex(digits, 'The data');
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    errors.push({ field: 'data', message: `${msg.replace(/\.$/, '')}.` });
    return undefined;
  }
}

/** RFC 6698 §2.1.3: Full (0) data is the whole certificate (selector 0) or SPKI (selector 1). */
function fullDataError(selector: number, data: Buffer): string | undefined {
  if (selector === 0) {
    try {
      certFromDer(data, 'The data');
      return undefined;
    } catch {
      return 'With selector 0 (Cert) and matching type 0 (Full), the data must be a whole DER certificate; this is not one.';
    }
  }
  try {
    createPublicKey({ key: data, format: 'der', type: 'spki' });
    return undefined;
  } catch {
    return 'With selector 1 (SPKI) and matching type 0 (Full), the data must be a DER SubjectPublicKeyInfo; this is not one.';
  }
}

/**
 * Validates the form against the user's zones (names as `example.org` or `example.org.`).
 * Unknown extra properties are ignored; anything that is not an object counts as an empty form.
 */
export function validateTlsaForm(input: unknown, zones: readonly string[]): TlsaFormResult {
  const f: Record<string, unknown> =
    typeof input === 'object' && input !== null && !Array.isArray(input)
      ? (input as Record<string, unknown>)
      : {};
  const errors: TlsaFormError[] = [];

  let port: number | undefined;
  if (blank(f.port)) errors.push({ field: 'port', message: 'The port is required.' });
  else {
    port = wholeNumber(f.port);
    // RFC 6698 §3: the port the service listens on; port 0 is no service.
    if (port === undefined || port < 1 || port > 65535) {
      errors.push({ field: 'port', message: 'The port must be a number from 1 to 65535.' });
      port = undefined;
    }
  }

  let protocol: TransportProto | undefined;
  if (blank(f.protocol)) errors.push({ field: 'protocol', message: 'The protocol is required.' });
  else {
    const p = typeof f.protocol === 'string' ? f.protocol.trim().toLowerCase() : '';
    if ((PROTOCOLS as readonly string[]).includes(p)) protocol = p as TransportProto;
    else errors.push({ field: 'protocol', message: 'The protocol must be tcp, udp or sctp.' });
  }

  let host: string | undefined;
  let zone: string | undefined;
  if (blank(f.name)) errors.push({ field: 'name', message: 'The domain name is required.' });
  else if (typeof f.name !== 'string' || (host = hostName(f.name)) === undefined) {
    errors.push({
      field: 'name',
      // only text is quoted back: String() of an object runs its own toString, which may throw
      message:
        typeof f.name === 'string'
          ? `"${f.name.slice(0, 80)}" is not a valid domain name.`
          : 'The domain name must be text (a host name).',
    });
  } else {
    // The closest enclosing zone: records go where the user may publish, and nowhere else.
    const h = host;
    const mine = (Array.isArray(zones) ? zones : []).map(zoneName).filter((z) => z !== '');
    zone = mine
      .filter((z) => h === z || h.endsWith(`.${z}`))
      .sort((a, b) => b.length - a.length)[0];
    if (zone === undefined) {
      errors.push({
        field: 'name',
        message:
          mine.length === 0
            ? `${h} is in none of your zones: you have none.`
            : `${h} is in none of your zones (${mine.join(', ')}).`,
      });
    }
  }

  const usage = numberField('usage', f.usage, errors);
  const selector = numberField('selector', f.selector, errors);
  const mtype = numberField('mtype', f.mtype, errors);
  const data = hexData(f.data, errors);
  if (data !== undefined && mtype !== undefined) {
    const want = DIGEST_LENGTH[mtype];
    if (want !== undefined && data.length !== want) {
      errors.push({
        field: 'data',
        message: `A ${describeField('mtype', mtype)} digest is ${want} bytes (${want * 2} hex digits); this has ${data.length}.`,
      });
    } else if (mtype === 0 && selector !== undefined) {
      const why = fullDataError(selector, data);
      if (why) errors.push({ field: 'data', message: why });
    }
  }

  let ttl: number | null = null;
  if (!blank(f.ttl)) {
    const t = wholeNumber(f.ttl);
    if (t === undefined || t > MAX_TTL) {
      errors.push({
        field: 'ttl',
        message: `The TTL must be a number of seconds from 0 to ${MAX_TTL}, or blank for the zone's default.`,
      });
    } else ttl = t;
  }

  if (
    errors.length > 0 ||
    port === undefined ||
    protocol === undefined ||
    host === undefined ||
    zone === undefined ||
    usage === undefined ||
    selector === undefined ||
    mtype === undefined ||
    data === undefined
  ) {
    return { ok: false, errors };
  }
  const owner = `_${port}._${protocol}.${host}.`;
  const record: TlsaRecord = { usage, selector, mtype, data };
  const warnings =
    port === SMTP_PORT && protocol === 'tcp' ? usability(record, 'smtp').reasons : [];
  return {
    ok: true,
    owner,
    zone: `${zone}.`,
    record,
    rdata: formatRdata(record),
    ttl,
    line: formatZoneLine(owner, record, ttl ?? undefined),
    warnings,
  };
}

// ------------------------------------------------------------------------------ zod

const textOrNumber = z.union([z.string(), z.number()]);

/**
 * The form's shape, for documents (an OpenAPI schema is generated from it later): every field
 * optional as sent, since which are missing is the validator's to say, field by field.
 */
export const tlsaFormInputSchema = z.object({
  port: textOrNumber.optional().describe('1 to 65535'),
  protocol: z.string().optional().describe('tcp, udp or sctp'),
  name: z.string().optional().describe('the host, inside one of your zones: mail.example.org'),
  usage: textOrNumber.optional().describe('0-3 or PKIX-TA, PKIX-EE, DANE-TA, DANE-EE'),
  selector: textOrNumber.optional().describe('0-1 or Cert, SPKI'),
  mtype: textOrNumber.optional().describe('0-2 or Full, SHA2-256, SHA2-512'),
  data: z.string().optional().describe('hex; a digest, or the DER for matching type 0'),
  ttl: z
    .union([z.string(), z.number(), z.null()])
    .optional()
    .describe("seconds; blank for the zone's default"),
});

export const tlsaFormErrorSchema = z.object({
  field: z.enum(TLSA_FORM_FIELDS),
  message: z.string(),
});

/** What the API answers for an accepted form (the record's data as hex). */
export const tlsaFormRecordSchema = z.object({
  owner: z.string(),
  zone: z.string(),
  usage: z.number().int().min(0).max(ASSIGNED_MAX.usage),
  selector: z.number().int().min(0).max(ASSIGNED_MAX.selector),
  mtype: z.number().int().min(0).max(ASSIGNED_MAX.mtype),
  data: z.string().regex(/^([0-9a-f]{2})+$/),
  rdata: z.string(),
  ttl: z.number().int().min(0).max(MAX_TTL).nullable(),
  warnings: z.array(z.string()),
});

/**
 * The form's schema checked against the user's zones: a failed parse carries one issue per
 * field error, its path the field, its message the validator's.
 */
export function tlsaFormSchema(zones: readonly string[]) {
  return tlsaFormInputSchema.transform((v, ctx) => {
    const r = validateTlsaForm(v, zones);
    if (!r.ok) {
      for (const e of r.errors)
        ctx.addIssue({ code: 'custom', path: [e.field], message: e.message });
      return z.NEVER;
    }
    return {
      owner: r.owner,
      zone: r.zone,
      usage: r.record.usage,
      selector: r.record.selector,
      mtype: r.record.mtype,
      data: r.record.data.toString('hex'),
      rdata: r.rdata,
      ttl: r.ttl,
      warnings: r.warnings,
    } satisfies z.infer<typeof tlsaFormRecordSchema>;
  });
}
