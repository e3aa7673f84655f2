import type { Btf } from '../btf/btf.ts';
import type { TextOut } from './text-out.ts';

/**
 * Name lookup for the printers, in bytes: bpftool prints names as the raw bytes of the
 * string section (no escaping, no UTF-8 validation), so names are copied, never decoded.
 * Split BTF: offsets below the split's start go to the base's strings.
 */
export class NameBytes {
  private readonly strings: Uint8Array;
  private readonly startStrOff: number;
  private readonly base: NameBytes | undefined;

  constructor(btf: Btf) {
    this.strings = btf.strings;
    this.startStrOff = btf.startStrOff;
    this.base = btf.base ? new NameBytes(btf.base) : undefined;
  }

  /** Writes the string at `off` (nothing for an offset outside every section). */
  write(out: TextOut, off: number): void {
    if (off < this.startStrOff) {
      this.base?.write(out, off);
      return;
    }
    const local = off - this.startStrOff;
    if (local < this.strings.length) out.cString(this.strings, local);
  }

  /** Whether the string at `off` is empty (bpftool's "(anon)" test is on the offset, not this). */
  isEmpty(off: number): boolean {
    if (off < this.startStrOff) return this.base ? this.base.isEmpty(off) : true;
    const local = off - this.startStrOff;
    return local >= this.strings.length || this.strings[local] === 0;
  }
}
