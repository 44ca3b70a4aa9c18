/**
 * The configuration file (INI) and the secrets it points to. One place decides where a
 * setting comes from: a command-line flag wins over the file, the file over the default.
 * Secrets (TSIG key, API key) come only from files or the environment, never from a flag's
 * value: command lines are visible to every user in `ps`.
 *
 *   [dns]
 *   backend = rfc2136                 ; zonefile (default) | rfc2136 | powerdns
 *   zone = example.org
 *   server = 192.0.2.53:53            ; rfc2136: the primary that takes updates
 *   tsig-key-file = /etc/danekeeper/tsig.key
 *   api-url = http://127.0.0.1:8081   ; powerdns
 *   api-key-file = /etc/danekeeper/pdns-api.key
 *   server-id = localhost
 *   zone-file = /etc/bind/db.example.org ; zonefile: the zone's master file
 *   include-file = /etc/bind/db.example.org.tlsa ; optional: records go in this file, which the
 *                                     ; zone $INCLUDEs; zone-file then only gets its serial bumped
 *   reload-command = rndc reload example.org
 *   resolver = 127.0.0.1              ; validating resolver for propagation / dnssec status
 *
 *   [store]
 *   path = /var/lib/danekeeper/state.db
 *
 *   [acme]
 *   directory = letsencrypt           ; letsencrypt | letsencrypt-staging | an https:// URL
 *   email = hostmaster@example.org
 *   ca-file = /path/ca.pem            ; extra trust for the directory's HTTPS
 *   challenge = http-01               ; http-01 | dns-01 (through [dns])
 *   http-listen = 0.0.0.0:80          ; or: webroot = /var/www/html (not both)
 *   profile = classic
 *   eab-kid = KID                     ; External Account Binding: both or neither
 *   eab-hmac-key-file = /etc/danekeeper/eab.key
 *
 *   [run]                             ; the keep-secured pass (run, renew, serve)
 *   retry-seconds = 300               ; the wait after a failed step, doubled per failure (to 1 day)
 *   verify-grace-seconds = 60         ; how long an installed certificate may take to show live
 *   reload = "systemctl reload postfix" ; run after installing for a domain added without its
 *                                     ; own --reload (no shell; repeatable: one command a line)
 *
 *   [prereq]                          ; what `prereq --address/--dkim-selector` give, for `serve`
 *   address = 192.0.2.25 2001:db8::25 ; the server's public mail addresses (space- or comma-
 *                                     ; separated, or repeated lines); default: its interfaces
 *   dkim-selector = mail2024          ; the DKIM selector(s) the signer uses, same forms;
 *                                     ; default: common ones
 *                                     ; a flag on the command line wins over either key
 *
 *   [ext-sslit]                       ; the seed's panel.ini keys, verbatim
 *   dane-confirmation-interval-in-hours = 24 ; decimals allowed
 *   daneEnabled = true                ; false: DANE refused everywhere
 *
 *   [notify]                          ; src/notify: e-mail and webhook notifications
 *   email = admin@example.org         ; to-address; needs smtp and from
 *   smtp = 127.0.0.1:25               ; the relay (STARTTLS when offered; 465: implicit TLS)
 *   from = danekeeper@example.org
 *   webhook = https://hooks.example.org/dane
 *   webhook-secret-file = /etc/danekeeper/webhook.secret ; 0600; HMAC-SHA256 key
 *   reminder-hours = 24               ; a reminder about an open problem at most this often
 *
 *   [monitor]                         ; src/monitor: `watch check` and the daemon's monitor pass
 *   interval-minutes = 15             ; how often `serve` runs a monitor pass (0.1 up)
 *   rrsig-warn-days = 7               ; warn when an RRSIG (TLSA, MX, DNSKEY) expires sooner
 *   cert-warn-days = 14               ; warn when a matched certificate expires sooner
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { parse as parseIni } from 'ini';
import type * as Zod from 'zod';
import { fileErrorReason } from '../io/file-errors.js';
import { DkError } from '../core/errors.js';

export const DEFAULT_CONFIG = '/etc/danekeeper/danekeeper.ini';

/**
 * The schema, built on first use. zod costs about 60-110 ms to load, and most runs read no
 * config file (or only print --help): it is loaded only when a file is actually parsed.
 * createRequire keeps loadConfig synchronous for its callers. Nothing zod makes leaves this
 * module, so this CommonJS copy never meets objects of an ESM copy loaded elsewhere.
 */
function isHttpsUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' && u.hostname !== '';
  } catch {
    return false;
  }
}

function buildSchemas(z: typeof Zod.z) {
  const dns = z
    .object({
      backend: z.enum(['zonefile', 'rfc2136', 'powerdns']).optional(),
      zone: z.string().min(1).optional(),
      server: z.string().min(1).optional(),
      'tsig-key-file': z.string().min(1).optional(),
      'api-url': z.url({ protocol: /^https?$/ }).optional(),
      'api-key-file': z.string().min(1).optional(),
      'server-id': z.string().min(1).optional(),
      'zone-file': z.string().min(1).optional(),
      'include-file': z.string().min(1).optional(),
      'reload-command': z.string().min(1).optional(),
      resolver: z.string().min(1).optional(),
    })
    .strict();
  const store = z.object({ path: z.string().min(1).optional() }).strict();
  const seconds = z
    .string()
    .regex(/^[0-9]+(\.[0-9]+)?$/, 'must be a number of seconds, e.g. 300')
    .transform(Number)
    .refine((v) => v > 0, 'must be more than 0')
    .optional();
  // A key the file may repeat: repeatLines turned each line into an array element.
  const lines = z.array(z.string());
  // One command a line, split like --reload (no shell): an empty one names no command.
  const commands = lines
    .transform((v) => v.map(splitCommand))
    .refine((v) => v.every((a) => a.length > 0), 'names no command')
    .optional();
  // Several values a line (space or comma separated) and several lines: one flat list.
  const words = (ok: (w: string) => boolean, message: string) =>
    lines
      .transform((v) => v.flatMap((l) => l.split(/[\s,]+/).filter(Boolean)))
      .superRefine((v, ctx) => {
        const bad = v.find((w) => !ok(w));
        if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `"${bad}" ${message}` });
      })
      .optional();
  const run = z
    .object({
      // the planner's backoff base: a failed step waits this long, then twice as long, ...
      'retry-seconds': seconds,
      // after an install, how long every endpoint may take to present it before rolling back
      'verify-grace-seconds': seconds,
      // the reload of a domain whose own list is empty (added without --reload)
      reload: commands,
    })
    .strict();
  const prereq = z
    .object({
      address: words((a) => isIP(a) !== 0, 'is not an IP address (e.g. 192.0.2.25 2001:db8::25)'),
      // RFC 6376 §3.1: a selector is dot-separated sub-domain labels
      'dkim-selector': words(
        (s) => /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(s),
        'is not a DKIM selector (RFC 6376 §3.1; e.g. mail2024)',
      ),
    })
    .strict();
  const extSslit = z
    .object({
      // DESIGN.md: the seed's panel.ini key; hours, decimals allowed (tests use seconds).
      'dane-confirmation-interval-in-hours': z
        .string()
        .regex(/^[0-9]+(\.[0-9]+)?$/, 'must be a number of hours, e.g. 24 or 0.5')
        .transform(Number)
        .optional(),
      // The seed's panel.ini spelling, camel case and all. The ini parser turns a bare
      // true/false into a boolean; anything else ("yes", "1") is refused rather than guessed.
      daneEnabled: z
        .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], {
          error: 'must be true or false',
        })
        .optional(),
    })
    .strict();
  const hostPort = z
    .string()
    .regex(
      /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):([1-9][0-9]{0,4})$/,
      'must be ADDRESS:PORT, e.g. 0.0.0.0:80 or [::]:80',
    )
    .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'the port must be 1 to 65535');
  const acme = z
    .object({
      // RFC 8555 §6.1: the directory is reached over HTTPS only.
      directory: z
        .string()
        .refine(
          (v) => v === 'letsencrypt' || v === 'letsencrypt-staging' || isHttpsUrl(v),
          'must be letsencrypt, letsencrypt-staging or an https:// directory URL',
        )
        .optional(),
      email: z.email({ error: 'must be an e-mail address' }).optional(),
      'ca-file': z.string().min(1).optional(),
      challenge: z.enum(['http-01', 'dns-01'], { error: 'must be http-01 or dns-01' }).optional(),
      'http-listen': hostPort.optional(),
      webroot: z.string().min(1).optional(),
      // RFC 8555 profiles draft: a token the directory lists in meta.profiles.
      profile: z
        .string()
        .regex(/^[A-Za-z0-9._-]+$/, 'must be a profile name the directory lists, e.g. classic')
        .optional(),
      'eab-kid': z.string().min(1).optional(),
      'eab-hmac-key-file': z.string().min(1).optional(),
    })
    .strict()
    .superRefine((a, ctx) => {
      if (a['http-listen'] !== undefined && a.webroot !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['webroot'],
          message: 'give http-listen or webroot, not both (HTTP-01 answers from one place)',
        });
      }
      // RFC 8555 §7.3.4: the binding needs the key identifier and the MAC key together.
      if ((a['eab-kid'] === undefined) !== (a['eab-hmac-key-file'] === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [a['eab-kid'] === undefined ? 'eab-kid' : 'eab-hmac-key-file'],
          message: 'External Account Binding needs both eab-kid and eab-hmac-key-file',
        });
      }
    });
  const notify = z
    .object({
      email: z.email({ error: 'must be an e-mail address' }).optional(),
      smtp: z
        .string()
        .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+)(:[0-9]{1,5})?$/, 'must be HOST or HOST:PORT')
        .optional(),
      from: z.email({ error: 'must be an e-mail address' }).optional(),
      webhook: z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL' }).optional(),
      'webhook-secret-file': z.string().min(1).optional(),
      'reminder-hours': z
        .string()
        .regex(/^[0-9]+(\.[0-9]+)?$/, 'must be a number of hours, e.g. 24')
        .transform(Number)
        .refine((v) => v > 0, 'must be more than 0')
        .optional(),
    })
    .strict()
    .superRefine((n, ctx) => {
      // an e-mail needs a relay and a sender; naming only some of them is a mistake, not a choice
      if (n.email !== undefined && (n.smtp === undefined || n.from === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [n.smtp === undefined ? 'smtp' : 'from'],
          message: 'e-mail notifications need email, smtp and from',
        });
      }
      if (n['webhook-secret-file'] !== undefined && n.webhook === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['webhook'],
          message: 'webhook-secret-file is given without a webhook URL',
        });
      }
    });
  const days = (what: string) =>
    z
      .string()
      .regex(/^[0-9]+(\.[0-9]+)?$/, `must be a number of ${what}`)
      .transform(Number)
      .optional();
  const monitor = z
    .object({
      // 0.1 (6 s) is the floor: a lab or a very small site may want passes that often; below
      // it a pass (DNS, STARTTLS probes) may take longer than the pause between passes
      'interval-minutes': days('minutes').refine(
        (v) => v === undefined || v >= 0.1,
        'must be at least 0.1 (6 seconds)',
      ),
      'rrsig-warn-days': days('days'),
      'cert-warn-days': days('days'),
    })
    .strict();
  const sections = { dns, store, run, acme, 'ext-sslit': extSslit, notify, monitor, prereq };
  const file = z
    .object({
      dns: dns.optional(),
      store: store.optional(),
      run: run.optional(),
      acme: acme.optional(),
      'ext-sslit': extSslit.optional(),
      notify: notify.optional(),
      monitor: monitor.optional(),
      prereq: prereq.optional(),
    })
    .strict();
  return { dns, run, acme, extSslit, notify, monitor, prereq, file, sections };
}

type Schemas = ReturnType<typeof buildSchemas>;
let schemas: Schemas | undefined;
function loadSchemas(): Schemas {
  if (!schemas) {
    const require = createRequire(import.meta.url);
    schemas = buildSchemas((require('zod') as typeof Zod).z);
  }
  return schemas;
}

export type DnsSection = Zod.z.infer<Schemas['dns']>;
export type RunSection = Zod.z.infer<Schemas['run']>;
export type ExtSslitSection = Zod.z.infer<Schemas['extSslit']>;
export type AcmeSection = Zod.z.infer<Schemas['acme']>;
export type NotifySection = Zod.z.infer<Schemas['notify']>;
export type MonitorSection = Zod.z.infer<Schemas['monitor']>;
export type PrereqSection = Zod.z.output<Schemas['prereq']>;
export interface ConfigFile {
  /** where it was read from; null when no file was given and the default does not exist */
  path: string | null;
  dns: DnsSection;
  store: { path?: string };
  run: RunSection;
  acme: AcmeSection;
  'ext-sslit': ExtSslitSection;
  notify: NotifySection;
  monitor: MonitorSection;
  prereq: PrereqSection;
}

/** RFC 8555 directories of Let's Encrypt, by the names `directory =` accepts. */
export const ACME_DIRECTORIES = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

/** The directory URL of `[acme] directory` (default: Let's Encrypt production). */
export function acmeDirectoryUrl(acme: AcmeSection): string {
  const d = acme.directory ?? 'letsencrypt';
  return d === 'letsencrypt' || d === 'letsencrypt-staging' ? ACME_DIRECTORIES[d] : d;
}

/**
 * The CA of `[acme] directory` in words a panel user knows: Let's Encrypt by its name, any
 * other directory by its host (the panel must not promise Let's Encrypt when Pebble or a
 * commercial CA issues).
 */
export function acmeCaName(acme: AcmeSection): string {
  const d = acme.directory ?? 'letsencrypt';
  if (d === 'letsencrypt') return "Let's Encrypt";
  if (d === 'letsencrypt-staging')
    return "Let's Encrypt's staging CA (untrusted test certificates)";
  return `the ACME CA at ${new URL(d).host}`;
}

/** `daneEnabled` of [ext-sslit]; the seed's default is on. */
export const daneEnabled = (c: Pick<ConfigFile, 'ext-sslit'>): boolean =>
  c['ext-sslit'].daneEnabled ?? true;

/**
 * Reads the config file: `explicit` (--config), else $DANEKEEPER_CONFIG, else the default
 * path if it exists. A file named explicitly must exist.
 */
export function loadConfig(explicit: string | undefined, env: NodeJS.ProcessEnv): ConfigFile {
  const named = explicit ?? env.DANEKEEPER_CONFIG;
  const path = named ?? DEFAULT_CONFIG;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (named === undefined && code === 'ENOENT') {
      return {
        path: null,
        dns: {},
        store: {},
        run: {},
        acme: {},
        'ext-sslit': {},
        notify: {},
        monitor: {},
        prereq: {},
      };
    }
    throw new DkError(
      'noinput',
      'E_CONFIG_READ',
      `Cannot read the config file ${path}: ${fileErrorReason(e)}`,
    );
  }
  return parseConfig(text, path);
}

/**
 * Settings above the first section header and unknown sections, named in the user's terms
 * before zod sees them: zod would call both "unknown setting".
 */
function checkLayout(
  raw: Record<string, unknown>,
  path: string,
  sections: Schemas['sections'],
): void {
  const known: Record<string, string[]> = Object.fromEntries(
    Object.entries(sections).map(([name, schema]) => [name, Object.keys(schema.shape)]),
  );
  const sectionList = Object.keys(known)
    .map((n) => `[${n}]`)
    .join(', ');
  for (const [key, value] of Object.entries(raw)) {
    if (value !== null && typeof value === 'object') {
      if (!(key in known)) {
        throw new DkError(
          'config',
          'E_CONFIG',
          `${path}: unknown section [${key}]; danekeeper reads ${sectionList}`,
        );
      }
      continue;
    }
    const homes = Object.keys(known).filter((n) => known[n]!.includes(key));
    throw new DkError(
      'config',
      'E_CONFIG',
      homes.length
        ? `${path}: setting "${key}" is outside any section: put it under ${homes.map((h) => `[${h}]`).join(' or ')}`
        : `${path}: setting "${key}" is outside any section, and no section has it (danekeeper reads ${sectionList})`,
    );
  }
}

export function parseConfig(text: string, path: string): ConfigFile {
  let raw: Record<string, unknown>;
  try {
    raw = parseIni(repeatLines(text)) as Record<string, unknown>;
  } catch (e) {
    throw new DkError('config', 'E_CONFIG', `${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  const schema = loadSchemas();
  checkLayout(raw, path, schema.sections);
  const r = schema.file.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.join('.');
    const what =
      issue.code === 'unrecognized_keys'
        ? `unknown setting ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue.message;
    throw new DkError('config', 'E_CONFIG', `${path}: ${where ? `${where}: ` : ''}${what}`);
  }
  return {
    path,
    dns: r.data.dns ?? {},
    store: r.data.store ?? {},
    run: r.data.run ?? {},
    acme: r.data.acme ?? {},
    'ext-sslit': r.data['ext-sslit'] ?? {},
    notify: r.data.notify ?? {},
    monitor: r.data.monitor ?? {},
    prereq: r.data.prereq ?? {},
  };
}

/** Keys a section may repeat, one value a line; the ini parser would keep only the last line. */
const REPEATABLE: Record<string, string[]> = {
  run: ['reload'],
  prereq: ['address', 'dkim-selector'],
};

/**
 * `key = v` of a repeatable key becomes `key[] = v`, the parser's array spelling, so every
 * line counts (a second `address =` silently replacing the first would drop an address).
 */
function repeatLines(text: string): string {
  let section = '';
  return text
    .split(/\r?\n/)
    .map((line) => {
      const head = /^\s*\[([^\]]+)\]/.exec(line);
      if (head) {
        section = head[1]!.trim();
        return line;
      }
      const m = /^(\s*)([A-Za-z-]+)(\s*=)/.exec(line);
      return m && REPEATABLE[section]?.includes(m[2]!)
        ? `${m[1]}${m[2]}[]${m[3]}${line.slice(m[0].length)}`
        : line;
    })
    .join('\n');
}

/** Splits a command such as `rndc reload "example.org"` into argv; no shell is involved. */
export function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(cmd); m; m = re.exec(cmd)) {
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  }
  return out;
}

export interface Secret {
  value: string;
  /** `file /path` or `$ENV_NAME`: for messages, never the value */
  source: string;
  /** a warning to print when the file is readable by others */
  warning?: string;
}

/**
 * A secret from a file, or from the environment variable when no file is given. Files
 * readable by group or others work but draw a warning: a TSIG key lets anyone rewrite the zone.
 */
export function readSecret(
  file: string | undefined,
  envName: string,
  env: NodeJS.ProcessEnv,
  what: string,
): Secret | undefined {
  if (file === undefined) {
    const v = env[envName];
    return v === undefined || v === '' ? undefined : { value: v, source: `$${envName}` };
  }
  let value: string;
  let mode: number;
  try {
    value = readFileSync(file, 'utf8');
    mode = statSync(file).mode & 0o777;
  } catch (e) {
    throw new DkError(
      'noinput',
      'E_SECRET_READ',
      `Cannot read the ${what} file ${file}: ${fileErrorReason(e)}`,
    );
  }
  const warning =
    (mode & 0o077) !== 0
      ? `warning: ${file} (${what}) is readable by other users (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it`
      : undefined;
  return { value, source: `file ${file}`, ...(warning ? { warning } : {}) };
}
