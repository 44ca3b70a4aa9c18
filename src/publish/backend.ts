/**
 * Turns settings (config file + flags, already merged by the CLI) into a Publisher. Secrets
 * arrive as values read from files or the environment; this module never reads a flag value
 * as a secret and never puts one in a message.
 */
import { DkError } from '../core/errors.js';
import type { PowerdnsApiOptions } from './powerdns-api.js';
import { createPowerdnsPublisher } from './powerdns.js';
import { createRfc2136Publisher, parseTsigKeyFile, tsigKeyWarnings } from './rfc2136/index.js';
import type { BackendKind, Publisher } from './types.js';
import { createZonefilePublisher } from './zonefile.js';

export interface BackendSettings {
  backend: BackendKind;
  zone: string;
  /** rfc2136: the primary, HOST[:PORT] already split */
  server?: { host: string; port: number };
  /** rfc2136: the key file's text and where it came from (for messages) */
  tsigKey?: { text: string; source: string };
  apiUrl?: string;
  apiKey?: string;
  serverId?: string;
  /** the zone's master file */
  zoneFile?: string;
  /** a file of danekeeper's own that the zone $INCLUDEs; then zoneFile only gets its serial bumped */
  includeFile?: string;
  reloadCommand?: string[];
  timeoutMs?: number;
}

const need = (what: string, backend: string): never => {
  throw new DkError('usage', 'E_BACKEND_CONFIG', `The ${backend} backend needs ${what}`);
};

/** What the PowerDNS API calls need (publishing, and dnssec status's keys and --secure). */
export function powerdnsConnection(s: BackendSettings): PowerdnsApiOptions {
  return {
    zone: s.zone,
    apiUrl: s.apiUrl ?? need('--api-url URL (or api-url = in [dns])', 'powerdns'),
    apiKey:
      s.apiKey ??
      need('an API key: --api-key-file FILE, api-key-file = or $DANEKEEPER_API_KEY', 'powerdns'),
    serverId: s.serverId ?? 'localhost',
    ...(s.timeoutMs ? { timeoutMs: s.timeoutMs } : {}),
  };
}

/** `warn` gets advice that does not stop the work (a TSIG key of a weak algorithm). */
export function openPublisher(
  s: BackendSettings,
  warn: (line: string) => void = () => {},
): Publisher {
  switch (s.backend) {
    case 'rfc2136': {
      const server = s.server ?? need('--server HOST[:PORT] (or server = in [dns])', 'rfc2136');
      // RFC 2136 without TSIG is possible (address-based allow-update) but rarely wise.
      const key = s.tsigKey ? parseTsigKeyFile(s.tsigKey.text, s.tsigKey.source) : null;
      for (const w of key ? tsigKeyWarnings(key) : []) warn(w);
      return createRfc2136Publisher({
        zone: s.zone,
        server,
        key,
        ...(s.timeoutMs ? { timeoutMs: s.timeoutMs } : {}),
      });
    }
    case 'powerdns':
      return createPowerdnsPublisher(powerdnsConnection(s));
    case 'zonefile': {
      const zoneFile = s.zoneFile ?? need('--zone-file FILE (or zone-file = in [dns])', 'zonefile');
      const reload =
        s.reloadCommand && s.reloadCommand.length > 0 ? { reloadCommand: s.reloadCommand } : {};
      return s.includeFile
        ? createZonefilePublisher({
            zone: s.zone,
            file: s.includeFile,
            mode: 'include',
            zoneFile,
            ...reload,
          })
        : createZonefilePublisher({ zone: s.zone, file: zoneFile, mode: 'zone', ...reload });
    }
  }
}
