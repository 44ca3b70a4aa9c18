import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../config/config.js';
import { DkError } from '../core/errors.js';
import { notifySettings } from './settings.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-notify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('notify settings', () => {
  it('reads the webhook secret from a 0600 file and refuses one others can read', () => {
    const file = join(dir, 'hook.secret');
    writeFileSync(file, 'k3y-value\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    const text = `[notify]\nwebhook = https://h.example/x\nwebhook-secret-file = ${file}\nemail = a@example.org\nsmtp = 127.0.0.1\nfrom = b@example.org\n`;
    const s = notifySettings(parseConfig(text, 'f.ini'));
    assert.equal(s.webhook?.secret, 'k3y-value');
    assert.deepEqual(s.email, { smtp: '127.0.0.1', from: 'b@example.org', to: 'a@example.org' });
    chmodSync(file, 0o644);
    assert.throws(
      () => notifySettings(parseConfig(text, 'f.ini')),
      (e: unknown) =>
        e instanceof DkError &&
        e.code === 'E_SECRET_MODE' &&
        /chmod 600/.test(e.message) &&
        !e.message.includes('k3y-value'),
    );
  });
});

describe('monitor settings', () => {
  it('[monitor] interval and warning windows, with defaults', async () => {
    const { monitorIntervalMs } = await import('../monitor/open.js');
    const { monitorSettings } = await import('./settings.js');
    assert.equal(monitorIntervalMs(parseConfig('[dns]\nzone = a\n', 'f.ini')), 15 * 60_000);
    const c = parseConfig('[monitor]\ninterval-minutes = 5\nrrsig-warn-days = 3\n', 'f.ini');
    assert.equal(monitorIntervalMs(c), 5 * 60_000);
    assert.deepEqual(monitorSettings(c), { rrsigDays: 3 });
  });
});
