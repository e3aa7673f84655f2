/**
 * CO-RE for loading: our engine (@btfkit/core's relocateObject, libbpf 1.1's decisions)
 * against the kernel's BTF, giving each program's patched instructions, and the explanation
 * of a poisoned relocation when the verifier trips over one.
 */
import {
  type BpfObject,
  type BpfProgram,
  type Btf,
  errors,
  isFailed,
  isPoisoned,
  type Relocation,
  relocateObject,
} from '../deps.ts';

export interface CoreApplied {
  /** A fresh copy of the program's instructions after CO-RE. */
  code(prog: BpfProgram): Uint8Array;
  relocations: Relocation[];
}

export function applyCore(obj: BpfObject, target: Btf, release?: string): CoreApplied {
  const res = relocateObject(obj, target, release ? { release } : {});
  if (res.failed) {
    const last = res.relocations[res.relocations.length - 1];
    const why = last && isFailed(last.outcome) ? last.outcome.error : 'unknown error';
    throw errors.coreRelo(
      last
        ? `prog '${last.prog}': relo #${last.relo} (${last.kind} of ${last.cPath}): ${why}`
        : `CO-RE relocation failed: ${why}`,
      obj.file,
    );
  }
  const byKey = new Map(res.programs.map((p) => [`${p.section}\0${p.name}`, p.insns]));
  return {
    code(prog) {
      const insns = byKey.get(`${prog.section}\0${prog.name}`);
      if (!insns) throw errors.coreRelo(`no relocated code for program '${prog.name}'`, obj.file);
      return insns.slice();
    },
    relocations: res.relocations,
  };
}

/** The poisoned relocation at instruction `insn` of program `prog`, if any. */
export function poisonedAt(core: CoreApplied, prog: string, insn: number): Relocation | undefined {
  return core.relocations.find(
    (r) => r.prog === prog && isPoisoned(r.outcome) && r.outcome.insns.includes(insn),
  );
}
