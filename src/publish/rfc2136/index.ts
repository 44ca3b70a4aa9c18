/** The rfc2136 publishing backend: RFC 2136 dynamic update signed with RFC 8945 TSIG. */
export {
  parseTsigKeyFile,
  tsigKeyWarnings,
  TSIG_ALGORITHMS,
  type ParseKeyOptions,
  type TsigAlgorithm,
  type TsigKey,
} from './keyfile.js';
export { createRfc2136Publisher, type Rfc2136Options } from './publisher.js';
