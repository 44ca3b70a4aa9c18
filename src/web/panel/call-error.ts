/**
 * What a panel page shows when the API's route caller refuses (issue 11: bad form input is
 * "answered with a message and nothing written"; a 5xx is a bug). An ApiError (validation,
 * authorization) or a DkError from a handler becomes the form's message with a 4xx; anything
 * else is rethrown, so a real bug still surfaces as one instead of being dressed up as a form
 * error.
 */
import { isDkError, type ErrorKind } from '../../core/errors.js';
import { ApiError } from '../api/api.js';

export type PageStatus = 400 | 403 | 404 | 409;

export interface CallFailure {
  status: PageStatus;
  code: string;
  /** one line, as the API's error body carries it */
  message: string;
}

/**
 * The API maps unavailable/protocol to 503 (a backend could not be reached); a page answers the
 * form with a 4xx instead (the brief: never a 5xx for a refused operation), and 409 says "the
 * server's state, not your input, stopped this" as the API's tempfail/config do.
 */
const KIND_STATUS: Record<ErrorKind, PageStatus> = {
  usage: 400,
  data: 400,
  noinput: 404,
  unavailable: 409,
  protocol: 409,
  tempfail: 409,
  // a server refusing danekeeper (a TSIG or API key), not the user: 403 would read as the
  // viewer's own authorization
  noperm: 409,
  config: 409,
  internal: 400,
};

const oneLine = (m: string) => m.replace(/\s*\n\s*/g, ' ');

/** The refusal to show, or the error rethrown when it is a bug (not ours to explain). */
export function callFailure(e: unknown): CallFailure {
  if (e instanceof ApiError) {
    // 401/413/415 cannot come from a page's own call (it has a session and builds the body);
    // should they, the input was at fault: 400.
    const status: PageStatus = e.status === 403 || e.status === 404 ? e.status : 400;
    return { status, code: e.code, message: oneLine(e.message) };
  }
  if (isDkError(e) && e.kind !== 'internal') {
    return { status: KIND_STATUS[e.kind], code: e.code, message: oneLine(e.message) };
  }
  throw e;
}
