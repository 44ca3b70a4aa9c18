/**
 * The server's settings as the API and the panel see them: the INI file's values (the
 * operator's file, never rewritten by the panel) overridden by what an admin set, kept in the
 * state database's settings table (migration 8). The merge itself is src/daemon/settings.ts,
 * the same one the keep-secured pass applies, so what the panel shows is what the pass does.
 */
import { acmeDirectoryUrl, type ConfigFile } from '../../config/config.js';
import { effectiveSettings } from '../../daemon/settings.js';
import type { UsersStore } from '../../store/users.js';
import type { SettingsFacts, SettingsSource } from './handlers.js';

/** a URL without its user:password@, query and fragment (where a token could sit) */
function bareUrl(u: string): string {
  try {
    const x = new URL(u);
    return `${x.protocol}//${x.host}${x.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * What the Settings page shows but does not change (the INI file is the operator's): where
 * certificates come from, where records go and who is told. Never a secret nor where one is
 * kept: no TSIG key file, no API key file, no credentials a URL might carry.
 */
export function settingsFacts(c: ConfigFile): SettingsFacts {
  const d = c.acme.directory ?? 'letsencrypt';
  const acmeDirectory =
    d === 'letsencrypt' || d === 'letsencrypt-staging'
      ? `${d} (${acmeDirectoryUrl(c.acme)})`
      : bareUrl(d);
  const dns = c.dns;
  const backend = dns.backend ?? 'zonefile';
  const where: string[] = [];
  if (dns.zone) where.push(`zone ${dns.zone}`);
  if (backend === 'rfc2136' && dns.server) where.push(`primary ${dns.server}`);
  if (backend === 'powerdns') {
    if (dns['api-url']) where.push(`API ${bareUrl(dns['api-url'])}`);
    if (dns['server-id']) where.push(`server-id ${dns['server-id']}`);
  }
  if (backend === 'zonefile' && dns['zone-file']) where.push(`file ${dns['zone-file']}`);
  return {
    acmeDirectory,
    dnsBackend: where.length ? `${backend} (${where.join(', ')})` : backend,
    notifyEmail: c.notify.email ?? null,
  };
}

export function storedSettings(users: UsersStore, config: () => ConfigFile): SettingsSource {
  const read = () => effectiveSettings(config(), users.settings());
  return {
    read,
    facts: () => settingsFacts(config()),
    change(patch, now) {
      users.setSettings({ ...patch }, now);
      return read();
    },
  };
}
