import type { Btf } from '../btf/btf.ts';

/**
 * String lookup for the printers. The whole string section is decoded once as latin1 (one
 * JS char per byte), so a name is a cheap substring and any byte a name holds goes back out
 * unchanged when the output is written as latin1: bpftool prints names as raw bytes, without
 * escaping or UTF-8 validation, and so must we.
 */
export class NameTable {
  private readonly text: string;
  private readonly startStrOff: number;
  private readonly base: NameTable | undefined;

  constructor(btf: Btf) {
    this.text = latin1(btf.strings);
    this.startStrOff = btf.startStrOff;
    this.base = btf.base ? new NameTable(btf.base) : undefined;
  }

  /** The raw (latin1) string at a string offset; '' past the end (the decoder rejects that). */
  get(off: number): string {
    if (off < this.startStrOff) return this.base ? this.base.get(off) : '';
    const local = off - this.startStrOff;
    const end = this.text.indexOf('\0', local);
    return this.text.slice(local, end < 0 ? this.text.length : end);
  }
}

/** Bytes → a string with one char per byte (the inverse of `Buffer.from(s, 'latin1')`). */
export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
