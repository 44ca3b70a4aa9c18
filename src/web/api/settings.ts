/**
 * The server's settings as the API and the panel see them: the INI file's values (the
 * operator's file, never rewritten by the panel) overridden by what an admin set, kept in the
 * state database's settings table (migration 8).
 */
import { daneEnabled, type ConfigFile } from '../../config/config.js';
import type { UsersStore } from '../../store/users.js';
import type { ApiSettings, SettingsSource } from './handlers.js';

/** The seed's default confirmation interval: 24 hours. */
const DEFAULT_CONFIRMATION_HOURS = 24;

export function storedSettings(users: UsersStore, config: () => ConfigFile): SettingsSource {
  const read = (): ApiSettings => {
    const c = config();
    const hours =
      c['ext-sslit']?.['dane-confirmation-interval-in-hours'] ?? DEFAULT_CONFIRMATION_HOURS;
    const file: ApiSettings = {
      daneEnabled: daneEnabled(c),
      confirmationInterval: Math.round(hours * 3600),
    };
    const o = users.settings();
    return {
      daneEnabled: typeof o.daneEnabled === 'boolean' ? o.daneEnabled : file.daneEnabled,
      confirmationInterval:
        typeof o.confirmationInterval === 'number'
          ? o.confirmationInterval
          : file.confirmationInterval,
    };
  };
  return {
    read,
    change(patch, now) {
      users.setSettings({ ...patch }, now);
      return read();
    },
  };
}
