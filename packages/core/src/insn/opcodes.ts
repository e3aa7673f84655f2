/**
 * BPF instruction encoding (uapi bpf.h, bpf_common.h): the one set of opcode constants the
 * CO-RE engine, compat's verifier model and the runtime's loader share.
 */

export const INSN_SIZE = 8;

// Instruction classes (code & 0x07).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Source operand (code & 0x08): immediate or register.
export const BPF_K = 0x00;
export const BPF_X = 0x08;

// Memory access sizes (code & 0x18) and modes (code & 0xe0).
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_IMM = 0x00;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// ALU operations (code & 0xf0).
export const ALU_ADD = 0x00;
export const ALU_SUB = 0x10;
export const ALU_MUL = 0x20;
export const ALU_DIV = 0x30;
export const ALU_OR = 0x40;
export const ALU_AND = 0x50;
export const ALU_LSH = 0x60;
export const ALU_RSH = 0x70;
export const ALU_NEG = 0x80;
export const ALU_MOD = 0x90;
export const ALU_XOR = 0xa0;
export const ALU_MOV = 0xb0;
export const ALU_ARSH = 0xc0;
export const ALU_END = 0xd0;

// Jump operations (code & 0xf0).
export const JMP_JA = 0x00;
export const JMP_JEQ = 0x10;
export const JMP_JGT = 0x20;
export const JMP_JGE = 0x30;
export const JMP_JSET = 0x40;
export const JMP_JNE = 0x50;
export const JMP_JSGT = 0x60;
export const JMP_JSGE = 0x70;
export const JMP_CALL = 0x80;
export const JMP_EXIT = 0x90;
export const JMP_JLT = 0xa0;
export const JMP_JLE = 0xb0;
export const JMP_JSLT = 0xc0;
export const JMP_JSLE = 0xd0;

/** The exit instruction (BPF_JMP | BPF_EXIT). */
export const EXIT_CODE = BPF_JMP | JMP_EXIT;

/** The helper number libbpf writes into a poisoned instruction ("bad relo"). */
export const POISON_HELPER = 0xbad2310;

export const LD_IMM64_CODE = BPF_LD | BPF_IMM | BPF_DW;
/** A call instruction (BPF_JMP | BPF_CALL); `src` tells helper, bpf-to-bpf call or kfunc. */
export const CALL_CODE = BPF_JMP | JMP_CALL;

/** src_reg values of LD_IMM64 and CALL that tell the kernel how to read imm. */
export const Pseudo = { MAP_FD: 1, MAP_VALUE: 2, BTF_ID: 3, FUNC: 4, CALL: 1, KFUNC_CALL: 2 } as const;
