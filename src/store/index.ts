export { openStore, memoryStore, storeName, BUSY_TIMEOUT_MS } from './store.js';
export { defaultStorePath } from './path.js';
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';
export { openState, memoryState, type StateStore } from './state.js';
export {
  CHALLENGES,
  KEY_TYPES,
  PROTOS,
  certificateNames,
  endpointText,
  type Challenge,
  type Domain,
  type DomainSettings,
  type Endpoint,
  type KeyType,
  type Proto,
} from './domains.js';
export type { KeyInfo, KeyRole, NewKey } from './keys.js';
export type { CertificateInfo, NewCertificate } from './certificates.js';
export type { Lease, SaveOptions, StoredState } from './rollover.js';
export type { DkEvent, EventQuery } from './events.js';
