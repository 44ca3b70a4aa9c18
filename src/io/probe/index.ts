export { probe, PROBE_DEFAULTS } from './probe.js';
export {
  defaultStarttls,
  parseStarttlsProto,
  STARTTLS_PROTOS,
  type ProbeOptions,
  type ProbeResult,
  type StarttlsProto,
} from './types.js';
