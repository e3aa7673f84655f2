/**
 * CO-RE for loading: our engine (@btfkit/core's relocateObject, libbpf 1.1's decisions, or
 * another libbpf's with the `libbpf` load option)
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
  type LibbpfVersion,
  type Relocation,
  relocateObject,
} from '../deps.ts';
import { KernelError, verifierError } from '../sys/errors.ts';
import { POISON_HELPER } from './insn.ts';

export interface CoreApplied {
  /** A fresh copy of the program's instructions after CO-RE. */
  code(prog: BpfProgram): Uint8Array;
  relocations: Relocation[];
}

export function applyCore(
  obj: BpfObject,
  target: Btf,
  release?: string,
  libbpf?: LibbpfVersion,
): CoreApplied {
  const res = relocateObject(obj, target, { ...(release ? { release } : {}), ...(libbpf ? { libbpf } : {}) });
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

/** Adds the C-level story to a verifier rejection caused by a poisoned CO-RE relocation. */
export function explainRejection(
  e: unknown,
  prog: BpfProgram,
  layout: { prog: BpfProgram; start: number }[],
  core: CoreApplied | undefined,
): unknown {
  if (!(e instanceof KernelError) || e.kind !== 'VERIFIER' || !e.log) return e;
  const re = new RegExp(`^(\\d+): \\(85\\) call unknown#${POISON_HELPER}$`, 'gm');
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(e.log); m; m = re.exec(e.log)) last = m;
  if (!last || !core) {
    const tail = e.log.trim().split('\n').slice(-6).join('\n');
    return verifierError(e.op, e.errno, `${e.message}\n${tail}`, e.log);
  }
  const at = Number(last[1]);
  let owner = layout[0];
  for (const l of layout) if (l.start <= at && (!owner || l.start >= owner.start)) owner = l;
  const local = owner ? at - owner.start : at;
  const r = owner ? poisonedAt(core, owner.prog.name, local) : undefined;
  const what = r
    ? `CO-RE relocation #${r.relo} of '${r.prog}' (${r.kind} of ${r.cPath}) could not be resolved on this kernel${'reason' in r.outcome ? `: ${(r.outcome as { reason: string }).reason}` : ''}`
    : `a poisoned CO-RE relocation at instruction ${at}`;
  return verifierError(e.op, e.errno, `program '${prog.name}' was rejected: it reaches ${what}`, e.log);
}
