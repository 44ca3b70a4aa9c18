/**
 * The store's schema, as forward migrations in one list. `PRAGMA user_version` holds how many
 * have run. To change the schema, append a migration; never edit one that has shipped, since
 * databases in the field have already run it.
 *
 * Version 3 adds the automatic path (issue 9): managed domains, their keys and certificates,
 * the planner's rollover state with a per-domain lease, and an append-only event log.
 */
export interface Migration {
  /** 1, 2, 3, ...: after it runs, user_version is this */
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'TLSA records danekeeper created',
    // One row per record danekeeper published. The key is the record itself at its owner, so
    // remembering twice is a no-op and two processes cannot create duplicates. Names are
    // stored lower case, absolute, with the trailing dot.
    sql: `
      CREATE TABLE owned_tlsa (
        zone       TEXT    NOT NULL,
        owner      TEXT    NOT NULL,
        usage      INTEGER NOT NULL CHECK (usage BETWEEN 0 AND 255),
        selector   INTEGER NOT NULL CHECK (selector BETWEEN 0 AND 255),
        mtype      INTEGER NOT NULL CHECK (mtype BETWEEN 0 AND 255),
        data       BLOB    NOT NULL,
        created_at TEXT    NOT NULL,
        PRIMARY KEY (zone, owner, usage, selector, mtype, data)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'TLSA records danekeeper is about to publish',
    // Intent, written before a change is sent and settled after it (tlsa-set.ts): a record
    // whose process dies between the server's acceptance and owned_tlsa still reads as
    // danekeeper's, never as made by hand. `intent` tells apart two processes adding the same
    // record at once, so each settles only its own rows.
    sql: `
      CREATE TABLE pending_tlsa (
        zone       TEXT    NOT NULL,
        owner      TEXT    NOT NULL,
        usage      INTEGER NOT NULL CHECK (usage BETWEEN 0 AND 255),
        selector   INTEGER NOT NULL CHECK (selector BETWEEN 0 AND 255),
        mtype      INTEGER NOT NULL CHECK (mtype BETWEEN 0 AND 255),
        data       BLOB    NOT NULL,
        intent     TEXT    NOT NULL,
        created_at TEXT    NOT NULL,
        PRIMARY KEY (zone, owner, usage, selector, mtype, data, intent)
      ) WITHOUT ROWID;
      CREATE INDEX pending_tlsa_intent ON pending_tlsa (intent);
    `,
  },
  {
    version: 3,
    name: 'managed domains, keys, certificates, rollover state, leases, events',
    // Domain names are stored lower case without the trailing dot, as users type them. Lists
    // (subdomains, mail hosts, endpoints, reload argv lists) are JSON arrays: they are read and
    // written whole, never queried by element. `challenge` NULL means "the [acme] default", so
    // a later change of the config file applies to every domain that did not choose.
    // Private keys: only in `keys.private_pem` (the file is 0600); every listing reads the
    // other columns (src/store/keys.ts). Events are append-only (the triggers), so history
    // survives `domain remove`; everything else of a removed domain goes with it (CASCADE).
    sql: `
      CREATE TABLE domains (
        name                 TEXT    PRIMARY KEY,
        include_domain_name  INTEGER NOT NULL CHECK (include_domain_name IN (0, 1)),
        subdomains           TEXT    NOT NULL,
        mail_hosts           TEXT    NOT NULL,
        endpoints            TEXT    NOT NULL,
        dane                 INTEGER NOT NULL CHECK (dane IN (0, 1)),
        cert_dir             TEXT    NOT NULL,
        reload               TEXT    NOT NULL,
        key_type             TEXT    NOT NULL
          CHECK (key_type IN ('ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096')),
        new_key_each_renewal INTEGER NOT NULL CHECK (new_key_each_renewal IN (0, 1)),
        issuer_records       INTEGER NOT NULL CHECK (issuer_records IN (0, 1)),
        challenge            TEXT    CHECK (challenge IN ('http-01', 'dns-01')),
        created_at           TEXT    NOT NULL,
        updated_at           TEXT    NOT NULL
      );
      CREATE TABLE keys (
        id          TEXT PRIMARY KEY,
        domain      TEXT NOT NULL REFERENCES domains (name) ON DELETE CASCADE,
        role        TEXT NOT NULL CHECK (role IN ('current', 'next', 'retired')),
        type        TEXT NOT NULL
          CHECK (type IN ('ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096')),
        private_pem TEXT NOT NULL,
        spki_sha256 TEXT NOT NULL CHECK (length(spki_sha256) = 64),
        created_at  TEXT NOT NULL
      );
      CREATE INDEX keys_domain ON keys (domain);
      -- RFC 7671 §8.1 (current + next): at most one of each per domain, ever.
      CREATE UNIQUE INDEX keys_one_current ON keys (domain) WHERE role = 'current';
      CREATE UNIQUE INDEX keys_one_next ON keys (domain) WHERE role = 'next';
      CREATE TABLE certificates (
        id           TEXT PRIMARY KEY,
        domain       TEXT NOT NULL REFERENCES domains (name) ON DELETE CASCADE,
        key_id       TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
        chain_pem    TEXT NOT NULL,
        not_before   TEXT NOT NULL,
        not_after    TEXT NOT NULL,
        serial       TEXT NOT NULL,
        ari_cert_id  TEXT,
        issued_at    TEXT NOT NULL,
        installed_at TEXT,
        replaced_at  TEXT
      );
      CREATE INDEX certificates_domain ON certificates (domain, issued_at);
      CREATE TABLE rollover_state (
        domain        TEXT    PRIMARY KEY REFERENCES domains (name) ON DELETE CASCADE,
        state_version INTEGER NOT NULL CHECK (state_version >= 1),
        state         TEXT    NOT NULL,
        updated_at    TEXT    NOT NULL
      );
      -- No foreign key: a lease may guard a domain while it is being added or removed.
      CREATE TABLE leases (
        domain     TEXT    PRIMARY KEY,
        holder     TEXT    NOT NULL,
        expires_ms INTEGER NOT NULL
      );
      CREATE TABLE events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        domain  TEXT NOT NULL,
        at      TEXT NOT NULL,
        kind    TEXT NOT NULL,
        message TEXT NOT NULL,
        details TEXT NOT NULL
      );
      CREATE INDEX events_domain_at ON events (domain, at);
      CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
      CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    `,
  },
  {
    version: 4,
    name: 'TXT values danekeeper published (ACME DNS-01)',
    // RFC 8555 §8.4: DNS-01 publishes `_acme-challenge` TXT values and removes them after
    // validation. A process that dies in between would leave them forever if ownership lived
    // in memory; these rows let the next run remove exactly the values danekeeper published
    // and never a hand-made one (src/store/txt-ownership.ts, src/publish/txt-set.ts). As for
    // TLSA (migrations 1 and 2): `pending_txt` is written before a change is sent, settled
    // into `owned_txt` after it applied. A value is one RR's character-strings joined.
    sql: `
      CREATE TABLE owned_txt (
        zone       TEXT NOT NULL,
        owner      TEXT NOT NULL,
        value      TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (zone, owner, value)
      ) WITHOUT ROWID;
      CREATE TABLE pending_txt (
        zone       TEXT NOT NULL,
        owner      TEXT NOT NULL,
        value      TEXT NOT NULL,
        intent     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (zone, owner, value, intent)
      ) WITHOUT ROWID;
      CREATE INDEX pending_txt_intent ON pending_txt (intent);
    `,
  },
  {
    version: 5,
    name: 'monitoring: watched domains, findings, notifications sent',
    // Issue 10. `watched_domains`: domains checked by the monitor only (`danekeeper watch
    // DOMAIN`), never managed. `monitor_findings`: one row per problem the monitor saw (key =
    // domain, rule code and subject), with first- and last-seen times; `recovered_at` is set
    // when a pass no longer sees it, and cleared when it comes back (a new first_seen then).
    // `notify_sent`: per problem, when its message and reminders went out, so a problem gets
    // one message, a reminder at most every reminder interval, and one recovery notice, across
    // restarts. `notify_cursor`: the last event-log id notifications have been made for.
    sql: `
      CREATE TABLE watched_domains (
        name     TEXT PRIMARY KEY,
        added_at TEXT NOT NULL
      );
      CREATE TABLE monitor_findings (
        key          TEXT PRIMARY KEY,
        domain       TEXT NOT NULL,
        code         TEXT NOT NULL,
        subject      TEXT NOT NULL,
        severity     TEXT NOT NULL CHECK (severity IN ('critical', 'warning')),
        message      TEXT NOT NULL,
        fix          TEXT,
        first_seen   TEXT NOT NULL,
        last_seen    TEXT NOT NULL,
        recovered_at TEXT
      );
      CREATE INDEX monitor_findings_domain ON monitor_findings (domain);
      CREATE TABLE notify_sent (
        key        TEXT PRIMARY KEY,
        domain     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        title      TEXT NOT NULL,
        opened_at  TEXT NOT NULL,
        last_sent  TEXT NOT NULL,
        reminders  INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE notify_cursor (
        name          TEXT PRIMARY KEY,
        last_event_id INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'notifications: what the recipients were last told, per problem, and a flap window',
    // A problem that comes and goes every pass must not send a message every pass (issue 10:
    // never a storm). `told` is what the recipients last heard (open or recovered), so a
    // recovered problem keeps its row; `window_start`/`window_count` count the messages about
    // it in the current reminder interval, so a flapping one is held back until it settles.
    sql: `
      ALTER TABLE notify_sent ADD COLUMN told TEXT NOT NULL DEFAULT 'open'
        CHECK (told IN ('open', 'recovered'));
      ALTER TABLE notify_sent ADD COLUMN window_start TEXT;
      ALTER TABLE notify_sent ADD COLUMN window_count INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 7,
    name: 'accounts: users, their domains, API tokens, panel sessions, audit log',
    // Issue 11. Passwords only as a versioned scrypt string (src/auth/password.ts); API tokens
    // and session ids only as their SHA-256 (a 256-bit random secret needs no slow hash: there
    // is nothing to guess), so a copy of this file logs nobody in. A user's tokens, sessions
    // and domains go with the user (CASCADE). The audit log names users by text, not by key,
    // and is append-only (the triggers), so it outlives the users it is about.
    sql: `
      CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'customer')),
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );
      CREATE TABLE user_domains (
        user   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        domain TEXT NOT NULL,
        PRIMARY KEY (user, domain)
      ) WITHOUT ROWID;
      CREATE INDEX user_domains_domain ON user_domains (domain);
      CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        user         TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        token_sha256 TEXT NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
        created_at   TEXT NOT NULL,
        expires_at   TEXT,
        last_used_at TEXT,
        revoked_at   TEXT
      );
      CREATE INDEX api_tokens_user ON api_tokens (user);
      CREATE TABLE sessions (
        id_sha256   TEXT PRIMARY KEY CHECK (length(id_sha256) = 64),
        user        TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        last_seen   TEXT NOT NULL,
        csrf_secret TEXT NOT NULL
      );
      CREATE INDEX sessions_user ON sessions (user);
      CREATE INDEX sessions_expires ON sessions (expires_at);
      CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT,
        source  TEXT NOT NULL,
        details TEXT NOT NULL
      );
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    version: 8,
    name: 'settings: what the admin changes in the panel or API, over the INI file',
    // Issue 11's settings page: the INI file is the operator's (a panel never rewrites it), so
    // a change made in the panel or the API is a row here that overrides the file's value;
    // deleting the row gives the file's value back. Values are JSON text.
    sql: `
      CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 9,
    name: 'renew requests: asked through the API, the panel or a busy `renew`, until a pass takes them',
    // Issue 10: "a crash or kill -9 loses nothing". A renewal asked through the API or the
    // panel (answered 200) or by `danekeeper renew` while serve holds the domain is a row here
    // until a pass has handed it to the planner and saved the state carrying it (one
    // transaction, src/daemon/pass.ts), so it is carried out exactly once across restarts.
    // One row per domain: the stronger request stands (rotate-key includes a renewal).
    sql: `
      CREATE TABLE renew_requests (
        domain   TEXT PRIMARY KEY,
        request  TEXT NOT NULL CHECK (request IN ('renew', 'rotate-key')),
        asked_at TEXT NOT NULL,
        asked_by TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];

/** The schema version this build knows: the last migration's. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
