/**
 * The compatibility verdicts, one per object × program × kernel:
 * - `ok`: every CO-RE relocation the program uses resolved;
 * - `guarded`: some were poisoned, but no poisoned instruction is reachable once the relocated
 *   constants are known (the `bpf_core_field_exists(...) ? a : b` pattern);
 * - `fails`: the verifier reaches a poisoned instruction ("invalid func unknown#195896080");
 * - `needs-kernel-btf`: the program needs BTF inside the running kernel (fentry/fexit, tp_btf,
 *   lsm, struct_ops, iter, kfunc calls, typed ksyms) and the kernel is marked as built
 *   without it (`builtinBtf: false`): a btfhub file cannot stand in for it;
 * - `error`: libbpf refuses the whole object on this kernel (a relocation error, such as an
 *   ambiguous match), so no program of it loads.
 */
export type Verdict = 'ok' | 'guarded' | 'fails' | 'needs-kernel-btf' | 'error';

export const VERDICTS: readonly Verdict[] = ['ok', 'guarded', 'fails', 'needs-kernel-btf', 'error'];

/**
 * One CO-RE relocation's outcome as libbpf decides it (the shape of the core engine's
 * `relocateObject` results and of core-oracle's lines). `insn` counts instructions from the
 * start of the function named by `prog` (a program or a .text subprogram).
 */
export interface RelocDecision {
  prog: string;
  /**
   * Index of the record within its ELF section's list in .BTF.ext; -1 for an instruction the
   * verifier refuses as it stands (kind `invalid-register` or `invalid-insn`), judged like a
   * poisoned one.
   */
  relo: number;
  kind: string;
  insn: number;
  /** The relocation in C terms, when the engine provides it ("task_struct.mm->exe_file"). */
  cPath?: string;
  /** Why it was poisoned, in C terms, when the engine says. */
  reason?: string;
  outcome:
    | {
        patched: {
          field: 'off' | 'imm' | 'imm64';
          to: number | bigint;
          /** A load/store whose access size the relocation changed (bytes), as libbpf resizes it. */
          memSize?: { from: number; to: number };
        };
      }
    | { poison: true }
    | { error: string };
}

export interface SourceLine {
  file: string;
  line: number;
  column: number;
  /** The source text clang recorded for that line. */
  text: string;
}

/** A conditional jump the analysis could not fold, on a path to a poisoned instruction. */
export interface PathCondition {
  function: string;
  insn: number;
  /** The jump in the verifier's syntax ("if r1 == 0 goto +17"). */
  test: string;
  taken: boolean;
  source?: SourceLine;
}

/** A poisoned relocation in a program's code, reached or not. */
export interface Finding {
  relo: number;
  kind: string;
  /** What the program asked for, in C terms ("struct inet_sock.freebind"). */
  cPath: string;
  /** Why the kernel cannot give it ("field freebind does not exist in …"), when known. */
  reason?: string;
  /** Function (program or subprogram) holding the instruction, and the index in it. */
  function: string;
  insn: number;
  source?: SourceLine;
  reached: boolean;
  /** For reached ones: the unfolded branches on one path to it, outermost first. */
  conditions: PathCondition[];
  /** For reached ones inside subprograms: the functions called on the way, from the program. */
  callChain: string[];
  /**
   * For unreached ones: the conditional jump the verifier always decides away from it (`taken`
   * is the edge it follows), with its source line: the guard.
   */
  guard?: PathCondition;
}

export interface CompatKernelInfo {
  /** Stable key: the release, or the path when no release is known. */
  id: string;
  release: string;
  distro?: string;
  version?: string;
  arch?: string;
  path?: string;
  builtinBtf: boolean;
  /** Size of the BTF minimized for all analysed objects, when requested. */
  minimizedSize?: number;
  /** Ids of the kernels (this one included) whose minimized BTF is byte-identical. */
  sharesMinimizedWith?: string[];
}

export interface CompatProgramInfo {
  name: string;
  section: string;
  /** Why the program needs BTF inside the kernel, if it does. */
  needsKernelBtf?: string;
}

export interface CompatObjectInfo {
  name: string;
  file?: string;
  programs: CompatProgramInfo[];
}

export interface CompatCell {
  object: string;
  program: string;
  kernel: string;
  verdict: Verdict;
  /** Poisoned relocations used by the program (reached ones for `fails`). */
  findings: Finding[];
  /** For `error`, `needs-kernel-btf`, and `fails` not due to a relocation: why. */
  message?: string;
  /**
   * Facts about the kernel the verdict depends on but compat does not know (a CONFIG_* extern
   * of a kernel whose config was not given): the verdict assumes any value.
   */
  dependsOn?: string[];
}

export interface CompatResult {
  kernels: CompatKernelInfo[];
  objects: CompatObjectInfo[];
  /** Object-major, then program, then kernel order. */
  cells: CompatCell[];
  summary: Record<Verdict, number>;
}
