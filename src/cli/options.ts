import { DkError } from '../core/errors.js';
import { type Field, fieldValue } from '../core/tlsa/index.js';

const LABEL: Record<Field, string> = { usage: '--usage', selector: '--selector', mtype: '--mtype' };

/** A TLSA field from the command line: a number or an RFC 7218 mnemonic. */
export function parseField(field: Field, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const v = fieldValue(field, text);
  if (v === undefined) {
    throw new DkError(
      'usage',
      'E_OPTION',
      `${LABEL[field]} "${text}" is neither a number nor an RFC 7218 name`,
    );
  }
  return v;
}

export function parseIntOption(name: string, text: string | undefined, min: number, max: number) {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new DkError(
      'usage',
      'E_OPTION',
      `${name} "${text}" must be a number from ${min} to ${max}`,
    );
  }
  return Number(text);
}

/** HOST, HOST:PORT, [V6]:PORT or a bare IPv6 literal. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  let host = text;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [host, port] = text.split(':') as [string, string];
  }
  if (host === '') throw new DkError('usage', 'E_OPTION', `"${text}" names no host`);
  const p = port === undefined ? defaultPort : parseIntOption('port', port, 1, 65535);
  return { host, port: p ?? defaultPort };
}

/** commander's collector for a repeatable option; undefined until first given (no default shown). */
export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];
