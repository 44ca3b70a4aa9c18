/**
 * The daemon's logger (issue 10 item 1): pino, one JSON line per event on stdout, for
 * journald. What is logged is chosen field by field (outcomes, codes, durations), never a
 * config object or an error's cause; the redaction and the PEM filter below are the second
 * line of defence, so that a secret handed in by mistake still never reaches the journal.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** field names that may hold a secret wherever they appear (two levels deep) */
const SECRET_KEYS = [
  'secret',
  'password',
  'hmacKey',
  'hmac-key',
  'eab',
  'privateKey',
  'key-pem',
  'token',
  'apiKey',
  'api-key',
  'authorization',
];

const PEM_PRIVATE =
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;

export function createLogger(o: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: o.level ?? 'info',
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`)].map((p) =>
          /^[A-Za-z*.]+$/.test(p) ? p : p.replace(/([^.*]+)$/, '["$1"]'),
        ),
        censor: '[redacted]',
      },
      hooks: {
        // a PEM private key in any string (an error message quoting a file) is cut out
        streamWrite: (s) => s.replace(PEM_PRIVATE, '[redacted private key]'),
      },
    },
    // sync: the last lines before SIGTERM's exit are written, not lost in a buffer
    o.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
