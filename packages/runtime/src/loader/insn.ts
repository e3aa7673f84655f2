/** BPF instruction encoding helpers (8-byte `struct bpf_insn`, in the object's byte order). */

export const INSN_SIZE = 8;
export const BPF_LD_IMM64 = 0x18;
export const BPF_CALL = 0x85;

/** src_reg values of LD_IMM64 and CALL that tell the kernel how to read imm. */
export const Pseudo = { MAP_FD: 1, MAP_VALUE: 2, BTF_ID: 3, FUNC: 4, CALL: 1, KFUNC_CALL: 2 } as const;

/** The poison libbpf writes over a CO-RE relocation it could not resolve: `call 0xbad2310`. */
export const POISON_HELPER = 0xbad2310;

export class Insns {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get count(): number {
    return this.bytes.length / INSN_SIZE;
  }
  code(i: number): number {
    return this.bytes[i * INSN_SIZE] as number;
  }
  src(i: number): number {
    const b = this.bytes[i * INSN_SIZE + 1] as number;
    return this.le ? b >> 4 : b & 0xf;
  }
  setSrc(i: number, src: number): void {
    const o = i * INSN_SIZE + 1;
    const b = this.bytes[o] as number;
    this.bytes[o] = this.le ? (b & 0x0f) | (src << 4) : (b & 0xf0) | src;
  }
  imm(i: number): number {
    return this.view.getInt32(i * INSN_SIZE + 4, this.le);
  }
  setImm(i: number, v: number): void {
    this.view.setInt32(i * INSN_SIZE + 4, v | 0, this.le);
  }
  isLdImm64(i: number): boolean {
    return this.code(i) === BPF_LD_IMM64;
  }
  /** A bpf-to-bpf call (`call pc+imm`). */
  isSubprogCall(i: number): boolean {
    return this.code(i) === BPF_CALL && this.src(i) === Pseudo.CALL;
  }
  isPseudoFunc(i: number): boolean {
    return this.isLdImm64(i) && this.src(i) === Pseudo.FUNC;
  }
}
