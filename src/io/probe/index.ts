export { probe, PROBE_DEFAULTS } from './probe.js';
export {
  defaultPort,
  defaultStarttls,
  parseStarttlsProto,
  STARTTLS_PROTOS,
  type ProbeOptions,
  type ProbeResult,
  type StarttlsProto,
} from './types.js';
