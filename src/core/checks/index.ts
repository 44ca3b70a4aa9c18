export * from './verdict.js';
export * from './findings.js';
