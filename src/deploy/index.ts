export {
  deployPair,
  type DeployOptions,
  type DeployOutcome,
  type RestoreReport,
} from './deploy.js';
export {
  CERT_NAMES,
  installPair,
  readDeployed,
  rollback,
  STATE_DIR,
  type CertName,
  type DeployedVersion,
  type InstallOptions,
  type InstallResult,
  type RollbackResult,
} from './install.js';
export { preparePair, type PairInput, type PreparedPair } from './pair.js';
export { runReload, runReloads, type ReloadOptions, type ReloadRun } from './reload.js';
export { checkSafePath } from './safe-path.js';
export {
  describeProblems,
  judgeDeployed,
  verifyDeployed,
  type AddressReport,
  type DeployEndpoint,
  type EndpointReport,
  type VerifyDeps,
  type VerifyInput,
  type VerifyReport,
} from './verify.js';
