/**
 * The webhook: a JSON POST whose raw body is signed with HMAC-SHA256 under a shared secret
 * (`X-Danekeeper-Signature: sha256=HEX`), with the send time in `X-Danekeeper-Timestamp` (Unix
 * seconds, also `sentAt` inside the signed body, so a receiver can refuse replays). Retried with
 * exponential backoff when the receiver may recover (5xx, connection errors, time-outs), never
 * on 4xx: the receiver has said no and asking again only repeats it.
 */
import { createHmac } from 'node:crypto';
import { DkError } from '../core/errors.js';

export const SIGNATURE_HEADER = 'X-Danekeeper-Signature';
export const TIMESTAMP_HEADER = 'X-Danekeeper-Timestamp';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export interface WebhookOptions {
  url: string;
  /** the shared secret; without it the request goes unsigned */
  secret?: string;
  /** attempts in all; default 4 */
  attempts?: number;
  /** first backoff, doubled each retry; default 1000 ms */
  backoffMs?: number;
  /** per attempt; default 10 s */
  timeoutMs?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

/** URL without credentials or query (it may carry a token): for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the webhook URL';
  }
}

export async function postWebhook(
  body: string,
  o: WebhookOptions,
): Promise<{ attempts: number; status: number }> {
  const attempts = o.attempts ?? 4;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const doFetch = o.fetch ?? fetch;
  const now = o.now ?? (() => new Date());
  const where = safeUrl(o.url);
  let last = '';
  for (let n = 1; n <= attempts; n++) {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'danekeeper',
      [TIMESTAMP_HEADER]: String(Math.floor(now().getTime() / 1000)),
    };
    if (o.secret !== undefined) headers[SIGNATURE_HEADER] = signBody(body, o.secret);
    try {
      const res = await doFetch(o.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { attempts: n, status: res.status };
      if (res.status < 500) {
        throw new DkError(
          'config',
          'E_NOTIFY_WEBHOOK_REJECTED',
          `Webhook ${where} refused the notification: HTTP ${res.status} (not retried)`,
        );
      }
      last = `HTTP ${res.status}`;
    } catch (e) {
      if (e instanceof DkError) throw e;
      const err = e as Error & { cause?: { code?: string; message?: string } };
      last =
        err.name === 'TimeoutError'
          ? 'no answer in time'
          : (err.cause?.code ?? err.cause?.message ?? err.message.split('\n')[0]!);
    }
    if (n < attempts) await sleep((o.backoffMs ?? 1000) * 2 ** (n - 1));
  }
  throw new DkError(
    'unavailable',
    'E_NOTIFY_WEBHOOK',
    `Webhook ${where} failed ${attempts} times (last: ${last}); the notification is sent again at the next pass`,
  );
}
