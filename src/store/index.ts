export { openStore, memoryStore, storeName, BUSY_TIMEOUT_MS } from './store.js';
export { defaultStorePath } from './path.js';
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';
