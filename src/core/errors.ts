/**
 * The one error type. Every failure danekeeper reports carries a stable `code` (for scripts and
 * tests) and a `kind` that the CLI maps to an exit status in one place (src/cli/exit.ts).
 * Messages are one sentence-case line naming the action that failed and why; they never
 * contain secrets or stack traces.
 */
export type ErrorKind =
  /** the command line itself is wrong (sysexits EX_USAGE 64) */
  | 'usage'
  /** input was read but is malformed: PEM, DER, key, TLSA text (EX_DATAERR 65) */
  | 'data'
  /** an input file is missing or unreadable (EX_NOINPUT 66) */
  | 'noinput'
  /** a remote server could not be reached or timed out (EX_UNAVAILABLE 69) */
  | 'unavailable'
  /** a remote server broke the protocol: refused STARTTLS, endless lines, bad TLS (EX_PROTOCOL 76) */
  | 'protocol'
  /** try again later: a concurrent change kept winning (EX_TEMPFAIL 75) */
  | 'tempfail'
  /** the server refused us: wrong TSIG key or API key, update not allowed (EX_NOPERM 77) */
  | 'noperm'
  /** the configuration is wrong: zone not served there, bad config or key file (EX_CONFIG 78) */
  | 'config'
  /** a bug in danekeeper (EX_SOFTWARE 70) */
  | 'internal';

export class DkError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  /** Byte or character offset into the input where parsing failed, when known. */
  readonly offset: number | undefined;

  constructor(
    kind: ErrorKind,
    code: string,
    message: string,
    opts: { offset?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DkError';
    this.kind = kind;
    this.code = code;
    this.offset = opts.offset;
  }
}

export function isDkError(e: unknown): e is DkError {
  return e instanceof DkError;
}
