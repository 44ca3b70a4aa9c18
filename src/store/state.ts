/**
 * The whole state database on one handle: the ownership store of the manual path and the
 * typed stores of the automatic path (issue 9). Open it once per process (or per pass) and
 * close it when done; every store shares the handle, so one transaction can span them.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { DkError } from '../core/errors.js';
import type { OwnershipStore } from '../publish/types.js';
import { CertificateStore } from './certificates.js';
import { DomainStore } from './domains.js';
import { EventStore } from './events.js';
import { KeyStore } from './keys.js';
import { RequestStore } from './requests.js';
import { RolloverStore } from './rollover.js';
import { openError, openHandle, ownershipOn, prepareFile } from './store.js';
import { txtOwnershipOn, type TxtStore } from './txt-ownership.js';

export interface StateStore {
  /** the file, or `in memory` */
  readonly label: string;
  readonly ownership: OwnershipStore;
  /** the ACME DNS-01 TXT values danekeeper published (removed after a crash by the next run) */
  readonly txt: TxtStore;
  readonly domains: DomainStore;
  readonly keys: KeyStore;
  readonly certificates: CertificateStore;
  readonly rollover: RolloverStore;
  readonly events: EventStore;
  /** renew requests waiting for a pass (API, panel, a `renew` while serve holds the domain) */
  readonly requests: RequestStore;
  /** runs f in one IMMEDIATE transaction (all or nothing across the stores) */
  transaction<T>(f: () => T): T;
  close(): void;
}

/**
 * Private keys go only into a file no one else can read. New files are made 0600
 * (prepareFile); one that was opened up since (chmod 644, a copy made readable) is refused
 * rather than silently tightened: the admin learns that the file was exposed.
 */
function privateFileGuard(path: string): () => void {
  return () => {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch (e) {
      throw openError(path, e);
    }
    if ((mode & 0o077) !== 0) {
      throw new DkError(
        'config',
        'E_STORE_MODE',
        `State database ${path} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}) and would hold private keys: chmod 600 it`,
      );
    }
  };
}

function on(db: Database.Database, label: string, path?: string): StateStore {
  return {
    label,
    ownership: ownershipOn(db, label),
    txt: txtOwnershipOn(db, label),
    domains: new DomainStore(db, label),
    keys: new KeyStore(db, label, path === undefined ? undefined : privateFileGuard(path)),
    certificates: new CertificateStore(db, label),
    rollover: new RolloverStore(db, label),
    events: new EventStore(db, label),
    requests: new RequestStore(db, label),
    transaction: <T>(f: () => T): T => db.transaction(f).immediate(),
    close: () => {
      if (db.open) db.close();
    },
  };
}

/** Opens (creating 0600 if needed) the state database at `path`, schema brought up to date. */
export function openState(path: string): StateStore {
  prepareFile(path);
  return on(openHandle(path, path), path, path);
}

/** The same on a private in-memory database, for tests and read-only commands. */
export function memoryState(): StateStore {
  return on(openHandle(':memory:', 'in memory'), 'in memory');
}
