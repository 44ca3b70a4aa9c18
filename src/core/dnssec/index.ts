export * from './algorithms.js';
export * from './ds.js';
export * from './present.js';
export * from './readiness.js';
