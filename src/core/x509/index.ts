export { sortBundle, type BundleSort } from './bundle.js';
export { certFromDer, certLabel, type Cert } from './cert.js';
export { findIssuer, orderChain } from './chain.js';
export { keyTypeOf, parseKey, type KeyInfo } from './key.js';
export { parseCertificates } from './parse.js';
