/**
 * Managed domains (DESIGN.md "The automatic path"): one certificate lineage per domain, the
 * names it covers, where it is served, where its files go and whether DANE is on.
 */
import type Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';
import { hostName, statementCache, storeCall } from './guard.js';

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const CHALLENGES = ['http-01', 'dns-01'] as const;
export type Challenge = (typeof CHALLENGES)[number];
export const PROTOS = ['tcp', 'udp', 'sctp'] as const;
export type Proto = (typeof PROTOS)[number];

/** A service that presents the domain's certificate; its TLSA owner is `_PORT._PROTO.HOST`. */
export interface Endpoint {
  host: string;
  port: number;
  proto: Proto;
}

export interface DomainSettings {
  /** `example.org`: lower case, no trailing dot */
  name: string;
  /** the seed's "Secure the domain name": false with --no-domain-name */
  includeDomainName: boolean;
  /** labels or relative names under the domain: `www`, `mail` */
  subdomains: string[];
  /** the mail host(s) the certificate is assigned to: port 25 of each is an endpoint */
  mailHosts: string[];
  endpoints: Endpoint[];
  dane: boolean;
  certDir: string;
  /** argv lists, run without a shell */
  reload: string[][];
  keyType: KeyType;
  newKeyEachRenewal: boolean;
  issuerRecords: boolean;
  /** null: the [acme] section's challenge */
  challenge: Challenge | null;
}

export interface Domain extends DomainSettings {
  createdAt: string;
  updatedAt: string;
}

/** The names the certificate covers: the domain (unless excluded) and each subdomain under it. */
export function certificateNames(
  d: Pick<DomainSettings, 'name' | 'includeDomainName' | 'subdomains'>,
): string[] {
  const names = d.includeDomainName ? [d.name] : [];
  for (const s of d.subdomains) names.push(`${hostName(s)}.${d.name}`);
  return [...new Set(names)];
}

export const endpointText = (e: Endpoint) => `${e.host}:${e.port}/${e.proto}`;

interface Row {
  name: string;
  include_domain_name: number;
  subdomains: string;
  mail_hosts: string;
  endpoints: string;
  dane: number;
  cert_dir: string;
  reload: string;
  key_type: KeyType;
  new_key_each_renewal: number;
  issuer_records: number;
  challenge: Challenge | null;
  created_at: string;
  updated_at: string;
}

function fromRow(r: Row): Domain {
  return {
    name: r.name,
    includeDomainName: r.include_domain_name === 1,
    subdomains: JSON.parse(r.subdomains) as string[],
    mailHosts: JSON.parse(r.mail_hosts) as string[],
    endpoints: JSON.parse(r.endpoints) as Endpoint[],
    dane: r.dane === 1,
    certDir: r.cert_dir,
    reload: JSON.parse(r.reload) as string[][],
    keyType: r.key_type,
    newKeyEachRenewal: r.new_key_each_renewal === 1,
    issuerRecords: r.issuer_records === 1,
    challenge: r.challenge,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toParams(d: DomainSettings) {
  return {
    name: hostName(d.name),
    include_domain_name: d.includeDomainName ? 1 : 0,
    subdomains: JSON.stringify(d.subdomains),
    mail_hosts: JSON.stringify(d.mailHosts.map(hostName)),
    endpoints: JSON.stringify(d.endpoints.map((e) => ({ ...e, host: hostName(e.host) }))),
    dane: d.dane ? 1 : 0,
    cert_dir: d.certDir,
    reload: JSON.stringify(d.reload),
    key_type: d.keyType,
    new_key_each_renewal: d.newKeyEachRenewal ? 1 : 0,
    issuer_records: d.issuerRecords ? 1 : 0,
    challenge: d.challenge,
  };
}

/** a list search's text as the lists compare it (lower case); null: no search */
const needle = (q: string | undefined): string | null =>
  q === undefined || q === '' ? null : q.toLowerCase();

export const unknownDomain = (name: string) =>
  new DkError(
    'usage',
    'E_DOMAIN_UNKNOWN',
    `${hostName(name)} is not a managed domain (danekeeper domain list shows them)`,
  );

export class DomainStore {
  readonly #db: Database.Database;
  readonly #label: string;
  // prepared once per open store (guard.ts statementCache)
  readonly #sql: (sql: string) => Database.Statement;

  constructor(db: Database.Database, label: string) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#label = label;
  }

  /** Adds a domain; E_DOMAIN_EXISTS when it is managed already (nothing is changed then). */
  add(d: DomainSettings, now: Date): Domain {
    const p = toParams(d);
    const at = now.toISOString();
    const changes = storeCall(
      this.#label,
      'add a domain',
      () =>
        this.#sql(
          `INSERT OR IGNORE INTO domains (name, include_domain_name, subdomains, mail_hosts,
             endpoints, dane, cert_dir, reload, key_type, new_key_each_renewal, issuer_records,
             challenge, created_at, updated_at)
           VALUES (@name, @include_domain_name, @subdomains, @mail_hosts, @endpoints, @dane,
             @cert_dir, @reload, @key_type, @new_key_each_renewal, @issuer_records, @challenge,
             @at, @at)`,
        ).run({ ...p, at }).changes,
    );
    if (changes === 0) {
      throw new DkError(
        'usage',
        'E_DOMAIN_EXISTS',
        `${p.name} is managed already: danekeeper domain show ${p.name} shows how; remove it first to add it anew`,
      );
    }
    return this.get(p.name)!;
  }

  get(name: string): Domain | undefined {
    const row = storeCall(this.#label, 'read a domain', () =>
      this.#sql('SELECT * FROM domains WHERE name = ?').get(hostName(name)),
    ) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Every managed domain, by name. */
  list(): Domain[] {
    const rows = storeCall(this.#label, 'list domains', () =>
      this.#sql('SELECT * FROM domains ORDER BY name').all(),
    ) as Row[];
    return rows.map(fromRow);
  }

  /**
   * How many domains there are, or how many have `q` in their name: a list's total without
   * reading (and JSON-parsing) every row, which for 10,000 domains was most of a list request.
   */
  count(q?: string): number {
    return storeCall(
      this.#label,
      'count domains',
      () =>
        this.#sql('SELECT count(*) FROM domains WHERE (@q IS NULL OR instr(name, @q) > 0)')
          .pluck()
          .get({ q: needle(q) }) as number,
    );
  }

  /**
   * One page of `list()` (by name), optionally of the names containing `q` (lower-cased, as the
   * lists' search does): only the page's rows are read and parsed.
   */
  page(o: { offset: number; limit: number; q?: string }): Domain[] {
    const rows = storeCall(this.#label, 'list domains', () =>
      this.#sql(
        `SELECT * FROM domains WHERE (@q IS NULL OR instr(name, @q) > 0)
         ORDER BY name LIMIT @limit OFFSET @offset`,
      ).all({
        q: needle(o.q),
        limit: Math.max(0, Math.floor(o.limit)),
        offset: Math.max(0, Math.floor(o.offset)),
      }),
    ) as Row[];
    return rows.map(fromRow);
  }

  /**
   * Every managed domain's name, by name (the order of `list()`), without reading the rest of
   * the rows: a customer's list is filtered on names, then only its page is read (`getMany`).
   */
  names(): string[] {
    return storeCall(
      this.#label,
      'list domains',
      () => this.#sql('SELECT name FROM domains ORDER BY name').pluck().all() as string[],
    );
  }

  /** The managed domains among `names`, in the order given; names not managed are left out. */
  getMany(names: readonly string[]): Domain[] {
    if (names.length === 0) return [];
    const rows = storeCall(this.#label, 'read domains', () =>
      this.#sql(
        `SELECT d.* FROM json_each(?) AS j JOIN domains AS d ON d.name = j.value
         ORDER BY j.key`,
      ).all(JSON.stringify(names.map(hostName))),
    ) as Row[];
    return rows.map(fromRow);
  }

  /** Changes settings (not the name); E_DOMAIN_UNKNOWN when the domain is not managed. */
  update(name: string, patch: Partial<Omit<DomainSettings, 'name'>>, now: Date): Domain {
    return storeCall(this.#label, 'change a domain', () =>
      this.#db
        .transaction(() => {
          const cur = this.get(name);
          if (!cur) throw unknownDomain(name);
          const next = { ...cur, ...patch, name: cur.name };
          this.#sql(
            `UPDATE domains SET include_domain_name = @include_domain_name,
               subdomains = @subdomains, mail_hosts = @mail_hosts, endpoints = @endpoints,
               dane = @dane, cert_dir = @cert_dir, reload = @reload, key_type = @key_type,
               new_key_each_renewal = @new_key_each_renewal, issuer_records = @issuer_records,
               challenge = @challenge, updated_at = @at
             WHERE name = @name`,
          ).run({ ...toParams(next), at: now.toISOString() });
          return this.get(cur.name)!;
        })
        .immediate(),
    );
  }

  /**
   * Forgets the domain with its keys, certificates and rollover state (CASCADE). Its events
   * stay (append-only), and so do the TLSA records it owns (owned_tlsa): see `domain remove`.
   * Returns false when it was not managed.
   */
  remove(name: string): boolean {
    return storeCall(
      this.#label,
      'remove a domain',
      () => this.#sql('DELETE FROM domains WHERE name = ?').run(hostName(name)).changes > 0,
    );
  }
}
