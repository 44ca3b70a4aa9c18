/**
 * The server's effective settings (issue 11: the Settings page; DESIGN.md "The automatic
 * path": `daneEnabled = false` hides DANE from everyone, the confirmation interval is the
 * seed's `dane-confirmation-interval-in-hours`): the INI file's [ext-sslit] values, overridden
 * by what an admin set in the panel or the API (the state database's settings table,
 * migration 8). The one merge for what the API shows (src/web/api/settings.ts) and what the
 * keep-secured pass does (`run`, `serve`), so a change in the panel is what the next pass acts
 * on. The INI file stays the operator's: nothing here writes it.
 */
import { daneEnabled, type ConfigFile } from '../config/config.js';
import { openUsersStore } from '../store/users.js';

/** The seed's default confirmation interval: 24 hours. */
export const DEFAULT_CONFIRMATION_HOURS = 24;

export interface EffectiveSettings {
  daneEnabled: boolean;
  /** seconds (the API's unit; the INI file's is hours) */
  confirmationInterval: number;
}

type Overrides = Record<string, unknown>;

/** An override counts only when it has the right type (a row written by hand may not). */
function daneOverride(o: Overrides): boolean | undefined {
  return typeof o.daneEnabled === 'boolean' ? o.daneEnabled : undefined;
}

function intervalOverride(o: Overrides): number | undefined {
  const v = o.confirmationInterval;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

export function effectiveSettings(
  config: Pick<ConfigFile, 'ext-sslit'>,
  overrides: Overrides,
): EffectiveSettings {
  const hours =
    config['ext-sslit']['dane-confirmation-interval-in-hours'] ?? DEFAULT_CONFIRMATION_HOURS;
  return {
    daneEnabled: daneOverride(overrides) ?? daneEnabled(config),
    confirmationInterval: intervalOverride(overrides) ?? Math.round(hours * 3600),
  };
}

/**
 * The configuration as the pass must use it: [ext-sslit] with the overrides put in. A value
 * not overridden stays exactly as the file has it (0.001 h stays 0.001 h, not 4 s).
 */
export function withOverrides<C extends Pick<ConfigFile, 'ext-sslit'>>(
  config: C,
  overrides: Overrides,
): C {
  const dane = daneOverride(overrides);
  const seconds = intervalOverride(overrides);
  if (dane === undefined && seconds === undefined) return config;
  return {
    ...config,
    'ext-sslit': {
      ...config['ext-sslit'],
      ...(dane !== undefined ? { daneEnabled: dane } : {}),
      ...(seconds !== undefined ? { 'dane-confirmation-interval-in-hours': seconds / 3600 } : {}),
    },
  };
}

/** `withOverrides` with the overrides read from the state database at `statePath`. */
export function withStoredSettings(config: ConfigFile, statePath: string): ConfigFile {
  const users = openUsersStore(statePath);
  try {
    return withOverrides(config, users.settings());
  } finally {
    users.close();
  }
}
