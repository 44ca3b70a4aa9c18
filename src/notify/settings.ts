/**
 * `[notify]` and `[monitor]` of the config file as the notifier and the monitor take them. The
 * webhook secret is read from its file here; the file must be 0600 (it signs what receivers
 * trust) and its value never appears in a message.
 */
import { readFileSync, statSync } from 'node:fs';
import type { ConfigFile } from '../config/config.js';
import { DkError } from '../core/errors.js';
import { fileErrorReason } from '../io/file-errors.js';
import type { MonitorSettings } from '../monitor/pass.js';
import type { NotifySettings } from './notifier.js';

export function readWebhookSecret(file: string): string {
  let text: string;
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DkError(
      'noinput',
      'E_SECRET_READ',
      `Cannot read the webhook secret file ${file}: ${fileErrorReason(e)}`,
    );
  }
  if ((mode & 0o077) !== 0) {
    throw new DkError(
      'config',
      'E_SECRET_MODE',
      `The webhook secret file ${file} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it`,
    );
  }
  const secret = text.trim();
  if (secret === '') {
    throw new DkError('config', 'E_SECRET_EMPTY', `The webhook secret file ${file} is empty`);
  }
  return secret;
}

export function notifySettings(c: Pick<ConfigFile, 'notify' | 'ext-sslit'>): NotifySettings {
  const n = c.notify;
  const out: NotifySettings = {};
  if (n.email !== undefined && n.smtp !== undefined && n.from !== undefined) {
    out.email = { smtp: n.smtp, from: n.from, to: n.email };
  }
  if (n.webhook !== undefined) {
    const secretFile = n['webhook-secret-file'];
    out.webhook = {
      url: n.webhook,
      ...(secretFile !== undefined ? { secret: readWebhookSecret(secretFile) } : {}),
    };
  }
  if (n['reminder-hours'] !== undefined) out.reminderHours = n['reminder-hours'];
  const hours = c['ext-sslit']['dane-confirmation-interval-in-hours'];
  if (hours !== undefined) out.confirmationHours = hours;
  return out;
}

export function monitorSettings(c: Pick<ConfigFile, 'monitor'>): MonitorSettings {
  const m = c.monitor;
  return {
    ...(m['rrsig-warn-days'] !== undefined ? { rrsigDays: m['rrsig-warn-days'] } : {}),
    ...(m['cert-warn-days'] !== undefined ? { certDays: m['cert-warn-days'] } : {}),
  };
}
