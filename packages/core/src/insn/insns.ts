import { CALL_CODE, INSN_SIZE, LD_IMM64_CODE, POISON_HELPER, Pseudo } from './opcodes.ts';

/**
 * What patching reads and writes of an instruction sequence, slot by slot: the byte view
 * below (the engine, the runtime) or decoded `Insn` objects (decoded.ts `InsnObjects`, compat's
 * verifier model), so that one patch function (core/patch.ts) serves both.
 */
export interface InsnFields {
  readonly count: number;
  code(i: number): number;
  setCode(i: number, v: number): void;
  dst(i: number): number;
  src(i: number): number;
  off(i: number): number;
  setOff(i: number, v: number): void;
  imm(i: number): number;
  setImm(i: number, v: number): void;
  /** libbpf's poison: `call 0xbad2310` ("bad relo"), which the verifier refuses if it reaches it. */
  poison(i: number): void;
}

/**
 * An instruction buffer read and patched in place, in the object's byte order; `i` indexes
 * 8-byte slots. The register byte is a C bitfield: dst sits in its low nibble on
 * little-endian objects, in its high nibble on big-endian ones.
 */
export class Insns implements InsnFields {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get count(): number {
    return Math.floor(this.bytes.length / INSN_SIZE);
  }
  code(i: number): number {
    return this.bytes[i * INSN_SIZE] as number;
  }
  setCode(i: number, v: number): void {
    this.bytes[i * INSN_SIZE] = v;
  }
  dst(i: number): number {
    const r = this.bytes[i * INSN_SIZE + 1] as number;
    return this.littleEndian ? r & 0x0f : r >> 4;
  }
  src(i: number): number {
    const r = this.bytes[i * INSN_SIZE + 1] as number;
    return this.littleEndian ? r >> 4 : r & 0x0f;
  }
  setSrc(i: number, src: number): void {
    const o = i * INSN_SIZE + 1;
    const b = this.bytes[o] as number;
    this.bytes[o] = this.littleEndian ? (b & 0x0f) | (src << 4) : (b & 0xf0) | src;
  }
  off(i: number): number {
    return this.view.getInt16(i * INSN_SIZE + 2, this.littleEndian);
  }
  setOff(i: number, v: number): void {
    this.view.setInt16(i * INSN_SIZE + 2, v, this.littleEndian);
  }
  imm(i: number): number {
    return this.view.getInt32(i * INSN_SIZE + 4, this.littleEndian);
  }
  setImm(i: number, v: number): void {
    this.view.setInt32(i * INSN_SIZE + 4, v | 0, this.littleEndian);
  }
  isLdImm64(i: number): boolean {
    return this.code(i) === LD_IMM64_CODE;
  }
  /** A bpf-to-bpf call (`call pc+imm`). */
  isSubprogCall(i: number): boolean {
    return this.code(i) === CALL_CODE && this.src(i) === Pseudo.CALL;
  }
  /** LD_IMM64 of a function's address (a callback). */
  isPseudoFunc(i: number): boolean {
    return this.isLdImm64(i) && this.src(i) === Pseudo.FUNC;
  }
  /** libbpf's poison: `call 0xbad2310` ("bad relo"), which the verifier refuses if it reaches it. */
  poison(i: number): void {
    this.bytes[i * INSN_SIZE] = CALL_CODE;
    this.bytes[i * INSN_SIZE + 1] = 0;
    this.view.setInt16(i * INSN_SIZE + 2, 0, this.littleEndian);
    this.view.setInt32(i * INSN_SIZE + 4, POISON_HELPER, this.littleEndian);
  }
}
