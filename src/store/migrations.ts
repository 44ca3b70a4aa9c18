/**
 * The store's schema, as forward migrations in one list. `PRAGMA user_version` holds how many
 * have run. To change the schema, append a migration; never edit one that has shipped, since
 * databases in the field have already run it.
 *
 * Later issues add rollover state and certificates here:
 *   { version: 3, name: 'rollover state', sql: `CREATE TABLE rollover (...);` },
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
];

/** The schema version this build knows: the last migration's. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
