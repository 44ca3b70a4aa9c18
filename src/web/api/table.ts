/**
 * The API's route table (issue 11 item 3; DESIGN.md "The panel and the API (contract)"): each
 * route's method, path, action for `authorize()`, and zod schemas for its path, query and body.
 * The same entries validate requests (api.ts) and make the OpenAPI 3.1 document (openapi.ts),
 * so the document cannot drift from what the server accepts.
 */
import { z } from 'zod';
import type { Action } from '../../auth/authz.js';
import { tlsaFormInputSchema } from '../../core/forms/tlsa-form.js';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface RouteSpec {
  method: Method;
  /** hono form, under `/api`: `/v1/domains/:name` */
  path: string;
  summary: string;
  action: Action;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** what a success answers, for the OpenAPI document (absent: an object) */
  response?: z.ZodType;
  /** answered on success */
  status: 200 | 201;
  /** audited as `api:USER` when true (every state-changing route) */
  changes: boolean;
}

// RFC 1035 §2.3.4: 253 characters for a name in text form; the full check is parseDomainName's.
const domainName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9._-]+\.?$/, 'must be a domain name');
const nameParam = z.object({ name: domainName });

export const DomainAdd = z
  .object({
    name: domainName,
    /** the seed's "Secure the domain name" */
    includeDomainName: z.boolean().default(true),
    subdomains: z.array(z.string().min(1).max(253)).max(50).default([]),
    /** the seed's "Assign the certificate to the mail domain"; empty: the MX among the names */
    mailHosts: z.array(z.string().min(1).max(253)).max(20).default([]),
    /** `HOST:PORT[/PROTO]` as `domain add --endpoint` takes it */
    endpoints: z.array(z.string().min(1).max(270)).max(20).default([]),
    /** absent: on when the server's daneEnabled is */
    dane: z.boolean().optional(),
    keyType: z.enum(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']).default('ec-p256'),
    challenge: z.enum(['http-01', 'dns-01']).nullable().default(null),
  })
  .strict();

export const DomainList = z
  .object({
    q: z.string().max(253).optional(),
    page: z.coerce.number().int().min(1).max(1_000_000).default(1),
    perPage: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

export const Generate = z
  .object({
    /** a PEM certificate chain (leaf first or in any order) or a public/private key */
    pem: z.string().min(1).max(60_000),
    /** for the zone lines: `_PORT._tcp.HOST` */
    host: domainName.optional(),
    port: z.number().int().min(1).max(65535).default(25),
  })
  .strict();

export const CheckQuery = z.object({ port: z.coerce.number().int().min(1).max(65535).optional() });

/** GET /v1/settings: the settings an admin changes and the INI file's read-only facts */
export const SettingsView = z.object({
  daneEnabled: z.boolean(),
  /** seconds */
  confirmationInterval: z.number().int(),
  acmeDirectory: z
    .string()
    .optional()
    .describe('[acme] directory: letsencrypt (URL), or the URL without credentials or query'),
  dnsBackend: z
    .string()
    .optional()
    .describe('[dns] backend and where it writes (zone, primary, API URL); never a key'),
  notifyEmail: z.string().nullable().optional().describe('[notify] email'),
});

export const SettingsChange = z
  .object({
    daneEnabled: z.boolean().optional(),
    /** seconds; DESIGN.md: the wait is never less than 2 x TTL whatever this says */
    confirmationInterval: z
      .number()
      .int()
      .min(0)
      .max(30 * 86400)
      .optional(),
  })
  .strict();

/** The panel's add-record form (core/forms), unknown fields refused. */
export const TlsaAdd = tlsaFormInputSchema.strict();

export const TlsaRemove = z
  .object({
    /** the host: mail.example.org */
    name: domainName,
    port: z.number().int().min(1).max(65535),
    protocol: z.enum(['tcp', 'udp', 'sctp']).default('tcp'),
    /** the record as `3 1 1 HEX` */
    rdata: z.string().min(5).max(20_000),
  })
  .strict();

// NIST SP 800-63B §5.1.1.2: memorized secrets chosen by users are at least 8 characters (the
// CLI's rule, src/cli/accounts.ts readPasswordFile). The messages never carry the value.
const MIN_PASSWORD = 8;
const password = z
  .string()
  .max(1024)
  .refine((p) => [...p].length >= MIN_PASSWORD, `must be at least ${MIN_PASSWORD} characters`)
  .refine((p) => !/[\r\n]/.test(p), 'must be one line');

/** a user name as the CLI takes it; the full check is parseUserName's (its message) */
const userName = z.string().min(1).max(64);
const userParam = z.object({ name: userName });

export const UserAdd = z
  .object({
    name: userName,
    role: z.enum(['admin', 'customer']),
    /** a customer's domains; none for an admin (who sees every domain) */
    domains: z.array(domainName).max(10_000).default([]),
    password,
  })
  .strict();

export const ROUTES = [
  {
    method: 'get',
    path: '/v1/domains',
    summary: 'The managed domains the user may see (search, paging)',
    action: 'domain.list',
    query: DomainList,
    status: 200,
    changes: false,
  },
  {
    method: 'post',
    path: '/v1/domains',
    summary: 'Put a domain under management (`domain add`)',
    action: 'domain.add',
    body: DomainAdd,
    status: 201,
    changes: true,
  },
  {
    method: 'get',
    path: '/v1/domains/:name',
    summary: "A domain's settings and status (as `status --json` gives it)",
    action: 'domain.read',
    params: nameParam,
    status: 200,
    changes: false,
  },
  {
    method: 'delete',
    path: '/v1/domains/:name',
    summary: 'Stop managing a domain (`domain remove`; files and records stay)',
    action: 'domain.remove',
    params: nameParam,
    status: 200,
    changes: true,
  },
  {
    method: 'post',
    path: '/v1/domains/:name/enable-dane',
    summary: 'Turn DANE on (refused when daneEnabled is off or the zone is not secure)',
    action: 'domain.change',
    params: nameParam,
    status: 200,
    changes: true,
  },
  {
    method: 'post',
    path: '/v1/domains/:name/disable-dane',
    summary: 'Turn DANE off (the next pass removes our TLSA records)',
    action: 'domain.change',
    params: nameParam,
    status: 200,
    changes: true,
  },
  {
    method: 'post',
    path: '/v1/domains/:name/renew',
    summary: "Mark the domain due: the daemon's next pass renews it",
    action: 'domain.change',
    params: nameParam,
    status: 200,
    changes: true,
  },
  {
    method: 'get',
    path: '/v1/domains/:name/tlsa',
    summary: 'The TLSA records under the domain in its zone: ours, hand-made, stale (ours, gone)',
    action: 'dns.read',
    params: nameParam,
    status: 200,
    changes: false,
  },
  {
    method: 'post',
    path: '/v1/domains/:name/tlsa',
    summary:
      'Add a TLSA record (the DNS form: port, protocol, name, usage, selector, matching type, data, TTL)',
    action: 'dns.change',
    params: nameParam,
    body: TlsaAdd,
    status: 201,
    changes: true,
  },
  {
    method: 'post',
    path: '/v1/domains/:name/tlsa/remove',
    summary:
      "Remove one of danekeeper's TLSA records (refused while a live service still matches only it)",
    action: 'dns.change',
    params: nameParam,
    body: TlsaRemove,
    status: 200,
    changes: true,
  },
  {
    method: 'get',
    path: '/v1/domains/:name/dnssec',
    summary: "The zone's DNSSEC status, with the DS/DNSKEY for the registrar",
    action: 'dnssec.read',
    params: nameParam,
    status: 200,
    changes: false,
  },
  {
    method: 'get',
    path: '/v1/domains/:name/prereq',
    summary: 'The prerequisite checks (`prereq --json`)',
    action: 'prereq.read',
    params: nameParam,
    status: 200,
    changes: false,
  },
  {
    method: 'get',
    path: '/v1/check/:name',
    summary: 'The `check --json` report of any domain',
    action: 'check',
    params: nameParam,
    query: CheckQuery,
    status: 200,
    changes: false,
  },
  {
    method: 'post',
    path: '/v1/generate',
    summary: 'TLSA records from a pasted PEM certificate or key (3 1 1, 2 1 1, zone lines)',
    action: 'generate',
    body: Generate,
    status: 200,
    changes: false,
  },
  {
    method: 'get',
    path: '/v1/settings',
    summary: "The server's settings (admin), with the INI file's read-only facts",
    action: 'settings.read',
    response: SettingsView,
    status: 200,
    changes: false,
  },
  {
    method: 'put',
    path: '/v1/settings',
    summary: "Change the server's settings (admin); they override the INI file",
    action: 'settings.change',
    body: SettingsChange,
    status: 200,
    changes: true,
  },
  {
    method: 'get',
    path: '/v1/users',
    summary: 'The panel and API accounts (admin): name, role, domains (`user list`)',
    action: 'users.read',
    status: 200,
    changes: false,
  },
  {
    method: 'post',
    path: '/v1/users',
    summary:
      'Add an admin or a customer who owns domains (`user add`); the password is never echoed',
    action: 'users.change',
    body: UserAdd,
    status: 201,
    changes: true,
  },
  {
    method: 'delete',
    path: '/v1/users/:name',
    summary: 'Remove an account with its tokens and sessions (`user remove`); not the last admin',
    action: 'users.change',
    params: userParam,
    status: 200,
    changes: true,
  },
] as const satisfies readonly RouteSpec[];

export type RoutePath = (typeof ROUTES)[number]['path'];
