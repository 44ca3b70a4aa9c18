import { DkError } from '../errors.js';

export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

/** Strict hex: even length, hex digits only. `offset` is added to error offsets. */
export function fromHex(text: string, what: string, offset = 0): Buffer {
  const bad = text.search(/[^0-9a-fA-F]/);
  if (bad >= 0) {
    throw new DkError(
      'data',
      'E_HEX',
      `${what}: "${text[bad]}" at offset ${offset + bad} is not a hex digit`,
      { offset: offset + bad },
    );
  }
  if (text.length % 2 !== 0) {
    throw new DkError('data', 'E_HEX', `${what}: odd number of hex digits (${text.length})`, {
      offset: offset + text.length,
    });
  }
  return Buffer.from(text, 'hex');
}
