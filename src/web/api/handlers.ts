/**
 * What each API route does, on the same stores and rules as the CLI's `domain` commands
 * (src/cli/domain.ts): the same name parsing, the same DNSSEC prerequisite for DANE, the same
 * events. Input has been validated and the caller authorized before a handler runs; a handler
 * that changes anything writes its audit entry after the change succeeded, so a refused
 * request leaves both the store and the audit log as they were.
 */
import { visibleDomains, type Principal } from '../../auth/authz.js';
import {
  parseDomainName,
  parseEndpoint,
  parseHost,
  parseSubdomain,
  requireSecureZones,
  type ZoneCheck,
} from '../../cli/domain.js';
import { DkError } from '../../core/errors.js';
import { listStatus, type LastOutcome } from '../../daemon/list-status.js';
import { formatRdata, formatZoneLine, generateTlsa, tlsaOwner } from '../../core/tlsa/index.js';
import type { TlsaRecord } from '../../core/tlsa/index.js';
import { certLabel, findIssuer, parseCertificates, parseKey } from '../../core/x509/index.js';
import { certificateNames, endpointText, type Domain, type Endpoint } from '../../store/domains.js';
import type { StateStore } from '../../store/state.js';
import type { UsersStore } from '../../store/users.js';
import type { z } from 'zod';
import type {
  DomainAdd,
  DomainList,
  Generate,
  SettingsChange,
  TlsaRemove,
  UserAdd,
} from './table.js';
import { hashPassword } from '../../auth/password.js';
import { parseUserName } from '../../cli/accounts.js';
import type { User } from '../../store/users.js';
import { ownsDomain } from '../../auth/authz.js';
import { mergeListing } from '../../cli/dns-list.js';
import { isDkError } from '../../core/errors.js';
import { validateTlsaForm } from '../../core/forms/tlsa-form.js';
import { parseTlsa } from '../../core/tlsa/index.js';
import { addTlsa, removeTlsa, type SetOptions } from '../../publish/tlsa-set.js';
import type { Publisher, TlsaRrset } from '../../publish/types.js';

/** The settings an admin changes in the panel (they override the INI file's). */
export interface ApiSettings {
  daneEnabled: boolean;
  /** seconds */
  confirmationInterval: number;
}

/** The INI file's read-only facts `GET /v1/settings` shows (settings.ts settingsFacts). */
export interface SettingsFacts {
  /** `letsencrypt (URL)` or the directory URL without credentials or query */
  acmeDirectory: string;
  /** the backend and where it writes (zone, primary, API): never a key nor its file */
  dnsBackend: string;
  notifyEmail: string | null;
}

export interface SettingsSource {
  read(): ApiSettings;
  /** the read-only facts (absent: the route shows only the settings) */
  facts?(): SettingsFacts;
  change(patch: Partial<ApiSettings>, now: Date): ApiSettings;
}

/** Everything the routes need besides the users store; the network parts are injectable. */
export interface ApiServices {
  state: StateStore;
  settings: SettingsSource;
  now: () => Date;
  /** where a new domain's certificate goes (`domain add`'s default) */
  certDir: (domain: string) => string;
  /** the zone holding a host, and whether DANE may be turned on there (cli/domain zoneCheck) */
  zoneCheck: ZoneCheck;
  /** the domain's MX hosts among the certificate's names (cli/domain mxAmongNames) */
  mxAmongNames: (domain: string, names: string[]) => Promise<{ mailHosts: string[]; mx: string[] }>;
  /** `status --json`'s entry for the domain (src/daemon/status.ts domainStatus) */
  status: (d: Domain) => Promise<unknown>;
  /** the last pass's outcome for a domain (serve's daemon): the list's phase, list-status.ts */
  lastOutcome?: (domain: string) => LastOutcome | undefined;
  /** the `check --json` report */
  check: (domain: string, port?: number) => Promise<unknown>;
  /** `dnssec status --json` of the zone holding the domain, with the DS/DNSKEY */
  dnssec: (domain: string) => Promise<unknown>;
  /** `prereq --json` */
  prereq: (domain: string) => Promise<unknown>;
  /** asks the daemon for a renewal of the domain at its next pass; `by` is the user asking */
  renew: (domain: string, by: string) => void | Promise<void>;
  /**
   * a domain was added, removed, or had DANE turned on or off: the daemon's pass should act on
   * it now (issue, publish, remove), not at its next interval
   */
  domainChanged?: (domain: string) => void;
  dns: ZoneDns;
}

/** The server's DNS backend, as `dns add/remove/list` reach it. */
export interface ZoneDns {
  /** a publisher for the zone that holds `name` (closed by the caller when it has close) */
  publisher(name: string): Promise<Publisher>;
  /**
   * DESIGN.md's invariant for removals: no record the live service still needs goes (the
   * endpoint check `dns remove` runs, as tlsa-set's beforeApply)
   */
  removeGuard(owner: string): SetOptions['beforeApply'];
}

export interface HandlerInput {
  user: Principal;
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
  /** the client's address, for the audit log */
  source: string;
}

type Handler = (i: HandlerInput) => Promise<unknown>;

/** an account as the API shows it: never its password hash */
const userView = (u: User) => ({
  name: u.name,
  role: u.role,
  domains: u.domains,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
});

const usage = (code: string, message: string) => new DkError('usage', code, message);

/** A customer is not shown the server's file paths (certDir): they are the operator's. */
function domainJson(d: Domain, user: Principal) {
  const { certDir, ...rest } = {
    name: d.name,
    dane: d.dane,
    names: certificateNames(d),
    mailHosts: d.mailHosts,
    endpoints: d.endpoints.map(endpointText),
    keyType: d.keyType,
    challenge: d.challenge,
    certDir: d.certDir,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
  return user.role === 'admin' ? { ...rest, certDir } : rest;
}

/** The records of a pasted PEM: 3 1 1 of the leaf (or key), 2 1 1 of the leaf's issuer. */
export function generateFromPem(input: z.output<typeof Generate>) {
  const buf = Buffer.from(input.pem, 'utf8');
  const made: { record: TlsaRecord; what: string }[] = [];
  const notes: string[] = [];
  if (/-----BEGIN CERTIFICATE-----/.test(input.pem)) {
    const certs = parseCertificates(buf, 'the pasted PEM');
    // The leaf is the certificate that issued no other one in the paste.
    const leaf = certs.find((c) => !certs.some((o) => o !== c && findIssuer(o, [c]))) ?? certs[0]!;
    made.push({ record: generateTlsa(leaf, 3, 1, 1), what: `DANE-EE: ${certLabel(leaf)}` });
    const issuer = findIssuer(
      leaf,
      certs.filter((c) => c !== leaf),
    );
    // RFC 7671 §5.2 / DESIGN.md: 2 1 1 names the issuer, so it needs one in the paste.
    if (issuer) {
      made.push({ record: generateTlsa(issuer, 2, 1, 1), what: `DANE-TA: ${certLabel(issuer)}` });
    } else {
      notes.push('No issuer of the leaf in the paste: paste the full chain for the 2 1 1 record');
    }
  } else if (/-----BEGIN [A-Z ]*(PUBLIC|PRIVATE) KEY-----/.test(input.pem)) {
    const k = parseKey(buf, 'the pasted PEM');
    made.push({
      record: generateTlsa({ spki: k.spki }, 3, 1, 1),
      what: `DANE-EE: ${k.keyType} key`,
    });
  } else {
    throw usage('E_API_PEM', 'The paste holds no PEM certificate or key');
  }
  const owner = input.host ? tlsaOwner(input.host, input.port) : null;
  return {
    records: made.map((m) => ({
      rdata: formatRdata(m.record),
      what: m.what,
      ...(owner ? { zoneLine: formatZoneLine(owner, m.record) } : {}),
    })),
    notes,
  };
}

export function handlers(deps: ApiServices & { users: UsersStore }): Record<string, Handler> {
  const { state } = deps;
  const audit = (i: HandlerInput, action: string, target: string | null, details = {}) =>
    deps.users.audit(
      { actor: `api:${i.user.name}`, action, target, source: i.source, details },
      deps.now(),
    );
  const withPub = async <T>(domain: string, f: (pub: Publisher) => Promise<T>): Promise<T> => {
    const pub = await deps.dns.publisher(domain);
    try {
      return await f(pub);
    } finally {
      await pub.close?.();
    }
  };
  const mustGet = (name: string): Domain => {
    const d = state.domains.get(parseDomainName(name));
    if (!d) throw new DkError('noinput', 'E_DOMAIN_UNKNOWN', `${name} is not managed`);
    return d;
  };
  const refuseDaneOff = (what: string) => {
    if (!deps.settings.read().daneEnabled) {
      throw new DkError(
        'config',
        'E_DOMAIN_DANE_DISABLED',
        `${what}: DANE is turned off on this server (daneEnabled is off)`,
      );
    }
  };
  /** Same as the CLI's: a pass holding the domain is not changed under it. */
  const withLease = <T>(domain: string, what: string, f: () => T): T => {
    const holder = `api-${what.replace(/\s+/g, '-')}-${process.pid}`;
    if (!state.rollover.acquireLease(domain, holder, 60_000, deps.now())) {
      throw new DkError(
        'tempfail',
        'E_DOMAIN_BUSY',
        `Cannot ${what} ${domain} now: a keep-secured pass is working on it; try again when it is done`,
      );
    }
    try {
      return f();
    } finally {
      state.rollover.releaseLease(domain, holder);
    }
  };

  return {
    'GET /v1/domains': async (i) => {
      const q = i.query as z.output<typeof DomainList>;
      const needle = q.q?.toLowerCase();
      const start = (q.page - 1) * q.perPage;
      // only the page's rows are read and parsed (a 10,000-domain store's JSON per request was
      // most of the list's time, bench/api.ts): an admin's page in SQL, a customer's names
      // filtered first and then the page's rows
      let total: number;
      let shown: Domain[];
      if (i.user.role === 'admin') {
        total = state.domains.count(needle);
        shown = state.domains.page({
          offset: start,
          limit: q.perPage,
          ...(needle !== undefined ? { q: needle } : {}),
        });
      } else {
        const names = visibleDomains(i.user, state.domains.names()).filter(
          (n) => needle === undefined || n.includes(needle),
        );
        total = names.length;
        shown = state.domains.getMany(names.slice(start, start + q.perPage));
      }
      return {
        total,
        page: q.page,
        perPage: q.perPage,
        // the stored state and the last pass's outcome: no DNS query or probe per row (a page
        // of a 10,000-domain list must not be a page of observations); one domain's GET looks
        domains: shown.map((d) => ({
          ...domainJson(d, i.user),
          status: listStatus(state, d, deps.now(), deps.lastOutcome?.(d.name)),
        })),
      };
    },

    'GET /v1/domains/{name}': async (i) => {
      const d = mustGet(String(i.params.name));
      const status = await deps.status(d);
      // `status --json` names the cert dir and the lease holder (host:pid) too: the operator's
      // path and machine, not the customer's business; a customer sees until when it is busy
      if (i.user.role !== 'admin' && status && typeof status === 'object') {
        const { certDir: _hidden, lease, ...rest } = status as Record<string, unknown>;
        const until = (lease as { expiresAt?: unknown } | null | undefined)?.expiresAt;
        return {
          domain: domainJson(d, i.user),
          status: {
            ...rest,
            ...(lease === undefined ? {} : { lease: until ? { expiresAt: until } : null }),
          },
        };
      }
      return { domain: domainJson(d, i.user), status };
    },

    'POST /v1/domains': async (i) => {
      const b = i.body as z.output<typeof DomainAdd>;
      const domain = parseDomainName(b.name);
      if (b.dane === true) refuseDaneOff(`Cannot add ${domain} with DANE`);
      const dane = b.dane ?? deps.settings.read().daneEnabled;
      const subdomains = [...new Set(b.subdomains.map((s) => parseSubdomain(s, domain)))];
      if (!b.includeDomainName && subdomains.length === 0) {
        throw usage('E_OPTION', 'Without the domain name the certificate needs a subdomain');
      }
      const names = certificateNames({
        name: domain,
        includeDomainName: b.includeDomainName,
        subdomains,
      });
      const extra = b.endpoints.map((e) => parseEndpoint(e, domain));
      if (state.domains.get(domain)) {
        throw new DkError('config', 'E_DOMAIN_EXISTS', `${domain} is managed already`);
      }
      let mailHosts: string[];
      if (b.mailHosts.length) {
        mailHosts = [...new Set(b.mailHosts.map((h) => parseHost(h, domain, 'mail host')))];
        const outside = mailHosts.find((h) => !names.includes(h));
        if (outside) {
          throw usage(
            'E_OPTION',
            `Mail host ${outside} is not among the certificate's names (${names.join(', ')})`,
          );
        }
      } else {
        mailHosts = (await deps.mxAmongNames(domain, names)).mailHosts;
        if (mailHosts.length === 0 && dane) {
          throw usage(
            'E_OPTION',
            `None of ${domain}'s MX hosts is among the certificate's names: add it as a subdomain, name it in mailHosts, or add the domain without DANE`,
          );
        }
      }
      // DESIGN.md: port 25 of each mail host is always an endpoint.
      const endpoints: Endpoint[] = [];
      for (const e of [
        ...mailHosts.map((host) => ({ host, port: 25, proto: 'tcp' as const })),
        ...extra,
      ]) {
        if (!endpoints.some((x) => endpointText(x) === endpointText(e))) endpoints.push(e);
      }
      // RFC 7672 §2.2: TLSA records only count in a zone with a secure chain.
      const zones = dane ? await requireSecureZones(domain, endpoints, deps.zoneCheck) : [];
      const now = deps.now();
      const d = state.transaction(() => {
        const added = state.domains.add(
          {
            name: domain,
            includeDomainName: b.includeDomainName,
            subdomains,
            mailHosts,
            endpoints,
            dane,
            certDir: deps.certDir(domain),
            reload: [],
            keyType: b.keyType,
            newKeyEachRenewal: false,
            issuerRecords: false,
            challenge: b.challenge,
          },
          now,
        );
        state.events.append(
          domain,
          'domain-added',
          `Added ${domain} by api:${i.user.name}: ${names.join(', ')}${dane ? `, DANE on (${zones.join(', ')} secure)` : ', DANE off'}`,
          { names, dane, mailHosts, endpoints: endpoints.map(endpointText), zones },
          now,
        );
        return added;
      });
      audit(i, 'domain.add', domain, { dane, names });
      deps.domainChanged?.(domain);
      return { domain: domainJson(d, i.user) };
    },

    'DELETE /v1/domains/{name}': async (i) => {
      const d = mustGet(String(i.params.name));
      const now = deps.now();
      withLease(d.name, 'remove', () =>
        state.transaction(() => {
          state.domains.remove(d.name);
          state.events.append(
            d.name,
            'domain-removed',
            `Removed ${d.name} by api:${i.user.name}; its TLSA records and files were left in place`,
            { certDir: d.certDir },
            now,
          );
        }),
      );
      audit(i, 'domain.remove', d.name);
      deps.domainChanged?.(d.name);
      return { removed: d.name };
    },

    'POST /v1/domains/{name}/enable-dane': async (i) => dane(i, true),
    'POST /v1/domains/{name}/disable-dane': async (i) => dane(i, false),

    'POST /v1/domains/{name}/renew': async (i) => {
      const d = mustGet(String(i.params.name));
      await deps.renew(d.name, i.user.name);
      audit(i, 'domain.renew', d.name);
      return { domain: d.name, renew: 'requested' };
    },

    'GET /v1/domains/{name}/tlsa': async (i) => {
      const domain = parseDomainName(String(i.params.name));
      return withPub(domain, async (pub) => {
        const under = (owner: string) => ownsDomain([domain], owner);
        const mine = state.ownership.list(pub.zone).filter((m) => under(m.owner));
        const wanted = (state.domains.get(domain)?.endpoints ?? []).map((e) =>
          tlsaOwner(e.host, e.port, e.proto),
        );
        let sets: TlsaRrset[] | undefined;
        let notice: string | null = null;
        if (pub.listAll) {
          try {
            sets = (await pub.listAll()).filter((x) => under(x.owner));
          } catch (e) {
            if (!(isDkError(e) && e.code === 'E_XFR_REFUSED')) throw e;
            notice = e.message;
          }
        } else {
          notice = `The ${pub.backend} backend cannot list a whole zone`;
        }
        if (!sets) {
          // As `dns list` does: only the names danekeeper knows, each read from the source.
          sets = [];
          for (const o of new Set([...wanted, ...mine.map((m) => m.owner)]))
            sets.push(await pub.read(o));
        }
        const owners = mergeListing(
          sets.filter((x) => x.records.length > 0),
          mine,
          wanted,
        );
        return {
          zone: pub.zone,
          complete: notice === null,
          notice,
          owners: owners.map((o) => ({
            owner: o.owner,
            ttl: o.ttl,
            records: o.records.map((r) => ({
              rdata: r.record,
              kind: r.danekeeper ? 'ours' : 'hand-made',
              since: r.since,
            })),
            // published by danekeeper, no longer served: someone removed them
            stale: o.missing,
          })),
        };
      });
    },

    'POST /v1/domains/{name}/tlsa': async (i) => {
      const domain = parseDomainName(String(i.params.name));
      // The form's own rules (core/forms): every field's error at once; the owner must be in
      // the domain the user was authorized for.
      const f = validateTlsaForm(i.body, [domain]);
      if (!f.ok) {
        throw usage('E_API_FORM', f.errors.map((e) => `${e.field}: ${e.message}`).join(' '));
      }
      const r = await withPub(domain, (pub) =>
        addTlsa(pub, state.ownership, f.owner, [f.record], { ttl: f.ttl, now: deps.now() }),
      );
      audit(i, 'dns.add', f.owner, { rdata: f.rdata, ttl: r.ttl, changed: r.changed });
      return {
        owner: f.owner,
        rdata: f.rdata,
        ttl: r.ttl,
        changed: r.changed,
        warnings: f.warnings,
      };
    },

    'POST /v1/domains/{name}/tlsa/remove': async (i) => {
      const domain = parseDomainName(String(i.params.name));
      const b = i.body as z.output<typeof TlsaRemove>;
      const host = parseHost(b.name, domain, 'name');
      if (!ownsDomain([domain], host)) {
        throw usage('E_API_OUTSIDE', `${host} is not under ${domain}`);
      }
      const record = parseTlsa(b.rdata);
      const owner = tlsaOwner(host, b.port, b.protocol);
      const r = await withPub(domain, (pub) =>
        removeTlsa(pub, state.ownership, owner, [record], {
          now: deps.now(),
          beforeApply: deps.dns.removeGuard(owner),
        }),
      );
      if (r.notOwned.length > 0) {
        throw new DkError(
          'config',
          'E_API_NOT_OURS',
          `${formatRdata(record)} at ${owner} was made by hand, not by danekeeper: remove it where it was made (or with danekeeper dns remove --force)`,
        );
      }
      if (r.absent.length > 0) {
        throw new DkError(
          'noinput',
          'E_API_NO_RECORD',
          `${owner} has no record ${formatRdata(record)}`,
        );
      }
      audit(i, 'dns.remove', owner, { rdata: formatRdata(record) });
      return { owner, removed: formatRdata(record), changed: r.changed };
    },

    'GET /v1/domains/{name}/dnssec': async (i) =>
      deps.dnssec(parseDomainName(String(i.params.name))),
    'GET /v1/domains/{name}/prereq': async (i) =>
      deps.prereq(parseDomainName(String(i.params.name))),
    'GET /v1/check/{name}': async (i) =>
      deps.check(parseDomainName(String(i.params.name)), i.query.port as number | undefined),
    'POST /v1/generate': async (i) => generateFromPem(i.body as z.output<typeof Generate>),

    // Accounts, with the CLI's rules (src/cli/user.ts): names by parseUserName, a customer's
    // domains by parseDomainName, the last admin kept, every change audited; the password is
    // hashed at once and appears in no answer, message, audit entry or log.
    'GET /v1/users': async () => ({ users: deps.users.users().map(userView) }),
    'POST /v1/users': async (i) => {
      const b = i.body as z.output<typeof UserAdd>;
      const name = parseUserName(b.name);
      const domains = [...new Set(b.domains.map(parseDomainName))].sort();
      if (b.role === 'admin' && domains.length > 0) {
        throw usage('E_OPTION', 'domains are for customers: an admin sees every domain');
      }
      if (deps.users.user(name)) {
        throw new DkError('config', 'E_USER_EXISTS', `There is a user ${name} already`);
      }
      const passwordHash = await hashPassword(b.password);
      const now = deps.now();
      if (!deps.users.addUser({ name, role: b.role, domains, passwordHash }, now)) {
        throw new DkError('config', 'E_USER_EXISTS', `There is a user ${name} already`);
      }
      audit(i, 'user.add', name, { role: b.role, domains });
      return userView(deps.users.user(name)!);
    },
    'DELETE /v1/users/{name}': async (i) => {
      const name = parseUserName(String(i.params.name));
      const u = deps.users.user(name);
      if (!u) throw new DkError('noinput', 'E_USER_UNKNOWN', `There is no user ${name}`);
      if (u.role === 'admin' && deps.users.adminCount() === 1) {
        throw new DkError(
          'config',
          'E_LAST_ADMIN',
          `${name} is the only admin: add another admin before removing this one`,
        );
      }
      deps.users.removeUser(name);
      audit(i, 'user.remove', name, { role: u.role });
      return { removed: name };
    },
    'GET /v1/settings': async () => ({ ...deps.settings.read(), ...deps.settings.facts?.() }),
    'PUT /v1/settings': async (i) => {
      const b = i.body as z.output<typeof SettingsChange>;
      const before = deps.settings.read();
      const after = deps.settings.change(b, deps.now());
      audit(i, 'settings.change', null, { before, after });
      return after;
    },
  };

  async function dane(i: HandlerInput, on: boolean) {
    const d = mustGet(String(i.params.name));
    if (on) refuseDaneOff(`Cannot turn DANE on for ${d.name}`);
    if (d.dane === on) return { domain: d.name, dane: on, changed: false };
    let zones: string[] = [];
    if (on) {
      if (d.endpoints.length === 0) {
        throw usage(
          'E_OPTION',
          `Cannot turn DANE on for ${d.name}: it has no mail host or endpoint`,
        );
      }
      zones = await requireSecureZones(d.name, d.endpoints, deps.zoneCheck);
    }
    const now = deps.now();
    withLease(d.name, on ? 'enable DANE for' : 'disable DANE for', () =>
      state.transaction(() => {
        state.domains.update(d.name, { dane: on }, now);
        state.events.append(
          d.name,
          on ? 'dane-enabled' : 'dane-disabled',
          on
            ? `DANE turned on by api:${i.user.name} (${zones.join(', ')} secure)`
            : `DANE turned off by api:${i.user.name}`,
          on ? { zones } : {},
          now,
        );
      }),
    );
    audit(i, on ? 'domain.enable-dane' : 'domain.disable-dane', d.name, on ? { zones } : {});
    deps.domainChanged?.(d.name);
    return { domain: d.name, dane: on, changed: true };
  }
}
