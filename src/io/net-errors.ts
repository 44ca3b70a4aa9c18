/**
 * One wording for a failed connection, whichever client meets it (the probe, RFC 2136 and zone
 * transfers, the PowerDNS API, the ACME client): "connection refused", never a bare
 * ECONNREFUSED or ENOTFOUND. Node reports the code on the error itself (net), on its `cause`
 * (fetch/undici), or on the last attempt of an AggregateError (happy eyeballs).
 */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection closed',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'no route to the host',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'the host name does not resolve',
  EAI_FAIL: 'the host name does not resolve',
  EAI_AGAIN: 'the host name lookup failed for now',
  ENODATA: 'the host name has no addresses',
};

/** The errno-style code of a connection error, wherever Node put it. */
export function netErrorCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const inner = (e as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length > 0) return netErrorCode(inner[inner.length - 1]);
  const cause = (e as { cause?: unknown }).cause;
  return cause === undefined ? undefined : netErrorCode(cause);
}

/** Why a connection failed, in words; the error's own message when the code is unknown. */
export function netErrorReason(e: unknown): string {
  const code = netErrorCode(e);
  const known = code === undefined ? undefined : REASONS[code];
  if (known) return known;
  if (code) return code;
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}
