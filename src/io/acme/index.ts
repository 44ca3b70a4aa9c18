export {
  AcmeClient,
  AcmeError,
  DIRECTORY_PRESETS,
  directoryUrl,
  generateAccountKey,
  parseRetryAfter,
  type AcmeClientOptions,
  type RenewalInfo,
} from './client.js';
export { ariCertId, issuedFacts, splitChain, type IssuedFacts } from './certid.js';
export { makeCsr } from './csr.js';
export { HttpListenerSolver, WebrootSolver } from './http01.js';
export { obtainCertificate, type ObtainRequest, type Obtained } from './obtain.js';
export type { ChallengeItem, ChallengeSolver } from './solver.js';
