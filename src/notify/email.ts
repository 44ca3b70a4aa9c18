/**
 * E-mail over SMTP through the relay in `[notify] smtp` (nodemailer). STARTTLS is used when
 * the relay offers it and skipped when it does not (opportunistic, RFC 3207): a notification
 * about broken TLS must still get out. Port 465 means implicit TLS (RFC 8314 §3.3).
 */
import { DkError } from '../core/errors.js';

export interface EmailOptions {
  /** `host`, `host:port` or `[v6]:port`; default port 25 */
  smtp: string;
  from: string;
  to: string;
  timeoutMs?: number;
}

export function relayAddress(smtp: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(smtp);
  if (!m)
    throw new DkError(
      'config',
      'E_NOTIFY_SMTP',
      `[notify] smtp "${smtp}" must be HOST or HOST:PORT`,
    );
  return { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : 25 };
}

export async function sendMail(
  msg: { subject: string; text: string },
  o: EmailOptions,
): Promise<void> {
  const { host, port } = relayAddress(o.smtp);
  const { createTransport } = await import('nodemailer');
  const t = o.timeoutMs ?? 15_000;
  const transport = createTransport({
    host,
    port,
    secure: port === 465,
    // opportunistic: STARTTLS when offered; the relay's certificate is not judged here (it is
    // often a local relay with a self-signed one); the monitor judges the endpoints
    tls: { rejectUnauthorized: false },
    connectionTimeout: t,
    greetingTimeout: t,
    socketTimeout: t,
    name: 'danekeeper',
  });
  try {
    await transport.sendMail({ from: o.from, to: o.to, subject: msg.subject, text: msg.text });
  } catch (e) {
    const err = e as Error & { code?: string; response?: string };
    const why = (err.response ?? err.code ?? err.message).split('\n')[0];
    throw new DkError(
      'unavailable',
      'E_NOTIFY_EMAIL',
      `Cannot send the notification e-mail to ${o.to} through ${host}:${port}: ${why}; it is sent again at the next pass`,
    );
  } finally {
    transport.close();
  }
}
