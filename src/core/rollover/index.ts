export { plan, emptyState, recordFailure, endpointName } from './plan.js';
export { desiredRecords, chainMatches, eeRecord, taRecord, issuerSet } from './records.js';
export { confirmationWaitMs, confirmedAt, confirmedEverywhereAt, updateTracks } from './confirm.js';
export { ariDue, dueAt, foldAri } from './renewal.js';
export { retiringOwners, retiredHold } from './retire.js';
export * from './types.js';
export { summarize, type RolloverSummary, type TlsaSummary } from './summary.js';
