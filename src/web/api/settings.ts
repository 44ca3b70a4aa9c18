/**
 * The server's settings as the API and the panel see them: the INI file's values (the
 * operator's file, never rewritten by the panel) overridden by what an admin set, kept in the
 * state database's settings table (migration 8). The merge itself is src/daemon/settings.ts,
 * the same one the keep-secured pass applies, so what the panel shows is what the pass does.
 */
import type { ConfigFile } from '../../config/config.js';
import { effectiveSettings } from '../../daemon/settings.js';
import type { UsersStore } from '../../store/users.js';
import type { SettingsSource } from './handlers.js';

export function storedSettings(users: UsersStore, config: () => ConfigFile): SettingsSource {
  const read = () => effectiveSettings(config(), users.settings());
  return {
    read,
    change(patch, now) {
      users.setSettings({ ...patch }, now);
      return read();
    },
  };
}
