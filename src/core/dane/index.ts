export {
  verifyDane,
  shortRdata,
  type DaneInput,
  type DaneResult,
  type DaneVerdict,
  type RecordResult,
} from './verify.js';
export {
  matchName,
  matchIds,
  effectiveIds,
  isReferenceName,
  isSubdomainRef,
  normalizeName,
  type PresentedIds,
} from './names.js';
export { presentedIds } from './identity.js';
