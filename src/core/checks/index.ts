export * from './verdict.js';
export * from './findings.js';
export * from './in-use.js';
export * from './delivery.js';
