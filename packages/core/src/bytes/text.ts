/**
 * Names stored as bytes (ELF and BTF string tables) as JavaScript strings. Nearly all are
 * ASCII: those become one string in one call (Buffer's latin1 slice, which takes any
 * Uint8Array), not a string per character as a JavaScript loop makes them, nor a trip
 * through the UTF-8 decoder. Anything else is decoded as UTF-8.
 */
const utf8 = new TextDecoder('utf-8');
const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/** The bytes [start, end) as text. */
export function decodeName(bytes: Uint8Array, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if ((bytes[i] as number) >= 0x80) return utf8.decode(bytes.subarray(start, end));
  }
  return latin1Slice.call(bytes, start, end);
}
